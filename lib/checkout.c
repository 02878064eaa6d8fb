#include "checkout.h"
#include "error.h"
#include "tree.h"
#include "util.h"
#include "writetree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define IO_BUF (256 * 1024)
#define SYMLINK_MAX 65536

enum selected { SEL_NONE, SEL_ALL, SEL_ANCESTOR };

struct checkout {
	struct odb *odb;
	const struct checkout_opts *opts;
	int *path_found;
	int root_fd;
	int as_root;
	char **written;		/* sorted paths of files written (for links) */
	size_t nr_written, alloc_written;
	int written_dirty;
	struct strbuf path;
	char *buf;
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
			enum selected sel;

			set_path(c, base, e);
			sel = selected(c, c->path.buf, c->path.len);
			if (sel == SEL_NONE || (sel == SEL_ANCESTOR && e->type != TREE_DIR))
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
		qsort(c->written, c->nr_written, sizeof(*c->written), cmp_str);
		c->written_dirty = 0;
	}
	return bsearch(&path, c->written, c->nr_written, sizeof(*c->written),
		       cmp_str) != NULL;
}

static unsigned final_perm(struct checkout *c, const struct tree_entry *e)
{
	unsigned perm = e->perm;

	if (!c->opts || !c->opts->keep_setuid)
		perm &= ~(unsigned)(S_ISUID | S_ISGID);
	return perm;
}

static int apply_meta(struct checkout *c, int fd, const struct tree_entry *e,
		      struct strbuf *err)
{
	struct timespec ts[2];

	if (c->as_root && fchown(fd, e->uid, e->gid) < 0)
		return snap_error_errno(err, "cannot set the owner of '%s'", shown(c));
	if (fchmod(fd, final_perm(c, e)) < 0)
		return snap_error_errno(err, "cannot set the mode of '%s'", shown(c));
	ts[0].tv_sec = ts[1].tv_sec = (time_t)e->mtime_sec;
	ts[0].tv_nsec = ts[1].tv_nsec = e->mtime_nsec;
	if (futimens(fd, ts) < 0)
		return snap_error_errno(err, "cannot set the times of '%s'", shown(c));
	return 0;
}

static int write_blob(struct checkout *c, int fd, const struct tree_entry *e,
		      struct strbuf *err)
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
				  shown(c), oid_to_hex(&e->oid), type_name(type),
				  (unsigned long long)size);
	}
	do {
		ret = odb_stream_read(st, c->buf, IO_BUF, &got, err);
		if (ret == 0 && got && write_all(fd, c->buf, got) < 0)
			ret = snap_error_errno(err, "cannot write '%s'", shown(c));
	} while (ret == 0 && got);
	odb_stream_close(st);
	return ret;
}

static int restore_file(struct checkout *c, int dfd, const struct tree_entry *e,
			struct strbuf *err)
{
	int fd, ret;

	if (e->link && was_written(c, e->link)) {
		if (linkat(c->root_fd, e->link, dfd, e->name, 0) < 0)
			return snap_error_errno(err, "cannot link '%s' to '%s'", shown(c), e->link);
		return 0;
	}
	fd = openat(dfd, e->name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return snap_error_errno(err, "cannot create '%s'", shown(c));
	ret = write_blob(c, fd, e, err);
	if (ret == 0)
		ret = apply_meta(c, fd, e, err);
	if (close(fd) < 0 && ret == 0)
		ret = snap_error_errno(err, "cannot write '%s'", shown(c));
	if (ret == 0)
		note_written(c);
	return ret;
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
	ts[0].tv_sec = ts[1].tv_sec = (time_t)e->mtime_sec;
	ts[0].tv_nsec = ts[1].tv_nsec = e->mtime_nsec;
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
	dev_t dev = 0;
	mode_t type = S_IFIFO;
	int fd, ret;

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
	fd = openat(dfd, e->name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return snap_error_errno(err, "cannot open '%s'", shown(c));
	{
		/* fchmod and futimens need a real descriptor: go through /proc. */
		struct strbuf p = STRBUF_INIT;
		struct timespec ts[2];

		strbuf_addf(&p, "/proc/self/fd/%d", fd);
		ret = 0;
		if (c->as_root && fchownat(dfd, e->name, e->uid, e->gid, AT_SYMLINK_NOFOLLOW) < 0)
			ret = snap_error_errno(err, "cannot set the owner of '%s'", shown(c));
		if (ret == 0 && chmod(p.buf, final_perm(c, e)) < 0)
			ret = snap_error_errno(err, "cannot set the mode of '%s'", shown(c));
		ts[0].tv_sec = ts[1].tv_sec = (time_t)e->mtime_sec;
		ts[0].tv_nsec = ts[1].tv_nsec = e->mtime_nsec;
		if (ret == 0 && utimensat(dfd, e->name, ts, AT_SYMLINK_NOFOLLOW) < 0)
			ret = snap_error_errno(err, "cannot set the times of '%s'", shown(c));
		strbuf_release(&p);
	}
	close(fd);
	return ret;
}

static int restore_dir(struct checkout *c, int dfd, const struct snap_oid *oid,
		       struct strbuf *err);

static int restore_entry(struct checkout *c, int dfd, const struct tree_entry *e,
			 enum selected sel, struct strbuf *err)
{
	int sub, ret;

	switch (e->type) {
	case TREE_FILE:
		return restore_file(c, dfd, e, err);
	case TREE_SYMLINK:
		return restore_symlink(c, dfd, e, err);
	case TREE_FIFO:
	case TREE_CHR:
	case TREE_BLK:
		return restore_node(c, dfd, e, err);
	case TREE_DIR:
		break;
	}
	if (mkdirat(dfd, e->name, 0700) < 0)
		return snap_error_errno(err, "cannot create directory '%s'", shown(c));
	sub = openat(dfd, e->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sub < 0)
		return snap_error_errno(err, "cannot open directory '%s'", shown(c));
	(void)sel;
	ret = restore_dir(c, sub, &e->oid, err);
	if (ret == 0) {
		size_t len = c->path.len;
		ret = apply_meta(c, sub, e, err);
		strbuf_setlen(&c->path, len);
	}
	close(sub);
	return ret;
}

static int restore_dir(struct checkout *c, int dfd, const struct snap_oid *oid,
		       struct strbuf *err)
{
	struct tree t = TREE_INIT;
	size_t base = c->path.len, i;
	int ret;

	ret = read_tree(c, oid, &t, err);
	for (i = 0; ret == 0 && i < t.nr; i++) {
		const struct tree_entry *e = &t.entries[i];
		enum selected sel;

		set_path(c, base, e);
		sel = selected(c, c->path.buf, c->path.len);
		if (sel == SEL_NONE || (sel == SEL_ANCESTOR && e->type != TREE_DIR))
			continue;
		ret = restore_entry(c, dfd, e, sel, err);
	}
	strbuf_setlen(&c->path, base);
	tree_release(&t);
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
	char **paths = NULL;
	size_t i;
	int ret;

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
	c.buf = xmalloc(IO_BUF);
	strbuf_reset(&c.path);
	ret = restore_dir(&c, c.root_fd, tree, err);
	close(c.root_fd);
out:
	for (i = 0; i < c.nr_written; i++)
		free(c.written[i]);
	free(c.written);
	for (i = 0; paths && i < o.nr_paths; i++)
		free(paths[i]);
	free(paths);
	free(c.path_found);
	free(c.buf);
	strbuf_release(&c.path);
	return ret;
}
