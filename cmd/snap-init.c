/*
 * snap-init [-q] [--compression-level N] [DIR]: creates a store.
 */
#include "store.h"
#include "usage.h"
#include "util.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

static const char usage_str[] =
"usage: snap-init [-q] [--compression-level N] [--shared=group|private] [DIR]\n"
"\n"
"Creates a snap store in DIR (default: --store, $SNAP_DIR, else ./.snap).\n"
"\n"
"  -q, --quiet                 print nothing on success\n"
"      --compression-level N   zstd level for new objects, 1 to 19 (default 3)\n"
"      --shared=group          the owner's group may read and write the store\n"
"                              (default private: the owner alone)\n"
"      --store DIR             same as giving DIR\n";

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "quiet", no_argument, NULL, 'q' },
		{ "compression-level", required_argument, NULL, 'L' },
		{ "store", required_argument, NULL, 'S' },
		{ "shared", required_argument, NULL, 'G' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct strbuf err = STRBUF_INIT;
	struct snap_store store;
	const char *dir = NULL;
	enum store_shared shared = STORE_PRIVATE;
	int shared_given = 0;
	int quiet = 0, level = SNAP_DEFAULT_LEVEL, existed, c;
	uint64_t v;

	usage_setup(argv[0]);
	while ((c = getopt_long(argc, argv, "+qh", opts, NULL)) != -1) {
		switch (c) {
		case 'q': quiet = 1; break;
		case 'L':
			if (parse_u64(optarg, &v) < 0 || v < 1 || v > 19)
				usage_error(usage_str, "--compression-level takes 1 to 19, not '%s'", optarg);
			level = (int)v;
			break;
		case 'S': dir = optarg; break;
		case 'G':
			if (store_parse_shared(optarg, &shared) < 0)
				usage_error(usage_str, "--shared takes 'group' or 'private', not '%s'", optarg);
			shared_given = 1;
			break;
		case 'h': usage_help(usage_str);
		default: usage_error(usage_str, "bad option");
		}
	}
	if (argc - optind > 1)
		usage_error(usage_str, "too many arguments");
	if (optind < argc)
		dir = argv[optind];
	if (!dir)
		dir = getenv("SNAP_DIR") && *getenv("SNAP_DIR") ? getenv("SNAP_DIR") : ".snap";
	if (!*dir)
		usage_error(usage_str, "empty store path");

	if (store_create(dir, level, shared, &existed, &err) < 0)
		die_err(&err);
	if (store_open(&store, dir, &err) < 0)
		die_err(&err);
	/* An existing store keeps its sharing: saying otherwise would mislead. */
	if (existed && shared_given && store.shared != shared)
		die("'%s' is a store already, shared %s: --shared applies to a new store",
		    store.path, store.shared == STORE_GROUP ? "group" : "private");
	if (!quiet)
		printf("%s snap store in %s\n",
		       existed ? "Reinitialized existing" : "Initialized empty",
		       store.path);
	store_release(&store);
	return finish_stdout(0);
}
