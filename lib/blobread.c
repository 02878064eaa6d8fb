#include "blobread.h"
#include "error.h"
#include "hash.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

struct chunk {
	struct snap_oid oid;
	uint64_t off, size;
};

struct blob_reader {
	struct odb *odb;
	struct snap_oid oid;
	uint64_t size;
	int chunked;
	struct chunk *chunks;
	size_t nr, alloc;
	/* The bytes kept: the whole blob, or chunk number at of a chunked one. */
	struct strbuf held;
	size_t at;
	int have;
	/*
	 * The whole blob's id, hashed as reads go through it in order: bytes
	 * [0, hashed) are in whole.  hashing is 0 once it ended (checked).
	 */
	struct snap_hash_ctx whole;
	uint64_t hashed;
	int hashing;
};

static void add_chunk(const struct snap_oid *chunk, uint64_t size, void *data)
{
	struct blob_reader *r = data;
	uint64_t off = r->nr ? r->chunks[r->nr - 1].off + r->chunks[r->nr - 1].size : 0;

	ALLOC_GROW(r->chunks, r->nr + 1, r->alloc);
	r->chunks[r->nr].oid = *chunk;
	r->chunks[r->nr].off = off;
	r->chunks[r->nr].size = size;
	r->nr++;
}

int blob_reader_open(struct odb *odb, const struct snap_oid *oid, uint64_t want_size,
		     struct blob_reader **out, struct strbuf *err)
{
	struct blob_reader *r;
	enum object_type type;
	uint64_t size;
	int chunked, ret;

	if ((ret = odb_read_info(odb, oid, &type, &size, &chunked, err)) < 0)
		return ret;
	if (type != OBJ_BLOB)
		return snap_error(err, SNAP_ECORRUPT, "object '%s' is a %s, not a blob",
				  oid_to_hex(oid), type_name(type));
	if (size != want_size)
		return snap_error(err, SNAP_ECORRUPT,
				  "blob '%s' holds %llu bytes, its tree says %llu",
				  oid_to_hex(oid), (unsigned long long)size,
				  (unsigned long long)want_size);
	r = xcalloc(1, sizeof(*r));
	r->odb = odb;
	r->oid = *oid;
	r->size = size;
	strbuf_init(&r->held, 0);
	if (chunked) {
		ret = odb_chunks_each(odb, oid, add_chunk, r, err);
		if (ret == 0)
			ret = snap_error(err, SNAP_ECORRUPT, "blob '%s' is no longer chunked",
					 oid_to_hex(oid));
		if (ret < 0) {
			blob_reader_close(r);
			return ret;
		}
		r->chunked = 1;
		hash_object_start(&r->whole, OBJ_BLOB, size, NULL);
		r->hashing = 1;
	}
	*out = r;
	return 0;
}

/* The chunk that holds offset off (below the blob's size). */
static size_t find_chunk(const struct blob_reader *r, uint64_t off)
{
	size_t lo = 0, hi = r->nr;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (r->chunks[mid].off <= off)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* Makes chunk i (or the whole blob) the bytes held, read and verified. */
static int hold(struct blob_reader *r, size_t i, struct strbuf *err)
{
	const struct snap_oid *oid = r->chunked ? &r->chunks[i].oid : &r->oid;
	uint64_t want = r->chunked ? r->chunks[i].size : r->size;
	enum object_type type;
	int ret;

	if (r->have && r->at == i)
		return 0;
	r->have = 0;
	if (!r->chunked && r->size > BLOB_READER_WHOLE_MAX)
		return snap_error(err, SNAP_ETOOBIG,
				  "blob '%s' is stored whole and is too big to be read in place",
				  oid_to_hex(oid));
	ret = odb_read(r->odb, oid, &type, &r->held, (size_t)want, err);
	if (ret == SNAP_ETOOBIG)
		ret = snap_error(err, SNAP_ECORRUPT, "chunk '%s' of blob '%s' is larger than listed",
				 oid_to_hex(oid), oid_to_hex_r((char[65]){ 0 }, &r->oid));
	if (ret < 0)
		return ret;
	if (type != OBJ_BLOB || r->held.len != want)
		return snap_error(err, SNAP_ECORRUPT, "%s '%s' of blob '%s' is not a blob of %llu bytes",
				  r->chunked ? "chunk" : "object", oid_to_hex(oid),
				  oid_to_hex_r((char[65]){ 0 }, &r->oid), (unsigned long long)want);
	r->at = i;
	r->have = 1;
	return 0;
}

/*
 * Feeds the bytes of [off, off + len) that continue the whole-blob hash;
 * at the blob's end, checks its id.  SNAP_ECORRUPT when the chunks, each
 * good, do not make up the blob the list is stored under.
 */
static int hash_along(struct blob_reader *r, const char *buf, size_t len, uint64_t off,
		      struct strbuf *err)
{
	struct snap_oid got;
	size_t skip;

	if (!r->hashing || off > r->hashed || off + len <= r->hashed)
		return 0;
	skip = (size_t)(r->hashed - off);
	hash_update(&r->whole, buf + skip, len - skip);
	r->hashed = off + len;
	if (r->hashed < r->size)
		return 0;
	r->hashing = 0;
	hash_final(&r->whole, &got);
	if (oid_cmp(&got, &r->oid))
		return snap_error(err, SNAP_ECORRUPT,
				  "object '%s' is corrupt: its chunks, each intact, hash to '%s'",
				  oid_to_hex_r((char[65]){ 0 }, &r->oid), oid_to_hex(&got));
	return 0;
}

int blob_reader_pread(struct blob_reader *r, void *buf, size_t len, uint64_t off,
		      size_t *got, struct strbuf *err)
{
	uint64_t start = off;
	size_t done = 0;
	int ret;

	*got = 0;
	while (done < len && off < r->size) {
		size_t i = r->chunked ? find_chunk(r, off) : 0;
		uint64_t base = r->chunked ? r->chunks[i].off : 0;
		size_t in, n;

		if ((ret = hold(r, i, err)) < 0)
			return ret;
		in = (size_t)(off - base);
		n = r->held.len - in;
		if (n > len - done)
			n = len - done;
		memcpy((char *)buf + done, r->held.buf + in, n);
		done += n;
		off += n;
	}
	if ((ret = hash_along(r, buf, done, start, err)) < 0)
		return ret;
	*got = done;
	return 0;
}

void blob_reader_close(struct blob_reader *r)
{
	if (!r)
		return;
	free(r->chunks);
	strbuf_release(&r->held);
	free(r);
}
