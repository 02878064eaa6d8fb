/*
 * Stat caches (lib/statcache.c).  The reader refuses a file whose
 * checksum is wrong or that describes another directory; so that the
 * fuzzer gets past both, the trailer of an input long enough is replaced
 * by the BLAKE3 of the rest, and the directory given is the one the
 * input names.  A cache that reads must find each of its entries again,
 * and must write back to the very bytes it was read from.
 */
#include "harness.h"
#include "hash.h"
#include "statcache.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define HEADER_SIZE 48
#define TRAILER_SIZE 32

static void stat_of(const struct stat_cache_entry *e, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_size = (off_t)e->size;
	st->st_mtim.tv_sec = (time_t)e->mtime_sec;
	st->st_mtim.tv_nsec = (long)e->mtime_nsec;
	st->st_ctim.tv_sec = (time_t)e->ctime_sec;
	st->st_ctim.tv_nsec = (long)e->ctime_nsec;
	st->st_ino = (ino_t)e->ino;
	st->st_dev = (dev_t)e->dev;
	st->st_mode = (mode_t)e->mode;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct strbuf path = STRBUF_INIT, err = STRBUF_INIT, back = STRBUF_INIT;
	unsigned char *buf = xmemdup(data, size ? size : 1);
	struct stat root;
	struct stat_cache c;
	size_t i;

	memset(&root, 0, sizeof(root));
	if (size >= HEADER_SIZE + TRAILER_SIZE) {
		struct snap_hash_ctx h;
		struct snap_oid sum;

		root.st_dev = (dev_t)get_be64(buf + 32);
		root.st_ino = (ino_t)get_be64(buf + 40);
		hash_init(&h);
		hash_update(&h, buf, size - TRAILER_SIZE);
		hash_final(&h, &sum);
		memcpy(buf + size - TRAILER_SIZE, sum.hash, TRAILER_SIZE);
	}
	fuzz_store_path(&path, "cache/fuzz");
	fuzz_write(path.buf, buf, size);
	stat_cache_init(&c, &root);
	if (stat_cache_read(&c, path.buf, &root, &err) == 0) {
		for (i = 0; i < c.nr; i++) {
			const struct stat_cache_entry *e = &c.entries[i];
			struct stat st;

			stat_of(e, &st);
			stat_cache_lookup(&c, c.paths.buf + e->path_off, e->path_len, &st);
		}
		strbuf_reset(&err);
		if (stat_cache_write(&c, fuzz_store(), path.buf, &err) < 0)
			fuzz_fail("a cache read does not write: %s", err.buf);
		if (strbuf_read_file(&back, path.buf, STAT_CACHE_MAX) < 0)
			fuzz_fail("cannot read back the cache written");
		if (back.len != size || memcmp(back.buf, buf, size))
			fuzz_fail("a cache read writes back to other bytes");
	}
	stat_cache_release(&c);
	free(buf);
	strbuf_release(&path);
	strbuf_release(&err);
	strbuf_release(&back);
	return 0;
}
