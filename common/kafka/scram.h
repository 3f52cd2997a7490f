/* SCRAM-SHA-256 / SCRAM-SHA-512 client (RFC 5802, RFC 7677; Kafka's KIP-84), as an I/O-free exchange: the
 * Kafka client carries its three messages in SaslAuthenticate frames.  Crypto from mbedtls; the nonce's
 * randomness comes from the caller.  Keeps no secret longer than it must (wiped by kafka_scram_wipe). */
#ifndef FERRY_KAFKA_SCRAM_H
#define FERRY_KAFKA_SCRAM_H

#include <stddef.h>
#include <stdint.h>

#define KAFKA_SCRAM_FIELD_MAX 255
#define KAFKA_SCRAM_MSG_MAX 1024
#define KAFKA_SCRAM_ITERATIONS_MIN 4096   /* Kafka's own lower bound (ScramMechanism.minIterations) */
#define KAFKA_SCRAM_ITERATIONS_MAX 65536  /* a hostile server must not make us spin */

enum kafka_scram_hash { KAFKA_SCRAM_SHA256, KAFKA_SCRAM_SHA512 };

struct kafka_scram {
	enum kafka_scram_hash hash;
	char password[KAFKA_SCRAM_FIELD_MAX + 1];
	char client_first_bare[2 * KAFKA_SCRAM_FIELD_MAX + 64];
	char nonce[64];                   /* ours, base64 of the caller's random bytes */
	char auth_message[3 * KAFKA_SCRAM_MSG_MAX];
	uint8_t server_signature[64];
	size_t digest_len;
};

/* Mechanism name ("SCRAM-SHA-256" / "SCRAM-SHA-512") to hash; ERR_INVAL for others. */
int kafka_scram_mechanism(const char *name, enum kafka_scram_hash *hash);

/* Start: write the client-first message ("n,,n=<user>,r=<nonce>") into out.  random: 18+ bytes from a
 * cryptographic source.  Returns its length, or ERR_TOO_LARGE / ERR_INVAL. */
int kafka_scram_client_first(struct kafka_scram *s, enum kafka_scram_hash hash, const char *user,
			     const char *password, const uint8_t *random, size_t random_len, char *out, size_t cap);
/* Answer the server-first message with the client-final one (channel binding "n", the proof).  Returns its
 * length, or ERR_AUTH (a server error, or a nonce that does not extend ours), ERR_MALFORMED, ERR_RANGE
 * (iterations outside the bounds above). */
int kafka_scram_client_final(struct kafka_scram *s, const uint8_t *server_first, size_t len, char *out, size_t cap);
/* Check the server-final message ("v=<signature>"): 0, or ERR_AUTH (error or wrong signature: not our server). */
int kafka_scram_verify(struct kafka_scram *s, const uint8_t *server_final, size_t len);
void kafka_scram_wipe(struct kafka_scram *s);

#endif
