#include "storefs.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct root {
	char *path;
	size_t len;
	int fd;
};

static struct root *roots;
static size_t roots_nr, roots_alloc;
static pthread_mutex_t roots_lock = PTHREAD_MUTEX_INITIALIZER;

int storefs_add_root(const char *root)
{
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	pthread_mutex_lock(&roots_lock);
	ALLOC_GROW(roots, roots_nr + 1, roots_alloc);
	roots[roots_nr].path = xstrdup(root);
	roots[roots_nr].len = strlen(root);
	roots[roots_nr].fd = fd;
	roots_nr++;
	pthread_mutex_unlock(&roots_lock);
	return 0;
}

void storefs_remove_root(const char *root)
{
	size_t i;

	pthread_mutex_lock(&roots_lock);
	for (i = 0; i < roots_nr; i++) {
		if (strcmp(roots[i].path, root))
			continue;
		close(roots[i].fd);
		free(roots[i].path);
		roots[i] = roots[--roots_nr];
		break;
	}
	pthread_mutex_unlock(&roots_lock);
}

/*
 * A new descriptor of the registered root that path lies below (the
 * longest), and in *rest what follows the root's '/'; -2 when path is
 * below none.  A duplicate, so that a root removed meanwhile by another
 * thread cannot close it under the caller.
 */
static int root_of(const char *path, const char **rest)
{
	size_t i, best = 0;
	int fd = -2;

	pthread_mutex_lock(&roots_lock);
	for (i = 0; i < roots_nr; i++) {
		const struct root *r = &roots[i];

		if (r->len > best && !strncmp(path, r->path, r->len) &&
		    path[r->len] == '/') {
			best = r->len;
			*rest = path + r->len + 1;
			if (fd >= 0)
				close(fd);
			fd = fcntl(r->fd, F_DUPFD_CLOEXEC, 0);
			if (fd < 0) {
				pthread_mutex_unlock(&roots_lock);
				return -1;
			}
		}
	}
	pthread_mutex_unlock(&roots_lock);
	return fd;
}

int storefs_below_root(const char *path)
{
	const char *rest;
	int fd = root_of(path, &rest);

	if (fd == -2)
		return 0;
	if (fd >= 0)
		close(fd);
	return 1;
}

/*
 * Opens the directory name in dfd without following it; a symbolic link
 * there is ELOOP whatever openat said about it.
 */
static int open_component(int dfd, const char *name)
{
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;

	if (fd < 0 && (errno == ENOTDIR || errno == ELOOP)) {
		int saved = errno;

		if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
			saved = ELOOP;
		errno = saved;
	}
	return fd;
}

/*
 * Walks rest from dfd (which it consumes) to the directory that holds
 * its last component, whose name it sets in base (len bytes); all of
 * rest when whole (base then ".").  Returns that directory's descriptor or -1.
 */
static int walk(int dfd, const char *rest, int whole, char *base, size_t size)
{
	const char *p = rest;

	for (;;) {
		const char *slash;
		size_t len;
		int next;

		while (*p == '/')
			p++;
		slash = strchrnul(p, '/');
		len = (size_t)(slash - p);
		if (len >= size) {
			close(dfd);
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(base, p, len);
		base[len] = '\0';
		if (!len) {
			memcpy(base, ".", 2);
			return dfd;
		}
		if (!whole && !slash[strspn(slash, "/")])
			return dfd;
		if (!strcmp(base, "..")) {
			close(dfd);
			errno = EINVAL;
			return -1;
		}
		next = open_component(dfd, base);
		close(dfd);
		if (next < 0)
			return -1;
		dfd = next;
		p = slash;
	}
}

/*
 * The directory to make a call on path in and the name there: AT_FDCWD
 * and path itself when path is below no root (*fd then needs no close).
 */
static int parent_of(const char *path, int *fd, char *base, size_t size,
		     const char **name)
{
	const char *rest;
	int dfd = root_of(path, &rest);

	if (dfd == -2) {
		*fd = AT_FDCWD;
		*name = path;
		return 0;
	}
	if (dfd < 0)
		return -1;
	*fd = walk(dfd, rest, 0, base, size);
	*name = base;
	return *fd < 0 ? -1 : 0;
}

static void done(int fd)
{
	int saved = errno;

	if (fd >= 0)
		close(fd);
	errno = saved;
}

#define NAME_MAX_LEN 256

int storefs_open(const char *path, int flags, mode_t mode)
{
	char base[NAME_MAX_LEN];
	const char *name;
	int dfd, fd;

	if (parent_of(path, &dfd, base, sizeof(base), &name) < 0)
		return -1;
	do
		fd = openat(dfd, name, flags | O_CLOEXEC, mode);
	while (fd < 0 && errno == EINTR);
	done(dfd);
	return fd;
}

int storefs_unlink(const char *path)
{
	char base[NAME_MAX_LEN];
	const char *name;
	int dfd, ret;

	if (parent_of(path, &dfd, base, sizeof(base), &name) < 0)
		return -1;
	ret = unlinkat(dfd, name, 0);
	done(dfd);
	return ret;
}

int storefs_rmdir(const char *path)
{
	char base[NAME_MAX_LEN];
	const char *name;
	int dfd, ret;

	if (parent_of(path, &dfd, base, sizeof(base), &name) < 0)
		return -1;
	ret = unlinkat(dfd, name, AT_REMOVEDIR);
	done(dfd);
	return ret;
}

int storefs_mkdir(const char *path, mode_t mode)
{
	char base[NAME_MAX_LEN];
	const char *name;
	int dfd, ret;

	if (parent_of(path, &dfd, base, sizeof(base), &name) < 0)
		return -1;
	ret = mkdirat(dfd, name, mode);
	done(dfd);
	return ret;
}

int storefs_symlink(const char *target, const char *path)
{
	char base[NAME_MAX_LEN];
	const char *name;
	int dfd, ret;

	if (parent_of(path, &dfd, base, sizeof(base), &name) < 0)
		return -1;
	ret = symlinkat(target, dfd, name);
	done(dfd);
	return ret;
}

int storefs_lstat(const char *path, struct stat *st)
{
	char base[NAME_MAX_LEN];
	const char *name;
	int dfd, ret;

	if (parent_of(path, &dfd, base, sizeof(base), &name) < 0)
		return -1;
	ret = fstatat(dfd, name, st, AT_SYMLINK_NOFOLLOW);
	done(dfd);
	return ret;
}

int storefs_touch(const char *path)
{
	char base[NAME_MAX_LEN];
	const char *name;
	int dfd, ret;

	if (parent_of(path, &dfd, base, sizeof(base), &name) < 0)
		return -1;
	ret = utimensat(dfd, name, NULL, 0);
	done(dfd);
	return ret;
}

/* Two names: two walks, then one call on both directories. */
static int two(const char *from, const char *to, int is_link)
{
	char fbase[NAME_MAX_LEN], tbase[NAME_MAX_LEN];
	const char *fname, *tname;
	int fdir, tdir, ret = -1;

	if (parent_of(from, &fdir, fbase, sizeof(fbase), &fname) < 0)
		return -1;
	if (parent_of(to, &tdir, tbase, sizeof(tbase), &tname) == 0) {
		if (is_link)
			ret = linkat(fdir, fname, tdir, tname, 0);
		else
			ret = renameat(fdir, fname, tdir, tname);
		done(tdir);
	}
	done(fdir);
	return ret;
}

int storefs_rename(const char *from, const char *to)
{
	return two(from, to, 0);
}

int storefs_link(const char *from, const char *to)
{
	return two(from, to, 1);
}

int storefs_open_dir(const char *path)
{
	char base[NAME_MAX_LEN];
	const char *rest;
	int dfd = root_of(path, &rest);

	if (dfd == -2)
		return open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -1;
	return walk(dfd, rest, 1, base, sizeof(base));
}

DIR *storefs_opendir(const char *path)
{
	int fd = storefs_open_dir(path);
	DIR *d;

	if (fd < 0)
		return NULL;
	d = fdopendir(fd);
	if (!d)
		done(fd);
	return d;
}
