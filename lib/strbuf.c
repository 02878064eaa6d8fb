#include "strbuf.h"
#include "error.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char strbuf_empty[1];

void strbuf_init(struct strbuf *sb, size_t hint)
{
	sb->alloc = sb->len = 0;
	sb->buf = strbuf_empty;
	if (hint)
		strbuf_grow(sb, hint);
}

void strbuf_release(struct strbuf *sb)
{
	if (sb->alloc)
		free(sb->buf);
	strbuf_init(sb, 0);
}

char *strbuf_detach(struct strbuf *sb, size_t *len)
{
	char *res;

	strbuf_grow(sb, 0);
	res = sb->buf;
	if (len)
		*len = sb->len;
	strbuf_init(sb, 0);
	return res;
}

void strbuf_grow(struct strbuf *sb, size_t extra)
{
	size_t want;
	int fresh = !sb->alloc;

	if (extra > SIZE_MAX - sb->len - 1)
		BUG("strbuf_grow: size overflow");
	want = sb->len + extra + 1;
	if (want <= sb->alloc)
		return;
	if (want < sb->alloc + sb->alloc / 2)
		want = sb->alloc + sb->alloc / 2;
	if (want < 64)
		want = 64;
	sb->buf = xrealloc(fresh ? NULL : sb->buf, want);
	if (fresh)
		sb->buf[0] = '\0';
	sb->alloc = want;
}

int strbuf_grow_max(struct strbuf *sb, size_t extra, size_t max)
{
	if (sb->len > max || extra > max - sb->len)
		return -1;
	strbuf_grow(sb, extra);
	return 0;
}

void strbuf_setlen(struct strbuf *sb, size_t len)
{
	if (len > (sb->alloc ? sb->alloc - 1 : 0))
		BUG("strbuf_setlen beyond allocation");
	sb->len = len;
	if (sb->alloc)
		sb->buf[len] = '\0';
}

void strbuf_add(struct strbuf *sb, const void *data, size_t len)
{
	if (!len)
		return;
	strbuf_grow(sb, len);
	memcpy(sb->buf + sb->len, data, len);
	strbuf_setlen(sb, sb->len + len);
}

void strbuf_addstr(struct strbuf *sb, const char *s)
{
	strbuf_add(sb, s, strlen(s));
}

void strbuf_addch(struct strbuf *sb, int c)
{
	strbuf_grow(sb, 1);
	sb->buf[sb->len] = (char)c;
	strbuf_setlen(sb, sb->len + 1);
}

void strbuf_addbuf(struct strbuf *sb, const struct strbuf *other)
{
	strbuf_add(sb, other->buf, other->len);
}

void strbuf_vaddf(struct strbuf *sb, const char *fmt, va_list ap)
{
	va_list cp;
	int n;

	strbuf_grow(sb, 64);
	va_copy(cp, ap);
	n = vsnprintf(sb->buf + sb->len, sb->alloc - sb->len, fmt, cp);
	va_end(cp);
	if (n < 0)
		BUG("vsnprintf failed");
	if ((size_t)n >= sb->alloc - sb->len) {
		strbuf_grow(sb, (size_t)n);
		n = vsnprintf(sb->buf + sb->len, sb->alloc - sb->len, fmt, ap);
	}
	strbuf_setlen(sb, sb->len + (size_t)n);
}

void strbuf_addf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	strbuf_vaddf(sb, fmt, ap);
	va_end(ap);
}

void strbuf_addquoted(struct strbuf *sb, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c >= 0x7f || c == '\\')
			strbuf_addf(sb, "\\%03o", c);
		else
			strbuf_addch(sb, c);
	}
}

void strbuf_rtrim(struct strbuf *sb)
{
	while (sb->len && (sb->buf[sb->len - 1] == ' ' ||
			   sb->buf[sb->len - 1] == '\t' ||
			   sb->buf[sb->len - 1] == '\n' ||
			   sb->buf[sb->len - 1] == '\r'))
		sb->len--;
	strbuf_setlen(sb, sb->len);
}

int strbuf_getline(struct strbuf *sb, void *vfp, int term)
{
	FILE *fp = vfp;
	int c;

	strbuf_reset(sb);
	while ((c = getc(fp)) != EOF) {
		if (c == term)
			return 0;
		strbuf_addch(sb, c);
	}
	return sb->len ? 0 : -1;
}

int strbuf_read_fd(struct strbuf *sb, int fd, size_t max)
{
	for (;;) {
		ssize_t n;

		if (strbuf_grow_max(sb, 8192, max + 1) < 0) {
			if (sb->len > max)
				return SNAP_ETOOBIG;
			strbuf_grow(sb, max + 1 - sb->len);
		}
		n = read(fd, sb->buf + sb->len, sb->alloc - sb->len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return SNAP_EIO;
		}
		if (n == 0)
			break;
		strbuf_setlen(sb, sb->len + (size_t)n);
		if (sb->len > max)
			return SNAP_ETOOBIG;
	}
	return 0;
}

int strbuf_read_regular(struct strbuf *sb, const char *path, size_t max)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	int ret, saved;
	struct stat st;

	if (fd < 0)
		return errno == ENOENT ? SNAP_ENOTFOUND : SNAP_EIO;
	if (fstat(fd, &st) < 0)
		ret = SNAP_EIO;
	else if (!S_ISREG(st.st_mode))
		ret = SNAP_EINVAL;
	else if ((uint64_t)st.st_size > max)
		ret = SNAP_ETOOBIG;
	else
		ret = strbuf_read_fd(sb, fd, max);
	saved = errno;
	close(fd);
	errno = saved;
	return ret;
}

int strbuf_read_file(struct strbuf *sb, const char *path, size_t max)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int ret, saved;

	if (fd < 0)
		return errno == ENOENT ? SNAP_ENOTFOUND : SNAP_EIO;
	ret = strbuf_read_fd(sb, fd, max);
	saved = errno;
	close(fd);
	errno = saved;
	return ret;
}
