/*
 * JSON and its canonical form (lib/json.c).  A value that parses must
 * canonicalize or be refused with an error; its canonical text must
 * parse again and canonicalize to itself (idempotence: one value, one
 * encoding, one id).  (Not json_equal() to the first value: "1.0" and
 * "-0" are written 1 and 0, which jansson reads back as integers.)
 * json_scan_value() gets the input too.
 */
#include "harness.h"
#include "json.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct strbuf err = STRBUF_INIT, once = STRBUF_INIT, twice = STRBUF_INIT;
	const char *buf = (const char *)data;
	json_t *v, *w;
	size_t pos, end = 0;

	json_scan_value(buf, size, size, &end);
	if (end > size)
		fuzz_fail("json_scan_value ended at %zu of %zu bytes", end, size);
	if (json_parse(buf, size, &v, &pos, &err) < 0) {
		if (pos > size)
			fuzz_fail("json_parse blamed byte %zu of %zu", pos, size);
		goto out;
	}
	strbuf_reset(&err);
	if (json_canonical(v, &once, &err) == 0) {
		if (json_parse(once.buf, once.len, &w, &pos, &err) < 0)
			fuzz_fail("canonical output does not parse: %s at %zu", err.buf, pos);
		if (json_canonical(w, &twice, &err) < 0)
			fuzz_fail("canonical output does not canonicalize: %s", err.buf);
		if (once.len != twice.len || memcmp(once.buf, twice.buf, once.len))
			fuzz_fail("canonical output is not canonical");
		json_decref(w);
	}
	json_decref(v);
out:
	strbuf_release(&err);
	strbuf_release(&once);
	strbuf_release(&twice);
	return 0;
}
