/*
 * snap-write-tree: stores a directory and prints its root tree id.
 */
#include "odb.h"
#include "store.h"
#include "usage.h"
#include "util.h"
#include "writetree.h"
#include "xattr.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_str[] =
"usage: snap-write-tree [--exclude PATTERN]... [-x] [-q] [-j N]\n"
"                       [--cache NAME] [--force-read] [--stats]\n"
"                       [--strict | --problems FILE] [--no-xattrs] [--no-acls] DIR\n"
"\n"
"Stores DIR recursively and prints the id of its root tree.  A store\n"
"below DIR is left out, with a warning.  An entry that is unreadable or\n"
"vanishes is left out, a file that changes while read is read again,\n"
"each with a warning; the tree is printed and the exit status is 3.\n"
"\n"
"  --exclude PATTERN  leave out entries matching PATTERN (fnmatch); a\n"
"                     pattern with '/' matches the path below DIR\n"
"  -x, --one-file-system  do not descend into other filesystems\n"
"  --cache NAME       use and update the stat cache cache/NAME in the\n"
"                     store (NAME as a ref name): unchanged files are\n"
"                     not read again\n"
"  --force-read       read every file; rebuild the cache\n"
"  --stats            print how many files were read and reused\n"
"  --strict           an entry left out or changed is fatal: no tree\n"
"  --problems FILE    write a line \"REASON PATH\" per problem to FILE\n"
"                     (snap-mksnapshot --problems reads it)\n"
"  --no-xattrs        store no extended attributes (but ACLs)\n"
"  --no-acls          store no POSIX ACLs\n"
"  -q, --quiet        no warnings (skipped sockets, the store left out,\n"
"                     a cache not written)\n"
"  -j, --jobs N       compression threads (default: one per processor)\n"
"  --store DIR        the store (default $SNAP_DIR, else .snap above)\n"
"\n"
"Exit status: 0 done; 3 done, but entries were left out or changed\n"
"while read; 128 fatal error; 129 usage error.\n";

/* Exit status of a tree taken with problems (docs/snap-write-tree.md). */
#define EXIT_INCOMPLETE 3

/* Each problem: a warning, and a line of the --problems file. */
static void on_problem(const char *reason, const char *path, const char *msg, void *data)
{
	FILE *out = data;

	warning("%s", msg);
	if (out)
		fprintf(out, "%s %s\n", reason, path);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "exclude", required_argument, NULL, 'e' },
		{ "one-file-system", no_argument, NULL, 'x' },
		{ "cache", required_argument, NULL, 'c' },
		{ "force-read", no_argument, NULL, 'F' },
		{ "stats", no_argument, NULL, 's' },
		{ "strict", no_argument, NULL, 'T' },
		{ "problems", required_argument, NULL, 'P' },
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
	const char *dir = NULL, *problems = NULL;
	FILE *problems_out = NULL;
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
		case 'T': wt.strict = 1; break;
		case 'P': problems = optarg; break;
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
	if (wt.strict && problems)
		usage_error(usage_str, "--strict and --problems cannot be combined");
	wt.excludes = excludes;
	wt.nr_excludes = nr;
	wt.warn = warning_cb;
	wt.warn_data = &quiet;
	wt.stats = &stats;
	wt.problem = on_problem;

	open_store_or_die(dir, &store, &odb);
	if (problems) {
		problems_out = fopen(problems, "w");
		if (!problems_out)
			die("cannot create '%s': %s", problems, strerror(errno));
		wt.problem_data = problems_out;
	}
	odb_set_jobs(odb, jobs);
	if (write_tree(odb, argv[optind], &wt, &oid, &err) < 0)
		die_err(&err);
	if (problems_out && (fflush(problems_out) || ferror(problems_out) ||
			     fclose(problems_out)))
		die("cannot write '%s': %s", problems, strerror(errno));
	printf("%s\n", oid_to_hex(&oid));
	if (show_stats)
		fprintf(stderr, "%s: %llu files read, %llu reused\n", snap_progname,
			(unsigned long long)stats.files_read,
			(unsigned long long)stats.files_reused);
	odb_close(odb);
	store_release(&store);
	free(excludes);
	return finish_stdout(stats.problems ? EXIT_INCOMPLETE : 0);
}
