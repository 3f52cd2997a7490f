/* QoS 1/2 flow state of one session (MQTT 5.0 §4.3, §4.4, §4.9 flow control), I/O-free.
 *
 * mqtt_outbound: the PUBLISHes the broker sent and the client has not finished acknowledging.  It hands out
 * packet identifiers, enforces the client's Receive Maximum (the send quota), walks the QoS 2 states, and
 * lists what to resend on reconnect in the original order [MQTT-4.4.0-1].  A message is an opaque uint64_t
 * reference to the broker's store.
 *
 * mqtt_inbound: the QoS 1/2 PUBLISHes the client sent that the broker has not finished acknowledging, to
 * enforce the Receive Maximum the broker announced (0x93) and to recognise a resent QoS 2 PUBLISH so it is
 * delivered once (§4.3.3, "method B": the message is delivered on PUBLISH and the id kept until PUBREL).
 *
 * Both allocate their tables once at init (bounded by the capacity given) and never on the message path. */
#ifndef FERRY_MQTT_INFLIGHT_H
#define FERRY_MQTT_INFLIGHT_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"

enum mqtt_out_state {
	MQTT_OUT_FREE = 0,
	MQTT_OUT_WAIT_PUBACK,  /* QoS 1 PUBLISH sent */
	MQTT_OUT_WAIT_PUBREC,  /* QoS 2 PUBLISH sent */
	MQTT_OUT_WAIT_PUBCOMP, /* QoS 2 PUBREL sent */
};

struct mqtt_out_entry {
	uint64_t msg;
	uint16_t packet_id;
	uint8_t state;     /* enum mqtt_out_state */
	uint16_t gen;      /* bumps at each use of the slot so identifiers rotate */
	uint32_t prev, next; /* send order, slot index + 1 (0 = none) */
};

struct mqtt_outbound {
	struct mqtt_out_entry *e; /* owned, cap entries */
	uint16_t cap;             /* the broker's per-session maximum (config) */
	uint16_t limit;           /* min(cap, client's Receive Maximum) for new sends */
	uint16_t count;
	uint32_t free_head;       /* slot index + 1 */
	uint32_t head, tail;      /* oldest / newest in send order, slot index + 1 */
};

/* cap: 1..65535 messages in flight at most for this session.  ERR_NOMEM. */
int mqtt_outbound_init(struct mqtt_outbound *o, uint16_t cap);
void mqtt_outbound_deinit(struct mqtt_outbound *o);
/* On each (re)connect: the client's Receive Maximum (65535 when absent, 5.0 §3.1.2.11.3). */
void mqtt_outbound_set_receive_max(struct mqtt_outbound *o, uint16_t receive_max);
static inline bool mqtt_outbound_full(const struct mqtt_outbound *o) { return o->count >= o->limit; }

/* Takes a packet identifier for a QoS 1 or 2 message about to be sent.  ERR_FULL when the send quota is used
 * up: keep the message queued until an acknowledgement frees a slot [MQTT-4.9.0-2]. */
int mqtt_outbound_add(struct mqtt_outbound *o, uint8_t qos, uint64_t msg, uint16_t *packet_id);

/* Acknowledgements from the client.  Each returns 0 and the message reference, ERR_MQTT_PACKET_ID_UNKNOWN
 * (not in flight: ignore, or for PUBREC answer PUBREL 0x92) or ERR_MQTT_PACKET_ID_STATE (the wrong ack for the
 * state: a Protocol Error).
 * PUBACK and PUBCOMP end the flow and free the slot.  PUBREC with a reason below 0x80 moves to PUBREL
 * (*release = true: send PUBREL); with an error reason it ends the flow (§4.3.3) and *release = false. */
int mqtt_outbound_puback(struct mqtt_outbound *o, uint16_t packet_id, uint64_t *msg);
int mqtt_outbound_pubrec(struct mqtt_outbound *o, uint16_t packet_id, uint8_t reason, uint64_t *msg, bool *release);
int mqtt_outbound_pubcomp(struct mqtt_outbound *o, uint16_t packet_id, uint64_t *msg);

/* Resend walk after a reconnect, oldest first: an entry in WAIT_PUBACK / WAIT_PUBREC is resent as PUBLISH
 * with DUP set, one in WAIT_PUBCOMP as PUBREL [MQTT-4.4.0-1].  NULL at the end.  Must not add or ack during
 * the walk. */
const struct mqtt_out_entry *mqtt_outbound_first(const struct mqtt_outbound *o);
const struct mqtt_out_entry *mqtt_outbound_next(const struct mqtt_outbound *o, const struct mqtt_out_entry *e);

struct mqtt_inbound {
	uint16_t *ids;     /* owned: open-addressing set of QoS 2 identifiers awaiting PUBREL (0 = empty) */
	uint32_t mask;
	uint16_t receive_max; /* what the broker announced */
	uint16_t unacked;     /* QoS 1 not yet PUBACKed + QoS 2 not yet PUBCOMPed */
	uint16_t qos2;        /* members of ids */
};

int mqtt_inbound_init(struct mqtt_inbound *in, uint16_t receive_max);
void mqtt_inbound_deinit(struct mqtt_inbound *in);

/* A PUBLISH arrived.  QoS 0: nothing.  QoS 1: counts against Receive Maximum.  QoS 2: a new identifier is
 * recorded (and counted); a known one sets *duplicate (answer PUBREC again, do not deliver again).
 * ERR_MQTT_RECEIVE_MAX when the client exceeded the quota (DISCONNECT 0x93). */
int mqtt_inbound_publish(struct mqtt_inbound *in, uint8_t qos, uint16_t packet_id, bool *duplicate);
/* The broker sent the PUBACK of a QoS 1 PUBLISH. */
void mqtt_inbound_puback_sent(struct mqtt_inbound *in);
/* The broker refused a QoS 2 PUBLISH with a PUBREC reason >= 0x80: the flow ends here (§4.3.3). */
void mqtt_inbound_pubrec_refused(struct mqtt_inbound *in, uint16_t packet_id);
/* PUBREL arrived: 0 (answer PUBCOMP 0x00) or ERR_MQTT_PACKET_ID_UNKNOWN (answer PUBCOMP 0x92). */
int mqtt_inbound_pubrel(struct mqtt_inbound *in, uint16_t packet_id);

#endif
