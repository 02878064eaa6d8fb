/*
 * Snapshot payloads (lib/snapshot.c).  snapshot_parse() is strict so that
 * one snapshot has one encoding: a snapshot it accepts must re-encode to
 * the same bytes.  The user-facing time parser gets the input too.
 */
#include "harness.h"
#include "snapshot.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

static size_t first_difference(const char *a, size_t alen, const uint8_t *b, size_t blen)
{
	size_t i;

	for (i = 0; i < alen && i < blen && a[i] == (char)b[i]; i++)
		;
	return i;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct strbuf err = STRBUF_INIT, out = STRBUF_INIT;
	struct snapshot s = SNAPSHOT_INIT;
	int64_t t;
	int tz;

	if (snapshot_parse(&s, (const char *)data, size, &err) == 0) {
		strbuf_reset(&err);
		if (snapshot_encode(&s, &out, &err) < 0)
			fuzz_fail("a parsed snapshot does not encode: %s", err.buf);
		if (out.len != size || memcmp(out.buf, data, size))
			fuzz_fail("a parsed snapshot encodes to other bytes (%zu, not %zu; from byte %zu)",
				  out.len, size, first_difference(out.buf, out.len, data, size));
		strbuf_reset(&out);
		format_time(&out, s.time, s.tz);
	}
	snapshot_release(&s);

	if (size < 256) {
		char *str = xstrndup((const char *)data, size);

		strbuf_reset(&err);
		if (parse_time(str, &t, &tz, &err) == 0) {
			strbuf_reset(&out);
			format_time(&out, t, tz);
		}
		free(str);
	}
	strbuf_release(&err);
	strbuf_release(&out);
	return 0;
}
