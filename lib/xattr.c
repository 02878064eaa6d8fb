/*
 * Extended attribute sets; the encoding is in docs/FORMAT.md ("Extended
 * attribute sets").
 */
#include "xattr.h"
#include "error.h"
#include "fsio.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#define MAGIC "SNAPXAT1"
#define MAGIC_LEN 8

void xattr_set_release(struct xattr_set *s)
{
	size_t i;

	for (i = 0; i < s->nr; i++) {
		free(s->v[i].name);
		free(s->v[i].value);
	}
	free(s->v);
	s->v = NULL;
	s->nr = s->alloc = 0;
}

int xattr_is_acl(const char *name)
{
	return !strcmp(name, "system.posix_acl_access") ||
	       !strcmp(name, "system.posix_acl_default");
}

int xattr_wanted(const char *name, unsigned flags)
{
	return !(flags & (xattr_is_acl(name) ? XATTR_NO_ACLS : XATTR_NO_OTHERS));
}

static int name_cmp(const struct xattr *a, const struct xattr *b)
{
	size_t n = a->name_len < b->name_len ? a->name_len : b->name_len;
	int c = memcmp(a->name, b->name, n);

	if (c)
		return c;
	return a->name_len < b->name_len ? -1 : a->name_len > b->name_len;
}

static int cmp_xattr(const void *a, const void *b)
{
	return name_cmp(a, b);
}

static void add(struct xattr_set *s, const char *name, size_t name_len,
		char *value, size_t value_len)
{
	struct xattr *x;

	ALLOC_GROW(s->v, s->nr + 1, s->alloc);
	x = &s->v[s->nr++];
	x->name = xstrndup(name, name_len);
	x->name_len = name_len;
	x->value = value;
	x->value_len = value_len;
}

static void add_be32(struct strbuf *out, size_t v)
{
	unsigned char b[4];

	put_be32(b, (uint32_t)v);
	strbuf_add(out, b, 4);
}

int xattr_encode(struct xattr_set *s, struct strbuf *out, struct strbuf *err)
{
	size_t i;

	QSORT(s->v, s->nr, cmp_xattr);
	strbuf_reset(out);
	strbuf_add(out, MAGIC, MAGIC_LEN);
	for (i = 0; i < s->nr; i++) {
		const struct xattr *x = &s->v[i];

		if (!x->name_len || x->name_len > XATTR_NAME_MAXLEN ||
		    memchr(x->name, '\0', x->name_len))
			return snap_error(err, SNAP_EINVAL, "invalid extended attribute name");
		if (i && !name_cmp(&s->v[i - 1], x))
			return snap_error(err, SNAP_EINVAL,
					  "extended attribute '%s' given twice", x->name);
		if (x->value_len > XATTR_VALUE_MAXLEN)
			return snap_error(err, SNAP_EINVAL,
					  "value of extended attribute '%s' too long", x->name);
		add_be32(out, x->name_len);
		strbuf_add(out, x->name, x->name_len);
		add_be32(out, x->value_len);
		strbuf_add(out, x->value, x->value_len);
		if (out->len > XATTR_SET_MAXSIZE)
			return snap_error(err, SNAP_ETOOBIG,
					  "extended attributes above %u bytes", XATTR_SET_MAXSIZE);
	}
	return 0;
}

int xattr_parse(struct xattr_set *s, const char *buf, size_t len, struct strbuf *err)
{
	const unsigned char *p = (const unsigned char *)buf, *end = p + len;
	const char *why = NULL;

	if (len > XATTR_SET_MAXSIZE)
		why = "too large";
	else if (len < MAGIC_LEN || memcmp(buf, MAGIC, MAGIC_LEN))
		why = "bad magic";
	else if (len == MAGIC_LEN)
		why = "no attributes";
	for (p += MAGIC_LEN; !why && p < end;) {
		uint32_t nl, vl;
		char *value;

		if (end - p < 4 || (nl = get_be32(p)) == 0 || nl > XATTR_NAME_MAXLEN ||
		    (size_t)(end - p - 4) < nl || memchr(p + 4, '\0', nl)) {
			why = "bad name";
			break;
		}
		p += 4;
		if ((size_t)(end - p - nl) < 4 ||
		    (vl = get_be32(p + nl)) > XATTR_VALUE_MAXLEN ||
		    (size_t)(end - p - nl - 4) < vl) {
			why = "bad value length";
			break;
		}
		value = xmalloc(vl ? vl : 1);
		memcpy(value, p + nl + 4, vl);
		add(s, (const char *)p, nl, value, vl);
		p += nl + 4 + vl;
		if (s->nr > 1 && name_cmp(&s->v[s->nr - 2], &s->v[s->nr - 1]) >= 0)
			why = "names not sorted or duplicated";
	}
	if (!why)
		return 0;
	xattr_set_release(s);
	return snap_error(err, SNAP_EINVAL, "malformed extended attributes: %s", why);
}

/*
 * The calls on a descriptor, or on an O_PATH handle through /proc (the
 * magic link leads to the handle's own inode, a symlink's too).
 */
struct target {
	int fd;
	char path[64];
};

static ssize_t t_list(const struct target *t, char *buf, size_t size)
{
	return t->path[0] ? listxattr(t->path, buf, size) : flistxattr(t->fd, buf, size);
}

static ssize_t t_get(const struct target *t, const char *name, void *buf, size_t size)
{
	return t->path[0] ? getxattr(t->path, name, buf, size)
			  : fgetxattr(t->fd, name, buf, size);
}

static int list_and_read(const struct target *t, unsigned flags,
			 const struct xattr_unreadable *on_unreadable, struct xattr_set *s,
			 const char *what, struct strbuf *err);

int xattr_read(int fd, int dfd, const char *name, const struct stat *st, unsigned flags,
	       const struct xattr_unreadable *on_unreadable, struct xattr_set *s,
	       const char *what, struct strbuf *err)
{
	struct target t;
	struct stat now;
	int ret;

	if ((flags & (XATTR_NO_ACLS | XATTR_NO_OTHERS)) == (XATTR_NO_ACLS | XATTR_NO_OTHERS))
		return 0;
	t.fd = fd;
	t.path[0] = '\0';
	if (fd >= 0)
		return list_and_read(&t, flags, on_unreadable, s, what, err);
	/*
	 * By name: through a handle of the inode that was stat'ed, so that
	 * another file put in its place meanwhile (a link to a file with
	 * capabilities) never lends it its attributes.
	 */
	t.fd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (t.fd < 0 && errno == ENOENT)
		return SNAP_ENOTFOUND;
	if (t.fd < 0)
		return snap_error_errno(err, "cannot open '%s'", what);
	if (fstat(t.fd, &now) < 0) {
		ret = snap_error_errno(err, "cannot stat '%s'", what);
	} else if (st && (now.st_dev != st->st_dev || now.st_ino != st->st_ino)) {
		ret = snap_error(err, SNAP_EINVAL, "'%s' changed while it was read", what);
	} else {
		snprintf(t.path, sizeof(t.path), "/proc/self/fd/%d", t.fd);
		/* (Without /proc mounted, this fails: no such file.) */
		ret = list_and_read(&t, flags, on_unreadable, s, what, err);
	}
	close(t.fd);
	return ret;
}

/*
 * The value of attribute an into *value (allocated, NULL when empty):
 * its length, or -1 with errno set.  A value that grew between asking its
 * size and reading it (ERANGE) is asked for again.
 */
static ssize_t read_value(const struct target *t, const char *an, const char *what,
			  char **value)
{
	ssize_t vl;

	*value = NULL;
	if (fsio_getxattr_fault(what, an) < 0)
		return -1;
	for (;;) {
		vl = t_get(t, an, NULL, 0);
		if (vl > 0) {
			*value = xmalloc((size_t)vl);
			vl = t_get(t, an, *value, (size_t)vl);
		}
		if (vl >= 0 || errno != ERANGE)
			break;
		free(*value);
		*value = NULL;
	}
	if (vl < 0) {
		int saved = errno;

		free(*value);
		*value = NULL;
		errno = saved;
	}
	return vl;
}

static int list_and_read(const struct target *t, unsigned flags,
			 const struct xattr_unreadable *on_unreadable, struct xattr_set *s,
			 const char *what, struct strbuf *err)
{
	char *list = NULL;
	ssize_t n = 0;
	size_t pos;
	int ret;

	for (;;) {
		if (fsio_listxattr_fault(what) < 0) {
			n = -1;
			break;
		}
		n = t_list(t, NULL, 0);
		if (n > 0) {
			list = xmalloc((size_t)n);
			n = t_list(t, list, (size_t)n);
		}
		if (n >= 0 || errno != ERANGE)
			break;
		free(list);
		list = NULL;
	}
	if (n < 0) {
		free(list);
		if (errno == ENOTSUP)
			return 0;
		if (on_unreadable)
			return on_unreadable->fn(NULL, errno, on_unreadable->data);
		return snap_error_errno(err, "cannot list the extended attributes of '%s'", what);
	}
	for (pos = 0; pos < (size_t)n; pos += strlen(list + pos) + 1) {
		const char *an = list + pos;
		char *value = NULL;
		ssize_t vl;

		if (!*an || !xattr_wanted(an, flags))
			continue;
		vl = read_value(t, an, what, &value);
		if (vl < 0 && errno == ENODATA)
			continue;	/* removed since it was listed */
		if (vl < 0) {
			if (on_unreadable)
				ret = on_unreadable->fn(an, errno, on_unreadable->data);
			else
				ret = snap_error_errno(err,
						       "cannot read extended attribute '%s' of '%s'",
						       an, what);
			if (ret == 0)
				continue;
			free(list);
			return ret;
		}
		if (!value)
			value = xmalloc(1);
		add(s, an, strlen(an), value, (size_t)vl);
	}
	free(list);
	return 0;
}

int xattr_store(struct odb *odb, int fd, int dfd, const char *name, const struct stat *st,
		unsigned flags, const struct xattr_unreadable *on_unreadable,
		struct snap_oid *oid, int *has, const char *what, struct strbuf *err)
{
	struct xattr_set s = XATTR_SET_INIT;
	struct strbuf buf = STRBUF_INIT;
	int ret;

	*has = 0;
	ret = xattr_read(fd, dfd, name, st, flags, on_unreadable, &s, what, err);
	if (ret == 0 && s.nr) {
		ret = xattr_encode(&s, &buf, err);
		if (ret == 0)
			ret = odb_write_buf(odb, OBJ_BLOB, buf.buf, buf.len, oid, err);
		if (ret == 0)
			*has = 1;
	}
	xattr_set_release(&s);
	strbuf_release(&buf);
	return ret;
}

int xattr_load(struct odb *odb, const struct snap_oid *oid, struct xattr_set *s,
	       struct strbuf *err)
{
	struct strbuf buf = STRBUF_INIT, why = STRBUF_INIT;
	enum object_type type;
	int ret;

	ret = odb_read(odb, oid, &type, &buf, XATTR_SET_MAXSIZE, err);
	if (ret == 0 && type != OBJ_BLOB)
		ret = snap_error(err, SNAP_ECORRUPT, "extended attributes '%s' are a %s, not a blob",
				 oid_to_hex(oid), type_name(type));
	if (ret == 0 && xattr_parse(s, buf.buf, buf.len, &why) < 0)
		ret = snap_error(err, SNAP_ECORRUPT, "blob '%s': %s", oid_to_hex(oid), why.buf);
	strbuf_release(&buf);
	strbuf_release(&why);
	return ret;
}

size_t xattr_apply(int fd, int is_path_handle, const struct xattr_set *s, unsigned flags,
		   void (*failed)(const char *name, int errnum, void *data), void *data)
{
	char path[64];
	size_t i, nr_failed = 0;

	if (is_path_handle)
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	for (i = 0; i < s->nr; i++) {
		const struct xattr *x = &s->v[i];
		int r;

		if (!xattr_wanted(x->name, flags))
			continue;
		/* setxattr follows the magic link to the handle's own inode. */
		r = is_path_handle ? setxattr(path, x->name, x->value, x->value_len, 0)
				   : fsetxattr(fd, x->name, x->value, x->value_len, 0);
		if (r < 0) {
			nr_failed++;
			if (failed)
				failed(x->name, errno, data);
		}
	}
	return nr_failed;
}
