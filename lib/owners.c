/*
 * owners: owner and group names for a tree's numbers (lib/owners.h).
 */
#include "owners.h"
#include "error.h"
#include "oidset.h"
#include "tree.h"
#include "util.h"

#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>

static int cmp_id(const void *a, const void *b)
{
	const struct owner_id *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static void ids_release(struct owner_ids *ids)
{
	size_t i;

	for (i = 0; i < ids->nr; i++)
		free(ids->v[i].name);
	free(ids->v);
	memset(ids, 0, sizeof(*ids));
}

void owner_map_release(struct owner_map *map)
{
	ids_release(&map->users);
	ids_release(&map->groups);
}

/* 1 if name (of len bytes, not NUL-terminated) may be recorded. */
static int name_ok(const char *name, size_t len)
{
	size_t i;

	if (!len || len > OWNER_NAME_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return 0;
	return 1;
}

/* Parses a canonical decimal id, 0 to 4294967294 ((uid_t)-1 is no id). */
static int parse_id(const char *s, size_t len, uint32_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (!len || len > 10 || (s[0] == '0' && len > 1))
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v >= UINT32_MAX)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int parse_line(struct owner_map *map, const char *line, size_t len,
		      const char *why_prefix, struct strbuf *err)
{
	const char *eq = memchr(line, '=', len);
	struct owner_ids *ids;
	struct owner_id *id;
	size_t klen;

	if (!eq)
		return snap_error(err, SNAP_EINVAL, "%s: no '='", why_prefix);
	klen = (size_t)(eq - line);
	if (klen > 6 && !memcmp(line, "uname.", 6))
		ids = &map->users;
	else if (klen > 6 && !memcmp(line, "gname.", 6))
		ids = &map->groups;
	else
		return snap_error(err, SNAP_EINVAL, "%s: not uname.ID= or gname.ID=", why_prefix);
	if (ids->nr >= OWNER_NAMES_MAX)
		return snap_error(err, SNAP_EINVAL, "%s: more than %d ids", why_prefix,
				  OWNER_NAMES_MAX);
	ALLOC_GROW(ids->v, ids->nr + 1, ids->alloc);
	id = &ids->v[ids->nr];
	if (parse_id(line + 6, klen - 6, &id->id) < 0)
		return snap_error(err, SNAP_EINVAL, "%s: bad id", why_prefix);
	if (!name_ok(eq + 1, len - klen - 1))
		return snap_error(err, SNAP_EINVAL, "%s: bad name", why_prefix);
	id->name = xstrndup(eq + 1, len - klen - 1);
	id->local = id->id;
	ids->nr++;
	return 0;
}

/* Sorts ids, refuses one given twice, and looks each name up. */
static int resolve(struct owner_ids *ids, int users, const char *path, struct strbuf *err)
{
	struct passwd *pw;
	struct group *gr;
	size_t i;

	QSORT(ids->v, ids->nr, cmp_id);
	for (i = 0; i < ids->nr; i++) {
		if (i && ids->v[i].id == ids->v[i - 1].id)
			return snap_error(err, SNAP_EINVAL, "names file '%s': %s %lu given twice",
					  path, users ? "uid" : "gid",
					  (unsigned long)ids->v[i].id);
		if (users && (pw = getpwnam(ids->v[i].name)))
			ids->v[i].local = (uint32_t)pw->pw_uid;
		else if (!users && (gr = getgrnam(ids->v[i].name)))
			ids->v[i].local = (uint32_t)gr->gr_gid;
	}
	return 0;
}

int owner_map_load(struct owner_map *map, const char *path, struct strbuf *err)
{
	struct strbuf buf = STRBUF_INIT, where = STRBUF_INIT;
	size_t pos = 0, lineno = 0, len;
	const char *nl;
	int ret;

	memset(map, 0, sizeof(*map));
	/* Two long lines per id at most. */
	ret = strbuf_read_regular(&buf, path, (size_t)OWNER_NAMES_MAX * 2 * (OWNER_NAME_MAX + 18));
	if (ret < 0) {
		ret = snap_error(err, ret == SNAP_ETOOBIG ? SNAP_EINVAL : ret,
				 "cannot read names file '%s'%s", path,
				 ret == SNAP_ETOOBIG ? ": too big" : "");
		goto out;
	}
	while (pos < buf.len) {
		nl = memchr(buf.buf + pos, '\n', buf.len - pos);
		len = nl ? (size_t)(nl - (buf.buf + pos)) : buf.len - pos;
		strbuf_reset(&where);
		strbuf_addf(&where, "names file '%s' line %lu", path, (unsigned long)++lineno);
		ret = parse_line(map, buf.buf + pos, len, where.buf, err);
		if (ret < 0)
			goto out;
		pos += len + 1;
	}
	ret = resolve(&map->users, 1, path, err);
	if (ret == 0)
		ret = resolve(&map->groups, 0, path, err);
out:
	if (ret < 0)
		owner_map_release(map);
	strbuf_release(&buf);
	strbuf_release(&where);
	return ret;
}

static uint32_t map_id(const struct owner_ids *ids, uint32_t id)
{
	struct owner_id key = { .id = id };
	const struct owner_id *found;

	if (!ids->nr)
		return id;
	found = bsearch(&key, ids->v, ids->nr, sizeof(*ids->v), cmp_id);
	return found ? found->local : id;
}

uid_t owner_map_uid(const struct owner_map *map, uint32_t uid)
{
	return (uid_t)(map ? map_id(&map->users, uid) : uid);
}

gid_t owner_map_gid(const struct owner_map *map, uint32_t gid)
{
	return (gid_t)(map ? map_id(&map->groups, gid) : gid);
}

/*
 * The distinct ids met: appended, and sorted and made unique whenever
 * they grew past twice what was unique, so a tree of millions of entries
 * costs its distinct ids, not its entries.
 */
struct id_list {
	uint32_t *v;
	size_t nr, alloc, unique;
};

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void id_list_unique(struct id_list *l)
{
	size_t i, n = 0;

	QSORT(l->v, l->nr, cmp_u32);
	for (i = 0; i < l->nr; i++)
		if (!n || l->v[n - 1] != l->v[i])
			l->v[n++] = l->v[i];
	l->nr = l->unique = n;
}

static void id_list_add(struct id_list *l, uint32_t id)
{
	if (l->nr && l->v[l->nr - 1] == id)
		return;
	ALLOC_GROW(l->v, l->nr + 1, l->alloc);
	l->v[l->nr++] = id;
	if (l->nr > 2 * l->unique + 4096)
		id_list_unique(l);
}

static void add_names(struct strbuf *out, struct id_list *l, int users)
{
	struct passwd *pw;
	struct group *gr;
	const char *name;
	size_t i, named = 0;

	id_list_unique(l);
	for (i = 0; i < l->nr && named < OWNER_NAMES_MAX; i++) {
		if (users)
			name = (pw = getpwuid((uid_t)l->v[i])) ? pw->pw_name : NULL;
		else
			name = (gr = getgrgid((gid_t)l->v[i])) ? gr->gr_name : NULL;
		if (!name || !name_ok(name, strlen(name)))
			continue;
		strbuf_addf(out, "%s.%lu=%s\n", users ? "uname" : "gname",
			    (unsigned long)l->v[i], name);
		named++;
	}
}

int owner_names_collect(struct odb *odb, const struct snap_oid *root,
			struct strbuf *out, struct strbuf *err)
{
	struct id_list users = { 0 }, groups = { 0 };
	struct oidset seen = OIDSET_INIT;
	struct snap_oid *pending = NULL;
	size_t nr = 0, alloc = 0, i;
	struct tree t;
	int ret = 0;

	ALLOC_GROW(pending, 1, alloc);
	pending[nr++] = *root;
	oidset_insert(&seen, root);
	while (nr && ret == 0) {
		memset(&t, 0, sizeof(t));
		ret = tree_read(odb, &pending[--nr], &t, err);
		if (ret == 0) {
			for (i = 0; i < t.nr; i++) {
				id_list_add(&users, t.entries[i].uid);
				id_list_add(&groups, t.entries[i].gid);
				if (t.entries[i].type == TREE_DIR &&
				    oidset_insert(&seen, &t.entries[i].oid)) {
					ALLOC_GROW(pending, nr + 1, alloc);
					pending[nr++] = t.entries[i].oid;
				}
			}
		}
		tree_release(&t);
	}
	if (ret == 0) {
		add_names(out, &users, 1);
		add_names(out, &groups, 0);
	}
	free(users.v);
	free(groups.v);
	free(pending);
	oidset_clear(&seen);
	return ret;
}
