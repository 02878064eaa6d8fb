/*
 * Sync bundles: checking, ordering, storing, following chains.  Reading
 * inputs is lib/bundleread.c.  The formats are in docs/FORMAT.md
 * ("Bundles", "Native bundles").
 */
#include "bundle.h"
#include "progress.h"
#include "error.h"
#include "hash.h"
#include "json.h"
#include "oidset.h"
#include "snapshot.h"
#include "sqlbundle.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

enum bundle_format bundle_format_from_name(const char *name)
{
	if (!strcmp(name, "json"))
		return BUNDLE_JSON;
	if (!strcmp(name, "jsonl"))
		return BUNDLE_JSONL;
	if (!strcmp(name, "sqlite"))
		return BUNDLE_SQLITE;
	return BUNDLE_AUTO;
}

void bundle_list_release(struct bundle_list *list)
{
	size_t i;

	for (i = 0; i < list->nr; i++) {
		free(list->v[i].payload);
		bundle_clock_release(&list->v[i].clock);
	}
	free(list->v);
	memset(list, 0, sizeof(*list));
}

/* ---- clocks ---- */

void bundle_clock_release(struct bundle_clock *c)
{
	free(c->v);
	memset(c, 0, sizeof(*c));
}

static int cmp_tick(const void *va, const void *vb)
{
	const struct bundle_tick *a = va, *b = vb;
	int d = strcmp(a->device, b->device);

	if (d)
		return d;
	return a->count < b->count ? -1 : a->count > b->count;
}

void bundle_clock_of(const json_t *bundle, struct bundle_clock *c)
{
	const json_t *ops = json_object_get(bundle, "operations"), *op;
	struct strbuf msg = STRBUF_INIT;
	size_t i, j, alloc = 0, pos;

	memset(c, 0, sizeof(*c));
	if (!json_is_string(json_object_get(bundle, "format")) ||
	    strcmp(json_string_value(json_object_get(bundle, "format")), SQLBUNDLE_FORMAT))
		return;
	c->known = 1;
	json_array_foreach(ops, i, op) {
		const json_t *vc = json_object_get(op, "vector_clock"), *val;
		const char *key;
		json_t *v;

		/* Checked already (sqlbundle_check); one that is not counts for nothing. */
		strbuf_reset(&msg);
		if (!json_is_string(vc) ||
		    json_parse(json_string_value(vc), json_string_length(vc), &v, &pos, &msg) < 0)
			continue;
		json_object_foreach(v, key, val) {
			if (strlen(key) != 32 || !json_is_integer(val))
				continue;
			ALLOC_GROW(c->v, c->nr + 1, alloc);
			memcpy(c->v[c->nr].device, key, 33);
			c->v[c->nr++].count = (uint64_t)json_integer_value(val);
		}
		json_decref(v);
	}
	strbuf_release(&msg);
	/* Sorted, then each device's largest count kept (it sorts last). */
	QSORT(c->v, c->nr, cmp_tick);
	for (i = j = 0; i < c->nr; i++) {
		if (i + 1 < c->nr && !strcmp(c->v[i].device, c->v[i + 1].device))
			continue;
		c->v[j++] = c->v[i];
	}
	c->nr = j;
}

int bundle_clock_before(const struct bundle_clock *a, const struct bundle_clock *b)
{
	size_t i = 0, j = 0;
	int less = 0;

	if (!a->known || !b->known)
		return 0;
	while (i < a->nr || j < b->nr) {
		int d = i == a->nr ? 1 : j == b->nr ? -1 : strcmp(a->v[i].device, b->v[j].device);

		if (d < 0) {		/* a has a device b has not seen */
			if (a->v[i].count)
				return 0;
			i++;
		} else if (d > 0) {
			less |= b->v[j].count > 0;
			j++;
		} else {
			if (a->v[i].count > b->v[j].count)
				return 0;
			less |= a->v[i].count < b->v[j].count;
			i++;
			j++;
		}
	}
	return less;
}

int bundle_key_follows(const struct bundle_key *prev, const struct bundle_key *next)
{
	if (bundle_clock_before(&next->clock, &prev->clock))
		return 0;
	if (next->sequence > prev->sequence || bundle_clock_before(&prev->clock, &next->clock))
		return 1;
	return next->sequence == prev->sequence && prev->clock.known && next->clock.known;
}

int bundle_from_json(const json_t *v, struct bundle *b, struct strbuf *err)
{
	struct strbuf canon = STRBUF_INIT;
	const json_t *seq, *ops, *fmt;
	json_int_t n;
	int ret;

	if (sqlbundle_is_wire(v)) {
		json_t *native;

		ret = sqlbundle_from_wire(v, &native, err);
		if (ret < 0)
			return ret;
		ret = bundle_from_json(native, b, err);
		json_decref(native);
		return ret;
	}
	if (!json_is_object(v))
		return snap_error(err, SNAP_EINVAL, "$: a bundle is a JSON object");
	seq = json_object_get(v, "sequence");
	if (!seq)
		return snap_error(err, SNAP_EINVAL, "$.sequence: missing");
	if (json_is_real(seq))
		return snap_error(err, SNAP_EINVAL,
				  "$.sequence: not an integer (no fraction or exponent allowed)");
	if (!json_is_integer(seq))
		return snap_error(err, SNAP_EINVAL, "$.sequence: not an integer");
	n = json_integer_value(seq);
	if (n < 0)
		return snap_error(err, SNAP_EINVAL, "$.sequence: negative");
	if (n > JSON_INT_EXACT_MAX)
		return snap_error(err, SNAP_EINVAL, "$.sequence: larger than 2^53 - 1");
	ops = json_object_get(v, "operations");
	if (!ops)
		return snap_error(err, SNAP_EINVAL, "$.operations: missing");
	if (!json_is_array(ops))
		return snap_error(err, SNAP_EINVAL, "$.operations: not an array");
	fmt = json_object_get(v, "format");
	b->native = fmt && json_is_string(fmt) && !strcmp(json_string_value(fmt), SQLBUNDLE_FORMAT);
	if (b->native && (ret = sqlbundle_check(v, err)) < 0)
		return ret;
	ret = json_canonical(v, &canon, err);
	if (ret == 0 && canon.len > BUNDLE_OBJECT_MAX)
		ret = snap_error(err, SNAP_ETOOBIG, "$: larger than %u MiB in canonical form",
				 BUNDLE_OBJECT_MAX >> 20);
	if (ret < 0) {
		strbuf_release(&canon);
		return ret;
	}
	b->sequence = (uint64_t)n;
	b->schema_version = b->native ?
		(long long)json_integer_value(json_object_get(v, "schema_version")) : -1;
	hash_object_buf(OBJ_BUNDLE, canon.buf, canon.len, &b->oid);
	bundle_clock_of(v, &b->clock);
	b->payload = strbuf_detach(&canon, &b->len);
	return 0;
}

int bundle_parse(const char *buf, size_t len, uint64_t *sequence, json_t **out,
		 struct strbuf *err)
{
	struct bundle b = { 0 };
	json_t *v;
	size_t pos, end;
	int ret;

	if (json_scan_value(buf, len, BUNDLE_OBJECT_MAX, &end) < 0)
		return snap_error(err, SNAP_EINVAL, "byte %zu: nested deeper than %d levels",
				  end, JSON_DEPTH_MAX);
	ret = json_parse(buf, len, &v, &pos, err);
	if (ret < 0)
		return ret;
	ret = bundle_from_json(v, &b, err);
	if (ret == 0 && (b.len != len || memcmp(b.payload, buf, len)))
		ret = snap_error(err, SNAP_EINVAL, "not in canonical form");
	if (ret == 0)
		*sequence = b.sequence;
	free(b.payload);
	bundle_clock_release(&b.clock);
	if (ret == 0 && out)
		*out = v;
	else
		json_decref(v);
	return ret;
}

static void add_where(struct strbuf *sb, const struct bundle *b)
{
	strbuf_addf(sb, "%s: bundle %zu", b->file, b->index);
	if (b->line)
		strbuf_addf(sb, " (line %zu)", b->line);
}

static int cmp_bundle(const void *va, const void *vb)
{
	const struct bundle *a = va, *b = vb;

	int d;

	if (a->sequence != b->sequence)
		return a->sequence < b->sequence ? -1 : 1;
	d = oid_cmp(&a->oid, &b->oid);
	if (d)
		return d;
	return a->order < b->order ? -1 : a->order > b->order;
}

int bundle_load(struct odb *odb, const struct snap_oid *oid, struct strbuf *buf,
		uint64_t *sequence, json_t **out, struct strbuf *err)
{
	struct strbuf msg = STRBUF_INIT;
	enum object_type type;
	uint64_t size;
	int ret;

	ret = odb_read_header(odb, oid, &type, &size, err);
	if (ret == 0 && type != OBJ_BUNDLE)
		ret = snap_error(err, SNAP_ECORRUPT, "object '%s' is a %s, not a bundle",
				 oid_to_hex(oid), type_name(type));
	if (ret == 0)
		ret = odb_read(odb, oid, NULL, buf, BUNDLE_OBJECT_MAX, err);
	if (ret == 0 && (sequence || out) &&
	    bundle_parse(buf->buf, buf->len, sequence ? sequence : &(uint64_t){ 0 }, out, &msg) < 0)
		ret = snap_error(err, SNAP_ECORRUPT, "bundle '%s' is malformed: %s",
				 oid_to_hex(oid), msg.buf);
	strbuf_release(&msg);
	return ret;
}

/* The id of the last bundle of bundle snapshot oid. */
static int last_bundle(struct odb *odb, const struct snap_oid *oid, struct snap_oid *last,
		       struct strbuf *err)
{
	struct snapshot s;
	int ret = snapshot_read(odb, oid, &s, err);

	if (ret < 0)
		return ret;
	if (s.nr_bundles)
		*last = s.bundles[s.nr_bundles - 1];
	else
		ret = snap_error(err, SNAP_EINVAL, "snapshot '%s' is not a bundle snapshot",
				 oid_to_hex(oid));
	snapshot_release(&s);
	return ret;
}

int bundle_snapshot_last(struct odb *odb, const struct snap_oid *oid,
			 uint64_t *sequence, struct strbuf *err)
{
	struct strbuf buf = STRBUF_INIT;
	struct snap_oid last;
	int ret;

	ret = last_bundle(odb, oid, &last, err);
	if (ret < 0)
		return ret;
	ret = bundle_load(odb, &last, &buf, sequence, NULL, err);
	strbuf_release(&buf);
	return ret;
}

/*
 * The content_hash of a native bundle's canonical form, which starts
 * {"bundle_id":"<32 hex>","content_hash":"<64 hex>","format":"sqlite-sync-core"
 * (RFC 8785 sorts the members so); NULL for other bundles.
 */
static const char *native_hash(const char *buf, size_t len)
{
	static const char a[] = "{\"bundle_id\":\"", b[] = "\",\"content_hash\":\"",
		c[] = "\",\"format\":\"" SQLBUNDLE_FORMAT "\"";
	size_t at = sizeof(a) - 1 + 32, h = at + sizeof(b) - 1;

	if (len < h + 64 + sizeof(c) - 1 || memcmp(buf, a, sizeof(a) - 1) ||
	    memcmp(buf + at, b, sizeof(b) - 1) || memcmp(buf + h + 64, c, sizeof(c) - 1))
		return NULL;
	return buf + h;
}

/* What dropping the bundles already there needs of the parent's chain. */
struct chain_index {
	struct snap_oid *ids;
	size_t nr;
	struct oidset set;
	char *hashes;		/* 64 hex digits a bundle, "" for JSON ones; NULL until read */
};

static int chain_hashes(struct odb *odb, struct chain_index *c, struct strbuf *err)
{
	struct strbuf buf = STRBUF_INIT;
	size_t i;
	int ret = 0;

	c->hashes = xcalloc(c->nr ? c->nr : 1, 64);
	for (i = 0; i < c->nr && ret == 0; i++) {
		const char *h;

		strbuf_reset(&buf);
		ret = odb_read(odb, &c->ids[i], NULL, &buf, BUNDLE_OBJECT_MAX, err);
		if (ret == 0 && (h = native_hash(buf.buf, buf.len)))
			memcpy(c->hashes + 64 * i, h, 64);
	}
	strbuf_release(&buf);
	return ret;
}

/* Drops v[i] from list as already there, saying where through note. */
static void drop_note(const struct bundle *b, const char *what,
		      void (*note)(const char *msg, void *data), void *data)
{
	struct strbuf msg = STRBUF_INIT;

	if (!note)
		return;
	add_where(&msg, b);
	strbuf_addf(&msg, ": %s; skipped", what);
	note(msg.buf, data);
	strbuf_release(&msg);
}

static int drop_present(struct odb *odb, struct bundle_list *list,
			const struct snap_oid *parent,
			void (*note)(const char *msg, void *data), void *data,
			struct strbuf *err)
{
	struct chain_index c = { NULL, 0, OIDSET_INIT, NULL };
	struct oidset mine = OIDSET_INIT;
	struct strbuf what = STRBUF_INIT, a = STRBUF_INIT;
	uint64_t last = 0;
	size_t i, j, k, kept = 0;
	int ret = 0, have_chain = 0;

	if (parent && list->nr)
		ret = bundle_snapshot_last(odb, parent, &last, err);
	for (i = 0; i < list->nr && ret == 0; i++) {
		struct bundle *b = &list->v[i];
		const char *h;
		int drop = 0;

		strbuf_reset(&what);
		if (!oidset_insert(&mine, &b->oid)) {
			for (j = 0; oid_cmp(&list->v[j].oid, &b->oid); j++)
				;
			strbuf_reset(&a);
			add_where(&a, &list->v[j]);
			strbuf_addf(&what, "the same as %s", a.buf);
			drop = 1;
		} else if (parent && b->sequence <= last) {
			if (!have_chain) {
				ret = bundle_chain(odb, parent, NULL, &c.ids, &c.nr, err);
				for (k = 0; ret == 0 && k < c.nr; k++)
					oidset_insert(&c.set, &c.ids[k]);
				have_chain = 1;
			}
			if (ret == 0 && oidset_contains(&c.set, &b->oid)) {
				strbuf_addf(&what, "already on the chain of '%s' (bundle '%s')",
					    oid_to_hex(parent), oid_to_hex(&b->oid));
				drop = 1;
			} else if (ret == 0 && b->native && (h = native_hash(b->payload, b->len))) {
				if (!c.hashes)
					ret = chain_hashes(odb, &c, err);
				for (k = 0; ret == 0 && k < c.nr; k++)
					if (!memcmp(c.hashes + 64 * k, h, 64))
						break;
				if (ret == 0 && k < c.nr) {
					strbuf_addf(&what, "content_hash %.64s is that of bundle '%s' on the chain of '%s'",
						    h, oid_to_hex(&c.ids[k]), oid_to_hex(parent));
					drop = 1;
				}
			}
		}
		if (ret == 0 && drop) {
			drop_note(b, what.buf, note, data);
			free(b->payload);
			b->payload = NULL;
			bundle_clock_release(&b->clock);
			continue;
		}
		list->v[kept++] = *b;
	}
	if (ret == 0)
		list->nr = kept;
	oidset_clear(&mine);
	oidset_clear(&c.set);
	free(c.ids);
	free(c.hashes);
	strbuf_release(&what);
	strbuf_release(&a);
	return ret;
}

int bundle_snapshot_last_key(struct odb *odb, const struct snap_oid *oid,
			     struct bundle_key *key, struct strbuf *err)
{
	struct strbuf buf = STRBUF_INIT;
	json_t *v = NULL;
	int ret;

	memset(key, 0, sizeof(*key));
	ret = last_bundle(odb, oid, &key->oid, err);
	if (ret < 0)
		return ret;
	ret = bundle_load(odb, &key->oid, &buf, &key->sequence, &v, err);
	if (ret == 0)
		bundle_clock_of(v, &key->clock);
	json_decref(v);
	strbuf_release(&buf);
	return ret;
}

static void key_of(const struct bundle *b, struct bundle_key *k)
{
	k->sequence = b->sequence;
	k->oid = b->oid;
	k->clock = b->clock;	/* borrowed */
}

/*
 * Moves the bundles, sorted by sequence and id, as little as needed for
 * none to come before one that happened before it: each place takes the
 * first bundle left that no other left happened before.  Quadratic in
 * the number of bundles, so an import of more than BUNDLE_CAUSAL_MAX
 * native bundles keeps the sequence order (and is checked against it).
 */
static void causal_order(struct bundle_list *list)
{
	size_t n = list->nr, i, k, done, natives = 0;
	struct bundle *out;
	size_t *indeg;
	char *taken;

	for (i = 0; i < n; i++)
		natives += list->v[i].clock.known;
	if (natives < 2 || n > BUNDLE_CAUSAL_MAX)
		return;
	indeg = xcalloc(n, sizeof(*indeg));
	taken = xcalloc(n, 1);
	out = xcalloc(n, sizeof(*out));
	for (i = 0; i < n; i++)
		for (k = 0; k < n; k++)
			if (k != i && bundle_clock_before(&list->v[k].clock, &list->v[i].clock))
				indeg[i]++;
	for (done = 0; done < n; done++) {
		for (i = 0; i < n && (taken[i] || indeg[i]); i++)
			;
		if (i == n)
			BUG("happened-before has a cycle");
		taken[i] = 1;
		out[done] = list->v[i];
		for (k = 0; k < n; k++)
			if (!taken[k] && bundle_clock_before(&list->v[i].clock, &list->v[k].clock))
				indeg[k]--;
	}
	memcpy(list->v, out, n * sizeof(*out));
	free(out);
	free(taken);
	free(indeg);
}

int bundle_list_order(struct odb *odb, struct bundle_list *list,
		      const struct snap_oid *parent,
		      void (*note)(const char *msg, void *data), void *data,
		      struct strbuf *err)
{
	struct strbuf a = STRBUF_INIT, b = STRBUF_INIT;
	uint64_t last;
	size_t i;
	int ret;

	QSORT(list->v, list->nr, cmp_bundle);
	ret = drop_present(odb, list, parent, note, data, err);
	if (ret == 0)
		causal_order(list);
	for (i = 1; i < list->nr && ret == 0; i++) {
		struct bundle_key p, q;

		key_of(&list->v[i - 1], &p);
		key_of(&list->v[i], &q);
		if (bundle_key_follows(&p, &q))
			continue;
		add_where(&a, &list->v[i]);
		add_where(&b, &list->v[i - 1]);
		ret = snap_error(err, SNAP_EINVAL, "%s: sequence %llu repeats that of %s",
				 a.buf, (unsigned long long)list->v[i].sequence, b.buf);
	}
	if (ret == 0 && parent && list->nr) {
		struct bundle_key p, q;

		ret = bundle_snapshot_last_key(odb, parent, &p, err);
		key_of(&list->v[0], &q);
		last = p.sequence;
		if (ret == 0 && !bundle_key_follows(&p, &q)) {
			add_where(&a, &list->v[0]);
			if (bundle_clock_before(&q.clock, &p.clock))
				ret = snap_error(err, SNAP_EINVAL,
						 "%s: happened before bundle '%s', the last of parent '%s' (by their vector clocks)",
						 a.buf, oid_to_hex(&p.oid), oid_to_hex(parent));
			else
				ret = snap_error(err, SNAP_EINVAL,
						 "%s: sequence %llu is not above %llu, the last of parent '%s'%s",
						 a.buf, (unsigned long long)list->v[0].sequence,
						 (unsigned long long)last, oid_to_hex(parent),
						 q.clock.known && p.clock.known ?
						 ", and the vector clocks do not put it after that one (keep one ref per source device)" : "");
		}
		bundle_clock_release(&p.clock);
	}
	strbuf_release(&a);
	strbuf_release(&b);
	return ret;
}

/* ---- the store ---- */

int bundle_store(struct odb *odb, struct bundle_list *list, struct snapshot *s,
		 struct snap_oid *out, struct strbuf *err)
{
	struct strbuf buf = STRBUF_INIT;
	int batch = list->nr >= BUNDLE_PACK_MIN, ret = 0;
	struct progress *meter;
	uint64_t bytes = 0;
	size_t i;

	if (list->nr > SNAPSHOT_BUNDLES_MAX) {
		/* Named by the first bundle over, in the order they would be stored. */
		add_where(&buf, &list->v[SNAPSHOT_BUNDLES_MAX]);
		ret = snap_error(err, SNAP_ETOOBIG, "%s: over %d bundles in one import (%zu to store)",
				 buf.buf, SNAPSHOT_BUNDLES_MAX, list->nr);
		strbuf_release(&buf);
		return ret;
	}
	meter = progress_start("bundles", list->nr);
	if (batch)
		odb_batch_begin(odb);
	for (i = 0; i < list->nr && ret == 0; i++) {
		struct bundle *b = &list->v[i];
		struct snap_oid oid;

		bytes += b->len;
		ret = odb_write_owned(odb, OBJ_BUNDLE, b->payload, b->len, &oid, err);
		b->payload = NULL;
		if (ret == 0 && oid_cmp(&oid, &b->oid))
			BUG("bundle id changed between checking and storing");
		if (ret == 0)
			snapshot_add_bundle(s, &oid);
		progress_update(meter, i + 1, bytes);
	}
	if (ret == 0)
		ret = snapshot_encode(s, &buf, err);
	if (ret == 0)
		ret = odb_write_buf(odb, OBJ_SNAPSHOT, buf.buf, buf.len, out, err);
	if (batch) {
		if (ret == 0)
			ret = odb_batch_end(odb, err);
		else
			odb_batch_abort(odb);
	}
	progress_done(meter);
	strbuf_release(&buf);
	return ret;
}

int bundle_chain(struct odb *odb, const struct snap_oid *tip,
		 const struct snap_oid *since, struct snap_oid **ids,
		 size_t *nr, struct strbuf *err)
{
	struct snapshot *snaps = NULL;
	size_t nr_snaps = 0, alloc_snaps = 0, total = 0, i, j;
	struct snap_oid oid = *tip;
	int ret = 0, found = !since;

	for (;;) {
		struct snapshot s;

		if (since && !oid_cmp(&oid, since)) {
			found = 1;
			break;
		}
		ret = snapshot_read(odb, &oid, &s, err);
		if (ret < 0)
			break;
		if (!s.nr_bundles) {
			snapshot_release(&s);
			ret = snap_error(err, SNAP_EINVAL, "snapshot '%s' is not a bundle snapshot",
					 oid_to_hex(&oid));
			break;
		}
		ALLOC_GROW(snaps, nr_snaps + 1, alloc_snaps);
		snaps[nr_snaps++] = s;
		total += s.nr_bundles;
		if (!s.nr_parents)
			break;
		oid = s.parents[0];
	}
	if (ret == 0 && !found)
		ret = snap_error(err, SNAP_EINVAL, "'%s' is not on the chain of '%s'",
				 oid_to_hex(since), oid_to_hex(tip));
	*ids = NULL;
	*nr = 0;
	if (ret == 0 && total) {
		*ids = xcalloc(total, sizeof(**ids));
		for (i = nr_snaps; i-- > 0;)
			for (j = 0; j < snaps[i].nr_bundles; j++)
				(*ids)[(*nr)++] = snaps[i].bundles[j];
	}
	for (i = 0; i < nr_snaps; i++)
		snapshot_release(&snaps[i]);
	free(snaps);
	return ret;
}
