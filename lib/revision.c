#include "revision.h"
#include "error.h"
#include "odb.h"
#include "pruned.h"
#include "refs.h"
#include "snapshot.h"
#include "tree.h"
#include "treewalk.h"
#include "util.h"

#include <stdlib.h>

#include <string.h>

int resolve_name(struct odb *odb, const char *name, struct snap_oid *oid,
		 struct strbuf *err)
{
	size_t len = strlen(name);

	if (len >= SNAP_OID_MINPREFIX && len <= SNAP_OID_HEXSZ && is_hex(name, len))
		return odb_resolve_prefix(odb, name, len, oid, err);
	return snap_error(err, SNAP_EINVAL, "'%s' is not a valid object name", name);
}

int peel_to_tree(struct odb *odb, const struct snap_oid *oid,
		 struct snap_oid *tree, struct strbuf *err)
{
	struct snapshot s;
	enum object_type type;
	uint64_t size;
	int ret;

	ret = odb_read_header(odb, oid, &type, &size, err);
	if (ret < 0)
		return ret;
	if (type == OBJ_TREE) {
		*tree = *oid;
		return 0;
	}
	if (type != OBJ_SNAPSHOT)
		return snap_error(err, SNAP_EINVAL, "object '%s' is a %s, not a tree or snapshot",
				  oid_to_hex(oid), type_name(type));
	ret = snapshot_read(odb, oid, &s, err);
	if (ret == 0) {
		if (s.nr_bundles)
			ret = snap_error(err, SNAP_EINVAL,
					 "snapshot '%s' holds sync bundles, not a tree",
					 oid_to_hex(oid));
		*tree = s.tree;
		snapshot_release(&s);
	}
	return ret;
}

/* Resolves the part before any suffix: a ref, else an id or prefix. */
static int resolve_base(struct odb *odb, const char *name, size_t len,
			struct snap_oid *oid, struct strbuf *err)
{
	struct strbuf full = STRBUF_INIT, base = STRBUF_INIT;
	size_t i;
	int ret;

	strbuf_add(&base, name, len);
	if (len == SNAP_OID_HEXSZ && is_hex(name, len)) {
		ret = odb_resolve_prefix(odb, base.buf, len, oid, err);
		goto out;
	}
	for (i = 0; i < len; i++)
		if ((unsigned char)name[i] < 0x20)
			break;
	if (i == len) {
		/* A ref that exists but cannot be read is named as such, not
		 * passed over as an unknown revision. */
		struct strbuf why = STRBUF_INIT;

		ret = ref_dwim(odb_store(odb), base.buf, &full, oid, &why);
		if (ret != SNAP_ENOTFOUND) {
			if (ret < 0)
				strbuf_addbuf(err, &why);
			strbuf_release(&why);
			goto out;
		}
		strbuf_release(&why);
	}
	if (len >= SNAP_OID_MINPREFIX && is_hex(name, len)) {
		ret = odb_resolve_prefix(odb, base.buf, len, oid, err);
		goto out;
	}
	ret = snap_error(err, SNAP_ENOTFOUND, "unknown revision '%s'", base.buf);
out:
	strbuf_release(&full);
	strbuf_release(&base);
	return ret;
}

/* The store's pruned record, read once per name and only when a walk needs it. */
struct rev_pruned {
	struct pruned p;
	int loaded;
};

static int load_pruned(struct odb *odb, struct rev_pruned *rp, struct strbuf *err)
{
	int ret;

	if (rp->loaded)
		return 0;
	ret = pruned_load(odb_store(odb), &rp->p, err);
	rp->loaded = ret == 0;
	return ret;
}

/* A parent pruned on purpose ends the history: going past it is an error. */
static int nth_parent(struct odb *odb, struct rev_pruned *rp, struct snap_oid *oid,
		      uint64_t n, const char *name, struct strbuf *err)
{
	struct snapshot s;
	int ret = snapshot_read(odb, oid, &s, err);

	if (ret < 0)
		return ret;
	if (n == 0 || n > s.nr_parents)
		ret = snap_error(err, SNAP_ENOTFOUND, "'%s': snapshot '%s' has no parent %llu",
				 name, oid_to_hex(oid), (unsigned long long)n);
	else if ((ret = load_pruned(odb, rp, err)) == 0 &&
		 pruned_contains(&rp->p, &s.parents[n - 1]))
		ret = snap_error(err, SNAP_ENOTFOUND,
				 "'%s': snapshot '%s' was pruned (parent %llu of '%s')",
				 name, oid_to_hex(&s.parents[n - 1]), (unsigned long long)n,
				 oid_to_hex(oid));
	else if (ret == 0)
		*oid = s.parents[n - 1];
	snapshot_release(&s);
	return ret;
}

/* Where walk_to_time() stopped, and the snapshot it passed just before. */
struct time_walk {
	int64_t time;		/* of the snapshot found */
	struct snap_oid after;	/* the one newer than it, when have_after */
	int64_t after_time;
	int have_after;
};

/*
 * Walks oid's first-parent chain down to the first snapshot at or before
 * t, passing over pruned snapshots as the record leads: 0 with *oid that
 * one, 1 when the chain ends before it (*oid then its oldest snapshot).
 */
static int walk_to_time(struct odb *odb, struct rev_pruned *rp, struct snap_oid *oid,
			int64_t t, struct time_walk *w, struct strbuf *err)
{
	w->have_after = 0;
	for (;;) {
		struct snapshot s;
		int ret = snapshot_read(odb, oid, &s, err);

		if (ret < 0)
			return ret;
		if (s.time <= t) {
			w->time = s.time;
			snapshot_release(&s);
			return 0;
		}
		w->after = *oid;
		w->after_time = s.time;
		w->have_after = 1;
		if (s.nr_parents && (ret = load_pruned(odb, rp, err)) < 0) {
			snapshot_release(&s);
			return ret;
		}
		ret = !s.nr_parents || !pruned_first_parent(&rp->p, &s.parents[0], oid);
		snapshot_release(&s);
		if (ret) {
			*oid = w->after;
			return 1;
		}
	}
}

/*
 * The snapshot nearest t on oid's first-parent chain, before or after it
 * (a tie goes to the one before); the chain's root when t is older than
 * all of it.
 */
static int near_time(struct odb *odb, struct rev_pruned *rp, struct snap_oid *oid,
		     int64_t t, struct strbuf *err)
{
	struct time_walk w;
	int ret = walk_to_time(odb, rp, oid, t, &w, err);

	if (ret != 0)
		return ret < 0 ? ret : 0;
	/* Compared as unsigned distances: no overflow at the ends. */
	if (w.have_after && (uint64_t)w.after_time - (uint64_t)t < (uint64_t)t - (uint64_t)w.time)
		*oid = w.after;
	return 0;
}

/* The newest snapshot at or before t on oid's first-parent chain. */
static int at_time(struct odb *odb, struct rev_pruned *rp, struct snap_oid *oid,
		   int64_t t, const char *name, struct strbuf *err)
{
	struct time_walk w;
	int ret = walk_to_time(odb, rp, oid, t, &w, err);

	if (ret == 1)
		return snap_error(err, SNAP_ENOTFOUND, "'%s': no snapshot at or before that time",
				  name);
	return ret;
}

static int lookup_path(struct odb *odb, struct snap_oid *oid, const char *path,
		       const char *name, struct strbuf *err)
{
	struct strbuf lerr = STRBUF_INIT;
	struct tree holder = TREE_INIT;
	struct tree_entry e;
	struct snap_oid tree;
	int ret = peel_to_tree(odb, oid, &tree, err);

	*oid = tree;
	if (ret == 0) {
		ret = tree_lookup(odb, &tree, path, &holder, &e, &lerr);
		if (ret == SNAP_ENOTFOUND)
			ret = snap_error(err, ret, "'%s': %s", name, lerr.buf);
		else if (ret < 0)
			ret = snap_error(err, ret, "%s", lerr.buf);
		else if (ret == 1)
			ret = 0;	/* "REV:" is the root tree */
		else if (e.type != TREE_FILE && e.type != TREE_DIR && e.type != TREE_SYMLINK)
			ret = snap_error(err, SNAP_ENOTFOUND, "'%s': a %s has no object", name,
					 tree_type_name(e.type));
		else
			*oid = e.oid;
	}
	tree_release(&holder);
	strbuf_release(&lerr);
	return ret;
}

int resolve_rev(struct odb *odb, const char *name, struct snap_oid *oid,
		struct strbuf *err)
{
	struct rev_pruned rp = { PRUNED_INIT, 0 };
	const char *colon = NULL, *end, *p;
	int ret;

	/* REV:PATH splits at the first ':' that is not inside "@{...}". */
	for (p = name; *p && !colon; p++) {
		if (p[0] == '@' && p[1] == '{') {
			const char *close = strchr(p, '}');
			if (!close)
				break;
			p = close;
		} else if (*p == ':') {
			colon = p;
		}
	}
	end = colon ? colon : name + strlen(name);
	p = name;

	/* The base runs to the first '~', '^' or "@{". */
	while (p < end && *p != '~' && *p != '^' && !(p[0] == '@' && p[1] == '{'))
		p++;
	if (p == name)
		return snap_error(err, SNAP_EINVAL, "'%s' is not a valid revision", name);
	ret = resolve_base(odb, name, (size_t)(p - name), oid, err);
	while (ret == 0 && p < end) {
		uint64_t n = 1;
		char num[24];
		size_t dl;

		if (p[0] == '@' && p[1] == '{') {
			const char *close = memchr(p, '}', (size_t)(end - p));
			struct strbuf terr = STRBUF_INIT;
			char *when;
			int64_t t;
			int tz, near;

			if (!close) {
				ret = snap_error(err, SNAP_EINVAL, "'%s': unclosed '@{'", name);
				break;
			}
			near = p[2] == '~';
			when = xstrndup(p + 2 + near, (size_t)(close - p - 2 - near));
			ret = parse_time(when, &t, &tz, &terr);
			if (ret < 0)
				ret = snap_error(err, ret, "'%s': %s", name, terr.buf);
			strbuf_release(&terr);
			free(when);
			if (ret == 0)
				ret = near ? near_time(odb, &rp, oid, t, err) :
					     at_time(odb, &rp, oid, t, name, err);
			p = close + 1;
			continue;
		}
		dl = strspn(p + 1, "0123456789");
		if (p + 1 + dl > end)
			dl = (size_t)(end - p - 1);
		if (dl) {
			if (dl >= sizeof(num)) {
				ret = snap_error(err, SNAP_EINVAL, "'%s': number too large", name);
				break;
			}
			memcpy(num, p + 1, dl);
			num[dl] = '\0';
			if (parse_u64(num, &n) < 0) {
				ret = snap_error(err, SNAP_EINVAL, "'%s': bad number", name);
				break;
			}
		}
		if (*p == '~') {
			while (ret == 0 && n--)
				ret = nth_parent(odb, &rp, oid, 1, name, err);
		} else if (*p == '^') {
			if (!dl || n)
				ret = nth_parent(odb, &rp, oid, dl ? n : 1, name, err);
		} else {
			ret = snap_error(err, SNAP_EINVAL, "'%s' is not a valid revision", name);
			break;
		}
		p += 1 + dl;
	}
	pruned_release(&rp.p);
	if (ret == 0 && colon)
		ret = lookup_path(odb, oid, colon + 1, name, err);
	return ret;
}
