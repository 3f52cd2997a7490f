/* A small intrusive hash table keyed by bytes: sessions by client id.  Chained, power-of-two slots,
 * grows at load factor 1.  (Subscriptions and retained messages have their own indexes in mqtt/trie.h and
 * mqtt/retain.h.) */
#include "mqtt/broker/internal.h"

uint32_t bk_ht_hash(const uint8_t *key, uint32_t len)
{
	/* FNV-1a: short keys, no adversarial concern beyond chain length. */
	uint32_t h = 2166136261u;
	for (uint32_t i = 0; i < len; i++) {
		h ^= key[i];
		h *= 16777619u;
	}
	return h;
}

void bk_ht_init(struct htable *t)
{
	t->slots = NULL;
	t->mask = 0;
	t->count = 0;
}

void bk_ht_deinit(struct htable *t)
{
	free(t->slots);
	bk_ht_init(t);
}

struct hnode *bk_ht_find(const struct htable *t, const uint8_t *key, uint32_t len)
{
	if (!t->slots)
		return NULL;
	uint32_t h = bk_ht_hash(key, len);
	for (struct hnode *n = t->slots[h & t->mask]; n; n = n->next)
		if (n->hash == h && n->key_len == len && (len == 0 || !memcmp(n->key, key, len)))
			return n;
	return NULL;
}

static int grow(struct htable *t)
{
	uint32_t cap = t->slots ? (t->mask + 1) * 2 : 16;
	struct hnode **slots = calloc(cap, sizeof *slots);
	if (!slots)
		return ERR_NOMEM;
	if (t->slots) {
		for (uint32_t i = 0; i <= t->mask; i++) {
			struct hnode *n = t->slots[i];
			while (n) {
				struct hnode *next = n->next;
				n->next = slots[n->hash & (cap - 1)];
				slots[n->hash & (cap - 1)] = n;
				n = next;
			}
		}
	}
	free(t->slots);
	t->slots = slots;
	t->mask = cap - 1;
	return 0;
}

int bk_ht_insert(struct htable *t, struct hnode *n)
{
	if ((!t->slots || t->count > t->mask) && grow(t) && !t->slots)
		return ERR_NOMEM; /* a failed grow with slots present just means longer chains */
	n->hash = bk_ht_hash(n->key, n->key_len);
	struct hnode **slot = &t->slots[n->hash & t->mask];
	n->next = *slot;
	*slot = n;
	t->count++;
	return 0;
}

void bk_ht_remove(struct htable *t, struct hnode *n)
{
	assert(t->slots);
	struct hnode **pp = &t->slots[n->hash & t->mask];
	while (*pp && *pp != n)
		pp = &(*pp)->next;
	assert(*pp == n);
	*pp = n->next;
	n->next = NULL;
	t->count--;
}
