/*
 * snap-rev-parse: turns names into object ids (grammar: lib/revision.h).
 */
#include "error.h"
#include "odb.h"
#include "refs.h"
#include "revision.h"
#include "store.h"
#include "usage.h"
#include "util.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

static const char usage_str[] =
"usage: snap-rev-parse [--verify [-q]] [--short[=N]] NAME...\n"
"   or: snap-rev-parse --check-ref-name REFNAME\n"
"   or: snap-rev-parse --full-ref-name NAME\n"
"   or: snap-rev-parse --store-dir\n"
"\n"
"Prints the full object id each NAME stands for, one a line.  NAME is an\n"
"id, a unique prefix of 4+ hex digits, a ref (main = refs/snapshots/main,\n"
"then refs/tags/main), optionally followed by @{TIME}, ~N, ^, ^N and :PATH.\n"
"\n"
"  --verify          exactly one NAME, which must name an existing object\n"
"  -q, --quiet       with --verify: no message; exit 1 if it does not resolve\n"
"  --short[=N]       print the first N hex digits (default 12)\n"
"  --check-ref-name  check that REFNAME is a valid full ref name and print it\n"
"  --full-ref-name   print NAME as a full ref name (refs/... as it is, else\n"
"                    refs/snapshots/NAME), checked as --check-ref-name does\n"
"  --store-dir       print the absolute path of the store\n"
"  --store DIR       the store (default $SNAP_DIR, else .snap above)\n";

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "verify", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "short", optional_argument, NULL, 's' },
		{ "check-ref-name", no_argument, NULL, 'c' },
		{ "full-ref-name", no_argument, NULL, 'f' },
		{ "store-dir", no_argument, NULL, 'd' },
		{ "store", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct strbuf err = STRBUF_INIT;
	struct snap_store store;
	struct odb *odb;
	const char *dir = NULL;
	int verify = 0, quiet = 0, check = 0, full = 0, store_dir = 0, c, i;
	uint64_t abbrev = SNAP_OID_HEXSZ;

	usage_setup(argv[0]);
	while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
		switch (c) {
		case 'v': verify = 1; break;
		case 'q': quiet = 1; break;
		case 's':
			abbrev = 12;
			if (optarg && (parse_u64(optarg, &abbrev) < 0 || abbrev < 4 ||
				       abbrev > SNAP_OID_HEXSZ))
				usage_error(usage_str, "--short takes 4 to 64, not '%s'", optarg);
			break;
		case 'c': check = 1; break;
		case 'f': full = 1; break;
		case 'd': store_dir = 1; break;
		case 'S': dir = optarg; break;
		case 'h': usage_help(usage_str);
		default: usage_error(usage_str, "bad option");
		}
	}
	if (check && full)
		usage_error(usage_str, "--check-ref-name and --full-ref-name do not go together");
	if (check || full) {
		char *name;

		if (argc - optind != 1)
			usage_error(usage_str, "%s", check ? "--check-ref-name takes one REFNAME"
							 : "--full-ref-name takes one NAME");
		name = check ? xstrdup(argv[optind]) : ref_full_name(argv[optind]);
		if (ref_name_check(name, &err) < 0)
			die_err(&err);
		printf("%s\n", name);
		free(name);
		return finish_stdout(0);
	}
	if (store_dir) {
		if (optind != argc)
			usage_error(usage_str, "--store-dir takes no NAME");
		open_store_or_die(dir, &store, &odb);
		printf("%s\n", store.path);
		odb_close(odb);
		store_release(&store);
		return finish_stdout(0);
	}
	if (optind == argc)
		usage_error(usage_str, "no NAME given");
	if (verify && argc - optind != 1)
		usage_error(usage_str, "--verify takes exactly one NAME");
	if (quiet && !verify)
		usage_error(usage_str, "-q goes with --verify");

	open_store_or_die(dir, &store, &odb);
	for (i = optind; i < argc; i++) {
		struct snap_oid oid;

		strbuf_reset(&err);
		if (resolve_rev(odb, argv[i], &oid, &err) < 0 ||
		    (verify && !odb_has(odb, &oid) &&
		     snap_error(&err, SNAP_ENOTFOUND, "object '%s' not found",
				oid_to_hex(&oid)))) {
			if (quiet)
				return EXIT_NO;
			die_err(&err);
		}
		printf("%.*s\n", (int)abbrev, oid_to_hex(&oid));
	}
	odb_close(odb);
	store_release(&store);
	return finish_stdout(0);
}
