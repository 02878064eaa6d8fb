/*
 * snap-for-each-ref: one formatted line for each ref.
 */
#include "error.h"
#include "odb.h"
#include "refs.h"
#include "store.h"
#include "usage.h"

#include <fnmatch.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

static const char usage_str[] =
"usage: snap-for-each-ref [--format=FORMAT] [-z] [PATTERN...]\n"
"\n"
"Prints FORMAT for each ref whose name starts with a PATTERN (or matches\n"
"it as a glob), sorted by name; all refs without PATTERNs.  Atoms:\n"
"  %(objectname) %(objecttype) %(refname) %(refname:short) %%\n"
"Default: '%(objectname) %(objecttype)\\t%(refname)'.\n"
"\n"
"  -z           end lines with NUL\n"
"  --store DIR  the store (default $SNAP_DIR, else .snap above)\n";

struct ctx {
	struct odb *odb;
	const char *format;
	char **patterns;
	int nr, zero;
};

static const char *short_name(const char *name)
{
	if (!strncmp(name, "refs/snapshots/", 15))
		return name + 15;
	if (!strncmp(name, "refs/tags/", 10))
		return name + 10;
	return name;
}

static int each(const char *name, const struct snap_oid *oid, void *data)
{
	struct ctx *c = data;
	struct strbuf line = STRBUF_INIT, err = STRBUF_INIT;
	enum object_type type = OBJ_NONE;
	uint64_t size;
	const char *p;
	int i, ok = !c->nr;

	for (i = 0; i < c->nr && !ok; i++)
		ok = !strncmp(name, c->patterns[i], strlen(c->patterns[i])) ||
		     !fnmatch(c->patterns[i], name, FNM_PATHNAME);
	if (!ok)
		return 0;
	if (!oid) {
		warning("ref '%s' is unreadable (see snap-fsck)", name);
		return 0;
	}
	odb_read_header(c->odb, oid, &type, &size, &err);
	for (p = c->format; *p; ) {
		if (!strncmp(p, "%(objectname)", 13)) {
			strbuf_addstr(&line, oid_to_hex(oid));
			p += 13;
		} else if (!strncmp(p, "%(objecttype)", 13)) {
			strbuf_addstr(&line, type == OBJ_NONE ? "missing" : type_name(type));
			p += 13;
		} else if (!strncmp(p, "%(refname:short)", 16)) {
			strbuf_addstr(&line, short_name(name));
			p += 16;
		} else if (!strncmp(p, "%(refname)", 10)) {
			strbuf_addstr(&line, name);
			p += 10;
		} else if (!strncmp(p, "%%", 2)) {
			strbuf_addch(&line, '%');
			p += 2;
		} else {
			strbuf_addch(&line, *p++);
		}
	}
	strbuf_addch(&line, c->zero ? '\0' : '\n');
	xfwrite(line.buf, line.len);
	strbuf_release(&line);
	strbuf_release(&err);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "store", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ctx ctx = { NULL, "%(objectname) %(objecttype)\t%(refname)", NULL, 0, 0 };
	struct strbuf err = STRBUF_INIT;
	struct snap_store store;
	const char *dir = NULL;
	int c;

	usage_setup(argv[0]);
	while ((c = getopt_long(argc, argv, "zh", opts, NULL)) != -1) {
		switch (c) {
		case 'f': ctx.format = optarg; break;
		case 'z': ctx.zero = 1; break;
		case 'S': dir = optarg; break;
		case 'h': usage_help(usage_str);
		default: usage_error(usage_str, "bad option");
		}
	}
	ctx.patterns = argv + optind;
	ctx.nr = argc - optind;
	open_store_or_die(dir, &store, &ctx.odb);
	if (refs_for_each(&store, "refs/", each, &ctx, &err) < 0)
		die_err(&err);
	odb_close(ctx.odb);
	store_release(&store);
	return finish_stdout(0);
}
