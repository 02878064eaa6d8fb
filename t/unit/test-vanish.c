/*
 * Runs write_tree() on DIR the way snap-write-tree does, except that the
 * entry NAME (in whatever directory it is met) is removed just before
 * write-tree first opens or reads it, after write-tree has stat'ed it: the window
 * in which a file or directory of a live tree may vanish.  Prints the
 * tree id, or the error and exits 1.
 *
 *   test-vanish STORE DIR NAME [CACHE]
 */
#include "odb.h"
#include "store.h"
#include "writetree.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *victim;

static void remove_victim(int dirfd, const char *path)
{
	if (victim && !strcmp(path, victim)) {
		if (unlinkat(dirfd, path, 0) < 0)
			unlinkat(dirfd, path, AT_REMOVEDIR);
		victim = NULL;
	}
}

/* write-tree's openat: the victim is removed first, once. */
int openat64(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;
	va_list ap;

	if (flags & O_CREAT) {
		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	remove_victim(dirfd, path);
	return (int)syscall(SYS_openat, dirfd, path, flags, mode);
}

/* And its readlinkat, for a symlink. */
ssize_t readlinkat(int dirfd, const char *restrict path, char *restrict buf, size_t len)
{
	remove_victim(dirfd, path);
	return (ssize_t)syscall(SYS_readlinkat, dirfd, path, buf, len);
}

int main(int argc, char **argv)
{
	struct write_tree_opts opts = { 0 };
	struct strbuf err = STRBUF_INIT;
	struct snap_store store;
	struct snap_oid oid;
	struct odb *odb;

	if (argc != 4 && argc != 5) {
		fprintf(stderr, "usage: test-vanish STORE DIR NAME [CACHE]\n");
		return 2;
	}
	if (store_open(&store, argv[1], &err) < 0 || odb_open(&odb, &store, &err) < 0) {
		fprintf(stderr, "test-vanish: %s\n", err.buf);
		return 1;
	}
	opts.cache = argc == 5 ? argv[4] : NULL;
	victim = argv[3];
	if (write_tree(odb, argv[2], &opts, &oid, &err) < 0) {
		fprintf(stderr, "test-vanish: %s\n", err.buf);
		return 1;
	}
	printf("%s\n", oid_to_hex(&oid));
	odb_close(odb);
	store_release(&store);
	return 0;
}
