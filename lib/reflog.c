/*
 * Reflogs: appending a line (a torn last line cut back first), reading,
 * listing, resetting and deleting them (refs.h; docs/FORMAT.md, "Refs
 * and reflogs").
 */
#include "refs.h"
#include "refs-internal.h"

#include "error.h"
#include "fsio.h"
#include "snapshot.h"
#include "util.h"
#include "storefs.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void log_path(struct snap_store *store, const char *name, struct strbuf *out)
{
	store_path(store, out, "logs/%s", name);
}

/*
 * Removes the directories at and below path that hold nothing but empty
 * directories (what deleted refs below a name leave), deepest first: 0
 * when path is gone.  Never follows a symlink.
 */
static int prune_empty_dirs(const char *path, int depth)
{
	struct strbuf sub = STRBUF_INIT;
	struct dirent *de;
	struct stat st;
	DIR *d = depth < 64 ? storefs_opendir(path) : NULL;

	if (!d)
		return -1;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		strbuf_reset(&sub);
		strbuf_addf(&sub, "%s/%s", path, de->d_name);
		if (storefs_lstat(sub.buf, &st) == 0 && S_ISDIR(st.st_mode))
			prune_empty_dirs(sub.buf, depth + 1);
	}
	closedir(d);
	strbuf_release(&sub);
	return fsio_rmdir(path);
}

/* Whether path is a directory that holds something besides empty ones. */
static int holds_something(const char *path)
{
	struct stat st;

	return storefs_lstat(path, &st) == 0 && S_ISDIR(st.st_mode) && prune_empty_dirs(path, 0) < 0;
}

int ref_dirs_possible(struct snap_store *store, const char *name, struct strbuf *err)
{
	struct strbuf path = STRBUF_INIT;
	const char *slash;
	struct stat st;
	int ret = 0;

	for (slash = strchr(name, '/'); ret == 0 && slash; slash = strchr(slash + 1, '/')) {
		store_path(store, &path, "%.*s", (int)(slash - name), name);
		/* (A symlink there is refused by the lock, naming it.) */
		if (storefs_lstat(path.buf, &st) == 0 && S_ISREG(st.st_mode))
			ret = snap_error(err, SNAP_EINVAL, "ref '%s' cannot be written: '%.*s' is a ref",
					 name, (int)(slash - name), name);
	}
	strbuf_release(&path);
	return ret;
}

int ref_move_possible(struct snap_store *store, const char *name, struct strbuf *err)
{
	struct strbuf path = STRBUF_INIT;
	struct stat st;
	int ret = 0;

	store_path(store, &path, "%s", name);
	if (holds_something(path.buf))
		ret = snap_error(err, SNAP_EINVAL,
				 "ref '%s' cannot be written: '%s/' holds other refs", name, name);
	log_path(store, name, &path);
	if (ret == 0 && holds_something(path.buf))
		ret = snap_error(err, SNAP_EINVAL,
				 "ref '%s' cannot be written: '%s/' holds other reflogs", name, path.buf);
	if (ret == 0 && storefs_lstat(path.buf, &st) == 0 && !S_ISREG(st.st_mode))
		ret = snap_error(err, SNAP_EINVAL,
				 "ref '%s' cannot be written: its reflog '%s' is not a regular file",
				 name, path.buf);
	strbuf_release(&path);
	return ret;
}

/* A reason as reflogs and journals hold it: control characters become spaces. */
void reflog_add_reason(struct strbuf *sb, const char *reason)
{
	const char *r;

	for (r = reason ? reason : ""; *r; r++)
		strbuf_addch(sb, (unsigned char)*r < 0x20 || *r == 0x7f ? ' ' : *r);
}

/*
 * A reflog whose last line has no newline holds an append cut short (a
 * full disk, a crash): readers ignore that line, but the next append
 * would join it into one malformed line.  Cuts the file back to its last
 * newline and returns the resulting size, or -1 with errno.  Appends are
 * made under the ref's lock, so nobody else is writing here.
 */
static off_t torn_tail_cut(int fd)
{
	char buf[4096];
	struct stat st;
	off_t end, at;
	ssize_t n;

	if (fstat(fd, &st) < 0)
		return -1;
	for (end = st.st_size; end > 0; end = at) {
		at = end > (off_t)sizeof(buf) ? end - (off_t)sizeof(buf) : 0;
		n = pread(fd, buf, (size_t)(end - at), at);
		if (n != end - at) {
			if (n >= 0)
				errno = EIO;
			return -1;
		}
		while (n > 0 && buf[n - 1] != '\n')
			n--;
		if (n > 0) {
			end = at + n;
			break;
		}
	}
	if (end < st.st_size && fsio_ftruncate(fd, end) < 0)
		return -1;
	return end;
}

int reflog_append(struct snap_store *store, const char *name,
		  const struct snap_oid *old_oid, const struct snap_oid *new_oid,
		  const char *reason, struct strbuf *err)
{
	struct strbuf path = STRBUF_INIT, line = STRBUF_INIT;
	time_t now = time(NULL);
	int fd, ret = 0, tz = local_tz((int64_t)now), a = tz < 0 ? -tz : tz;
	off_t size;

	log_path(store, name, &path);
	strbuf_addf(&line, "%s %s %lld %c%02d%02d\t", oid_to_hex(old_oid),
		    oid_to_hex(new_oid), (long long)now, tz < 0 ? '-' : '+', a / 60, a % 60);
	reflog_add_reason(&line, reason);
	strbuf_addch(&line, '\n');
	if (fsio_mkdirs_for(path.buf) < 0) {
		ret = snap_error_errno(err, "cannot create the directory of '%s'", path.buf);
		goto out;
	}
	fd = fsio_open(path.buf, O_RDWR | O_CREAT | O_APPEND | O_NOFOLLOW, 0666);
	if (fd < 0) {
		ret = snap_error_errno(err, "cannot open reflog '%s'", path.buf);
		goto out;
	}
	size = torn_tail_cut(fd);
	if (size < 0) {
		ret = snap_error_errno(err, "cannot write reflog '%s'", path.buf);
	} else if (fsio_write(fd, line.buf, line.len) < 0 || fsio_fsync(fd) < 0) {
		ret = snap_error_errno(err, "cannot write reflog '%s'", path.buf);
		/* Half a line would join the next append's: take it back
		 * now; torn_tail_cut() does it next time if this fails. */
		(void)fsio_ftruncate(fd, size);
	}
	if (fsio_close(fd) < 0 && ret == 0)
		ret = snap_error_errno(err, "cannot write reflog '%s'", path.buf);
out:
	strbuf_release(&path);
	strbuf_release(&line);
	return ret;
}


int reflogs_for_each(struct snap_store *store, ref_each_fn fn, void *data,
		     struct strbuf *err)
{
	struct strbuf root = STRBUF_INIT;
	char **names = NULL;
	size_t nr = 0, alloc = 0, i;
	int ret;

	refs_recover_quietly(store);
	store_path(store, &root, "logs");
	ret = refs_collect(root.buf, "refs", &names, &nr, &alloc, 0, err);
	QSORT(names, nr, refs_cmp_str);
	for (i = 0; i < nr; i++) {
		if (ret == 0)
			ret = fn(names[i], NULL, data);
		free(names[i]);
	}
	free(names);
	strbuf_release(&root);
	return ret;
}

static int parse_reflog_line(const char *line, size_t len, struct reflog_entry *e,
			     struct strbuf *reason)
{
	const char *p = line, *tab;
	char num[24];
	size_t nl;
	uint64_t t;
	int h, m;

	if (len < 2 * SNAP_OID_HEXSZ + 2 || line[SNAP_OID_HEXSZ] != ' ' ||
	    line[2 * SNAP_OID_HEXSZ + 1] != ' ' ||
	    oid_from_hexn(&e->old_oid, p, SNAP_OID_HEXSZ) < 0 ||
	    oid_from_hexn(&e->new_oid, p + SNAP_OID_HEXSZ + 1, SNAP_OID_HEXSZ) < 0)
		return -1;
	p += 2 * SNAP_OID_HEXSZ + 2;
	nl = strspn(p, "0123456789");
	if (!nl || nl >= sizeof(num) || p[nl] != ' ')
		return -1;
	memcpy(num, p, nl);
	num[nl] = '\0';
	if (parse_u64(num, &t) < 0)
		return -1;
	e->time = (int64_t)t;
	p += nl + 1;
	if ((p[0] != '+' && p[0] != '-') || strspn(p + 1, "0123456789") != 4 || p[5] != '\t')
		return -1;
	h = (p[1] - '0') * 10 + (p[2] - '0');
	m = (p[3] - '0') * 10 + (p[4] - '0');
	e->tz = (p[0] == '-' ? -1 : 1) * (h * 60 + m);
	tab = p + 5;
	strbuf_reset(reason);
	strbuf_add(reason, tab + 1, len - (size_t)(tab + 1 - line));
	e->reason = reason->buf;
	return 0;
}

int reflog_for_each(struct snap_store *store, const char *name,
		    reflog_each_fn fn, void *data, struct strbuf *err)
{
	refs_recover_quietly(store);
	return reflog_read(store, name, fn, data, err);
}

int reflog_read(struct snap_store *store, const char *name,
		reflog_each_fn fn, void *data, struct strbuf *err)
{
	struct strbuf path = STRBUF_INIT, buf = STRBUF_INIT, reason = STRBUF_INIT;
	const char *p;
	size_t lineno = 0;
	int ret;

	ret = ref_name_check(name, err);
	if (ret < 0)
		return ret;
	log_path(store, name, &path);
	ret = strbuf_read_file(&buf, path.buf, REFLOG_MAX);
	if (ret == SNAP_ENOTFOUND)
		ret = snap_error(err, SNAP_ENOTFOUND, "no reflog for '%s'", name);
	else if (ret < 0)
		ret = snap_error(err, ret == SNAP_ETOOBIG ? SNAP_ETOOBIG : SNAP_EIO,
				 "cannot read reflog '%s'", path.buf);
	for (p = buf.buf; ret == 0 && *p; ) {
		const char *nl = strchrnul(p, '\n');
		struct reflog_entry e;

		/* A last line without its newline is an append cut short by a
		 * crash: it never described a change that happened. */
		if (!*nl)
			break;
		lineno++;
		if (parse_reflog_line(p, (size_t)(nl - p), &e, &reason) < 0)
			ret = snap_error(err, SNAP_ECORRUPT, "reflog '%s' line %zu is malformed",
					 path.buf, lineno);
		else
			ret = fn(&e, data);
		p = *nl ? nl + 1 : nl;
	}
	strbuf_release(&path);
	strbuf_release(&buf);
	strbuf_release(&reason);
	return ret;
}

int reflog_reset(struct snap_store *store, const char *name,
		 const struct snap_oid *new_oid, const char *reason,
		 struct strbuf *err)
{
	int ret = reflog_delete(store, name, err);

	if (ret == 0)
		ret = reflog_append(store, name, &snap_null_oid, new_oid, reason, err);
	return ret;
}

int reflog_delete(struct snap_store *store, const char *name, struct strbuf *err)
{
	struct strbuf path = STRBUF_INIT;
	int ret = ref_name_check(name, err);

	if (ret < 0)
		return ret;
	log_path(store, name, &path);
	if (fsio_unlink(path.buf) < 0 && errno != ENOENT)
		ret = snap_error_errno(err, "cannot delete reflog '%s'", path.buf);
	strbuf_release(&path);
	return ret;
}
