/*
 * snap-write-tree: stores a directory and prints its root tree id.
 */
#include "exclude.h"
#include "odb.h"
#include "owners.h"
#include "store.h"
#include "tree.h"
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
"usage: snap-write-tree [--exclude PATTERN]... [--exclude-file FILE]...\n"
"                       [--exclude-caches] [--exclude-if-present NAME]...\n"
"                       [--exclude-larger-than SIZE] [--exclude-nodump]\n"
"                       [-x] [-q] [-v] [-j N]\n"
"                       [--cache NAME] [--force-read] [--stats]\n"
"                       [--strict | --problems FILE] [--sources FILE] [-n]\n"
"                       [--owner-names FILE]\n"
"                       [--no-xattrs] [--no-acls] [--no-flags]\n"
"                       (DIR | --absolute PATH...)\n"
"\n"
"Stores DIR recursively and prints the id of its root tree.  With\n"
"--absolute, each PATH is stored under its absolute path in a tree\n"
"rooted at '/'.  A store below DIR is left out, with a warning.  An\n"
"entry that is unreadable or vanishes is left out, a file that changes\n"
"while read is read again, each with a warning; the tree is printed\n"
"and the exit status is 3.\n"
"\n"
"  --exclude PATTERN  leave out entries matching PATTERN: a name, or with\n"
"                     '/' the path below DIR, or with a leading '/' the\n"
"                     absolute path; a trailing '/': directories only;\n"
"                     '**' any number of names\n"
"  --exclude-file FILE  one PATTERN a line ('#' starts a comment line)\n"
"  --exclude-caches   keep only CACHEDIR.TAG of a tagged cache directory\n"
"  --exclude-if-present NAME  leave out a directory holding NAME\n"
"  --exclude-larger-than SIZE  leave out files larger than SIZE bytes\n"
"                     (suffix K, M, G or T: powers of 1024)\n"
"  --exclude-nodump   leave out entries with the nodump flag (chattr +d)\n"
"  --absolute         store each PATH under its absolute path\n"
"  --sources FILE     write the absolute source paths to FILE, one a\n"
"                     line, escaped as names in trees\n"
"  --owner-names FILE write the names of the owners and groups the tree\n"
"                     uses to FILE, one uname.UID=NAME or gname.GID=NAME\n"
"                     a line (snap-checkout --owner-names reads it)\n"
"  -v, --verbose      warn of each exclude pattern that matched nothing\n"
"  -n, --dry-run      store nothing; print \"read PATH\" for each file that\n"
"                     would be read, \"skip PATH\" for each entry excluded\n"
"  -x, --one-file-system  do not descend into other filesystems\n"
"  --cache NAME       use and update the stat cache cache/NAME in the\n"
"                     store (NAME as a ref name): unchanged files are\n"
"                     not read again\n"
"  --force-read       read every file; rebuild the cache\n"
"  --stats            print how many files were read and reused\n"
"  --strict           an entry (or attribute) left out or changed is\n"
"                     fatal: no tree\n"
"  --problems FILE    write a line \"REASON PATH\" per problem to FILE\n"
"                     (snap-mksnapshot --problems reads it)\n"
"  --no-xattrs        store no extended attributes (but ACLs)\n"
"  --no-acls          store no POSIX ACLs\n"
"  --no-flags         store no inode flags (chattr's S D i a d A)\n"
"  -q, --quiet        no warnings (skipped sockets, the store left out,\n"
"                     a cache not written)\n"
"  -j, --jobs N       compression threads (default: one per processor)\n"
"  --store DIR        the store (default $SNAP_DIR, else .snap above)\n"
"\n"
"Exit status: 0 done; 3 done, but entries (or attributes) were left out\n"
"or changed while read; 128 fatal error; 129 usage error.\n";

/* Exit status of a tree taken with problems (docs/snap-write-tree.md). */
#define EXIT_INCOMPLETE 3

/* --dry-run: "read PATH" or "skip PATH" on standard output. */
static void on_list(const char *what, const char *path, void *data)
{
	(void)data;
	printf("%s %s\n", what, path);
}

/* Each problem: a warning, and a line of the --problems file. */
static void on_problem(const char *reason, const char *path, const char *msg, void *data)
{
	FILE *out = data;

	warning("%s", msg);
	if (out)
		fprintf(out, "%s %s\n", reason, path);
}

static int write_file(const char *path, const struct strbuf *sb)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	if (fwrite(sb->buf, 1, sb->len, f) != sb->len || fflush(f) || ferror(f)) {
		fclose(f);
		return -1;
	}
	return fclose(f);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "exclude", required_argument, NULL, 'e' },
		{ "exclude-file", required_argument, NULL, 'E' },
		{ "exclude-caches", no_argument, NULL, 'C' },
		{ "exclude-if-present", required_argument, NULL, 'I' },
		{ "exclude-larger-than", required_argument, NULL, 'L' },
		{ "absolute", no_argument, NULL, 'A' },
		{ "sources", required_argument, NULL, 'o' },
		{ "owner-names", required_argument, NULL, 'N' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "one-file-system", no_argument, NULL, 'x' },
		{ "cache", required_argument, NULL, 'c' },
		{ "force-read", no_argument, NULL, 'F' },
		{ "stats", no_argument, NULL, 's' },
		{ "strict", no_argument, NULL, 'T' },
		{ "problems", required_argument, NULL, 'P' },
		{ "no-xattrs", no_argument, NULL, 'X' },
		{ "no-acls", no_argument, NULL, 'a' },
		{ "no-flags", no_argument, NULL, 'G' },
		{ "exclude-nodump", no_argument, NULL, 0x101 },
		{ "quiet", no_argument, NULL, 'q' },
		{ "jobs", required_argument, NULL, 'j' },
		{ "store", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct write_tree_opts wt = { 0 };
	struct write_tree_stats stats;
	char **excludes = NULL;
	const char **present = NULL;
	size_t nr = 0, alloc = 0, nr_present = 0, alloc_present = 0, i;
	uint64_t *hits = NULL;
	struct strbuf sources = STRBUF_INIT, one = STRBUF_INIT;
	const char *sources_file = NULL, *names_file = NULL;
	int absolute = 0, verbose = 0, ret;
	struct strbuf err = STRBUF_INIT;
	struct snap_store store;
	struct snap_oid oid;
	struct odb *odb;
	const char *dir = NULL, *problems = NULL;
	FILE *problems_out = NULL;
	int quiet = 0, jobs = 0, show_stats = 0, c;
	uint64_t v;

	usage_setup(argv[0]);
	while ((c = getopt_long(argc, argv, "xqvnj:h", opts, NULL)) != -1) {
		switch (c) {
		case 'e':
			if (!*optarg)
				usage_error(usage_str, "--exclude takes a pattern, not ''");
			ALLOC_GROW(excludes, nr + 1, alloc);
			excludes[nr++] = xstrdup(optarg);
			break;
		case 'E':
			if (exclude_file_read(optarg, &excludes, &nr, &alloc, &err) < 0)
				die_err(&err);
			break;
		case 'C': wt.exclude_caches = 1; break;
		case 'I':
			if (!*optarg || strchr(optarg, '/'))
				usage_error(usage_str, "--exclude-if-present takes a name, not '%s'",
					    optarg);
			ALLOC_GROW(present, nr_present + 1, alloc_present);
			present[nr_present++] = optarg;
			break;
		case 'L':
			if (exclude_parse_size(optarg, &wt.larger_than) < 0)
				usage_error(usage_str, "bad SIZE '%s' for --exclude-larger-than "
					    "(bytes, or with K, M, G or T)", optarg);
			wt.exclude_larger = 1;
			break;
		case 'A': absolute = 1; break;
		case 'o': sources_file = optarg; break;
		case 'N': names_file = optarg; break;
		case 'v': verbose = 1; break;
		case 'n': wt.dry_run = 1; break;
		case 'x': wt.one_fs = 1; break;
		case 'c': wt.cache = optarg; break;
		case 'F': wt.force_read = 1; break;
		case 's': show_stats = 1; break;
		case 'T': wt.strict = 1; break;
		case 'P': problems = optarg; break;
		case 'X': wt.xattr_flags |= XATTR_NO_OTHERS; break;
		case 'a': wt.xattr_flags |= XATTR_NO_ACLS; break;
		case 'G': wt.no_flags = 1; break;
		case 0x101: wt.exclude_nodump = 1; break;
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
	if (argc - optind < 1)
		usage_error(usage_str, "expected DIR or PATHs");
	if (argc - optind > 1 && !absolute)
		usage_error(usage_str, "expected one DIR (several PATHs go with --absolute)");
	if (names_file && wt.dry_run)
		usage_error(usage_str, "--owner-names and --dry-run cannot be combined");
	if (wt.strict && problems)
		usage_error(usage_str, "--strict and --problems cannot be combined");
	wt.excludes = (const char *const *)excludes;
	wt.nr_excludes = nr;
	hits = xcalloc(nr ? nr : 1, sizeof(*hits));
	wt.exclude_hits = hits;
	wt.if_present = present;
	wt.nr_if_present = nr_present;
	wt.warn = warning_cb;
	wt.warn_data = &quiet;
	wt.stats = &stats;
	wt.problem = on_problem;
	wt.list = on_list;

	open_store_or_die(dir, &store, &odb);
	if (problems) {
		problems_out = fopen(problems, "w");
		if (!problems_out)
			die("cannot create '%s': %s", problems, strerror(errno));
		wt.problem_data = problems_out;
	}
	odb_set_jobs(odb, jobs);
	if (absolute)
		ret = write_tree_paths(odb, (const char *const *)argv + optind,
				       (size_t)(argc - optind), &wt, &oid, &sources, &err);
	else if ((ret = abs_path_clean(argv[optind], &one, &err)) == 0) {
		tree_escape(&sources, one.buf, one.len);
		strbuf_addch(&sources, '\n');
		ret = write_tree(odb, argv[optind], &wt, &oid, &err);
	}
	if (ret < 0)
		die_err(&err);
	if (names_file) {
		strbuf_reset(&one);
		if (owner_names_collect(odb, &oid, &one, &err) < 0)
			die_err(&err);
		if (write_file(names_file, &one) < 0)
			die("cannot write '%s': %s", names_file, strerror(errno));
	}
	if (sources_file && write_file(sources_file, &sources) < 0)
		die("cannot write '%s': %s", sources_file, strerror(errno));
	if (problems_out && (fflush(problems_out) || ferror(problems_out) ||
			     fclose(problems_out)))
		die("cannot write '%s': %s", problems, strerror(errno));
	if (!wt.dry_run)
		printf("%s\n", oid_to_hex(&oid));
	if (show_stats)
		fprintf(stderr, "%s: %llu files read, %llu reused\n", snap_progname,
			(unsigned long long)stats.files_read,
			(unsigned long long)stats.files_reused);
	for (i = 0; i < nr; i++) {
		if (verbose && !hits[i])
			warning("exclude pattern '%s' matched nothing", excludes[i]);
		free(excludes[i]);
	}
	odb_close(odb);
	store_release(&store);
	strbuf_release(&sources);
	strbuf_release(&one);
	free(excludes);
	free(present);
	free(hits);
	return finish_stdout(stats.problems ? EXIT_INCOMPLETE : 0);
}
