/*
 * snap-diff-tree: the paths that differ between two trees.
 */
#include "diff.h"
#include "odb.h"
#include "revision.h"
#include "store.h"
#include "tree.h"
#include "usage.h"

#include <getopt.h>
#include <stdio.h>

static const char usage_str[] =
"usage: snap-diff-tree [-r] [-z] [--exit-code] A B\n"
"\n"
"Lists what changed from tree A to tree B (snapshots stand for their\n"
"trees), one '<status>\\t<path>' line each, in path order:\n"
"A added, D deleted, M modified (content or permission bits), T type\n"
"changed.  Paths are escaped as in trees unless -z.\n"
"\n"
"  -r           recurse into directories (report files, not directories)\n"
"  -z           raw paths, each line ended by NUL instead of newline\n"
"  --exit-code  exit 1 when there are differences\n"
"  --store DIR  the store (default $SNAP_DIR, else .snap above)\n";

static int zero;

static void change(char status, const char *path, size_t len, void *data)
{
	struct strbuf line = STRBUF_INIT;

	(void)data;
	strbuf_addch(&line, status);
	strbuf_addch(&line, '\t');
	if (zero)
		strbuf_add(&line, path, len);
	else
		tree_escape(&line, path, len);
	strbuf_addch(&line, zero ? '\0' : '\n');
	xfwrite(line.buf, line.len);
	strbuf_release(&line);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "exit-code", no_argument, NULL, 'x' },
		{ "store", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct diff_opts d = { 0, change, NULL };
	struct strbuf err = STRBUF_INIT;
	struct snap_store store;
	struct snap_oid a, b, ta, tb;
	struct odb *odb;
	const char *dir = NULL;
	int exit_code = 0, c;
	long n;

	usage_setup(argv[0]);
	while ((c = getopt_long(argc, argv, "rzh", opts, NULL)) != -1) {
		switch (c) {
		case 'r': d.recursive = 1; break;
		case 'z': zero = 1; break;
		case 'x': exit_code = 1; break;
		case 'S': dir = optarg; break;
		case 'h': usage_help(usage_str);
		default: usage_error(usage_str, "bad option");
		}
	}
	if (argc - optind != 2)
		usage_error(usage_str, "expected A and B");
	open_store_or_die(dir, &store, &odb);
	if (resolve_rev(odb, argv[optind], &a, &err) < 0 ||
	    peel_to_tree(odb, &a, &ta, &err) < 0 ||
	    resolve_rev(odb, argv[optind + 1], &b, &err) < 0 ||
	    peel_to_tree(odb, &b, &tb, &err) < 0)
		die_err(&err);
	n = diff_trees(odb, &ta, &tb, &d, &err);
	if (n < 0)
		die_err(&err);
	odb_close(odb);
	store_release(&store);
	return finish_stdout(exit_code && n ? EXIT_NO : 0);
}
