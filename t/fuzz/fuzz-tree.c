/*
 * Tree payloads (lib/tree.c).  tree_parse() promises that a tree it
 * accepts re-encodes to the same bytes (one tree, one id): checked here.
 */
#include "harness.h"
#include "tree.h"

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
	struct tree t = TREE_INIT;

	if (tree_parse(&t, (const char *)data, size, &err) == 0) {
		strbuf_reset(&err);
		if (tree_encode(&t, &out, &err) < 0)
			fuzz_fail("a parsed tree does not encode: %s", err.buf);
		if (out.len != size || memcmp(out.buf, data, size))
			fuzz_fail("a parsed tree encodes to other bytes (%zu, not %zu; from byte %zu)",
				  out.len, size, first_difference(out.buf, out.len, data, size));
	}
	tree_release(&t);
	strbuf_release(&err);
	strbuf_release(&out);
	return 0;
}
