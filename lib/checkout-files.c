/*
 * The files of a restore (checkout-internal.h), created and filled by
 * worker threads: each job holds a descriptor of the directory made for
 * it and the entry; the walk goes on meanwhile.
 */
#include "checkout-internal.h"
#include "error.h"
#include "progress.h"
#include "util.h"
#include "workqueue.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HOLE_BLOCK 4096

static int all_zero(const char *p, size_t n)
{
	return !n || (!p[0] && !memcmp(p, p + 1, n - 1));
}

/*
 * Writes len bytes at offset *off of a new file, leaving out the blocks
 * (HOLE_BLOCK, aligned in the file) that are all zeros: they stay holes,
 * which the final size (ftruncate) completes.
 */
static int write_holes(int fd, const char *buf, size_t len, uint64_t *off)
{
	size_t i = 0, j, n;

	while (i < len) {
		n = HOLE_BLOCK - (size_t)((*off + i) % HOLE_BLOCK);
		if (n > len - i)
			n = len - i;
		if (all_zero(buf + i, n)) {
			i += n;
			continue;
		}
		for (j = i + n; j < len; j += n) {
			n = len - j < HOLE_BLOCK ? len - j : HOLE_BLOCK;
			if (all_zero(buf + j, n))
				break;
		}
		if (lseek(fd, (off_t)(*off + i), SEEK_SET) < 0 || write_all(fd, buf + i, j - i) < 0)
			return -1;
		i = j;
	}
	*off += len;
	return 0;
}

static int write_blob(struct checkout *c, int fd, const struct tree_entry *e,
		      const char *path, char *buf, struct strbuf *err)
{
	uint64_t off = 0;
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
		if (ret == 0 && got && (e->sparse ? write_holes(fd, buf, got, &off)
						  : write_all(fd, buf, got)) < 0)
			ret = checkout_write_error(c, err, "cannot write", path);
	} while (ret == 0 && got);
	odb_stream_close(st);
	if (ret == 0 && e->sparse && ftruncate(fd, (off_t)e->size) < 0)
		ret = checkout_write_error(c, err, "cannot write", path);
	return ret;
}

/* A file to write: its directory's descriptor is the job's own. */
struct job {
	int dfd;
	struct tree_entry e;	/* name owned by the job */
	char *path;
	struct link_target *target;	/* where to note its inode, or NULL */
};

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
	if (e->has_xattrs && wants_xattrs(c))
		return 0;	/* an ACL may change the mode: it is set after */
	return !c->as_root || (c->plain_owner && checkout_uid(c, e) == c->euid &&
					 checkout_gid(c, e) == c->egid);
}

/* Creates and fills one file. */
static int run_job(struct checkout *c, struct job *j, char *buf, struct strbuf *err)
{
	int fd, ret, right = born_right(c, &j->e);

	/* Hard links to it come later: its flags wait for them. */
	if (j->target) {
		j->target->flags = j->e.flags;
		j->e.flags = 0;
	}

	fd = openat(j->dfd, j->e.name,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		    right ? final_perm(c, &j->e) : 0600);
	if (fd < 0)
		return checkout_write_error(c, err, "cannot create", j->path);
	ret = write_blob(c, fd, &j->e, j->path, buf, err);
	if (ret == 0 && right) {
		struct timespec ts[2];

		entry_times(&j->e, ts);
		if (futimens(fd, ts) < 0)
			ret = checkout_write_error(c, err, "cannot set the times of", j->path);
		else
			ret = checkout_set_flags(c, fd, &j->e, j->path, 0);
	} else if (ret == 0) {
		ret = checkout_set_meta(c, fd, &j->e, j->path, 0, err);
	}
	if (ret == 0 && j->target) {
		struct stat st;

		if (fstat(fd, &st) < 0) {
			ret = snap_error_errno(err, "cannot stat '%s'", j->path);
		} else {
			j->target->dev = st.st_dev;
			j->target->ino = st.st_ino;
		}
	}
	if (close(fd) < 0 && ret == 0)
		ret = checkout_write_error(c, err, "cannot write", j->path);
	return ret;
}

/* A worker's job (workqueue.h): local is the worker's I/O buffer. */
static int write_job(void *job, void *local, void *data, struct strbuf *err)
{
	struct checkout *c = data;
	struct job *j = job;
	int ret = run_job(c, j, local, err);

	if (ret == 0 && c->meter) {
		pthread_mutex_lock(&c->meter_lock);
		c->files_done++;
		c->bytes_done += j->e.size;
		pthread_mutex_unlock(&c->meter_lock);
	}
	return ret;
}

static void free_job(void *job, int ran, void *data)
{
	struct job *j = job;

	(void)ran;
	(void)data;
	close(j->dfd);
	free(j->e.name);
	free(j->path);
	free(j);
}

static int queue_job(struct checkout *c, const struct tree_entry *e,
		     struct link_target *target, struct strbuf *err)
{
	struct job *j;
	uint64_t files, bytes;
	int ret, dfd = fcntl(c->cur_fd, F_DUPFD_CLOEXEC, 0);

	if (dfd < 0)
		return checkout_write_error(c, err, "cannot write", shown(c));
	j = xcalloc(1, sizeof(*j));
	j->dfd = dfd;
	j->e = *e;
	j->e.name = xstrndup(e->name, e->name_len);
	j->e.link = NULL;
	j->path = xstrdup(c->path.buf);
	j->target = target;
	/* A failed job's code and message come back here (stop_on_failure). */
	ret = workqueue_submit(c->wq, j, 1, err);
	pthread_mutex_lock(&c->meter_lock);
	files = c->files_done;
	bytes = c->bytes_done;
	pthread_mutex_unlock(&c->meter_lock);
	progress_update(c->meter, files, bytes);
	return ret;
}

int checkout_restore_file(struct checkout *c, const struct tree_entry *e, struct strbuf *err)
{
	struct link_target *t = e->link ? checkout_find_target(c, e->link) : NULL;

	/* Pass 1 refused a link to other bytes; never make one regardless. */
	if (t && t->written && !oid_cmp(&t->oid, &e->oid)) {
		struct deferred_link *l;

		ALLOC_GROW(c->links, c->nr_links + 1, c->alloc_links);
		l = &c->links[c->nr_links++];
		l->dir = c->cur_dir;
		l->name = xstrndup(e->name, e->name_len);
		l->target = t;
		return 0;
	}
	t = checkout_find_target(c, c->path.buf);
	if (t)
		t->written = 1;
	return queue_job(c, e, t, err);
}

/*
 * Starts the file-writing threads: at most QUEUE_MAX files (each with a
 * descriptor of its directory) wait for them, and the first file that
 * fails stops the rest.
 */
void checkout_pool_start(struct checkout *c)
{
	struct workqueue_opts wo = {
		.jobs = c->opts ? c->opts->jobs : 0,
		.stop_on_failure = 1,
		.max_cost = QUEUE_MAX,
		.run = write_job,
		.release = free_job,
		.buffer_size = IO_BUF,
		.data = c,
	};

	pthread_mutex_init(&c->meter_lock, NULL);
	c->meter = progress_start("files", 0);
	c->wq = workqueue_start(&wo);
}

/*
 * Lets the workers finish the queue and stops them; returns the first
 * failure of a file, with its own code (a corrupt blob is SNAP_ECORRUPT).
 */
int checkout_pool_stop(struct checkout *c, struct strbuf *err)
{
	struct strbuf msg = STRBUF_INIT;
	int ret = workqueue_finish(c->wq, &msg);

	c->wq = NULL;
	progress_update(c->meter, c->files_done, c->bytes_done);
	progress_done(c->meter);
	c->meter = NULL;
	if (ret < 0) {
		strbuf_reset(err);
		strbuf_addbuf(err, &msg);
	}
	strbuf_release(&msg);
	pthread_mutex_destroy(&c->meter_lock);
	return ret;
}
