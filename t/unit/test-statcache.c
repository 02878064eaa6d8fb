/*
 * Prints a stat cache file as lib/statcache reads it, for the tests:
 * its start time, then one line per entry, in file order:
 *
 *   start SECONDS
 *   PATH TYPE SIZE MTIME-SECONDS CTIME-SECONDS BLOB-ID
 *
 * TYPE is file, dir or symlink (a directory's BLOB-ID is all zeros).
 *
 * Exits 1 when the file is missing or invalid for DIR.
 *
 *   test-statcache CACHE-FILE DIR
 */
#include "statcache.h"
#include "oid.h"

#include <stdio.h>
#include <sys/stat.h>

int main(int argc, char **argv)
{
	struct strbuf err = STRBUF_INIT;
	struct stat_cache c;
	struct stat root;
	size_t i;

	if (argc != 3) {
		fprintf(stderr, "usage: test-statcache CACHE-FILE DIR\n");
		return 2;
	}
	if (stat(argv[2], &root) < 0) {
		perror(argv[2]);
		return 2;
	}
	stat_cache_init(&c, &root);
	if (stat_cache_read(&c, argv[1], &root, &err) < 0) {
		fprintf(stderr, "test-statcache: %s\n", err.buf);
		return 1;
	}
	printf("start %lld\n", (long long)c.start_sec);
	for (i = 0; i < c.nr; i++) {
		const struct stat_cache_entry *e = &c.entries[i];

		printf("%.*s %s %llu %lld %lld %s\n", (int)e->path_len, c.paths.buf + e->path_off,
		       S_ISDIR(e->mode) ? "dir" : S_ISLNK(e->mode) ? "symlink" : "file",
		       (unsigned long long)e->size, (long long)e->mtime_sec,
		       (long long)e->ctime_sec, oid_to_hex(&e->oid));
	}
	stat_cache_release(&c);
	strbuf_release(&err);
	return 0;
}
