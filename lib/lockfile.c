#include "lockfile.h"
#include "error.h"
#include "fsio.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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
		if (errno == EEXIST) {
			struct stat st;
			long age = stat(lp.buf, &st) == 0 ? (long)(time(NULL) - st.st_mtime) : 0;
			ret = snap_error(err, SNAP_ELOCKED,
					 "'%s' exists (age %ld s); if no snap process "
					 "is using the store, remove it", lp.buf, age);
		} else {
			ret = snap_error_errno(err, "cannot create '%s'", lp.buf);
		}
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
		unlink(lk->lock_path);
	free(lk->path);
	free(lk->lock_path);
	memset(lk, 0, sizeof(*lk));
	lk->fd = -1;
}
