/*
 * snap-ls: the entries of a snapshot's tree (or of a directory in it),
 * as ls lists a directory; --json is a snapshot's manifest.
 */
#include "error.h"
#include "json.h"
#include "odb.h"
#include "revision.h"
#include "snapshot.h"
#include "store.h"
#include "tree.h"
#include "treewalk.h"
#include "usage.h"
#include "util.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char usage_str[] =
"usage: snap-ls [-l] [-r] [--json] [-z] REV[:PATH]\n"
"\n"
"Lists the entries of REV's tree (a snapshot or a tree), or of the\n"
"directory PATH in it, in name order; a PATH naming a file lists it alone.\n"
"\n"
"  -l           long format: mode, owner, group, size, mtime (UTC), path\n"
"  -r           recurse into directories\n"
"  --json       one JSON object a line: path, type, mode, uid, gid, size,\n"
"               mtime, mtime_ns, id (files, directories, symlinks), link\n"
"  -z           paths raw and records ended by NUL (else escaped as in trees)\n"
"  --store DIR  the store (default $SNAP_DIR, else .snap above)\n";

static int long_fmt, json, zero;

static char type_char(enum tree_type t)
{
	switch (t) {
	case TREE_DIR: return 'd';
	case TREE_SYMLINK: return 'l';
	case TREE_FIFO: return 'p';
	case TREE_CHR: return 'c';
	case TREE_BLK: return 'b';
	default: return '-';
	}
}

static void add_mode(struct strbuf *out, const struct tree_entry *e)
{
	static const char rwx[] = "rwxrwxrwx";
	int i;

	strbuf_addch(out, type_char(e->type));
	for (i = 0; i < 9; i++) {
		char c = e->perm & (0400u >> i) ? rwx[i] : '-';

		if (i == 2 && (e->perm & 04000))
			c = c == 'x' ? 's' : 'S';
		else if (i == 5 && (e->perm & 02000))
			c = c == 'x' ? 's' : 'S';
		else if (i == 8 && (e->perm & 01000))
			c = c == 'x' ? 't' : 'T';
		strbuf_addch(out, c);
	}
}

static int show(const struct tree_entry *e, const char *path, size_t len,
		size_t depth, void *data)
{
	struct strbuf out = STRBUF_INIT;

	(void)depth;
	(void)data;
	if (json) {
		strbuf_addstr(&out, "{\"path\":");
		json_add_bytes(&out, path, len);
		tree_entry_json(&out, e);
		strbuf_addstr(&out, "}\n");
	} else {
		if (long_fmt) {
			char when[32];
			time_t t = (time_t)e->mtime_sec;
			struct tm tm;

			if (!gmtime_r(&t, &tm) || !strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm))
				memcpy(when, "?", 2);
			add_mode(&out, e);
			strbuf_addf(&out, " %6" PRIu32 " %6" PRIu32 " %12" PRIu64 " %s ",
				    e->uid, e->gid, e->size, when);
		}
		if (zero)
			strbuf_add(&out, path, len);
		else
			tree_escape(&out, path, len);
		if (long_fmt && e->link && !zero) {
			strbuf_addstr(&out, " => ");
			tree_escape(&out, e->link, e->link_len);
		}
		strbuf_addch(&out, zero ? '\0' : '\n');
	}
	xfwrite(out.buf, out.len);
	strbuf_release(&out);
	return TREEWALK_CONTINUE;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "store", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct strbuf err = STRBUF_INIT, rev = STRBUF_INIT, prefix = STRBUF_INIT;
	struct tree holder = TREE_INIT;
	struct tree_entry entry;
	struct snap_store store;
	struct snap_oid oid, root;
	struct odb *odb;
	const char *dir = NULL, *path = "", *colon;
	int recurse = 0, c, found;

	usage_setup(argv[0]);
	while ((c = getopt_long(argc, argv, "lrzh", opts, NULL)) != -1) {
		switch (c) {
		case 'l': long_fmt = 1; break;
		case 'r': recurse = 1; break;
		case 'z': zero = 1; break;
		case 'j': json = 1; break;
		case 'S': dir = optarg; break;
		case 'h': usage_help(usage_str);
		default: usage_error(usage_str, "bad option");
		}
	}
	if (argc - optind != 1)
		usage_error(usage_str, "give one REV[:PATH]");
	if (json && (long_fmt || zero))
		usage_error(usage_str, "--json cannot be combined with -l or -z");
	colon = strchr(argv[optind], ':');
	strbuf_add(&rev, argv[optind], colon ? (size_t)(colon - argv[optind]) : strlen(argv[optind]));
	if (colon)
		path = colon + 1;
	if (!rev.len)
		usage_error(usage_str, "no REV before ':'");

	open_store_or_die(dir, &store, &odb);
	if (resolve_rev(odb, rev.buf, &oid, &err) < 0 || peel_to_tree(odb, &oid, &root, &err) < 0)
		die_err(&err);
	found = tree_lookup(odb, &root, path, &holder, &entry, &err);
	if (found < 0)
		die_err(&err);
	/* Paths as given, without a trailing or doubled '/'. */
	for (colon = path; *colon; colon++)
		if (*colon != '/' || (prefix.len && prefix.buf[prefix.len - 1] != '/'))
			strbuf_addch(&prefix, *colon);
	if (prefix.len && prefix.buf[prefix.len - 1] == '/')
		strbuf_setlen(&prefix, prefix.len - 1);
	if (found == 0 && entry.type != TREE_DIR) {
		show(&entry, prefix.buf, prefix.len, 1, NULL);
	} else {
		if (found == 0)
			root = entry.oid;
		if (treewalk(odb, &root, prefix.buf, recurse, show, NULL, NULL, &err) < 0)
			die_err(&err);
	}
	tree_release(&holder);
	strbuf_release(&rev);
	strbuf_release(&prefix);
	odb_close(odb);
	store_release(&store);
	return finish_stdout(0);
}
