/*
 * Pack indexes (lib/pack.c).  The input is written as an .idx file and
 * opened with pack_open(); when it opens, every record is decoded and
 * every id must be found again at its own position, by full id and by
 * prefix.
 */
#include "harness.h"
#include "oid.h"
#include "pack.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct strbuf path = STRBUF_INIT, err = STRBUF_INIT;
	struct pack p;
	uint32_t i;

	fuzz_store_path(&path, "objects/pack/pack-fuzz.idx");
	fuzz_write(path.buf, data, size);
	if (pack_open(&p, path.buf, &err) == 0) {
		for (i = 0; i < p.nr && i < 4096; i++) {
			struct pack_record r;
			struct snap_oid oid;
			uint32_t first, count;
			char hex[SNAP_OID_HEXSZ + 1];

			pack_record(&p, i, &r);
			pack_oid(&p, i, &oid);
			if (pack_find(&p, &oid) != (long)i)
				fuzz_fail("id %u of the index is not found at %u", i, i);
			oid_to_hex_r(hex, &oid);
			pack_prefix_range(&p, hex, 8, &first, &count);
			if (first > i || first + count <= i)
				fuzz_fail("id %u is outside its prefix's range", i);
		}
		pack_close(&p);
	}
	strbuf_release(&path);
	strbuf_release(&err);
	return 0;
}
