/*
 * Placing restored entries into an existing directory (place.h).
 */
#include "place.h"
#include "error.h"
#include "strbuf.h"
#include "util.h"
#include "xattr.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int open_dir_at(int at, const char *name)
{
	return openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/*
 * The extended attributes (and ACLs) the restore gave a directory, onto
 * the one made for it on the way: those it could not set were reported
 * when the restore set them.
 */
static void copy_xattrs(int from, int to)
{
	struct xattr_set s = XATTR_SET_INIT;

	if (xattr_read(from, -1, NULL, NULL, 0, NULL, &s, "", NULL) == 0)
		xattr_apply(to, 0, &s, 0, NULL, NULL);
	xattr_set_release(&s);
}

/* A directory this placement made on the way, to get its times last. */
struct made {
	int fd;
	struct timespec times[2];
};

static int unsafe(struct strbuf *err, const char *dir, const char *path, size_t len)
{
	return snap_error(err, SNAP_EUNSAFE,
			  "'%s/%.*s' is not a directory (a restore never follows a symlink "
			  "or replaces a file on the way to a path)", dir, (int)len, path);
}

/*
 * Moves dfd/name aside into ffd (under a name of its own) and ffd/name
 * to dfd/name: for filesystems without RENAME_EXCHANGE.  The old entry
 * is put back when the second rename fails.
 */
static int swap_by_two_renames(int ffd, int dfd, const char *name)
{
	struct strbuf old = STRBUF_INIT;
	int ret = -1, saved;

	strbuf_addf(&old, ".snap-old.%s", name);
	if (renameat2(dfd, name, ffd, old.buf, RENAME_NOREPLACE) < 0)
		goto out;
	if (renameat2(ffd, name, dfd, name, RENAME_NOREPLACE) < 0) {
		saved = errno;
		(void)renameat2(ffd, old.buf, dfd, name, RENAME_NOREPLACE);
		errno = saved;
		goto out;
	}
	ret = 0;
out:
	strbuf_release(&old);
	return ret;
}

/* How put_entry() put an entry in place, for take_back(). */
enum put_kind { PUT_EXCHANGED = 1, PUT_ADDED, PUT_TWO_RENAMES };

/*
 * Puts ffd/name at dfd/name: exchanged with what dfd holds there, added
 * where it holds nothing, or by two renames where the filesystem has no
 * exchange.  Returns how (enum put_kind), or -1 with errno.
 */
static int put_entry(int ffd, int dfd, const char *name)
{
	if (renameat2(ffd, name, dfd, name, RENAME_EXCHANGE) == 0)
		return PUT_EXCHANGED;
	if (errno == ENOENT && renameat2(ffd, name, dfd, name, RENAME_NOREPLACE) == 0)
		return PUT_ADDED;
	if (errno == EINVAL && swap_by_two_renames(ffd, dfd, name) == 0)
		return PUT_TWO_RENAMES;
	return -1;
}

/* Undoes put_entry() as well as it can (a failure leaves what it could not). */
static void take_back(int ffd, int dfd, const char *name, int kind)
{
	struct strbuf old = STRBUF_INIT;

	switch (kind) {
	case PUT_EXCHANGED:
		(void)renameat2(ffd, name, dfd, name, RENAME_EXCHANGE);
		break;
	case PUT_ADDED:
		(void)renameat2(dfd, name, ffd, name, RENAME_NOREPLACE);
		break;
	case PUT_TWO_RENAMES:
		strbuf_addf(&old, ".snap-old.%s", name);
		if (renameat2(dfd, name, ffd, name, RENAME_NOREPLACE) == 0)
			(void)renameat2(ffd, old.buf, dfd, name, RENAME_NOREPLACE);
		break;
	}
	strbuf_release(&old);
}

static int place_one(int from_fd, int dir_fd, const char *dir, const char *path,
		     const struct place_made *pm, struct strbuf *err)
{
	struct made *made = NULL;
	size_t nr_made = 0, alloc_made = 0, i;
	int ffd = from_fd, dfd = dir_fd, dfd_made = 0, ret = 0;
	const char *p = path, *slash;
	char *name;

	while ((slash = strchr(p, '/'))) {
		struct stat st;
		int f2, d2, d2_made = 0;

		name = xstrndup(p, (size_t)(slash - p));
		f2 = open_dir_at(ffd, name);
		if (f2 < 0) {
			ret = snap_error_errno(err, "cannot open '%.*s' of the restored tree",
					       (int)(slash - path), path);
			free(name);
			goto out;
		}
		d2 = open_dir_at(dfd, name);
		if (d2 < 0 && errno == ENOENT) {
			if (fstat(f2, &st) < 0 || (mkdirat(dfd, name, 0700) < 0 && errno != EEXIST)) {
				ret = snap_error_errno(err, "cannot create '%s/%.*s'", dir,
						       (int)(slash - path), path);
				close(f2);
				free(name);
				goto out;
			}
			d2 = open_dir_at(dfd, name);
			if (d2 >= 0) {
				/* Its owner first: chown may clear set-id bits. */
				if (geteuid() == 0)
					(void)fchown(d2, st.st_uid, st.st_gid);
				copy_xattrs(f2, d2);
				(void)fchmod(d2, st.st_mode & 07777);
				ALLOC_GROW(made, nr_made + 1, alloc_made);
				made[nr_made].fd = d2;
				made[nr_made].times[0] = st.st_atim;
				made[nr_made++].times[1] = st.st_mtim;
				d2_made = 1;
				if (pm && pm->fn) {
					struct stat mst;
					char *sub = xstrndup(path, (size_t)(slash - path));

					if (fstat(d2, &mst) == 0)
						pm->fn(sub, &st, &mst, pm->data);
					free(sub);
				}
			}
		}
		free(name);
		if (d2 < 0) {
			ret = errno == ELOOP || errno == ENOTDIR || errno == ENOENT
			      ? unsafe(err, dir, path, (size_t)(slash - path))
			      : snap_error_errno(err, "cannot open '%s/%.*s'", dir,
						 (int)(slash - path), path);
			close(f2);
			goto out;
		}
		if (ffd != from_fd)
			close(ffd);
		if (dfd != dir_fd && !dfd_made)
			close(dfd);
		ffd = f2;
		dfd = d2;
		dfd_made = d2_made;
		p = slash + 1;
	}
	if (put_entry(ffd, dfd, p) < 0)
		ret = snap_error_errno(err, "cannot put '%s' in place in '%s'", path, dir);
out:
	for (i = 0; i < nr_made; i++) {
		if (ret == 0)
			(void)futimens(made[i].fd, made[i].times);
		close(made[i].fd);
	}
	free(made);
	if (ffd != from_fd)
		close(ffd);
	if (dfd != dir_fd && !dfd_made)
		close(dfd);
	return ret;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in a directory but . and .., sorted (for has_name). */
static int list_names(int fd, const char *path, char ***out, size_t *nr, struct strbuf *err)
{
	size_t alloc = 0;
	struct dirent *de;
	DIR *d;
	int dup_fd = dup(fd);

	*out = NULL;
	*nr = 0;
	if (dup_fd < 0 || !(d = fdopendir(dup_fd))) {
		if (dup_fd >= 0)
			close(dup_fd);
		return snap_error_errno(err, "cannot read directory '%s'", path);
	}
	while ((errno = 0, de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		ALLOC_GROW(*out, *nr + 1, alloc);
		(*out)[(*nr)++] = xstrdup(de->d_name);
	}
	if (errno) {
		closedir(d);
		return snap_error_errno(err, "cannot read directory '%s'", path);
	}
	closedir(d);
	QSORT(*out, *nr, cmp_name);
	return 0;
}

static int has_name(char **names, size_t nr, const char *name)
{
	return bsearch(&name, names, nr, sizeof(*names), cmp_name) != NULL;
}

static void free_names(char **names, size_t nr)
{
	size_t i;

	for (i = 0; i < nr; i++)
		free(names[i]);
	free(names);
}

/*
 * The whole of from into dir, all or nothing: what it moved aside and
 * put in place is taken back when a step fails (an immutable entry of
 * dir that cannot be moved, say), so a failure leaves dir as it was.
 */
static int place_whole(int from_fd, int dir_fd, const char *from, const char *dir,
		       const char *aside, const char *skip, struct strbuf *err)
{
	char **new_names = NULL, **old_names = NULL;
	size_t nr_new = 0, nr_old = 0, nr_aside = 0, nr_put = 0, i;
	size_t *moved = NULL;	/* indexes in old_names moved aside */
	int *kinds = NULL;	/* how each of new_names was put */
	int aside_fd = -1, ret, have_skip, kind;
	struct stat skip_st, st;

	have_skip = skip && stat(skip, &skip_st) == 0;

	ret = list_names(from_fd, from, &new_names, &nr_new, err);
	if (ret == 0)
		ret = list_names(dir_fd, dir, &old_names, &nr_old, err);
	if (ret < 0)
		goto out;
	aside_fd = open(aside, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (aside_fd < 0) {
		ret = snap_error_errno(err, "cannot open '%s'", aside);
		goto out;
	}
	moved = xcalloc(nr_old + 1, sizeof(*moved));
	kinds = xcalloc(nr_new + 1, sizeof(*kinds));
	for (i = 0; i < nr_old && ret == 0; i++) {
		if (has_name(new_names, nr_new, old_names[i]))
			continue;
		if (have_skip && fstatat(dir_fd, old_names[i], &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    st.st_dev == skip_st.st_dev && st.st_ino == skip_st.st_ino)
			continue;
		if (renameat2(dir_fd, old_names[i], aside_fd, old_names[i], RENAME_NOREPLACE) < 0)
			ret = snap_error_errno(err, "cannot move '%s/%s' aside", dir, old_names[i]);
		else
			moved[nr_aside++] = i;
	}
	for (i = 0; i < nr_new && ret == 0; i++) {
		kind = put_entry(from_fd, dir_fd, new_names[i]);
		if (kind < 0)
			ret = snap_error_errno(err, "cannot put '%s' in place in '%s'",
					       new_names[i], dir);
		else
			kinds[nr_put++] = kind;
	}
	if (ret < 0) {
		while (nr_put--)
			take_back(from_fd, dir_fd, new_names[nr_put], kinds[nr_put]);
		while (nr_aside--)
			(void)renameat2(aside_fd, old_names[moved[nr_aside]], dir_fd,
					old_names[moved[nr_aside]], RENAME_NOREPLACE);
	}
out:
	if (aside_fd >= 0)
		close(aside_fd);
	free(moved);
	free(kinds);
	free_names(new_names, nr_new);
	free_names(old_names, nr_old);
	return ret;
}

int place_entries_at(const char *from, int dir_fd, const char *dir,
		     const char *const *paths, size_t nr_paths, const char *aside,
		     const char *skip, const struct place_made *made, struct strbuf *err)
{
	int from_fd, ret = 0;
	size_t i;

	from_fd = open(from, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (from_fd < 0)
		return snap_error_errno(err, "cannot open '%s'", from);
	if (nr_paths == 0)
		ret = place_whole(from_fd, dir_fd, from, dir, aside, skip, err);
	for (i = 0; i < nr_paths && ret == 0; i++)
		ret = place_one(from_fd, dir_fd, dir, paths[i], made, err);
	close(from_fd);
	return ret;
}

int place_entries(const char *from, const char *dir, const char *const *paths,
		  size_t nr_paths, const char *aside, const char *skip,
		  struct strbuf *err)
{
	int dir_fd, ret;

	dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dir_fd < 0)
		return errno == ELOOP || errno == ENOTDIR
		       ? snap_error(err, SNAP_EUNSAFE, "'%s' is not a directory", dir)
		       : snap_error_errno(err, "cannot open '%s'", dir);
	ret = place_entries_at(from, dir_fd, dir, paths, nr_paths, aside, skip, NULL, err);
	close(dir_fd);
	return ret;
}

/*
 * Puts ffd/name at dfd/name, where dfd holds an entry that is not a
 * directory: one exchange, or where the filesystem has none two renames
 * (the old entry first moved into ffd).  If what came out is a directory
 * after all (put there since it was looked at), it goes back as it was
 * and *raced is set: it would otherwise be removed with from.
 */
static int replace_entry(int ffd, int dfd, const char *name, int *raced)
{
	struct strbuf old = STRBUF_INIT;
	struct stat st;
	int two = 0, ret = 0;

	*raced = 0;
	if (renameat2(ffd, name, dfd, name, RENAME_EXCHANGE) < 0) {
		if (errno == ENOENT)	/* gone meanwhile: added */
			return renameat2(ffd, name, dfd, name, RENAME_NOREPLACE);
		if (errno != EINVAL || swap_by_two_renames(ffd, dfd, name) < 0)
			return -1;
		two = 1;
	}
	if (two)
		strbuf_addf(&old, ".snap-old.%s", name);
	else
		strbuf_addstr(&old, name);
	if (fstatat(ffd, old.buf, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
		*raced = 1;
		if (!two) {
			ret = renameat2(ffd, name, dfd, name, RENAME_EXCHANGE);
		} else if (renameat2(dfd, name, ffd, name, RENAME_NOREPLACE) == 0) {
			ret = renameat2(ffd, old.buf, dfd, name, RENAME_NOREPLACE);
		} else {
			ret = -1;
		}
	}
	strbuf_release(&old);
	return ret;
}

/* A directory of from being merged into its counterpart in dir. */
struct merge_frame {
	int ffd, dfd;
	char **names;
	size_t nr, next;
	size_t len;	/* of its path, relative */
};

int place_merge_at(const char *from, int dir_fd,
		   void (*refused)(const char *path, const char *why, void *data),
		   void *data, size_t *nr_refused, struct strbuf *err)
{
	struct merge_frame *v;
	size_t nr = 1, alloc = 1;
	struct strbuf path = STRBUF_INIT;
	int ret, fd;

	fd = open(from, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return snap_error_errno(err, "cannot open '%s'", from);
	v = xcalloc(1, sizeof(*v));
	v[0].ffd = fd;
	v[0].dfd = dir_fd;
	ret = list_names(fd, from, &v[0].names, &v[0].nr, err);
	while (nr && ret == 0) {
		struct merge_frame *f = &v[nr - 1];
		const char *name, *why = NULL;
		struct stat nst, ost;
		int f2, d2, raced;

		if (f->next == f->nr) {
			close(f->ffd);
			if (nr > 1)
				close(f->dfd);
			free_names(f->names, f->nr);
			nr--;
			continue;
		}
		name = f->names[f->next++];
		strbuf_setlen(&path, f->len);
		if (f->len)
			strbuf_addch(&path, '/');
		strbuf_addstr(&path, name);
		if (fstatat(f->ffd, name, &nst, AT_SYMLINK_NOFOLLOW) < 0) {
			ret = snap_error_errno(err, "cannot stat '%s' of the restored tree", path.buf);
			break;
		}
		/*
		 * What cannot be put in place (a directory of DIR that may
		 * not be written, another filesystem mounted there) is
		 * refused for that path alone: the paths before it are in
		 * place already, so the merge goes on, never stops half done.
		 */
		if (fstatat(f->dfd, name, &ost, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno != ENOENT)
				why = strerror(errno);
			else if (renameat2(f->ffd, name, f->dfd, name, RENAME_NOREPLACE) == 0)
				continue;
			else if (errno != EEXIST)
				why = strerror(errno);
			else
				why = "made there while restoring";
		} else if (S_ISDIR(nst.st_mode) && S_ISDIR(ost.st_mode)) {
			f2 = open_dir_at(f->ffd, name);
			if (f2 < 0) {
				ret = snap_error_errno(err, "cannot open '%s' of the restored tree",
						       path.buf);
				break;
			}
			d2 = open_dir_at(f->dfd, name);
			if (d2 >= 0) {
				ALLOC_GROW(v, nr + 1, alloc);
				memset(&v[nr], 0, sizeof(v[nr]));
				v[nr].ffd = f2;
				v[nr].dfd = d2;
				v[nr].len = path.len;
				ret = list_names(f2, path.buf, &v[nr].names, &v[nr].nr, err);
				nr++;
				continue;
			}
			close(f2);
			if (errno != ELOOP && errno != ENOTDIR && errno != ENOENT)
				why = strerror(errno);
			else
				why = "no longer a directory";
		} else if (S_ISDIR(ost.st_mode)) {
			why = "a directory, where the snapshot has none";
		} else if (S_ISDIR(nst.st_mode)) {
			why = "not a directory, where the snapshot has one";
		} else if (replace_entry(f->ffd, f->dfd, name, &raced) < 0) {
			why = strerror(errno);
		} else if (raced) {
			why = "a directory, where the snapshot has none";
		}
		if (why) {
			(*nr_refused)++;
			if (refused)
				refused(path.buf, why, data);
		}
	}
	while (nr) {
		nr--;
		close(v[nr].ffd);
		if (nr)
			close(v[nr].dfd);
		free_names(v[nr].names, v[nr].nr);
	}
	free(v);
	strbuf_release(&path);
	return ret;
}
