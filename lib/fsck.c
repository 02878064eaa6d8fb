/*
 * snap-fsck's checks; the check ids are listed in docs/snap-fsck.md.
 */
#include "badlist.h"
#include "fsck.h"
#include "revision.h"
#include "bundle.h"
#include "midx.h"
#include "error.h"
#include "oidset.h"
#include "pack.h"
#include "refs.h"
#include "session.h"
#include "snapshot.h"
#include "tree.h"
#include "treewalk.h"
#include "util.h"
#include "walk.h"
#include "workqueue.h"
#include "xattr.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TEMP_AGE_WARN 3600

struct fsck {
	struct odb *odb;
	const struct fsck_opts *o;
	int bits;
	pthread_mutex_t lock;		/* reporting, referenced, done */
	struct snap_oid *all;		/* every object, sorted */
	size_t nr_all, alloc_all;
	unsigned char *types;		/* their types, OBJ_NONE when unreadable */
	struct oidset referenced;	/* ids some object refers to */
	struct oidset missing_chunks;	/* reported already */
	struct oidset xattr_sets;	/* extended attribute sets checked */
	struct oidset loose;		/* ids with a loose copy */
	size_t *order;			/* all[], in the order they are stored */
	size_t done;
	struct snap_oid *snapshots;	/* every snapshot the walk reached */
	size_t nr_snapshots, alloc_snapshots;
	const struct snap_oid *checking;	/* the tree tree_check_links is in */
	/* Objects with no good copy, for the bad-object list (badlist.h). */
	struct snap_oid *bad;
	size_t nr_bad, alloc_bad;
	/* Snapshots pruned on purpose (pruned.h): not missing. */
	struct pruned pruned;
};

/* Whether a blob's content is read (fsck_opts.subset_*). */
static int reads_content(const struct fsck *f, const struct snap_oid *oid)
{
	uint64_t v = 0;
	int i;

	if (f->o->connectivity_only)
		return 0;
	if (!f->o->subset_n && !f->o->subset_ppm)
		return 1;
	for (i = 0; i < 8; i++)
		v = v << 8 | oid->hash[i];
	if (f->o->subset_n)
		return v % f->o->subset_n == f->o->subset_k - 1;
	v = (v ^ f->o->subset_salt) * 0x9e3779b97f4a7c15ULL;
	return (v >> 20) % 1000000 < f->o->subset_ppm;
}

static void note_no_good_copy(struct fsck *f, const struct snap_oid *oid)
{
	pthread_mutex_lock(&f->lock);
	ALLOC_GROW(f->bad, f->nr_bad + 1, f->alloc_bad);
	f->bad[f->nr_bad++] = *oid;
	pthread_mutex_unlock(&f->lock);
}

const char *fsck_severity_name(enum fsck_severity s)
{
	return s == FSCK_ERROR ? "error" : s == FSCK_WARNING ? "warning" : "info";
}

static void report(struct fsck *f, enum fsck_severity sev, const char *check,
		   const char *subject, const char *detail, int bit)
{
	struct fsck_finding fi = { sev, check, subject, detail ? detail : "", bit };

	pthread_mutex_lock(&f->lock);
	f->bits |= bit;
	if (f->o->report)
		f->o->report(&fi, f->o->data);
	pthread_mutex_unlock(&f->lock);
}

static int collect_oid(const struct snap_oid *oid, void *data)
{
	struct fsck *f = data;

	ALLOC_GROW(f->all, f->nr_all + 1, f->alloc_all);
	f->all[f->nr_all++] = *oid;
	return 0;
}

static int collect_loose(const struct snap_oid *oid, void *data)
{
	oidset_insert(&((struct fsck *)data)->loose, oid);
	return 0;
}

/*
 * An extended attribute set a tree names, once: it must parse (a missing
 * one is the walk's to report).  Its hash is checked with every blob.
 */
static void check_xattr_set(struct fsck *f, const struct snap_oid *set,
			    const struct snap_oid *tree)
{
	struct xattr_set s = XATTR_SET_INIT;
	struct strbuf buf = STRBUF_INIT, err = STRBUF_INIT, msg = STRBUF_INIT;
	enum object_type type;
	int fresh;

	if (f->o->connectivity_only)
		return;
	pthread_mutex_lock(&f->lock);
	fresh = oidset_insert(&f->xattr_sets, set);
	pthread_mutex_unlock(&f->lock);
	if (!fresh || odb_read(f->odb, set, &type, &buf, XATTR_SET_MAXSIZE, &err) < 0 ||
	    type != OBJ_BLOB)
		goto out;
	if (xattr_parse(&s, buf.buf, buf.len, &err) < 0) {
		strbuf_addf(&msg, "%s, named by tree %s", err.buf, oid_to_hex(tree));
		report(f, FSCK_ERROR, "malformed-xattrs", oid_to_hex(set), msg.buf,
		       FSCK_BIT_CORRUPT);
	}
	xattr_set_release(&s);
out:
	strbuf_release(&buf);
	strbuf_release(&err);
	strbuf_release(&msg);
}

/* Records what a tree or snapshot refers to, for the dangling check. */
static void note_references(struct fsck *f, enum object_type type,
			    const struct strbuf *buf, const struct snap_oid *oid)
{
	struct strbuf err = STRBUF_INIT;
	size_t i;

	if (type == OBJ_TREE) {
		struct tree t = TREE_INIT;
		if (tree_parse(&t, buf->buf, buf->len, &err) < 0) {
			report(f, FSCK_ERROR, "malformed-tree", oid_to_hex(oid), err.buf,
			       FSCK_BIT_CORRUPT);
		} else {
			pthread_mutex_lock(&f->lock);
			for (i = 0; i < t.nr; i++)
				if (t.entries[i].type == TREE_FILE || t.entries[i].type == TREE_DIR ||
				    t.entries[i].type == TREE_SYMLINK)
					oidset_insert(&f->referenced, &t.entries[i].oid);
			for (i = 0; i < t.nr; i++)
				if (t.entries[i].has_xattrs)
					oidset_insert(&f->referenced, &t.entries[i].xattrs);
			pthread_mutex_unlock(&f->lock);
			for (i = 0; i < t.nr; i++)
				if (t.entries[i].has_xattrs)
					check_xattr_set(f, &t.entries[i].xattrs, oid);
			tree_release(&t);
		}
	} else if (type == OBJ_SNAPSHOT) {
		struct snapshot s;
		if (snapshot_parse(&s, buf->buf, buf->len, &err) < 0) {
			report(f, FSCK_ERROR, "malformed-snapshot", oid_to_hex(oid), err.buf,
			       FSCK_BIT_CORRUPT);
		} else {
			pthread_mutex_lock(&f->lock);
			if (!s.nr_bundles)
				oidset_insert(&f->referenced, &s.tree);
			for (i = 0; i < s.nr_bundles; i++)
				oidset_insert(&f->referenced, &s.bundles[i]);
			for (i = 0; i < s.nr_parents; i++)
				oidset_insert(&f->referenced, &s.parents[i]);
			pthread_mutex_unlock(&f->lock);
			snapshot_release(&s);
		}
	} else if (type == OBJ_BUNDLE) {
		uint64_t seq;
		if (bundle_parse(buf->buf, buf->len, &seq, NULL, &err) < 0)
			report(f, FSCK_ERROR, "malformed-bundle", oid_to_hex(oid), err.buf,
			       FSCK_BIT_CORRUPT);
	}
	strbuf_release(&err);
}

/* Reports a missing chunk once, whichever phase meets it first. */
static void report_missing_chunk(struct fsck *f, const struct snap_oid *chunk,
				 const struct snap_oid *blob)
{
	struct strbuf msg = STRBUF_INIT;
	int fresh;

	pthread_mutex_lock(&f->lock);
	fresh = oidset_insert(&f->missing_chunks, chunk);
	pthread_mutex_unlock(&f->lock);
	if (!fresh)
		return;
	strbuf_addf(&msg, "a chunk of blob %s", oid_to_hex(blob));
	report(f, FSCK_ERROR, "missing-chunk", oid_to_hex(chunk), msg.buf, FSCK_BIT_MISSING);
	strbuf_release(&msg);
}

struct chunk_check {
	struct fsck *f;
	const struct snap_oid *blob;
	int missing;
};

static void check_chunk(const struct snap_oid *chunk, uint64_t size, void *data)
{
	struct chunk_check *cc = data;

	(void)size;
	pthread_mutex_lock(&cc->f->lock);
	oidset_insert(&cc->f->referenced, chunk);
	pthread_mutex_unlock(&cc->f->lock);
	if (!odb_has(cc->f->odb, chunk)) {
		report_missing_chunk(cc->f, chunk, cc->blob);
		cc->missing++;
	}
}

/*
 * A chunked blob: its list is checked and each chunk looked up; then,
 * when all are there and blobs are read, the whole is read through (each
 * chunk against its id, the whole against the blob's).  A corrupt chunk
 * is reported by its own check too; here it names the blob it breaks.
 */
static void verify_chunked(struct fsck *f, const struct snap_oid *oid, char *buf,
			   size_t bufsize)
{
	struct chunk_check cc = { f, oid, 0 };
	struct strbuf err = STRBUF_INIT;
	struct odb_stream *st;
	struct snap_oid chunk;
	size_t got;
	int ret, missing;

	ret = odb_chunks_each(f->odb, oid, check_chunk, &cc, &err);
	if (ret < 0) {
		if (ret != SNAP_ENOTFOUND) {
			report(f, FSCK_ERROR, "bad-chunk-list", oid_to_hex(oid), err.buf,
			       FSCK_BIT_CORRUPT);
			note_no_good_copy(f, oid);
		}
		goto out;
	}
	if (cc.missing)
		note_no_good_copy(f, oid);
	if (cc.missing || !reads_content(f, oid))
		goto out;
	ret = odb_stream_open(f->odb, oid, &st, NULL, NULL, &err);
	if (ret < 0)
		goto out;
	do
		ret = odb_stream_read(st, buf, bufsize, &got, &err);
	while (ret == 0 && got);
	if (ret < 0 && odb_stream_bad_chunk(st, &chunk, &missing) && missing)
		report_missing_chunk(f, &chunk, oid);	/* gone since the lookup */
	else if (ret < 0)
		report(f, FSCK_ERROR, odb_stream_bad_chunk(st, &chunk, &missing)
		       ? "corrupt-chunk" : "bad-chunk-list", oid_to_hex(oid), err.buf,
		       FSCK_BIT_CORRUPT);
	if (ret < 0) {
		note_no_good_copy(f, oid);
		/* The chunk too: a subset run may not read it on its own. */
		if (odb_stream_bad_chunk(st, &chunk, &missing) && !missing)
			note_no_good_copy(f, &chunk);
	}
	odb_stream_close(st);
out:
	strbuf_release(&err);
}

static const char *corrupt_check(const char *msg)
{
	return strstr(msg, "hash mismatch") ? "hash-mismatch" : "corrupt-object";
}

/*
 * Reads every copy of one object through (each pack that holds it, the
 * loose file), verifying its id: readers use any good copy, and gc may
 * keep any, so each must be sound.  A bad copy is reported with its file
 * whether or not a good one exists, and the detail says which.  Trees
 * and snapshots are parsed from a good copy.
 */
static void verify_one(struct fsck *f, size_t idx, char *buf, size_t bufsize)
{
	const struct snap_oid *oid = &f->all[idx];
	struct strbuf err = STRBUF_INIT, payload = STRBUF_INIT, good = STRBUF_INIT;
	struct strbuf *bad = NULL;
	size_t nr_bad = 0, alloc_bad = 0, i;
	enum object_type good_type = OBJ_NONE;
	unsigned n;

	for (n = 0;; n++) {
		struct odb_stream *st;
		enum object_type type;
		uint64_t size;
		size_t got;
		int ret, keep;

		strbuf_reset(&err);
		ret = odb_stream_open_copy(f->odb, oid, n, &st, &type, &size, &err);
		if (ret == SNAP_ENOTFOUND)
			break;	/* past the last copy, or gone since the listing (gc) */
		if (ret == 0 && odb_stream_chunked(st)) {
			/* The chunk list: checked whole, reporting for itself. */
			if (good_type == OBJ_NONE) {
				good_type = type;
				strbuf_addstr(&good, odb_stream_path(st));
			}
			odb_stream_close(st);
			verify_chunked(f, oid, buf, bufsize);
			continue;
		}
		if (ret == 0) {
			keep = (type == OBJ_TREE || type == OBJ_SNAPSHOT || type == OBJ_BUNDLE) &&
			       good_type == OBJ_NONE;
			if (keep && size > (type == OBJ_TREE ? TREE_MAX_SIZE : type == OBJ_SNAPSHOT ?
					    SNAPSHOT_MAX_SIZE : BUNDLE_OBJECT_MAX)) {
				report(f, FSCK_ERROR, type == OBJ_TREE ? "malformed-tree" :
				       type == OBJ_SNAPSHOT ? "malformed-snapshot" : "malformed-bundle",
				       oid_to_hex(oid), "too large", FSCK_BIT_CORRUPT);
				keep = 0;
			}
			if (type == OBJ_BLOB && !reads_content(f, oid)) {
				odb_stream_close(st);
				f->types[idx] = (unsigned char)type;
				goto out;
			}
			strbuf_reset(&payload);
			do {
				ret = odb_stream_read(st, buf, bufsize, &got, &err);
				if (ret == 0 && keep)
					strbuf_add(&payload, buf, got);
			} while (ret == 0 && got);
			if (ret == 0 && good_type == OBJ_NONE) {
				good_type = type;
				strbuf_addstr(&good, odb_stream_path(st));
				if (keep || type == OBJ_BLOB)
					note_references(f, type, &payload, oid);
			}
			odb_stream_close(st);
		}
		if (ret < 0) {
			ALLOC_GROW(bad, nr_bad + 1, alloc_bad);
			strbuf_init(&bad[nr_bad], 0);
			strbuf_addbuf(&bad[nr_bad++], &err);
		}
	}
	for (i = 0; i < nr_bad; i++) {
		if (good_type != OBJ_NONE)
			strbuf_addf(&bad[i], "; a good copy is in %s", good.buf);
		report(f, FSCK_ERROR, corrupt_check(bad[i].buf), oid_to_hex(oid), bad[i].buf,
		       FSCK_BIT_CORRUPT);
	}
	if (good_type != OBJ_NONE)
		f->types[idx] = (unsigned char)good_type;
	else if (nr_bad)
		note_no_good_copy(f, oid);
out:
	for (i = 0; i < nr_bad; i++)
		strbuf_release(&bad[i]);
	free(bad);
	strbuf_release(&err);
	strbuf_release(&payload);
	strbuf_release(&good);
}

#define VERIFY_BUF (256 * 1024)

/* The i-th object in storage order, on a worker with its own buffer. */
static int verify_item(size_t i, void *buf, void *data, struct strbuf *err)
{
	struct fsck *f = data;

	(void)err;	/* what verify_one meets is a finding, not a failure */
	pthread_mutex_lock(&f->lock);
	if (f->o->progress && (f->done & 1023) == 0)
		f->o->progress("checking objects", f->done, f->nr_all, f->o->data);
	f->done++;
	pthread_mutex_unlock(&f->lock);
	verify_one(f, f->order[i], buf, VERIFY_BUF);
	return 0;
}

static void verify_objects(struct fsck *f)
{
	struct workqueue_opts wo = {
		.jobs = f->o->jobs,
		.buffer_size = VERIFY_BUF,
		.data = f,
	};
	struct keyed *pl = xcalloc(f->nr_all + 1, sizeof(*pl));
	size_t k;

	/* Read in storage order: a block's members one after another. */
	for (k = 0; k < f->nr_all; k++) {
		pl[k].key = odb_locality(f->odb, &f->all[k]);
		pl[k].idx = k;
	}
	sort_keyed(pl, f->nr_all);
	f->order = xcalloc(f->nr_all + 1, sizeof(*f->order));
	for (k = 0; k < f->nr_all; k++)
		f->order[k] = pl[k].idx;
	free(pl);
	workqueue_run_items(&wo, f->nr_all, verify_item, NULL);
	if (f->o->progress)
		f->o->progress("checking objects", f->nr_all, f->nr_all, f->o->data);
}

/* ---- refs ---- */

struct roots {
	struct fsck *f;
	struct snap_oid *oids;
	size_t nr, alloc;
	const char *ref;	/* the reflog being read */
};

static void add_root(struct roots *r, const struct snap_oid *oid)
{
	ALLOC_GROW(r->oids, r->nr + 1, r->alloc);
	r->oids[r->nr++] = *oid;
}

static int each_ref(const char *name, const struct snap_oid *oid, void *data)
{
	struct roots *r = data;
	struct fsck *f = r->f;
	struct strbuf err = STRBUF_INIT;
	enum object_type type;
	uint64_t size;

	if (!oid) {
		ref_read(odb_store(f->odb), name, NULL, &err);
		if (!err.len)
			strbuf_addstr(&err, "unreadable");
		report(f, FSCK_ERROR, "bad-ref", name, err.buf, FSCK_BIT_REF);
	} else if (odb_read_header(f->odb, oid, &type, &size, &err) == SNAP_ENOTFOUND) {
		strbuf_reset(&err);
		strbuf_addf(&err, "points at missing object %s", oid_to_hex(oid));
		report(f, FSCK_ERROR, "ref-missing-object", name, err.buf, FSCK_BIT_REF);
	} else if (!strncmp(name, "refs/snapshots/", 15) && err.len == 0 && type != OBJ_SNAPSHOT) {
		strbuf_addf(&err, "points at %s, a %s", oid_to_hex(oid), type_name(type));
		report(f, FSCK_ERROR, "ref-not-snapshot", name, err.buf, FSCK_BIT_REF);
		add_root(r, oid);
	} else {
		add_root(r, oid);
	}
	strbuf_release(&err);
	return 0;
}

static int each_reflog_entry(const struct reflog_entry *e, void *data)
{
	struct roots *r = data;
	const struct snap_oid *ids[2] = { &e->old_oid, &e->new_oid };
	int i;

	for (i = 0; i < 2; i++) {
		if (oid_is_null(ids[i]) || pruned_contains(&r->f->pruned, ids[i]))
			continue;
		if (!odb_has_now(r->f->odb, ids[i])) {
			struct strbuf msg = STRBUF_INIT;
			strbuf_addf(&msg, "reflog entry names missing object %s", oid_to_hex(ids[i]));
			report(r->f, FSCK_ERROR, "reflog-missing-object", r->ref, msg.buf, FSCK_BIT_REF);
			strbuf_release(&msg);
		} else {
			add_root(r, ids[i]);
		}
	}
	return 0;
}

static int each_reflog(const char *name, const struct snap_oid *oid, void *data)
{
	struct roots *r = data;
	struct strbuf err = STRBUF_INIT;
	int ret;

	(void)oid;
	r->ref = name;
	ret = reflog_for_each(odb_store(r->f->odb), name, each_reflog_entry, r, &err);
	if (ret < 0 && ret != SNAP_ENOTFOUND)
		report(r->f, FSCK_ERROR, "bad-reflog", name, err.buf, FSCK_BIT_REF);
	strbuf_release(&err);
	return 0;
}

static void walk_problem(const struct walk_problem *p, void *data)
{
	struct fsck *f = data;
	struct strbuf msg = STRBUF_INIT;
	int given = f->o->nr_objects > 0;

	if (p->from)
		strbuf_addf(&msg, "%s%sreferenced by %s", p->detail,
			    *p->detail ? ", " : "", oid_to_hex(p->from));
	else
		strbuf_addstr(&msg, p->detail);
	if (!strcmp(p->check, "missing"))
		report(f, FSCK_ERROR, "missing-object", oid_to_hex(p->oid), msg.buf, FSCK_BIT_MISSING);
	else if (!strcmp(p->check, "missing-chunk"))
		report_missing_chunk(f, p->oid, p->from);
	else if (!strcmp(p->check, "bad-chunk-list") || !strcmp(p->check, "corrupt-chunk")) {
		if (given)	/* else phase 1 reported it already */
			report(f, FSCK_ERROR, p->check, oid_to_hex(p->oid), p->detail,
			       FSCK_BIT_CORRUPT);
	}
	else if (!strcmp(p->check, "wrong-type"))
		report(f, FSCK_ERROR, "wrong-type", oid_to_hex(p->oid), msg.buf, FSCK_BIT_MISSING);
	else if (!strcmp(p->check, "bundle-order"))
		report(f, FSCK_ERROR, "bundle-order", oid_to_hex(p->oid), p->detail, FSCK_BIT_CORRUPT);
	else if (given)	/* else phase 1 reported it already */
		report(f, FSCK_ERROR,
		       strstr(p->detail, "hash mismatch") ? "hash-mismatch"
		       : !strcmp(p->check, "malformed") ? "malformed-object" : "corrupt-object",
		       oid_to_hex(p->oid), p->detail, FSCK_BIT_CORRUPT);
	strbuf_release(&msg);
}

/* ---- files ---- */

static int is_hex_name(const char *s, size_t len)
{
	return strlen(s) == len && is_hex(s, len);
}

static void check_files(struct fsck *f)
{
	struct snap_store *store = odb_store(f->odb);
	struct strbuf dir = STRBUF_INIT, sub = STRBUF_INIT, msg = STRBUF_INIT;
	time_t now = time(NULL);
	struct dirent *de, *de2;
	struct stat st;
	DIR *d, *d2;

	store_path(store, &dir, "objects");
	d = opendir(dir.buf);
	while (d && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    !strcmp(de->d_name, "pack") || !strcmp(de->d_name, "tmp"))
			continue;
		strbuf_reset(&sub);
		strbuf_addf(&sub, "%s/%s", dir.buf, de->d_name);
		if (!is_hex_name(de->d_name, 2) || lstat(sub.buf, &st) < 0 || !S_ISDIR(st.st_mode)) {
			report(f, FSCK_WARNING, "stray-file", sub.buf, "not an object directory", 0);
			continue;
		}
		d2 = opendir(sub.buf);
		while (d2 && (de2 = readdir(d2))) {
			if (!strcmp(de2->d_name, ".") || !strcmp(de2->d_name, ".."))
				continue;
			if (!is_hex_name(de2->d_name, SNAP_OID_HEXSZ - 2) ||
			    strspn(de2->d_name, "0123456789abcdef") != SNAP_OID_HEXSZ - 2) {
				strbuf_reset(&msg);
				strbuf_addf(&msg, "%s/%s", sub.buf, de2->d_name);
				report(f, FSCK_WARNING, "stray-file", msg.buf, "not an object file", 0);
			}
		}
		if (d2)
			closedir(d2);
	}
	if (d)
		closedir(d);

	store_path(store, &dir, "objects/tmp");
	d = opendir(dir.buf);
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		strbuf_reset(&sub);
		strbuf_addf(&sub, "%s/%s", dir.buf, de->d_name);
		if (lstat(sub.buf, &st) == 0 && now - st.st_mtime > TEMP_AGE_WARN) {
			strbuf_reset(&msg);
			strbuf_addf(&msg, "temporary file %ld s old (snap-gc removes it)",
				    (long)(now - st.st_mtime));
			report(f, FSCK_WARNING, "old-temp-file", sub.buf, msg.buf, 0);
		}
	}
	if (d)
		closedir(d);

	store_path(store, &dir, "objects/pack");
	d = opendir(dir.buf);
	while (d && (de = readdir(d))) {
		size_t len = strlen(de->d_name);
		if (de->d_name[0] == '.')
			continue;
		strbuf_reset(&sub);
		strbuf_addf(&sub, "%s/%s", dir.buf, de->d_name);
		if (len > 5 && !strcmp(de->d_name + len - 5, ".pack")) {
			strbuf_reset(&msg);
			strbuf_add(&msg, sub.buf, sub.len - 5);
			strbuf_addstr(&msg, ".idx");
			if (access(msg.buf, F_OK) < 0 && lstat(sub.buf, &st) == 0 &&
			    now - st.st_mtime > TEMP_AGE_WARN)
				report(f, FSCK_WARNING, "pack-without-index", sub.buf,
				       "no index: its objects cannot be read", 0);
		} else if (len > 4 && !strcmp(de->d_name + len - 4, ".idx")) {
			strbuf_reset(&msg);
			strbuf_add(&msg, sub.buf, sub.len - 4);
			strbuf_addstr(&msg, ".pack");
			if (access(msg.buf, F_OK) < 0)
				report(f, FSCK_ERROR, "index-without-pack", sub.buf,
				       "the pack it indexes is gone", FSCK_BIT_PACK);
		} else if (!strcmp(de->d_name, MIDX_NAME)) {
			struct midx m;
			strbuf_reset(&msg);
			if (midx_open(&m, sub.buf, &msg) < 0 ||
			    odb_verify_midx(f->odb, &msg) < 0)
				report(f, FSCK_WARNING, "bad-multi-pack-index", sub.buf,
				       msg.buf, 0);
			midx_close(&m);
		} else {
			report(f, FSCK_WARNING, "stray-file", sub.buf, "not a pack or index", 0);
		}
	}
	if (d)
		closedir(d);
	strbuf_release(&dir);
	strbuf_release(&sub);
	strbuf_release(&msg);
}

/* Lock files under refs/ and the gc lock: someone holds them, or died. */
static void check_locks_in(struct fsck *f, const char *path, int depth)
{
	struct strbuf sub = STRBUF_INIT, msg = STRBUF_INIT;
	time_t now = time(NULL);
	struct dirent *de;
	struct stat st;
	DIR *d = depth < 64 ? opendir(path) : NULL;

	while (d && (de = readdir(d))) {
		size_t len = strlen(de->d_name);
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		strbuf_reset(&sub);
		strbuf_addf(&sub, "%s/%s", path, de->d_name);
		if (lstat(sub.buf, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			check_locks_in(f, sub.buf, depth + 1);
		} else if (len > 5 && !strcmp(de->d_name + len - 5, ".lock")) {
			strbuf_reset(&msg);
			strbuf_addf(&msg, "lock file %ld s old; if no snap process is using the "
				    "store, remove it", (long)(now - st.st_mtime));
			report(f, FSCK_WARNING, "lock-file", sub.buf, msg.buf, 0);
		}
	}
	if (d)
		closedir(d);
	strbuf_release(&sub);
	strbuf_release(&msg);
}

static void check_packs(struct fsck *f)
{
	struct snap_store *store = odb_store(f->odb);
	struct strbuf dir = STRBUF_INIT, path = STRBUF_INIT, err = STRBUF_INIT;
	struct dirent *de;
	DIR *d;

	store_path(store, &dir, "objects/pack");
	d = opendir(dir.buf);
	while (d && (de = readdir(d))) {
		size_t len = strlen(de->d_name);
		struct pack p;

		if (len < 5 || strcmp(de->d_name + len - 4, ".idx") || de->d_name[0] == '.')
			continue;
		strbuf_reset(&path);
		strbuf_addf(&path, "%s/%s", dir.buf, de->d_name);
		strbuf_reset(&err);
		if (pack_open(&p, path.buf, &err) < 0) {
			/* Listed, then gone: a gc beside us replaced it. */
			if (access(path.buf, F_OK) < 0 && errno == ENOENT)
				continue;
			report(f, FSCK_ERROR, "pack-corrupt", path.buf, err.buf, FSCK_BIT_PACK);
			continue;
		}
		/* A pack gone is index-without-pack (check_files). */
		if (pack_verify(&p, &err) < 0 && (errno != ENOENT || access(p.pack_path, F_OK) == 0))
			report(f, FSCK_ERROR, "pack-corrupt", path.buf, err.buf, FSCK_BIT_PACK);
		pack_close(&p);
	}
	if (d)
		closedir(d);
	strbuf_release(&dir);
	strbuf_release(&path);
	strbuf_release(&err);
}

static int cmp_oid(const void *a, const void *b)
{
	return oid_cmp(a, b);
}

static void reached(const struct snap_oid *oid, enum object_type type, uint64_t size,
		    void *data)
{
	struct fsck *f = data;

	(void)size;
	if (type != OBJ_SNAPSHOT)
		return;
	ALLOC_GROW(f->snapshots, f->nr_snapshots + 1, f->alloc_snapshots);
	f->snapshots[f->nr_snapshots++] = *oid;
}

static void bad_link(const char *problem, void *data)
{
	struct fsck *f = data;

	report(f, FSCK_ERROR, "bad-hard-link", oid_to_hex(f->checking), problem, FSCK_BIT_CORRUPT);
}

/*
 * A hard link must hold the blob of its group's first file: a tree that
 * says otherwise would restore one file's bytes under another's name.
 * Checked per root tree (link paths start at the root), remembering the
 * trees with no link below them.
 */
static void check_hard_links(struct fsck *f)
{
	struct oidset clean = OIDSET_INIT, roots = OIDSET_INIT;
	struct strbuf err = STRBUF_INIT;
	size_t i;

	for (i = 0; i < f->nr_snapshots; i++) {
		struct snapshot s = SNAPSHOT_INIT;

		strbuf_reset(&err);
		if (snapshot_read(f->odb, &f->snapshots[i], &s, &err) == 0 && !s.nr_bundles &&
		    oidset_insert(&roots, &s.tree)) {
			f->checking = &s.tree;
			strbuf_reset(&err);
			/* A tree that cannot be read was reported by the walk. */
			tree_check_links(f->odb, &s.tree, &clean, bad_link, f, &err);
		}
		snapshot_release(&s);
	}
	oidset_clear(&clean);
	oidset_clear(&roots);
	strbuf_release(&err);
}

/* What stops other commands though it is not an object: say so. */
static void check_journal_and_sessions(struct fsck *f)
{
	struct strbuf err = STRBUF_INIT;
	struct session **sessions = NULL;
	size_t nr = 0, i;
	int ret = refs_recover(odb_store(f->odb), &err);

	/*
	 * A journal that waits for a lock (a live writer, or a lock a crash
	 * emptied, stale once LOCK_GRACE old) is finished later; one that
	 * cannot be read is damage.
	 */
	if (ret == SNAP_ELOCKED)
		report(f, FSCK_WARNING, "journal-waiting", "journal/", err.buf, 0);
	else if (ret < 0)
		report(f, FSCK_ERROR, "bad-journal", "journal/", err.buf, FSCK_BIT_REF);
	strbuf_reset(&err);
	if (sessions_load(odb_store(f->odb), &sessions, &nr, &err) < 0)
		report(f, FSCK_WARNING, "bad-session", "sessions/", err.buf, 0);
	for (i = 0; i < nr; i++)
		session_free(sessions[i]);
	free(sessions);
	strbuf_release(&err);
}

static void linked_dir(const char *path, void *data)
{
	report(data, FSCK_ERROR, "symlinked-directory", path,
	       "a directory of the store is a symbolic link", FSCK_BIT_REF);
}

int fsck_store(struct odb *odb, const struct fsck_opts *o, struct strbuf *err)
{
	struct fsck f;
	struct roots r;
	struct oidset reachable = OIDSET_INIT;
	struct walk_opts wo;
	struct strbuf path = STRBUF_INIT;
	size_t i;
	int ret = 0;

	memset(&f, 0, sizeof(f));
	memset(&r, 0, sizeof(r));
	memset(&wo, 0, sizeof(wo));
	f.odb = odb;
	f.o = o;
	r.f = &f;
	pthread_mutex_init(&f.lock, NULL);
	wo.problem = walk_problem;
	wo.data = &f;
	wo.pruned = &f.pruned;
	/*
	 * Without a sound record every cut parent is reported missing: fsck
	 * cannot tell a cut from damage, and says so first.
	 */
	strbuf_reset(&path);
	if (pruned_load(odb_store(odb), &f.pruned, &path) < 0)
		report(&f, FSCK_ERROR, "bad-pruned-record", PRUNED_FILE, path.buf, FSCK_BIT_REF);
	strbuf_reset(&path);

	if (o->nr_objects) {
		struct snap_oid oid;
		for (i = 0; i < o->nr_objects; i++) {
			strbuf_reset(err);
			if (resolve_rev(odb, o->objects[i], &oid, err) < 0) {
				ret = SNAP_ENOTFOUND;
				goto out;
			}
			add_root(&r, &oid);
		}
		strbuf_reset(err);
		wo.verify_blobs = !o->connectivity_only;
		walk_reachable(odb, r.oids, NULL, r.nr, &reachable, &wo);
		goto out;
	}

	/* Behind such a link is not the store: report it, check nothing else. */
	ret = store_find_links(odb_store(odb), linked_dir, &f, err);
	if (ret != 0) {
		ret = ret < 0 ? ret : 0;
		goto out;
	}
	check_packs(&f);
	check_journal_and_sessions(&f);
	ret = odb_for_each(odb, collect_oid, &f, err);
	if (ret == 0)
		ret = odb_for_each_loose(odb, collect_loose, &f, err);
	if (ret < 0)
		goto out;
	QSORT(f.all, f.nr_all, cmp_oid);
	f.types = xcalloc(f.nr_all + 1, 1);
	verify_objects(&f);
	/* Advice for the next writer (badlist.h); a store fsck may not
	 * write to, read-only or full, does without it. */
	if (f.nr_bad) {
		strbuf_reset(&path);
		if (badlist_add(odb_store(odb), f.bad, f.nr_bad, &path) < 0)
			report(&f, FSCK_WARNING, "bad-objects-unrecorded", "bad-objects", path.buf, 0);
		strbuf_reset(&path);
	}

	ret = refs_for_each(odb_store(odb), "refs/", each_ref, &r, err);
	if (ret == 0)
		ret = reflogs_for_each(odb_store(odb), each_reflog, &r, err);
	if (ret < 0)
		goto out;
	if (o->progress)
		o->progress("walking", 0, 0, o->data);
	wo.reached = reached;
	walk_reachable(odb, r.oids, NULL, r.nr, &reachable, &wo);
	check_hard_links(&f);

	for (i = 0; i < f.nr_all; i++) {
		const char *tn = type_name((enum object_type)f.types[i]);
		if (!f.types[i] || oidset_contains(&reachable, &f.all[i]))
			continue;
		if (o->unreachable)
			report(&f, FSCK_INFO, "unreachable", oid_to_hex(&f.all[i]), tn, 0);
		else if (!o->no_dangling && !oidset_contains(&f.referenced, &f.all[i]))
			report(&f, FSCK_INFO, "dangling", oid_to_hex(&f.all[i]), tn, 0);
	}
	check_files(&f);
	store_path(odb_store(odb), &path, "refs");
	check_locks_in(&f, path.buf, 0);
	store_path(odb_store(odb), &path, "gc.lock");
	if (access(path.buf, F_OK) == 0)
		report(&f, FSCK_WARNING, "lock-file", path.buf, "a gc is running, or died", 0);
out:
	free(f.all);
	free(f.types);
	free(f.order);
	free(r.oids);
	free(f.snapshots);
	free(f.bad);
	pruned_release(&f.pruned);
	oidset_clear(&f.referenced);
	oidset_clear(&f.missing_chunks);
	oidset_clear(&f.xattr_sets);
	oidset_clear(&f.loose);
	oidset_clear(&reachable);
	strbuf_release(&path);
	pthread_mutex_destroy(&f.lock);
	return ret < 0 ? ret : f.bits;
}
