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

/* The snapshots --drop names, with the REVs as given. */
static struct prune_drop *drops;
static size_t nr_drops;

static void prune_ref(const char *name, const struct prune_policy *policy)
{
	struct strbuf err = STRBUF_INIT, buf = STRBUF_INIT, reason = STRBUF_INIT;
	struct prune_protect protect = PRUNE_PROTECT_INIT;
	struct pruned batch = PRUNED_INIT;
	struct prune_chain c = { 0 };
	struct snap_oid tip;
	unsigned *keep;
	size_t i, kept = 0, added;

	if (ref_read(odb_store(odb), name, &tip, &err) < 0 ||
	    prune_chain_read(odb, &pruned, &tip, &c, &err) < 0 ||
	    prune_protected(odb, &pruned, name, &protect, &err) < 0)
		die_err(&err);
	keep = xcalloc(c.nr, sizeof(*keep));
	if (prune_plan(policy, drops, nr_drops, &c, &protect, name, keep, &err) < 0)
		die_err(&err);
	for (i = 0; i < c.nr; i++) {
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
	prune_chain_release(&c);
	free(keep);
	prune_protect_release(&protect);
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
	const char **tags = NULL, *ref = "main", *dir = NULL;
	size_t nr_tags = 0, alloc_tags = 0, alloc_drops = 0, i;
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
		case 'd':
			ALLOC_GROW(drops, nr_drops + 1, alloc_drops);
			drops[nr_drops++].rev = optarg;
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
		usage_error(usage_str, "unexpected argument '%s'%s", argv[optind],
			    nr_drops ? " (each REV takes its own --drop)" : "");
	if (nr_drops && (!prune_policy_empty(&policy) || nr_tags || all))
		usage_error(usage_str, "--drop goes with neither a policy nor --all");
	if (!nr_drops && prune_policy_empty(&policy) && nr_tags == 0)
		usage_error(usage_str, "no policy given: nothing would be dropped");
	policy.tags = tags;
	policy.nr_tags = nr_tags;

	open_store_or_die(dir, &store, &odb);
	if (store.append_only && !dry_run)
		die("store '%s' is append-only: nothing is deleted from it", store.path);
	/* A damaged record cannot say what the history is: refuse, change nothing. */
	if (pruned_load(&store, &pruned, &err) < 0)
		die_err(&err);
	for (i = 0; i < nr_drops; i++)
		if (resolve_rev(odb, drops[i].rev, &drops[i].oid, &err) < 0)
			die_err(&err);
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
	free(drops);
	pruned_release(&pruned);
	odb_close(odb);
	store_release(&store);
	return finish_stdout_done(0, dry_run ? NULL : "the prune is done");
}
