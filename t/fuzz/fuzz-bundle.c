/*
 * Bundle inputs and stored bundles (lib/bundle.c): the input is read as
 * snap-bundle-import reads a file (the format found by content: JSON,
 * JSON Lines or a .bundle.db image), and as a stored payload with
 * bundle_parse().  Every bundle read must be a payload bundle_parse()
 * accepts, with the same sequence.
 */
#include "harness.h"
#include "bundle.h"

#include <jansson.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct strbuf err = STRBUF_INIT;
	struct bundle_list list = { 0 };
	uint64_t seq;
	json_t *v;
	size_t i;

	if (bundle_parse((const char *)data, size, &seq, &v, &err) == 0)
		json_decref(v);
	strbuf_reset(&err);
	if (bundle_read("fuzz", (const char *)data, size, BUNDLE_AUTO, &list, &err) == 0) {
		for (i = 0; i < list.nr; i++) {
			strbuf_reset(&err);
			if (bundle_parse(list.v[i].payload, list.v[i].len, &seq, NULL, &err) < 0)
				fuzz_fail("bundle %zu read is refused stored: %s", i, err.buf);
			if (seq != list.v[i].sequence)
				fuzz_fail("bundle %zu read has sequence %llu, stored %llu", i,
					  (unsigned long long)list.v[i].sequence,
					  (unsigned long long)seq);
		}
	}
	bundle_list_release(&list);
	strbuf_release(&err);
	return 0;
}
