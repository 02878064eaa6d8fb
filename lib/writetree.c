/*
 * Storing a directory, or several paths under their absolute paths
 * (writetree.h): the walker, the odb batch and the stat cache around a
 * walk.  The walk is lib/wtwalk.c, each entry lib/wtentry.c.
 */
#include "writetree.h"
#include "writetree-internal.h"

#include "progress.h"
#include "error.h"
#include "exclude.h"
#include "fsio.h"
#include "statcache.h"
#include "store.h"
#include "tree.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Writes the new cache if it differs from the old one; failure is a warning. */
static void save_cache(struct walker *w, const char *path)
{
	struct strbuf err = STRBUF_INIT, msg = STRBUF_INIT;

	if (w->old && !w->nr_fresh && w->cur->nr == w->old->nr)
		return;		/* the same entries: the old file stays right */
	if (stat_cache_write(w->cur, odb_store(w->odb), path, &err) < 0 &&
	    w->opts->warn) {
		strbuf_addf(&msg, "%s; the next snapshot reads every file", err.buf);
		progress_clear(w->meter);
		w->opts->warn(msg.buf, w->opts->warn_data);
	}
	strbuf_release(&err);
	strbuf_release(&msg);
}

static void walker_init(struct walker *w, struct odb *odb, const struct write_tree_opts *opts)
{
	memset(w, 0, sizeof(*w));
	w->odb = odb;
	w->opts = opts;
	strbuf_init(&w->path, 0);
	strbuf_init(&w->abs, 0);
	w->hook_path = getenv("SNAP_TEST_HOOK_PATH");
	w->hook_at = getenv("SNAP_TEST_HOOK_AT");
	w->hook_cmd = getenv("SNAP_TEST_HOOK_CMD");
	if (!w->hook_path || !w->hook_at)
		w->hook_cmd = NULL;
	wt_excludes_prepare(w);
}

static void walker_release(struct walker *w)
{
	size_t i;

	for (i = 0; i < w->size_seen; i++)
		free(w->seen[i].path);
	free(w->seen);
	for (i = 0; w->excl && i < w->opts->nr_excludes; i++)
		exclude_release(&w->excl[i]);
	free(w->excl);
	strbuf_release(&w->path);
	strbuf_release(&w->abs);
}

/* Learns the store's device and inode. */
static void find_store(struct walker *w)
{
	struct stat st;

	if (stat(odb_store(w->odb)->path, &st) == 0) {
		w->has_store = 1;
		w->store_dev = st.st_dev;
		w->store_ino = st.st_ino;
	}
}

/*
 * Runs store(w, data, out, err) in one odb batch with the stat cache
 * opts->cache for the root directory root_st, then saves the cache.
 */
static int walk_batch(struct walker *w, const struct stat *root_st,
		      int (*store)(struct walker *, void *, struct snap_oid *, struct strbuf *),
		      void *data, struct snap_oid *out, struct strbuf *err)
{
	const struct write_tree_opts *opts = w->opts;
	struct stat_cache old, cur;
	struct strbuf cache_path = STRBUF_INIT;
	/* A cache made without reading flags has none to give. */
	uint32_t leave_out = opts ? opts->xattr_flags |
		(opts->no_flags && !opts->exclude_nodump ? STAT_CACHE_NO_FLAGS : 0) : 0;
	int ret;

	if (opts && opts->cache &&
	    (ret = stat_cache_path(odb_store(w->odb), opts->cache, &cache_path, err)) < 0)
		return ret;
	if (cache_path.len) {
		/* Stamped before any file is looked at (lib/statcache.h). */
		stat_cache_init(&cur, root_st);
		cur.xattr_flags = leave_out;
		w->cur = &cur;
		stat_cache_init(&old, root_st);
		/* One made leaving other attributes out cannot give them. */
		if (!opts->force_read &&
		    stat_cache_read(&old, cache_path.buf, root_st, NULL) == 0 &&
		    old.xattr_flags == leave_out) {
			w->old = &old;
			stat_cache_reserve(&cur, old.nr, old.paths.len);
		}
	}
	raise_fd_limit();
	if (!wt_dry_run(w))
		w->meter = progress_start("files", 0);
	if (wt_dry_run(w)) {
		ret = store(w, data, out, err);
	} else {
		odb_batch_begin(w->odb);
		ret = store(w, data, out, err);
		if (ret == 0)
			ret = odb_batch_end(w->odb, err);
		else
			odb_batch_abort(w->odb);
		if (ret == 0 && w->cur)
			save_cache(w, cache_path.buf);
	}
	progress_done(w->meter);
	w->meter = NULL;
	if (ret == 0 && opts && opts->stats)
		*opts->stats = w->stats;
	if (w->cur) {
		stat_cache_release(&old);
		stat_cache_release(&cur);
	}
	strbuf_release(&cache_path);
	return ret;
}

static int store_root(struct walker *w, void *data, struct snap_oid *out, struct strbuf *err)
{
	return wt_walk(w, *(int *)data, out, err);
}

int abs_path_clean(const char *path, struct strbuf *out, struct strbuf *err)
{
	struct strbuf in = STRBUF_INIT;
	const char *p;

	strbuf_reset(out);
	if (path[0] != '/') {
		char *cwd = getcwd(NULL, 0);
		if (!cwd)
			return snap_error_errno(err, "cannot find the working directory");
		strbuf_addstr(&in, cwd);
		strbuf_addch(&in, '/');
		free(cwd);
	}
	strbuf_addstr(&in, path);
	for (p = in.buf; *p;) {
		const char *e = strchrnul(p, '/');
		size_t len = (size_t)(e - p);

		if (len == 2 && p[0] == '.' && p[1] == '.') {
			char *slash = strrchr(out->buf, '/');
			strbuf_setlen(out, slash ? (size_t)(slash - out->buf) : 0);
		} else if (len && !(len == 1 && p[0] == '.')) {
			strbuf_addch(out, '/');
			strbuf_add(out, p, len);
		}
		p = *e ? e + 1 : e;
	}
	if (!out->len)
		strbuf_addch(out, '/');
	strbuf_release(&in);
	return 0;
}

int write_tree(struct odb *odb, const char *dir,
	       const struct write_tree_opts *opts, struct snap_oid *out,
	       struct strbuf *err)
{
	struct walker w;
	struct strbuf absdir = STRBUF_INIT;
	struct stat st;
	int fd, ret;

	walker_init(&w, odb, opts);
	ret = abs_path_clean(dir, &absdir, err);
	if (ret < 0)
		goto out;
	/* Anchored patterns are matched without the leading '/'. */
	strbuf_addstr(&w.abs, absdir.buf + 1);
	if (w.abs.len)
		strbuf_addch(&w.abs, '/');
	w.abs_base = w.abs.len;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		ret = snap_error_errno(err, "cannot open directory '%s'", dir);
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		close(fd);
		ret = snap_error_errno(err, "cannot stat '%s'", dir);
		goto out;
	}
	w.root_dev = st.st_dev;
	find_store(&w);
	if (w.has_store && st.st_dev == w.store_dev && st.st_ino == w.store_ino) {
		close(fd);
		ret = snap_error(err, SNAP_EINVAL, "'%s' is the store itself", dir);
		goto out;
	}
	ret = walk_batch(&w, &st, store_root, &fd, out, err);
out:
	walker_release(&w);
	strbuf_release(&absdir);
	return ret;
}

/* The source paths of write_tree_paths(), relative to "/", sorted. */
struct sources {
	char **rel;
	size_t nr;
};

/*
 * Stores the directory "/" + w->path, which holds (at any depth) the
 * source paths src[0..nr), as a tree of what leads to them.
 */
static int store_above(struct walker *w, char **src, size_t nr,
		       struct snap_oid *out, struct strbuf *err)
{
	struct tree t = TREE_INIT;
	struct strbuf dir = STRBUF_INIT, buf = STRBUF_INIT, name = STRBUF_INIT;
	size_t base = w->path.len, i = 0, j;
	int dfd, ret = 0;

	strbuf_addch(&dir, '/');
	strbuf_addbuf(&dir, &w->path);
	/* O_PATH: a directory above a source path may be searchable only. */
	dfd = open(dir.buf, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		ret = snap_error_errno(err, "cannot open directory '%s'", dir.buf);
	while (ret == 0 && i < nr) {
		const char *rest = src[i] + base + (base ? 1 : 0);
		size_t len = strcspn(rest, "/");
		struct tree_entry e;
		struct stat st;
		int sub = -1;

		strbuf_reset(&name);
		strbuf_add(&name, rest, len);
		for (j = i + 1; j < nr; j++) {
			const char *r = src[j] + base + (base ? 1 : 0);
			if (strncmp(r, name.buf, len) || r[len] != '/')
				break;
		}
		strbuf_setlen(&w->path, base);
		if (base)
			strbuf_addch(&w->path, '/');
		strbuf_addbuf(&w->path, &name);
		memset(&e, 0, sizeof(e));
		if (!rest[len]) {
			/* A source path: stored as write_tree() stores DIR's entries. */
			if (fstatat(dfd, name.buf, &st, AT_SYMLINK_NOFOLLOW) == 0)
				w->root_dev = st.st_dev;
			w->src_base = w->path.len + 1;
			w->is_source = 1;
			ret = wt_store_entry(w, dfd, name.buf, DT_UNKNOWN, &t, &sub, &e, err);
			w->is_source = 0;
			if (ret == 0 && sub >= 0) {
				ret = wt_walk(w, sub, &e.oid, err);
				if (ret == 0)
					tree_add(&t, &e);
			}
		} else if (fstatat(dfd, name.buf, &st, 0) < 0) {
			ret = snap_error_errno(err, "cannot stat '/%s'", w->path.buf);
		} else if (!S_ISDIR(st.st_mode)) {
			ret = snap_error(err, SNAP_EINVAL, "'/%s' is not a directory", w->path.buf);
		} else {
			ret = store_above(w, src + i, j - i, &e.oid, err);
			if (ret == 0) {
				wt_set_times(&e, &st);
				e.type = TREE_DIR;
				e.name = name.buf;
				e.name_len = name.len;
				tree_add(&t, &e);
			}
		}
		i = j;
	}
	strbuf_setlen(&w->path, base);
	if (ret == 0) {
		tree_sort(&t);
		ret = tree_encode(&t, &buf, err);
	}
	if (ret == 0)
		ret = wt_write_obj(w, OBJ_TREE, buf.buf, buf.len, out, err);
	if (dfd >= 0)
		close(dfd);
	tree_release(&t);
	strbuf_release(&dir);
	strbuf_release(&buf);
	strbuf_release(&name);
	return ret;
}

static int store_sources(struct walker *w, void *data, struct snap_oid *out, struct strbuf *err)
{
	struct sources *s = data;

	return store_above(w, s->rel, s->nr, out, err);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int write_tree_paths(struct odb *odb, const char *const *paths, size_t nr,
		     const struct write_tree_opts *opts, struct snap_oid *out,
		     struct strbuf *abs, struct strbuf *err)
{
	struct walker w;
	struct sources s = { NULL, 0 };
	struct strbuf one = STRBUF_INIT;
	struct stat st;
	size_t i, alloc = 0;
	int ret = 0;

	if (!nr)
		return snap_error(err, SNAP_EINVAL, "no path to store");
	for (i = 0; ret == 0 && i < nr; i++) {
		ret = abs_path_clean(paths[i], &one, err);
		if (ret == 0 && lstat(one.buf, &st) < 0)
			ret = snap_error_errno(err, "cannot stat '%s'", one.buf);
		if (ret == 0) {
			ALLOC_GROW(s.rel, s.nr + 1, alloc);
			s.rel[s.nr++] = xstrdup(one.buf + 1);
		}
	}
	if (ret == 0)
		QSORT(s.rel, s.nr, cmp_str);
	/* Sorted, a path inside another comes right after it or one inside it. */
	for (i = 1; ret == 0 && i < s.nr; i++) {
		size_t len = strlen(s.rel[i - 1]);

		if (!strcmp(s.rel[i - 1], s.rel[i])) {
			free(s.rel[i]);
			memmove(s.rel + i, s.rel + i + 1, (s.nr - i - 1) * sizeof(*s.rel));
			s.nr--;
			i--;
		} else if (!len || (!strncmp(s.rel[i - 1], s.rel[i], len) && s.rel[i][len] == '/')) {
			ret = snap_error(err, SNAP_EINVAL, "'/%s' is inside '/%s'; give one of them",
					 s.rel[i], s.rel[i - 1]);
		}
	}
	if (ret == 0 && s.nr == 1 && !s.rel[0][0]) {
		/* "/" alone: its entries at the root, as a tree rooted at "/" is. */
		ret = write_tree(odb, "/", opts, out, err);
	} else if (ret == 0 && stat("/", &st) < 0) {
		ret = snap_error_errno(err, "cannot stat '/'");
	} else if (ret == 0) {
		walker_init(&w, odb, opts);
		find_store(&w);
		ret = walk_batch(&w, &st, store_sources, &s, out, err);
		walker_release(&w);
	}
	for (i = 0; i < s.nr; i++) {
		if (ret == 0 && abs) {
			strbuf_addch(abs, '/');
			tree_escape(abs, s.rel[i], strlen(s.rel[i]));
			strbuf_addch(abs, '\n');
		}
		free(s.rel[i]);
	}
	free(s.rel);
	strbuf_release(&one);
	return ret;
}
