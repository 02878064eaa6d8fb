/*
 * Pack files and their indexes; formats in docs/FORMAT.md ("Packs").
 */
#include "pack.h"
#include "error.h"
#include "fsio.h"
#include "hash.h"
#include "oidset.h"
#include "util.h"
#include "storefs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#define IDX_HEADER_SIZE 16
#define FANOUT_SIZE (256 * 4)
#define IDX_TRAILER_SIZE (2 * SNAP_OID_RAWSZ)

static int bad(struct strbuf *err, const char *path, const char *why)
{
	return snap_error(err, SNAP_ECORRUPT, "pack index '%s' is corrupt: %s", path, why);
}

/* The path of the pack an index names: ".idx" replaced by ".pack". */
static char *pack_path_of(const char *idx_path)
{
	size_t plen = strlen(idx_path);
	char *path;

	if (plen < 4 || strcmp(idx_path + plen - 4, ".idx"))
		BUG("pack: '%s' is not an .idx path", idx_path);
	path = xmalloc(plen + 2);
	memcpy(path, idx_path, plen - 4);
	memcpy(path + plen - 4, ".pack", 6);
	return path;
}

static int record_check(const struct pack *p, uint32_t pos);

/*
 * Checks a mapped index whole: magic, version, sizes, fan-out, ids, the
 * checksum, and every record's fields (so that no reader ever meets a
 * record out of range).  Returns NULL or what is wrong.
 */
static const char *index_check(struct pack *p)
{
	static char why[64];
	struct snap_hash_ctx h;
	struct snap_oid sum;
	const char *bad_table;
	uint32_t i;

	if (p->map_len < IDX_HEADER_SIZE + FANOUT_SIZE + 8 + IDX_TRAILER_SIZE)
		return "too short";
	if (memcmp(p->map, PACK_IDX_MAGIC, 8) ||
	    (get_be32(p->map + 8) != 1 && get_be32(p->map + 8) != PACK_IDX_VERSION))
		return "bad magic or version";
	p->nr = get_be32(p->map + 12);
	if ((uint64_t)p->nr * (SNAP_OID_RAWSZ + PACK_RECORD_SIZE) + IDX_HEADER_SIZE +
	    FANOUT_SIZE + 8 + IDX_TRAILER_SIZE != p->map_len)
		return "size does not match the object count";
	p->fanout = p->map + IDX_HEADER_SIZE;
	p->ids = p->fanout + FANOUT_SIZE;
	p->records = p->ids + (size_t)p->nr * SNAP_OID_RAWSZ;
	p->pack_size = get_be64(p->records + (size_t)p->nr * PACK_RECORD_SIZE);
	bad_table = id_table_check(p->fanout, p->ids, p->nr);
	if (bad_table)
		return bad_table;
	hash_init(&h);
	hash_update(&h, p->map, p->map_len - SNAP_OID_RAWSZ);
	hash_final(&h, &sum);
	if (memcmp(sum.hash, p->map + p->map_len - SNAP_OID_RAWSZ, SNAP_OID_RAWSZ))
		return "checksum mismatch";
	for (i = 0; i < p->nr; i++)
		if (record_check(p, i) < 0) {
			snprintf(why, sizeof(why), "record %u is out of bounds", i);
			return why;
		}
	return NULL;
}

int pack_open(struct pack *p, const char *idx_path, struct strbuf *err)
{
	struct stat st;
	const char *why;
	int fd, ret;
	void *map;

	memset(p, 0, sizeof(*p));
	p->fd = -1;
	fd = storefs_open(idx_path, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0) {
		ret = snap_error_errno(err, "cannot open '%s'", idx_path);
		return errno == ENOENT ? SNAP_ENOTFOUND : ret;
	}
	if (fstat(fd, &st) < 0) {
		ret = snap_error_errno(err, "cannot stat '%s'", idx_path);
		close(fd);
		return ret;
	}
	if ((uint64_t)st.st_size < IDX_HEADER_SIZE + FANOUT_SIZE + 8 + IDX_TRAILER_SIZE) {
		close(fd);
		return bad(err, idx_path, "too short");
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return snap_error_errno(err, "cannot map '%s'", idx_path);
	p->map = map;
	p->map_len = (size_t)st.st_size;
	p->idx_path = xstrdup(idx_path);
	p->pack_path = pack_path_of(idx_path);
	why = index_check(p);
	if (why) {
		ret = bad(err, idx_path, why);
		pack_close(p);
		return ret;
	}
	return 0;
}

void pack_close(struct pack *p)
{
	if (p->map && p->scanned)
		free((void *)p->map);
	else if (p->map)
		munmap((void *)p->map, p->map_len);
	if (p->fd >= 0)
		close(p->fd);
	free(p->pack_path);
	free(p->idx_path);
	memset(p, 0, sizeof(*p));
	p->fd = -1;
}

const char *id_table_check(const unsigned char *fanout, const unsigned char *ids,
			   uint32_t nr)
{
	uint32_t i, prev = 0;

	for (i = 0; i < 256; i++) {
		uint32_t v = get_be32(fanout + 4 * i);
		if (v < prev || v > nr)
			return "fan-out table out of order";
		prev = v;
	}
	if (prev != nr)
		return "fan-out table does not match the count";
	for (i = 1; i < nr; i++)
		if (memcmp(ids + (size_t)(i - 1) * SNAP_OID_RAWSZ,
			   ids + (size_t)i * SNAP_OID_RAWSZ, SNAP_OID_RAWSZ) >= 0)
			return "ids not sorted";
	/*
	 * Each entry must count the ids whose first byte is at most its
	 * index, or a lookup searches the wrong range and misses ids that
	 * are there ("not found" instead of "corrupt").  The ids are sorted,
	 * so one pass over them checks all 256.
	 */
	for (i = 0, prev = 0; i < 256; i++) {
		uint32_t v = get_be32(fanout + 4 * i);

		while (prev < nr && ids[(size_t)prev * SNAP_OID_RAWSZ] <= i)
			prev++;
		if (v != prev)
			return "fan-out table does not match the ids";
	}
	return NULL;
}

long id_table_find(const unsigned char *fanout, const unsigned char *ids,
		   const struct snap_oid *oid)
{
	uint32_t lo = oid->hash[0] ? get_be32(fanout + 4 * (oid->hash[0] - 1)) : 0;
	uint32_t hi = get_be32(fanout + 4 * oid->hash[0]);
	uint64_t key = get_be64(oid->hash);

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const unsigned char *id = ids + (size_t)mid * SNAP_OID_RAWSZ;
		uint64_t head = get_be64(id);
		/* The first 8 bytes decide nearly always; memcmp only on a tie. */
		int c = head < key ? -1 : head > key ? 1 : memcmp(id, oid->hash, SNAP_OID_RAWSZ);
		if (!c)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

long pack_find(const struct pack *p, const struct snap_oid *oid)
{
	return id_table_find(p->fanout, p->ids, oid);
}

void pack_record(const struct pack *p, uint32_t pos, struct pack_record *r)
{
	const unsigned char *rec = p->records + (size_t)pos * PACK_RECORD_SIZE;

	r->offset = get_be64(rec);
	r->length = get_be64(rec + 8);
	r->size = get_be64(rec + 16);
	r->type = (enum object_type)rec[24];
	r->shared = rec[25] & 1;
	r->inner = get_be32(rec + 26);
}

/*
 * Every field of a record in range: the frame inside the pack (after its
 * header, before its checksum) and not longer than a frame of its kind
 * can be, a known type, flags 0 or 1, a member offset only in a shared
 * frame and inside one, zero padding (version 1 indexes have zeros
 * there), a payload no larger than a packed object can be.
 */
static int record_check(const struct pack *p, uint32_t pos)
{
	const unsigned char *rec = p->records + (size_t)pos * PACK_RECORD_SIZE;
	struct pack_record r;
	uint64_t end;

	pack_record(p, pos, &r);
	if (p->pack_size < PACK_HEADER_SIZE + SNAP_OID_RAWSZ)
		return -1;
	end = p->pack_size - SNAP_OID_RAWSZ;
	if (r.offset < PACK_HEADER_SIZE || r.offset > end || r.length == 0 ||
	    r.length > end - r.offset)
		return -1;
	if (rec[24] < OBJ_BLOB || rec[24] > OBJ_BUNDLE || rec[25] > 1 || rec[30] || rec[31])
		return -1;
	if (!r.shared)
		return r.inner == 0 && r.size <= PACK_OBJECT_MAX &&
		       r.length <= ZSTD_compressBound(PACK_OBJECT_MAX + SNAP_HDR_MAX) ? 0 : -1;
	return r.inner < PACK_BLOCK_MAX && r.size < PACK_BLOCK_MAX &&
	       r.length <= ZSTD_compressBound(PACK_BLOCK_MAX) ? 0 : -1;
}

void pack_oid(const struct pack *p, uint32_t pos, struct snap_oid *oid)
{
	memcpy(oid->hash, p->ids + (size_t)pos * SNAP_OID_RAWSZ, SNAP_OID_RAWSZ);
}

static int hexval(char c)
{
	return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

/* Compares the first len hex digits of an id with hex. */
static int cmp_prefix(const unsigned char *id, const char *hex, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		int d = (i & 1) ? (id[i / 2] & 15) : (id[i / 2] >> 4);
		int h = hexval(hex[i]);
		if (d != h)
			return d - h;
	}
	return 0;
}

void pack_prefix_range(const struct pack *p, const char *hex, size_t len,
		       uint32_t *first, uint32_t *count)
{
	uint32_t lo = 0, hi = p->nr, start;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (cmp_prefix(p->ids + (size_t)mid * SNAP_OID_RAWSZ, hex, len) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	start = lo;
	while (lo < p->nr && !cmp_prefix(p->ids + (size_t)lo * SNAP_OID_RAWSZ, hex, len))
		lo++;
	*first = start;
	*count = lo - start;
}

int pack_fd(struct pack *p, struct strbuf *err)
{
	if (p->fd < 0) {
		p->fd = storefs_open(p->pack_path, O_RDONLY | O_CLOEXEC, 0);
		if (p->fd < 0) {
			int ret = snap_error_errno(err, "cannot open pack '%s'", p->pack_path);
			return errno == ENOENT ? SNAP_ENOTFOUND : ret;
		}
	}
	return p->fd;
}

int pack_read_frame(struct pack *p, uint32_t pos, struct strbuf *out,
		    struct strbuf *err)
{
	struct pack_record r;
	ssize_t n;
	int fd = pack_fd(p, err);

	if (fd < 0)
		return SNAP_EIO;
	pack_record(p, pos, &r);
	if (r.length > PACK_OBJECT_MAX * 2ull + (1 << 20) || r.offset + r.length > p->pack_size)
		return snap_error(err, SNAP_ECORRUPT, "pack '%s': record %u is out of bounds",
				  p->pack_path, pos);
	strbuf_reset(out);
	strbuf_grow(out, (size_t)r.length);
	n = pread(fd, out->buf, (size_t)r.length, (off_t)r.offset);
	if (n != (ssize_t)r.length)
		return n < 0 ? snap_error_errno(err, "cannot read '%s'", p->pack_path)
			     : snap_error(err, SNAP_ECORRUPT, "pack '%s' is truncated", p->pack_path);
	strbuf_setlen(out, (size_t)r.length);
	return 0;
}

int pack_verify(struct pack *p, struct strbuf *err)
{
	struct snap_hash_ctx h;
	struct snap_oid sum, want;
	struct stat st;
	unsigned char *buf;
	uint64_t off = 0, end;
	int fd, ret = 0;

	/* The index and its records were checked whole when it was opened. */
	fd = pack_fd(p, err);
	if (fd < 0)
		return SNAP_EIO;
	if (fstat(fd, &st) < 0)
		return snap_error_errno(err, "cannot stat '%s'", p->pack_path);
	if ((uint64_t)st.st_size != p->pack_size || p->pack_size < PACK_HEADER_SIZE + SNAP_OID_RAWSZ)
		return snap_error(err, SNAP_ECORRUPT, "pack '%s' has the wrong size (%lld, index says %llu)",
				  p->pack_path, (long long)st.st_size,
				  (unsigned long long)p->pack_size);
	end = p->pack_size - SNAP_OID_RAWSZ;
	buf = xmalloc_io(1 << 20);
	hash_init(&h);
	while (off < end) {
		size_t want_len = end - off < (1 << 20) ? (size_t)(end - off) : (1 << 20);
		ssize_t n = pread(fd, buf, want_len, (off_t)off);
		if (n <= 0) {
			ret = n < 0 ? snap_error_errno(err, "cannot read '%s'", p->pack_path)
				    : snap_error(err, SNAP_ECORRUPT, "pack '%s' is truncated", p->pack_path);
			break;
		}
		if (off == 0 && (n < PACK_HEADER_SIZE || memcmp(buf, PACK_MAGIC, 8) ||
				 get_be32(buf + 8) != PACK_VERSION)) {
			ret = snap_error(err, SNAP_ECORRUPT, "pack '%s' has a bad header", p->pack_path);
			break;
		}
		hash_update(&h, buf, (size_t)n);
		off += (uint64_t)n;
	}
	if (ret == 0) {
		hash_final(&h, &sum);
		if (pread(fd, want.hash, SNAP_OID_RAWSZ, (off_t)end) != SNAP_OID_RAWSZ ||
		    oid_cmp(&sum, &want))
			ret = snap_error(err, SNAP_ECORRUPT, "pack '%s' checksum mismatch", p->pack_path);
		else if (memcmp(want.hash, p->map + p->map_len - IDX_TRAILER_SIZE, SNAP_OID_RAWSZ))
			ret = snap_error(err, SNAP_ECORRUPT,
					 "pack index '%s' belongs to another pack", p->idx_path);
	}
	free(buf);
	return ret;
}

/* ---- writing ---- */

struct pw_entry {
	struct snap_oid oid;
	struct pack_record rec;
};

/*
 * The bytes of an index (docs/FORMAT.md) over nr entries sorted by id,
 * for a pack of pack_size bytes whose checksum is pack_sum.
 */
static void index_image(struct strbuf *idx, const struct pw_entry *e, size_t nr,
			uint64_t pack_size, const unsigned char *pack_sum)
{
	struct snap_hash_ctx ih;
	struct snap_oid isum;
	unsigned char b8[8], fan[FANOUT_SIZE];
	uint32_t counts[256] = { 0 }, acc = 0;
	size_t i;

	strbuf_add(idx, PACK_IDX_MAGIC, 8);
	put_be32(b8, PACK_IDX_VERSION);
	put_be32(b8 + 4, (uint32_t)nr);
	strbuf_add(idx, b8, 8);
	for (i = 0; i < nr; i++)
		counts[e[i].oid.hash[0]]++;
	for (i = 0; i < 256; i++) {
		acc += counts[i];
		put_be32(fan + 4 * i, acc);
	}
	strbuf_add(idx, fan, sizeof(fan));
	for (i = 0; i < nr; i++)
		strbuf_add(idx, e[i].oid.hash, SNAP_OID_RAWSZ);
	for (i = 0; i < nr; i++) {
		unsigned char rec[PACK_RECORD_SIZE] = { 0 };
		put_be64(rec, e[i].rec.offset);
		put_be64(rec + 8, e[i].rec.length);
		put_be64(rec + 16, e[i].rec.size);
		rec[24] = (unsigned char)e[i].rec.type;
		rec[25] = (unsigned char)e[i].rec.shared;
		put_be32(rec + 26, e[i].rec.inner);
		strbuf_add(idx, rec, sizeof(rec));
	}
	put_be64(b8, pack_size);
	strbuf_add(idx, b8, 8);
	strbuf_add(idx, pack_sum, SNAP_OID_RAWSZ);
	hash_init(&ih);
	hash_update(&ih, idx->buf, idx->len);
	hash_final(&ih, &isum);
	strbuf_add(idx, isum.hash, SNAP_OID_RAWSZ);
}

/* Frames are gathered into an aligned buffer and written a MiB at a time. */
#define PW_BUF (1u << 20)

struct pack_writer {
	int fd;
	char *wbuf;
	size_t wlen;
	struct strbuf tmp;
	uint64_t size;
	struct snap_hash_ctx hash;
	struct oidmap entries;	/* of struct pw_entry, in the order added */
};

static int pw_flush(struct pack_writer *w, struct strbuf *err)
{
	if (w->wlen && fsio_write(w->fd, w->wbuf, w->wlen) < 0)
		return snap_error_errno(err, "cannot write '%s'", w->tmp.buf);
	w->wlen = 0;
	return 0;
}

/* Appends bytes to the pack (and its checksum). */
static int pw_write(struct pack_writer *w, const void *buf, size_t len, struct strbuf *err)
{
	int ret;

	hash_update(&w->hash, buf, len);
	if (w->wlen + len > PW_BUF && (ret = pw_flush(w, err)) < 0)
		return ret;
	if (len >= PW_BUF)
		return fsio_write(w->fd, buf, len) < 0 ?
			snap_error_errno(err, "cannot write '%s'", w->tmp.buf) : 0;
	memcpy(w->wbuf + w->wlen, buf, len);
	w->wlen += len;
	return 0;
}

int pack_writer_has(const struct pack_writer *w, const struct snap_oid *oid)
{
	return oidmap_get(&w->entries, oid) != NULL;
}

/*
 * A new id's entry, its frame of length bytes starting at the pack's end;
 * NULL when the writer has the id: the first frame stays the one indexed.
 */
static struct pw_entry *pw_entry_new(struct pack_writer *w, const struct snap_oid *oid,
				     enum object_type type, uint64_t size, uint64_t length)
{
	int added;
	struct pw_entry *e = oidmap_put(&w->entries, oid, &added);

	if (!added)
		return NULL;
	e->rec.offset = w->size;
	e->rec.length = length;
	e->rec.size = size;
	e->rec.type = type;
	return e;
}

int pack_writer_start(struct pack_writer **out, const char *tmpdir,
		      struct strbuf *err)
{
	struct pack_writer *w = xcalloc(1, sizeof(*w));
	unsigned char hdr[PACK_HEADER_SIZE] = { 0 };

	strbuf_init(&w->tmp, 0);
	w->wbuf = xmalloc_io(PW_BUF);
	w->entries = (struct oidmap)OIDMAP_INIT(struct pw_entry);
	w->fd = fsio_mktemp(tmpdir, "pack-", &w->tmp);
	if (w->fd < 0) {
		int ret = snap_error_errno(err, "cannot create a temporary pack in '%s'", tmpdir);
		pack_writer_abort(w);
		return ret;
	}
	memcpy(hdr, PACK_MAGIC, 8);
	put_be32(hdr + 8, PACK_VERSION);
	hash_init(&w->hash);
	hash_update(&w->hash, hdr, sizeof(hdr));
	if (fsio_write(w->fd, hdr, sizeof(hdr)) < 0) {
		int ret = snap_error_errno(err, "cannot write '%s'", w->tmp.buf);
		pack_writer_abort(w);
		return ret;
	}
	w->size = sizeof(hdr);
	*out = w;
	return 0;
}

int pack_writer_add(struct pack_writer *w, const struct snap_oid *oid,
		    enum object_type type, uint64_t size, const void *frame,
		    size_t len, struct strbuf *err)
{
	int ret = pw_write(w, frame, len, err);

	if (ret < 0)
		return ret;
	pw_entry_new(w, oid, type, size, len);
	w->size += len;
	return 0;
}

int pack_writer_add_block(struct pack_writer *w, const struct pack_member *m,
			  size_t nr, const void *frame, size_t len,
			  struct strbuf *err)
{
	size_t i;
	int ret = pw_write(w, frame, len, err);

	if (ret < 0)
		return ret;
	for (i = 0; i < nr; i++) {
		struct pw_entry *e = pw_entry_new(w, &m[i].oid, m[i].type, m[i].size, len);

		if (e) {
			e->rec.shared = 1;
			e->rec.inner = m[i].inner;
		}
	}
	w->size += len;
	return 0;
}

uint64_t pack_writer_size(const struct pack_writer *w)
{
	return w->size;
}

uint32_t pack_writer_count(const struct pack_writer *w)
{
	return (uint32_t)w->entries.nr;
}

void pack_writer_abort(struct pack_writer *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	if (w->tmp.len)
		storefs_unlink(w->tmp.buf);
	strbuf_release(&w->tmp);
	free(w->wbuf);
	oidmap_clear(&w->entries);
	free(w);
}

static int cmp_entry(const void *a, const void *b)
{
	return oid_cmp(&((const struct pw_entry *)a)->oid, &((const struct pw_entry *)b)->oid);
}

int pack_writer_finish(struct pack_writer *w, const char *packdir,
		       struct strbuf *idx_path, struct strbuf *err)
{
	struct strbuf idx = STRBUF_INIT, itmp = STRBUF_INIT, final = STRBUF_INIT;
	struct snap_oid sum;
	char hex[SNAP_OID_HEXSZ + 1];
	int ifd = -1, ret = 0;

	hash_final(&w->hash, &sum);
	ret = pw_flush(w, err);
	if (ret < 0)
		goto out;
	if (fsio_write(w->fd, sum.hash, SNAP_OID_RAWSZ) < 0 || fsio_fsync(w->fd) < 0) {
		ret = snap_error_errno(err, "cannot write '%s'", w->tmp.buf);
		goto out;
	}
	w->size += SNAP_OID_RAWSZ;
	ret = fsio_close(w->fd);
	w->fd = -1;
	if (ret < 0) {
		ret = snap_error_errno(err, "cannot write '%s'", w->tmp.buf);
		goto out;
	}

	{
		size_t nr;
		struct pw_entry *e = oidmap_detach(&w->entries, &nr);

		QSORT(e, nr, cmp_entry);
		index_image(&idx, e, nr, w->size, sum.hash);
		free(e);
	}

	{
		char *slash = strrchr(w->tmp.buf, '/');
		strbuf_add(&itmp, w->tmp.buf, slash ? (size_t)(slash - w->tmp.buf) : 0);
	}
	{
		struct strbuf dir = STRBUF_INIT;
		strbuf_addbuf(&dir, &itmp);
		ifd = fsio_mktemp(dir.buf, "idx-", &itmp);
		strbuf_release(&dir);
	}
	if (ifd < 0 || fsio_write(ifd, idx.buf, idx.len) < 0 || fsio_fsync(ifd) < 0) {
		ret = snap_error_errno(err, "cannot write a pack index in '%s'", packdir);
		goto out;
	}
	ret = fsio_close(ifd);
	ifd = -1;
	if (ret < 0) {
		ret = snap_error_errno(err, "cannot write '%s'", itmp.buf);
		goto out;
	}
	oid_to_hex_r(hex, &sum);
	strbuf_addf(&final, "%s/pack-%s.pack", packdir, hex);
	if (fsio_rename(w->tmp.buf, final.buf) < 0) {
		ret = snap_error_errno(err, "cannot create '%s'", final.buf);
		goto out;
	}
	strbuf_reset(&w->tmp);
	strbuf_reset(idx_path);
	strbuf_addf(idx_path, "%s/pack-%s.idx", packdir, hex);
	if (fsio_rename(itmp.buf, idx_path->buf) < 0) {
		ret = snap_error_errno(err, "cannot create '%s'", idx_path->buf);
		storefs_unlink(final.buf);
		goto out;
	}
	strbuf_reset(&itmp);
	if (fsio_fsync_dir(packdir) < 0)
		ret = snap_error_errno(err, "cannot sync '%s'", packdir);
out:
	if (ifd >= 0)
		close(ifd);
	if (itmp.len)
		storefs_unlink(itmp.buf);
	strbuf_release(&idx);
	strbuf_release(&itmp);
	strbuf_release(&final);
	pack_writer_abort(w);
	return ret;
}

/* ---- an index rebuilt from the pack ---- */

static const unsigned char zstd_magic[4] = { 0x28, 0xb5, 0x2f, 0xfd };

struct scan {
	struct pw_entry *e;
	size_t nr, alloc;
};

static void scan_add(struct scan *sc, const char *content, size_t at, size_t len,
		     enum object_type type, uint64_t size, uint64_t offset,
		     uint64_t flen, int shared)
{
	struct snap_hash_ctx h;
	struct pw_entry *e;

	ALLOC_GROW(sc->e, sc->nr + 1, sc->alloc);
	e = &sc->e[sc->nr++];
	hash_init(&h);
	hash_update(&h, content + at, len);
	hash_final(&h, &e->oid);
	e->rec.offset = offset;
	e->rec.length = flen;
	e->rec.size = size;
	e->rec.type = type;
	e->rec.shared = shared;
	e->rec.inner = shared ? (uint32_t)at : 0;
}

/*
 * The objects of one frame: its content is one object's header and
 * payload (an object's own frame), or several one after another (a
 * block).  Ids are computed from what the frame holds, so damage can
 * only hide objects, never give one wrong bytes.  Returns 0, or -1 when
 * the content is neither.
 */
static int scan_frame(struct scan *sc, const char *content, size_t len,
		      uint64_t offset, uint64_t flen)
{
	size_t pos = 0, base = sc->nr, n = 0;

	while (pos < len) {
		enum object_type t;
		uint64_t sz;
		int hlen = object_header_parse(content + pos, len - pos, &t, &sz);

		if (hlen <= 0 || sz > len - pos - (size_t)hlen)
			break;
		if (pos == 0 && (size_t)hlen + sz == len) {
			if (sz > PACK_OBJECT_MAX)
				return -1;
			scan_add(sc, content, 0, len, t, sz, offset, flen, 0);
			return 0;
		}
		if (len > PACK_BLOCK_MAX || sz >= PACK_BLOCK_MAX)
			break;
		scan_add(sc, content, pos, (size_t)hlen + (size_t)sz, t, sz, offset, flen, 1);
		pos += (size_t)hlen + (size_t)sz;
		n++;
	}
	if (pos == len && n)
		return 0;
	sc->nr = base;
	return -1;
}

static int cmp_scanned(const void *a, const void *b)
{
	const struct pw_entry *x = a, *y = b;
	int c = oid_cmp(&x->oid, &y->oid);

	if (c)
		return c;
	return x->rec.offset < y->rec.offset ? -1 : x->rec.offset > y->rec.offset;
}

/* The checksum a pack is named by ("pack-<hex>.idx"), if it is so named. */
static int name_checksum(const char *idx_path, struct snap_oid *sum)
{
	const char *base = strrchr(idx_path, '/');

	base = base ? base + 1 : idx_path;
	if (strlen(base) != 5 + SNAP_OID_HEXSZ + 4 || strncmp(base, "pack-", 5))
		return -1;
	return oid_from_hexn(sum, base + 5, SNAP_OID_HEXSZ);
}

int pack_scan(struct pack *p, const char *idx_path, struct strbuf *err)
{
	struct scan sc = { NULL, 0, 0 };
	struct strbuf content = STRBUF_INIT, idx = STRBUF_INIT;
	struct snap_oid sum;
	struct stat st;
	const unsigned char *map;
	ZSTD_DCtx *d;
	uint64_t off = PACK_HEADER_SIZE, size;
	size_t i, j;
	int fd, ret;

	memset(p, 0, sizeof(*p));
	p->fd = -1;
	p->pack_path = pack_path_of(idx_path);
	fd = storefs_open(p->pack_path, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0) {
		ret = snap_error_errno(err, "cannot open pack '%s'", p->pack_path);
		if (errno == ENOENT)
			ret = SNAP_ENOTFOUND;
		pack_close(p);
		return ret;
	}
	if (fstat(fd, &st) < 0 || st.st_size < PACK_HEADER_SIZE) {
		ret = st.st_size < PACK_HEADER_SIZE
			? snap_error(err, SNAP_ECORRUPT, "pack '%s' is truncated", p->pack_path)
			: snap_error_errno(err, "cannot stat '%s'", p->pack_path);
		close(fd);
		pack_close(p);
		return ret;
	}
	size = (uint64_t)st.st_size;
	map = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED) {
		ret = snap_error_errno(err, "cannot map '%s'", p->pack_path);
		close(fd);
		pack_close(p);
		return ret;
	}
	p->fd = fd;
	d = ZSTD_createDCtx();
	if (!d)
		BUG("ZSTD_createDCtx failed");
	ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, 27);
	/*
	 * Frame after frame; after a damaged one, on from the next place
	 * where a frame could begin, so that damage costs only its objects.
	 */
	while (off + sizeof(zstd_magic) <= size) {
		const unsigned char *at = map + off, *next;
		size_t left = (size_t)(size - off);
		size_t flen = ZSTD_findFrameCompressedSize(at, left);
		unsigned long long csize = ZSTD_getFrameContentSize(at, left);
		size_t got;

		if (!ZSTD_isError(flen) && csize != ZSTD_CONTENTSIZE_UNKNOWN &&
		    csize != ZSTD_CONTENTSIZE_ERROR && csize <= PACK_OBJECT_MAX + SNAP_HDR_MAX) {
			strbuf_reset(&content);
			strbuf_grow(&content, (size_t)csize + 1);
			got = ZSTD_decompressDCtx(d, content.buf, (size_t)csize + 1, at, flen);
			if (!ZSTD_isError(got) && got == csize &&
			    scan_frame(&sc, content.buf, got, off, flen) == 0) {
				off += flen;
				continue;
			}
		}
		next = memmem(at + 1, left - 1, zstd_magic, sizeof(zstd_magic));
		if (!next)
			break;
		off = (uint64_t)(next - map);
	}
	ZSTD_freeDCtx(d);
	munmap((void *)map, (size_t)size);
	strbuf_release(&content);

	/* One record per id: the first frame that holds it. */
	QSORT(sc.e, sc.nr, cmp_scanned);
	for (i = j = 0; i < sc.nr; i++)
		if (!j || oid_cmp(&sc.e[j - 1].oid, &sc.e[i].oid))
			sc.e[j++] = sc.e[i];
	if (name_checksum(idx_path, &sum) < 0) {
		memset(sum.hash, 0, sizeof(sum.hash));
		if (size >= PACK_HEADER_SIZE + SNAP_OID_RAWSZ &&
		    pread(fd, sum.hash, SNAP_OID_RAWSZ, (off_t)(size - SNAP_OID_RAWSZ)) != SNAP_OID_RAWSZ)
			memset(sum.hash, 0, sizeof(sum.hash));
	}
	index_image(&idx, sc.e, j, size, sum.hash);
	free(sc.e);
	p->map_len = idx.len;
	p->map = (const unsigned char *)strbuf_detach(&idx, NULL);
	p->scanned = 1;
	p->idx_path = xstrdup(idx_path);
	if (index_check(p))
		BUG("pack_scan built an index that does not check");
	return 0;
}

int pack_index_orphan(const char *idx_path, const char *tmpdir, struct strbuf *err)
{
	struct strbuf tmp = STRBUF_INIT;
	struct pack p;
	int fd, ret = pack_scan(&p, idx_path, err);

	if (ret < 0)
		return ret;
	fd = fsio_mktemp(tmpdir, "idx-", &tmp);
	if (fd < 0) {
		ret = snap_error_errno(err, "cannot create a temporary file in '%s'", tmpdir);
		goto out;
	}
	if (fsio_write(fd, p.map, p.map_len) < 0 || fsio_fsync(fd) < 0) {
		ret = snap_error_errno(err, "cannot write '%s'", tmp.buf);
		fsio_close(fd);
		storefs_unlink(tmp.buf);
		goto out;
	}
	fsio_close(fd);
	/* link, not rename: an index that appeared meanwhile is kept. */
	if (fsio_link(tmp.buf, idx_path) < 0 && errno != EEXIST)
		ret = snap_error_errno(err, "cannot create '%s'", idx_path);
	else if (fsio_fsync_parent(idx_path) < 0)
		ret = snap_error_errno(err, "cannot sync the directory of '%s'", idx_path);
	storefs_unlink(tmp.buf);
out:
	pack_close(&p);
	strbuf_release(&tmp);
	return ret;
}
