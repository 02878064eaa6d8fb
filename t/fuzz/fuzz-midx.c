/*
 * The multi-pack index (lib/midx.c).  midx_open() checks a checksum the
 * fuzzer cannot forge, so the last 32 bytes of an input long enough are
 * replaced by the BLAKE3 of the rest first (as a real index has them).
 * When it opens, every entry is decoded and every id must be found at
 * its own position.
 */
#include "harness.h"
#include "hash.h"
#include "midx.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct strbuf path = STRBUF_INIT, err = STRBUF_INIT;
	unsigned char *buf = xmemdup(data, size ? size : 1);
	struct midx m;
	uint32_t i;

	if (size >= 32) {
		struct snap_hash_ctx h;
		struct snap_oid sum;

		hash_init(&h);
		hash_update(&h, buf, size - 32);
		hash_final(&h, &sum);
		memcpy(buf + size - 32, sum.hash, 32);
	}
	fuzz_store_path(&path, "objects/pack/" MIDX_NAME);
	fuzz_write(path.buf, buf, size);
	if (midx_open(&m, path.buf, &err) == 0) {
		for (i = 0; i < m.nr && i < 4096; i++) {
			struct snap_oid oid, id;
			uint32_t pack, pos;

			memcpy(oid.hash, m.ids + (size_t)i * 32, 32);
			if (midx_find(&m, &oid) != (long)i)
				fuzz_fail("id %u of the index is not found at %u", i, i);
			midx_entry(&m, i, &pack, &pos);
			if (pack >= m.nr_packs)
				fuzz_fail("entry %u names pack %u of %u", i, pack, m.nr_packs);
			midx_pack_id(&m, pack, &id);
		}
		midx_close(&m);
	}
	free(buf);
	strbuf_release(&path);
	strbuf_release(&err);
	return 0;
}
