/*
 * Restoring a tree (checkout.h): checkout_tree() opens the target, checks
 * the PATHs and runs the passes in order (checkout-internal.h).
 */
#include "checkout-internal.h"
#include "error.h"
#include "exclude.h"
#include "fsio.h"
#include "util.h"
#include "writetree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
char *checkout_clean_path(const char *p)
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
int checkout_path_within(const char *a, const char *b)
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
			if (checkout_path_within(paths[i], paths[j]) ||
			    checkout_path_within(paths[j], paths[i]))
				return snap_error(err, SNAP_EINVAL, "paths '%s' and '%s' overlap",
						  paths[i], paths[j]);
	return 0;
}

int checkout_run(struct odb *odb, const struct snap_oid *tree, const char *dir,
		 const char *dest, struct flags_list *defer, const struct checkout_opts *opts,
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
	c.dest = dest;
	c.defer = defer;
	c.root_fd = c.cur_fd = -1;
	strbuf_init(&c.path, 0);
	c.as_root = o.same_owner && geteuid() == 0;
	pthread_mutex_init(&c.unset_lock, NULL);
	if (o.nr_paths) {
		paths = xcalloc(o.nr_paths, sizeof(*paths));
		for (i = 0; i < o.nr_paths; i++) {
			paths[i] = checkout_clean_path(o.paths[i]);
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
	if (o.nr_includes) {
		c.incl = xcalloc(o.nr_includes, sizeof(*c.incl));
		for (i = 0; i < o.nr_includes; i++)
			exclude_prepare(&c.incl[i], o.includes[i]);
	}
	raise_fd_limit();

	ret = checkout_check_all(&c, tree, err);
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
	checkout_pool_start(&c);
	ret = checkout_restore_tree(&c, tree, err);
	r = checkout_pool_stop(&c, ret < 0 ? &ignored : err);
	if (ret == 0)
		ret = r;
	/* Pass 3: hard links, while every directory is still writable. */
	for (i = 0; ret == 0 && i < c.nr_links; i++)
		ret = checkout_make_link(&c, &c.links[i], err);
	for (i = 0; ret == 0 && i < c.nr_targets; i++)
		if (c.targets[i].written && c.targets[i].flags)
			ret = checkout_target_flags(&c, &c.targets[i], err);
	if (ret == 0)
		ret = checkout_finish_dirs(&c, err);
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
	for (i = 0; c.incl && i < o.nr_includes; i++)
		exclude_release(&c.incl[i]);
	free(c.incl);
	for (i = 0; i < c.nr_matched; i++)
		free(c.matched[i]);
	free(c.matched);
	strbuf_release(&ignored);
	for (i = 0; paths && i < o.nr_paths; i++)
		free(paths[i]);
	free(paths);
	free(c.path_found);
	strbuf_release(&c.path);
	pthread_mutex_destroy(&c.unset_lock);
	return ret == 0 && c.nr_unset ? CHECKOUT_INCOMPLETE : ret;
}

int checkout_tree(struct odb *odb, const struct snap_oid *tree,
		  const char *dir, const struct checkout_opts *opts,
		  struct strbuf *err)
{
	return checkout_run(odb, tree, dir, dir, NULL, opts, err);
}
