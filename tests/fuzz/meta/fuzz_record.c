/* libFuzzer: the metadata record decoder maps any bytes to one record or one error, a decoded record
 * re-encodes to the same bytes, and applying it (twice, into a small image) never crashes; the snapshot of
 * the result loads back to the same bytes. */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "meta/meta_image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[META_RECORD_SIZE_MAX];
	struct meta_record r;
	if (meta_record_decode(data, size, &r) != 0)
		return 0;
	int n = meta_record_encode(&r, out, sizeof out);
	assert(n == (int)size && memcmp(out, data, size) == 0);
	struct meta_image im;
	meta_image_init(&im);
	meta_image_apply(&im, &r);
	meta_image_apply(&im, &r);
	struct dbuf s1, s2;
	dbuf_init(&s1, 1u << 20);
	dbuf_init(&s2, 1u << 20);
	int rc = meta_image_save(&im, &s1);
	assert(rc == 0);
	struct meta_image back;
	meta_image_init(&back);
	rc = meta_image_load(&back, s1.p, s1.len);
	assert(rc == 0);
	rc = meta_image_save(&back, &s2);
	assert(rc == 0 && s1.len == s2.len && memcmp(s1.p, s2.p, s1.len) == 0);
	dbuf_deinit(&s1);
	dbuf_deinit(&s2);
	meta_image_deinit(&back);
	meta_image_deinit(&im);
	return 0;
}
