#include "lockfile.h"
#include "error.h"
#include "fsio.h"
#include "session.h"
#include "util.h"
#include "storefs.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The error for a lock that could not be made: held (EEXIST), or not. */
static int lock_exists_error(const char *lock_path, struct strbuf *err)
{
	struct stat st;
	long age;

	if (errno != EEXIST)
		return snap_error_errno(err, "cannot create '%s'", lock_path);
	age = stat(lock_path, &st) == 0 ? (long)(time(NULL) - st.st_mtime) : 0;
	return snap_error(err, SNAP_ELOCKED,
			  "'%s' exists (age %ld s); if no snap process "
			  "is using the store, remove it", lock_path, age);
}

int lock_take(struct lockfile *lk, const char *path, struct strbuf *err)
{
	struct strbuf lp = STRBUF_INIT;

	memset(lk, 0, sizeof(*lk));
	lk->fd = -1;
	strbuf_addf(&lp, "%s.lock", path);
	if (fsio_mkdirs_for(lp.buf) < 0) {
		int ret = snap_error_errno(err, "cannot create the directory of '%s'", path);
		strbuf_release(&lp);
		return ret;
	}
	lk->fd = fsio_open(lp.buf, O_WRONLY | O_CREAT | O_EXCL, 0666);
	if (lk->fd < 0) {
		int ret;
		ret = lock_exists_error(lp.buf, err);
		strbuf_release(&lp);
		return ret;
	}
	lk->path = xstrdup(path);
	lk->lock_path = strbuf_detach(&lp, NULL);
	return 0;
}

int lock_write(struct lockfile *lk, const void *buf, size_t len, struct strbuf *err)
{
	if (fsio_write(lk->fd, buf, len) < 0)
		return snap_error_errno(err, "cannot write '%s'", lk->lock_path);
	return 0;
}

int lock_commit(struct lockfile *lk, struct strbuf *err)
{
	int ret = 0;

	if (fsio_fsync(lk->fd) < 0)
		ret = snap_error_errno(err, "cannot sync '%s'", lk->lock_path);
	if (fsio_close(lk->fd) < 0 && ret == 0)
		ret = snap_error_errno(err, "cannot write '%s'", lk->lock_path);
	lk->fd = -1;
	if (ret == 0 && fsio_rename(lk->lock_path, lk->path) < 0)
		ret = snap_error_errno(err, "cannot rename '%s' to '%s'", lk->lock_path, lk->path);
	if (ret == 0 && fsio_fsync_parent(lk->path) < 0)
		ret = snap_error_errno(err, "cannot sync the directory of '%s'", lk->path);
	if (ret < 0)
		lock_rollback(lk);
	else {
		free(lk->path);
		free(lk->lock_path);
		memset(lk, 0, sizeof(*lk));
		lk->fd = -1;
	}
	return ret;
}

void lock_rollback(struct lockfile *lk)
{
	if (lk->fd >= 0)
		close(lk->fd);
	if (lk->lock_path)
		storefs_unlink(lk->lock_path);
	free(lk->path);
	free(lk->lock_path);
	memset(lk, 0, sizeof(*lk));
	lk->fd = -1;
}

/* The kernel's boot id, or "-" where there is none to read. */
static const char *boot_id(void)
{
	static char id[64];
	struct strbuf sb = STRBUF_INIT;

	if (id[0])
		return id;
	memcpy(id, "-", 2);
	if (strbuf_read_file(&sb, "/proc/sys/kernel/random/boot_id", 256) == 0) {
		size_t n = strspn(sb.buf, "0123456789abcdef-");
		if (n > 0 && n < sizeof(id)) {
			memcpy(id, sb.buf, n);
			id[n] = '\0';
		}
	}
	strbuf_release(&sb);
	return id;
}

void lock_holder_line(struct strbuf *out)
{
	strbuf_reset(out);
	strbuf_addf(out, "%ld %s %lld %s\n", (long)getpid(), local_host(),
		    (long long)time(NULL), boot_id());
}

int lock_hold(struct lockfile *lk, const char *path, const char *holder,
	      struct strbuf *err)
{
	struct strbuf lp = STRBUF_INIT, dir = STRBUF_INIT, prefix = STRBUF_INIT,
		      tmp = STRBUF_INIT;
	const char *slash;
	int fd, ret = 0;

	memset(lk, 0, sizeof(*lk));
	lk->fd = -1;
	strbuf_addf(&lp, "%s.lock", path);
	slash = strrchr(lp.buf, '/');
	if (slash)
		strbuf_add(&dir, lp.buf, (size_t)(slash - lp.buf));
	else
		strbuf_addch(&dir, '.');
	strbuf_addf(&prefix, ".%s-", slash ? slash + 1 : lp.buf);
	if (fsio_mkdirs_for(lp.buf) < 0) {
		ret = snap_error_errno(err, "cannot create the directory of '%s'", path);
		goto out;
	}
	/*
	 * The holder line goes into a file of its own, linked into place
	 * whole: a lock is never seen empty, even after a crash between its
	 * making and its writing, so no young empty lock blocks the next
	 * writer (link fails with EEXIST as O_EXCL would).
	 */
	fd = fsio_mktemp(dir.buf, prefix.buf, &tmp);
	if (fd < 0) {
		ret = snap_error_errno(err, "cannot create a lock file in '%s'", dir.buf);
		goto out;
	}
	if (fsio_write(fd, holder, strlen(holder)) < 0) {
		ret = snap_error_errno(err, "cannot write '%s'", tmp.buf);
		fsio_close(fd);
		storefs_unlink(tmp.buf);
		goto out;
	}
	fsio_close(fd);
	if (fsio_link(tmp.buf, lp.buf) < 0) {
		ret = lock_exists_error(lp.buf, err);
		storefs_unlink(tmp.buf);
		goto out;
	}
	storefs_unlink(tmp.buf);
	lk->path = xstrdup(path);
	lk->lock_path = strbuf_detach(&lp, NULL);
out:
	strbuf_release(&lp);
	strbuf_release(&dir);
	strbuf_release(&prefix);
	strbuf_release(&tmp);
	return ret;
}

int lock_holder_gone(const char *text, size_t len, struct lock_holder *h)
{
	char host[256], boot[64];
	long pid = 0;
	long long since = 0;
	int n = 0;

	memset(h, 0, sizeof(*h));
	host[0] = boot[0] = '\0';
	if (len && text[len - 1] == '\n' && !memchr(text, '\0', len) && len < 1024)
		n = sscanf(text, "%ld %255s %lld %63s", &pid, host, &since, boot);
	if (n < 3 || pid <= 0)
		return -1;
	h->pid = pid;
	snprintf(h->host, sizeof(h->host), "%s", host);
	if (strcmp(host, local_host()))
		return 0;
	if (n == 4 && strcmp(boot, "-") && strcmp(boot_id(), "-") && strcmp(boot, boot_id()))
		return 1;
	return process_gone(pid);
}

int lock_is_stale(const char *lock_path, struct strbuf *holder, struct strbuf *why)
{
	struct strbuf text = STRBUF_INIT;
	struct lock_holder h;
	struct stat st;
	long age;
	int ret;

	if (stat(lock_path, &st) < 0)
		return errno == ENOENT ? SNAP_ENOTFOUND
			: snap_error_errno(why, "cannot read '%s'", lock_path);
	age = (long)(time(NULL) - st.st_mtime);
	if (age < 0)
		age = 0;
	ret = strbuf_read_file(&text, lock_path, 4096);
	if (ret == SNAP_ENOTFOUND) {
		strbuf_release(&text);
		return ret;
	}
	if (ret < 0)
		strbuf_reset(&text);
	if (holder) {
		strbuf_reset(holder);
		strbuf_addbuf(holder, &text);
	}
	ret = lock_holder_gone(text.buf, text.len, &h);
	strbuf_release(&text);
	if (ret == 1)
		return 1;
	if (ret == 0) {
		snap_error(why, SNAP_ELOCKED, "'%s' is held by pid %ld on host '%s' (age %ld s); "
			   "if that process is gone, remove it", lock_path, h.pid, h.host, age);
		return 0;
	}
	if (age > LOCK_GRACE)
		return 1;
	snap_error(why, SNAP_ELOCKED, "'%s' exists (age %ld s, no holder recorded); if no snap "
		   "process is using the store, remove it", lock_path, age);
	return 0;
}
