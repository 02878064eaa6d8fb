/*
 * Stat caches; the format is docs/FORMAT.md, "Stat caches".
 */
#include "statcache.h"
#include "error.h"
#include "fsio.h"
#include "hash.h"
#include "refs.h"
#include "tree.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAGIC "SNAPSTC1"
#define VERSION 4
/* Version 3: regular files only, read as it is. */
#define VERSION_FILES_ONLY 3
#define HEADER_SIZE 48
#define ENTRY_SIZE 125	/* without the path */
#define TRAILER_SIZE 32

static int oid_is_null_raw(const unsigned char *p)
{
	size_t i;

	for (i = 0; i < SNAP_OID_RAWSZ; i++)
		if (p[i])
			return 0;
	return 1;
}

static void put_be(struct strbuf *sb, uint64_t v, int bytes)
{
	unsigned char b[8];
	int i;

	for (i = 0; i < bytes; i++)
		b[i] = (unsigned char)(v >> (8 * (bytes - 1 - i)));
	strbuf_add(sb, b, (size_t)bytes);
}

static uint64_t get_be(const unsigned char *p, int bytes)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < bytes; i++)
		v = v << 8 | p[i];
	return v;
}

static uint64_t hash_path(const char *path, size_t len)
{
	uint64_t h = 14695981039346656037ull;	/* FNV-1a */
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ (unsigned char)path[i]) * 1099511628211ull;
	/* FNV's low bits are weak: mix the high ones in (MurmurHash3's end). */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h;
}

static const char *entry_path(const struct stat_cache *c,
			      const struct stat_cache_entry *e)
{
	return c->paths.buf + e->path_off;
}

static void table_insert(struct stat_cache *c, size_t idx)
{
	const struct stat_cache_entry *e = &c->entries[idx];
	size_t i = (size_t)hash_path(entry_path(c, e), e->path_len) & (c->table_size - 1);

	while (c->table[i])
		i = (i + 1) & (c->table_size - 1);
	c->table[i] = (uint32_t)idx + 1;
}

/* Builds the lookup table, at most half full, on first use. */
static void table_build(struct stat_cache *c)
{
	size_t i;

	c->table_size = 1024;
	while (c->nr * 2 > c->table_size)
		c->table_size *= 2;
	c->table = xcalloc(c->table_size, sizeof(*c->table));
	for (i = 0; i < c->nr; i++)
		table_insert(c, i);
}

static int entry_is(const struct stat_cache *c, size_t idx, const char *path,
		    size_t len)
{
	const struct stat_cache_entry *e = &c->entries[idx];

	return e->path_len == len && !memcmp(entry_path(c, e), path, len);
}

/*
 * Files are looked up in the order they were added (the walk order), so
 * the entry after the last one found is tried first: an unchanged tree
 * reads the cache front to back and never builds the table.
 */
static const struct stat_cache_entry *find(struct stat_cache *c,
					   const char *path, size_t len)
{
	size_t i;

	if (c->next < c->nr && entry_is(c, c->next, path, len))
		return &c->entries[c->next++];
	if (!c->nr)
		return NULL;
	if (!c->table)
		table_build(c);
	for (i = (size_t)hash_path(path, len) & (c->table_size - 1); c->table[i];
	     i = (i + 1) & (c->table_size - 1)) {
		if (entry_is(c, c->table[i] - 1, path, len)) {
			c->next = c->table[i];
			return &c->entries[c->table[i] - 1];
		}
	}
	return NULL;
}

void stat_cache_init(struct stat_cache *c, const struct stat *root)
{
	struct timespec now;

	memset(c, 0, sizeof(*c));
	strbuf_init(&c->paths, 0);
	clock_gettime(CLOCK_REALTIME_COARSE, &now);
	c->start_sec = now.tv_sec;
	c->start_nsec = (uint32_t)now.tv_nsec;
	c->root_dev = (uint64_t)root->st_dev;
	c->root_ino = (uint64_t)root->st_ino;
}

static void clear(struct stat_cache *c)
{
	free(c->entries);
	free(c->table);
	c->entries = NULL;
	c->table = NULL;
	c->nr = c->alloc = c->table_size = c->next = 0;
	strbuf_reset(&c->paths);
}

void stat_cache_release(struct stat_cache *c)
{
	clear(c);
	strbuf_release(&c->paths);
}

void stat_cache_reserve(struct stat_cache *c, size_t nr, size_t path_bytes)
{
	ALLOC_GROW(c->entries, nr, c->alloc);
	strbuf_grow(&c->paths, path_bytes);
}

int stat_cache_path(const struct snap_store *store, const char *name,
		    struct strbuf *path, struct strbuf *err)
{
	int ret = ref_name_check(name, err);

	if (ret < 0)
		return ret;
	store_path(store, path, "cache/%s", name);
	return 0;
}

static int racy(const struct stat_cache *c, const struct stat *st)
{
	return st->st_mtim.tv_sec >= c->start_sec || st->st_ctim.tv_sec >= c->start_sec;
}

/* What an entry may be: a regular file, a directory or a symlink. */
static int cached_type(uint32_t mode)
{
	return S_ISREG(mode) || S_ISDIR(mode) || S_ISLNK(mode);
}

static int same_stat(const struct stat_cache_entry *e, const struct stat *st)
{
	return e->size == (uint64_t)st->st_size &&
	       e->mtime_sec == (int64_t)st->st_mtim.tv_sec &&
	       e->mtime_nsec == (uint32_t)st->st_mtim.tv_nsec &&
	       e->ctime_sec == (int64_t)st->st_ctim.tv_sec &&
	       e->ctime_nsec == (uint32_t)st->st_ctim.tv_nsec &&
	       e->ino == (uint64_t)st->st_ino && e->dev == (uint64_t)st->st_dev &&
	       e->mode == (uint32_t)st->st_mode;
}

const struct stat_cache_entry *stat_cache_lookup(struct stat_cache *c,
						 const char *path, size_t len,
						 const struct stat *st)
{
	const struct stat_cache_entry *e = find(c, path, len);

	if (!e || !same_stat(e, st) || racy(c, st))
		return NULL;
	return e;
}

int stat_cache_add(struct stat_cache *c, const char *path, size_t len,
		   const struct stat *st, const struct snap_oid *oid,
		   const struct snap_oid *xattrs, unsigned flags)
{
	struct stat_cache_entry *e;

	if (racy(c, st) || !cached_type(st->st_mode) || !len || len > UINT32_MAX)
		return 0;
	free(c->table);		/* rebuilt by the next lookup */
	c->table = NULL;
	ALLOC_GROW(c->entries, c->nr + 1, c->alloc);
	e = &c->entries[c->nr];
	e->size = (uint64_t)st->st_size;
	e->mtime_sec = (int64_t)st->st_mtim.tv_sec;
	e->mtime_nsec = (uint32_t)st->st_mtim.tv_nsec;
	e->ctime_sec = (int64_t)st->st_ctim.tv_sec;
	e->ctime_nsec = (uint32_t)st->st_ctim.tv_nsec;
	e->ino = (uint64_t)st->st_ino;
	e->dev = (uint64_t)st->st_dev;
	e->mode = (uint32_t)st->st_mode;
	e->oid = *oid;
	e->has_xattrs = xattrs != NULL;
	if (xattrs)
		e->xattrs = *xattrs;
	else
		memset(&e->xattrs, 0, sizeof(e->xattrs));
	e->flags = flags;
	e->path_off = c->paths.len;
	e->path_len = (uint32_t)len;
	strbuf_add(&c->paths, path, len);
	c->nr++;
	return 1;
}

/*
 * Parses the cache file held in c->paths (entries point into it); the
 * checks are those of docs/FORMAT.md.
 */
static int parse(struct stat_cache *c, const struct stat *root)
{
	const unsigned char *buf = (const unsigned char *)c->paths.buf;
	size_t len = c->paths.len;
	struct snap_hash_ctx h;
	struct snap_oid sum;
	size_t pos = HEADER_SIZE, end, nr, i;

	if (len < HEADER_SIZE + TRAILER_SIZE || memcmp(buf, MAGIC, 8) ||
	    (get_be(buf + 8, 4) != VERSION && get_be(buf + 8, 4) != VERSION_FILES_ONLY))
		return -1;
	end = len - TRAILER_SIZE;
	hash_init(&h);
	hash_update(&h, buf, end);
	hash_final(&h, &sum);
	if (memcmp(sum.hash, buf + end, TRAILER_SIZE))
		return -1;
	nr = (size_t)get_be(buf + 12, 4);
	c->start_sec = (int64_t)get_be(buf + 16, 8);
	c->start_nsec = (uint32_t)get_be(buf + 24, 4);
	c->root_dev = get_be(buf + 32, 8);
	c->root_ino = get_be(buf + 40, 8);
	c->xattr_flags = (uint32_t)get_be(buf + 28, 4);
	if (c->start_nsec >= 1000000000u || c->xattr_flags > STAT_CACHE_LEAVE_OUT_ALL ||
	    c->root_dev != (uint64_t)root->st_dev || c->root_ino != (uint64_t)root->st_ino ||
	    nr > (end - HEADER_SIZE) / ENTRY_SIZE)
		return -1;
	c->entries = xcalloc(nr ? nr : 1, sizeof(*c->entries));
	c->alloc = nr;
	for (i = 0; i < nr; i++) {
		const unsigned char *p = buf + pos;
		struct stat_cache_entry *e = &c->entries[i];

		if (end - pos < ENTRY_SIZE)
			return -1;
		e->size = get_be(p, 8);
		e->mtime_sec = (int64_t)get_be(p + 8, 8);
		e->mtime_nsec = (uint32_t)get_be(p + 16, 4);
		e->ctime_sec = (int64_t)get_be(p + 20, 8);
		e->ctime_nsec = (uint32_t)get_be(p + 28, 4);
		e->ino = get_be(p + 32, 8);
		e->dev = get_be(p + 40, 8);
		e->mode = (uint32_t)get_be(p + 48, 4);
		memcpy(e->oid.hash, p + 52, SNAP_OID_RAWSZ);
		e->has_xattrs = p[84];
		memcpy(e->xattrs.hash, p + 85, SNAP_OID_RAWSZ);
		e->flags = (unsigned)get_be(p + 117, 4);
		e->path_len = (uint32_t)get_be(p + 121, 4);
		pos += ENTRY_SIZE;
		if (p[84] > 1 || (e->flags & ~TREE_FLAGS_ALL) || (!p[84] && !oid_is_null_raw(p + 85)) ||
		    e->mtime_nsec >= 1000000000u || e->ctime_nsec >= 1000000000u ||
		    !cached_type(e->mode) || (!S_ISREG(e->mode) && get_be(buf + 8, 4) != VERSION) ||
		    (S_ISDIR(e->mode) && !oid_is_null_raw(p + 52)) || (S_ISLNK(e->mode) && e->flags) ||
		    !e->path_len || end - pos < e->path_len ||
		    memchr(p + ENTRY_SIZE, '\0', e->path_len))
			return -1;
		e->path_off = pos;
		pos += e->path_len;
		c->nr = i + 1;
	}
	return pos == end ? 0 : -1;
}

int stat_cache_read(struct stat_cache *c, const char *path,
		    const struct stat *root, struct strbuf *err)
{
	int ret;

	clear(c);
	ret = strbuf_read_file(&c->paths, path, STAT_CACHE_MAX);
	if (ret == SNAP_ENOTFOUND)
		ret = snap_error(err, ret, "no stat cache '%s'", path);
	else if (ret < 0)
		ret = snap_error_errno(err, "cannot read stat cache '%s'", path);
	else if (parse(c, root) < 0)
		ret = snap_error(err, SNAP_EINVAL, "stat cache '%s' is invalid", path);
	if (ret < 0)
		clear(c);
	return ret;
}

int stat_cache_write(const struct stat_cache *c, const struct snap_store *store,
		     const char *path, struct strbuf *err)
{
	struct strbuf out = STRBUF_INIT, tmp = STRBUF_INIT, dir = STRBUF_INIT;
	struct snap_hash_ctx h;
	struct snap_oid sum;
	size_t i;
	int fd, ret = 0;

	if (c->nr > UINT32_MAX)
		return snap_error(err, SNAP_ETOOBIG, "too many files for a stat cache");
	strbuf_grow(&out, HEADER_SIZE + c->nr * ENTRY_SIZE + c->paths.len + TRAILER_SIZE);
	strbuf_add(&out, MAGIC, 8);
	put_be(&out, VERSION, 4);
	put_be(&out, c->nr, 4);
	put_be(&out, (uint64_t)c->start_sec, 8);
	put_be(&out, c->start_nsec, 4);
	put_be(&out, c->xattr_flags, 4);
	put_be(&out, c->root_dev, 8);
	put_be(&out, c->root_ino, 8);
	for (i = 0; i < c->nr; i++) {
		const struct stat_cache_entry *e = &c->entries[i];

		put_be(&out, e->size, 8);
		put_be(&out, (uint64_t)e->mtime_sec, 8);
		put_be(&out, e->mtime_nsec, 4);
		put_be(&out, (uint64_t)e->ctime_sec, 8);
		put_be(&out, e->ctime_nsec, 4);
		put_be(&out, e->ino, 8);
		put_be(&out, e->dev, 8);
		put_be(&out, e->mode, 4);
		strbuf_add(&out, e->oid.hash, SNAP_OID_RAWSZ);
		put_be(&out, e->has_xattrs ? 1 : 0, 1);
		strbuf_add(&out, e->xattrs.hash, SNAP_OID_RAWSZ);
		put_be(&out, e->flags, 4);
		put_be(&out, e->path_len, 4);
		strbuf_add(&out, entry_path(c, e), e->path_len);
	}
	hash_init(&h);
	hash_update(&h, out.buf, out.len);
	hash_final(&h, &sum);
	strbuf_add(&out, sum.hash, SNAP_OID_RAWSZ);

	store_path(store, &dir, "objects/tmp");
	fd = fsio_mktemp(dir.buf, "cache-", &tmp);
	if (fd < 0) {
		ret = snap_error_errno(err, "cannot create a temporary file in '%s'", dir.buf);
		goto out;
	}
	if (fsio_write(fd, out.buf, out.len) < 0) {
		ret = snap_error_errno(err, "cannot write '%s'", tmp.buf);
		fsio_close(fd);
		goto fail;
	}
	if (fsio_close(fd) < 0) {
		ret = snap_error_errno(err, "cannot write '%s'", tmp.buf);
		goto fail;
	}
	if (fsio_mkdirs_for(path) < 0 || fsio_rename(tmp.buf, path) < 0) {
		ret = snap_error_errno(err, "cannot write stat cache '%s'", path);
		goto fail;
	}
	goto out;
fail:
	unlink(tmp.buf);
out:
	strbuf_release(&out);
	strbuf_release(&tmp);
	strbuf_release(&dir);
	return ret;
}
