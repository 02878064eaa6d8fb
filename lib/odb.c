/*
 * The object database over loose objects.  Formats: docs/FORMAT.md.
 */
#include "odb.h"
#include "error.h"
#include "fsio.h"
#include "hash.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#define IO_BUF (256 * 1024)
/* Largest zstd window accepted on read: the zstd tool's own default. */
#define WINDOW_LOG_MAX 27

struct pending {
	struct snap_oid oid;
	char *tmp;
};

struct odb {
	struct snap_store *store;
	int batch;
	struct pending *pending;
	size_t nr_pending, alloc_pending;
	/* open-addressing set of indexes into pending, 0 = empty, else i+1 */
	uint32_t *pset;
	size_t pset_size;
	struct strbuf path;	/* scratch for object paths */
	ZSTD_CCtx *cctx;
	ZSTD_DCtx *dctx;	/* lent to one stream at a time */
	int dctx_busy;
};

int odb_open(struct odb **out, struct snap_store *store, struct strbuf *err)
{
	struct odb *odb = xcalloc(1, sizeof(*odb));

	(void)err;
	odb->store = store;
	strbuf_init(&odb->path, 0);
	*out = odb;
	return 0;
}

static void drop_pending(struct odb *odb)
{
	size_t i;

	for (i = 0; i < odb->nr_pending; i++) {
		unlink(odb->pending[i].tmp);
		free(odb->pending[i].tmp);
	}
	odb->nr_pending = 0;
	if (odb->pset)
		memset(odb->pset, 0, odb->pset_size * sizeof(*odb->pset));
}

void odb_close(struct odb *odb)
{
	if (!odb)
		return;
	drop_pending(odb);
	free(odb->pending);
	free(odb->pset);
	ZSTD_freeCCtx(odb->cctx);
	ZSTD_freeDCtx(odb->dctx);
	strbuf_release(&odb->path);
	free(odb);
}

struct snap_store *odb_store(struct odb *odb)
{
	return odb->store;
}

void odb_loose_path(struct odb *odb, const struct snap_oid *oid,
		    struct strbuf *out)
{
	char hex[SNAP_OID_HEXSZ + 1];

	oid_to_hex_r(hex, oid);
	strbuf_reset(out);
	strbuf_addf(out, "%s/objects/%.2s/%s", odb->store->path, hex, hex + 2);
}

static size_t pset_slot(const struct odb *odb, const struct snap_oid *oid)
{
	uint64_t h;

	memcpy(&h, oid->hash, sizeof(h));
	return (size_t)(h & (odb->pset_size - 1));
}

static int pending_has(const struct odb *odb, const struct snap_oid *oid)
{
	size_t i;

	if (!odb->nr_pending)
		return 0;
	for (i = pset_slot(odb, oid); odb->pset[i]; i = (i + 1) & (odb->pset_size - 1))
		if (!oid_cmp(&odb->pending[odb->pset[i] - 1].oid, oid))
			return 1;
	return 0;
}

static void pending_add(struct odb *odb, const struct snap_oid *oid, const char *tmp)
{
	size_t i;

	if (!odb->pset) {
		odb->pset_size = 2 * SNAP_BATCH_MAX;
		odb->pset = xcalloc(odb->pset_size, sizeof(*odb->pset));
	}
	ALLOC_GROW(odb->pending, odb->nr_pending + 1, odb->alloc_pending);
	odb->pending[odb->nr_pending].oid = *oid;
	odb->pending[odb->nr_pending].tmp = xstrdup(tmp);
	odb->nr_pending++;
	for (i = pset_slot(odb, oid); odb->pset[i]; i = (i + 1) & (odb->pset_size - 1))
		;
	odb->pset[i] = (uint32_t)odb->nr_pending;
}

int odb_has(struct odb *odb, const struct snap_oid *oid)
{
	struct stat st;

	if (pending_has(odb, oid))
		return 1;

	odb_loose_path(odb, oid, &odb->path);
	return lstat(odb->path.buf, &st) == 0 && S_ISREG(st.st_mode);
}

/* ---- reading ---- */

struct odb_stream {
	struct odb *odb;
	ZSTD_DCtx *dctx;
	int fd;
	int eof;		/* the file has no more bytes */
	int frame_done;		/* zstd reported the end of the frame */
	ZSTD_inBuffer in;
	char *inbuf;
	char pend[SNAP_HDR_MAX];	/* payload bytes decoded with the header */
	size_t pend_pos, pend_len;
	uint64_t remaining;	/* payload bytes not yet handed out */
	struct snap_hash_ctx hash;
	struct snap_oid oid;
	struct strbuf path;
	int failed;
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
	ZSTD_outBuffer ob = { out, cap, 0 };

	*got = 0;
	while (!st->frame_done) {
		size_t r;

		if (st->in.pos == st->in.size && !st->eof) {
			long long n = read_full(st->fd, st->inbuf, ZSTD_DStreamInSize());
			if (n < 0) {
				st->failed = 1;
				return snap_error_errno(err, "cannot read '%s'", st->path.buf);
			}
			st->in.src = st->inbuf;
			st->in.size = (size_t)n;
			st->in.pos = 0;
			if (n == 0)
				st->eof = 1;
		}
		r = ZSTD_decompressStream(st->dctx, &ob, &st->in);
		if (ZSTD_isError(r))
			return corrupt(st, err, ZSTD_getErrorName(r));
		if (r == 0)
			st->frame_done = 1;
		if (ob.pos > 0 || ob.pos == cap)
			break;
		if (st->in.pos == st->in.size && st->eof)
			return corrupt(st, err, "truncated");
	}
	*got = ob.pos;
	return 0;
}

/* Called once the declared payload has been handed out. */
static int finish(struct odb_stream *st, struct strbuf *err)
{
	struct snap_oid actual;
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
	if (st->in.pos < st->in.size ||
	    (!st->eof && read(st->fd, &extra, 1) > 0))
		return corrupt(st, err, "trailing bytes after the compressed frame");
	hash_final(&st->hash, &actual);
	if (oid_cmp(&actual, &st->oid))
		return corrupt(st, err, "hash mismatch");
	return 0;
}

int odb_stream_open(struct odb *odb, const struct snap_oid *oid,
		    struct odb_stream **out, enum object_type *type,
		    uint64_t *size, struct strbuf *err)
{
	struct odb_stream *st = xcalloc(1, sizeof(*st));
	enum object_type t = OBJ_NONE;
	uint64_t sz = 0;
	size_t have = 0;
	int hlen = 0, ret;

	st->odb = odb;
	st->oid = *oid;
	st->fd = -1;
	strbuf_init(&st->path, 0);
	odb_loose_path(odb, oid, &st->path);
	st->fd = open(st->path.buf, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (st->fd < 0) {
		ret = errno == ENOENT
			? snap_error(err, SNAP_ENOTFOUND, "object '%s' not found",
				     oid_to_hex(oid))
			: snap_error_errno(err, "cannot open '%s'", st->path.buf);
		goto fail;
	}
	if (odb->dctx && !odb->dctx_busy) {
		st->dctx = odb->dctx;
		odb->dctx_busy = 1;
		ZSTD_DCtx_reset(st->dctx, ZSTD_reset_session_only);
	} else {
		st->dctx = ZSTD_createDCtx();
		if (!st->dctx)
			BUG("ZSTD_createDCtx failed");
		ZSTD_DCtx_setParameter(st->dctx, ZSTD_d_windowLogMax, WINDOW_LOG_MAX);
		if (!odb->dctx) {
			odb->dctx = st->dctx;
			odb->dctx_busy = 1;
		}
	}
	st->inbuf = xmalloc(ZSTD_DStreamInSize());

	while (hlen == 0) {
		size_t got;

		if (have == sizeof(st->pend))
			break;
		ret = decode(st, st->pend + have, sizeof(st->pend) - have, &got, err);
		if (ret < 0)
			goto fail;
		have += got;
		hlen = object_header_parse(st->pend, have, &t, &sz);
		if (hlen < 0 || (hlen == 0 && st->frame_done))
			break;
	}
	if (hlen <= 0) {
		ret = corrupt(st, err, "bad object header");
		goto fail;
	}
	hash_init(&st->hash);
	hash_update(&st->hash, st->pend, (size_t)hlen);
	st->pend_pos = (size_t)hlen;
	st->pend_len = have;
	st->remaining = sz;
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

int odb_stream_read(struct odb_stream *st, void *buf, size_t len,
		    size_t *got, struct strbuf *err)
{
	size_t n;
	int ret;

	*got = 0;
	if (st->failed)
		BUG("odb_stream_read after a failure");
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

void odb_stream_close(struct odb_stream *st)
{
	if (!st)
		return;
	if (st->fd >= 0)
		close(st->fd);
	if (st->dctx == st->odb->dctx)
		st->odb->dctx_busy = 0;
	else
		ZSTD_freeDCtx(st->dctx);
	free(st->inbuf);
	strbuf_release(&st->path);
	free(st);
}

int odb_read_header(struct odb *odb, const struct snap_oid *oid,
		    enum object_type *type, uint64_t *size, struct strbuf *err)
{
	struct odb_stream *st;
	int ret = odb_stream_open(odb, oid, &st, type, size, err);

	if (ret == 0)
		odb_stream_close(st);
	return ret;
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
	strbuf_reset(out);
	strbuf_grow(out, (size_t)size);
	do {
		ret = odb_stream_read(st, out->buf + out->len,
				      out->alloc - out->len - 1, &got, err);
		if (ret < 0)
			break;
		strbuf_setlen(out, out->len + got);
	} while (got);
	odb_stream_close(st);
	return ret;
}

/* ---- writing ---- */

struct writer {
	struct odb *odb;
	int fd;
	struct strbuf tmp;
	struct snap_hash_ctx hash;
	char *outbuf;
	size_t outcap;
};

static int writer_flush(struct writer *w, ZSTD_inBuffer *in,
			ZSTD_EndDirective mode, struct strbuf *err)
{
	for (;;) {
		ZSTD_outBuffer ob = { w->outbuf, w->outcap, 0 };
		size_t r = ZSTD_compressStream2(w->odb->cctx, &ob, in, mode);

		if (ZSTD_isError(r))
			return snap_error(err, SNAP_EIO, "compression failed: %s",
					  ZSTD_getErrorName(r));
		if (ob.pos && fsio_write(w->fd, w->outbuf, ob.pos) < 0)
			return snap_error_errno(err, "cannot write '%s'", w->tmp.buf);
		if (mode == ZSTD_e_end ? r == 0 : in->pos == in->size)
			return 0;
	}
}

static int writer_begin(struct writer *w, struct odb *odb,
			enum object_type type, uint64_t size, struct strbuf *err)
{
	char hdr[SNAP_HDR_MAX];
	size_t hlen;
	ZSTD_inBuffer in;
	struct strbuf dir = STRBUF_INIT;

	memset(w, 0, sizeof(*w));
	w->odb = odb;
	w->fd = -1;
	strbuf_init(&w->tmp, 0);
	if (!odb->cctx) {
		odb->cctx = ZSTD_createCCtx();
		if (!odb->cctx)
			BUG("ZSTD_createCCtx failed");
	}
	ZSTD_CCtx_reset(odb->cctx, ZSTD_reset_session_and_parameters);
	ZSTD_CCtx_setParameter(odb->cctx, ZSTD_c_compressionLevel, odb->store->level);
	ZSTD_CCtx_setParameter(odb->cctx, ZSTD_c_checksumFlag, 0);
	hlen = hash_object_start(&w->hash, type, size, hdr);
	ZSTD_CCtx_setPledgedSrcSize(odb->cctx, hlen + size);

	store_path(odb->store, &dir, "objects/tmp");
	w->fd = fsio_mktemp(dir.buf, "obj-", &w->tmp);
	if (w->fd < 0) {
		int ret = snap_error_errno(err, "cannot create a temporary file in '%s'", dir.buf);
		strbuf_release(&dir);
		return ret;
	}
	strbuf_release(&dir);
	w->outcap = ZSTD_CStreamOutSize();
	w->outbuf = xmalloc(w->outcap);
	in.src = hdr;
	in.size = hlen;
	in.pos = 0;
	return writer_flush(w, &in, ZSTD_e_continue, err);
}

static int writer_feed(struct writer *w, const void *buf, size_t len,
		       struct strbuf *err)
{
	ZSTD_inBuffer in = { buf, len, 0 };

	hash_update(&w->hash, buf, len);
	return writer_flush(w, &in, ZSTD_e_continue, err);
}

static void writer_abort(struct writer *w)
{
	if (w->fd >= 0)
		close(w->fd);
	if (w->tmp.len)
		unlink(w->tmp.buf);
	w->fd = -1;
	strbuf_release(&w->tmp);
	free(w->outbuf);
	w->outbuf = NULL;
}

/* Makes objects/ab/ exist (durably unless sync is 0). */
static int make_shard_sync(struct odb *odb, const char *hex, int sync,
			   struct strbuf *err)
{
	struct strbuf dir = STRBUF_INIT;
	int ret = 0;

	store_path(odb->store, &dir, "objects/%.2s", hex);
	if (fsio_mkdir(dir.buf, 0777) == 0) {
		if (sync && fsio_fsync_parent(dir.buf) < 0)
			ret = snap_error_errno(err, "cannot sync '%s/objects'", odb->store->path);
	} else if (errno != EEXIST) {
		ret = snap_error_errno(err, "cannot create '%s'", dir.buf);
	}
	strbuf_release(&dir);
	return ret;
}

static int make_shard(struct odb *odb, const char *hex, struct strbuf *err)
{
	return make_shard_sync(odb, hex, 1, err);
}

static int make_shard_nosync(struct odb *odb, const char *hex, struct strbuf *err)
{
	return make_shard_sync(odb, hex, 0, err);
}

/* Makes the pending objects durable, then visible (see odb.h). */
static int flush_batch(struct odb *odb, struct strbuf *err)
{
	struct strbuf final = STRBUF_INIT, dir = STRBUF_INIT;
	int fd, ret = 0;
	size_t i;

	if (!odb->nr_pending)
		return 0;
	store_path(odb->store, &dir, "objects/tmp");
	fd = open(dir.buf, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsio_syncfs(fd) < 0) {
		ret = snap_error_errno(err, "cannot sync the store '%s'", odb->store->path);
		goto out;
	}
	for (i = 0; i < odb->nr_pending; i++) {
		struct pending *p = &odb->pending[i];
		char hex[SNAP_OID_HEXSZ + 1];

		oid_to_hex_r(hex, &p->oid);
		ret = make_shard_nosync(odb, hex, err);
		if (ret < 0)
			goto out;
		odb_loose_path(odb, &p->oid, &final);
		if (fsio_link(p->tmp, final.buf) < 0 && errno != EEXIST &&
		    fsio_rename(p->tmp, final.buf) < 0) {
			ret = snap_error_errno(err, "cannot create '%s'", final.buf);
			goto out;
		}
	}
	if (fsio_syncfs(fd) < 0)
		ret = snap_error_errno(err, "cannot sync the store '%s'", odb->store->path);
out:
	if (fd >= 0)
		close(fd);
	drop_pending(odb);
	strbuf_release(&final);
	strbuf_release(&dir);
	return ret;
}

void odb_batch_begin(struct odb *odb)
{
	odb->batch++;
}

int odb_batch_end(struct odb *odb, struct strbuf *err)
{
	if (!odb->batch)
		BUG("odb_batch_end without odb_batch_begin");
	if (--odb->batch)
		return 0;
	return flush_batch(odb, err);
}

void odb_batch_abort(struct odb *odb)
{
	if (!odb->batch)
		BUG("odb_batch_abort without odb_batch_begin");
	if (!--odb->batch)
		drop_pending(odb);
}

static int writer_finish(struct writer *w, struct snap_oid *oid,
			 struct strbuf *err)
{
	struct odb *odb = w->odb;
	ZSTD_inBuffer in = { NULL, 0, 0 };
	char hex[SNAP_OID_HEXSZ + 1];
	struct strbuf final = STRBUF_INIT;
	int ret;

	ret = writer_flush(w, &in, ZSTD_e_end, err);
	if (ret < 0)
		goto out;
	hash_final(&w->hash, oid);
	oid_to_hex_r(hex, oid);
	odb_loose_path(odb, oid, &final);
	if (pending_has(odb, oid))
		goto out;
	/*
	 * Present already: keep it, and tell gc it is wanted now.  If the
	 * touch finds it gone (gc removed it since), write it after all.
	 */
	if (fsio_touch(final.buf) == 0 || (errno != ENOENT && access(final.buf, F_OK) == 0))
		goto out;
	if (odb->batch) {
		ret = fsio_close(w->fd);
		w->fd = -1;
		if (ret < 0) {
			ret = snap_error_errno(err, "cannot write '%s'", w->tmp.buf);
			goto out;
		}
		pending_add(odb, oid, w->tmp.buf);
		strbuf_reset(&w->tmp);	/* now owned by the batch */
		if (odb->nr_pending >= SNAP_BATCH_MAX)
			ret = flush_batch(odb, err);
		goto out;
	}
	if (fsio_fsync(w->fd) < 0) {
		ret = snap_error_errno(err, "cannot sync '%s'", w->tmp.buf);
		goto out;
	}
	ret = fsio_close(w->fd);
	w->fd = -1;
	if (ret < 0) {
		ret = snap_error_errno(err, "cannot write '%s'", w->tmp.buf);
		goto out;
	}
	ret = make_shard(odb, hex, err);
	if (ret < 0)
		goto out;
	if (fsio_link(w->tmp.buf, final.buf) < 0 && errno != EEXIST) {
		if (errno != EPERM && errno != ENOTSUP && errno != EXDEV) {
			ret = snap_error_errno(err, "cannot create '%s'", final.buf);
			goto out;
		}
		/* No hard links here: rename (the same bytes if it raced). */
		if (fsio_rename(w->tmp.buf, final.buf) < 0) {
			ret = snap_error_errno(err, "cannot create '%s'", final.buf);
			goto out;
		}
	}
	if (fsio_fsync_parent(final.buf) < 0)
		ret = snap_error_errno(err, "cannot sync the directory of '%s'", final.buf);
out:
	strbuf_release(&final);
	writer_abort(w);
	return ret;
}

int odb_write_buf(struct odb *odb, enum object_type type, const void *buf,
		  size_t len, struct snap_oid *oid, struct strbuf *err)
{
	struct writer w;
	int ret;

	ret = writer_begin(&w, odb, type, len, err);
	if (ret == 0)
		ret = writer_feed(&w, buf, len, err);
	if (ret == 0)
		return writer_finish(&w, oid, err);
	writer_abort(&w);
	return ret;
}

/* Reads exactly size bytes of fd through fn; checks nothing follows. */
static int pump_fd(int fd, uint64_t size, const char *what,
		   int (*fn)(void *, const void *, size_t, struct strbuf *),
		   void *data, struct strbuf *err)
{
	char *buf = xmalloc(IO_BUF);
	uint64_t left = size;
	int ret = 0;

	while (left) {
		size_t want = left < IO_BUF ? (size_t)left : IO_BUF;
		long long n = read_full(fd, buf, want);

		if (n < 0) {
			ret = snap_error_errno(err, "cannot read '%s'", what);
			goto out;
		}
		if (n == 0) {
			ret = snap_error(err, SNAP_EINVAL,
					 "'%s' shrank while it was read (%llu of %llu bytes)",
					 what, (unsigned long long)(size - left),
					 (unsigned long long)size);
			goto out;
		}
		ret = fn(data, buf, (size_t)n, err);
		if (ret < 0)
			goto out;
		left -= (uint64_t)n;
	}
	if (read_full(fd, buf, 1) > 0)
		ret = snap_error(err, SNAP_EINVAL,
				 "'%s' grew while it was read (past %llu bytes)",
				 what, (unsigned long long)size);
out:
	free(buf);
	return ret;
}

static int feed_writer(void *data, const void *buf, size_t len, struct strbuf *err)
{
	return writer_feed(data, buf, len, err);
}

int odb_write_fd(struct odb *odb, enum object_type type, int fd,
		 uint64_t size, const char *what, struct snap_oid *oid,
		 struct strbuf *err)
{
	struct writer w;
	int ret;

	ret = writer_begin(&w, odb, type, size, err);
	if (ret == 0)
		ret = pump_fd(fd, size, what, feed_writer, &w, err);
	if (ret == 0)
		return writer_finish(&w, oid, err);
	writer_abort(&w);
	return ret;
}

static int feed_hash(void *data, const void *buf, size_t len, struct strbuf *err)
{
	(void)err;
	hash_update(data, buf, len);
	return 0;
}

int hash_fd(enum object_type type, int fd, uint64_t size, const char *what,
	    struct snap_oid *oid, struct strbuf *err)
{
	struct snap_hash_ctx c;
	int ret;

	hash_object_start(&c, type, size, NULL);
	ret = pump_fd(fd, size, what, feed_hash, &c, err);
	if (ret == 0)
		hash_final(&c, oid);
	return ret;
}

/* ---- listing ---- */

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Lists the loose object names (62 hex digits) of shard 0..255 that start
 * with prefix (may be empty), sorted.  Missing shards list nothing.
 */
static int list_shard(struct odb *odb, unsigned shard, const char *prefix,
		      char ***names, size_t *nr, struct strbuf *err)
{
	struct strbuf dir = STRBUF_INIT;
	size_t alloc = 0, plen = strlen(prefix);
	struct dirent *de;
	DIR *d;

	*names = NULL;
	*nr = 0;
	store_path(odb->store, &dir, "objects/%02x", shard);
	d = opendir(dir.buf);
	if (!d) {
		int ret = errno == ENOENT ? 0
			: snap_error_errno(err, "cannot read '%s'", dir.buf);
		strbuf_release(&dir);
		return ret;
	}
	while ((de = readdir(d))) {
		if (strlen(de->d_name) != SNAP_OID_HEXSZ - 2 ||
		    !is_hex(de->d_name, SNAP_OID_HEXSZ - 2) ||
		    strncmp(de->d_name, prefix, plen))
			continue;
		ALLOC_GROW(*names, *nr + 1, alloc);
		(*names)[(*nr)++] = xstrdup(de->d_name);
	}
	closedir(d);
	strbuf_release(&dir);
	qsort(*names, *nr, sizeof(**names), cmp_names);
	return 0;
}

static void free_names(char **names, size_t nr)
{
	while (nr)
		free(names[--nr]);
	free(names);
}

static void shard_oid(struct snap_oid *oid, unsigned shard, const char *rest)
{
	char hex[SNAP_OID_HEXSZ + 1];

	hex[0] = "0123456789abcdef"[shard >> 4];
	hex[1] = "0123456789abcdef"[shard & 15];
	memcpy(hex + 2, rest, SNAP_OID_HEXSZ - 2);
	hex[SNAP_OID_HEXSZ] = '\0';
	if (oid_from_hex(oid, hex) < 0)
		BUG("bad loose object name");
}

int odb_for_each(struct odb *odb, odb_each_fn fn, void *data,
		 struct strbuf *err)
{
	unsigned shard;

	for (shard = 0; shard < 256; shard++) {
		char **names;
		size_t nr, i;
		int ret = list_shard(odb, shard, "", &names, &nr, err);

		if (ret < 0)
			return ret;
		for (i = 0; i < nr && ret == 0; i++) {
			struct snap_oid oid;

			shard_oid(&oid, shard, names[i]);
			ret = fn(&oid, data);
		}
		free_names(names, nr);
		if (ret)
			return ret;
	}
	return 0;
}

int odb_resolve_prefix(struct odb *odb, const char *hex, size_t len,
		       struct snap_oid *oid, struct strbuf *err)
{
	char lower[SNAP_OID_HEXSZ + 1];
	char **names;
	size_t nr, i;
	unsigned shard;
	int ret;

	if (len < SNAP_OID_MINPREFIX || len > SNAP_OID_HEXSZ || !is_hex(hex, len))
		return snap_error(err, SNAP_EINVAL,
				  "'%.*s' is not an object name (4 to 64 hex digits)",
				  (int)(len > 80 ? 80 : len), hex);
	for (i = 0; i < len; i++)
		lower[i] = (char)(hex[i] >= 'A' && hex[i] <= 'F' ? hex[i] + 32 : hex[i]);
	lower[len] = '\0';
	if (len == SNAP_OID_HEXSZ) {
		oid_from_hex(oid, lower);
		if (odb_has(odb, oid))
			return 0;
		return snap_error(err, SNAP_ENOTFOUND, "object '%s' not found", lower);
	}
	shard = (unsigned)strtoul((char[]){ lower[0], lower[1], 0 }, NULL, 16);
	ret = list_shard(odb, shard, lower + 2, &names, &nr, err);
	if (ret < 0)
		return ret;
	if (nr == 0)
		ret = snap_error(err, SNAP_ENOTFOUND, "no object matches '%s'", lower);
	else if (nr > 1)
		ret = snap_error(err, SNAP_EAMBIGUOUS,
				 "short object name '%s' is ambiguous (%zu objects match)",
				 lower, nr);
	else
		shard_oid(oid, shard, names[0]);
	free_names(names, nr);
	return ret;
}
