/*
 * snap-prune: keeps the snapshots a retention policy names and records the
 * others as pruned (lib/pruned.h), so that gc collects them; no kept
 * snapshot is written again, so every kept id stays (lib/prune.h).
 */
#include "error.h"
#include "json.h"
#include "gc.h"
#include "odb.h"
#include "oidset.h"
#include "prune.h"
#include "pruned.h"
#include "refs.h"
#include "revision.h"
#include "snapshot.h"
#include "store.h"
#include "usage.h"
#include "util.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_str[] =
"usage: snap-prune [POLICY...] [--dry-run] [--json] [--gc] [-r REF | --all]\n"
"   or: snap-prune --drop REV... [--dry-run] [--json] [--gc] [-r REF]\n"
"\n"
"Keeps the snapshots of REF's history (default main) that a POLICY names,\n"
"the tip, and those other refs need; records the others in the store's\n"
"pruned record, so that snap-gc frees what only they held.  Kept snapshots\n"
"keep their ids; REF does not move.\n"
"\n"
"  --keep-last N          the N newest\n"
"  --keep-hourly N        the newest of each of the N newest hours with one\n"
"  --keep-daily N         ... days\n"
"  --keep-weekly N        ... ISO weeks\n"
"  --keep-monthly N       ... months\n"
"  --keep-yearly N        ... years\n"
"  --keep-within DURATION all not older than the newest by more than\n"
"                         DURATION (seconds, or N with s, m, h, d, w)\n"
"  --keep-tag TAG         those with a metadata line tag=TAG (repeatable)\n"
"  --drop REV             instead of a policy: drop exactly the snapshot\n"
"                         REV names, keeping every other (repeatable; not\n"
"                         the tip, nor one another ref names)\n"
"  -n, --dry-run          only list what would be kept and dropped\n"
"  --json                 one JSON object a line per snapshot: ref, action\n"
"                         (keep or drop), id, time, reasons\n"
"  --gc                   run snap-gc --prune=now afterwards\n"
"  -r, --ref REF          the ref (NAME is refs/snapshots/NAME)\n"
"  --all                  every ref under refs/snapshots/, each on its own\n"
"  --store DIR            the store (default $SNAP_DIR, else .snap above)\n";

static struct odb *odb;
static int dry_run;
static struct pruned pruned;

struct chain {
	struct snap_oid *ids;
	struct snapshot **snaps;
	size_t nr, alloc, alloc2;
	int bundles;	/* some snapshot lists sync bundles */
};

static void read_snapshot(const struct snap_oid *oid, struct snapshot *s)
{
	struct strbuf err = STRBUF_INIT;

	if (snapshot_read(odb, oid, s, &err) < 0)
		die_err(&err);
}

/* The ref's history, newest first, passing over what was pruned before. */
static void read_chain(const struct snap_oid *tip, struct chain *c)
{
	struct snap_oid oid = *tip;

	for (;;) {
		struct snapshot *s = xcalloc(1, sizeof(*s));

		read_snapshot(&oid, s);
		if (s->nr_bundles)
			c->bundles = 1;
		ALLOC_GROW(c->ids, c->nr + 1, c->alloc);
		ALLOC_GROW(c->snaps, c->nr + 1, c->alloc2);
		c->ids[c->nr] = oid;
		c->snaps[c->nr++] = s;
		if (!s->nr_parents || !pruned_first_parent(&pruned, &s->parents[0], &oid))
			break;
	}
}

/*
 * What pruning one ref must leave alone: every snapshot another ref names,
 * and the whole history of every other ref under refs/snapshots/ (all
 * parents, through the pruned record), so that pruning one branch never
 * takes a snapshot out of another's history.  A tag keeps only what it
 * names.
 */
struct protect {
	const char *self;
	struct oidset set;
	struct snap_oid *pending;
	size_t nr, alloc;
};

static int protect_ref(const char *name, const struct snap_oid *oid, void *data)
{
	struct protect *p = data;

	if (!strcmp(name, p->self))
		return 0;
	if (!oid)
		die("ref '%s' is unreadable; nothing was pruned (see snap-fsck)", name);
	if (!oidset_insert(&p->set, oid) || strncmp(name, "refs/snapshots/", 15))
		return 0;
	ALLOC_GROW(p->pending, p->nr + 1, p->alloc);
	p->pending[p->nr++] = *oid;
	while (p->nr) {
		struct snap_oid id = p->pending[--p->nr];
		struct snapshot s = SNAPSHOT_INIT;
		size_t i;

		read_snapshot(&id, &s);
		for (i = 0; i < s.nr_parents; i++) {
			const struct pruned_entry *e = pruned_find(&pruned, &s.parents[i]);
			size_t j;

			if (!e) {
				if (oidset_insert(&p->set, &s.parents[i])) {
					ALLOC_GROW(p->pending, p->nr + 1, p->alloc);
					p->pending[p->nr++] = s.parents[i];
				}
				continue;
			}
			/* Gone through the record; what it names is walked in turn. */
			for (j = 0; j < e->nr_parents; j++) {
				struct snap_oid next;

				if (pruned_first_parent(&pruned, &pruned_parents(&pruned, e)[j], &next) &&
				    oidset_insert(&p->set, &next)) {
					ALLOC_GROW(p->pending, p->nr + 1, p->alloc);
					p->pending[p->nr++] = next;
				}
			}
		}
		snapshot_release(&s);
	}
	return 0;
}

static int json;

/* One snapshot's fate as a JSON object on one line. */
static void print_json(const char *ref, const char *action, const struct snap_oid *id,
		       int64_t time, const char *reasons)
{
	struct strbuf sb = STRBUF_INIT;
	const char *p = reasons;

	strbuf_addf(&sb, "{\"ref\":");
	json_add_bytes(&sb, ref, strlen(ref));
	strbuf_addf(&sb, ",\"action\":\"%s\",\"id\":\"%s\",\"time\":%" PRId64 ",\"reasons\":[",
		    action, oid_to_hex(id), time);
	while (*p) {
		size_t n = strcspn(p, ",");

		strbuf_addch(&sb, '"');
		strbuf_add(&sb, p, n);
		strbuf_addch(&sb, '"');
		p += n;
		if (*p)
			strbuf_addch(&sb, *p++);
	}
	strbuf_addstr(&sb, "]}\n");
	xfwrite(sb.buf, sb.len);
	strbuf_release(&sb);
}

/* The snapshots --drop names. */
static struct oidset drops = OIDSET_INIT;

static void prune_ref(const char *name, const struct prune_policy *policy)
{
	struct strbuf err = STRBUF_INIT, buf = STRBUF_INIT, reason = STRBUF_INIT;
	struct protect prot = { name, OIDSET_INIT, NULL, 0, 0 };
	struct pruned batch = PRUNED_INIT;
	struct chain c = { 0 };
	struct snap_oid tip;
	unsigned *keep;
	size_t i, kept = 0, added;

	if (ref_read(odb_store(odb), name, &tip, &err) < 0)
		die_err(&err);
	read_chain(&tip, &c);
	/* Each bundle snapshot lists only its own bundles: dropping one would
	 * drop them from the sync history. */
	if (c.bundles)
		die("ref '%s' holds sync bundles; prune keeps every snapshot of a bundle chain",
		    name);
	if (refs_for_each(odb_store(odb), "refs/", protect_ref, &prot, &err) < 0)
		die_err(&err);
	keep = xcalloc(c.nr, sizeof(*keep));
	if (oidset_size(&drops)) {
		/* --drop: exactly the snapshots named go, each found on this chain. */
		size_t found = 0;

		for (i = 0; i < c.nr; i++) {
			if (!oidset_contains(&drops, &c.ids[i]))
				keep[i] = PRUNE_REASON_NOT_NAMED;
			else if (i && oidset_contains(&prot.set, &c.ids[i]))
				die("another ref names %s: it is not dropped", oid_to_hex(&c.ids[i]));
			else
				found++;
		}
		if (found != oidset_size(&drops))
			die("a snapshot given to --drop is not on the history of '%s'", name);
		if (keep[0] != PRUNE_REASON_NOT_NAMED)
			die("'%s' names %s: the tip of a ref is not dropped", name, oid_to_hex(&c.ids[0]));
	} else {
		prune_decide(policy, c.snaps, c.nr, keep);
	}
	for (i = 0; i < c.nr; i++) {
		if (oidset_contains(&prot.set, &c.ids[i]))
			keep[i] |= PRUNE_REASON_REF;
		/* The tip stays: the ref never moves, so it still fast-forwards. */
		if (i == 0 && !keep[i])
			keep[i] = PRUNE_REASON_TIP;
		strbuf_reset(&buf);
		format_time(&buf, c.snaps[i]->time, c.snaps[i]->tz);
		if (keep[i]) {
			strbuf_reset(&reason);
			prune_reasons(&reason, keep[i]);
			if (json)
				print_json(name, "keep", &c.ids[i], c.snaps[i]->time, reason.buf);
			else
				printf("keep %s %s %s\n", oid_to_hex(&c.ids[i]), buf.buf, reason.buf);
			kept++;
		} else {
			if (json)
				print_json(name, "drop", &c.ids[i], c.snaps[i]->time, "");
			else
				printf("drop %s %s\n", oid_to_hex(&c.ids[i]), buf.buf);
			pruned_append(&batch, &c.ids[i], c.snaps[i]->parents,
				      c.snaps[i]->nr_parents ? 1 : 0);
		}
	}
	if (dry_run || kept == c.nr)
		goto out;
	/* The one change: the record, replaced whole.  No snapshot is written. */
	if (pruned_add(odb_store(odb), &batch, &added, &err) < 0)
		die_err(&err);
	if (!json)
		printf("%s: %s (kept %zu of %zu)\n", name, oid_to_hex(&tip), kept, c.nr);
	/* The next ref sees what this one pruned. */
	pruned_release(&pruned);
	if (pruned_load(odb_store(odb), &pruned, &err) < 0)
		die_err(&err);
out:
	for (i = 0; i < c.nr; i++) {
		snapshot_release(c.snaps[i]);
		free(c.snaps[i]);
	}
	free(c.snaps);
	free(c.ids);
	free(keep);
	free(prot.pending);
	oidset_clear(&prot.set);
	pruned_release(&batch);
	strbuf_release(&buf);
	strbuf_release(&reason);
}

static int64_t count_arg(const char *opt, const char *arg)
{
	uint64_t v;

	if (parse_u64(arg, &v) < 0 || v > INT32_MAX)
		usage_error(usage_str, "%s takes a count, not '%s'", opt, arg);
	return (int64_t)v;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "keep-last", required_argument, NULL, 'l' },
		{ "keep-hourly", required_argument, NULL, 'H' },
		{ "keep-daily", required_argument, NULL, 'D' },
		{ "keep-weekly", required_argument, NULL, 'W' },
		{ "keep-monthly", required_argument, NULL, 'M' },
		{ "keep-yearly", required_argument, NULL, 'Y' },
		{ "keep-within", required_argument, NULL, 'w' },
		{ "keep-tag", required_argument, NULL, 't' },
		{ "drop", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'J' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "gc", no_argument, NULL, 'g' },
		{ "ref", required_argument, NULL, 'r' },
		{ "all", no_argument, NULL, 'a' },
		{ "store", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct prune_policy policy;
	struct strbuf err = STRBUF_INIT;
	struct snap_store store;
	struct ref_names names = REF_NAMES_INIT;
	const char **tags = NULL, *ref = "main", *dir = NULL, **drop_revs = NULL;
	size_t nr_drop = 0;
	size_t nr_tags = 0, alloc_tags = 0, i;
	int run_gc = 0, all = 0, c;

	usage_setup(argv[0]);
	prune_policy_init(&policy);
	while ((c = getopt_long(argc, argv, "nr:h", opts, NULL)) != -1) {
		switch (c) {
		case 'l': policy.keep_last = count_arg("--keep-last", optarg); break;
		case 'H': policy.keep[PRUNE_HOURLY] = count_arg("--keep-hourly", optarg); break;
		case 'D': policy.keep[PRUNE_DAILY] = count_arg("--keep-daily", optarg); break;
		case 'W': policy.keep[PRUNE_WEEKLY] = count_arg("--keep-weekly", optarg); break;
		case 'M': policy.keep[PRUNE_MONTHLY] = count_arg("--keep-monthly", optarg); break;
		case 'Y': policy.keep[PRUNE_YEARLY] = count_arg("--keep-yearly", optarg); break;
		case 'w':
			if (parse_duration(optarg, &policy.keep_within) < 0)
				usage_error(usage_str, "bad --keep-within '%s'", optarg);
			break;
		case 't':
			ALLOC_GROW(tags, nr_tags + 1, alloc_tags);
			tags[nr_tags++] = optarg;
			break;
		case 'd': drop_revs = xrealloc(drop_revs, (nr_drop + 1) * sizeof(*drop_revs));
			drop_revs[nr_drop++] = optarg;
			break;
		case 'n': dry_run = 1; break;
		case 'J': json = 1; break;
		case 'g': run_gc = 1; break;
		case 'r': ref = optarg; break;
		case 'a': all = 1; break;
		case 'S': dir = optarg; break;
		case 'h': usage_help(usage_str);
		default: usage_error(usage_str, "bad option");
		}
	}
	if (optind != argc)
		usage_error(usage_str, "no arguments expected");
	if (nr_drop && (!prune_policy_empty(&policy) || nr_tags || all))
		usage_error(usage_str, "--drop goes with neither a policy nor --all");
	if (!nr_drop && prune_policy_empty(&policy) && nr_tags == 0)
		usage_error(usage_str, "no policy given: nothing would be dropped");
	policy.tags = tags;
	policy.nr_tags = nr_tags;

	open_store_or_die(dir, &store, &odb);
	if (store.append_only && !dry_run)
		die("store '%s' is append-only: nothing is deleted from it", store.path);
	/* A damaged record cannot say what the history is: refuse, change nothing. */
	if (pruned_load(&store, &pruned, &err) < 0)
		die_err(&err);
	for (i = 0; i < nr_drop; i++) {
		struct snap_oid oid;

		if (resolve_rev(odb, drop_revs[i], &oid, &err) < 0)
			die_err(&err);
		oidset_insert(&drops, &oid);
	}
	if (all) {
		if (refs_for_each(&store, "refs/snapshots/", ref_names_add, &names, &err) < 0)
			die_err(&err);
	} else {
		char *full = ref_full_name(ref);

		ref_names_add(full, NULL, &names);
		free(full);
	}
	for (i = 0; i < names.nr; i++)
		prune_ref(names.v[i], &policy);
	if (run_gc && !dry_run) {
		struct gc_opts go = { .prune_age = 0 };
		struct gc_stats st;

		if (gc_run(odb, &go, &st, &err) < 0)
			die_err(&err);
		printf(json ? "{\"gc\":{\"objects_removed\":%llu,\"bytes_removed\":%llu}}\n"
			    : "gc: removed %llu objects, %llu bytes\n",
		       (unsigned long long)st.objects_removed,
		       (unsigned long long)st.bytes_removed);
	}
	ref_names_release(&names);
	free(tags);
	free(drop_revs);
	oidset_clear(&drops);
	pruned_release(&pruned);
	odb_close(odb);
	store_release(&store);
	return finish_stdout(0);
}
