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
	uid_t uid;	/* the root directory's owner */
	gid_t gid;
};

/*
 * Whom what is created below a root is handed to: root (euid 0) writing
 * a store another user owns gives that user what it makes, so that the
 * owner's next run can write where root's did.
 */
struct owner {
	int give;
	uid_t uid;
	gid_t gid;
};

static struct root *roots;
static size_t roots_nr, roots_alloc;
static pthread_mutex_t roots_lock = PTHREAD_MUTEX_INITIALIZER;

int storefs_add_root(const char *root)
{
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stat st;

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	pthread_mutex_lock(&roots_lock);
	ALLOC_GROW(roots, roots_nr + 1, roots_alloc);
	roots[roots_nr].path = xstrdup(root);
	roots[roots_nr].len = strlen(root);
	roots[roots_nr].fd = fd;
	roots[roots_nr].uid = st.st_uid;
	roots[roots_nr].gid = st.st_gid;
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
 * longest), in *rest what follows the root's '/' and in *own whom what
 * is made there is given (own untouched when path is below none: -2).
 * A duplicate, so that a root removed meanwhile by another
 * thread cannot close it under the caller.
 */
static int root_of(const char *path, const char **rest, struct owner *own)
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
			own->give = r->uid != 0 && geteuid() == 0;
			own->uid = r->uid;
			own->gid = r->gid;
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
	struct owner own;
	int fd = root_of(path, &rest, &own);

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
		     const char **name, struct owner *own)
{
	const char *rest;
	int dfd;

	own->give = 0;
	dfd = root_of(path, &rest, own);
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

/*
 * Gives own the file or directory fd just opened or made as name in dfd,
 * if root owns it, it has no other name (one link) and name is it, not
 * a link to it: so nothing outside the store (a planted hard link to a
 * system file) ever changes hands.  Best effort: a file root keeps
 * still works for root.
 */
static void hand_file(int dfd, const char *name, int fd, const struct owner *own)
{
	struct stat a, b;
	int saved = errno;

	if (fstat(fd, &a) == 0 && a.st_uid == 0 && (S_ISDIR(a.st_mode) ||
	    (S_ISREG(a.st_mode) && a.st_nlink == 1)) &&
	    fstatat(dfd, name, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
	    a.st_dev == b.st_dev && a.st_ino == b.st_ino)
		(void)!fchown(fd, own->uid, own->gid);
	errno = saved;
}

int storefs_open(const char *path, int flags, mode_t mode)
{
	char base[NAME_MAX_LEN];
	const char *name;
	struct owner own;
	int dfd, fd;

	if (parent_of(path, &dfd, base, sizeof(base), &name, &own) < 0)
		return -1;
	do
		fd = openat(dfd, name, flags | O_CLOEXEC, mode);
	while (fd < 0 && errno == EINTR);
	if (fd >= 0 && (flags & O_CREAT) && own.give)
		hand_file(dfd, name, fd, &own);
	done(dfd);
	return fd;
}

int storefs_unlink(const char *path)
{
	char base[NAME_MAX_LEN];
	const char *name;
	struct owner own;
	int dfd, ret;

	if (parent_of(path, &dfd, base, sizeof(base), &name, &own) < 0)
		return -1;
	ret = unlinkat(dfd, name, 0);
	done(dfd);
	return ret;
}

int storefs_rmdir(const char *path)
{
	char base[NAME_MAX_LEN];
	const char *name;
	struct owner own;
	int dfd, ret;

	if (parent_of(path, &dfd, base, sizeof(base), &name, &own) < 0)
		return -1;
	ret = unlinkat(dfd, name, AT_REMOVEDIR);
	done(dfd);
	return ret;
}

int storefs_mkdir(const char *path, mode_t mode)
{
	char base[NAME_MAX_LEN];
	const char *name;
	struct owner own;
	int dfd, ret;

	if (parent_of(path, &dfd, base, sizeof(base), &name, &own) < 0)
		return -1;
	ret = mkdirat(dfd, name, mode);
	if (ret == 0 && own.give) {
		int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

		if (fd >= 0) {
			hand_file(dfd, name, fd, &own);
			close(fd);
		}
	}
	done(dfd);
	return ret;
}

int storefs_symlink(const char *target, const char *path)
{
	char base[NAME_MAX_LEN];
	const char *name;
	struct owner own;
	int dfd, ret;

	if (parent_of(path, &dfd, base, sizeof(base), &name, &own) < 0)
		return -1;
	ret = symlinkat(target, dfd, name);
	if (ret == 0 && own.give && fchownat(dfd, name, own.uid, own.gid, AT_SYMLINK_NOFOLLOW) < 0)
		errno = 0;	/* a link root keeps is still a link */
	done(dfd);
	return ret;
}

int storefs_lstat(const char *path, struct stat *st)
{
	char base[NAME_MAX_LEN];
	const char *name;
	struct owner own;
	int dfd, ret;

	if (parent_of(path, &dfd, base, sizeof(base), &name, &own) < 0)
		return -1;
	ret = fstatat(dfd, name, st, AT_SYMLINK_NOFOLLOW);
	done(dfd);
	return ret;
}

int storefs_touch(const char *path)
{
	char base[NAME_MAX_LEN];
	const char *name;
	struct owner own;
	int dfd, ret;

	if (parent_of(path, &dfd, base, sizeof(base), &name, &own) < 0)
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
	struct owner own;
	int fdir, tdir, ret = -1;

	if (parent_of(from, &fdir, fbase, sizeof(fbase), &fname, &own) < 0)
		return -1;
	if (parent_of(to, &tdir, tbase, sizeof(tbase), &tname, &own) == 0) {
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
	struct owner own;
	int dfd = root_of(path, &rest, &own);

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
