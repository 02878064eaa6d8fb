/*
 * snap-checkout: restores a tree or a snapshot's tree into a directory.
 */
#include "checkout.h"
#include "odb.h"
#include "owners.h"
#include "revision.h"
#include "store.h"
#include "usage.h"
#include "util.h"
#include "xattr.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>

static const char usage_str[] =
"usage: snap-checkout [--keep-setuid] [--devices] [--no-same-owner] [--no-xattrs] [--no-acls]\n"
"                     [--no-flags] [-j N] [--in-place TMP [--overwrite]]\n"
"                     [--include PATTERN]...\n"
"                     [--exclude PATTERN]... TREE|SNAPSHOT DIR [PATH...]\n"
"\n"
"Writes the tree into DIR, which must be absent or empty.  With PATHs,\n"
"only those entries (files or whole directories) are written.\n"
"With --in-place, DIR exists and may hold anything: the tree (or each\n"
"PATH) is written into TMP, then swapped into DIR entry by entry; what\n"
"it replaced is left in TMP for the caller to remove.  Without PATHs,\n"
"every other entry of DIR is moved into TMP too, but with --overwrite,\n"
"which merges the tree into DIR: its files replace DIR's, one rename\n"
"each, and nothing else in DIR changes (a path where one side has a\n"
"directory and the other not is refused: a warning, exit 3).\n"
"\n"
"  --keep-setuid    keep setuid and setgid bits (cleared otherwise)\n"
"  --devices        create device nodes (skipped otherwise)\n"
"  --no-same-owner  do not set owners (as root they are set by default)\n"
"  --owner-names FILE  give each file the local uid and gid of the owner\n"
"                   and group names FILE records (uname.UID=NAME and\n"
"                   gname.GID=NAME lines); an unknown name keeps its number\n"
"  --numeric-owner  set the stored numbers (FILE is not read)\n"
"  --no-xattrs      set no extended attributes (but ACLs)\n"
"  --no-acls        set no POSIX ACLs\n"
"  --no-flags       set no inode flags (chattr's S D i a d A)\n"
"  -q, --quiet      no warnings about skipped entries\n"
"  -j, --jobs N     file-writing threads (default: one per processor)\n"
"  --include PATTERN  write only entries matching PATTERN (the same patterns),\n"
"                   all of a matching directory, and the directories above\n"
"  --exclude PATTERN  leave out entries matching PATTERN (as snap-write-tree's:\n"
"                   a name, a path with '/', a trailing '/' for directories);\n"
"                   applies after --include\n"
"  --in-place TMP   restore into the existing DIR through TMP, an empty\n"
"                   directory on DIR's filesystem (not inside DIR's PATHs);\n"
"                   written DIR/NAME, it is made when absent\n"
"  --overwrite      with --in-place: merge into DIR, replacing files only\n"
"  --store DIR      the store (default $SNAP_DIR, else .snap above)\n";

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "keep-setuid", no_argument, NULL, 'u' },
		{ "devices", no_argument, NULL, 'D' },
		{ "no-same-owner", no_argument, NULL, 'O' },
		{ "owner-names", required_argument, NULL, 'N' },
		{ "numeric-owner", no_argument, NULL, 'n' },
		{ "no-xattrs", no_argument, NULL, 'X' },
		{ "no-acls", no_argument, NULL, 'A' },
		{ "no-flags", no_argument, NULL, 'G' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "jobs", required_argument, NULL, 'j' },
		{ "store", required_argument, NULL, 'S' },
		{ "in-place", required_argument, NULL, 'I' },
		{ "exclude", required_argument, NULL, 'e' },
		{ "include", required_argument, NULL, 'i' },
		{ "overwrite", no_argument, NULL, 'W' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct checkout_opts co = { .same_owner = 1 };
	struct strbuf err = STRBUF_INIT;
	struct snap_store store;
	struct snap_oid oid, tree;
	struct odb *odb;
	struct owner_map owners;
	const char *dir = NULL, *tmp = NULL, *names = NULL, **excludes = NULL, **includes = NULL;
	int quiet = 0, numeric = 0, c, ret;
	uint64_t v;

	usage_setup(argv[0]);
	/*
	 * Run by snap-restore (which names itself in $SNAP_PROGRAM), this
	 * dies with it: a restore killed with SIGKILL must not go on changing
	 * the target behind the next one.
	 */
	if (getenv("SNAP_PROGRAM") &&
	    prctl(PR_SET_PDEATHSIG, SIGKILL) == 0 && getppid() == 1)
		raise(SIGKILL);	/* the parent died before the call */
	while ((c = getopt_long(argc, argv, "qj:h", opts, NULL)) != -1) {
		switch (c) {
		case 'u': co.keep_setuid = 1; break;
		case 'D': co.devices = 1; break;
		case 'O': co.same_owner = 0; break;
		case 'N': names = optarg; break;
		case 'n': numeric = 1; break;
		case 'X': co.xattr_flags |= XATTR_NO_OTHERS; break;
		case 'A': co.xattr_flags |= XATTR_NO_ACLS; break;
		case 'G': co.no_flags = 1; break;
		case 'q': quiet = 1; break;
		case 'j':
			if (parse_u64(optarg, &v) < 0 || v < 1 || v > 64)
				usage_error(usage_str, "-j takes 1 to 64, not '%s'", optarg);
			co.jobs = (int)v;
			break;
		case 'S': dir = optarg; break;
		case 'I': tmp = optarg; break;
		case 'e':
			excludes = xrealloc(excludes, (co.nr_excludes + 1) * sizeof(*excludes));
			excludes[co.nr_excludes++] = optarg;
			co.excludes = excludes;
			break;
		case 'i':
			includes = xrealloc(includes, (co.nr_includes + 1) * sizeof(*includes));
			includes[co.nr_includes++] = optarg;
			co.includes = includes;
			break;
		case 'W': co.overwrite = 1; break;
		case 'h': usage_help(usage_str);
		default: usage_error(usage_str, "bad option");
		}
	}
	if (argc - optind < 2)
		usage_error(usage_str, "expected TREE and DIR");
	if (co.overwrite && !tmp)
		usage_error(usage_str, "--overwrite needs --in-place");
	co.paths = (const char *const *)argv + optind + 2;
	co.nr_paths = (size_t)(argc - optind - 2);
	co.warn = warning_cb;
	co.warn_data = &quiet;
	co.meta_warn = warning_cb;	/* never quieted: the restore is incomplete */

	if (names && !numeric) {
		if (owner_map_load(&owners, names, &err) < 0)
			die_err(&err);
		co.owners = &owners;
	}
	open_store_or_die(dir, &store, &odb);
	if (resolve_rev(odb, argv[optind], &oid, &err) < 0 ||
	    peel_to_tree(odb, &oid, &tree, &err) < 0)
		die_err(&err);
	if (tmp)
		ret = checkout_in_place(odb, &tree, argv[optind + 1], tmp, &co, &err);
	else
		ret = checkout_tree(odb, &tree, argv[optind + 1], &co, &err);
	if (ret < 0)
		die_err(&err);
	if (co.owners)
		owner_map_release(&owners);
	odb_close(odb);
	store_release(&store);
	return finish_stdout(ret == CHECKOUT_INCOMPLETE ? EXIT_INCOMPLETE : 0);
}
