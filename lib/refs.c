/*
 * Ref names, reading refs, listing them and short-name lookup; formats
 * in docs/FORMAT.md ("Refs and reflogs").  Reflogs are lib/reflog.c,
 * locks and transactions lib/reftx.c, journals lib/refjournal.c.
 */
#include "refs.h"
#include "refs-internal.h"

#include "error.h"
#include "util.h"
#include "storefs.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int ref_name_check(const char *name, struct strbuf *err)
{
	const char *why = NULL, *p, *comp;
	size_t len = strlen(name);

	if (strncmp(name, "refs/", 5) || !name[5])
		why = "must start with 'refs/' and name something below it";
	else if (len > REF_NAME_MAX)
		why = "too long";
	else if (name[len - 1] == '/')
		why = "ends with '/'";
	else if (strstr(name, "//"))
		why = "empty component";
	else if (strstr(name, ".."))
		why = "contains '..'";
	else if (strstr(name, "@{"))
		why = "contains '@{'";
	for (p = name; !why && *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c < 0x20 || c == 0x7f)
			why = "contains a control character";
		else if (strchr(" ~^:?*[\\", c))
			why = "contains a character not allowed in ref names";
	}
	for (comp = name; !why && comp; ) {
		const char *end = strchrnul(comp, '/');
		if (comp[0] == '.')
			why = "a component starts with '.'";
		else if (end - comp >= 5 && !strncmp(end - 5, ".lock", 5))
			why = "a component ends with '.lock'";
		comp = *end ? end + 1 : NULL;
	}
	if (!why)
		return 0;
	strbuf_addstr(err, "invalid ref name '");
	strbuf_addquoted(err, name, len);
	strbuf_addf(err, "': %s", why);
	return SNAP_EINVAL;
}

void ref_file_path(struct snap_store *store, const char *name, struct strbuf *out)
{
	store_path(store, out, "%s", name);
}

static int parse_ref(const char *buf, size_t len, struct snap_oid *out)
{
	size_t i;

	if (len != SNAP_OID_HEXSZ + 1 || buf[SNAP_OID_HEXSZ] != '\n')
		return -1;
	for (i = 0; i < SNAP_OID_HEXSZ; i++)
		if (buf[i] >= 'A' && buf[i] <= 'F')
			return -1;
	return oid_from_hexn(out, buf, SNAP_OID_HEXSZ);
}

int refs_cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ref_read without finishing a dead transaction first. */
int ref_read_file(struct snap_store *store, const char *name, struct snap_oid *out,
		  struct strbuf *err)
{
	struct strbuf path = STRBUF_INIT, buf = STRBUF_INIT;
	struct snap_oid oid;
	struct stat st;
	int ret;

	ret = ref_name_check(name, err);
	if (ret < 0)
		return ret;
	ref_file_path(store, name, &path);
	ret = storefs_lstat(path.buf, &st);
	if (ret == 0 && !S_ISREG(st.st_mode)) {
		ret = S_ISDIR(st.st_mode)
			? snap_error(err, SNAP_ENOTFOUND, "ref '%s' not found", name)
			: snap_error(err, SNAP_ECORRUPT, "ref '%s' is not a regular file", name);
		goto out;
	} else if (ret < 0 && errno == ELOOP) {
		/* A directory above it is a symbolic link: a damaged store. */
		ret = snap_error_errno(err, "cannot read ref '%s'", path.buf);
		goto out;
	}
	ret = strbuf_read_file(&buf, path.buf, 1024);
	if (ret == SNAP_ENOTFOUND)
		ret = snap_error(err, SNAP_ENOTFOUND, "ref '%s' not found", name);
	else if (ret == SNAP_ETOOBIG || (ret == 0 && parse_ref(buf.buf, buf.len, &oid) < 0))
		ret = snap_error(err, SNAP_ECORRUPT, "ref '%s' is malformed ('%s')", name, path.buf);
	else if (ret < 0)
		ret = snap_error_errno(err, "cannot read ref '%s'", path.buf);
	else if (out)
		*out = oid;
out:
	strbuf_release(&path);
	strbuf_release(&buf);
	return ret;
}

int ref_read(struct snap_store *store, const char *name, struct snap_oid *out,
	     struct strbuf *err)
{
	refs_recover_quietly(store);
	return ref_read_file(store, name, out, err);
}

/* ---- listing ---- */

/* Collects the names of regular files below dir (relative to base). */
int refs_collect(const char *root, const char *rel, char ***names, size_t *nr,
		 size_t *alloc, int depth, struct strbuf *err)
{
	struct strbuf path = STRBUF_INIT, sub = STRBUF_INIT;
	struct dirent *de;
	DIR *d;
	int ret = 0;

	if (depth > 64)
		return 0;
	strbuf_addf(&path, "%s/%s", root, rel);
	d = storefs_opendir(path.buf);
	if (!d) {
		if (errno != ENOENT && errno != ENOTDIR)
			ret = snap_error_errno(err, "cannot read '%s'", path.buf);
		strbuf_release(&path);
		return ret;
	}
	while (ret == 0 && (de = readdir(d))) {
		struct stat st;
		size_t len = strlen(de->d_name);

		if (de->d_name[0] == '.')
			continue;
		strbuf_reset(&sub);
		strbuf_addf(&sub, "%s/%s", rel, de->d_name);
		strbuf_reset(&path);
		strbuf_addf(&path, "%s/%s", root, sub.buf);
		if (storefs_lstat(path.buf, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			ret = refs_collect(root, sub.buf, names, nr, alloc, depth + 1, err);
		} else if (!(len > 5 && !strcmp(de->d_name + len - 5, ".lock"))) {
			ALLOC_GROW(*names, *nr + 1, *alloc);
			(*names)[(*nr)++] = strbuf_detach(&sub, NULL);
		}
	}
	closedir(d);
	strbuf_release(&path);
	strbuf_release(&sub);
	return ret;
}

int refs_for_each(struct snap_store *store, const char *prefix, ref_each_fn fn,
		  void *data, struct strbuf *err)
{
	char **names = NULL;
	size_t nr = 0, alloc = 0, i;
	int ret;

	refs_recover_quietly(store);
	ret = refs_collect(store->path, "refs", &names, &nr, &alloc, 0, err);
	QSORT(names, nr, refs_cmp_str);
	for (i = 0; i < nr; i++) {
		struct snap_oid oid;
		struct strbuf ignore = STRBUF_INIT;

		if (ret == 0 && !strncmp(names[i], prefix, strlen(prefix))) {
			int r = ref_read_file(store, names[i], &oid, &ignore);
			ret = fn(names[i], r == 0 ? &oid : NULL, data);
		}
		strbuf_release(&ignore);
		free(names[i]);
	}
	free(names);
	return ret;
}

int ref_dwim(struct snap_store *store, const char *name, struct strbuf *fullname,
	     struct snap_oid *oid, struct strbuf *err)
{
	static const char *const rules[] = { "", "refs/snapshots/", "refs/tags/" };
	struct strbuf ignore = STRBUF_INIT;
	size_t i;
	int ret;

	for (i = !strncmp(name, "refs/", 5) ? 0 : 1; i < ARRAY_SIZE(rules); i++) {
		strbuf_reset(fullname);
		strbuf_addstr(fullname, rules[i]);
		strbuf_addstr(fullname, name);
		strbuf_reset(&ignore);
		ret = ref_read(store, fullname->buf, oid, &ignore);
		if (ret != SNAP_ENOTFOUND && ret != SNAP_EINVAL) {
			if (ret < 0 && err)
				strbuf_addbuf(err, &ignore);
			strbuf_release(&ignore);
			return ret;
		}
		if (i == 0)
			break;
	}
	strbuf_release(&ignore);
	return snap_error(err, SNAP_ENOTFOUND, "ref '%s' not found", name);
}

char *ref_full_name(const char *name)
{
	struct strbuf sb = STRBUF_INIT;

	if (strncmp(name, "refs/", 5))
		strbuf_addstr(&sb, "refs/snapshots/");
	strbuf_addstr(&sb, name);
	return strbuf_detach(&sb, NULL);
}

int ref_names_add(const char *name, const struct snap_oid *oid, void *data)
{
	struct ref_names *n = data;

	(void)oid;
	ALLOC_GROW(n->v, n->nr + 1, n->alloc);
	n->v[n->nr++] = xstrdup(name);
	return 0;
}

void ref_names_release(struct ref_names *n)
{
	size_t i;

	for (i = 0; i < n->nr; i++)
		free(n->v[i]);
	free(n->v);
	n->v = NULL;
	n->nr = n->alloc = 0;
}
