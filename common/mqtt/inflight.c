/* QoS 1/2 flow state (see inflight.h).
 *
 * Outbound packet identifiers encode their slot: id = slot + 1 + cap * k, so an acknowledgement finds its
 * entry with one division and a compare, with no search and no per-session 8 KiB bitmap; k rotates with each
 * reuse of the slot so that a late acknowledgement for an old message does not match the new one. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "mqtt/inflight.h"

int mqtt_outbound_init(struct mqtt_outbound *o, uint16_t cap)
{
	assert(cap >= 1);
	memset(o, 0, sizeof *o);
	o->e = calloc(cap, sizeof *o->e);
	if (!o->e)
		return ERR_NOMEM;
	o->cap = cap;
	o->limit = cap;
	for (uint32_t i = 0; i < cap; i++)
		o->e[i].next = i + 2 <= cap ? i + 2 : 0; /* free list in slot order */
	o->free_head = 1;
	return 0;
}

void mqtt_outbound_deinit(struct mqtt_outbound *o)
{
	free(o->e);
	memset(o, 0, sizeof *o);
}

void mqtt_outbound_set_receive_max(struct mqtt_outbound *o, uint16_t receive_max)
{
	/* 0 is a Protocol Error the decoder already refused; treat it as 1 defensively. */
	o->limit = receive_max == 0 ? 1 : receive_max < o->cap ? receive_max : o->cap;
}

int mqtt_outbound_add(struct mqtt_outbound *o, uint8_t qos, uint64_t msg, uint16_t *packet_id)
{
	assert(qos == 1 || qos == 2);
	if (o->count >= o->limit || !o->free_head)
		return ERR_FULL;
	uint32_t s = o->free_head - 1;
	struct mqtt_out_entry *e = &o->e[s];
	o->free_head = e->next;
	uint32_t rounds = (65535u - (s + 1)) / o->cap + 1; /* how many ids this slot owns */
	uint16_t gen = (uint16_t)(e->gen + 1);
	e->gen = gen;
	e->packet_id = (uint16_t)(s + 1 + o->cap * (gen % rounds));
	e->msg = msg;
	e->state = qos == 1 ? MQTT_OUT_WAIT_PUBACK : MQTT_OUT_WAIT_PUBREC;
	e->prev = o->tail;
	e->next = 0;
	if (o->tail)
		o->e[o->tail - 1].next = s + 1;
	else
		o->head = s + 1;
	o->tail = s + 1;
	o->count++;
	*packet_id = e->packet_id;
	return 0;
}

static struct mqtt_out_entry *find(struct mqtt_outbound *o, uint16_t packet_id)
{
	if (packet_id == 0)
		return NULL;
	struct mqtt_out_entry *e = &o->e[(packet_id - 1u) % o->cap];
	return e->state != MQTT_OUT_FREE && e->packet_id == packet_id ? e : NULL;
}

static void release(struct mqtt_outbound *o, struct mqtt_out_entry *e)
{
	uint32_t s = (uint32_t)(e - o->e) + 1;
	if (e->prev)
		o->e[e->prev - 1].next = e->next;
	else
		o->head = e->next;
	if (e->next)
		o->e[e->next - 1].prev = e->prev;
	else
		o->tail = e->prev;
	e->state = MQTT_OUT_FREE;
	e->prev = 0;
	e->next = o->free_head;
	o->free_head = s;
	o->count--;
}

/* Looks up packet_id expecting state; on success returns the entry and the message reference. */
static int expect(struct mqtt_outbound *o, uint16_t packet_id, uint8_t state, uint64_t *msg,
		  struct mqtt_out_entry **out)
{
	struct mqtt_out_entry *e = find(o, packet_id);
	if (!e)
		return ERR_MQTT_PACKET_ID_UNKNOWN;
	if (e->state != state)
		return ERR_MQTT_PACKET_ID_STATE;
	*msg = e->msg;
	*out = e;
	return 0;
}

int mqtt_outbound_puback(struct mqtt_outbound *o, uint16_t packet_id, uint64_t *msg)
{
	struct mqtt_out_entry *e;
	int rc = expect(o, packet_id, MQTT_OUT_WAIT_PUBACK, msg, &e);
	if (rc == 0)
		release(o, e); /* any reason code ends a QoS 1 flow (§4.9) */
	return rc;
}

int mqtt_outbound_pubrec(struct mqtt_outbound *o, uint16_t packet_id, uint8_t reason, uint64_t *msg, bool *rel)
{
	struct mqtt_out_entry *e;
	*rel = false;
	/* A repeated PUBREC for a message already released: answer PUBREL again. */
	struct mqtt_out_entry *f = find(o, packet_id);
	if (f && f->state == MQTT_OUT_WAIT_PUBCOMP) {
		*msg = f->msg;
		*rel = true;
		return 0;
	}
	int rc = expect(o, packet_id, MQTT_OUT_WAIT_PUBREC, msg, &e);
	if (rc)
		return rc;
	if (reason >= 0x80) {
		release(o, e); /* [MQTT-4.3.3]: an error PUBREC ends the exchange and frees the quota (§4.9) */
		return 0;
	}
	e->state = MQTT_OUT_WAIT_PUBCOMP;
	*rel = true;
	return 0;
}

int mqtt_outbound_pubcomp(struct mqtt_outbound *o, uint16_t packet_id, uint64_t *msg)
{
	struct mqtt_out_entry *e;
	int rc = expect(o, packet_id, MQTT_OUT_WAIT_PUBCOMP, msg, &e);
	if (rc == 0)
		release(o, e);
	return rc;
}

const struct mqtt_out_entry *mqtt_outbound_first(const struct mqtt_outbound *o)
{
	return o->head ? &o->e[o->head - 1] : NULL;
}

const struct mqtt_out_entry *mqtt_outbound_next(const struct mqtt_outbound *o, const struct mqtt_out_entry *e)
{
	return e->next ? &o->e[e->next - 1] : NULL;
}

/* ---- inbound ---------------------------------------------------------------------------------------------- */

int mqtt_inbound_init(struct mqtt_inbound *in, uint16_t receive_max)
{
	assert(receive_max >= 1);
	memset(in, 0, sizeof *in);
	uint32_t n = 8;
	while (n < 2u * receive_max)
		n *= 2;
	in->ids = calloc(n, sizeof *in->ids);
	if (!in->ids)
		return ERR_NOMEM;
	in->mask = n - 1;
	in->receive_max = receive_max;
	return 0;
}

void mqtt_inbound_deinit(struct mqtt_inbound *in)
{
	free(in->ids);
	memset(in, 0, sizeof *in);
}

static uint32_t home(const struct mqtt_inbound *in, uint16_t id) { return (id * 40503u >> 4) & in->mask; }

static uint32_t slot_of(const struct mqtt_inbound *in, uint16_t id)
{
	uint32_t s = home(in, id);
	while (in->ids[s] && in->ids[s] != id)
		s = (s + 1) & in->mask;
	return s;
}

static bool set_remove(struct mqtt_inbound *in, uint16_t id)
{
	uint32_t s = slot_of(in, id);
	if (!in->ids[s])
		return false;
	for (uint32_t j = (s + 1) & in->mask; in->ids[j]; j = (j + 1) & in->mask) {
		uint32_t h = home(in, in->ids[j]);
		if (((j - h) & in->mask) >= ((j - s) & in->mask)) {
			in->ids[s] = in->ids[j];
			s = j;
		}
	}
	in->ids[s] = 0;
	in->qos2--;
	return true;
}

int mqtt_inbound_publish(struct mqtt_inbound *in, uint8_t qos, uint16_t packet_id, bool *duplicate)
{
	*duplicate = false;
	if (qos == 0)
		return 0;
	uint32_t s = 0;
	if (qos == 2) {
		s = slot_of(in, packet_id);
		if (in->ids[s]) {
			*duplicate = true; /* resent before our PUBREC arrived: already counted and delivered */
			return 0;
		}
	}
	if (in->unacked >= in->receive_max)
		return ERR_MQTT_RECEIVE_MAX; /* [MQTT-3.3.4-9] */
	in->unacked++;
	if (qos == 2) {
		in->ids[s] = packet_id; /* at most receive_max ids in a table twice that size */
		in->qos2++;
	}
	return 0;
}

void mqtt_inbound_puback_sent(struct mqtt_inbound *in)
{
	assert(in->unacked > in->qos2);
	in->unacked--;
}

void mqtt_inbound_pubrec_refused(struct mqtt_inbound *in, uint16_t packet_id)
{
	if (set_remove(in, packet_id))
		in->unacked--;
}

int mqtt_inbound_pubrel(struct mqtt_inbound *in, uint16_t packet_id)
{
	if (!set_remove(in, packet_id))
		return ERR_MQTT_PACKET_ID_UNKNOWN; /* §4.3.3: PUBCOMP with 0x92 */
	in->unacked--;
	return 0;
}
