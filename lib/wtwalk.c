/*
 * write-tree's walk of a directory: depth-first, entries in name order,
 * on an explicit stack with at most OPEN_DIRS descriptors open; and what
 * it leaves out: excludes, tagged caches, directories holding a marker,
 * files over a size, the store itself (writetree.h, "Excludes").
 */
#include "writetree.h"
#include "writetree-internal.h"

#include "error.h"
#include "exclude.h"
#include "progress.h"
#include "statcache.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

void wt_excludes_prepare(struct walker *w)
{
	size_t i;

	if (!w->opts || !w->opts->nr_excludes)
		return;
	w->excl = xcalloc(w->opts->nr_excludes, sizeof(*w->excl));
	for (i = 0; i < w->opts->nr_excludes; i++)
		exclude_prepare(&w->excl[i], w->opts->excludes[i]);
	if (w->opts->exclude_hits)
		memset(w->opts->exclude_hits, 0, w->opts->nr_excludes * sizeof(uint64_t));
}

/*
 * 1 if the entry at hand, name in dfd, is left out by a pattern.  Its
 * type is the one d_type gives, or is looked up only when a pattern for
 * directories needs it.
 */
static int excluded(struct walker *w, int dfd, const char *name, unsigned char d_type)
{
	int is_dir = d_type == DT_UNKNOWN ? -1 : d_type == DT_DIR;
	size_t i;

	if (w->is_source)
		return 0;
	for (i = 0; w->excl && i < w->opts->nr_excludes; i++) {
		const struct exclude *x = &w->excl[i];
		int hit;

		switch (x->kind) {
		case EXCLUDE_NAME:
			hit = exclude_match(x, name);
			break;
		case EXCLUDE_BELOW:
			hit = exclude_match(x, w->path.buf + w->src_base);
			break;
		default:
			strbuf_setlen(&w->abs, w->abs_base);
			strbuf_addbuf(&w->abs, &w->path);
			hit = exclude_match(x, w->abs.buf);
			break;
		}
		if (hit && x->dir_only) {
			if (is_dir < 0) {
				struct stat st;
				is_dir = fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
					 S_ISDIR(st.st_mode);
			}
			hit = is_dir;
		}
		if (hit) {
			if (w->opts->exclude_hits)
				w->opts->exclude_hits[i]++;
			wt_list_entry(w, "skip");
			return 1;
		}
	}
	return 0;
}

/* The signature a CACHEDIR.TAG starts with (Cache Directory Tagging). */
static const char cachedir_sig[] = "Signature: 8a477f597d28d172789f06886806bc55";

/* 1 if dfd holds a regular file CACHEDIR.TAG that starts with the signature. */
static int is_cache_dir(int dfd)
{
	char buf[sizeof(cachedir_sig) - 1];
	struct stat st;
	ssize_t n;
	int fd = openat(dfd, "CACHEDIR.TAG", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return 0;
	n = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ?
	    pread(fd, buf, sizeof(buf), 0) : -1;
	close(fd);
	return n == (ssize_t)sizeof(buf) && !memcmp(buf, cachedir_sig, sizeof(buf));
}

/*
 * The store is never stored: the walk would read the objects it is
 * writing (and a pack growing under it).  It is known by device and inode,
 * so any name or path to it is met.
 */
static int is_store(struct walker *w, const struct stat *st)
{
	struct strbuf msg = STRBUF_INIT;

	if (!w->has_store || st->st_dev != w->store_dev || st->st_ino != w->store_ino)
		return 0;
	if (w->opts && w->opts->warn) {
		strbuf_addstr(&msg, "leaving out the store '");
		strbuf_addquoted(&msg, w->path.buf, w->path.len);
		strbuf_addch(&msg, '\'');
		progress_clear(w->meter);
		w->opts->warn(msg.buf, w->opts->warn_data);
		strbuf_release(&msg);
	}
	return 1;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a + 1, *(char *const *)b + 1);
}

/*
 * Reads and sorts the names in a directory (not . and ..), with
 * getdents64 on the descriptor itself: no DIR stream to set up and tear
 * down for each of many small directories.  Each name is stored after
 * one byte holding its d_type, so names[i] + 1 is the name; all of them
 * live in *pool, which the caller frees with the array.
 */
static int read_names(int dfd, char ***names, size_t *nr, char **pool,
		      struct strbuf *err, const char *what)
{
	struct strbuf all = STRBUF_INIT;
	char buf[16384];
	size_t alloc = 0, pos, i;
	ssize_t n;

	*names = NULL;
	*nr = 0;
	while ((n = getdents64(dfd, buf, sizeof(buf))) > 0) {
		for (pos = 0; pos < (size_t)n;) {
			const struct dirent64 *de = (const struct dirent64 *)(buf + pos);
			const char *name = de->d_name;

			pos += de->d_reclen;
			if (name[0] == '.' && (!name[1] || (name[1] == '.' && !name[2])))
				continue;
			strbuf_addch(&all, (char)de->d_type);
			strbuf_add(&all, name, strlen(name) + 1);
			(*nr)++;
		}
	}
	if (n < 0) {
		strbuf_release(&all);
		*nr = 0;
		return snap_error_errno(err, "cannot read directory '%s'", what);
	}
	ALLOC_GROW(*names, *nr, alloc);
	for (i = 0, pos = 0; i < *nr; i++) {
		(*names)[i] = all.buf + pos;
		pos += strlen(all.buf + pos + 1) + 2;
	}
	QSORT(*names, *nr, cmp_names);
	*pool = strbuf_detach(&all, NULL);
	return 0;
}

/*
 * One directory being stored.  The walk keeps a stack of these, not C
 * stack frames, so that depth costs heap only.  Only the deepest
 * OPEN_DIRS frames hold their descriptor: one above them is closed, and
 * opened again through ".." of its child when the walk comes back to it
 * (checked to be the same directory by device and inode).
 */
struct frame {
	int fd;			/* -1 while closed */
	dev_t dev;
	ino_t ino;
	char **names, *pool;	/* from read_names() */
	size_t nr, next;	/* the entries and the next one to store */
	size_t base;		/* length of w->path for this directory */
	struct tree t;
	struct tree_entry self;	/* its own entry, added to the parent at the end */
};

#define OPEN_DIRS 64

static void frame_release(struct frame *f)
{
	if (f->fd >= 0)
		close(f->fd);
	free(f->pool);
	free(f->names);
	tree_release(&f->t);
}

/*
 * 1 if the directory fd holds an entry --exclude-if-present names (listed
 * as skipped).
 */
static int has_marker(struct walker *w, int fd)
{
	struct stat st;
	size_t i;

	for (i = 0; !w->is_source && w->opts && i < w->opts->nr_if_present; i++)
		if (fstatat(fd, w->opts->if_present[i], &st, AT_SYMLINK_NOFOLLOW) == 0) {
			wt_list_entry(w, "skip");
			return 1;
		}
	return 0;
}

/* Keeps only CACHEDIR.TAG among the names of a tagged cache directory. */
static void keep_cache_tag(struct walker *w, struct frame *f)
{
	size_t i;

	if (!w->opts || !w->opts->exclude_caches)
		return;
	for (i = 0; i < f->nr; i++)
		if (!strcmp(f->names[i] + 1, "CACHEDIR.TAG"))
			break;
	if (i == f->nr || !is_cache_dir(f->fd))
		return;
	if (wt_dry_run(w)) {
		size_t j, base = w->path.len;

		for (j = 0; j < f->nr; j++) {
			if (j == i)
				continue;
			if (base)
				strbuf_addch(&w->path, '/');
			strbuf_addstr(&w->path, f->names[j] + 1);
			wt_list_entry(w, "skip");
			strbuf_setlen(&w->path, base);
		}
	}
	f->names[0] = f->names[i];
	f->nr = 1;
}

/*
 * 1 if --exclude-nodump leaves out the entry at hand, whose flags
 * wt_entry_flags() read (listed as skipped).
 */
static int nodump(struct walker *w)
{
	if (w->is_source || !w->opts || !w->opts->exclude_nodump ||
	    !(w->flags_read & TREE_FLAG_NODUMP))
		return 0;
	wt_list_entry(w, "skip");
	return 1;
}

/* The flags the entry at hand's tree entry gets. */
static unsigned stored_flags(const struct walker *w)
{
	return w->opts && w->opts->no_flags ? 0 : w->flags_read;
}

/*
 * Stores one entry of the directory dfd.  A directory to descend into is
 * not stored here: *sub is set to its open descriptor and *dir_entry to
 * its entry (all but the id), and the caller walks it.
 */
int wt_store_entry(struct walker *w, int dfd, const char *name,
		   unsigned char d_type, struct tree *t, int *sub,
		   struct tree_entry *dir_entry, struct strbuf *err)
{
	struct tree_entry e;
	struct stat st;
	int ret = 0, fd = -1;

	memset(&e, 0, sizeof(e));
	*sub = -1;
	w->hit = NULL;
	w->flags_read = 0;	/* only files and directories have any */
	if (excluded(w, dfd, name, d_type))
		return 0;
	wt_run_hook(w, "listed");
	if (d_type == DT_REG && !w->old) {
		/*
		 * Open first and stat the descriptor: one call fewer.  With
		 * a cache, stat first: most files need no opening.
		 */
		fd = wt_open_file(dfd, name);
		if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))) {
			close(fd);
			fd = -1;
		}
	}
	if (fd < 0 && fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		ret = wt_call_failed(w, errno, "stat", err);
		return ret < 0 ? ret : 0;
	}
	if (S_ISREG(st.st_mode) && w->opts && w->opts->exclude_larger && !w->is_source &&
	    (uint64_t)st.st_size > w->opts->larger_than) {
		if (fd >= 0)
			close(fd);
		wt_list_entry(w, "skip");
		return 0;
	}
	wt_set_times(&e, &st);
	/* Fewer blocks than the size takes: holes, to restore as holes. */
	e.sparse = S_ISREG(st.st_mode) && (uint64_t)st.st_blocks * 512 < (uint64_t)st.st_size;
	w->xattrs_partial = 0;
	/*
	 * A file, directory or symlink whose stat data its stat cache entry
	 * holds: its flags, attributes and content (a symlink's target) come
	 * from the entry.  With a cache a regular file is stat'ed, not opened.
	 */
	if (w->old && fd < 0)
		w->hit = stat_cache_lookup(w->old, w->path.buf, w->path.len, &st);
	if (S_ISREG(st.st_mode)) {
		/* Its flags first: one --exclude-nodump leaves out costs no more. */
		ret = wt_entry_flags(w, dfd, name, &fd, &st, err);
		if (ret < 0 || nodump(w)) {
			if (fd >= 0)
				close(fd);
			return ret;
		}
	}
	ret = wt_entry_xattrs(w, dfd, name, fd, &st, &e, err);
	if (ret < 0) {
		if (fd >= 0)
			close(fd);
		if (ret == SNAP_ENOTFOUND)	/* gone since it was stat'ed */
			ret = wt_call_failed(w, ENOENT, "open", err);
		return ret < 0 ? ret : 0;
	}
	if (S_ISREG(st.st_mode)) {
		e.type = TREE_FILE;
		ret = wt_store_file(w, dfd, name, fd, &st, &e, err);
		fd = -1;
	} else if (S_ISDIR(st.st_mode)) {
		if (is_store(w, &st))
			return 0;
		e.type = TREE_DIR;
		if (w->opts && w->opts->one_fs && st.st_dev != w->root_dev) {
			ret = wt_write_obj(w, OBJ_TREE, "", 0, &e.oid, err);
		} else {
			*sub = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (*sub < 0) {
				ret = wt_call_failed(w, errno, "open directory", err);
				return ret < 0 ? ret : 0;
			}
			ret = wt_entry_flags(w, dfd, name, sub, &st, err);
			if (ret < 0 || nodump(w) || has_marker(w, *sub)) {
				close(*sub);
				*sub = -1;
				return ret;
			}
			e.flags = stored_flags(w);
			e.name = (char *)name;
			e.name_len = strlen(name);
			*dir_entry = e;
			wt_cache_add(w, &st, &e);
			return 0;
		}
	} else if (S_ISLNK(st.st_mode)) {
		e.type = TREE_SYMLINK;
		ret = wt_store_symlink(w, dfd, name, &st, &e, err);
	} else if (S_ISFIFO(st.st_mode)) {
		e.type = TREE_FIFO;
	} else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
		e.type = S_ISCHR(st.st_mode) ? TREE_CHR : TREE_BLK;
		e.rdev_major = major(st.st_rdev);
		e.rdev_minor = minor(st.st_rdev);
	} else {
		wt_warnf(w, S_ISSOCK(st.st_mode) ? "socket" : "unknown file type");
		return 0;
	}
	if (ret == GONE)
		return 0;
	if (ret < 0)
		return ret;
	e.flags = stored_flags(w);
	e.name = (char *)name;
	e.name_len = strlen(name);
	tree_add(t, &e);
	return 0;
}

/* Pushes a frame for the open directory fd and reads its names. */
static int push_dir(struct walker *w, struct frame **stack, size_t *nr, size_t *alloc,
		    int fd, struct strbuf *err)
{
	struct frame *f;
	struct stat st;
	int ret;

	ALLOC_GROW(*stack, *nr + 1, *alloc);
	f = &(*stack)[(*nr)++];
	memset(f, 0, sizeof(*f));
	f->fd = fd;
	f->base = w->path.len;
	if (fstat(fd, &st) < 0)
		return snap_error_errno(err, "cannot stat '%s'", wt_shown(w));
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	ret = read_names(fd, &f->names, &f->nr, &f->pool, err, wt_shown(w));
	if (ret == 0)
		keep_cache_tag(w, f);
	if (ret == 0 && *nr > OPEN_DIRS) {
		struct frame *far = &(*stack)[*nr - 1 - OPEN_DIRS];
		close(far->fd);
		far->fd = -1;
	}
	return ret;
}

/* Opens parent's directory again through ".." of child's, if it was closed. */
static int reopen_parent(struct walker *w, struct frame *parent, const struct frame *child,
			 struct strbuf *err)
{
	struct stat st;

	if (parent->fd >= 0)
		return 0;
	parent->fd = openat(child->fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (parent->fd < 0)
		return snap_error_errno(err, "cannot open directory '%.*s'",
					(int)parent->base, parent->base ? w->path.buf : ".");
	if (fstat(parent->fd, &st) < 0 || st.st_dev != parent->dev || st.st_ino != parent->ino)
		return snap_error(err, SNAP_EINVAL, "'%.*s' moved while it was read",
				  (int)parent->base, parent->base ? w->path.buf : ".");
	return 0;
}

/*
 * Stores the tree of the open directory root (which it takes over),
 * depth-first with entries in name order, without recursion.
 */
int wt_walk(struct walker *w, int root, struct snap_oid *out, struct strbuf *err)
{
	struct frame *stack = NULL;
	struct strbuf buf = STRBUF_INIT;
	size_t nr = 0, alloc = 0;
	int ret;

	ret = push_dir(w, &stack, &nr, &alloc, root, err);
	while (ret == 0 && nr) {
		struct frame *f = &stack[nr - 1];
		struct tree_entry e;
		const char *name;
		int sub;

		if (f->next < f->nr) {
			name = f->names[f->next] + 1;
			strbuf_setlen(&w->path, f->base);
			if (f->base)
				strbuf_addch(&w->path, '/');
			strbuf_addstr(&w->path, name);
			ret = wt_store_entry(w, f->fd, name, (unsigned char)f->names[f->next][0],
					  &f->t, &sub, &e, err);
			f->next++;
			if (ret == 0 && sub >= 0) {
				ret = push_dir(w, &stack, &nr, &alloc, sub, err);
				if (ret == 0)
					stack[nr - 1].self = e;
			}
			continue;
		}
		/* Every entry is in: store this tree, add it to the parent. */
		strbuf_setlen(&w->path, f->base);
		strbuf_reset(&buf);
		ret = tree_encode(&f->t, &buf, err);
		if (ret == 0)
			ret = wt_write_obj(w, OBJ_TREE, buf.buf, buf.len,
					    nr == 1 ? out : &f->self.oid, err);
		if (ret == 0 && nr > 1) {
			struct frame *parent = &stack[nr - 2];
			ret = reopen_parent(w, parent, f, err);
			if (ret == 0)
				tree_add(&parent->t, &f->self);
		}
		if (ret == 0 && nr > 1)
			strbuf_setlen(&w->path, stack[nr - 2].base);
		frame_release(f);
		nr--;
	}
	while (nr)
		frame_release(&stack[--nr]);
	free(stack);
	strbuf_release(&buf);
	return ret;
}
