#include "fsio.h"
#include "strbuf.h"
#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

enum fs_op {
	OP_OPEN, OP_WRITE, OP_FSYNC, OP_RENAME, OP_LINK, OP_UNLINK, OP_MKDIR,
	OP_CLOSE, OP_UTIME, OP_SYMLINK, OP_NR
};

static const char *const op_names[OP_NR] = {
	"open", "write", "fsync", "rename", "link", "unlink", "mkdir",
	"close", "utime", "symlink",
};

static const struct { const char *name; int code; } errnos[] = {
	{ "EIO", EIO }, { "ENOSPC", ENOSPC }, { "EROFS", EROFS },
	{ "EACCES", EACCES }, { "EPERM", EPERM }, { "EDQUOT", EDQUOT },
	{ "EEXIST", EEXIST }, { "ENOENT", ENOENT }, { "EINTR", EINTR },
	{ "EMFILE", EMFILE },
};

struct fault {
	enum fs_op op;
	unsigned long nth;	/* 0 = every call */
	int code;
};

static struct fault faults[16];
static int nr_faults = -1;
static unsigned long counts[OP_NR];

static void parse_faults(void)
{
	const char *spec = getenv("SNAP_FAULT");
	char *copy, *item, *save = NULL;

	nr_faults = 0;
	if (!spec || !*spec)
		return;
	copy = xstrdup(spec);
	for (item = strtok_r(copy, ",", &save); item && nr_faults < 16;
	     item = strtok_r(NULL, ",", &save)) {
		char *c1 = strchr(item, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		struct fault f = { OP_NR, 0, 0 };
		size_t i;
		uint64_t n;

		if (!c2)
			continue;
		*c1 = *c2 = '\0';
		for (i = 0; i < OP_NR; i++)
			if (!strcmp(item, op_names[i]))
				f.op = (enum fs_op)i;
		if (!strcmp(c1 + 1, "*"))
			f.nth = 0;
		else if (parse_u64(c1 + 1, &n) == 0 && n > 0)
			f.nth = (unsigned long)n;
		else
			continue;
		for (i = 0; i < ARRAY_SIZE(errnos); i++)
			if (!strcmp(c2 + 1, errnos[i].name))
				f.code = errnos[i].code;
		if (f.op != OP_NR && f.code)
			faults[nr_faults++] = f;
	}
	free(copy);
}

static pthread_once_t faults_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t faults_lock = PTHREAD_MUTEX_INITIALIZER;

/* Counts a call of op; returns -1 with errno set if it is to fail. */
static int inject(enum fs_op op)
{
	int i, code = 0;

	pthread_once(&faults_once, parse_faults);
	if (!nr_faults)
		return 0;
	pthread_mutex_lock(&faults_lock);
	counts[op]++;
	for (i = 0; i < nr_faults; i++)
		if (faults[i].op == op &&
		    (!faults[i].nth || faults[i].nth == counts[op]))
			code = faults[i].code;
	pthread_mutex_unlock(&faults_lock);
	if (code) {
		errno = code;
		return -1;
	}
	return 0;
}

int fsio_open(const char *path, int flags, mode_t mode)
{
	return fsio_openat(AT_FDCWD, path, flags, mode);
}

int fsio_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	int fd;

	if (inject(OP_OPEN))
		return -1;
	do
		fd = openat(dirfd, path, flags | O_CLOEXEC, mode);
	while (fd < 0 && errno == EINTR);
	return fd;
}

int fsio_write(int fd, const void *buf, size_t len)
{
	if (inject(OP_WRITE))
		return -1;
	return write_all(fd, buf, len);
}

int fsio_fsync(int fd)
{
	if (inject(OP_FSYNC))
		return -1;
	return fsync(fd);
}

int fsio_syncfs(int fd)
{
	if (inject(OP_FSYNC))
		return -1;
	return syncfs(fd);
}

int fsio_close(int fd)
{
	if (inject(OP_CLOSE)) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return close(fd);
}

int fsio_rename(const char *from, const char *to)
{
	if (inject(OP_RENAME))
		return -1;
	return rename(from, to);
}

int fsio_link(const char *from, const char *to)
{
	if (inject(OP_LINK))
		return -1;
	return link(from, to);
}

int fsio_unlink(const char *path)
{
	if (inject(OP_UNLINK))
		return -1;
	return unlink(path);
}

int fsio_rmdir(const char *path)
{
	if (inject(OP_UNLINK))
		return -1;
	return rmdir(path);
}

int fsio_mkdir(const char *path, mode_t mode)
{
	if (inject(OP_MKDIR))
		return -1;
	return mkdir(path, mode);
}

int fsio_symlink(const char *target, const char *path)
{
	if (inject(OP_SYMLINK))
		return -1;
	return symlink(target, path);
}

int fsio_touch(const char *path)
{
	if (inject(OP_UTIME))
		return -1;
	return utimensat(AT_FDCWD, path, NULL, 0);
}

int fsio_fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int ret, saved;

	if (fd < 0)
		return -1;
	ret = fsio_fsync(fd);
	saved = errno;
	close(fd);
	errno = saved;
	return ret;
}

int fsio_fsync_parent(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	int ret;

	if (!slash)
		return fsio_fsync_dir(".");
	if (slash == path)
		return fsio_fsync_dir("/");
	dir = xstrndup(path, (size_t)(slash - path));
	ret = fsio_fsync_dir(dir);
	free(dir);
	return ret;
}

int fsio_mktemp(const char *dir, const char *prefix, struct strbuf *path)
{
	static const char chars[] =
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	size_t base;
	int tries;

	strbuf_reset(path);
	strbuf_addf(path, "%s/%s", dir, prefix);
	base = path->len;
	for (tries = 0; tries < 100; tries++) {
		unsigned char rnd[8];
		int fd, i;

		if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd)) {
			unsigned long v = (unsigned long)getpid() * 2654435761u + (unsigned long)tries;
			memcpy(rnd, &v, sizeof(v) < sizeof(rnd) ? sizeof(v) : sizeof(rnd));
		}
		strbuf_setlen(path, base);
		for (i = 0; i < 8; i++)
			strbuf_addch(path, chars[rnd[i] % (sizeof(chars) - 1)]);
		fd = fsio_open(path->buf, O_RDWR | O_CREAT | O_EXCL, 0444);
		if (fd >= 0 || errno != EEXIST)
			return fd;
	}
	errno = EEXIST;
	return -1;
}

int fsio_mkdirs_for(const char *path)
{
	char *p = xstrdup(path);
	char *s;
	int ret = 0;

	for (s = p + 1; (s = strchr(s, '/')); s++) {
		struct stat st;

		*s = '\0';
		if (stat(p, &st) < 0) {
			if (fsio_mkdir(p, 0777) < 0 && errno != EEXIST) {
				ret = -1;
				break;
			}
			fsio_fsync_parent(p);
		} else if (!S_ISDIR(st.st_mode)) {
			errno = ENOTDIR;
			ret = -1;
			break;
		}
		*s = '/';
	}
	free(p);
	return ret;
}
