#include "walk.h"
#include "bundle.h"
#include "error.h"
#include "refs.h"
#include "snapshot.h"
#include "tree.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

struct item {
	struct snap_oid oid;
	struct snap_oid from;
	int has_from;
	int chunk;		/* listed by the chunked blob from */
	enum object_type want;
};

struct walker {
	struct odb *odb;
	const struct walk_opts *opts;
	struct oidset *seen;
	struct item *stack;
	size_t nr, alloc;
	long problems;
	struct strbuf buf, msg, bundle;
	struct oidset cut;	/* listed parents met, so each is gone through once */
	struct snap_oid *pending;
	size_t nr_pending, alloc_pending;
};

static struct item *push(struct walker *w, const struct snap_oid *oid,
			 const struct snap_oid *from, enum object_type want)
{
	struct item *it;

	if (oidset_contains(w->seen, oid))
		return NULL;
	ALLOC_GROW(w->stack, w->nr + 1, w->alloc);
	it = &w->stack[w->nr++];
	it->oid = *oid;
	it->has_from = from != NULL;
	if (from)
		it->from = *from;
	it->chunk = 0;
	it->want = want;
	return it;
}

void walk_problem_describe(const struct walk_problem *p, struct strbuf *out)
{
	if (!strcmp(p->check, "missing") || !strcmp(p->check, "missing-chunk"))
		strbuf_addf(out, "object '%s' is missing", oid_to_hex(p->oid));
	else if (strstr(p->detail, oid_to_hex(p->oid)))
		strbuf_addstr(out, p->detail);	/* it names the object */
	else
		strbuf_addf(out, "object '%s' is %s: %s", oid_to_hex(p->oid), p->check,
			    p->detail);
	if (p->from)
		strbuf_addf(out, " (referenced by %s)", oid_to_hex(p->from));
}

/* A problem met where a read failed with code (SNAP_EIO, SNAP_ECORRUPT, ...). */
static void problem_code(struct walker *w, const struct item *it, const char *check,
			 const char *detail, int code)
{
	struct walk_problem p = { check, &it->oid, it->has_from ? &it->from : NULL, detail,
				  code };

	w->problems++;
	if (w->opts && w->opts->problem)
		w->opts->problem(&p, w->opts->data);
}

static void problem(struct walker *w, const struct item *it, const char *check,
		    const char *detail)
{
	problem_code(w, it, check, detail,
		     strncmp(check, "missing", 7) ? SNAP_ECORRUPT : SNAP_ENOTFOUND);
}

/*
 * Reads a bundle: verified, and checked as a bundle in canonical form.
 * Problems are reported when report is set (the first time it is met);
 * its sequence is wanted every time.  Returns 0 and sets *seq and *size
 * when it checks out.
 */
static int walk_bundle(struct walker *w, const struct item *it, int report,
		       struct bundle_key *key, uint64_t *size)
{
	enum object_type type;
	json_t *v;
	int ret;

	strbuf_reset(&w->msg);
	ret = odb_read_header(w->odb, &it->oid, &type, size, &w->msg);
	if (ret == SNAP_ENOTFOUND) {
		if (report)
			problem(w, it, "missing", "bundle");
		return -1;
	}
	if (ret == 0 && type != OBJ_BUNDLE) {
		if (report) {
			strbuf_reset(&w->msg);
			strbuf_addf(&w->msg, "is a %s, expected a bundle", type_name(type));
			problem(w, it, "wrong-type", w->msg.buf);
		}
		return -1;
	}
	if (ret == 0)
		ret = odb_read(w->odb, &it->oid, NULL, &w->bundle, BUNDLE_OBJECT_MAX, &w->msg);
	if (ret < 0) {
		if (report)
			problem_code(w, it, "corrupt", w->msg.buf, ret);
		return -1;
	}
	if (bundle_parse(w->bundle.buf, w->bundle.len, &key->sequence, &v, &w->msg) < 0) {
		if (report)
			problem(w, it, "malformed", w->msg.buf);
		return -1;
	}
	key->oid = it->oid;
	bundle_clock_of(v, &key->clock);
	json_decref(v);
	return 0;
}

/*
 * A bundle snapshot's bundles, each one that may follow the one before
 * it, the first the parent's last (bundle_key_follows()).
 */
static void visit_bundles(struct walker *w, const struct item *it, const struct snapshot *s)
{
	struct bundle_key last = { 0 }, key;
	int have_last = 0;
	size_t i;

	if (s->nr_parents) {
		strbuf_reset(&w->msg);
		/* A parent that cannot say is reported when it is visited. */
		have_last = bundle_snapshot_last_key(w->odb, &s->parents[0], &last, &w->msg) == 0;
	}
	for (i = 0; i < s->nr_bundles; i++) {
		struct item b = { .oid = s->bundles[i], .from = it->oid, .has_from = 1,
				  .want = OBJ_BUNDLE };
		int first = oidset_insert(w->seen, &b.oid);
		uint64_t size;

		memset(&key, 0, sizeof(key));
		if (walk_bundle(w, &b, first, &key, &size) < 0)
			continue;
		if (first && w->opts && w->opts->reached)
			w->opts->reached(&b.oid, OBJ_BUNDLE, size, w->opts->data);
		if (have_last && !bundle_key_follows(&last, &key)) {
			strbuf_reset(&w->msg);
			if (bundle_clock_before(&key.clock, &last.clock))
				strbuf_addf(&w->msg, "bundle %zu (%s) happened before %s, the one before it (by their vector clocks)",
					    i + 1, oid_to_hex(&b.oid), oid_to_hex(&last.oid));
			else
				strbuf_addf(&w->msg, "bundle %zu (%s) has sequence %llu, not above %llu",
					    i + 1, oid_to_hex(&b.oid), (unsigned long long)key.sequence,
					    (unsigned long long)last.sequence);
			if (!bundle_clock_before(&key.clock, &last.clock) &&
			    key.clock.known && last.clock.known)
				strbuf_addstr(&w->msg, ", and the vector clocks do not put it after that one");
			problem(w, it, "bundle-order", w->msg.buf);
		}
		bundle_clock_release(&last.clock);
		last = key;
		have_last = 1;
	}
	bundle_clock_release(&last.clock);
}

/*
 * A parent: walked, unless the pruned record lists it; then the parents
 * the record gives it are, in its place (and so on through listed ones).
 */
static void push_parent(struct walker *w, const struct snap_oid *parent,
			const struct snap_oid *from)
{
	const struct pruned *pr = w->opts ? w->opts->pruned : NULL;
	const struct pruned_entry *e = pruned_find(pr, parent);
	size_t i;

	if (!e) {
		push(w, parent, from, OBJ_SNAPSHOT);
		return;
	}
	w->nr_pending = 0;
	ALLOC_GROW(w->pending, w->nr_pending + 1, w->alloc_pending);
	w->pending[w->nr_pending++] = *parent;
	while (w->nr_pending) {
		struct snap_oid id = w->pending[--w->nr_pending];

		e = pruned_find(pr, &id);
		if (!e) {
			push(w, &id, from, OBJ_SNAPSHOT);
			continue;
		}
		if (!oidset_insert(&w->cut, &id))
			continue;
		for (i = e->nr_parents; i-- > 0;) {
			ALLOC_GROW(w->pending, w->nr_pending + 1, w->alloc_pending);
			w->pending[w->nr_pending++] = pruned_parents(pr, e)[i];
		}
	}
}

static void visit_snapshot(struct walker *w, const struct item *it)
{
	struct snapshot s;
	size_t i;

	strbuf_reset(&w->msg);
	if (snapshot_parse(&s, w->buf.buf, w->buf.len, &w->msg) < 0) {
		problem(w, it, "malformed", w->msg.buf);
		return;
	}
	if (s.nr_bundles)
		visit_bundles(w, it, &s);
	else
		push(w, &s.tree, &it->oid, OBJ_TREE);
	for (i = s.nr_parents; i-- > 0;)
		push_parent(w, &s.parents[i], &it->oid);
	snapshot_release(&s);
}

static void visit_tree(struct walker *w, const struct item *it)
{
	struct tree t = TREE_INIT;
	size_t i;

	strbuf_reset(&w->msg);
	if (tree_parse(&t, w->buf.buf, w->buf.len, &w->msg) < 0) {
		problem(w, it, "malformed", w->msg.buf);
		return;
	}
	for (i = t.nr; i-- > 0;) {
		const struct tree_entry *e = &t.entries[i];
		if (e->has_xattrs)
			push(w, &e->xattrs, &it->oid, OBJ_BLOB);
		if (e->type == TREE_DIR)
			push(w, &e->oid, &it->oid, OBJ_TREE);
		else if (e->type == TREE_FILE || e->type == TREE_SYMLINK)
			push(w, &e->oid, &it->oid, OBJ_BLOB);
	}
	tree_release(&t);
}

/*
 * Reads a blob through to the end, so that its hash is checked.  Sets
 * *in_chunk when the failure was in a chunk of a chunked blob: 1 when it
 * is corrupt, 2 when it is missing.
 */
static int verify_blob(struct walker *w, const struct snap_oid *oid, int *in_chunk)
{
	struct odb_stream *st;
	struct snap_oid chunk;
	char buf[65536];
	size_t got;
	int ret, missing;

	*in_chunk = 0;
	strbuf_reset(&w->msg);
	ret = odb_stream_open(w->odb, oid, &st, NULL, NULL, &w->msg);
	if (ret < 0)
		return ret;
	do
		ret = odb_stream_read(st, buf, sizeof(buf), &got, &w->msg);
	while (ret == 0 && got);
	if (ret < 0 && odb_stream_bad_chunk(st, &chunk, &missing))
		*in_chunk = missing ? 2 : 1;
	odb_stream_close(st);
	return ret;
}

struct chunk_push {
	struct walker *w;
	const struct item *from;
};

static void push_chunk(const struct snap_oid *chunk, uint64_t size, void *data)
{
	struct chunk_push *cp = data;
	struct item *it = push(cp->w, chunk, &cp->from->oid, OBJ_BLOB);

	(void)size;
	if (it)
		it->chunk = 1;
}

/*
 * A chunked blob refers to its chunks: they are walked like children.
 * quiet: its list was reported bad already.
 */
static void visit_chunks(struct walker *w, const struct item *it, int quiet)
{
	struct chunk_push cp = { w, it };
	size_t base = w->nr, i, j;

	strbuf_reset(&w->msg);
	if (odb_chunks_each(w->odb, &it->oid, push_chunk, &cp, &w->msg) < 0 && !quiet)
		problem(w, it, "bad-chunk-list", w->msg.buf);
	/* Popped in list order. */
	for (i = base, j = w->nr; i + 1 < j; i++, j--) {
		struct item tmp = w->stack[i];
		w->stack[i] = w->stack[j - 1];
		w->stack[j - 1] = tmp;
	}
}

static void visit(struct walker *w, const struct item *it)
{
	enum object_type type;
	uint64_t size;
	int ret, chunked = 0, in_chunk, quiet = 0;

	strbuf_reset(&w->msg);
	ret = odb_read_info(w->odb, &it->oid, &type, &size, &chunked, &w->msg);
	if (ret == SNAP_ENOTFOUND) {
		if (it->chunk)
			problem(w, it, "missing-chunk", "chunk");
		else
			problem(w, it, "missing", it->want ? type_name(it->want) : "object");
		return;
	}
	if (ret < 0) {
		problem_code(w, it, "corrupt", w->msg.buf, ret);
		return;
	}
	if (it->want != OBJ_NONE && type != it->want) {
		strbuf_reset(&w->msg);
		strbuf_addf(&w->msg, "is a %s, expected a %s", type_name(type),
			    type_name(it->want));
		problem(w, it, "wrong-type", w->msg.buf);
		return;
	}
	if (type == OBJ_TREE || type == OBJ_SNAPSHOT) {
		size_t max = type == OBJ_TREE ? TREE_MAX_SIZE : SNAPSHOT_MAX_SIZE;
		strbuf_reset(&w->msg);
		ret = odb_read(w->odb, &it->oid, NULL, &w->buf, max, &w->msg);
		if (ret < 0) {
			problem_code(w, it, "corrupt", w->msg.buf, ret);
			return;
		}
		if (type == OBJ_TREE)
			visit_tree(w, it);
		else
			visit_snapshot(w, it);
	} else if (type == OBJ_BUNDLE) {
		struct bundle_key key = { 0 };
		int bad = walk_bundle(w, it, 1, &key, &size) < 0;

		bundle_clock_release(&key.clock);
		if (bad)
			return;
	} else if (type == OBJ_BLOB && chunked && it->chunk) {
		problem(w, it, "bad-chunk-list", "a chunk that is itself a chunk list");
		return;
	} else if (type == OBJ_BLOB && w->opts && w->opts->verify_blobs &&
		   (ret = verify_blob(w, &it->oid, &in_chunk)) < 0) {
		if (!chunked) {
			problem_code(w, it, "corrupt", w->msg.buf, ret);
			return;
		}
		/* A missing chunk is reported when it is visited. */
		if (in_chunk != 2)
			problem(w, it, in_chunk ? "corrupt-chunk" : "bad-chunk-list", w->msg.buf);
		quiet = !in_chunk;
	}
	if (chunked)
		visit_chunks(w, it, quiet);
	if (w->opts && w->opts->reached)
		w->opts->reached(&it->oid, type, size, w->opts->data);
}

size_t walk_reachable(struct odb *odb, const struct snap_oid *roots,
		      const enum object_type *root_types, size_t nr,
		      struct oidset *seen, const struct walk_opts *opts)
{
	struct walker w;
	size_t i;

	memset(&w, 0, sizeof(w));
	w.odb = odb;
	w.opts = opts;
	w.seen = seen;
	strbuf_init(&w.buf, 0);
	strbuf_init(&w.msg, 0);
	strbuf_init(&w.bundle, 0);
	for (i = nr; i-- > 0;)
		push(&w, &roots[i], NULL, root_types ? root_types[i] : OBJ_NONE);
	while (w.nr) {
		struct item it = w.stack[--w.nr];

		if (!oidset_insert(seen, &it.oid))
			continue;
		visit(&w, &it);
	}
	free(w.stack);
	free(w.pending);
	oidset_clear(&w.cut);
	strbuf_release(&w.buf);
	strbuf_release(&w.msg);
	strbuf_release(&w.bundle);
	return w.problems;
}

struct roots {
	struct snap_store *store;
	const struct pruned *pruned;
	struct snap_oid **oids;
	size_t *nr, *alloc;
	struct strbuf *err;
};

static void add_root(struct roots *r, const struct snap_oid *oid)
{
	ALLOC_GROW(*r->oids, *r->nr + 1, *r->alloc);
	(*r->oids)[(*r->nr)++] = *oid;
}

static int root_ref(const char *name, const struct snap_oid *oid, void *data)
{
	struct roots *r = data;

	if (!oid)
		return snap_error(r->err, SNAP_ECORRUPT, "ref '%s' is unreadable", name);
	add_root(r, oid);
	return 0;
}

static int root_reflog_entry(const struct reflog_entry *e, void *data)
{
	struct roots *r = data;

	if (!oid_is_null(&e->old_oid) && !(r->pruned && pruned_contains(r->pruned, &e->old_oid)))
		add_root(r, &e->old_oid);
	if (!oid_is_null(&e->new_oid) && !(r->pruned && pruned_contains(r->pruned, &e->new_oid)))
		add_root(r, &e->new_oid);
	return 0;
}

static int root_reflog(const char *name, const struct snap_oid *oid, void *data)
{
	struct roots *r = data;
	int ret;

	(void)oid;
	ret = reflog_for_each(r->store, name, root_reflog_entry, r, r->err);
	return ret == SNAP_ENOTFOUND ? 0 : ret;
}

int walk_collect_roots(struct snap_store *store, const struct pruned *pruned,
		       struct snap_oid **oids, size_t *nr, size_t *alloc,
		       struct strbuf *err)
{
	struct roots r = { store, pruned, oids, nr, alloc, err };
	int ret = refs_for_each(store, "refs/", root_ref, &r, err);

	if (ret == 0)
		ret = reflogs_for_each(store, root_reflog, &r, err);
	return ret < 0 ? ret : ret > 0 ? SNAP_ECORRUPT : 0;
}
