/*
 * snap-gc: removes what no ref, reflog or live write session needs, and
 * repacks (lib/gc.h, docs/snap-gc.md).
 */
#include "error.h"
#include "gc.h"
#include "odb.h"
#include "rclone.h"
#include "store.h"
#include "transport.h"
#include "usage.h"
#include "util.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_str[] =
"usage: snap-gc [--dry-run] [--prune=AGE|now|never] [--verbose] [--json] [--progress] [-q]\n"
"   or: snap-gc --remote REMOTE [--dry-run] [--verbose] [--json] [-q]\n"
"\n"
"Removes unreachable objects older than AGE (default 1d) that no live write\n"
"session may need, repacks, and removes stale temporary files.  Exits 3\n"
"when live objects have no good copy (each is named; its files are kept).\n"
"\n"
"  -n, --dry-run      list '<id> <type> <size>' of what would go, and a total\n"
"  --prune=AGE        keep unreachable objects younger than AGE: seconds, or\n"
"                     a number with s, m, h, d or w; 'now' trusts the write\n"
"                     sessions alone; 'never' keeps every unreachable object\n"
"  -v, --verbose      list what goes\n"
"  --json             print the counts as one JSON object\n"
"  --progress         a progress line on stderr while packs are rewritten\n"
"                     (default: when it is a tty)\n"
"  -q, --quiet        print no counts and no progress (what is damaged is\n"
"                     still named)\n"
"  --remote REMOTE    instead, remove from the rclone remote REMOTE (a URL or\n"
"                     a remote's name) the packs nothing its refs reach is in\n"
"  --store DIR        the store (default $SNAP_DIR, else .snap above)\n";

/* Live objects with no good copy were met; their files are kept. */
#define EXIT_DAMAGED 3

/* An rclone remote's lease is given back however we exit. */
static struct rclone_remote rc;

static int list_removed;

static void removed(const struct snap_oid *oid, enum object_type type,
		    uint64_t size, void *data)
{
	(void)data;
	if (list_removed)
		printf("%s %s %llu\n", oid_to_hex(oid), type_name(type),
		       (unsigned long long)size);
}

static void damaged(const struct snap_oid *oid, const char *path, void *data)
{
	(void)data;
	warning("object '%s' in '%s' has no good copy; the file is kept (see snap-fsck)",
		oid_to_hex(oid), path);
}

static void remote_removed(const char *file, uint64_t size, void *data)
{
	(void)data;
	if (list_removed)
		printf("%s %llu\n", file, (unsigned long long)size);
}

/* --remote: the packs of an rclone remote (docs/snap-gc.md, "REMOTES"). */
static int gc_remote(const char *dir, const char *remote, int dry_run, int json, int quiet)
{
	struct strbuf err = STRBUF_INIT, url = STRBUF_INIT, ssh = STRBUF_INIT;
	struct rclone_gc_stats st;
	struct snap_store store;
	struct odb *odb;
	int ret;

	open_store_or_die(dir, &store, &odb);
	if (transport_use_remote(&store, &remote, &url, &ssh, &err) < 0)
		die_err(&err);
	if (remote[0] == '-')
		usage_error(usage_str, "--remote takes REMOTE, not the option '%s'", remote);
	if (!rclone_is_remote(remote))
		die("--remote takes an rclone remote; '%s' is a store snap-serve serves: "
		    "run snap-gc there", remote);
	rclone_disconnect_at_exit(&rc);
	ret = rclone_connect(&rc, &store, remote, dry_run ? RCLONE_FETCH : RCLONE_CHANGE, &err);
	if (ret == SNAP_ELOCKED)
		die_refused("%s", err.buf);
	if (ret == 0)
		ret = rclone_gc(&rc, odb, dry_run, remote_removed, NULL, &st, &err);
	if (ret == SNAP_ELOCKED)
		die_refused("%s", err.buf);
	if (ret < 0)
		die_err(&err);
	if (rclone_disconnect(&rc, &err) < 0)
		warning("gc is complete, but the remote's lease stays until it expires "
			"(a push from this host takes it over at once): %s", err.buf);
	if (quiet)
		;	/* the counts are not wanted */
	else if (json)
		printf("{\"dry_run\":%s,\"packs_kept\":%zu,\"packs_removed\":%zu,"
		       "\"files_removed\":%zu,\"bytes_removed\":%llu}\n",
		       dry_run ? "true" : "false", st.packs_kept, st.packs_removed,
		       st.files_removed, (unsigned long long)st.bytes_removed);
	else
		printf("%s %zu packs (%zu files, %llu bytes); kept %zu packs\n",
		       dry_run ? "would remove" : "removed", st.packs_removed, st.files_removed,
		       (unsigned long long)st.bytes_removed, st.packs_kept);
	odb_close(odb);
	store_release(&store);
	strbuf_release(&url);
	strbuf_release(&ssh);
	return finish_stdout_done(0, dry_run ? NULL : "gc --remote is done");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "prune", required_argument, NULL, 'p' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "json", no_argument, NULL, 'J' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "progress", no_argument, NULL, 'P' },
		{ "store", required_argument, NULL, 'S' },
		{ "remote", required_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct gc_opts go = { .prune_age = GC_DEFAULT_PRUNE_AGE };
	struct gc_stats st;
	struct strbuf err = STRBUF_INIT;
	struct snap_store store;
	struct odb *odb;
	const char *dir = NULL, *remote = NULL;
	int json = 0, quiet = 0, prune_given = 0, c;

	usage_setup(argv[0]);
	while ((c = getopt_long(argc, argv, "nvqh", opts, NULL)) != -1) {
		switch (c) {
		case 'n': go.dry_run = 1; break;
		case 'p':
			prune_given = 1;
			if (!strcmp(optarg, "now"))
				go.prune_age = 0;
			else if (!strcmp(optarg, "never"))
				go.prune_age = -1;
			else if (parse_duration(optarg, &go.prune_age) < 0)
				usage_error(usage_str, "bad --prune age '%s'", optarg);
			break;
		case 'v': go.verbose = 1; break;
		case 'J': json = 1; break;
		case 'q':
			quiet = 1;
			setenv("SNAP_PROGRESS", "0", 1);
			break;
		case 'P':
			if (!quiet)
				setenv("SNAP_PROGRESS", "1", 1);
			break;
		case 'S': dir = optarg; break;
		case 'R': remote = optarg; break;
		case 'h': usage_help(usage_str);
		default: usage_error(usage_str, "bad option");
		}
	}
	if (optind != argc)
		usage_error(usage_str, "no arguments expected");
	list_removed = (go.dry_run || go.verbose) && !json;
	if (remote && prune_given)
		usage_error(usage_str, "--prune does not go with --remote: a remote's packs have no age");
	if (remote)
		return gc_remote(dir, remote, go.dry_run, json, quiet);
	go.removed = removed;
	go.damaged = damaged;

	open_store_or_die(dir, &store, &odb);
	if (store.append_only && !go.dry_run)
		die("store '%s' is append-only: nothing is deleted from it", store.path);
	if (gc_run(odb, &go, &st, &err) < 0)
		die_err(&err);
	if (quiet) {
		;	/* the counts are not wanted */
	} else if (json) {
		printf("{\"dry_run\":%s,\"objects_removed\":%llu,\"bytes_removed\":%llu,"
		       "\"disk_bytes_freed\":%llu,\"unreachable_kept\":%llu,"
		       "\"packs_written\":%llu,\"packs_removed\":%llu,\"loose_packed\":%llu,"
		       "\"temp_files_removed\":%llu,\"sessions_cleaned\":%llu}\n",
		       go.dry_run ? "true" : "false",
		       (unsigned long long)st.objects_removed, (unsigned long long)st.bytes_removed,
		       (unsigned long long)st.files_freed, (unsigned long long)st.objects_kept,
		       (unsigned long long)st.packs_written, (unsigned long long)st.packs_removed,
		       (unsigned long long)st.loose_packed, (unsigned long long)st.temp_removed,
		       (unsigned long long)st.sessions_cleaned);
	} else if (go.dry_run) {
		printf("total %llu objects, %llu bytes\n",
		       (unsigned long long)st.objects_removed, (unsigned long long)st.bytes_removed);
	} else {
		printf("removed %llu objects, %llu bytes (%llu on disk)\n",
		       (unsigned long long)st.objects_removed, (unsigned long long)st.bytes_removed,
		       (unsigned long long)st.files_freed);
		printf("kept %llu recent unreachable objects\n", (unsigned long long)st.objects_kept);
		printf("packs: %llu written, %llu removed; %llu loose objects packed\n",
		       (unsigned long long)st.packs_written, (unsigned long long)st.packs_removed,
		       (unsigned long long)st.loose_packed);
		printf("removed %llu temporary files and %llu stale sessions\n",
		       (unsigned long long)st.temp_removed, (unsigned long long)st.sessions_cleaned);
	}
	odb_close(odb);
	store_release(&store);
	/* Damage kept: the rest is done, but the store needs repair. */
	return finish_stdout_done(st.objects_damaged ? EXIT_DAMAGED : 0,
				  go.dry_run ? NULL : "gc is done");
}
