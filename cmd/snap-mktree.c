/*
 * snap-mktree: builds a tree from `snap-ls-tree -l` lines.
 */
#include "error.h"
#include "odb.h"
#include "store.h"
#include "tree.h"
#include "usage.h"
#include "util.h"
#include "xattr.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static const char usage_str[] =
"usage: snap-mktree [-z] [--missing]\n"
"\n"
"Reads one directory's entries from standard input, one\n"
"  <type> <perm> <uid> <gid> <mtime> <size> <id> <extra> [sparse] [xattrs=<id>]\n"
"      [flags=<letters>] <name>\n"
"line each (the format of snap-ls-tree -l), checks every one, writes the\n"
"tree and prints its id.  Entries may come in any order.\n"
"\n"
"  -z           NUL-terminated lines with raw names (snap-ls-tree -l -z)\n"
"  --missing    do not check that the objects named exist\n"
"  --store DIR  the store (default $SNAP_DIR, else .snap above)\n";

#define LINE_MAX_LEN 65536

/* With -z the name is raw: escape it so that the tree parser reads it. */
static int escape_name(struct strbuf *line)
{
	struct strbuf out = STRBUF_INIT;
	size_t i, spaces = 0;

	for (i = 0; i < line->len && spaces < 8; i++)
		if (line->buf[i] == ' ')
			spaces++;
	if (spaces < 8)
		return -1;
	/* The optional fields: a raw name cannot be told from them, so they win. */
	if (line->len - i > 7 && !memcmp(line->buf + i, "sparse ", 7))
		i += 7;
	if (line->len - i > 7 + SNAP_OID_HEXSZ && !memcmp(line->buf + i, "xattrs=", 7) &&
	    line->buf[i + 7 + SNAP_OID_HEXSZ] == ' ')
		i += 7 + SNAP_OID_HEXSZ + 1;
	strbuf_add(&out, line->buf, i);
	tree_escape(&out, line->buf + i, line->len - i);
	strbuf_reset(line);
	strbuf_addbuf(line, &out);
	strbuf_release(&out);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "missing", no_argument, NULL, 'm' },
		{ "store", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct strbuf err = STRBUF_INIT, line = STRBUF_INIT, buf = STRBUF_INIT;
	struct tree t = TREE_INIT;
	struct snap_store store;
	struct snap_oid oid;
	struct odb *odb;
	const char *dir = NULL;
	int zero = 0, missing = 0, c;
	size_t lineno = 0, i;

	usage_setup(argv[0]);
	while ((c = getopt_long(argc, argv, "zh", opts, NULL)) != -1) {
		switch (c) {
		case 'z': zero = 1; break;
		case 'm': missing = 1; break;
		case 'S': dir = optarg; break;
		case 'h': usage_help(usage_str);
		default: usage_error(usage_str, "bad option");
		}
	}
	if (optind != argc)
		usage_error(usage_str, "no arguments expected");
	open_store_or_die(dir, &store, &odb);

	while (strbuf_getline(&line, stdin, zero ? '\0' : '\n') == 0) {
		struct tree one = TREE_INIT;

		lineno++;
		if (line.len > LINE_MAX_LEN)
			die("line %zu: too long", lineno);
		if (zero && escape_name(&line) < 0)
			die("line %zu: malformed entry", lineno);
		strbuf_addch(&line, '\n');
		strbuf_reset(&err);
		if (tree_parse(&one, line.buf, line.len, &err) < 0)
			die("line %zu: %s", lineno, err.buf + strlen("malformed tree: line 1: "));
		tree_add(&t, &one.entries[0]);
		tree_release(&one);
	}
	tree_sort(&t);
	for (i = 0; !missing && i < t.nr; i++) {
		const struct tree_entry *e = &t.entries[i];
		enum object_type type, want;
		uint64_t size;

		if (e->has_xattrs) {
			struct xattr_set xs = XATTR_SET_INIT;

			strbuf_reset(&err);
			if (xattr_load(odb, &e->xattrs, &xs, &err) < 0)
				die("entry '%s': %s", e->name, err.buf);
			xattr_set_release(&xs);
		}
		if (e->type != TREE_FILE && e->type != TREE_DIR && e->type != TREE_SYMLINK)
			continue;
		want = e->type == TREE_DIR ? OBJ_TREE : OBJ_BLOB;
		strbuf_reset(&err);
		if (odb_read_header(odb, &e->oid, &type, &size, &err) < 0)
			die("entry '%s': %s", e->name, err.buf);
		if (type != want)
			die("entry '%s': object '%s' is a %s, not a %s", e->name,
			    oid_to_hex(&e->oid), type_name(type), type_name(want));
		if (want == OBJ_BLOB && size != e->size)
			die("entry '%s': size %llu does not match object '%s' (%llu bytes)",
			    e->name, (unsigned long long)e->size, oid_to_hex(&e->oid),
			    (unsigned long long)size);
	}
	strbuf_reset(&err);
	if (tree_encode(&t, &buf, &err) < 0 ||
	    odb_write_buf(odb, OBJ_TREE, buf.buf, buf.len, &oid, &err) < 0)
		die_err(&err);
	printf("%s\n", oid_to_hex(&oid));
	tree_release(&t);
	odb_close(odb);
	store_release(&store);
	return finish_stdout(0);
}
