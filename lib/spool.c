#include "spool.h"
#include "error.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#define SPOOL_BUF (256 * 1024)

static int open_anon(const char *dir, struct strbuf *err)
{
	struct strbuf tmpl = STRBUF_INIT;
	int fd;

	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
		goto out;
	strbuf_addf(&tmpl, "%s/snap-spool-XXXXXX", dir);
	fd = mkostemp(tmpl.buf, O_CLOEXEC);
	if (fd >= 0)
		unlink(tmpl.buf);
out:
	if (fd < 0)
		snap_error_errno(err, "cannot create a temporary file in '%s'", dir);
	strbuf_release(&tmpl);
	return fd;
}

int spool_fd(int fd, const char *dir, const char *what, int *out,
	     uint64_t *size, struct strbuf *err)
{
	char *buf;
	uint64_t total = 0;
	int tfd, ret = 0;

	if (!dir) {
		dir = getenv("TMPDIR");
		if (!dir || !*dir)
			dir = "/tmp";
	}
	tfd = open_anon(dir, err);
	if (tfd < 0)
		return SNAP_EIO;
	buf = xmalloc_io(SPOOL_BUF);
	for (;;) {
		ssize_t n = read(fd, buf, SPOOL_BUF);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = snap_error_errno(err, "cannot read '%s'", what);
			break;
		}
		if (n == 0)
			break;
		if (write_all(tfd, buf, (size_t)n) < 0) {
			ret = snap_error_errno(err, "cannot spool '%s' into '%s'", what, dir);
			break;
		}
		total += (uint64_t)n;
	}
	free(buf);
	if (ret == 0 && lseek(tfd, 0, SEEK_SET) < 0)
		ret = snap_error_errno(err, "cannot rewind the spool of '%s'", what);
	if (ret < 0) {
		close(tfd);
		return ret;
	}
	*out = tfd;
	*size = total;
	return 0;
}
