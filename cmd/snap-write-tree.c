/*
 * snap-write-tree: stores a directory and prints its root tree id.
 */
#include "odb.h"
#include "store.h"
#include "usage.h"
#include "util.h"
#include "writetree.h"
#include "xattr.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

static const char usage_str[] =
"usage: snap-write-tree [--exclude PATTERN]... [-x] [-q] [-j N]\n"
"                       [--cache NAME] [--force-read] [--stats]\n"
"                       [--no-xattrs] [--no-acls] DIR\n"
"\n"
"Stores DIR recursively and prints the id of its root tree.  A store\n"
"below DIR is left out, with a warning.\n"
"\n"
"  --exclude PATTERN  leave out entries matching PATTERN (fnmatch); a\n"
"                     pattern with '/' matches the path below DIR\n"
"  -x, --one-file-system  do not descend into other filesystems\n"
"  --cache NAME       use and update the stat cache cache/NAME in the\n"
"                     store (NAME as a ref name): unchanged files are\n"
"                     not read again\n"
"  --force-read       read every file; rebuild the cache\n"
"  --stats            print how many files were read and reused\n"
"  --no-xattrs        store no extended attributes (but ACLs)\n"
"  --no-acls          store no POSIX ACLs\n"
"  -q, --quiet        no warnings (skipped sockets, the store left out,\n"
"                     a cache not written)\n"
"  -j, --jobs N       compression threads (default: one per processor)\n"
"  --store DIR        the store (default $SNAP_DIR, else .snap above)\n";

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "exclude", required_argument, NULL, 'e' },
		{ "one-file-system", no_argument, NULL, 'x' },
		{ "cache", required_argument, NULL, 'c' },
		{ "force-read", no_argument, NULL, 'F' },
		{ "stats", no_argument, NULL, 's' },
		{ "no-xattrs", no_argument, NULL, 'X' },
		{ "no-acls", no_argument, NULL, 'A' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "jobs", required_argument, NULL, 'j' },
		{ "store", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct write_tree_opts wt = { 0 };
	struct write_tree_stats stats;
	const char **excludes = NULL;
	size_t nr = 0, alloc = 0;
	struct strbuf err = STRBUF_INIT;
	struct snap_store store;
	struct snap_oid oid;
	struct odb *odb;
	const char *dir = NULL;
	int quiet = 0, jobs = 0, show_stats = 0, c;
	uint64_t v;

	usage_setup(argv[0]);
	while ((c = getopt_long(argc, argv, "xqj:h", opts, NULL)) != -1) {
		switch (c) {
		case 'e':
			ALLOC_GROW(excludes, nr + 1, alloc);
			excludes[nr++] = optarg;
			break;
		case 'x': wt.one_fs = 1; break;
		case 'c': wt.cache = optarg; break;
		case 'F': wt.force_read = 1; break;
		case 's': show_stats = 1; break;
		case 'X': wt.xattr_flags |= XATTR_NO_OTHERS; break;
		case 'A': wt.xattr_flags |= XATTR_NO_ACLS; break;
		case 'q': quiet = 1; break;
		case 'j':
			if (parse_u64(optarg, &v) < 0 || v < 1 || v > 64)
				usage_error(usage_str, "-j takes 1 to 64, not '%s'", optarg);
			jobs = (int)v;
			break;
		case 'S': dir = optarg; break;
		case 'h': usage_help(usage_str);
		default: usage_error(usage_str, "bad option");
		}
	}
	if (argc - optind != 1)
		usage_error(usage_str, "expected one DIR");
	wt.excludes = excludes;
	wt.nr_excludes = nr;
	wt.warn = warning_cb;
	wt.warn_data = &quiet;
	wt.stats = &stats;

	open_store_or_die(dir, &store, &odb);
	odb_set_jobs(odb, jobs);
	if (write_tree(odb, argv[optind], &wt, &oid, &err) < 0)
		die_err(&err);
	printf("%s\n", oid_to_hex(&oid));
	if (show_stats)
		fprintf(stderr, "%s: %llu files read, %llu reused\n", snap_progname,
			(unsigned long long)stats.files_read,
			(unsigned long long)stats.files_reused);
	odb_close(odb);
	store_release(&store);
	free(excludes);
	return finish_stdout(0);
}
