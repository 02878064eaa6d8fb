/*
 * Object frames: the input is a loose object file (a zstd frame of
 * "<type> <size>\0" + payload).  It is read back through every reader of
 * the object database: the header alone, the whole object, and a stream.
 * So that the fuzzer reaches past the id check, an input that
 * decompresses is stored under the id of its content; any other under a
 * fixed id.  The header parser (lib/object.c) is also fed the raw input.
 */
#include "harness.h"
#include "hash.h"
#include "object.h"
#include "odb.h"
#include "oid.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#define CONTENT_MAX (1u << 20)

static void id_of(const uint8_t *data, size_t size, struct snap_oid *oid)
{
	unsigned long long want = ZSTD_getFrameContentSize(data, size);
	struct snap_hash_ctx h;
	size_t got;
	void *out;

	memset(oid->hash, 0x11, sizeof(oid->hash));
	if (want == ZSTD_CONTENTSIZE_ERROR || want == ZSTD_CONTENTSIZE_UNKNOWN ||
	    want > CONTENT_MAX)
		return;
	out = xmalloc(want ? (size_t)want : 1);
	got = ZSTD_decompress(out, (size_t)want, data, size);
	if (!ZSTD_isError(got)) {
		hash_init(&h);
		hash_update(&h, out, got);
		hash_final(&h, oid);
	}
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct strbuf path = STRBUF_INIT, err = STRBUF_INIT, out = STRBUF_INIT;
	struct snap_store *store = fuzz_store();
	struct odb_stream *st;
	struct snap_oid oid;
	enum object_type type;
	uint64_t osize;
	struct odb *odb;
	char buf[4096];
	int chunked;

	object_header_parse((const char *)data, size, &type, &osize);

	id_of(data, size, &oid);
	if (odb_open(&odb, store, &err) < 0)
		fuzz_fail("odb_open: %s", err.buf);
	odb_loose_path(odb, &oid, &path);
	fuzz_write(path.buf, data, size);

	strbuf_reset(&err);
	odb_read_info(odb, &oid, &type, &osize, &chunked, &err);
	strbuf_reset(&err);
	if (odb_read(odb, &oid, &type, &out, CONTENT_MAX, &err) == 0 &&
	    type_name(type) == NULL)
		fuzz_fail("odb_read gave an object of no type");
	strbuf_reset(&err);
	if (odb_stream_open_loose(odb, &oid, &st, &type, &osize, &err) == 0) {
		uint64_t total = 0;
		size_t got;

		for (;;) {
			strbuf_reset(&err);
			if (odb_stream_read(st, buf, sizeof(buf), &got, &err) < 0)
				break;
			if (!got) {
				if (total != osize)
					fuzz_fail("stream ended at %llu of %llu bytes",
						  (unsigned long long)total,
						  (unsigned long long)osize);
				break;
			}
			total += got;
			if (total > osize)
				fuzz_fail("stream gave more than its %llu bytes",
					  (unsigned long long)osize);
		}
		odb_stream_close(st);
	}
	unlink(path.buf);
	odb_close(odb);
	strbuf_release(&path);
	strbuf_release(&err);
	strbuf_release(&out);
	return 0;
}
