/* libFuzzer: a SCRAM server's messages (server-first, then server-final) as a hostile server might send them.
 * Iterations are bounded, so each input costs at most one bounded PBKDF2. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "kafka/scram.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kafka_scram s;
	char out[KAFKA_SCRAM_MSG_MAX];
	static const uint8_t rnd[18] = { 9, 8, 7 };
	if (kafka_scram_client_first(&s, size & 1 ? KAFKA_SCRAM_SHA512 : KAFKA_SCRAM_SHA256, "user", "pencil", rnd,
				     sizeof rnd, out, sizeof out) < 0)
		return 0;
	/* Let inputs that start "r=+" reuse our nonce, so the fuzzer gets past the nonce check. */
	uint8_t msg[KAFKA_SCRAM_MSG_MAX + 64];
	size_t n = size < KAFKA_SCRAM_MSG_MAX ? size : KAFKA_SCRAM_MSG_MAX;
	size_t split = n;
	for (size_t i = 0; i < n; i++)
		if (data[i] == '\n') {
			split = i;
			break;
		}
	size_t len = 0;
	if (split >= 3 && memcmp(data, "r=+", 3) == 0) {
		len = (size_t)snprintf((char *)msg, sizeof msg, "r=%s", s.nonce);
		memcpy(msg + len, data + 3, split - 3);
		len += split - 3;
	} else {
		memcpy(msg, data, split);
		len = split;
	}
	if (kafka_scram_client_final(&s, msg, len, out, sizeof out) > 0 && split < n)
		(void)kafka_scram_verify(&s, data + split + 1, n - split - 1);
	kafka_scram_wipe(&s);
	return 0;
}
