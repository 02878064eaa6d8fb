#include "fsio.h"
#include "error.h"
#include "storefs.h"
#include "strbuf.h"
#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

enum fs_op {
	OP_OPEN, OP_WRITE, OP_FSYNC, OP_RENAME, OP_LINK, OP_UNLINK, OP_MKDIR,
	OP_CLOSE, OP_UTIME, OP_SYMLINK, OP_TRUNCATE,
	OP_GETXATTR,	/* a read of the source, not a change of the store: below */
	OP_LISTXATTR,	/* so is this one */
	OP_GETFLAGS,	/* and this one */
	OP_NR
};

static const char *const op_names[OP_NR] = {
	"open", "write", "fsync", "rename", "link", "unlink", "mkdir",
	"close", "utime", "symlink", "truncate", "getxattr",
	"listxattr", "getflags",
};

/* The reads of what a snapshot stores, which only their own names select. */
static int is_source_read(enum fs_op op)
{
	return op == OP_GETXATTR || op == OP_LISTXATTR || op == OP_GETFLAGS;
}

static const struct { const char *name; int code; } errnos[] = {
	{ "EIO", EIO }, { "ENOSPC", ENOSPC }, { "EROFS", EROFS },
	{ "EACCES", EACCES }, { "EPERM", EPERM }, { "EDQUOT", EDQUOT },
	{ "EEXIST", EEXIST }, { "ENOENT", ENOENT }, { "EINTR", EINTR },
	{ "EMFILE", EMFILE }, { "ENODATA", ENODATA }, { "E2BIG", E2BIG },
};

/* What a selected call does instead of its work. */
enum fault_action { ACT_ERRNO, ACT_KILL, ACT_SHORT };

/* Selectors besides the op names: every kind, and the log's numbering. */
#define SEL_ANY OP_NR
#define SEL_SEQ (OP_NR + 1)

struct fault {
	int sel;		/* an enum fs_op, SEL_ANY or SEL_SEQ */
	char *path;		/* substring the call's path must hold, or NULL */
	unsigned long nth;	/* 0 = every matching call */
	unsigned long seen;	/* matching calls so far in this process */
	enum fault_action action;
	int code;
};

#define MAX_FAULTS 16
static struct fault faults[MAX_FAULTS];
static int nr_faults;
static int log_fd = -1;
/* Set when faults or a log are active: only then are descriptors named. */
static int active;

/* The path each open descriptor was opened with, for write/fsync/close. */
static char **fd_paths;
static size_t nr_fd_paths;

static void bad_item(const char *item, const char *why)
{
	/* lib/ prints nothing else; a mistyped fault must not pass unseen. */
	fprintf(stderr, "snap: warning: SNAP_FAULT item '%s' ignored: %s\n", item, why);
}

static int parse_action(const char *s, struct fault *f)
{
	size_t i;

	if (!strcmp(s, "kill")) {
		f->action = ACT_KILL;
		return 0;
	}
	if (!strcmp(s, "short")) {
		f->action = ACT_SHORT;
		f->code = ENOSPC;
		return 0;
	}
	for (i = 0; i < ARRAY_SIZE(errnos); i++)
		if (!strcmp(s, errnos[i].name)) {
			f->action = ACT_ERRNO;
			f->code = errnos[i].code;
			return 0;
		}
	return -1;
}

/* One item: SEL[@PATH]:N:ACTION (PATH may hold ':', not ','). */
static void parse_item(char *item)
{
	char *last = strrchr(item, ':'), *mid, *at;
	char *orig = xstrdup(item);
	struct fault f = { -1, NULL, 0, 0, ACT_ERRNO, 0 };
	uint64_t n;
	int i;

	if (!last || last == item) {
		bad_item(orig, "expected OP:N:ACTION");
		goto out;
	}
	*last = '\0';
	mid = strrchr(item, ':');
	if (!mid) {
		bad_item(orig, "expected OP:N:ACTION");
		goto out;
	}
	*mid = '\0';
	at = strchr(item, '@');
	if (at) {
		*at = '\0';
		if (!at[1]) {
			bad_item(orig, "empty path after '@'");
			goto out;
		}
		f.path = xstrdup(at + 1);
	}
	for (i = 0; i < OP_NR; i++)
		if (!strcmp(item, op_names[i]))
			f.sel = i;
	if (!strcmp(item, "any"))
		f.sel = SEL_ANY;
	if (!strcmp(item, "seq") && !f.path)
		f.sel = SEL_SEQ;
	if (f.sel < 0) {
		bad_item(orig, "unknown operation");
		goto out;
	}
	if (!strcmp(mid + 1, "*") && f.sel != SEL_SEQ)
		f.nth = 0;
	else if (parse_u64(mid + 1, &n) == 0 && n > 0)
		f.nth = (unsigned long)n;
	else {
		bad_item(orig, "bad call number");
		goto out;
	}
	if (parse_action(last + 1, &f) < 0) {
		bad_item(orig, "unknown action");
		goto out;
	}
	if (f.sel == SEL_SEQ && log_fd < 0) {
		bad_item(orig, "seq needs SNAP_FAULT_LOG");
		goto out;
	}
	if (nr_faults == MAX_FAULTS) {
		bad_item(orig, "too many items");
		goto out;
	}
	faults[nr_faults++] = f;
	f.path = NULL;
out:
	free(f.path);
	free(orig);
}

static void parse_faults(void)
{
	const char *spec = getenv("SNAP_FAULT");
	const char *logname = getenv("SNAP_FAULT_LOG");
	char *copy, *item, *save = NULL;

	if (logname && *logname) {
		log_fd = open(logname, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
		if (log_fd < 0)
			fprintf(stderr, "snap: warning: cannot open SNAP_FAULT_LOG '%s': %s\n",
				logname, strerror(errno));
	}
	if (spec && *spec) {
		copy = xstrdup(spec);
		for (item = strtok_r(copy, ",", &save); item;
		     item = strtok_r(NULL, ",", &save))
			parse_item(item);
		free(copy);
	}
	active = nr_faults > 0 || log_fd >= 0;
}

static pthread_once_t faults_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t faults_lock = PTHREAD_MUTEX_INITIALIZER;

static int fsio_active(void)
{
	pthread_once(&faults_once, parse_faults);
	return active;
}

/*
 * The number the last line of the log holds (0 for an empty log): the
 * processes that share a log share one numbering, so a test can count the
 * calls of a whole pipeline and aim at any one of them.  Called with the
 * log locked.
 */
static unsigned long last_logged(void)
{
	char buf[8192];
	struct stat st;
	off_t from;
	ssize_t n;
	char *line;

	if (fstat(log_fd, &st) < 0 || st.st_size == 0)
		return 0;
	from = st.st_size > (off_t)sizeof(buf) - 1 ? st.st_size - (off_t)sizeof(buf) + 1 : 0;
	n = pread(log_fd, buf, sizeof(buf) - 1, from);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	if (buf[n - 1] == '\n')
		buf[--n] = '\0';
	line = strrchr(buf, '\n');
	line = line ? line + 1 : buf;
	return strtoul(line, NULL, 10);
}

/* Appends "N op path" to the log; returns N. */
static unsigned long log_call(enum fs_op op, const char *path)
{
	struct strbuf line = STRBUF_INIT;
	unsigned long seq;
	const char *p;

	while (flock(log_fd, LOCK_EX) < 0 && errno == EINTR)
		;
	seq = last_logged() + 1;
	strbuf_addf(&line, "%lu %s ", seq, op_names[op]);
	for (p = path ? path : "-"; *p; p++) {
		if (*p == '\n')
			strbuf_addstr(&line, "\\n");
		else if (*p == '\\')
			strbuf_addstr(&line, "\\\\");
		else
			strbuf_addch(&line, *p);
	}
	strbuf_addch(&line, '\n');
	if (write_all(log_fd, line.buf, line.len) < 0)
		fprintf(stderr, "snap: warning: cannot write SNAP_FAULT_LOG: %s\n",
			strerror(errno));
	flock(log_fd, LOCK_UN);
	strbuf_release(&line);
	return seq;
}

static int path_matches(const struct fault *f, const char *path, const char *path2)
{
	if (!f->path)
		return 1;
	return (path && strstr(path, f->path)) || (path2 && strstr(path2, f->path));
}

/*
 * Counts a call of op on path (and path2, the other name of a rename or
 * link); logs it; carries out a fault aimed at it.  Returns 0 to go on
 * with the call, -1 with errno set to fail it, or 1 (only for a write) to
 * write half and fail with ENOSPC.  A kill happens here, before the call.
 */
static int inject(enum fs_op op, const char *path, const char *path2)
{
	unsigned long seq = 0;
	const struct fault *hit = NULL;
	int i;

	if (!fsio_active())
		return 0;
	pthread_mutex_lock(&faults_lock);
	/*
	 * A getxattr (listxattr, getflags) is no change of the store: not
	 * logged, so that counts of a pipeline's calls stay what they were,
	 * and only picked by name.
	 */
	if (log_fd >= 0 && !is_source_read(op))
		seq = log_call(op, path2 ? path2 : path);
	for (i = 0; i < nr_faults; i++) {
		struct fault *f = &faults[i];

		if (is_source_read(op) && f->sel != (int)op)
			continue;
		if (f->sel == SEL_SEQ) {
			if (seq == f->nth)
				hit = f;
			continue;
		}
		if ((f->sel != SEL_ANY && f->sel != (int)op) ||
		    !path_matches(f, path, path2))
			continue;
		f->seen++;
		if (!f->nth || f->nth == f->seen)
			hit = f;
	}
	pthread_mutex_unlock(&faults_lock);
	if (!hit)
		return 0;
	if (hit->action == ACT_KILL) {
		kill(getpid(), SIGKILL);
		pause();
	}
	errno = hit->code;
	return hit->action == ACT_SHORT && op == OP_WRITE ? 1 : -1;
}

/* Remembers the path fd was opened with (only while faults are active). */
static void name_fd(int fd, const char *path)
{
	if (fd < 0 || !fsio_active())
		return;
	pthread_mutex_lock(&faults_lock);
	if ((size_t)fd >= nr_fd_paths) {
		size_t n = (size_t)fd + 64;

		fd_paths = xrealloc(fd_paths, n * sizeof(*fd_paths));
		memset(fd_paths + nr_fd_paths, 0, (n - nr_fd_paths) * sizeof(*fd_paths));
		nr_fd_paths = n;
	}
	free(fd_paths[fd]);
	fd_paths[fd] = xstrdup(path);
	pthread_mutex_unlock(&faults_lock);
}

static void forget_fd(int fd)
{
	if (fd < 0 || !active)
		return;
	pthread_mutex_lock(&faults_lock);
	if ((size_t)fd < nr_fd_paths) {
		free(fd_paths[fd]);
		fd_paths[fd] = NULL;
	}
	pthread_mutex_unlock(&faults_lock);
}

/*
 * The path fd was opened with, into sb: the recorded one, else what
 * /proc says (a descriptor opened outside fsio, e.g. for syncfs).
 */
static const char *fd_path(int fd, struct strbuf *sb)
{
	char link[64];
	char buf[4096];
	ssize_t n;

	if (!active)
		return NULL;
	pthread_mutex_lock(&faults_lock);
	if (fd >= 0 && (size_t)fd < nr_fd_paths && fd_paths[fd])
		strbuf_addstr(sb, fd_paths[fd]);
	pthread_mutex_unlock(&faults_lock);
	if (sb->len)
		return sb->buf;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, buf, sizeof(buf) - 1);
	if (n < 0)
		return NULL;
	strbuf_add(sb, buf, (size_t)n);
	return sb->buf;
}

int fsio_getxattr_fault(const char *what, const char *name)
{
	return inject(OP_GETXATTR, what, name) ? -1 : 0;
}

int fsio_listxattr_fault(const char *what)
{
	return inject(OP_LISTXATTR, what, NULL) ? -1 : 0;
}

int fsio_getflags_fault(const char *what)
{
	return inject(OP_GETFLAGS, what, NULL) ? -1 : 0;
}

/* inject() for a call on a descriptor. */
static int inject_fd(enum fs_op op, int fd)
{
	struct strbuf sb = STRBUF_INIT;
	int ret;

	if (!fsio_active())
		return 0;
	ret = inject(op, fd_path(fd, &sb), NULL);
	strbuf_release(&sb);
	return ret;
}

int fsio_open(const char *path, int flags, mode_t mode)
{
	return fsio_openat(AT_FDCWD, path, flags, mode);
}

int fsio_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	struct strbuf full = STRBUF_INIT;
	int fd, saved;

	if (fsio_active()) {
		if (dirfd != AT_FDCWD && path[0] != '/') {
			fd_path(dirfd, &full);
			strbuf_addch(&full, '/');
		}
		strbuf_addstr(&full, path);
	}
	if (inject(OP_OPEN, full.len ? full.buf : path, NULL)) {
		saved = errno;
		strbuf_release(&full);
		errno = saved;
		return -1;
	}
	if (dirfd == AT_FDCWD)
		fd = storefs_open(path, flags, mode);
	else
		do
			fd = openat(dirfd, path, flags | O_CLOEXEC, mode);
		while (fd < 0 && errno == EINTR);
	saved = errno;
	if (fd >= 0 && full.len)
		name_fd(fd, full.buf);
	strbuf_release(&full);
	errno = saved;
	return fd;
}

int fsio_write(int fd, const void *buf, size_t len)
{
	int ret = inject_fd(OP_WRITE, fd);

	if (ret < 0)
		return -1;
	if (ret > 0) {
		/* A disk that fills mid-write: half lands, then ENOSPC. */
		if (write_all(fd, buf, len / 2) < 0)
			return -1;
		errno = ENOSPC;
		return -1;
	}
	return write_all(fd, buf, len);
}

int fsio_ftruncate(int fd, off_t len)
{
	if (inject_fd(OP_TRUNCATE, fd))
		return -1;
	return ftruncate(fd, len);
}

int fsio_fsync(int fd)
{
	if (inject_fd(OP_FSYNC, fd))
		return -1;
	return fsync(fd);
}

int fsio_syncfs(int fd)
{
	if (inject_fd(OP_FSYNC, fd))
		return -1;
	return syncfs(fd);
}

int fsio_close(int fd)
{
	if (inject_fd(OP_CLOSE, fd)) {
		int saved = errno;
		forget_fd(fd);
		close(fd);
		errno = saved;
		return -1;
	}
	forget_fd(fd);
	return close(fd);
}

int fsio_rename(const char *from, const char *to)
{
	if (inject(OP_RENAME, from, to))
		return -1;
	return storefs_rename(from, to);
}

int fsio_link(const char *from, const char *to)
{
	if (inject(OP_LINK, from, to))
		return -1;
	return storefs_link(from, to);
}

int fsio_unlink(const char *path)
{
	if (inject(OP_UNLINK, path, NULL))
		return -1;
	return storefs_unlink(path);
}

int fsio_rmdir(const char *path)
{
	if (inject(OP_UNLINK, path, NULL))
		return -1;
	return storefs_rmdir(path);
}

int fsio_mkdir(const char *path, mode_t mode)
{
	if (inject(OP_MKDIR, path, NULL))
		return -1;
	return storefs_mkdir(path, mode);
}

int fsio_symlink(const char *target, const char *path)
{
	if (inject(OP_SYMLINK, path, NULL))
		return -1;
	return storefs_symlink(target, path);
}

int fsio_touch(const char *path)
{
	if (inject(OP_UTIME, path, NULL))
		return -1;
	return storefs_touch(path);
}

int fsio_fsync_dir(const char *path)
{
	int fd = storefs_open_dir(path);
	int ret, saved;

	if (fd < 0)
		return -1;
	if (inject(OP_FSYNC, path, NULL))
		ret = -1;
	else
		ret = fsync(fd);
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
		/* Outside a store, a link to a directory is one (a user's path). */
		if ((storefs_below_root(p) ? storefs_lstat(p, &st) : stat(p, &st)) < 0) {
			if (fsio_mkdir(p, 0777) < 0 && errno != EEXIST) {
				ret = -1;
				break;
			}
			fsio_fsync_parent(p);
		} else if (!S_ISDIR(st.st_mode)) {
			errno = S_ISLNK(st.st_mode) ? ELOOP : ENOTDIR;
			ret = -1;
			break;
		}
		*s = '/';
	}
	free(p);
	return ret;
}

int fsio_replace_file(const char *tmpdir, const char *path, const void *buf,
		      size_t len, mode_t mode)
{
	struct strbuf tmp = STRBUF_INIT;
	int fd, saved;

	fd = fsio_mktemp(tmpdir, "replace-", &tmp);
	if (fd < 0) {
		strbuf_release(&tmp);
		return -1;
	}
	if (fchmod(fd, mode) < 0 || fsio_write(fd, buf, len) < 0 || fsio_fsync(fd) < 0) {
		saved = errno;
		fsio_close(fd);
		goto fail;
	}
	if (fsio_close(fd) < 0 || fsio_rename(tmp.buf, path) < 0) {
		saved = errno;
		goto fail;
	}
	strbuf_release(&tmp);
	return fsio_fsync_parent(path);
fail:
	storefs_unlink(tmp.buf);
	strbuf_release(&tmp);
	errno = saved;
	return -1;
}

int64_t mtime_ns(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
}

int64_t ctime_ns(const struct stat *st)
{
	return (int64_t)st->st_ctim.tv_sec * 1000000000LL + st->st_ctim.tv_nsec;
}

void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

#define READ_BUF (256 * 1024)

int read_fd_exactly(int fd, uint64_t size, int whole, const char *what,
		    int (*fn)(void *, const void *, size_t, struct strbuf *),
		    void *data, struct strbuf *err)
{
	char *buf = xmalloc_io(READ_BUF);
	uint64_t left = size;
	int ret = 0;

	while (left) {
		size_t want = left < READ_BUF ? (size_t)left : READ_BUF;
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
	if (whole && read_full(fd, buf, 1) > 0)
		ret = snap_error(err, SNAP_EINVAL,
				 "'%s' grew while it was read (past %llu bytes)",
				 what, (unsigned long long)size);
out:
	free(buf);
	return ret;
}
