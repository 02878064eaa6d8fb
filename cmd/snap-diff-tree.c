/*
 * snap-diff-tree: the paths that differ between two trees.
 */
#include "diff.h"
#include "json.h"
#include "odb.h"
#include "revision.h"
#include "store.h"
#include "tree.h"
#include "usage.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char usage_str[] =
"usage: snap-diff-tree [-r] [-z | --stat | --json] [--metadata] [--exit-code] A B\n"
"\n"
"Lists what changed from tree A to tree B (snapshots stand for their\n"
"trees), one '<status>\\t<path>' line each, in path order:\n"
"A added, D deleted, M modified (content or permission bits), T type\n"
"changed.  Paths are escaped as in trees unless -z.\n"
"\n"
"  -r           recurse into directories (report files, not directories)\n"
"  -z           raw paths, each line ended by NUL instead of newline\n"
"  --metadata   also owners and mtimes (directories: owners); extended\n"
"               attributes, ACLs and inode flags are always compared\n"
"  --stat       each line also says what changed (size, mode, owner,\n"
"               mtime, xattrs, flags, type); a summary line ends the list (implies\n"
"               --metadata)\n"
"  --json       one JSON object a line: status, path, what changed, and\n"
"               the entry on each side, old and new (implies --metadata)\n"
"  --exit-code  exit 1 when there are differences\n"
"  --store DIR  the store (default $SNAP_DIR, else .snap above)\n";

enum format { PLAIN, STAT, JSON };

static int zero;
static enum format format = PLAIN;

struct totals {
	uint64_t added, deleted, modified, typed;
	uint64_t bytes_added, bytes_removed;
};

/* The kinds of change between two entries of one path, in order. */
static void what_changed(const struct tree_entry *a, const struct tree_entry *b,
			 const char *what[8], size_t *nr)
{
	*nr = 0;
	if (!a || !b)
		return;
	if (a->type != b->type) {
		what[(*nr)++] = "type";
		return;
	}
	if (oid_cmp(&a->oid, &b->oid))
		what[(*nr)++] = "content";
	if (a->rdev_major != b->rdev_major || a->rdev_minor != b->rdev_minor)
		what[(*nr)++] = "device";
	if (a->perm != b->perm)
		what[(*nr)++] = "mode";
	if (a->uid != b->uid || a->gid != b->gid)
		what[(*nr)++] = "owner";
	if (a->type != TREE_DIR && (a->mtime_sec != b->mtime_sec || a->mtime_nsec != b->mtime_nsec))
		what[(*nr)++] = "mtime";
	if (a->has_xattrs != b->has_xattrs || (a->has_xattrs && oid_cmp(&a->xattrs, &b->xattrs)))
		what[(*nr)++] = "xattrs";
	if (a->flags != b->flags)
		what[(*nr)++] = "flags";
}

/* "\tflags OLD -> NEW", letters or "none" on each side. */
static void add_flags_change(struct strbuf *line, const struct tree_entry *a,
			     const struct tree_entry *b)
{
	strbuf_addstr(line, "\tflags ");
	if (a->flags)
		tree_flags_letters(line, a->flags);
	else
		strbuf_addstr(line, "none");
	strbuf_addstr(line, " -> ");
	if (b->flags)
		tree_flags_letters(line, b->flags);
	else
		strbuf_addstr(line, "none");
}

/* An attribute set's short id, or "none". */
static void add_xattrs_id(struct strbuf *line, const struct tree_entry *e)
{
	if (e->has_xattrs)
		strbuf_addf(line, "%.12s", oid_to_hex(&e->xattrs));
	else
		strbuf_addstr(line, "none");
}

static void add_stat(struct strbuf *line, char status, const struct tree_entry *a,
		     const struct tree_entry *b)
{
	const char *what[8];
	size_t nr, i;

	if (status == 'A') {
		strbuf_addf(line, "\t+%" PRIu64 " bytes", b->size);
		return;
	}
	if (status == 'D') {
		strbuf_addf(line, "\t-%" PRIu64 " bytes", a->size);
		return;
	}
	what_changed(a, b, what, &nr);
	for (i = 0; i < nr; i++) {
		const char *w = what[i];

		if (!strcmp(w, "type"))
			strbuf_addf(line, "\ttype %s -> %s", tree_type_name(a->type),
				    tree_type_name(b->type));
		else if (!strcmp(w, "content"))
			strbuf_addf(line, "\tsize %" PRIu64 " -> %" PRIu64, a->size, b->size);
		else if (!strcmp(w, "device"))
			strbuf_addf(line, "\tdevice %" PRIu32 ":%" PRIu32 " -> %" PRIu32 ":%" PRIu32,
				    a->rdev_major, a->rdev_minor, b->rdev_major, b->rdev_minor);
		else if (!strcmp(w, "mode"))
			strbuf_addf(line, "\tmode %04o -> %04o", a->perm, b->perm);
		else if (!strcmp(w, "owner"))
			strbuf_addf(line, "\towner %" PRIu32 ":%" PRIu32 " -> %" PRIu32 ":%" PRIu32,
				    a->uid, a->gid, b->uid, b->gid);
		else if (!strcmp(w, "mtime"))
			strbuf_addf(line, "\tmtime %" PRId64 ".%09" PRIu32 " -> %" PRId64 ".%09" PRIu32,
				    a->mtime_sec, a->mtime_nsec, b->mtime_sec, b->mtime_nsec);
		else if (!strcmp(w, "flags"))
			add_flags_change(line, a, b);
		else {
			strbuf_addstr(line, "\txattrs ");
			add_xattrs_id(line, a);
			strbuf_addstr(line, " -> ");
			add_xattrs_id(line, b);
		}
	}
}

/* One side's entry as a JSON object, or null. */
static void add_side(struct strbuf *line, const struct tree_entry *e)
{
	struct strbuf fields = STRBUF_INIT;

	if (!e) {
		strbuf_addstr(line, "null");
		return;
	}
	tree_entry_json(&fields, e);
	strbuf_addch(line, '{');
	strbuf_addstr(line, fields.buf + 1);	/* past the leading comma */
	strbuf_addch(line, '}');
	strbuf_release(&fields);
}

static void add_json(struct strbuf *line, char status, const char *path, size_t len,
		     const struct tree_entry *a, const struct tree_entry *b)
{
	const char *what[8];
	size_t nr, i;

	strbuf_addf(line, "{\"status\":\"%c\",\"path\":", status);
	json_add_bytes(line, path, len);
	what_changed(a, b, what, &nr);
	strbuf_addstr(line, ",\"changed\":[");
	for (i = 0; i < nr; i++)
		strbuf_addf(line, "%s\"%s\"", i ? "," : "", what[i]);
	strbuf_addstr(line, "],\"old\":");
	add_side(line, a);
	strbuf_addstr(line, ",\"new\":");
	add_side(line, b);
	strbuf_addch(line, '}');
}

static void change(char status, const char *path, size_t len, const struct tree_entry *a,
		   const struct tree_entry *b, void *data)
{
	struct totals *t = data;
	struct strbuf line = STRBUF_INIT;

	switch (status) {
	case 'A': t->added++; t->bytes_added += b->size; break;
	case 'D': t->deleted++; t->bytes_removed += a->size; break;
	case 'T': t->typed++; break;
	default: t->modified++; break;
	}
	if (status == 'T' || status == 'M') {
		if (b->size > a->size)
			t->bytes_added += b->size - a->size;
		else
			t->bytes_removed += a->size - b->size;
	}
	if (format == JSON) {
		add_json(&line, status, path, len, a, b);
	} else {
		strbuf_addch(&line, status);
		strbuf_addch(&line, '\t');
		if (zero)
			strbuf_add(&line, path, len);
		else
			tree_escape(&line, path, len);
		if (format == STAT)
			add_stat(&line, status, a, b);
	}
	strbuf_addch(&line, zero ? '\0' : '\n');
	xfwrite(line.buf, line.len);
	strbuf_release(&line);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "exit-code", no_argument, NULL, 'x' },
		{ "metadata", no_argument, NULL, 'm' },
		{ "stat", no_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "store", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct totals t = { 0 };
	struct diff_opts d = { 0, 0, change, &t };
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
		case 'm': d.metadata = 1; break;
		case 's':
		case 'j':
			if (format != PLAIN && format != (c == 's' ? STAT : JSON))
				usage_error(usage_str, "--stat and --json do not go together");
			format = c == 's' ? STAT : JSON;
			break;
		case 'S': dir = optarg; break;
		case 'h': usage_help(usage_str);
		default: usage_error(usage_str, "bad option");
		}
	}
	if (argc - optind != 2)
		usage_error(usage_str, "expected A and B");
	if (format != PLAIN && zero)
		usage_error(usage_str, "-z goes with neither --stat nor --json");
	if (format != PLAIN)
		d.metadata = 1;
	open_store_or_die(dir, &store, &odb);
	if (resolve_rev(odb, argv[optind], &a, &err) < 0 ||
	    peel_to_tree(odb, &a, &ta, &err) < 0 ||
	    resolve_rev(odb, argv[optind + 1], &b, &err) < 0 ||
	    peel_to_tree(odb, &b, &tb, &err) < 0)
		die_err(&err);
	n = diff_trees(odb, &ta, &tb, &d, &err);
	if (n < 0)
		die_err(&err);
	if (format == STAT)
		printf("%ld paths changed: %" PRIu64 " added, %" PRIu64 " deleted, %" PRIu64
		       " modified, %" PRIu64 " changed type; %" PRIu64 " bytes added, %" PRIu64
		       " bytes removed\n", n, t.added, t.deleted, t.modified, t.typed,
		       t.bytes_added, t.bytes_removed);
	odb_close(odb);
	store_release(&store);
	return finish_stdout(exit_code && n ? EXIT_NO : 0);
}
