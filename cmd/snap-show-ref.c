/*
 * snap-show-ref: lists refs and the objects they point at.
 */
#include "error.h"
#include "odb.h"
#include "refs.h"
#include "store.h"
#include "usage.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static const char usage_str[] =
"usage: snap-show-ref [PATTERN...]\n"
"   or: snap-show-ref --verify REF...\n"
"\n"
"Prints '<id> <refname>' for each ref, sorted by name.  A PATTERN matches\n"
"a ref whose name is PATTERN or ends with '/PATTERN'.  Exit 1 if nothing\n"
"matched.\n"
"\n"
"  --verify     REF is a full name that must exist (else exit 128)\n"
"  -s, --hash   print ids only\n"
"  --store DIR  the store (default $SNAP_DIR, else .snap above)\n";

struct show {
	char **patterns;
	int nr, hash_only, found;
};

static void print(const char *name, const struct snap_oid *oid, int hash_only)
{
	if (hash_only)
		printf("%s\n", oid_to_hex(oid));
	else
		printf("%s %s\n", oid_to_hex(oid), name);
}

static int matches(const char *name, const char *pat)
{
	size_t nl = strlen(name), pl = strlen(pat);

	if (!strcmp(name, pat))
		return 1;
	return nl > pl && name[nl - pl - 1] == '/' && !strcmp(name + nl - pl, pat);
}

static int each(const char *name, const struct snap_oid *oid, void *data)
{
	struct show *s = data;
	int i, ok = !s->nr;

	for (i = 0; i < s->nr && !ok; i++)
		ok = matches(name, s->patterns[i]);
	if (!ok)
		return 0;
	if (!oid) {
		warning("ref '%s' is unreadable (see snap-fsck)", name);
		return 0;
	}
	print(name, oid, s->hash_only);
	s->found = 1;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "verify", no_argument, NULL, 'v' },
		{ "hash", no_argument, NULL, 's' },
		{ "store", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct strbuf err = STRBUF_INIT;
	struct snap_store store;
	struct show s = { 0 };
	struct odb *odb;
	const char *dir = NULL;
	int verify = 0, c, i;

	usage_setup(argv[0]);
	while ((c = getopt_long(argc, argv, "sh", opts, NULL)) != -1) {
		switch (c) {
		case 'v': verify = 1; break;
		case 's': s.hash_only = 1; break;
		case 'S': dir = optarg; break;
		case 'h': usage_help(usage_str);
		default: usage_error(usage_str, "bad option");
		}
	}
	if (verify && optind == argc)
		usage_error(usage_str, "--verify needs a REF");
	open_store_or_die(dir, &store, &odb);
	if (verify) {
		for (i = optind; i < argc; i++) {
			struct snap_oid oid;
			strbuf_reset(&err);
			if (ref_read(&store, argv[i], &oid, &err) < 0)
				die_err(&err);
			print(argv[i], &oid, s.hash_only);
		}
		s.found = 1;
	} else {
		s.patterns = argv + optind;
		s.nr = argc - optind;
		if (refs_for_each(&store, "refs/", each, &s, &err) < 0)
			die_err(&err);
	}
	odb_close(odb);
	store_release(&store);
	return finish_stdout(s.found ? 0 : EXIT_NO);
}
