/* Fuzz the SASL server: the first input byte picks the mechanism, the rest is split at 0xff bytes into
 * tokens fed to one session in turn (PLAIN message, SCRAM client-first, client-final). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cloud/server/sasl.h"

static struct sasl_users users;
static int ready;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!ready) {
		sasl_users_init(&users);
		sasl_users_add(&users, "user", "pencil");
		ready = 1;
	}
	if (size < 1)
		return 0;
	struct sasl_session s;
	sasl_session_init(&s);
	s.fixed_server_nonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
	sasl_session_start(&s, (enum sasl_mech)(SASL_MECH_PLAIN + data[0] % 3));
	const uint8_t *p = data + 1, *end = data + size;
	while (p <= end) {
		const uint8_t *q = memchr(p, 0xff, (size_t)(end - p));
		size_t n = (size_t)((q ? q : end) - p);
		struct dbuf out;
		dbuf_init(&out, SASL_MESSAGE_MAX);
		bool done;
		char why[128];
		sasl_session_step(&s, &users, p, n, &out, &done, why, sizeof why);
		dbuf_deinit(&out);
		if (!q)
			break;
		p = q + 1;
	}
	sasl_session_deinit(&s);
	return 0;
}
