#include "checkout.h"
#include "error.h"
#include "tree.h"
#include "util.h"
#include "writetree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define IO_BUF (256 * 1024)
#define SYMLINK_MAX 65536
#define THREADS_MAX 16
#define QUEUE_MAX 256

enum selected { SEL_NONE, SEL_ALL, SEL_ANCESTOR };

struct checkout {
	struct odb *odb;
	const struct checkout_opts *opts;
	int *path_found;
	int root_fd;
	int as_root;
	/* New files get the euid and egid (the target is not set-group-ID):
	 * a file owned so needs no fchown. */
	int plain_owner;
	uid_t euid;
	gid_t egid;
	char **written;		/* sorted paths of files written (for links) */
	size_t nr_written, alloc_written;
	int written_dirty;
	struct strbuf path;	/* the walk's current path */
	struct deferred_link *links;
	size_t nr_links, alloc_links;
	/* the file-writing threads and their queue */
	pthread_t threads[THREADS_MAX];
	int nr_threads;
	pthread_mutex_t lock;
	pthread_cond_t work, room;
	struct job *head, *tail;
	unsigned queued;
	int stop;
	int failed;
	struct strbuf err;
};

static enum selected selected(struct checkout *c, const char *path, size_t len)
{
	size_t i;
	enum selected best = SEL_NONE;

	if (!c->opts || !c->opts->nr_paths)
		return SEL_ALL;
	for (i = 0; i < c->opts->nr_paths; i++) {
		const char *p = c->opts->paths[i];
		size_t pl = strlen(p);

		if (len >= pl && !memcmp(path, p, pl) && (len == pl || path[pl] == '/')) {
			c->path_found[i] = 1;
			return SEL_ALL;
		}
		if (pl > len && !memcmp(path, p, len) && p[len] == '/')
			best = SEL_ANCESTOR;
	}
	return best;
}

static void set_path(struct checkout *c, size_t base, const struct tree_entry *e)
{
	strbuf_setlen(&c->path, base);
	if (base)
		strbuf_addch(&c->path, '/');
	strbuf_add(&c->path, e->name, e->name_len);
}

/*
 * Moves c->path to the entry; 1 if the PATH selection leaves it out (an
 * entry that is neither selected nor a directory above a selected path).
 */
static int skip_entry(struct checkout *c, size_t base, const struct tree_entry *e)
{
	enum selected sel;

	set_path(c, base, e);
	sel = selected(c, c->path.buf, c->path.len);
	return sel == SEL_NONE || (sel == SEL_ANCESTOR && e->type != TREE_DIR);
}

static int read_tree(struct checkout *c, const struct snap_oid *oid,
		     struct tree *t, struct strbuf *err)
{
	struct strbuf buf = STRBUF_INIT;
	enum object_type type;
	int ret;

	ret = odb_read(c->odb, oid, &type, &buf, TREE_MAX_SIZE, err);
	if (ret == 0 && type != OBJ_TREE)
		ret = snap_error(err, SNAP_EINVAL, "object '%s' is a %s, not a tree",
				 oid_to_hex(oid), type_name(type));
	if (ret == 0) {
		ret = tree_parse(t, buf.buf, buf.len, err);
		if (ret < 0)
			strbuf_addf(err, " (tree '%s')", oid_to_hex(oid));
	}
	strbuf_release(&buf);
	return ret;
}

/*
 * Pass 1: parse every tree to be restored and list missing objects.
 * Iterative over an explicit stack, so depth costs no C stack.
 */
struct pending_tree {
	struct snap_oid oid;
	char *path;
};

static int check_all(struct checkout *c, const struct snap_oid *root,
		     struct strbuf *err)
{
	struct pending_tree *stack = NULL;
	size_t nr = 0, alloc = 0, nr_missing = 0, i;
	struct strbuf missing = STRBUF_INIT;
	int ret = 0;

	ALLOC_GROW(stack, 1, alloc);
	stack[nr].oid = *root;
	stack[nr++].path = xstrdup("");
	while (nr && ret == 0) {
		struct pending_tree top = stack[--nr];
		struct tree t = TREE_INIT;
		size_t base = strlen(top.path);

		strbuf_reset(&c->path);
		strbuf_addstr(&c->path, top.path);
		ret = read_tree(c, &top.oid, &t, err);
		for (i = 0; ret == 0 && i < t.nr; i++) {
			const struct tree_entry *e = &t.entries[i];

			if (skip_entry(c, base, e))
				continue;
			if (e->type == TREE_DIR && odb_has(c->odb, &e->oid)) {
				ALLOC_GROW(stack, nr + 1, alloc);
				stack[nr].oid = e->oid;
				stack[nr++].path = xstrdup(c->path.buf);
				continue;
			}
			if (e->type != TREE_DIR && e->type != TREE_FILE &&
			    e->type != TREE_SYMLINK)
				continue;
			if (e->type != TREE_DIR && odb_has(c->odb, &e->oid))
				continue;
			if (nr_missing++ < 100)
				strbuf_addf(&missing, "%s%s", nr_missing > 1 ? ", " : "",
					    oid_to_hex(&e->oid));
		}
		tree_release(&t);
		free(top.path);
	}
	while (nr)
		free(stack[--nr].path);
	free(stack);
	if (ret == 0 && nr_missing)
		ret = snap_error(err, SNAP_ENOTFOUND,
				 "cannot restore: %zu missing object%s: %s%s", nr_missing,
				 nr_missing > 1 ? "s" : "", missing.buf,
				 nr_missing > 100 ? ", ..." : "");
	for (i = 0; ret == 0 && c->opts && i < c->opts->nr_paths; i++)
		if (!c->path_found[i])
			ret = snap_error(err, SNAP_ENOTFOUND, "path '%s' is not in the tree",
					 c->opts->paths[i]);
	strbuf_release(&missing);
	return ret;
}

static const char *shown(struct checkout *c)
{
	return c->path.buf;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Records that this restore writes the file at c->path (for hard links). */
static void note_written(struct checkout *c)
{
	ALLOC_GROW(c->written, c->nr_written + 1, c->alloc_written);
	c->written[c->nr_written++] = xstrdup(c->path.buf);
	c->written_dirty = 1;
}

static int was_written(struct checkout *c, const char *path)
{
	/* Walk order is not byte order across levels: sort when asked. */
	if (c->written_dirty) {
		QSORT(c->written, c->nr_written, cmp_str);
		c->written_dirty = 0;
	}
	return c->nr_written && bsearch(&path, c->written, c->nr_written,
					sizeof(*c->written), cmp_str) != NULL;
}

static unsigned final_perm(const struct checkout *c, const struct tree_entry *e)
{
	unsigned perm = e->perm;

	if (!c->opts || !c->opts->keep_setuid)
		perm &= ~(unsigned)(S_ISUID | S_ISGID);
	return perm;
}

static void entry_times(const struct tree_entry *e, struct timespec ts[2])
{
	ts[0].tv_sec = ts[1].tv_sec = (time_t)e->mtime_sec;
	ts[0].tv_nsec = ts[1].tv_nsec = e->mtime_nsec;
}

static int apply_meta(const struct checkout *c, int fd, const struct tree_entry *e,
		      const char *path, struct strbuf *err)
{
	struct timespec ts[2];

	if (c->as_root && fchown(fd, e->uid, e->gid) < 0)
		return snap_error_errno(err, "cannot set the owner of '%s'", path);
	if (fchmod(fd, final_perm(c, e)) < 0)
		return snap_error_errno(err, "cannot set the mode of '%s'", path);
	entry_times(e, ts);
	if (futimens(fd, ts) < 0)
		return snap_error_errno(err, "cannot set the times of '%s'", path);
	return 0;
}

static int write_blob(struct checkout *c, int fd, const struct tree_entry *e,
		      const char *path, char *buf, struct strbuf *err)
{
	struct odb_stream *st;
	enum object_type type;
	uint64_t size;
	size_t got;
	int ret;

	ret = odb_stream_open(c->odb, &e->oid, &st, &type, &size, err);
	if (ret < 0)
		return ret;
	if (type != OBJ_BLOB || size != e->size) {
		odb_stream_close(st);
		return snap_error(err, SNAP_ECORRUPT,
				  "tree entry '%s' does not match its object '%s' (%s of %llu bytes)",
				  path, oid_to_hex(&e->oid), type_name(type),
				  (unsigned long long)size);
	}
	do {
		ret = odb_stream_read(st, buf, IO_BUF, &got, err);
		if (ret == 0 && got && write_all(fd, buf, got) < 0)
			ret = snap_error_errno(err, "cannot write '%s'", path);
	} while (ret == 0 && got);
	odb_stream_close(st);
	return ret;
}

/*
 * Directories being filled.  A directory's own mode and times are set when
 * the walk has left it and the last file job in it is done, since each
 * new entry changes its mtime.
 */
struct dirstate {
	int fd;
	unsigned pending;	/* file jobs not yet finished */
	int walked;		/* the walk has left it */
	int has_meta;		/* 0 for the target itself */
	struct tree_entry meta;
	char *path;
};

struct job {
	struct job *next;
	struct dirstate *dir;
	struct tree_entry e;	/* name owned by the job */
	char *path;
};

/* Finishes a directory whose walk and jobs are all done. */
static int dir_finish(struct checkout *c, struct dirstate *d, struct strbuf *err)
{
	int ret = 0;

	if (d->has_meta)
		ret = apply_meta(c, d->fd, &d->meta, d->path, err);
	close(d->fd);
	free(d->path);
	free(d);
	return ret;
}

static void pool_fail(struct checkout *c, const struct strbuf *err)
{
	pthread_mutex_lock(&c->lock);
	if (!c->failed) {
		c->failed = 1;
		strbuf_addbuf(&c->err, err);
	}
	pthread_mutex_unlock(&c->lock);
}

/*
 * Whether a new file made with its final mode (the umask is 0 during a
 * checkout) already has its owner and mode, so that only its times are
 * left to set: not when it must change owner, nor when it has set-user-
 * or set-group-ID bits, which a change of owner or a write may clear.
 */
static int born_right(const struct checkout *c, const struct tree_entry *e)
{
	if (final_perm(c, e) & (S_ISUID | S_ISGID))
		return 0;
	return !c->as_root || (c->plain_owner && e->uid == c->euid && e->gid == c->egid);
}

/* Creates and fills one file. */
static int run_job(struct checkout *c, struct job *j, char *buf, struct strbuf *err)
{
	int fd, ret, right = born_right(c, &j->e);

	fd = openat(j->dir->fd, j->e.name,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		    right ? final_perm(c, &j->e) : 0600);
	if (fd < 0)
		return snap_error_errno(err, "cannot create '%s'", j->path);
	ret = write_blob(c, fd, &j->e, j->path, buf, err);
	if (ret == 0 && right) {
		struct timespec ts[2];

		entry_times(&j->e, ts);
		if (futimens(fd, ts) < 0)
			ret = snap_error_errno(err, "cannot set the times of '%s'", j->path);
	} else if (ret == 0) {
		ret = apply_meta(c, fd, &j->e, j->path, err);
	}
	if (close(fd) < 0 && ret == 0)
		ret = snap_error_errno(err, "cannot write '%s'", j->path);
	return ret;
}

/* Marks one job of d done; finishes d if it was the last. */
static void job_done(struct checkout *c, struct dirstate *d, struct strbuf *err)
{
	int last;

	pthread_mutex_lock(&c->lock);
	last = --d->pending == 0 && d->walked;
	pthread_mutex_unlock(&c->lock);
	if (last && dir_finish(c, d, err) < 0)
		pool_fail(c, err);
}

static void *worker(void *arg)
{
	struct checkout *c = arg;
	struct strbuf err = STRBUF_INIT;
	char *buf = xmalloc_io(IO_BUF);

	for (;;) {
		struct job *j;

		pthread_mutex_lock(&c->lock);
		while (!c->head && !c->stop)
			pthread_cond_wait(&c->work, &c->lock);
		j = c->head;
		if (j) {
			c->head = j->next;
			if (!c->head)
				c->tail = NULL;
			c->queued--;
			pthread_cond_signal(&c->room);
		}
		pthread_mutex_unlock(&c->lock);
		if (!j)
			break;
		strbuf_reset(&err);
		if (!c->failed && run_job(c, j, buf, &err) < 0)
			pool_fail(c, &err);
		strbuf_reset(&err);
		job_done(c, j->dir, &err);
		free(j->e.name);
		free(j->path);
		free(j);
	}
	free(buf);
	strbuf_release(&err);
	return NULL;
}

static void queue_job(struct checkout *c, struct dirstate *d, const struct tree_entry *e)
{
	struct job *j = xcalloc(1, sizeof(*j));

	j->dir = d;
	j->e = *e;
	j->e.name = xstrndup(e->name, e->name_len);
	j->e.link = NULL;
	j->path = xstrdup(c->path.buf);
	pthread_mutex_lock(&c->lock);
	d->pending++;
	while (c->queued >= QUEUE_MAX)
		pthread_cond_wait(&c->room, &c->lock);
	if (c->tail)
		c->tail->next = j;
	else
		c->head = j;
	c->tail = j;
	c->queued++;
	pthread_cond_signal(&c->work);
	pthread_mutex_unlock(&c->lock);
}

/* A hard link, made once every file is written. */
struct deferred_link {
	char *dir;	/* relative path of the directory to hold it */
	char *name;
	char *target;	/* relative path of the file it links to */
};

static int restore_file(struct checkout *c, struct dirstate *d,
			const struct tree_entry *e, struct strbuf *err)
{
	if (e->link && was_written(c, e->link)) {
		struct deferred_link *l;
		size_t dl = c->path.len - e->name_len;

		ALLOC_GROW(c->links, c->nr_links + 1, c->alloc_links);
		l = &c->links[c->nr_links++];
		l->dir = xstrndup(c->path.buf, dl ? dl - 1 : 0);
		l->name = xstrndup(e->name, e->name_len);
		l->target = xstrndup(e->link, e->link_len);
		return 0;
	}
	(void)err;
	note_written(c);
	queue_job(c, d, e);
	return 0;
}

static int restore_symlink(struct checkout *c, int dfd, const struct tree_entry *e,
			   struct strbuf *err)
{
	struct strbuf target = STRBUF_INIT;
	struct timespec ts[2];
	enum object_type type;
	int ret;

	ret = odb_read(c->odb, &e->oid, &type, &target, SYMLINK_MAX, err);
	if (ret == 0 && (type != OBJ_BLOB || target.len != e->size ||
			 memchr(target.buf, '\0', target.len)))
		ret = snap_error(err, SNAP_ECORRUPT, "bad symlink target for '%s'", shown(c));
	if (ret == 0 && symlinkat(target.buf, dfd, e->name) < 0)
		ret = snap_error_errno(err, "cannot create symlink '%s'", shown(c));
	if (ret == 0 && c->as_root &&
	    fchownat(dfd, e->name, e->uid, e->gid, AT_SYMLINK_NOFOLLOW) < 0)
		ret = snap_error_errno(err, "cannot set the owner of '%s'", shown(c));
	entry_times(e, ts);
	if (ret == 0 && utimensat(dfd, e->name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		ret = snap_error_errno(err, "cannot set the times of '%s'", shown(c));
	strbuf_release(&target);
	return ret;
}

static void warnf(struct checkout *c, const char *what)
{
	struct strbuf msg = STRBUF_INIT;

	if (!c->opts || !c->opts->warn)
		return;
	strbuf_addf(&msg, "skipping %s '%s'", what, shown(c));
	c->opts->warn(msg.buf, c->opts->warn_data);
	strbuf_release(&msg);
}

static int restore_node(struct checkout *c, int dfd, const struct tree_entry *e,
			struct strbuf *err)
{
	struct timespec ts[2];
	dev_t dev = 0;
	mode_t type = S_IFIFO;
	int fd, ret = 0;

	if (e->type != TREE_FIFO) {
		if (!c->opts || !c->opts->devices) {
			warnf(c, "device");
			return 0;
		}
		type = e->type == TREE_CHR ? S_IFCHR : S_IFBLK;
		dev = makedev(e->rdev_major, e->rdev_minor);
	}
	if (mknodat(dfd, e->name, type | 0600, dev) < 0)
		return snap_error_errno(err, "cannot create '%s'", shown(c));
	/* A fifo or device must not be opened for I/O: use an O_PATH handle. */
	fd = openat(dfd, e->name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return snap_error_errno(err, "cannot open '%s'", shown(c));
	if (c->as_root && fchownat(dfd, e->name, e->uid, e->gid, AT_SYMLINK_NOFOLLOW) < 0)
		ret = snap_error_errno(err, "cannot set the owner of '%s'", shown(c));
	if (ret == 0 && fchmodat(dfd, e->name, final_perm(c, e), 0) < 0)
		ret = snap_error_errno(err, "cannot set the mode of '%s'", shown(c));
	entry_times(e, ts);
	if (ret == 0 && utimensat(dfd, e->name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		ret = snap_error_errno(err, "cannot set the times of '%s'", shown(c));
	close(fd);
	return ret;
}

static int restore_dir(struct checkout *c, struct dirstate *d, const struct snap_oid *oid,
		       struct strbuf *err);

static int restore_subdir(struct checkout *c, int dfd, const struct tree_entry *e,
			  struct strbuf *err)
{
	struct dirstate *d;
	int ret, fd, last;

	if (mkdirat(dfd, e->name, 0700) < 0)
		return snap_error_errno(err, "cannot create directory '%s'", shown(c));
	fd = openat(dfd, e->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return snap_error_errno(err, "cannot open directory '%s'", shown(c));
	d = xcalloc(1, sizeof(*d));
	d->fd = fd;
	d->has_meta = 1;
	d->meta = *e;
	d->meta.name = NULL;
	d->meta.link = NULL;
	d->path = xstrdup(shown(c));
	ret = restore_dir(c, d, &e->oid, err);
	pthread_mutex_lock(&c->lock);
	d->walked = 1;
	last = d->pending == 0;
	pthread_mutex_unlock(&c->lock);
	if (last) {
		int r = dir_finish(c, d, err);
		if (ret == 0)
			ret = r;
	}
	return ret;
}

static int restore_entry(struct checkout *c, struct dirstate *d,
			 const struct tree_entry *e, struct strbuf *err)
{
	switch (e->type) {
	case TREE_FILE:
		return restore_file(c, d, e, err);
	case TREE_SYMLINK:
		return restore_symlink(c, d->fd, e, err);
	case TREE_FIFO:
	case TREE_CHR:
	case TREE_BLK:
		return restore_node(c, d->fd, e, err);
	case TREE_DIR:
		break;
	}
	return restore_subdir(c, d->fd, e, err);
}

static int restore_dir(struct checkout *c, struct dirstate *d, const struct snap_oid *oid,
		       struct strbuf *err)
{
	struct tree t = TREE_INIT;
	size_t base = c->path.len, i;
	int ret;

	ret = read_tree(c, oid, &t, err);
	for (i = 0; ret == 0 && !c->failed && i < t.nr; i++) {
		const struct tree_entry *e = &t.entries[i];

		if (skip_entry(c, base, e))
			continue;
		ret = restore_entry(c, d, e, err);
	}
	strbuf_setlen(&c->path, base);
	tree_release(&t);
	return ret;
}

/*
 * Opens a directory this restore made, one component at a time, never
 * following a symlink.
 */
static int open_made_dir(struct checkout *c, const char *path, struct strbuf *err)
{
	int fd = dup(c->root_fd);
	const char *p = path;

	while (fd >= 0 && *p) {
		const char *slash = strchrnul(p, '/');
		char *name = xstrndup(p, (size_t)(slash - p));
		int sub = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

		free(name);
		close(fd);
		fd = sub;
		p = *slash ? slash + 1 : slash;
	}
	if (fd < 0)
		snap_error_errno(err, "cannot open directory '%s'", path);
	return fd;
}

/* Makes the deferred hard links, then puts back their directories' times. */
static int make_links(struct checkout *c, struct strbuf *err)
{
	size_t i;
	int ret = 0;

	for (i = 0; ret == 0 && i < c->nr_links; i++) {
		struct deferred_link *l = &c->links[i];
		int dfd = open_made_dir(c, l->dir, err);
		struct stat st;

		if (dfd < 0)
			return SNAP_EIO;
		if (fstat(dfd, &st) < 0 ||
		    linkat(c->root_fd, l->target, dfd, l->name, 0) < 0) {
			ret = snap_error_errno(err, "cannot link '%s%s%s' to '%s'", l->dir,
					       *l->dir ? "/" : "", l->name, l->target);
		} else if (*l->dir) {
			struct timespec ts[2] = { st.st_atim, st.st_mtim };
			if (futimens(dfd, ts) < 0)
				ret = snap_error_errno(err, "cannot set the times of '%s'", l->dir);
		}
		close(dfd);
	}
	return ret;
}

static void pool_start(struct checkout *c)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int n = c->opts && c->opts->jobs > 0 ? c->opts->jobs : cpus > 0 ? (int)cpus : 1;

	if (n > THREADS_MAX)
		n = THREADS_MAX;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->work, NULL);
	pthread_cond_init(&c->room, NULL);
	strbuf_init(&c->err, 0);
	for (c->nr_threads = 0; c->nr_threads < n; c->nr_threads++)
		if (pthread_create(&c->threads[c->nr_threads], NULL, worker, c))
			break;
	if (!c->nr_threads)
		BUG("cannot start a restore thread");
}

/* Lets the workers finish the queue and stops them. */
static int pool_stop(struct checkout *c, struct strbuf *err)
{
	int i, ret = 0;

	pthread_mutex_lock(&c->lock);
	c->stop = 1;
	pthread_cond_broadcast(&c->work);
	pthread_mutex_unlock(&c->lock);
	for (i = 0; i < c->nr_threads; i++)
		pthread_join(c->threads[i], NULL);
	if (c->failed) {
		strbuf_reset(err);
		strbuf_addbuf(err, &c->err);
		ret = SNAP_EIO;
	}
	strbuf_release(&c->err);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->work);
	pthread_cond_destroy(&c->room);
	return ret;
}

static int open_target(const char *dir, struct strbuf *err)
{
	struct dirent *de;
	DIR *d;
	int fd;

	if (mkdir(dir, 0777) < 0 && errno != EEXIST)
		return snap_error_errno(err, "cannot create directory '%s'", dir);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return snap_error_errno(err, "cannot open directory '%s'", dir);
	d = fdopendir(dup(fd));
	if (!d) {
		close(fd);
		return snap_error_errno(err, "cannot read directory '%s'", dir);
	}
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			closedir(d);
			close(fd);
			return snap_error(err, SNAP_EEXISTS,
					  "directory '%s' is not empty", dir);
		}
	}
	closedir(d);
	return fd;
}

/* Normalises a user's path: no leading "./" or '/', no trailing '/'. */
static char *clean_path(const char *p)
{
	size_t len;

	while (p[0] == '.' && p[1] == '/')
		p += 2;
	while (*p == '/')
		p++;
	len = strlen(p);
	while (len && p[len - 1] == '/')
		len--;
	return xstrndup(p, len);
}

int checkout_tree(struct odb *odb, const struct snap_oid *tree,
		  const char *dir, const struct checkout_opts *opts,
		  struct strbuf *err)
{
	struct checkout c;
	struct checkout_opts o;
	struct strbuf ignored = STRBUF_INIT;
	struct dirstate *root;
	char **paths = NULL;
	size_t i;
	int ret, r, last;
	mode_t old_umask;

	memset(&c, 0, sizeof(c));
	memset(&o, 0, sizeof(o));
	if (opts)
		o = *opts;
	c.odb = odb;
	c.opts = &o;
	strbuf_init(&c.path, 0);
	c.as_root = o.same_owner && geteuid() == 0;
	if (o.nr_paths) {
		paths = xcalloc(o.nr_paths, sizeof(*paths));
		for (i = 0; i < o.nr_paths; i++) {
			paths[i] = clean_path(o.paths[i]);
			if (!tree_path_ok(paths[i], strlen(paths[i]))) {
				ret = snap_error(err, SNAP_EINVAL, "invalid path '%s'", o.paths[i]);
				goto out;
			}
		}
		o.paths = (const char *const *)paths;
	}
	c.path_found = xcalloc(o.nr_paths + 1, sizeof(int));
	raise_fd_limit();

	ret = check_all(&c, tree, err);
	if (ret < 0)
		goto out;
	c.root_fd = open_target(dir, err);
	if (c.root_fd < 0) {
		ret = c.root_fd;
		goto out;
	}
	{
		struct stat st;
		c.euid = geteuid();
		c.egid = getegid();
		c.plain_owner = fstat(c.root_fd, &st) == 0 && !(st.st_mode & S_ISGID);
	}
	old_umask = umask(0);
	root = xcalloc(1, sizeof(*root));
	root->fd = dup(c.root_fd);
	root->path = xstrdup(".");
	strbuf_reset(&c.path);
	pool_start(&c);
	ret = restore_dir(&c, root, tree, err);
	pthread_mutex_lock(&c.lock);
	root->walked = 1;
	last = root->pending == 0;
	pthread_mutex_unlock(&c.lock);
	if (last)
		dir_finish(&c, root, err);
	r = pool_stop(&c, ret < 0 ? &ignored : err);
	if (ret == 0)
		ret = r;
	if (ret == 0)
		ret = make_links(&c, err);
	close(c.root_fd);
	umask(old_umask);
out:
	for (i = 0; i < c.nr_written; i++)
		free(c.written[i]);
	free(c.written);
	for (i = 0; i < c.nr_links; i++) {
		free(c.links[i].dir);
		free(c.links[i].name);
		free(c.links[i].target);
	}
	free(c.links);
	strbuf_release(&ignored);
	for (i = 0; paths && i < o.nr_paths; i++)
		free(paths[i]);
	free(paths);
	free(c.path_found);
	strbuf_release(&c.path);
	return ret;
}
