/*
 * snap-prune: keeps the snapshots a retention policy names, and rewrites
 * the chain so that the others can be collected (lib/prune.h).
 */
#include "error.h"
#include "gc.h"
#include "odb.h"
#include "prune.h"
#include "refs.h"
#include "revision.h"
#include "snapshot.h"
#include "store.h"
#include "usage.h"
#include "util.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_str[] =
"usage: snap-prune [POLICY...] [--dry-run] [--gc] [-r REF | --all]\n"
"\n"
"Keeps the snapshots of REF's chain (default main) that a POLICY names,\n"
"rewrites the chain of those kept (same trees, times, hosts, metadata and\n"
"messages; new parent links), moves REF by compare-and-swap and resets its\n"
"reflog, so that snap-gc can free what only the dropped snapshots held.\n"
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
"  -n, --dry-run          only list what would be kept and dropped\n"
"  --gc                   run snap-gc --prune=now afterwards\n"
"  -r, --ref REF          the ref (NAME is refs/snapshots/NAME)\n"
"  --all                  every ref under refs/snapshots/, each on its own\n"
"  --store DIR            the store (default $SNAP_DIR, else .snap above)\n";

static struct odb *odb;
static int dry_run;

struct chain {
	struct snap_oid *ids;
	struct snapshot **snaps;
	size_t nr, alloc, alloc2;
	int bundles;	/* some snapshot lists sync bundles */
};

static void read_chain(const struct snap_oid *tip, struct chain *c)
{
	struct strbuf err = STRBUF_INIT, buf = STRBUF_INIT;
	struct snap_oid oid = *tip;

	for (;;) {
		struct snapshot *s = xcalloc(1, sizeof(*s));
		enum object_type type;

		if (odb_read(odb, &oid, &type, &buf, SNAPSHOT_MAX_SIZE, &err) < 0)
			die_err(&err);
		if (type != OBJ_SNAPSHOT)
			die("object '%s' is a %s, not a snapshot", oid_to_hex(&oid), type_name(type));
		if (snapshot_parse(s, buf.buf, buf.len, &err) < 0)
			die("%s ('%s')", err.buf, oid_to_hex(&oid));
		if (s->nr_bundles)
			c->bundles = 1;
		ALLOC_GROW(c->ids, c->nr + 1, c->alloc);
		ALLOC_GROW(c->snaps, c->nr + 1, c->alloc2);
		c->ids[c->nr] = oid;
		c->snaps[c->nr++] = s;
		if (!s->nr_parents)
			break;
		oid = s->parents[0];
	}
	strbuf_release(&buf);
}

static void prune_ref(const char *name, const struct prune_policy *policy)
{
	struct strbuf err = STRBUF_INIT, buf = STRBUF_INIT, reason = STRBUF_INIT;
	struct chain c = { 0 };
	struct snap_oid tip, parent, id;
	unsigned *keep;
	size_t i, kept = 0;
	int have_parent = 0;

	if (ref_read(odb_store(odb), name, &tip, &err) < 0)
		die_err(&err);
	read_chain(&tip, &c);
	/* Each bundle snapshot lists only its own bundles: dropping one would
	 * drop them from the sync history. */
	if (c.bundles)
		die("ref '%s' holds sync bundles; prune keeps every snapshot of a bundle chain",
		    name);
	keep = xcalloc(c.nr, sizeof(*keep));
	prune_decide(policy, c.snaps, c.nr, keep);
	for (i = 0; i < c.nr; i++) {
		strbuf_reset(&buf);
		format_time(&buf, c.snaps[i]->time, c.snaps[i]->tz);
		if (keep[i]) {
			strbuf_reset(&reason);
			prune_reasons(&reason, keep[i]);
			printf("keep %s %s %s\n", oid_to_hex(&c.ids[i]), buf.buf, reason.buf);
			kept++;
		} else {
			printf("drop %s %s\n", oid_to_hex(&c.ids[i]), buf.buf);
		}
	}
	if (dry_run || kept == c.nr)
		goto out;
	if (!kept)
		die("the policy keeps no snapshot of '%s'; delete the ref instead", name);

	/* Oldest first: each kept snapshot gets the previous kept one as parent. */
	odb_batch_begin(odb);
	for (i = c.nr; i-- > 0;) {
		struct snapshot *s = c.snaps[i];

		if (!keep[i])
			continue;
		if (s->nr_parents) {
			if (have_parent) {
				s->parents[0] = parent;
			} else {
				memmove(s->parents, s->parents + 1,
					(s->nr_parents - 1) * sizeof(*s->parents));
				s->nr_parents--;
			}
		} else if (have_parent) {
			snapshot_add_parent(s, &parent);
		}
		strbuf_reset(&buf);
		if (snapshot_encode(s, &buf, &err) < 0 ||
		    odb_write_buf(odb, OBJ_SNAPSHOT, buf.buf, buf.len, &id, &err) < 0)
			die_err(&err);
		parent = id;
		have_parent = 1;
	}
	if (odb_batch_end(odb, &err) < 0)
		die_err(&err);
	strbuf_reset(&reason);
	strbuf_addf(&reason, "prune: kept %zu of %zu", kept, c.nr);
	if (ref_update(odb, name, &parent, &tip, reason.buf, &err) < 0 ||
	    reflog_reset(odb_store(odb), name, &parent, reason.buf, &err) < 0)
		die_err(&err);
	printf("%s: %s -> %s (kept %zu of %zu)\n", name, oid_to_hex(&tip),
	       oid_to_hex(&parent), kept, c.nr);
out:
	for (i = 0; i < c.nr; i++) {
		snapshot_release(c.snaps[i]);
		free(c.snaps[i]);
	}
	free(c.snaps);
	free(c.ids);
	free(keep);
	strbuf_release(&buf);
	strbuf_release(&reason);
}

struct names {
	char **v;
	size_t nr, alloc;
};

static int add_name(const char *name, const struct snap_oid *oid, void *data)
{
	struct names *n = data;

	(void)oid;
	ALLOC_GROW(n->v, n->nr + 1, n->alloc);
	n->v[n->nr++] = xstrdup(name);
	return 0;
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
		{ "dry-run", no_argument, NULL, 'n' },
		{ "gc", no_argument, NULL, 'g' },
		{ "ref", required_argument, NULL, 'r' },
		{ "all", no_argument, NULL, 'a' },
		{ "store", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct prune_policy policy;
	struct strbuf err = STRBUF_INIT, full = STRBUF_INIT;
	struct snap_store store;
	struct names names = { 0 };
	const char **tags = NULL, *ref = "main", *dir = NULL;
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
		case 'n': dry_run = 1; break;
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
	if (prune_policy_empty(&policy) && nr_tags == 0)
		usage_error(usage_str, "no policy given: nothing would be dropped");
	policy.tags = tags;
	policy.nr_tags = nr_tags;

	open_store_or_die(dir, &store, &odb);
	if (store.append_only && !dry_run)
		die("store '%s' is append-only: nothing is deleted from it", store.path);
	if (all) {
		if (refs_for_each(&store, "refs/snapshots/", add_name, &names, &err) < 0)
			die_err(&err);
	} else {
		if (strncmp(ref, "refs/", 5))
			strbuf_addstr(&full, "refs/snapshots/");
		strbuf_addstr(&full, ref);
		add_name(full.buf, NULL, &names);
	}
	for (i = 0; i < names.nr; i++) {
		prune_ref(names.v[i], &policy);
		free(names.v[i]);
	}
	if (run_gc && !dry_run) {
		struct gc_opts go = { .prune_age = 0 };
		struct gc_stats st;

		if (gc_run(odb, &go, &st, &err) < 0)
			die_err(&err);
		printf("gc: removed %llu objects, %llu bytes\n",
		       (unsigned long long)st.objects_removed,
		       (unsigned long long)st.bytes_removed);
	}
	free(names.v);
	free(tags);
	odb_close(odb);
	store_release(&store);
	return finish_stdout(0);
}
