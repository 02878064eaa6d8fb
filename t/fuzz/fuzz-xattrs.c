/*
 * Extended attribute sets (lib/xattr.c).  xattr_parse() promises that a
 * set it accepts re-encodes to the same bytes (one set, one id): checked
 * here, and that what it gives holds the encoding's limits.
 */
#include "harness.h"
#include "xattr.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct strbuf err = STRBUF_INIT, out = STRBUF_INIT;
	struct xattr_set s = XATTR_SET_INIT;
	size_t i;

	if (xattr_parse(&s, (const char *)data, size, &err) == 0) {
		if (!s.nr)
			fuzz_fail("a parsed set is empty");
		for (i = 0; i < s.nr; i++)
			if (!s.v[i].name_len || s.v[i].name_len > XATTR_NAME_MAXLEN ||
			    strlen(s.v[i].name) != s.v[i].name_len ||
			    s.v[i].value_len > XATTR_VALUE_MAXLEN)
				fuzz_fail("a parsed attribute breaks the limits");
		strbuf_reset(&err);
		if (xattr_encode(&s, &out, &err) < 0)
			fuzz_fail("a parsed set does not encode: %s", err.buf);
		if (out.len != size || memcmp(out.buf, data, size))
			fuzz_fail("a parsed set encodes to other bytes (%zu, not %zu)", out.len, size);
	}
	xattr_set_release(&s);
	strbuf_release(&err);
	strbuf_release(&out);
	return 0;
}
