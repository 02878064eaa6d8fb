/*
 * snap-ls-tree: lists a tree's entries, in the line format snap-mktree
 * reads back.
 */
#include "error.h"
#include "odb.h"
#include "revision.h"
#include "store.h"
#include "tree.h"
#include "usage.h"
#include "util.h"
#include "xattr.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_str[] =
"usage: snap-ls-tree [-r] [-d] [-l] [-z] [--name-only] [--xattrs] TREE [PATH]\n"
"\n"
"Lists the entries of TREE (a snapshot stands for its tree), or of the\n"
"directory PATH inside it, in name order:\n"
"  <type> <perm> <id>\\t<path>                                  (default)\n"
"  <type> <perm> <uid> <gid> <mtime> <size> <id> <extra> [sparse] [xattrs=<id>]\n"
"      [flags=<letters>] <path>  (-l)\n"
"The -l line is the tree format itself, and what snap-mktree reads.\n"
"\n"
"  -r           recurse: list the files below subdirectories\n"
"  -d           with -r, list the directories too\n"
"  -l           every field of each entry\n"
"  --name-only  paths only\n"
"  --xattrs     after each entry, its extended attributes, one a line:\n"
"               two spaces, <name>=0x<hex value>\n"
"  -z           raw paths, lines ended by NUL (else escaped as in trees)\n"
"  --store DIR  the store (default $SNAP_DIR, else .snap above)\n";

static int recursive, show_dirs, long_fmt, name_only, zero, show_xattrs;
static struct odb *odb;

/* The lines of --xattrs: names escaped as in trees, values in hex. */
static void add_xattrs(struct strbuf *out, const struct tree_entry *e)
{
	struct xattr_set s = XATTR_SET_INIT;
	struct strbuf err = STRBUF_INIT;
	size_t i, j;

	if (xattr_load(odb, &e->xattrs, &s, &err) < 0)
		die_err(&err);
	for (i = 0; i < s.nr; i++) {
		strbuf_addstr(out, "  ");
		tree_escape(out, s.v[i].name, s.v[i].name_len);
		strbuf_addstr(out, "=0x");
		for (j = 0; j < s.v[i].value_len; j++)
			strbuf_addf(out, "%02x", (unsigned char)s.v[i].value[j]);
		strbuf_addch(out, zero ? '\0' : '\n');
	}
	xattr_set_release(&s);
	strbuf_release(&err);
}

static void print_entry(const struct tree_entry *e, const char *path, size_t len)
{
	struct strbuf line = STRBUF_INIT;

	if (!name_only) {
		strbuf_addf(&line, "%s %04o ", tree_type_name(e->type), e->perm);
		if (long_fmt)
			strbuf_addf(&line, "%u %u %lld.%09u %llu ", e->uid, e->gid,
				    (long long)e->mtime_sec, e->mtime_nsec,
				    (unsigned long long)e->size);
		if (e->type == TREE_FILE || e->type == TREE_DIR || e->type == TREE_SYMLINK)
			strbuf_addstr(&line, oid_to_hex(&e->oid));
		else
			strbuf_addch(&line, '-');
		if (long_fmt) {
			strbuf_addch(&line, ' ');
			if (e->link) {
				strbuf_addstr(&line, "link=");
				tree_escape(&line, e->link, e->link_len);
			} else if (e->type == TREE_CHR || e->type == TREE_BLK) {
				strbuf_addf(&line, "rdev=%u:%u", e->rdev_major, e->rdev_minor);
			} else {
				strbuf_addch(&line, '-');
			}
			if (e->sparse)
				strbuf_addstr(&line, " sparse");
			if (e->has_xattrs)
				strbuf_addf(&line, " xattrs=%s", oid_to_hex(&e->xattrs));
			if (e->flags) {
				strbuf_addstr(&line, " flags=");
				tree_flags_letters(&line, e->flags);
			}
		}
		strbuf_addch(&line, long_fmt ? ' ' : '\t');
	}
	if (zero)
		strbuf_add(&line, path, len);
	else
		tree_escape(&line, path, len);
	strbuf_addch(&line, zero ? '\0' : '\n');
	if (show_xattrs && e->has_xattrs)
		add_xattrs(&line, e);
	xfwrite(line.buf, line.len);
	strbuf_release(&line);
}

/* A tree being listed: the walk keeps a stack of these, not C frames. */
struct level {
	struct tree t;
	size_t next, base;
};

static void push_level(struct level **stack, size_t *nr, size_t *alloc,
		       const struct snap_oid *oid, size_t base)
{
	struct strbuf err = STRBUF_INIT;
	struct level *l;

	ALLOC_GROW(*stack, *nr + 1, *alloc);
	l = &(*stack)[(*nr)++];
	memset(l, 0, sizeof(*l));
	l->base = base;
	if (tree_read(odb, oid, &l->t, &err) < 0)
		die_err(&err);
}

/* Lists the tree oid depth-first; a deep tree costs heap, not stack. */
static void list(const struct snap_oid *oid, struct strbuf *prefix)
{
	struct level *stack = NULL;
	size_t nr = 0, alloc = 0;

	push_level(&stack, &nr, &alloc, oid, prefix->len);
	while (nr) {
		struct level *l = &stack[nr - 1];
		const struct tree_entry *e;

		if (l->next == l->t.nr) {
			tree_release(&l->t);
			nr--;
			continue;
		}
		e = &l->t.entries[l->next++];
		strbuf_setlen(prefix, l->base);
		if (l->base)
			strbuf_addch(prefix, '/');
		strbuf_add(prefix, e->name, e->name_len);
		if (e->type == TREE_DIR && recursive) {
			if (show_dirs)
				print_entry(e, prefix->buf, prefix->len);
			push_level(&stack, &nr, &alloc, &e->oid, prefix->len);
		} else {
			print_entry(e, prefix->buf, prefix->len);
		}
	}
	free(stack);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name-only", no_argument, NULL, 'n' },
		{ "xattrs", no_argument, NULL, 'X' },
		{ "store", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct strbuf err = STRBUF_INIT, prefix = STRBUF_INIT, spec = STRBUF_INIT;
	struct snap_store store;
	struct snap_oid oid, tree;
	const char *dir = NULL;
	int c;

	usage_setup(argv[0]);
	while ((c = getopt_long(argc, argv, "rdlzh", opts, NULL)) != -1) {
		switch (c) {
		case 'r': recursive = 1; break;
		case 'd': show_dirs = 1; break;
		case 'l': long_fmt = 1; break;
		case 'n': name_only = 1; break;
		case 'X': show_xattrs = 1; break;
		case 'z': zero = 1; break;
		case 'S': dir = optarg; break;
		case 'h': usage_help(usage_str);
		default: usage_error(usage_str, "bad option");
		}
	}
	if (argc - optind < 1 || argc - optind > 2)
		usage_error(usage_str, "expected TREE [PATH]");
	if (show_dirs && !recursive)
		usage_error(usage_str, "-d goes with -r");
	open_store_or_die(dir, &store, &odb);
	if (resolve_rev(odb, argv[optind], &oid, &err) < 0 ||
	    peel_to_tree(odb, &oid, &tree, &err) < 0)
		die_err(&err);
	if (argc - optind == 2 && *argv[optind + 1]) {
		/* The directory at PATH, through the rev-parse path syntax. */
		strbuf_addf(&spec, "%s:%s", oid_to_hex(&tree), argv[optind + 1]);
		if (resolve_rev(odb, spec.buf, &oid, &err) < 0)
			die_err(&err);
		tree = oid;
		strbuf_addstr(&prefix, argv[optind + 1]);
		while (prefix.len && prefix.buf[prefix.len - 1] == '/')
			strbuf_setlen(&prefix, prefix.len - 1);
	}
	list(&tree, &prefix);
	odb_close(odb);
	store_release(&store);
	return finish_stdout(0);
}
