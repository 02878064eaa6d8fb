#include "prune.h"
#include "error.h"
#include "pruned.h"
#include "refs.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void prune_policy_init(struct prune_policy *p)
{
	int i;

	memset(p, 0, sizeof(*p));
	p->keep_last = -1;
	p->keep_within = -1;
	for (i = 0; i < PRUNE_NR_BUCKETS; i++)
		p->keep[i] = -1;
}

int prune_policy_empty(const struct prune_policy *p)
{
	int i;

	if (p->keep_last >= 0 || p->keep_within >= 0 || p->nr_tags)
		return 0;
	for (i = 0; i < PRUNE_NR_BUCKETS; i++)
		if (p->keep[i] >= 0)
			return 0;
	return 1;
}

/* The bucket of a snapshot's time, seen in its own zone. */
static int64_t bucket_of(const struct snapshot *s, enum prune_bucket b)
{
	time_t t = (time_t)(s->time + (int64_t)s->tz * 60);
	struct tm tm;

	if (!gmtime_r(&t, &tm))
		return 0;
	switch (b) {
	case PRUNE_HOURLY:
		return ((int64_t)(tm.tm_year) * 400 + tm.tm_yday) * 24 + tm.tm_hour;
	case PRUNE_DAILY:
		return (int64_t)tm.tm_year * 400 + tm.tm_yday;
	case PRUNE_WEEKLY: {
		char buf[16];
		int64_t y = 0, w = 0;
		/* ISO 8601 week-based year and week number. */
		strftime(buf, sizeof(buf), "%G %V", &tm);
		if (sscanf(buf, "%lld %lld", (long long *)&y, (long long *)&w) != 2)
			return 0;
		return y * 100 + w;
	}
	case PRUNE_MONTHLY:
		return (int64_t)tm.tm_year * 12 + tm.tm_mon;
	case PRUNE_YEARLY:
		return tm.tm_year;
	default:
		return 0;
	}
}

static int has_tag(const struct snapshot *s, const struct prune_policy *p)
{
	size_t i, j;

	for (i = 0; i < s->nr_meta; i++) {
		if (strncmp(s->meta[i], "tag=", 4))
			continue;
		for (j = 0; j < p->nr_tags; j++)
			if (!strcmp(s->meta[i] + 4, p->tags[j]))
				return 1;
	}
	return 0;
}

void prune_decide(const struct prune_policy *p, struct snapshot *const *chain,
		  size_t nr, unsigned *keep)
{
	int64_t last_bucket[PRUNE_NR_BUCKETS];
	int64_t count[PRUNE_NR_BUCKETS] = { 0 };
	size_t i;
	int b;

	for (b = 0; b < PRUNE_NR_BUCKETS; b++)
		last_bucket[b] = INT64_MIN;
	for (i = 0; i < nr; i++) {
		const struct snapshot *s = chain[i];

		keep[i] = 0;
		if (prune_policy_empty(p)) {
			keep[i] = PRUNE_REASON_LAST;
			continue;
		}
		if (p->keep_last >= 0 && (int64_t)i < p->keep_last)
			keep[i] |= PRUNE_REASON_LAST;
		for (b = 0; b < PRUNE_NR_BUCKETS; b++) {
			int64_t k;

			if (p->keep[b] < 0 || count[b] >= p->keep[b])
				continue;
			k = bucket_of(s, (enum prune_bucket)b);
			if (k == last_bucket[b])
				continue;
			last_bucket[b] = k;
			count[b]++;
			keep[i] |= PRUNE_REASON_HOURLY << b;
		}
		if (p->keep_within >= 0 && chain[0]->time - s->time <= p->keep_within)
			keep[i] |= PRUNE_REASON_WITHIN;
		if (p->nr_tags && has_tag(s, p))
			keep[i] |= PRUNE_REASON_TAG;
	}
}

void prune_reasons(struct strbuf *out, unsigned mask)
{
	static const char *const words[] = {
		"last", "hourly", "daily", "weekly", "monthly", "yearly", "within", "tag",
		"ref", "tip", "not-named",
	};
	size_t i;
	int first = 1;

	for (i = 0; i < ARRAY_SIZE(words); i++) {
		if (!(mask & (1u << i)))
			continue;
		if (!first)
			strbuf_addch(out, ',');
		strbuf_addstr(out, words[i]);
		first = 0;
	}
}

int prune_chain_read(struct odb *odb, const struct pruned *pruned, const struct snap_oid *tip,
		     struct prune_chain *c, struct strbuf *err)
{
	struct snap_oid oid = *tip;

	for (;;) {
		struct snapshot *s = xcalloc(1, sizeof(*s));
		int ret = snapshot_read(odb, &oid, s, err);

		if (ret < 0) {
			free(s);
			return ret;
		}
		if (s->nr_bundles)
			c->bundles = 1;
		ALLOC_GROW(c->ids, c->nr + 1, c->alloc);
		ALLOC_GROW(c->snaps, c->nr + 1, c->alloc2);
		c->ids[c->nr] = oid;
		c->snaps[c->nr++] = s;
		if (!s->nr_parents || !pruned_first_parent(pruned, &s->parents[0], &oid))
			return 0;
	}
}

void prune_chain_release(struct prune_chain *c)
{
	size_t i;

	for (i = 0; i < c->nr; i++) {
		snapshot_release(c->snaps[i]);
		free(c->snaps[i]);
	}
	free(c->snaps);
	free(c->ids);
	memset(c, 0, sizeof(*c));
}

struct protect {
	struct odb *odb;
	const struct pruned *pruned;
	const char *self;
	struct prune_protect *set;
	size_t ref;			/* the ref walked, in set->refs */
	struct snap_oid *pending;
	size_t nr, alloc;
	struct strbuf *err;
};

/* Adds oid to the set, kept by the ref walked; 1 if it was new. */
static int protect_add(struct protect *p, const struct snap_oid *oid, int named)
{
	int added;
	struct prune_keeper *k = oidmap_put(&p->set->map, oid, &added);

	if (added) {
		k->ref = p->ref;
		k->named = named;
	}
	return added;
}

static void protect_push(struct protect *p, const struct snap_oid *oid, int named)
{
	if (!protect_add(p, oid, named))
		return;
	ALLOC_GROW(p->pending, p->nr + 1, p->alloc);
	p->pending[p->nr++] = *oid;
}

/* A snapshot's parents, through the record where it lists one. */
static void protect_parents(struct protect *p, const struct snapshot *s)
{
	size_t i, j;

	for (i = 0; i < s->nr_parents; i++) {
		const struct pruned_entry *e = pruned_find(p->pruned, &s->parents[i]);

		if (!e) {
			protect_push(p, &s->parents[i], 0);
			continue;
		}
		/* Gone through the record; what it names is walked in turn. */
		for (j = 0; j < e->nr_parents; j++) {
			struct snap_oid next;

			if (pruned_first_parent(p->pruned, &pruned_parents(p->pruned, e)[j], &next))
				protect_push(p, &next, 0);
		}
	}
}

static int protect_ref(const char *name, const struct snap_oid *oid, void *data)
{
	struct protect *p = data;

	if (!strcmp(name, p->self))
		return 0;
	if (!oid)
		return snap_error(p->err, SNAP_ECORRUPT,
				  "ref '%s' is unreadable; nothing was pruned (see snap-fsck)", name);
	ref_names_add(name, oid, &p->set->refs);
	p->ref = p->set->refs.nr - 1;
	/* A tag keeps what it names, not its history. */
	if (strncmp(name, "refs/snapshots/", 15)) {
		protect_add(p, oid, 1);
		return 0;
	}
	protect_push(p, oid, 1);
	while (p->nr) {
		struct snap_oid id = p->pending[--p->nr];
		struct snapshot s = SNAPSHOT_INIT;
		int ret = snapshot_read(p->odb, &id, &s, p->err);

		if (ret < 0)
			return ret;
		protect_parents(p, &s);
		snapshot_release(&s);
	}
	return 0;
}

void prune_protect_release(struct prune_protect *p)
{
	oidmap_clear(&p->map);
	ref_names_release(&p->refs);
}

int prune_protected(struct odb *odb, const struct pruned *pruned, const char *self,
		    struct prune_protect *set, struct strbuf *err)
{
	struct protect p = { odb, pruned, self, set, 0, NULL, 0, 0, err };
	int ret = refs_for_each(odb_store(odb), "refs/", protect_ref, &p, err);

	free(p.pending);
	return ret < 0 ? ret : 0;
}

/* The one refusal of a drop another ref keeps: which ref, and how. */
static int kept_by_other(const struct prune_drop *d, const struct prune_keeper *k,
			 const struct prune_protect *protect, struct strbuf *err)
{
	return snap_error(err, SNAP_EINVAL, "--drop '%s': %s is %s another ref, '%s': it is not dropped",
			  d->rev, oid_to_hex(&d->oid), k->named ? "named by" : "in the history of",
			  protect->refs.v[k->ref]);
}

int prune_plan(const struct prune_policy *policy, const struct prune_drop *drops,
	       size_t nr_drops, const struct prune_chain *c,
	       const struct prune_protect *protect, const char *ref, unsigned *keep,
	       struct strbuf *err)
{
	size_t i, j;

	/* Each bundle snapshot lists only its own bundles: dropping one would
	 * drop them from the sync history. */
	if (c->bundles)
		return snap_error(err, SNAP_EINVAL,
				  "ref '%s' holds sync bundles; prune keeps every snapshot of a bundle chain",
				  ref);
	memset(keep, 0, c->nr * sizeof(*keep));
	if (nr_drops) {
		for (i = 0; i < c->nr; i++)
			keep[i] = PRUNE_REASON_NOT_NAMED;
		for (j = 0; j < nr_drops; j++) {
			const struct prune_drop *d = &drops[j];
			const struct prune_keeper *k;

			for (i = 0; i < c->nr && oid_cmp(&c->ids[i], &d->oid); i++)
				;
			if (i == c->nr)
				return snap_error(err, SNAP_EINVAL,
						  "--drop '%s': %s is not on the first-parent history of '%s'",
						  d->rev, oid_to_hex(&d->oid), ref);
			if (i == 0)
				return snap_error(err, SNAP_EINVAL,
						  "'%s' names %s: the tip of a ref is not dropped", ref,
						  oid_to_hex(&c->ids[0]));
			if ((k = oidmap_get(&protect->map, &d->oid)))
				return kept_by_other(d, k, protect, err);
			keep[i] = 0;
		}
	} else {
		prune_decide(policy, c->snaps, c->nr, keep);
	}
	for (i = 0; i < c->nr; i++) {
		if (oidmap_get(&protect->map, &c->ids[i]))
			keep[i] |= PRUNE_REASON_REF;
		/* The tip stays: the ref never moves, so it still fast-forwards. */
		if (i == 0 && !keep[i])
			keep[i] = PRUNE_REASON_TIP;
	}
	return 0;
}
