/*
 * snap-stats: what snapshots hold and what each added (lib/stats.h).
 */
#include "error.h"
#include "odb.h"
#include "pruned.h"
#include "revision.h"
#include "snapshot.h"
#include "stats.h"
#include "store.h"
#include "usage.h"
#include "util.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>

static const char usage_str[] =
"usage: snap-stats [--json] [REV...]\n"
"\n"
"For each REV (a snapshot or a tree; default main): its files and their\n"
"bytes, the bytes of its distinct content, and the bytes of content its\n"
"first parent does not hold (what taking it added), and the bytes its\n"
"distinct content takes on disk, compressed.\n"
"\n"
"  --json       one JSON object a line: id, type, parent, files, size,\n"
"               dirs, symlinks, others, dedup_size, new_size, stored_size\n"
"  --store DIR  the store (default $SNAP_DIR, else .snap above)\n";

static void print(const struct snap_oid *oid, int is_snapshot,
		  const struct snap_oid *parent, const struct snap_stats *st, int json)
{
	struct strbuf sb = STRBUF_INIT;

	if (!json) {
		printf("%s %s\n", is_snapshot ? "snapshot" : "tree", oid_to_hex(oid));
		printf("files %" PRIu64 "\nsize %" PRIu64 "\ndedup_size %" PRIu64
		       "\nnew_size %" PRIu64 "\nstored_size %" PRIu64 "\n", st->files,
		       st->size, st->dedup_size, st->new_size, st->stored_size);
		return;
	}
	strbuf_addf(&sb, "{\"id\":\"%s\",\"type\":\"%s\",\"parent\":", oid_to_hex(oid),
		    is_snapshot ? "snapshot" : "tree");
	if (parent)
		strbuf_addf(&sb, "\"%s\"", oid_to_hex(parent));
	else
		strbuf_addstr(&sb, "null");
	strbuf_addf(&sb, ",\"files\":%" PRIu64 ",\"size\":%" PRIu64 ",\"dirs\":%" PRIu64
		    ",\"symlinks\":%" PRIu64 ",\"others\":%" PRIu64 ",\"dedup_size\":%" PRIu64
		    ",\"new_size\":%" PRIu64 ",\"stored_size\":%" PRIu64 "}", st->files,
		    st->size, st->dirs, st->symlinks, st->others, st->dedup_size, st->new_size,
		    st->stored_size);
	printf("%s\n", sb.buf);
	strbuf_release(&sb);
}

/* Counts one REV; the parent's tree is its first parent's, when readable. */
static int one(struct odb *odb, const char *name, int json, int first, struct strbuf *err)
{
	struct snapshot s = SNAPSHOT_INIT, ps = SNAPSHOT_INIT;
	struct pruned pruned = PRUNED_INIT;
	struct snap_oid oid, tree, pid, *parent = NULL;
	const struct snap_oid *parent_tree = NULL;
	struct snap_stats st;
	enum object_type type;
	uint64_t size;
	int ret;

	ret = resolve_rev(odb, name, &oid, err);
	if (ret == 0)
		ret = odb_read_header(odb, &oid, &type, &size, err);
	if (ret == 0 && type == OBJ_SNAPSHOT) {
		ret = snapshot_read(odb, &oid, &s, err);
		if (ret == 0 && s.nr_parents)
			ret = pruned_load(odb_store(odb), &pruned, err);
		/* A pruned parent is passed over, to the one the history shows. */
		if (ret == 0 && s.nr_parents && pruned_first_parent(&pruned, &s.parents[0], &pid)) {
			parent = &pid;
			/* A parent that cannot be read counts as none. */
			if (snapshot_read(odb, parent, &ps, NULL) == 0)
				parent_tree = &ps.tree;
		}
		tree = s.tree;
	} else if (ret == 0) {
		ret = peel_to_tree(odb, &oid, &tree, err);
	}
	if (ret == 0)
		ret = stats_tree(odb, &tree, parent_tree, type == OBJ_SNAPSHOT, &st, err);
	if (ret == 0) {
		if (!json && !first)
			putchar('\n');
		print(&oid, type == OBJ_SNAPSHOT, parent, &st, json);
	}
	snapshot_release(&s);
	snapshot_release(&ps);
	pruned_release(&pruned);
	return ret;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'J' },
		{ "store", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const dflt[] = { "main" };
	struct strbuf err = STRBUF_INIT;
	struct snap_store store;
	struct odb *odb;
	const char *dir = NULL;
	const char *const *revs = dflt;
	int json = 0, c, i, nr = 1;

	usage_setup(argv[0]);
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'J': json = 1; break;
		case 'S': dir = optarg; break;
		case 'h': usage_help(usage_str);
		default: usage_error(usage_str, "bad option");
		}
	}
	if (optind < argc) {
		revs = (const char *const *)argv + optind;
		nr = argc - optind;
	}
	open_store_or_die(dir, &store, &odb);
	for (i = 0; i < nr; i++)
		if (one(odb, revs[i], json, i == 0, &err) < 0)
			die_err(&err);
	odb_close(odb);
	store_release(&store);
	return finish_stdout(0);
}
