/*
 * Streams over an object's copies: opening the first that opens, reading
 * verified, going on from another copy when one fails, chunked blobs
 * chunk by chunk; and whole reads on top of them.
 */
#include "odb-internal.h"
#include "chunk.h"
#include "error.h"
#include "util.h"
#include "storefs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct odb_stream {
	struct odb *odb;
	struct zio_dctx *dctx;
	int fd;
	int own_fd;		/* a loose object's file, closed with the stream */
	uint64_t pos, left;	/* where the frame's unread bytes are */
	int eof;		/* the frame's bytes are all read */
	int frame_done;		/* zstd reported the end of the frame */
	struct zio_in in;
	char *inbuf;
	char pend[SNAP_HDR_MAX];	/* payload bytes decoded with the header */
	size_t pend_pos, pend_len;
	uint64_t remaining;	/* payload bytes not yet handed out */
	struct snap_hash_ctx hash;
	struct snap_oid oid;
	struct strbuf path;
	int failed;
	/*
	 * A chunked blob: the frame is its chunk list, read a line at a time
	 * while the chunks it names are streamed in order through sub.
	 */
	int chunked;
	struct odb_stream *sub;	/* the chunk being read, or NULL */
	char lbuf[4096];	/* list bytes decoded, not yet parsed */
	size_t lpos, llen;
	uint64_t listed;	/* sum of the chunk sizes read so far */
	int chunk_failed;	/* the failure was in chunk bad_chunk */
	int chunk_missing;
	struct snap_oid bad_chunk;
	struct snap_oid cur;	/* the chunk sub reads */
	uint64_t total;		/* the blob's size */
	/* A member of a block: its payload is block->buf[mpos..] */
	struct block *block;
	size_t mpos;
	uint64_t size;		/* the payload's */
	uint64_t handed;	/* payload bytes odb_stream_read handed out */
	enum object_type type;
	/*
	 * Verify the object whole at the first read, before a byte is
	 * handed out (read_copy): a block member at block->buf[vstart..]
	 * (vlen bytes), or a small object decompressed into memory.
	 */
	int verify_first;
	size_t vstart, vlen;
	unsigned copy;		/* which copy of the object is read (nth_copy) */
	unsigned flags;		/* stream_open()'s */
};

static int corrupt(struct odb_stream *st, struct strbuf *err, const char *why)
{
	st->failed = 1;
	return snap_error(err, SNAP_ECORRUPT, "object '%s' is corrupt (%s): %s",
			  oid_to_hex(&st->oid), st->path.buf, why);
}

/*
 * Decompresses into out[0..cap) until at least one byte comes out or the
 * frame ends.  Sets *got.
 */
static int decode(struct odb_stream *st, void *out, size_t cap, size_t *got,
		  struct strbuf *err)
{
	size_t pos = 0;

	*got = 0;
	while (!st->frame_done) {
		const char *why;
		int r;

		if (st->in.pos == st->in.size && !st->eof) {
			size_t want = zio_in_size();
			ssize_t n = 0;

			if (want > st->left)
				want = (size_t)st->left;
			if (want)
				do
					n = pread(st->fd, st->inbuf, want, (off_t)st->pos);
				while (n < 0 && errno == EINTR);
			if (n < 0) {
				st->failed = 1;
				return snap_error_errno(err, "cannot read '%s'", st->path.buf);
			}
			st->in.src = st->inbuf;
			st->in.size = (size_t)n;
			st->in.pos = 0;
			st->pos += (uint64_t)n;
			st->left -= (uint64_t)n;
			if (n == 0)
				st->eof = 1;
		}
		r = zio_stream_decompress(st->dctx, out, cap, &pos, &st->in, &why);
		if (r < 0)
			return corrupt(st, err, why);
		if (r > 0)
			st->frame_done = 1;
		if (pos > 0 || pos == cap)
			break;
		if (st->in.pos == st->in.size && st->eof)
			return corrupt(st, err, "truncated");
	}
	*got = pos;
	return 0;
}

/* Checks that the frame ends here and nothing follows it. */
static int finish_frame(struct odb_stream *st, struct strbuf *err)
{
	char extra;
	size_t got;
	int ret;

	if (!st->frame_done) {
		ret = decode(st, &extra, 1, &got, err);
		if (ret < 0)
			return ret;
		if (got)
			return corrupt(st, err, "longer than its header says");
		if (!st->frame_done)
			return corrupt(st, err, "truncated");
	}
	if (st->in.pos < st->in.size || st->left > 0)
		return corrupt(st, err, "trailing bytes after the compressed frame");
	return 0;
}

/* Called once the declared payload has been handed out. */
static int finish(struct odb_stream *st, struct strbuf *err)
{
	struct snap_oid actual;
	int ret = finish_frame(st, err);

	if (ret < 0)
		return ret;
	hash_final(&st->hash, &actual);
	if (oid_cmp(&actual, &st->oid))
		return corrupt(st, err, "hash mismatch");
	return 0;
}

/*
 * Parses the header a stored frame starts with: an object's, or a chunk
 * list's (then *list is set and the type is blob).  Returns as
 * object_header_parse does.
 */
static int stored_header_parse(const char *buf, size_t len, enum object_type *type,
			       uint64_t *size, int *list)
{
	int n = object_header_parse(buf, len, type, size);

	*list = 0;
	if (n != -1)
		return n;
	n = chunk_list_header_parse(buf, len, size);
	if (n > 0) {
		*list = 1;
		*type = OBJ_BLOB;
	}
	return n;
}

/*
 * Finishes opening st on a member of a block: its header must be the one
 * the index records, and header and payload must lie inside the block.
 */
static int open_member(struct odb_stream *st, struct pack *p,
		       const struct pack_record *r, enum object_type *t,
		       uint64_t *sz, struct strbuf *err)
{
	const char *why;
	int hlen;

	st->block = block_get(st->odb, p, r, &why, err);
	if (!st->block)
		return why ? corrupt(st, err, why) : SNAP_EIO;
	if (r->inner >= st->block->len)
		return corrupt(st, err, "outside its shared frame");
	hlen = object_header_parse(st->block->buf + r->inner, st->block->len - r->inner,
				   t, sz);
	if (hlen <= 0 || *t != r->type || *sz != r->size)
		return corrupt(st, err, "bad object header");
	if (*sz > st->block->len - r->inner - (size_t)hlen)
		return corrupt(st, err, "truncated");
	/* In memory whole: verified before its first byte is handed out. */
	st->verify_first = 1;
	st->vstart = r->inner;
	st->vlen = (size_t)hlen + (size_t)*sz;
	hash_init(&st->hash);
	hash_update(&st->hash, st->block->buf + r->inner, (size_t)hlen);
	st->mpos = r->inner + (size_t)hlen;
	st->remaining = *sz;
	st->frame_done = st->eof = 1;
	st->left = 0;
	return 0;
}

/* stream_open() flags */
#define STREAM_PLAIN 1	/* refuse a chunk list (for a chunk) */
#define STREAM_LOOSE 2	/* the loose copy only */
#define STREAM_ONE 4	/* the one copy asked for: no other on failure */

/*
 * The copies of an object, in the order readers try them: n = 0 the one
 * the lookup finds, then those of the other packs that hold it, in their
 * order, then the loose file (which may be absent).  Returns 1 with *p
 * (NULL for the loose file) and *pos set, or 0 past the last.  Only a
 * copy that failed costs the search of every pack.
 */
static int nth_copy(struct odb *odb, const struct snap_oid *oid, unsigned n,
		    struct pack **p, uint32_t *pos)
{
	uint32_t fpos = 0;
	struct pack *first = find_packed(odb, oid, &fpos);
	unsigned k = 0;
	size_t i;

	if (first) {
		if (n == 0) {
			*p = first;
			*pos = fpos;
			return 1;
		}
		k = 1;
	}
	for (i = 0; i < odb->nr_packs; i++) {
		struct pack *q = &odb->packs[i];
		long at;

		if (q == first || (at = pack_find(q, oid)) < 0)
			continue;
		if (k++ == n) {
			*p = q;
			*pos = (uint32_t)at;
			return 1;
		}
	}
	if (k != n)
		return 0;
	*p = NULL;
	return 1;
}

/* A read failure that another copy may not share. */
static int copy_failure(int ret)
{
	return ret == SNAP_ECORRUPT || ret == SNAP_EIO;
}

/* read_whole() reads a copy through read_copy(), which starts with it. */
static int read_copy(struct odb_stream *st, void *buf, size_t len,
		     size_t *got, struct strbuf *err);

/*
 * Objects up to this size are read and verified whole at a stream's
 * first read, and then served from memory (as block members are): a
 * copy that fails is met before a byte of it is handed out, so that the
 * reader can go on from another copy.  Chunks are all this small.
 */
#define VERIFY_AT_OPEN_MAX PACK_BLOCK_MAX

static int read_whole(struct odb_stream *st, struct strbuf *err)
{
	struct block *b = xcalloc(1, sizeof(*b));
	char hdr[SNAP_HDR_MAX];
	size_t hlen, got;
	int ret = 0;

	b->buf = xmalloc(st->size ? (size_t)st->size : 1);
	b->refs = 1;
	while (ret == 0 && b->len < st->size) {
		ret = read_copy(st, b->buf + b->len, (size_t)st->size - b->len, &got, err);
		b->len += got;
		if (ret == 0 && !got)
			ret = corrupt(st, err, "truncated");
	}
	if (ret == 0)
		ret = read_copy(st, hdr, sizeof(hdr), &got, err);	/* the end: verifies */
	if (ret < 0) {
		free(b->buf);
		free(b);
		return ret;
	}
	/* Served from memory from now on, hashed again as it is handed out. */
	dctx_put(st->odb, st->dctx);
	st->dctx = NULL;
	st->block = b;
	st->mpos = 0;
	st->remaining = st->size;
	st->pend_pos = st->pend_len = 0;
	st->in.pos = st->in.size = 0;
	st->left = 0;
	st->frame_done = st->eof = 1;
	hlen = object_header_format(hdr, st->type, st->size);
	hash_init(&st->hash);
	hash_update(&st->hash, hdr, hlen);
	return 0;
}

/* Opens a stream on copy p/pos (p NULL: the loose file) of an object. */
static int stream_open_copy(struct odb *odb, const struct snap_oid *oid,
			    struct pack *p, uint32_t pos, struct odb_stream **out,
			    enum object_type *type, uint64_t *size, unsigned flags,
			    struct strbuf *err)
{
	struct odb_stream *st = xcalloc(1, sizeof(*st));
	enum object_type t = OBJ_NONE;
	uint64_t sz = 0;
	size_t have = 0;
	int hlen = 0, list = 0, ret;

	st->odb = odb;
	st->oid = *oid;
	st->fd = -1;
	st->flags = flags;
	strbuf_init(&st->path, 0);
	if (!p) {
		odb_loose_path(odb, oid, &st->path);
		st->fd = storefs_open(st->path.buf, O_RDONLY | O_CLOEXEC | O_NOFOLLOW, 0);
	}
	if (st->fd >= 0) {
		struct stat sb;

		st->own_fd = 1;
		if (fstat(st->fd, &sb) < 0) {
			ret = snap_error_errno(err, "cannot stat '%s'", st->path.buf);
			goto fail;
		}
		st->left = (uint64_t)sb.st_size;
	} else if (!p && errno == ENOENT) {
		ret = snap_error(err, SNAP_ENOTFOUND, "object '%s' not found", oid_to_hex(oid));
		goto fail;
	} else if (p) {
		struct pack_record r;

		pack_record(p, pos, &r);
		st->fd = pack_fd(p, err);
		if (st->fd < 0) {
			ret = SNAP_EIO;
			goto fail;
		}
		strbuf_addf(&st->path, "%s at offset %llu", p->pack_path,
			    (unsigned long long)r.offset);
		st->pos = r.offset;
		st->left = r.length;
		if (r.shared) {
			ret = open_member(st, p, &r, &t, &sz, err);
			if (ret < 0)
				goto fail;
			goto opened;
		}
	} else {
		ret = snap_error_errno(err, "cannot open '%s'", st->path.buf);
		goto fail;
	}
	st->dctx = dctx_get(odb);
	st->inbuf = xmalloc_io(zio_in_size());

	while (hlen == 0) {
		size_t got;

		if (have == sizeof(st->pend))
			break;
		ret = decode(st, st->pend + have, sizeof(st->pend) - have, &got, err);
		if (ret < 0)
			goto fail;
		have += got;
		hlen = stored_header_parse(st->pend, have, &t, &sz, &list);
		if (hlen < 0 || (hlen == 0 && st->frame_done))
			break;
	}
	if (hlen <= 0) {
		ret = corrupt(st, err, "bad object header");
		goto fail;
	}
	st->remaining = sz;
	if (list) {
		/* A chunked blob: verified against the hash of all its chunks. */
		if (!st->own_fd || (flags & STREAM_PLAIN)) {
			ret = corrupt(st, err, st->own_fd ? "a chunk that is itself a chunk list"
					       : "a chunk list in a pack");
			goto fail;
		}
		st->chunked = 1;
		st->total = sz;
		hash_object_start(&st->hash, OBJ_BLOB, sz, NULL);
		st->llen = have - (size_t)hlen;
		memcpy(st->lbuf, st->pend + hlen, st->llen);
	} else {
		hash_init(&st->hash);
		hash_update(&st->hash, st->pend, (size_t)hlen);
		st->pend_pos = (size_t)hlen;
		st->pend_len = have;
		st->verify_first = sz <= VERIFY_AT_OPEN_MAX;
	}
opened:
	st->size = sz;
	st->type = t;
	if (type)
		*type = t;
	if (size)
		*size = sz;
	*out = st;
	return 0;
fail:
	odb_stream_close(st);
	return ret;
}

/*
 * Opens a stream on the first copy of an object that opens (packs
 * first: a lookup there costs no system call, and most objects of a
 * store are packed).  A copy that fails is reported only when no other
 * opens: err then holds the first failure.  With STREAM_ONE, copy
 * number `first` only.
 */
static int stream_open_from(struct odb *odb, const struct snap_oid *oid,
			    unsigned first, struct odb_stream **out,
			    enum object_type *type, uint64_t *size, unsigned flags,
			    struct strbuf *err)
{
	struct strbuf later = STRBUF_INIT;
	size_t keep = err ? err->len : 0;
	int ret = SNAP_ENOTFOUND, failed = 0;
	unsigned n;

	for (n = first;; n++) {
		struct pack *p;
		uint32_t pos = 0;
		int r;

		if (flags & STREAM_LOOSE)
			p = NULL;
		else if (!nth_copy(odb, oid, n, &p, &pos))
			break;
		strbuf_reset(&later);
		r = stream_open_copy(odb, oid, p, pos, out, type, size, flags,
				     failed ? &later : err);
		if (r == 0) {
			(*out)->copy = n;
			if (failed && err)
				strbuf_setlen(err, keep);
			strbuf_release(&later);
			return 0;
		}
		if (!failed) {
			ret = r;
			failed = copy_failure(r);
			if (!failed && r != SNAP_ENOTFOUND)
				break;
			if (!failed && err)
				strbuf_setlen(err, keep);
		}
		if ((flags & (STREAM_LOOSE | STREAM_ONE)) || !p)
			break;
	}
	if (ret == SNAP_ENOTFOUND && !(flags & (STREAM_LOOSE | STREAM_ONE))) {
		/* No copy: gc may have moved it into a pack loaded after ours. */
		struct pack *p;
		uint32_t pos;

		if ((p = late_find(odb, oid, &pos))) {
			ret = stream_open_copy(odb, oid, p, pos, out, type, size, flags, err);
			if (ret == 0) {
				(*out)->copy = n;
				strbuf_release(&later);
				return 0;
			}
		}
	}
	if (ret == SNAP_ENOTFOUND && err && err->len == keep)
		snap_error(err, SNAP_ENOTFOUND, "object '%s' not found", oid_to_hex(oid));
	if (failed && !(flags & STREAM_ONE))
		note_bad(odb, oid);
	strbuf_release(&later);
	return ret;
}

static int stream_open(struct odb *odb, const struct snap_oid *oid,
		       struct odb_stream **out, enum object_type *type,
		       uint64_t *size, unsigned flags, struct strbuf *err)
{
	return stream_open_from(odb, oid, 0, out, type, size, flags, err);
}

int odb_stream_open(struct odb *odb, const struct snap_oid *oid,
		    struct odb_stream **out, enum object_type *type,
		    uint64_t *size, struct strbuf *err)
{
	return stream_open(odb, oid, out, type, size, 0, err);
}

int odb_stream_open_loose(struct odb *odb, const struct snap_oid *oid,
			  struct odb_stream **out, enum object_type *type,
			  uint64_t *size, struct strbuf *err)
{
	return stream_open(odb, oid, out, type, size, STREAM_LOOSE, err);
}

int odb_stream_open_copy(struct odb *odb, const struct snap_oid *oid, unsigned n,
			 struct odb_stream **out, enum object_type *type,
			 uint64_t *size, struct strbuf *err)
{
	struct pack *p;
	uint32_t pos;

	if (!nth_copy(odb, oid, n, &p, &pos))
		return SNAP_ENOTFOUND;
	return stream_open_copy(odb, oid, p, pos, out, type, size, STREAM_ONE, err);
}

const char *odb_stream_path(const struct odb_stream *st)
{
	return st->path.buf;
}

/*
 * The next line of a chunk list into line (*len bytes, LF included).
 * Returns 1 for a line, 0 at the end of the list.
 */
static int list_line(struct odb_stream *st, char *line, size_t *len,
		     struct strbuf *err)
{
	size_t n = 0;

	for (;;) {
		char c;

		if (st->lpos == st->llen) {
			size_t got;
			int ret = decode(st, st->lbuf, sizeof(st->lbuf), &got, err);

			if (ret < 0)
				return ret;
			st->lpos = 0;
			st->llen = got;
			if (!got)
				return n ? corrupt(st, err, "chunk list ends inside a line") : 0;
		}
		c = st->lbuf[st->lpos++];
		if (n == CHUNK_LIST_LINE_MAX)
			return corrupt(st, err, "chunk list line too long");
		line[n++] = c;
		if (c == '\n') {
			*len = n;
			return 1;
		}
	}
}

/* The next chunk of the list: its id and size. */
static int list_next(struct odb_stream *st, struct snap_oid *oid, uint64_t *size,
		     struct strbuf *err)
{
	char line[CHUNK_LIST_LINE_MAX];
	size_t len = 0;
	int ret = list_line(st, line, &len, err);

	if (ret < 0)
		return ret;
	if (ret == 0)
		return corrupt(st, err, "chunk list ends before the blob's size");
	if (chunk_list_line_parse(line, len, oid, size) < 0)
		return corrupt(st, err, "bad chunk list line");
	if (*size > st->total - st->listed)
		return corrupt(st, err, "chunk sizes add up to more than the blob's size");
	st->listed += *size;
	return 0;
}

/* Once the chunks add up to the blob: the list must end, the frame too. */
static int list_end(struct odb_stream *st, struct strbuf *err)
{
	char line[CHUNK_LIST_LINE_MAX];
	size_t len;
	int ret = list_line(st, line, &len, err);

	if (ret < 0)
		return ret;
	if (ret > 0)
		return corrupt(st, err, "chunk sizes add up to more than the blob's size");
	return finish_frame(st, err);
}

static int chunk_failure(struct odb_stream *st, const struct snap_oid *chunk,
			 int missing, int ret, const struct strbuf *msg,
			 struct strbuf *err)
{
	st->failed = 1;
	st->chunk_failed = 1;
	st->chunk_missing = missing;
	st->bad_chunk = *chunk;
	if (missing)
		return snap_error(err, SNAP_ECORRUPT,
				  "object '%s' is corrupt (%s): its chunk '%s' is missing",
				  oid_to_hex(&st->oid), st->path.buf, oid_to_hex(chunk));
	return snap_error(err, ret, "%s (a chunk of blob '%s')", msg->buf,
			  oid_to_hex(&st->oid));
}

/* Reads a chunked blob: its chunks in list order, each one verified. */
static int chunked_read(struct odb_stream *st, void *buf, size_t len,
			size_t *got, struct strbuf *err)
{
	struct strbuf msg = STRBUF_INIT;
	int ret = 0;

	while (!*got) {
		struct snap_oid chunk;
		enum object_type t;
		uint64_t want, sz;
		size_t n;

		if (!st->sub) {
			if (st->listed == st->total) {
				ret = list_end(st, err);
				if (ret == 0)
					ret = finish(st, err);
				break;
			}
			ret = list_next(st, &chunk, &want, err);
			if (ret < 0)
				break;
			ret = stream_open(st->odb, &chunk, &st->sub, &t, &sz, STREAM_PLAIN, &msg);
			if (ret < 0) {
				ret = chunk_failure(st, &chunk, ret == SNAP_ENOTFOUND, ret, &msg, err);
				break;
			}
			if (t != OBJ_BLOB || sz != want) {
				strbuf_addf(&msg, "object '%s' is a %s of %llu bytes, its list says "
					    "a blob of %llu", oid_to_hex(&chunk), type_name(t),
					    (unsigned long long)sz, (unsigned long long)want);
				ret = chunk_failure(st, &chunk, 0, SNAP_ECORRUPT, &msg, err);
				break;
			}
			st->cur = chunk;
		}
		ret = odb_stream_read(st->sub, buf, len, &n, &msg);
		if (ret < 0) {
			chunk = st->cur;
			ret = chunk_failure(st, &chunk, 0, ret, &msg, err);
			break;
		}
		if (!n) {
			odb_stream_close(st->sub);
			st->sub = NULL;
			continue;
		}
		hash_update(&st->hash, buf, n);
		st->remaining -= n;
		*got = n;
	}
	strbuf_release(&msg);
	return ret;
}

static int read_copy(struct odb_stream *st, void *buf, size_t len,
		     size_t *got, struct strbuf *err)
{
	size_t n;
	int ret;

	*got = 0;
	if (st->failed)
		BUG("odb_stream_read after a failure");
	if (st->verify_first) {
		st->verify_first = 0;
		if (st->block) {
			struct snap_hash_ctx h;
			struct snap_oid actual;

			hash_init(&h);
			hash_update(&h, st->block->buf + st->vstart, st->vlen);
			hash_final(&h, &actual);
			if (oid_cmp(&actual, &st->oid))
				return corrupt(st, err, "hash mismatch");
		} else {
			ret = read_whole(st, err);
			if (ret < 0)
				return ret;
		}
	}
	if (st->chunked)
		return chunked_read(st, buf, len, got, err);
	if (st->pend_pos < st->pend_len) {
		n = st->pend_len - st->pend_pos;
		if (n > st->remaining)
			return corrupt(st, err, "longer than its header says");
		if (n > len)
			n = len;
		memcpy(buf, st->pend + st->pend_pos, n);
		st->pend_pos += n;
	} else if (st->remaining == 0) {
		return finish(st, err);
	} else if (st->block) {
		n = len < st->remaining ? len : (size_t)st->remaining;
		memcpy(buf, st->block->buf + st->mpos, n);
		st->mpos += n;
	} else {
		if (len > st->remaining)
			len = (size_t)st->remaining;
		ret = decode(st, buf, len, &n, err);
		if (ret < 0)
			return ret;
		if (n == 0)
			return corrupt(st, err, "truncated");
	}
	hash_update(&st->hash, buf, n);
	st->remaining -= n;
	*got = n;
	return 0;
}

/* The id-so-far of what a stream has handed out: header and payload. */
static void prefix_hash(const struct odb_stream *st, struct snap_oid *out)
{
	struct snap_hash_ctx c = st->hash;

	hash_final(&c, out);
}

/*
 * After copy st->copy failed with handed bytes of the payload handed
 * out: goes on from another copy, if one opens, yields the same bytes up
 * to there (the same header and payload prefix, by their hash) and is
 * readable that far.  Then its state replaces st's.  0 if it did.
 */
static int switch_copy(struct odb_stream *st)
{
	uint64_t handed = st->handed;
	char *scratch = NULL;
	struct pack *p;
	uint32_t pos;
	unsigned n;
	int ret = -1;

	for (n = st->copy + 1; ret < 0 && nth_copy(st->odb, &st->oid, n, &p, &pos); n++) {
		struct odb_stream *next, tmp;
		struct snap_oid a, b;
		uint64_t left = handed;

		if (stream_open_copy(st->odb, &st->oid, p, pos, &next, NULL, NULL,
				     st->flags | STREAM_ONE, NULL) < 0)
			continue;
		next->copy = n;
		next->flags = st->flags;
		ret = next->size == st->size && next->type == st->type ? 0 : -1;
		if (!scratch)
			scratch = xmalloc(64 * 1024);
		while (ret == 0 && left) {
			size_t got;
			ret = read_copy(next, scratch, left < 65536 ? (size_t)left : 65536,
					&got, NULL);
			if (ret == 0 && !got)
				ret = -1;
			if (ret == 0)
				left -= got;
		}
		if (ret == 0 && handed) {
			prefix_hash(st, &a);
			prefix_hash(next, &b);
			ret = oid_cmp(&a, &b) ? -1 : 0;
		}
		if (ret == 0) {
			next->handed = handed;
			tmp = *st;
			*st = *next;
			*next = tmp;
		}
		odb_stream_close(next);
	}
	free(scratch);
	return ret;
}

int odb_stream_read(struct odb_stream *st, void *buf, size_t len,
		    size_t *got, struct strbuf *err)
{
	size_t keep = err ? err->len : 0;
	int ret = read_copy(st, buf, len, got, err);

	/*
	 * A copy that fails: go on from another whose bytes so far are the
	 * same, or, when every other fails too, report the first failure.
	 */
	while (ret < 0 && copy_failure(ret) && !(st->flags & (STREAM_ONE | STREAM_LOOSE))) {
		if (switch_copy(st) < 0) {
			note_bad(st->odb, &st->oid);
			break;
		}
		if (err)
			strbuf_setlen(err, keep);
		ret = read_copy(st, buf, len, got, err);
	}
	if (ret == 0)
		st->handed += *got;
	return ret;
}

int odb_stream_chunked(const struct odb_stream *st)
{
	return st->chunked;
}

int odb_stream_bad_chunk(const struct odb_stream *st, struct snap_oid *chunk,
			 int *missing)
{
	if (!st->chunk_failed)
		return 0;
	*chunk = st->bad_chunk;
	*missing = st->chunk_missing;
	return 1;
}

int odb_chunks_each(struct odb *odb, const struct snap_oid *oid,
		    odb_chunk_fn fn, void *data, struct strbuf *err)
{
	struct odb_stream *st;
	int ret = odb_stream_open(odb, oid, &st, NULL, NULL, err);

	if (ret < 0)
		return ret;
	while (ret == 0 && st->chunked && st->listed < st->total) {
		struct snap_oid chunk;
		uint64_t size;

		ret = list_next(st, &chunk, &size, err);
		if (ret == 0)
			fn(&chunk, size, data);
	}
	if (ret == 0 && st->chunked)
		ret = list_end(st, err);
	if (ret == 0)
		ret = st->chunked;
	odb_stream_close(st);
	return ret;
}

void odb_stream_close(struct odb_stream *st)
{
	if (!st)
		return;
	odb_stream_close(st->sub);
	if (st->fd >= 0 && st->own_fd)
		close(st->fd);
	if (st->dctx)
		dctx_put(st->odb, st->dctx);
	block_release(st->odb, st->block);
	free(st->inbuf);
	strbuf_release(&st->path);
	free(st);
}

int odb_read(struct odb *odb, const struct snap_oid *oid,
	     enum object_type *type, struct strbuf *out, size_t max,
	     struct strbuf *err)
{
	struct odb_stream *st;
	uint64_t size;
	size_t got;
	int ret;

	ret = odb_stream_open(odb, oid, &st, type, &size, err);
	if (ret < 0)
		return ret;
	if (size > max) {
		odb_stream_close(st);
		return snap_error(err, SNAP_ETOOBIG,
				  "object '%s' is too large (%llu bytes, at most %zu here)",
				  oid_to_hex(oid), (unsigned long long)size, max);
	}
	for (;;) {
		size_t keep = err ? err->len : 0;
		unsigned copy;

		strbuf_reset(out);
		strbuf_grow(out, (size_t)size);
		do {
			ret = odb_stream_read(st, out->buf + out->len,
					      out->alloc - out->len - 1, &got, err);
			if (ret < 0)
				break;
			strbuf_setlen(out, out->len + got);
		} while (got);
		/*
		 * Nothing was handed out yet: a copy that failed late (where
		 * the stream could not go on from another) is read again
		 * from the next copy, from the start.
		 */
		copy = st->copy;
		odb_stream_close(st);
		if (ret == 0 || !copy_failure(ret) ||
		    stream_open_from(odb, oid, copy + 1, &st, type, &size, 0, NULL) < 0)
			break;
		if (size > max) {
			odb_stream_close(st);
			break;
		}
		if (err)
			strbuf_setlen(err, keep);
	}
	return ret;
}
