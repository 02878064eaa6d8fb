/*
 * snap-rev-list: a snapshot and its first-parent ancestors, newest first,
 * one record each: the plumbing under snap-log.
 */
#include "error.h"
#include "odb.h"
#include "pretty.h"
#include "pruned.h"
#include "revision.h"
#include "snapshot.h"
#include "store.h"
#include "usage.h"
#include "util.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static const char usage_str[] =
"usage: snap-rev-list [-n N] [--pretty | --format=FORMAT | --json] [REV]\n"
"\n"
"Prints REV (default main) and its first-parent ancestors, newest first:\n"
"ids, one a line, unless told otherwise.  Pruned snapshots are passed\n"
"over (--pretty says \"Pruned: <id>\" where the history was cut).\n"
"\n"
"  -n, --max-count N  at most N snapshots\n"
"  --pretty           the layout of snap-log\n"
"  --format=FORMAT    FORMAT per snapshot, with %H id, %h short id (12),\n"
"                     %T tree, %P parents, %t time (seconds), %d date,\n"
"                     %z zone, %a host, %I problems (0: complete),\n"
"                     %s subject, %b message,\n"
"                     %n newline, %% a %\n"
"  --json             one JSON object a line\n"
"  --store DIR        the store (default $SNAP_DIR, else .snap above)\n";

enum shape { IDS, PRETTY, FORMAT, JSON };

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "max-count", required_argument, NULL, 'n' },
		{ "pretty", no_argument, NULL, 'p' },
		{ "format", required_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ "store", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct strbuf err = STRBUF_INIT, out = STRBUF_INIT;
	struct snap_store store;
	struct pruned pruned = PRUNED_INIT;
	struct snap_oid id;
	struct odb *odb;
	const char *dir = NULL, *format = NULL, *rev = "main";
	enum shape shape = IDS;
	uint64_t max = UINT64_MAX, n;
	int c, has_id, loaded = 0;

	usage_setup(argv[0]);
	while ((c = getopt_long(argc, argv, "n:h", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (parse_u64(optarg, &max) < 0)
				usage_error(usage_str, "bad count '%s'", optarg);
			break;
		case 'p': shape = PRETTY; break;
		case 'f': shape = FORMAT; format = optarg; break;
		case 'j': shape = JSON; break;
		case 'S': dir = optarg; break;
		case 'h': usage_help(usage_str);
		default: usage_error(usage_str, "bad option");
		}
	}
	if (argc - optind > 1)
		usage_error(usage_str, "too many arguments");
	if (optind < argc)
		rev = argv[optind];

	open_store_or_die(dir, &store, &odb);
	if (resolve_rev(odb, rev, &id, &err) < 0)
		die_err(&err);
	for (n = 0, has_id = 1; has_id && n < max; n++) {
		struct snapshot s = SNAPSHOT_INIT;
		const struct snap_oid *cut = NULL;

		if (snapshot_read(odb, &id, &s, &err) < 0)
			die_err(&err);
		/* Read only once a walk needs it: REV alone never depends on it. */
		if (s.nr_parents && !loaded) {
			if (pruned_load(&store, &pruned, &err) < 0)
				die_err(&err);
			loaded = 1;
		}
		if (s.nr_parents && pruned_contains(&pruned, &s.parents[0]))
			cut = &s.parents[0];
		strbuf_reset(&out);
		switch (shape) {
		case IDS: strbuf_addstr(&out, oid_to_hex(&id)); break;
		case PRETTY:
			if (n)
				strbuf_addch(&out, '\n');
			pretty_medium(&out, &id, &s, cut);
			strbuf_setlen(&out, out.len - 1);
			break;
		case FORMAT: pretty_format(&out, format, &id, &s); break;
		case JSON: pretty_json(&out, &id, &s, cut); break;
		}
		strbuf_addch(&out, '\n');
		xfwrite(out.buf, out.len);
		/* Past a pruned parent the history goes on as the record says. */
		has_id = s.nr_parents > 0 && pruned_first_parent(&pruned, &s.parents[0], &id);
		snapshot_release(&s);
	}
	strbuf_release(&out);
	pruned_release(&pruned);
	odb_close(odb);
	store_release(&store);
	return finish_stdout(0);
}
