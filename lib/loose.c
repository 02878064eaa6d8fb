/*
 * Loose objects: the writer that compresses a frame into a temporary file
 * and puts it in place, shard directories, and the listing of loose names.
 * It knows nothing of batches: bulk.c decides when a file is linked.
 */
#include "odb-internal.h"
#include "error.h"
#include "fsio.h"
#include "util.h"
#include "storefs.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Objects from this size on are compressed on a zstd worker thread. */
#define COMPRESS_THREAD_MIN (4u << 20)

static int write_out(void *data, const void *buf, size_t n, struct strbuf *err)
{
	struct writer *w = data;

	if (fsio_write(w->fd, buf, n) < 0)
		return snap_error_errno(err, "cannot write '%s'", w->tmp.buf);
	return 0;
}

static int writer_flush(struct writer *w, const void *buf, size_t len, int end,
			struct strbuf *err)
{
	return zio_stream_feed(w->cctx, buf, len, end, write_out, w, err);
}

/*
 * Starts a frame in a new temporary file with hdr (not hashed here).
 * size is the payload's length, or SIZE_UNKNOWN: then the frame does not
 * record its content size.  cctx is the odb's compression context to
 * use (created on first use): a chunk list has one apart, as it is
 * written while other objects are.
 */
int writer_start(struct writer *w, struct odb *odb, struct zio_cctx **cctx,
		 const char *hdr, size_t hlen, uint64_t size,
		 struct strbuf *err)
{
	struct strbuf dir = STRBUF_INIT;
	int ret;

	memset(w, 0, sizeof(*w));
	w->odb = odb;
	w->fd = -1;
	strbuf_init(&w->tmp, 0);
	ret = ensure_session(odb, err);
	if (ret < 0)
		return ret;

	if (!*cctx)
		*cctx = zio_cctx_new();
	w->cctx = *cctx;
	/*
	 * A large object: let zstd compress on a thread of its own while this
	 * one reads and hashes.  The frame may differ; its content, and so the
	 * id, does not.
	 */
	zio_stream_start(w->cctx, odb->store->level,
			 size == SIZE_UNKNOWN ? ZIO_SIZE_UNKNOWN : hlen + size,
			 size != SIZE_UNKNOWN && size >= COMPRESS_THREAD_MIN);

	store_path(odb->store, &dir, "objects/tmp");
	w->fd = fsio_mktemp(dir.buf, "obj-", &w->tmp);
	if (w->fd < 0) {
		ret = snap_error_errno(err, "cannot create a temporary file in '%s'", dir.buf);
		strbuf_release(&dir);
		return ret;
	}
	strbuf_release(&dir);
	return writer_flush(w, hdr, hlen, 0, err);
}

/* Starts an object of a known type and size; the id is hashed as it goes. */
int writer_begin(struct writer *w, struct odb *odb,
		 enum object_type type, uint64_t size, struct strbuf *err)
{
	char hdr[SNAP_HDR_MAX];
	size_t hlen = object_header_format(hdr, type, size);
	int ret = writer_start(w, odb, &odb->cctx, hdr, hlen, size, err);

	hash_object_start(&w->hash, type, size, NULL);
	return ret;
}

int writer_feed(struct writer *w, const void *buf, size_t len,
		struct strbuf *err)
{
	hash_update(&w->hash, buf, len);
	return writer_flush(w, buf, len, 0, err);
}

/* Compresses bytes that are not part of the id (a chunk list's). */
int writer_feed_raw(struct writer *w, const void *buf, size_t len,
		    struct strbuf *err)
{
	return writer_flush(w, buf, len, 0, err);
}

void writer_abort(struct writer *w)
{
	if (w->fd >= 0)
		close(w->fd);
	if (w->tmp.len)
		storefs_unlink(w->tmp.buf);
	w->fd = -1;
	strbuf_release(&w->tmp);
}

/*
 * Makes objects/ab/ exist (durably unless sync is 0).  Returns 1 if it
 * made it, 0 if it was there.
 */
static int make_shard_sync(struct odb *odb, const char *hex, int sync,
			   struct strbuf *err)
{
	struct strbuf dir = STRBUF_INIT;
	int ret = 0;

	store_path(odb->store, &dir, "objects/%.2s", hex);
	if (fsio_mkdir(dir.buf, 0777) == 0) {
		ret = 1;
		if (sync && fsio_fsync_parent(dir.buf) < 0)
			ret = snap_error_errno(err, "cannot sync '%s/objects'", odb->store->path);
	} else if (errno != EEXIST) {
		ret = snap_error_errno(err, "cannot create '%s'", dir.buf);
	}
	strbuf_release(&dir);
	return ret;
}

int make_shard(struct odb *odb, const char *hex, struct strbuf *err)
{
	return make_shard_sync(odb, hex, 1, err);
}

int make_shard_nosync(struct odb *odb, const char *hex, struct strbuf *err)
{
	return make_shard_sync(odb, hex, 0, err);
}

static int cmp_name(const void *key, const void *elem)
{
	return strcmp(key, *(char *const *)elem);
}

/* 1 if a loose file for oid was there when its shard was first listed. */
int loose_cached(struct odb *odb, const struct snap_oid *oid,
		 struct strbuf *err)
{
	unsigned shard = oid->hash[0];
	char hex[SNAP_OID_HEXSZ + 1];

	if (!odb->loose_listed[shard]) {
		if (list_shard(odb, shard, "", &odb->loose[shard],
			       &odb->nr_loose[shard], err) < 0)
			return 1;	/* unknown: let the caller look */
		odb->loose_listed[shard] = 1;
	}
	oid_to_hex_r(hex, oid);
	return odb->nr_loose[shard] &&
	       bsearch(hex + 2, odb->loose[shard], odb->nr_loose[shard],
		       sizeof(char *), cmp_name) != NULL;
}

void drop_loose_cache(struct odb *odb)
{
	unsigned i;

	for (i = 0; i < 256; i++) {
		if (odb->loose_listed[i])
			free_names(odb->loose[i], odb->nr_loose[i]);
		odb->loose[i] = NULL;
		odb->nr_loose[i] = 0;
		odb->loose_listed[i] = 0;
	}
}

int writer_end(struct writer *w, struct strbuf *err)
{
	return writer_flush(w, NULL, 0, 1, err);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Lists the loose object names (62 hex digits) of shard 0..255 that start
 * with prefix (may be empty), sorted.  Missing shards list nothing.
 */
int list_shard(struct odb *odb, unsigned shard, const char *prefix,
	       char ***names, size_t *nr, struct strbuf *err)
{
	struct strbuf dir = STRBUF_INIT;
	size_t alloc = 0, plen = strlen(prefix);
	struct dirent *de;
	DIR *d;

	*names = NULL;
	*nr = 0;
	store_path(odb->store, &dir, "objects/%02x", shard);
	d = storefs_opendir(dir.buf);
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
	QSORT(*names, *nr, cmp_names);
	return 0;
}

void free_names(char **names, size_t nr)
{
	while (nr)
		free(names[--nr]);
	free(names);
}

void shard_oid(struct snap_oid *oid, unsigned shard, const char *rest)
{
	char hex[SNAP_OID_HEXSZ + 1];

	hex[0] = "0123456789abcdef"[shard >> 4];
	hex[1] = "0123456789abcdef"[shard & 15];
	memcpy(hex + 2, rest, SNAP_OID_HEXSZ - 2);
	hex[SNAP_OID_HEXSZ] = '\0';
	if (oid_from_hex(oid, hex) < 0)
		BUG("bad loose object name");
}

int odb_for_each_loose(struct odb *odb, odb_each_fn fn, void *data,
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

/*
 * 1 if a loose file is at path, touched so that gc keeps it (a writer that
 * keeps a copy tells gc it is wanted now); 0 if it is not there, or gc
 * took it away since.
 */
int loose_freshen(const char *path)
{
	return fsio_touch(path) == 0 || (errno != ENOENT && access(path, F_OK) == 0);
}

/*
 * Makes the ended frame of w durable and puts it at final, the loose path
 * of oid: linked, or with replace renamed over the copy there, then the
 * directory synced.  The file is left for writer_abort().  A shard
 * directory made here goes again when the link fails, so that a failure
 * leaves the store as it was.
 */
int loose_install(struct writer *w, const struct snap_oid *oid, const char *final,
		  int replace, struct strbuf *err)
{
	char hex[SNAP_OID_HEXSZ + 1];
	int ret, made;

	if (fsio_fsync(w->fd) < 0)
		return snap_error_errno(err, "cannot sync '%s'", w->tmp.buf);
	ret = fsio_close(w->fd);
	w->fd = -1;
	if (ret < 0)
		return snap_error_errno(err, "cannot write '%s'", w->tmp.buf);
	oid_to_hex_r(hex, oid);
	made = make_shard(w->odb, hex, err);
	if (made < 0)
		return made;
	if (replace) {
		if (fsio_rename(w->tmp.buf, final) < 0)
			return snap_error_errno(err, "cannot replace '%s'", final);
	} else if (fsio_link(w->tmp.buf, final) < 0 && errno != EEXIST) {
		/* No hard links here: rename (the same bytes if it raced). */
		if ((errno != EPERM && errno != ENOTSUP && errno != EXDEV) ||
		    fsio_rename(w->tmp.buf, final) < 0) {
			ret = snap_error_errno(err, "cannot create '%s'", final);
			if (made) {
				struct strbuf dir = STRBUF_INIT;

				store_path(w->odb->store, &dir, "objects/%.2s", hex);
				storefs_rmdir(dir.buf);
				strbuf_release(&dir);
			}
			return ret;
		}
	}
	if (fsio_fsync_parent(final) < 0)
		return snap_error_errno(err, "cannot sync the directory of '%s'", final);
	return 0;
}
