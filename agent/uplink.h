/* Store and forward, the drain side: an idempotent Kafka producer (KIP-98) on the common client core that
 * ships the buffer's rows (agent/fwd.h) to the cluster, in order and exactly once per partition.
 *
 * A round: one store call on the writer thread deletes the batches the cloud acknowledged last round, then
 * claims the next rows: it groups them into one batch per (topic, partition) (murmur2 of the key, as Kafka
 * clients do), gives each batch its base sequence from fwd_sequences and records it in fwd_batches, all in
 * the same transaction.  Then one Produce (acks=all, lz4) carries the batches.  A batch row is deleted only
 * after the cloud acknowledged it; after a crash, a reconnect or a retriable error the same batches are sent
 * again with the same producer id, epoch and sequences, so the broker recognises a duplicate instead of
 * appending it twice.  OUT_OF_ORDER_SEQUENCE_NUMBER, UNKNOWN_PRODUCER_ID and a fenced epoch start a new
 * producer id and renumber the unacknowledged batches from sequence 0 (counted in
 * ferry_uplink_producer_resets_total and logged: the one case where the broker can no longer tell a resend
 * from new data, see docs/uplink.md).
 *
 * One Produce in flight at a time; everything on the loop thread except the store calls. */
#ifndef FERRY_AGENT_UPLINK_H
#define FERRY_AGENT_UPLINK_H

#include "agent/config.h"

struct event_base;
struct store;
struct fwd;
struct metrics;
struct uplink;

/* cfg is copied.  The uplink starts connecting at once.  0 and *out, ERR_NOMEM or ERR_CONFIG. */
int uplink_new(struct uplink **out, struct event_base *base, const struct agent_config *cfg, struct store *st,
	       struct fwd *fwd, struct metrics *metrics, char *err, size_t err_len);
/* Stop: an unanswered Produce stays in the buffer (sent again next start). */
void uplink_free(struct uplink *u);

#endif
