/* Topic authorization rules (mosquitto-style ACL file), evaluated per client.
 *
 *   # comment
 *   topic [read|write|readwrite|subscribe|deny] FILTER     rules for anonymous clients (before any `user`)
 *   user NAME                                              following `topic` lines apply to NAME
 *   pattern [read|write|readwrite|subscribe|deny] FILTER   for every client; %u = username, %c = client id
 *
 * Access: `read` = receive messages on matching topics and subscribe to filters within FILTER; `write` =
 * publish to matching topics; `subscribe` = subscribe only; `readwrite` = read + write; `deny` = none of them,
 * and a matching deny wins over any grant.  The access word may be omitted (readwrite).  A client is allowed
 * what some applicable rule grants and no applicable deny forbids; with no ACL loaded everything is allowed.
 * A subscription is refused when a deny covers all of it; one that merely overlaps a deny is allowed, and the
 * broker checks ACL_READ per message at delivery, where the deny applies.
 * %u/%c never match when the value is empty or contains '/', '+' or '#' (a crafted name must not widen a rule).
 * Filters beginning with a wildcard do not match topics beginning with '$' (MQTT 5.0 §4.7.2). */
#ifndef FERRY_AGENT_ACL_H
#define FERRY_AGENT_ACL_H

#include <stdbool.h>
#include <stddef.h>

#define ACL_FILTER_MAX 1024
#define ACL_RULES_MAX 100000

enum acl_access { ACL_READ = 1, ACL_WRITE = 2, ACL_SUBSCRIBE = 4 };

struct acl;

int acl_parse(struct acl **out, const char *text, size_t len, const char *name, char *err, size_t err_len);
int acl_load(struct acl **out, const char *path, char *err, size_t err_len);
void acl_free(struct acl *acl);

/* topic: a topic name for ACL_READ/ACL_WRITE, a topic filter for ACL_SUBSCRIBE. username NULL = anonymous. */
bool acl_check(const struct acl *acl, const char *username, const char *client_id, const char *topic,
	       enum acl_access access);

/* MQTT matching, exported for tests and the broker: does filter match topic name? */
bool acl_filter_matches(const char *filter, const char *topic);
/* Is every topic that sub matches also matched by filter? */
bool acl_filter_covers(const char *filter, const char *sub);

#endif
