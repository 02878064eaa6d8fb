/*
 * The write entry points: an object from memory or from a descriptor, a
 * large file stored chunked, and where each finished frame goes.
 */
#include "odb-internal.h"
#include "chunk.h"
#include "error.h"
#include "fsio.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * Puts a finished frame in place under oid (or keeps the copy there is),
 * and frees the writer.  In a batch the file joins the pending objects
 * (bulk.c), linked once the batch is durable; outside one it is made
 * durable and linked now (loose.c).
 */
static int writer_install(struct writer *w, const struct snap_oid *oid,
			  struct strbuf *err)
{
	struct odb *odb = w->odb;
	struct strbuf final = STRBUF_INIT;
	int ret = 0, replace = 0;

	odb_loose_path(odb, oid, &final);
	if (odb_locate(odb, oid, 0, NULL, NULL) != ODB_ABSENT)
		goto out;
	/*
	 * Present already: keep it, and tell gc it is wanted now.  If the
	 * touch finds it gone (gc removed it since), write it after all.
	 * Past the batch only the loose file is asked, by the touch that
	 * also freshens it, not the packs (odb_locate's next place): what is
	 * written here is a loose file, which a chunk list must be (one in a
	 * pack is corrupt) and an object too large for a pack is, and a
	 * write outside a batch leaves its loose file even where a pack
	 * holds the object, which asking the packs here would change.  The
	 * writers that may keep a packed copy ask there first (bulk_write,
	 * write_chunked).
	 */
	if (loose_freshen(final.buf)) {
		if (reusable(odb, oid))
			goto out;
		replace = 1;	/* a loose copy that fails: this one replaces it */
	}
	if (odb->batch) {
		ret = fsio_close(w->fd);
		w->fd = -1;
		if (ret < 0) {
			ret = snap_error_errno(err, "cannot write '%s'", w->tmp.buf);
			goto out;
		}
		pending_add(odb, oid, w->tmp.buf, replace);
		strbuf_reset(&w->tmp);	/* now owned by the batch */
		if (odb->pending.nr >= SNAP_BATCH_MAX)
			ret = flush_batch(odb, err);
		goto out;
	}
	ret = loose_install(w, oid, final.buf, replace, err);
out:
	strbuf_release(&final);
	writer_abort(w);
	return ret;
}

static int writer_finish(struct writer *w, struct snap_oid *oid,
			 struct strbuf *err)
{
	int ret = writer_end(w, err);

	if (ret < 0) {
		writer_abort(w);
		return ret;
	}
	hash_final(&w->hash, oid);
	return writer_install(w, oid, err);
}

/*
 * A write outside a batch is one object a user asked for (hash-object -w,
 * mktree, mksnapshot): what the store has of it is read through before
 * it is kept (reusable()), so that writing it again repairs a bad copy.
 */
static int verify_begin(struct odb *odb)
{
	if (odb->batch || odb->verify_writes)
		return 0;
	odb->verify_writes = 1;
	return 1;
}

static int verify_end(struct odb *odb, int began, int ret)
{
	if (began)
		odb->verify_writes = 0;
	return ret;
}

static int write_buf(struct odb *odb, enum object_type type, const void *buf,
		     size_t len, struct snap_oid *oid, struct strbuf *err)
{
	struct writer w;
	int ret;

	if (bulk_write(odb, type, buf, len, 0, oid, &ret, err))
		return ret;

	ret = writer_begin(&w, odb, type, len, err);
	if (ret == 0)
		ret = writer_feed(&w, buf, len, err);
	if (ret == 0)
		return writer_finish(&w, oid, err);
	writer_abort(&w);
	return ret;
}

static int feed_writer(void *data, const void *buf, size_t len, struct strbuf *err)
{
	return writer_feed(data, buf, len, err);
}

/*
 * The input of a chunked write, read around holes: where the filesystem
 * reports a hole (lseek SEEK_DATA, SEEK_HOLE), its zeros are given
 * without a read, so a 10 GiB file with 1 MiB of data costs the hashing
 * of its zeros but not 10 GiB of reads.  Input that cannot seek so (a
 * pipe, a filesystem without it) is read plainly.  The bytes given are
 * the same either way.
 */
struct hole_reader {
	int fd;
	int plain;		/* read everything */
	uint64_t pos;		/* offset of the next byte to give */
	uint64_t data_end;	/* [pos, data_end) is data, to read */
	uint64_t hole_end;	/* [pos, hole_end) is a hole, zeros */
};

/* Finds what lies at r->pos: a hole, or data up to the next one. */
static void hole_probe(struct hole_reader *r)
{
	off_t d = lseek(r->fd, (off_t)r->pos, SEEK_DATA), h;
	struct stat st;

	if (d < 0 && errno == ENXIO && fstat(r->fd, &st) == 0) {
		/* No data from pos on: a hole up to the end of the file. */
		if ((uint64_t)st.st_size > r->pos)
			r->hole_end = (uint64_t)st.st_size;
		else
			r->data_end = UINT64_MAX;	/* the end: a read says so */
	} else if (d < 0) {
		r->plain = 1;
	} else if ((uint64_t)d > r->pos) {
		r->hole_end = (uint64_t)d;
	} else if ((h = lseek(r->fd, (off_t)r->pos, SEEK_HOLE)) < 0 || (uint64_t)h <= r->pos) {
		r->plain = 1;
	} else {
		r->data_end = (uint64_t)h;
	}
	if (lseek(r->fd, (off_t)r->pos, SEEK_SET) < 0)
		r->plain = 1;
}

/* Reads exactly want bytes (want <= what is left of the input). */
static int read_input(struct hole_reader *r, unsigned char *buf, size_t want, uint64_t size,
		      const char *what, struct strbuf *err)
{
	while (want) {
		size_t n = want;
		long long got;

		if (!r->plain && r->pos >= r->data_end && r->pos >= r->hole_end)
			hole_probe(r);
		if (!r->plain && r->pos < r->hole_end) {
			if (r->hole_end - r->pos < n)
				n = (size_t)(r->hole_end - r->pos);
			memset(buf, 0, n);
			r->pos += n;
			buf += n;
			want -= n;
			if (r->pos == r->hole_end && lseek(r->fd, (off_t)r->pos, SEEK_SET) < 0)
				return snap_error_errno(err, "cannot read '%s'", what);
			continue;
		}
		if (!r->plain && r->data_end - r->pos < n)
			n = (size_t)(r->data_end - r->pos);
		got = read_full(r->fd, buf, n);
		if (got < 0)
			return snap_error_errno(err, "cannot read '%s'", what);
		r->pos += (uint64_t)got;
		if ((size_t)got < n)
			return snap_error(err, SNAP_EINVAL,
					  "'%s' shrank while it was read (%llu of %llu bytes)",
					  what, (unsigned long long)r->pos, (unsigned long long)size);
		buf += n;
		want -= n;
	}
	return 0;
}

/*
 * Ends a chunk list that @ret says was fed whole (0) or not, inside the
 * batch it was started in: installs it under @oid, or keeps the copy of
 * the blob a pack holds already (whole or chunked) and drops the list.
 * Ends the batch on success, aborts it on failure.
 */
static int list_finish(struct odb *odb, struct writer *list, int ret,
		       const struct snap_oid *oid, struct strbuf *err)
{
	struct pack *p;
	uint32_t pos;

	if (ret == 0)
		ret = writer_end(list, err);
	if (ret < 0) {
		writer_abort(list);
		odb_batch_abort(odb);
		return ret;
	}
	if ((p = find_packed(odb, oid, &pos)) && reusable(odb, oid) &&
	    fsio_touch(p->pack_path) == 0)
		writer_abort(list);
	else
		ret = writer_install(list, oid, err);
	if (ret < 0) {
		odb_batch_abort(odb);
		return ret;
	}
	return odb_batch_end(odb, err);
}

/*
 * Stores a large blob chunked (docs/FORMAT.md, "Chunked blobs").  Each
 * chunk is a blob of its own, queued in a batch like any small object;
 * the chunk list is compressed into a temporary file as the input is read
 * and cut, while the whole blob's id is hashed, and joins the batch's
 * pending objects under that id.  The batch makes it visible only after
 * the packs holding its chunks are durable.
 */
static int write_chunked(struct odb *odb, int fd, uint64_t size, int check_end,
			 const char *what, struct snap_oid *oid, struct strbuf *err)
{
	struct chunker ch;
	struct snap_hash_ctx whole;
	struct writer list;
	char hdr[SNAP_HDR_MAX], line[CHUNK_LIST_LINE_MAX + 1];
	size_t cap = 2 * CHUNK_MAX, have = 0, start = 0;
	unsigned char *buf = xmalloc_io(cap);
	uint64_t left = size;
	struct hole_reader in = { fd, 0, 0, 0, 0 };
	int ret;

	chunker_init(&ch, CHUNK_MIN, CHUNK_AVG, CHUNK_MAX);
	odb_batch_begin(odb);
	ret = writer_start(&list, odb, &odb->list_cctx, hdr, chunk_list_header_format(hdr, size),
			   SIZE_UNKNOWN, err);
	hash_object_start(&whole, OBJ_BLOB, size, NULL);
	while (ret == 0) {
		struct snap_oid chunk;
		size_t n;

		if (have - start < CHUNK_MAX && left) {
			memmove(buf, buf + start, have - start);
			have -= start;
			start = 0;
			n = cap - have < left ? cap - have : (size_t)left;
			ret = read_input(&in, buf + have, n, size, what, err);
			if (ret < 0)
				break;
			have += n;
			left -= n;
		}
		if (start == have)
			break;
		n = chunker_cut(&ch, buf + start, have - start);
		hash_update(&whole, buf + start, n);
		/* Copied only when new: a chunk stored already costs a lookup. */
		ret = odb_write_buf(odb, OBJ_BLOB, buf + start, n, &chunk, err);
		if (ret == 0)
			ret = writer_feed_raw(&list, line, chunk_list_line_format(line, &chunk, n), err);
		start += n;
	}
	/* Past the last hole read around, the offset may lag: set it. */
	if (ret == 0 && !in.plain && lseek(fd, (off_t)in.pos, SEEK_SET) < 0)
		ret = snap_error_errno(err, "cannot read '%s'", what);
	if (ret == 0 && check_end && read_full(fd, buf, 1) > 0)
		ret = snap_error(err, SNAP_EINVAL, "'%s' grew while it was read (past %llu bytes)",
				 what, (unsigned long long)size);
	free(buf);
	hash_final(&whole, oid);
	return list_finish(odb, &list, ret, oid, err);
}

static int write_fd(struct odb *odb, enum object_type type, int fd,
		    uint64_t size, int whole, const char *what, struct snap_oid *oid,
		    struct strbuf *err)
{
	struct writer w;
	int ret;

	if (type == OBJ_BLOB && size > CHUNK_THRESHOLD)
		return write_chunked(odb, fd, size, whole, what, oid, err);
	if (odb->bulk && size <= PACK_OBJECT_MAX) {
		/* Small enough for a pack: read it whole, in place, and queue it. */
		char *mem = xmalloc_io((size_t)size + 1);
		long long n = read_full(fd, mem, (size_t)size + (whole ? 1 : 0));

		if (n != (long long)size) {
			free(mem);
			if (n < 0)
				return snap_error_errno(err, "cannot read '%s'", what);
			if (n < (long long)size)
				return snap_error(err, SNAP_EINVAL,
						  "'%s' shrank while it was read (%lld of %llu bytes)",
						  what, n, (unsigned long long)size);
			return snap_error(err, SNAP_EINVAL,
					  "'%s' grew while it was read (past %llu bytes)",
					  what, (unsigned long long)size);
		}
		return odb_write_owned(odb, type, mem, (size_t)size, oid, err);
	}
	ret = writer_begin(&w, odb, type, size, err);
	if (ret == 0)
		ret = read_fd_exactly(fd, size, whole, what, feed_writer, &w, err);
	if (ret == 0)
		return writer_finish(&w, oid, err);
	writer_abort(&w);
	return ret;
}

int odb_write_buf(struct odb *odb, enum object_type type, const void *buf,
		  size_t len, struct snap_oid *oid, struct strbuf *err)
{
	int began = verify_begin(odb);

	return verify_end(odb, began, write_buf(odb, type, buf, len, oid, err));
}

int odb_write_fd(struct odb *odb, enum object_type type, int fd,
		 uint64_t size, const char *what, struct snap_oid *oid,
		 struct strbuf *err)
{
	int began = verify_begin(odb);

	return verify_end(odb, began, write_fd(odb, type, fd, size, 1, what, oid, err));
}

int odb_write_fd_prefix(struct odb *odb, enum object_type type, int fd,
			uint64_t size, const char *what, struct snap_oid *oid,
			struct strbuf *err)
{
	int began = verify_begin(odb);

	return verify_end(odb, began, write_fd(odb, type, fd, size, 0, what, oid, err));
}

int odb_write_owned(struct odb *odb, enum object_type type, char *buf,
		    size_t len, struct snap_oid *oid, struct strbuf *err)
{
	int ret;

	if (bulk_write(odb, type, buf, len, 1, oid, &ret, err))
		return ret;
	ret = odb_write_buf(odb, type, buf, len, oid, err);
	free(buf);
	return ret;
}

/* A chunk of a stream: its id and length, kept until the whole is hashed. */
struct stream_chunk {
	struct snap_oid oid;
	size_t len;
};

/*
 * Phase one of odb_write_stream(): cuts the rest of fd into chunks, the
 * first have bytes of which are in buf already (of cap bytes), and
 * stores them in a batch of their own, which ends durable.
 */
static int store_stream_chunks(struct odb *odb, int fd, unsigned char *buf, size_t cap,
			       size_t have, const char *what, struct stream_chunk **out,
			       size_t *nr, struct strbuf *err)
{
	struct chunker ch;
	size_t start = 0, alloc = 0;
	int eof = 0, ret = 0;

	chunker_init(&ch, CHUNK_MIN, CHUNK_AVG, CHUNK_MAX);
	odb_batch_begin(odb);
	while (ret == 0) {
		struct stream_chunk *c;
		size_t n;

		if (have - start < CHUNK_MAX && !eof) {
			long long got;

			memmove(buf, buf + start, have - start);
			have -= start;
			start = 0;
			got = read_full(fd, buf + have, cap - have);
			if (got < 0) {
				ret = snap_error_errno(err, "cannot read '%s'", what);
				break;
			}
			eof = (size_t)got < cap - have;
			have += (size_t)got;
		}
		if (start == have)
			break;
		n = chunker_cut(&ch, buf + start, have - start);
		ALLOC_GROW(*out, *nr + 1, alloc);
		c = &(*out)[(*nr)++];
		c->len = n;
		ret = odb_write_buf(odb, OBJ_BLOB, buf + start, n, &c->oid, err);
		start += n;
	}
	if (ret < 0) {
		odb_batch_abort(odb);
		return ret;
	}
	return odb_batch_end(odb, err);
}

/*
 * Phase two: the whole blob's id, from its chunks read back (verified)
 * now that its length is known.
 */
static int hash_stream_chunks(struct odb *odb, const struct stream_chunk *c, size_t nr,
			      uint64_t size, const char *what, struct snap_oid *oid,
			      struct strbuf *err)
{
	struct snap_hash_ctx whole;
	struct strbuf data = STRBUF_INIT;
	int ret = 0;
	size_t i;

	hash_object_start(&whole, OBJ_BLOB, size, NULL);
	for (i = 0; i < nr && ret == 0; i++) {
		ret = odb_read(odb, &c[i].oid, NULL, &data, CHUNK_MAX, err);
		if (ret == 0 && data.len != c[i].len)
			ret = snap_error(err, SNAP_ECORRUPT,
					 "chunk %s of '%s' reads back as %zu bytes, not %zu",
					 oid_to_hex(&c[i].oid), what, data.len, c[i].len);
		if (ret == 0)
			hash_update(&whole, data.buf, data.len);
	}
	strbuf_release(&data);
	if (ret == 0)
		hash_final(&whole, oid);
	return ret;
}

/* Phase three: the chunk list under the whole blob's id. */
static int write_stream_list(struct odb *odb, const struct stream_chunk *c, size_t nr,
			     uint64_t size, const struct snap_oid *oid, struct strbuf *err)
{
	struct writer list;
	char hdr[SNAP_HDR_MAX], line[CHUNK_LIST_LINE_MAX + 1];
	struct pack *p;
	uint32_t pos;
	size_t i;
	int ret;

	/* The blob stored already, whole in a pack or chunked: that serves. */
	if ((p = find_packed(odb, oid, &pos)) && reusable(odb, oid) &&
	    fsio_touch(p->pack_path) == 0)
		return 0;
	odb_batch_begin(odb);
	ret = writer_start(&list, odb, &odb->list_cctx, hdr, chunk_list_header_format(hdr, size),
			   SIZE_UNKNOWN, err);
	for (i = 0; i < nr && ret == 0; i++)
		ret = writer_feed_raw(&list, line, chunk_list_line_format(line, &c[i].oid, c[i].len),
				      err);
	return list_finish(odb, &list, ret, oid, err);
}

static int write_stream(struct odb *odb, int fd, const char *what, struct snap_oid *oid,
			uint64_t *size, struct strbuf *err)
{
	size_t cap = CHUNK_THRESHOLD + CHUNK_MAX, nr = 0, i;
	unsigned char *buf = xmalloc_io(cap);
	struct stream_chunk *c = NULL;
	long long got;
	int ret;

	/* Small enough to be stored whole: it is in memory already. */
	got = read_full(fd, buf, CHUNK_THRESHOLD + 1);
	if (got < 0) {
		free(buf);
		return snap_error_errno(err, "cannot read '%s'", what);
	}
	if (got <= CHUNK_THRESHOLD) {
		*size = (uint64_t)got;
		ret = odb_write_buf(odb, OBJ_BLOB, buf, (size_t)got, oid, err);
		free(buf);
		return ret;
	}
	ret = store_stream_chunks(odb, fd, buf, cap, (size_t)got, what, &c, &nr, err);
	free(buf);
	*size = 0;
	for (i = 0; i < nr; i++)
		*size += c[i].len;
	if (ret == 0)
		ret = hash_stream_chunks(odb, c, nr, *size, what, oid, err);
	if (ret == 0)
		ret = write_stream_list(odb, c, nr, *size, oid, err);
	free(c);
	return ret;
}

int odb_write_stream(struct odb *odb, int fd, const char *what, struct snap_oid *oid,
		     uint64_t *size, struct strbuf *err)
{
	int began;

	if (odb->batch)
		BUG("odb_write_stream inside a batch");
	began = verify_begin(odb);
	return verify_end(odb, began, write_stream(odb, fd, what, oid, size, err));
}
