#include "checkout.h"
#include "exclude.h"
#include "fsio.h"
#include "progress.h"
#include "error.h"
#include "place.h"
#include "tree.h"
#include "util.h"
#include "writetree.h"
#include "xattr.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define IO_BUF (256 * 1024)
#define SYMLINK_MAX 65536
#define THREADS_MAX 16
#define QUEUE_MAX 256
#define NO_DIR ((size_t)-1)

enum selected { SEL_NONE, SEL_ALL, SEL_ANCESTOR };

/*
 * A directory this restore made, in walk order: a parent always comes
 * before its children.  dirs[0] is the target itself.
 */
struct made_dir {
	size_t parent;		/* index in dirs; NO_DIR for the target */
	char *name;
	dev_t dev;
	ino_t ino;
	struct tree_entry meta;	/* its entry (name and link NULL) */
};

/* A path some hard link of the restore names, with the file written there. */
struct link_target {
	char *path;
	int in_tree;		/* a file of the tree is there ... */
	struct snap_oid oid;	/* ... with this blob */
	int written;		/* a file of this restore is there */
	dev_t dev;		/* its inode, filled by the thread that wrote it */
	ino_t ino;
};

/* A hard link entry of the tree: it must hold its target's blob. */
struct link_check {
	char *path;
	char *target_path;
	struct snap_oid oid;
};

/* A hard link, made once every file is written. */
struct deferred_link {
	size_t dir;		/* index in dirs of the directory to hold it */
	char *name;
	struct link_target *target;
};

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
	struct strbuf path;	/* the walk's current path */
	struct made_dir *dirs;
	size_t nr_dirs, alloc_dirs;
	int cur_fd;		/* the directory the walk is in ... */
	size_t cur_dir;		/* ... and its index in dirs */
	struct link_target *targets;	/* sorted by path */
	size_t nr_targets, alloc_targets;
	struct deferred_link *links;
	size_t nr_links, alloc_links;
	struct link_check *checks;	/* every hard link entry, for pass 1 */
	size_t nr_checks, alloc_checks;
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
	/* metadata the kernel refused to set, each warned about once */
	pthread_mutex_t unset_lock;
	size_t nr_unset;
	/* progress (progress.h): counted by the workers under lock, drawn
	 * by the walking thread alone */
	struct progress *meter;
	uint64_t files_done, bytes_done;
	struct exclude *excl;	/* opts->excludes, prepared */
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

/* Whether an exclude pattern leaves out the entry at c->path. */
static int excluded(struct checkout *c, const struct tree_entry *e)
{
	size_t i;

	for (i = 0; c->excl && i < c->opts->nr_excludes; i++) {
		const struct exclude *x = &c->excl[i];

		if (x->dir_only && e->type != TREE_DIR)
			continue;
		if (exclude_match(x, x->kind == EXCLUDE_NAME ? e->name : c->path.buf))
			return 1;
	}
	return 0;
}

/*
 * Moves c->path to the entry; 1 if the PATH selection leaves it out (an
 * entry that is neither selected nor a directory above a selected path).
 */
static int skip_entry(struct checkout *c, size_t base, const struct tree_entry *e)
{
	enum selected sel;

	set_path(c, base, e);
	if (excluded(c, e))
		return 1;
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

static int cmp_target(const void *a, const void *b)
{
	return strcmp(((const struct link_target *)a)->path,
		      ((const struct link_target *)b)->path);
}

static void add_target(struct checkout *c, const char *path, size_t len)
{
	ALLOC_GROW(c->targets, c->nr_targets + 1, c->alloc_targets);
	memset(&c->targets[c->nr_targets], 0, sizeof(*c->targets));
	c->targets[c->nr_targets++].path = xstrndup(path, len);
}

/* Sorts the link targets and drops repeats, for find_target(). */
static void sort_targets(struct checkout *c)
{
	size_t i, n = 0;

	QSORT(c->targets, c->nr_targets, cmp_target);
	for (i = 0; i < c->nr_targets; i++) {
		if (n && !strcmp(c->targets[n - 1].path, c->targets[i].path))
			free(c->targets[i].path);
		else
			c->targets[n++] = c->targets[i];
	}
	c->nr_targets = n;
}

static struct link_target *find_target(struct checkout *c, const char *path)
{
	struct link_target key;

	if (!c->nr_targets)
		return NULL;
	key.path = (char *)path;
	return bsearch(&key, c->targets, c->nr_targets, sizeof(*c->targets), cmp_target);
}

/*
 * Pass 1: parse every tree to be restored and list missing objects, and
 * note every path a hard link names (only files there need remembering).
 * Depth first over an explicit stack, so depth costs no C stack.
 */

/* A directory being walked: its parsed tree and the next entry to take. */
struct frame {
	struct tree t;
	size_t next;
	size_t base;	/* length of c->path for its entries */
};

/* 1 if some link target lies below the directory at path. */
static int holds_target(struct checkout *c, const char *path, size_t len)
{
	size_t lo = 0, hi = c->nr_targets;

	/* The first target not below path + "/" in byte order. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int cmp = strncmp(c->targets[mid].path, path, len);

		if (cmp < 0 || (cmp == 0 && (unsigned char)c->targets[mid].path[len] < '/'))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < c->nr_targets && !strncmp(c->targets[lo].path, path, len) &&
	       c->targets[lo].path[len] == '/';
}

/*
 * Pass 1b: every hard link must hold the blob of the file it names (the
 * format records the group's first member, docs/FORMAT.md "Hard links"):
 * a link naming a file with other bytes would restore those bytes under
 * its name.  A tree object alone cannot tell (link paths start at the
 * root), so the files at the named paths are looked up from the root,
 * reading only the trees on the way to them.
 */
static int check_links(struct checkout *c, const struct snap_oid *root, struct strbuf *err)
{
	struct frame *stack = NULL;
	struct strbuf path = STRBUF_INIT;
	size_t nr = 0, alloc = 0, i;
	int ret;

	ALLOC_GROW(stack, 1, alloc);
	memset(&stack[0], 0, sizeof(*stack));
	ret = read_tree(c, root, &stack[0].t, err);
	if (ret == 0)
		nr = 1;
	while (nr && ret == 0) {
		struct frame *f = &stack[nr - 1], *sub;
		const struct tree_entry *e;
		struct link_target *t;

		if (f->next == f->t.nr) {
			tree_release(&f->t);
			nr--;
			continue;
		}
		e = &f->t.entries[f->next++];
		strbuf_setlen(&path, f->base);
		if (f->base)
			strbuf_addch(&path, '/');
		strbuf_add(&path, e->name, e->name_len);
		if (e->type == TREE_FILE && (t = find_target(c, path.buf))) {
			t->in_tree = 1;
			t->oid = e->oid;
		} else if (e->type == TREE_DIR && holds_target(c, path.buf, path.len) &&
			   odb_has(c->odb, &e->oid)) {
			ALLOC_GROW(stack, nr + 1, alloc);
			sub = &stack[nr];
			memset(sub, 0, sizeof(*sub));
			sub->base = path.len;
			ret = read_tree(c, &e->oid, &sub->t, err);
			if (ret == 0)
				nr++;
		}
	}
	while (nr)
		tree_release(&stack[--nr].t);
	free(stack);
	strbuf_release(&path);
	for (i = 0; ret == 0 && i < c->nr_checks; i++) {
		const struct link_check *l = &c->checks[i];
		const struct link_target *t = find_target(c, l->target_path);
		char a[SNAP_OID_HEXSZ + 1], b[SNAP_OID_HEXSZ + 1];

		if (t && t->in_tree && oid_cmp(&t->oid, &l->oid))
			ret = snap_error(err, SNAP_EINVAL,
					 "malformed tree: hard link '%s' holds blob '%s', its target '%s' blob '%s'",
					 l->path, oid_to_hex_r(a, &l->oid), l->target_path,
					 oid_to_hex_r(b, &t->oid));
	}
	return ret;
}

/* 1 unless both --no-xattrs and --no-acls leave every attribute out. */
static int wants_xattrs(const struct checkout *c)
{
	return (c->opts->xattr_flags & (XATTR_NO_ACLS | XATTR_NO_OTHERS)) !=
	       (XATTR_NO_ACLS | XATTR_NO_OTHERS);
}

static int check_all(struct checkout *c, const struct snap_oid *root,
		     struct strbuf *err)
{
	struct frame *stack = NULL;
	size_t nr = 0, alloc = 0, nr_missing = 0, i;
	struct strbuf missing = STRBUF_INIT;
	int ret;

	ALLOC_GROW(stack, 1, alloc);
	memset(&stack[0], 0, sizeof(*stack));
	strbuf_reset(&c->path);
	ret = read_tree(c, root, &stack[0].t, err);
	if (ret == 0)
		nr = 1;
	while (nr && ret == 0) {
		struct frame *f = &stack[nr - 1], *sub;
		const struct tree_entry *e;

		if (f->next == f->t.nr) {
			tree_release(&f->t);
			nr--;
			continue;
		}
		e = &f->t.entries[f->next++];
		if (skip_entry(c, f->base, e))
			continue;
		if (e->link) {
			struct link_check *l;

			add_target(c, e->link, e->link_len);
			ALLOC_GROW(c->checks, c->nr_checks + 1, c->alloc_checks);
			l = &c->checks[c->nr_checks++];
			l->path = xstrdup(c->path.buf);
			l->target_path = xstrndup(e->link, e->link_len);
			l->oid = e->oid;
		}
		if (e->type == TREE_DIR && odb_has(c->odb, &e->oid)) {
			ALLOC_GROW(stack, nr + 1, alloc);
			sub = &stack[nr];
			memset(sub, 0, sizeof(*sub));
			sub->base = c->path.len;
			ret = read_tree(c, &e->oid, &sub->t, err);
			if (ret == 0)
				nr++;
			continue;
		}
		if (e->has_xattrs && wants_xattrs(c) && !odb_has(c->odb, &e->xattrs) &&
		    nr_missing++ < 100)
			strbuf_addf(&missing, "%s%s", nr_missing > 1 ? ", " : "",
				    oid_to_hex(&e->xattrs));
		if (e->type != TREE_DIR && e->type != TREE_FILE &&
		    e->type != TREE_SYMLINK)
			continue;
		if (e->type != TREE_DIR && odb_has(c->odb, &e->oid))
			continue;
		if (nr_missing++ < 100)
			strbuf_addf(&missing, "%s%s", nr_missing > 1 ? ", " : "",
				    oid_to_hex(&e->oid));
	}
	while (nr)
		tree_release(&stack[--nr].t);
	free(stack);
	sort_targets(c);
	if (ret == 0 && !nr_missing && c->nr_checks)
		ret = check_links(c, root, err);
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

static void dir_path(const struct checkout *c, size_t k, struct strbuf *out);

struct refusal {
	struct checkout *c;
	const char *path;
};

/* One line for each attribute the kernel refuses; the restore goes on. */
static void xattr_refused(const char *name, int errnum, void *data)
{
	struct refusal *r = data;
	const struct checkout_opts *o = r->c->opts;
	void (*warn)(const char *, void *) = o->meta_warn ? o->meta_warn : o->warn;
	struct strbuf msg = STRBUF_INIT;

	/* Quoted: a name or path with a newline is still one line. */
	strbuf_addstr(&msg, "cannot set extended attribute '");
	strbuf_addquoted(&msg, name, strlen(name));
	strbuf_addstr(&msg, "' of '");
	strbuf_addquoted(&msg, r->path, strlen(r->path));
	strbuf_addf(&msg, "': %s", strerror(errnum));
	pthread_mutex_lock(&r->c->unset_lock);
	r->c->nr_unset++;
	if (warn)
		warn(msg.buf, o->meta_warn ? o->meta_warn_data : o->warn_data);
	pthread_mutex_unlock(&r->c->unset_lock);
	strbuf_release(&msg);
}

/*
 * Sets e's extended attributes (and ACLs) on fd, or on the inode of the
 * O_PATH handle fd.  Called after the owner is set (a change of owner
 * clears security.capability) and before the mode and times (an access
 * ACL sets the group bits; the mode set after it is the one stored, whose
 * group bits are the ACL's mask).  An attribute the kernel refuses is a
 * warning; a set that cannot be read from the store fails the restore.
 */
static int set_xattrs(struct checkout *c, int fd, int handle, const struct tree_entry *e,
		      const char *path, struct strbuf *err)
{
	struct xattr_set s = XATTR_SET_INIT;
	struct refusal r = { c, path };
	int ret;

	if (!e->has_xattrs || !wants_xattrs(c))
		return 0;
	ret = xattr_load(c->odb, &e->xattrs, &s, err);
	if (ret == 0)
		xattr_apply(fd, handle, &s, c->opts->xattr_flags, xattr_refused, &r);
	xattr_set_release(&s);
	return ret;
}

/*
 * Sets owner (as root), extended attributes, mode and times through fd.
 * path names the entry; for a directory, NULL and dir is its index in
 * c->dirs (its path is built only when needed: that costs the depth).
 */
static int set_meta(struct checkout *c, int fd, const struct tree_entry *e,
		    const char *path, size_t dir, struct strbuf *err)
{
	struct strbuf buf = STRBUF_INIT;
	struct timespec ts[2];
	const char *what = NULL;
	int ret = 0, saved;

	if (!path && e->has_xattrs) {
		dir_path(c, dir, &buf);
		path = buf.buf;
	}
	if (c->as_root && fchown(fd, e->uid, e->gid) < 0) {
		what = "owner";
	} else if ((ret = set_xattrs(c, fd, 0, e, path, err)) == 0) {
		entry_times(e, ts);
		if (fchmod(fd, final_perm(c, e)) < 0)
			what = "mode";
		else if (futimens(fd, ts) < 0)
			what = "times";
	}
	if (what) {
		saved = errno;
		if (!path) {
			dir_path(c, dir, &buf);
			path = buf.buf;
		}
		errno = saved;
		ret = snap_error_errno(err, "cannot set the %s of '%s'", what, path);
	}
	strbuf_release(&buf);
	return ret;
}

/* The path of a directory this restore made, relative to the target. */
static void dir_path(const struct checkout *c, size_t k, struct strbuf *out)
{
	size_t *chain = NULL, nr = 0, alloc = 0;

	strbuf_reset(out);
	for (; k && k != NO_DIR; k = c->dirs[k].parent) {
		ALLOC_GROW(chain, nr + 1, alloc);
		chain[nr++] = k;
	}
	while (nr--) {
		strbuf_addstr(out, c->dirs[chain[nr]].name);
		if (nr)
			strbuf_addch(out, '/');
	}
	if (!out->len)
		strbuf_addch(out, '.');
	free(chain);
}

/* Checks that fd is still directory k of this restore. */
static int is_made_dir(const struct checkout *c, int fd, size_t k, struct strbuf *err)
{
	struct strbuf path = STRBUF_INIT;
	struct stat st;
	int ret;

	if (fstat(fd, &st) == 0 && st.st_dev == c->dirs[k].dev && st.st_ino == c->dirs[k].ino)
		return 0;
	dir_path(c, k, &path);
	ret = snap_error(err, SNAP_EUNSAFE, "directory '%s' was replaced during the restore",
			 path.buf);
	strbuf_release(&path);
	return ret;
}

/*
 * Moving between the directories this restore made holds one descriptor
 * (*fd, of directory *at) and resolves one component at a time: a name
 * without following a symlink, or "..", each checked to be the directory
 * made there.  So no depth of tree costs more than a few descriptors.
 */
static int enter_dir(struct checkout *c, int *fd, size_t *at, size_t k, struct strbuf *err)
{
	int sub = openat(*fd, c->dirs[k].name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (sub < 0) {
		struct strbuf path = STRBUF_INIT;
		int ret;

		dir_path(c, k, &path);
		ret = snap_error_errno(err, "cannot open directory '%s'", path.buf);
		strbuf_release(&path);
		return ret;
	}
	if (is_made_dir(c, sub, k, err) < 0) {
		close(sub);
		return SNAP_EUNSAFE;
	}
	close(*fd);
	*fd = sub;
	*at = k;
	return 0;
}

/* Goes up to the parent; with finish, sets the directory's own metadata. */
static int leave_dir(struct checkout *c, int *fd, size_t *at, int finish, struct strbuf *err)
{
	const struct made_dir *d = &c->dirs[*at];
	struct strbuf path = STRBUF_INIT;
	int up, ret = 0;

	/* ".." first: a mode without search permission would forbid it. */
	up = openat(*fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (up < 0) {
		dir_path(c, *at, &path);
		ret = snap_error_errno(err, "cannot open the directory above '%s'", path.buf);
	} else if (is_made_dir(c, up, d->parent, err) < 0) {
		ret = SNAP_EUNSAFE;
	} else if (finish) {
		ret = set_meta(c, *fd, &d->meta, NULL, *at, err);
	}
	strbuf_release(&path);
	if (ret < 0) {
		if (up >= 0)
			close(up);
		return ret;
	}
	close(*fd);
	*fd = up;
	*at = d->parent;
	return 0;
}

/* Makes directory e in the walk's directory and moves the walk into it. */
static int make_dir(struct checkout *c, const struct tree_entry *e, struct strbuf *err)
{
	struct made_dir *d;
	struct stat st;
	int fd;

	if (mkdirat(c->cur_fd, e->name, 0700) < 0)
		return snap_error_errno(err, "cannot create directory '%s'", shown(c));
	fd = openat(c->cur_fd, e->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return snap_error_errno(err, "cannot open directory '%s'", shown(c));
	if (fstat(fd, &st) < 0) {
		close(fd);
		return snap_error_errno(err, "cannot stat directory '%s'", shown(c));
	}
	ALLOC_GROW(c->dirs, c->nr_dirs + 1, c->alloc_dirs);
	d = &c->dirs[c->nr_dirs];
	d->parent = c->cur_dir;
	d->name = xstrndup(e->name, e->name_len);
	d->dev = st.st_dev;
	d->ino = st.st_ino;
	d->meta = *e;
	d->meta.name = NULL;
	d->meta.link = NULL;
	close(c->cur_fd);
	c->cur_fd = fd;
	c->cur_dir = c->nr_dirs++;
	return 0;
}

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
			ret = snap_error_errno(err, "cannot write '%s'", path);
	} while (ret == 0 && got);
	odb_stream_close(st);
	if (ret == 0 && e->sparse && ftruncate(fd, (off_t)e->size) < 0)
		ret = snap_error_errno(err, "cannot write '%s'", path);
	return ret;
}

/* A file to write: its directory's descriptor is the job's own. */
struct job {
	struct job *next;
	int dfd;
	struct tree_entry e;	/* name owned by the job */
	char *path;
	struct link_target *target;	/* where to note its inode, or NULL */
};

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
	if (e->has_xattrs && wants_xattrs(c))
		return 0;	/* an ACL may change the mode: it is set after */
	return !c->as_root || (c->plain_owner && e->uid == c->euid && e->gid == c->egid);
}

/* Creates and fills one file. */
static int run_job(struct checkout *c, struct job *j, char *buf, struct strbuf *err)
{
	int fd, ret, right = born_right(c, &j->e);

	fd = openat(j->dfd, j->e.name,
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
		ret = set_meta(c, fd, &j->e, j->path, 0, err);
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
		ret = snap_error_errno(err, "cannot write '%s'", j->path);
	return ret;
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
		if (!c->failed && run_job(c, j, buf, &err) < 0) {
			pool_fail(c, &err);
		} else if (c->meter) {
			pthread_mutex_lock(&c->lock);
			c->files_done++;
			c->bytes_done += j->e.size;
			pthread_mutex_unlock(&c->lock);
		}
		close(j->dfd);
		free(j->e.name);
		free(j->path);
		free(j);
	}
	free(buf);
	strbuf_release(&err);
	return NULL;
}

static int queue_job(struct checkout *c, const struct tree_entry *e,
		     struct link_target *target, struct strbuf *err)
{
	struct job *j;
	uint64_t files, bytes;
	int dfd = fcntl(c->cur_fd, F_DUPFD_CLOEXEC, 0);

	if (dfd < 0)
		return snap_error_errno(err, "cannot write '%s'", shown(c));
	j = xcalloc(1, sizeof(*j));
	j->dfd = dfd;
	j->e = *e;
	j->e.name = xstrndup(e->name, e->name_len);
	j->e.link = NULL;
	j->path = xstrdup(c->path.buf);
	j->target = target;
	pthread_mutex_lock(&c->lock);
	while (c->queued >= QUEUE_MAX)
		pthread_cond_wait(&c->room, &c->lock);
	if (c->tail)
		c->tail->next = j;
	else
		c->head = j;
	c->tail = j;
	c->queued++;
	pthread_cond_signal(&c->work);
	files = c->files_done;
	bytes = c->bytes_done;
	pthread_mutex_unlock(&c->lock);
	progress_update(c->meter, files, bytes);
	return 0;
}

static int restore_file(struct checkout *c, const struct tree_entry *e, struct strbuf *err)
{
	struct link_target *t = e->link ? find_target(c, e->link) : NULL;

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
	t = find_target(c, c->path.buf);
	if (t)
		t->written = 1;
	return queue_job(c, e, t, err);
}

/*
 * Opens what restore just made as name in dfd (a symlink, fifo or
 * device), as an O_PATH handle checked to be that: a new inode of the
 * type made, with no other name.  Its owner and times are then set
 * through the handle, never through a name something else may hold by
 * now.
 */
static int open_made(struct checkout *c, int dfd, const struct tree_entry *e,
		     mode_t type, struct strbuf *err)
{
	struct stat st;
	int fd = openat(dfd, e->name, O_PATH | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return snap_error_errno(err, "cannot open '%s'", shown(c));
	if (fstat(fd, &st) < 0 || (st.st_mode & S_IFMT) != type || st.st_nlink != 1) {
		close(fd);
		return snap_error(err, SNAP_EUNSAFE, "'%s' was replaced during the restore",
				  shown(c));
	}
	return fd;
}

/*
 * Sets the owner (as root), extended attributes and times of what
 * open_made() opened.
 */
static int handle_meta(struct checkout *c, int fd, int dfd, const struct tree_entry *e,
		       struct strbuf *err)
{
	struct timespec ts[2];
	int ret;

	if (c->as_root && fchownat(fd, "", e->uid, e->gid, AT_EMPTY_PATH) < 0)
		return snap_error_errno(err, "cannot set the owner of '%s'", shown(c));
	if ((ret = set_xattrs(c, fd, 1, e, shown(c), err)) < 0)
		return ret;
	/* A change of owner clears set-ID bits: put them back (a fifo's). */
	if (c->as_root && (final_perm(c, e) & (S_ISUID | S_ISGID)) && e->type != TREE_SYMLINK &&
	    fchmodat(dfd, e->name, final_perm(c, e), AT_SYMLINK_NOFOLLOW) < 0)
		return snap_error_errno(err, "cannot set the mode of '%s'", shown(c));
	entry_times(e, ts);
	if (utimensat(fd, "", ts, AT_EMPTY_PATH) < 0 &&
	    (errno != EINVAL || utimensat(dfd, e->name, ts, AT_SYMLINK_NOFOLLOW) < 0))
		return snap_error_errno(err, "cannot set the times of '%s'", shown(c));
	return 0;
}

static int restore_symlink(struct checkout *c, const struct tree_entry *e,
			   struct strbuf *err)
{
	struct strbuf target = STRBUF_INIT;
	enum object_type type;
	int ret, fd;

	ret = odb_read(c->odb, &e->oid, &type, &target, SYMLINK_MAX, err);
	if (ret == 0 && (type != OBJ_BLOB || target.len != e->size ||
			 memchr(target.buf, '\0', target.len)))
		ret = snap_error(err, SNAP_ECORRUPT, "bad symlink target for '%s'", shown(c));
	if (ret == 0 && symlinkat(target.buf, c->cur_fd, e->name) < 0)
		ret = snap_error_errno(err, "cannot create symlink '%s'", shown(c));
	strbuf_release(&target);
	if (ret < 0)
		return ret;
	fd = open_made(c, c->cur_fd, e, S_IFLNK, err);
	if (fd < 0)
		return fd;
	ret = handle_meta(c, fd, c->cur_fd, e, err);
	close(fd);
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

static int restore_node(struct checkout *c, const struct tree_entry *e,
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
	/* Made with its final mode (the umask is 0): no chmod by name. */
	if (mknodat(c->cur_fd, e->name, type | final_perm(c, e), dev) < 0)
		return snap_error_errno(err, "cannot create '%s'", shown(c));
	if (c->opts->step)
		c->opts->step("node", shown(c), c->opts->step_data);
	/* A fifo or device must not be opened for I/O: an O_PATH handle. */
	fd = open_made(c, c->cur_fd, e, type, err);
	if (fd < 0)
		return fd;
	ret = handle_meta(c, fd, c->cur_fd, e, err);
	close(fd);
	return ret;
}

static int restore_entry(struct checkout *c, const struct tree_entry *e,
			 struct strbuf *err)
{
	switch (e->type) {
	case TREE_FILE:
		return restore_file(c, e, err);
	case TREE_SYMLINK:
		return restore_symlink(c, e, err);
	case TREE_FIFO:
	case TREE_CHR:
	case TREE_BLK:
		return restore_node(c, e, err);
	case TREE_DIR:
		break;
	}
	BUG("restore_entry of a directory");
}

/*
 * Pass 2: writes the entries, depth first in name order, over an explicit
 * stack (a deep tree costs heap, not C stack, and two descriptors).
 * Directories are made private (0700); their own modes and times wait
 * until everything, hard links included, is in them (finish_dirs).
 */
static int restore_tree(struct checkout *c, const struct snap_oid *root, struct strbuf *err)
{
	struct frame *stack = NULL;
	size_t nr = 0, alloc = 0;
	int ret;

	ALLOC_GROW(stack, 1, alloc);
	memset(&stack[0], 0, sizeof(*stack));
	ret = read_tree(c, root, &stack[0].t, err);
	if (ret == 0)
		nr = 1;
	while (ret == 0 && nr && !c->failed) {
		struct frame *f = &stack[nr - 1], *sub;
		const struct tree_entry *e;

		if (f->next == f->t.nr) {
			tree_release(&f->t);
			if (--nr)
				ret = leave_dir(c, &c->cur_fd, &c->cur_dir, 0, err);
			continue;
		}
		e = &f->t.entries[f->next++];
		if (skip_entry(c, f->base, e))
			continue;
		if (e->type != TREE_DIR) {
			ret = restore_entry(c, e, err);
			continue;
		}
		ALLOC_GROW(stack, nr + 1, alloc);
		sub = &stack[nr];
		memset(sub, 0, sizeof(*sub));
		sub->base = c->path.len;
		ret = read_tree(c, &e->oid, &sub->t, err);
		if (ret == 0)
			ret = make_dir(c, e, err);
		if (ret == 0)
			nr++;
		else
			tree_release(&sub->t);
	}
	while (nr)
		tree_release(&stack[--nr].t);
	free(stack);
	return ret;
}

/*
 * Opens a directory this restore made by its path below the target, never
 * through a symlink: in one call with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS) where the kernel has it and the path fits,
 * otherwise one component at a time with O_NOFOLLOW.
 */
static int open_beneath(struct checkout *c, const char *path, struct strbuf *err)
{
	const char *p = path;
	int fd;

	if (!*path) {
		fd = fcntl(c->root_fd, F_DUPFD_CLOEXEC, 0);
		return fd < 0 ? snap_error_errno(err, "cannot open directory '.'") : fd;
	}
#ifdef SYS_openat2
	{
		struct open_how how;

		memset(&how, 0, sizeof(how));
		how.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
		how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
		fd = (int)syscall(SYS_openat2, c->root_fd, path, &how, sizeof(how));
		if (fd >= 0)
			return fd;
		if (errno != ENOSYS && errno != EPERM && errno != E2BIG &&
		    errno != ENAMETOOLONG && errno != EAGAIN)
			return snap_error_errno(err, "cannot open directory '%s'", path);
	}
#endif
	fd = fcntl(c->root_fd, F_DUPFD_CLOEXEC, 0);
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
		return snap_error_errno(err, "cannot open directory '%s'", path);
	return fd;
}

/* Makes one deferred hard link, to the very inode this restore wrote. */
static int make_link(struct checkout *c, const struct deferred_link *l, struct strbuf *err)
{
	const struct link_target *t = l->target;
	const char *slash = strrchr(t->path, '/');
	struct strbuf dir = STRBUF_INIT, shown_link = STRBUF_INIT;
	char *tdir = xstrndup(t->path, slash ? (size_t)(slash - t->path) : 0);
	const char *base = slash ? slash + 1 : t->path;
	struct stat st;
	int dfd = -1, tfd = -1, ret = 0;

	dir_path(c, l->dir, &dir);
	strbuf_addf(&shown_link, "%s%s%s", l->dir ? dir.buf : "", l->dir ? "/" : "", l->name);
	if (c->opts->step)
		c->opts->step("link", t->path, c->opts->step_data);
	dfd = open_beneath(c, l->dir ? dir.buf : "", err);
	if (dfd < 0)
		ret = dfd;
	else
		ret = is_made_dir(c, dfd, l->dir, err);
	if (ret == 0) {
		tfd = open_beneath(c, tdir, err);
		if (tfd < 0)
			ret = tfd;
	}
	if (ret == 0 && linkat(tfd, base, dfd, l->name, 0) < 0)
		ret = snap_error_errno(err, "cannot link '%s' to '%s'", shown_link.buf, t->path);
	if (ret == 0 && (fstatat(dfd, l->name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
			 st.st_dev != t->dev || st.st_ino != t->ino)) {
		/* Something else stood at the target's name: take it away. */
		unlinkat(dfd, l->name, 0);
		ret = snap_error(err, SNAP_EUNSAFE, "'%s' was replaced during the restore",
				 t->path);
	}
	if (dfd >= 0)
		close(dfd);
	if (tfd >= 0)
		close(tfd);
	free(tdir);
	strbuf_release(&dir);
	strbuf_release(&shown_link);
	return ret;
}

/*
 * Pass 4: gives every directory made its mode, owner and times, each
 * after all it holds (as GNU tar delays them): walks dirs in order with
 * one descriptor, finishing a directory when the walk leaves it.
 */
static int finish_dirs(struct checkout *c, struct strbuf *err)
{
	int fd = fcntl(c->root_fd, F_DUPFD_CLOEXEC, 0);
	size_t at = 0, k;
	int ret = 0;

	if (fd < 0)
		return snap_error_errno(err, "cannot open directory '.'");
	for (k = 1; ret == 0 && k <= c->nr_dirs; k++) {
		size_t want = k < c->nr_dirs ? c->dirs[k].parent : 0;

		while (ret == 0 && at != want)
			ret = leave_dir(c, &fd, &at, 1, err);
		if (ret == 0 && k < c->nr_dirs)
			ret = enter_dir(c, &fd, &at, k, err);
	}
	close(fd);
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
	c->meter = progress_start("files", 0);
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
	progress_update(c->meter, c->files_done, c->bytes_done);
	progress_done(c->meter);
	c->meter = NULL;
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

/*
 * 1 if the directory fd is the store (st) or below it: compared by
 * device and inode up to the root, by "..".
 */
static int in_store(int fd, const struct stat *store)
{
	struct stat st, up_st;
	int cur = fcntl(fd, F_DUPFD_CLOEXEC, 0), found = 0;

	while (cur >= 0 && fstat(cur, &st) == 0) {
		int up;

		if (st.st_dev == store->st_dev && st.st_ino == store->st_ino) {
			found = 1;
			break;
		}
		up = openat(cur, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (up < 0 || fstat(up, &up_st) < 0 ||
		    (up_st.st_dev == st.st_dev && up_st.st_ino == st.st_ino)) {
			if (up >= 0)
				close(up);
			break;
		}
		close(cur);
		cur = up;
	}
	if (cur >= 0)
		close(cur);
	return found;
}

/*
 * Opens the target: its parent by the path given (the caller's), the
 * target itself as one component that must be a directory, not a symlink.
 * A restore never writes in the store it reads: a target that is the
 * store or below it is refused before anything is made.
 */
static int open_target(struct checkout *c, const char *dir, struct strbuf *err)
{
	struct stat store_st;
	size_t len = strlen(dir);
	const char *slash;
	char *parent, *base;
	struct dirent *de;
	struct stat st;
	DIR *d;
	int pfd, fd;

	while (len > 1 && dir[len - 1] == '/')
		len--;
	slash = memrchr(dir, '/', len);
	if (!slash) {
		parent = xstrdup(".");
		base = xstrndup(dir, len);
	} else {
		parent = slash == dir ? xstrdup("/") : xstrndup(dir, (size_t)(slash - dir));
		base = slash + 1 < dir + len ? xstrndup(slash + 1, (size_t)(dir + len - slash - 1))
					     : xstrdup(".");
	}
	pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(parent);
	if (pfd < 0) {
		free(base);
		return snap_error_errno(err, "cannot open the directory above '%s'", dir);
	}
	if (stat(odb_store(c->odb)->path, &store_st) == 0 &&
	    (in_store(pfd, &store_st) ||
	     (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	      st.st_dev == store_st.st_dev && st.st_ino == store_st.st_ino))) {
		fd = snap_error(err, SNAP_EUNSAFE, "'%s' is inside the store", dir);
	} else if (mkdirat(pfd, base, 0777) < 0 && errno != EEXIST) {
		fd = snap_error_errno(err, "cannot create directory '%s'", dir);
	} else if ((fd = openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
			fd = snap_error(err, SNAP_EUNSAFE, "'%s' is a symbolic link", dir);
		else
			fd = snap_error_errno(err, "cannot open directory '%s'", dir);
	}
	close(pfd);
	free(base);
	if (fd < 0)
		return fd;
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

/* 1 if path a is b or lies below it. */
static int path_within(const char *a, const char *b)
{
	size_t n = strlen(b);

	return !strncmp(a, b, n) && (a[n] == '\0' || a[n] == '/');
}

/* The same path twice, or one below another, would be written twice. */
static int paths_disjoint(const char *const *paths, size_t nr, struct strbuf *err)
{
	size_t i, j;

	for (i = 0; i < nr; i++)
		for (j = i + 1; j < nr; j++)
			if (path_within(paths[i], paths[j]) || path_within(paths[j], paths[i]))
				return snap_error(err, SNAP_EINVAL, "paths '%s' and '%s' overlap",
						  paths[i], paths[j]);
	return 0;
}

int checkout_tree(struct odb *odb, const struct snap_oid *tree,
		  const char *dir, const struct checkout_opts *opts,
		  struct strbuf *err)
{
	struct checkout c;
	struct checkout_opts o;
	struct strbuf ignored = STRBUF_INIT;
	struct stat st;
	char **paths = NULL;
	size_t i;
	int ret, r;
	mode_t old_umask;

	memset(&c, 0, sizeof(c));
	memset(&o, 0, sizeof(o));
	if (opts)
		o = *opts;
	c.odb = odb;
	c.opts = &o;
	c.root_fd = c.cur_fd = -1;
	strbuf_init(&c.path, 0);
	c.as_root = o.same_owner && geteuid() == 0;
	pthread_mutex_init(&c.unset_lock, NULL);
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
		ret = paths_disjoint(o.paths, o.nr_paths, err);
		if (ret < 0)
			goto out;
	}
	c.path_found = xcalloc(o.nr_paths + 1, sizeof(int));
	if (o.nr_excludes) {
		c.excl = xcalloc(o.nr_excludes, sizeof(*c.excl));
		for (i = 0; i < o.nr_excludes; i++)
			exclude_prepare(&c.excl[i], o.excludes[i]);
	}
	raise_fd_limit();

	ret = check_all(&c, tree, err);
	if (ret < 0)
		goto out;
	c.root_fd = open_target(&c, dir, err);
	if (c.root_fd < 0) {
		ret = c.root_fd;
		goto out;
	}
	if (fstat(c.root_fd, &st) < 0) {
		ret = snap_error_errno(err, "cannot stat directory '%s'", dir);
		goto out;
	}
	c.euid = geteuid();
	c.egid = getegid();
	c.plain_owner = !(st.st_mode & S_ISGID);
	ALLOC_GROW(c.dirs, 1, c.alloc_dirs);
	memset(&c.dirs[0], 0, sizeof(*c.dirs));
	c.dirs[0].parent = NO_DIR;
	c.dirs[0].name = xstrdup(".");
	c.dirs[0].dev = st.st_dev;
	c.dirs[0].ino = st.st_ino;
	c.nr_dirs = 1;
	c.cur_fd = fcntl(c.root_fd, F_DUPFD_CLOEXEC, 0);
	if (c.cur_fd < 0) {
		ret = snap_error_errno(err, "cannot open directory '%s'", dir);
		goto out;
	}

	old_umask = umask(0);
	strbuf_reset(&c.path);
	pool_start(&c);
	ret = restore_tree(&c, tree, err);
	r = pool_stop(&c, ret < 0 ? &ignored : err);
	if (ret == 0)
		ret = r;
	/* Pass 3: hard links, while every directory is still writable. */
	for (i = 0; ret == 0 && i < c.nr_links; i++)
		ret = make_link(&c, &c.links[i], err);
	if (ret == 0)
		ret = finish_dirs(&c, err);
	umask(old_umask);
out:
	if (c.cur_fd >= 0)
		close(c.cur_fd);
	if (c.root_fd >= 0)
		close(c.root_fd);
	for (i = 0; i < c.nr_dirs; i++)
		free(c.dirs[i].name);
	free(c.dirs);
	for (i = 0; i < c.nr_targets; i++)
		free(c.targets[i].path);
	free(c.targets);
	for (i = 0; i < c.nr_links; i++)
		free(c.links[i].name);
	free(c.links);
	for (i = 0; i < c.nr_checks; i++) {
		free(c.checks[i].path);
		free(c.checks[i].target_path);
	}
	free(c.checks);
	for (i = 0; c.excl && i < o.nr_excludes; i++)
		exclude_release(&c.excl[i]);
	free(c.excl);
	strbuf_release(&ignored);
	for (i = 0; paths && i < o.nr_paths; i++)
		free(paths[i]);
	free(paths);
	free(c.path_found);
	strbuf_release(&c.path);
	pthread_mutex_destroy(&c.unset_lock);
	return ret == 0 && c.nr_unset ? CHECKOUT_INCOMPLETE : ret;
}

/* Whether the directory open on fd holds nothing (an error counts as not). */
static int fd_dir_empty(int fd)
{
	int dfd = dup(fd), empty = 1;
	struct dirent *d;
	DIR *dir;

	if (dfd < 0 || !(dir = fdopendir(dfd))) {
		if (dfd >= 0)
			close(dfd);
		return 0;
	}
	while (empty && (d = readdir(dir)))
		if (strcmp(d->d_name, ".") && strcmp(d->d_name, ".."))
			empty = 0;
	closedir(dir);
	return empty;
}

/*
 * When tmp names an entry directly in dir ("DIR/NAME", as written), its
 * NAME; else NULL.
 */
static const char *name_in(const char *dir, const char *tmp)
{
	size_t n = strlen(dir);

	while (n > 1 && dir[n - 1] == '/')
		n--;
	if (strncmp(tmp, dir, n) || tmp[n] != '/' || !tmp[n + 1] || strchr(tmp + n + 1, '/'))
		return NULL;
	if (!strcmp(tmp + n + 1, ".") || !strcmp(tmp + n + 1, ".."))
		return NULL;
	return tmp + n + 1;
}

int checkout_in_place(struct odb *odb, const struct snap_oid *tree,
		      const char *dir, const char *tmp,
		      const struct checkout_opts *opts, struct strbuf *err)
{
	struct strbuf new_dir = STRBUF_INIT, old_dir = STRBUF_INIT, self = STRBUF_INIT;
	struct checkout_opts o = *opts;
	char **paths = NULL, *rdir = NULL, *rtmp = NULL;
	const char *name = name_in(dir, tmp);
	struct stat st;
	size_t i, n;
	int fd = -1, dfd, ret = 0, incomplete = 0;

	/*
	 * dir and tmp are reached through descriptors from here on: whoever
	 * may write where they lie cannot swap either for a symlink between
	 * two steps, and a tmp that is not ours alone (another's directory
	 * put in its place) is refused.  A tmp named directly in dir is
	 * opened, or made when absent, through dir's descriptor, so it is in
	 * the directory every later step works in.
	 */
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return errno == ELOOP || errno == ENOTDIR
		       ? snap_error(err, SNAP_EUNSAFE, "'%s' is not a directory", dir)
		       : snap_error_errno(err, "cannot open '%s'", dir);
	if (name) {
		if (mkdirat(dfd, name, 0700) < 0 && errno != EEXIST) {
			ret = snap_error_errno(err, "cannot create '%s'", tmp);
			goto out;
		}
		fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	} else {
		fd = open(tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0) {
		ret = snap_error_errno(err, "cannot open '%s'", tmp);
		goto out;
	}
	if (fstat(fd, &st) < 0 || st.st_uid != geteuid() || (st.st_mode & 077)) {
		ret = snap_error(err, SNAP_EUNSAFE,
				 "'%s' is not a directory of this user's alone (mode 0700)", tmp);
		goto out;
	}
	/* Elsewhere inside dir it must sit directly in it: it is then left alone. */
	if (!name) {
		rdir = realpath(dir, NULL);
		rtmp = realpath(tmp, NULL);
		if (!rdir || !rtmp) {
			ret = snap_error_errno(err, "cannot resolve '%s'", rdir ? tmp : dir);
			goto out;
		}
		n = strlen(rdir);
		if (!strcmp(rdir, rtmp) || (path_within(rtmp, rdir) && strchr(rtmp + n + 1, '/'))) {
			ret = snap_error(err, SNAP_EINVAL, "'%s' must be outside '%s' or directly in it",
					 tmp, dir);
			goto out;
		}
	}
	if (!fd_dir_empty(fd)) {
		ret = snap_error(err, SNAP_EINVAL, "'%s' is not empty", tmp);
		goto out;
	}
	if (o.nr_paths) {
		paths = xcalloc(o.nr_paths, sizeof(*paths));
		for (i = 0; i < o.nr_paths; i++)
			paths[i] = clean_path(o.paths[i]);
		o.paths = (const char *const *)paths;
	}
	strbuf_addf(&self, "/proc/self/fd/%d", fd);
	strbuf_addf(&new_dir, "%s/new", self.buf);
	strbuf_addf(&old_dir, "%s/old", self.buf);
	ret = checkout_tree(odb, tree, new_dir.buf, &o, err);
	if (ret == CHECKOUT_INCOMPLETE) {
		incomplete = 1;
		ret = 0;
	}
	if (ret == 0 && mkdirat(fd, "old", 0700) < 0)
		ret = snap_error_errno(err, "cannot create '%s/old'", tmp);
	if (ret == 0)
		ret = place_entries_at(new_dir.buf, dfd, dir, o.paths, o.nr_paths, old_dir.buf,
				       self.buf, err);
out:
	if (fd >= 0)
		close(fd);
	close(dfd);
	for (i = 0; paths && i < o.nr_paths; i++)
		free(paths[i]);
	free(paths);
	free(rdir);
	free(rtmp);
	strbuf_release(&new_dir);
	strbuf_release(&old_dir);
	strbuf_release(&self);
	return ret == 0 && incomplete ? CHECKOUT_INCOMPLETE : ret;
}
