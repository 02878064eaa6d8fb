/*
 * snap-find: every snapshot holding a path that matches a pattern, like
 * restic find, over the histories of refs.
 */
#include "error.h"
#include "json.h"
#include "odb.h"
#include "pruned.h"
#include "oidset.h"
#include "refs.h"
#include "revision.h"
#include "snapshot.h"
#include "store.h"
#include "tree.h"
#include "treewalk.h"
#include "usage.h"
#include "util.h"

#include <fnmatch.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char usage_str[] =
"usage: snap-find [--json] [-z] PATTERN [REV...]\n"
"\n"
"Prints each path that matches PATTERN (a shell glob) in every snapshot of\n"
"the REVs' first-parent histories (default: every ref under\n"
"refs/snapshots/), one line each:  <snapshot id (12)> <date> <path>\n"
"A PATTERN without '/' matches names; with '/', whole paths from the root\n"
"(a leading '/' is allowed).  Exit 1 if nothing matched.\n"
"\n"
"  --json       one JSON object a line: snapshot, time, path, type, size,\n"
"               mtime, id\n"
"  -z           paths raw and lines ended by NUL\n"
"  --store DIR  the store (default $SNAP_DIR, else .snap above)\n";

struct finder {
	const char *pattern;
	int whole_path, json, zero;
	/* Trees already searched and found to hold no match: not again. */
	struct oidset clean;
	/* Matches counted so far, and at each open directory's start. */
	uint64_t matches, *at;
	size_t depth, alloc;
	const struct snap_oid *snap;
	const struct snapshot *s;
};

static void print_match(struct finder *f, const struct tree_entry *e,
			const char *path, size_t len)
{
	struct strbuf out = STRBUF_INIT;

	if (f->json) {
		strbuf_addf(&out, "{\"snapshot\":\"%s\",\"time\":%" PRId64 ",\"path\":",
			    oid_to_hex(f->snap), f->s->time);
		json_add_bytes(&out, path, len);
		strbuf_addf(&out, ",\"type\":\"%s\",\"size\":%" PRIu64 ",\"mtime\":%" PRId64,
			    tree_type_name(e->type), e->size, e->mtime_sec);
		if (e->type == TREE_FILE || e->type == TREE_DIR || e->type == TREE_SYMLINK)
			strbuf_addf(&out, ",\"id\":\"%s\"", oid_to_hex(&e->oid));
		strbuf_addstr(&out, "}\n");
	} else {
		strbuf_add(&out, oid_to_hex(f->snap), 12);
		strbuf_addch(&out, ' ');
		format_time(&out, f->s->time, f->s->tz);
		strbuf_addch(&out, ' ');
		if (f->zero)
			strbuf_add(&out, path, len);
		else
			tree_escape(&out, path, len);
		strbuf_addch(&out, f->zero ? '\0' : '\n');
	}
	xfwrite(out.buf, out.len);
	strbuf_release(&out);
}

static int visit(const struct tree_entry *e, const char *path, size_t len,
		 size_t depth, void *data)
{
	struct finder *f = data;
	/* Names and paths hold no NUL: fnmatch sees all of them. */
	const char *subject = f->whole_path ? path : e->name;

	if (!fnmatch(f->pattern, subject, f->whole_path ? FNM_PATHNAME : 0)) {
		f->matches++;
		print_match(f, e, path, len);
	}
	if (e->type != TREE_DIR)
		return TREEWALK_CONTINUE;
	if (!f->whole_path && oidset_contains(&f->clean, &e->oid))
		return TREEWALK_SKIP;
	ALLOC_GROW(f->at, depth + 1, f->alloc);
	f->at[depth] = f->matches;
	return TREEWALK_CONTINUE;
}

static void leave(const struct tree_entry *dir, const char *path, size_t len,
		  size_t depth, void *data)
{
	struct finder *f = data;

	(void)path;
	(void)len;
	if (!f->whole_path && f->at[depth] == f->matches)
		oidset_insert(&f->clean, &dir->oid);
}

/* The store's pruned record, read when a history first goes past a snapshot. */
static struct pruned pruned;
static int pruned_loaded;

static void search(struct odb *odb, struct finder *f, struct oidset *seen,
		   const struct snap_oid *start)
{
	struct strbuf err = STRBUF_INIT;
	struct snap_oid id = *start;
	int more = 1;

	while (more && oidset_insert(seen, &id)) {
		struct snapshot s = SNAPSHOT_INIT;

		if (snapshot_read(odb, &id, &s, &err) < 0)
			die_err(&err);
		f->snap = &id;
		f->s = &s;
		if (!s.nr_bundles && !(!f->whole_path && oidset_contains(&f->clean, &s.tree))) {
			uint64_t before = f->matches;

			if (treewalk(odb, &s.tree, NULL, 1, visit, leave, f, &err) < 0)
				die_err(&err);
			if (!f->whole_path && before == f->matches)
				oidset_insert(&f->clean, &s.tree);
		}
		if (s.nr_parents && !pruned_loaded) {
			if (pruned_load(odb_store(odb), &pruned, &err) < 0)
				die_err(&err);
			pruned_loaded = 1;
		}
		/* Pruned snapshots are passed over, as snap-rev-list does. */
		more = s.nr_parents > 0 && pruned_first_parent(&pruned, &s.parents[0], &id);
		snapshot_release(&s);
	}
	strbuf_release(&err);
}

struct starts {
	struct snap_oid *oids;
	size_t nr, alloc;
};

static int add_ref(const char *name, const struct snap_oid *oid, void *data)
{
	struct starts *st = data;

	if (!oid) {
		warning("ref '%s' is unreadable (see snap-fsck)", name);
		return 0;
	}
	ALLOC_GROW(st->oids, st->nr + 1, st->alloc);
	st->oids[st->nr++] = *oid;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "store", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct finder f = { .clean = OIDSET_INIT };
	struct strbuf err = STRBUF_INIT;
	struct oidset seen = OIDSET_INIT;
	struct starts st = { NULL, 0, 0 };
	struct snap_store store;
	struct odb *odb;
	const char *dir = NULL;
	size_t i;
	int c;

	usage_setup(argv[0]);
	while ((c = getopt_long(argc, argv, "zh", opts, NULL)) != -1) {
		switch (c) {
		case 'j': f.json = 1; break;
		case 'z': f.zero = 1; break;
		case 'S': dir = optarg; break;
		case 'h': usage_help(usage_str);
		default: usage_error(usage_str, "bad option");
		}
	}
	if (optind == argc)
		usage_error(usage_str, "no PATTERN given");
	if (f.json && f.zero)
		usage_error(usage_str, "--json cannot be combined with -z");
	f.pattern = argv[optind++];
	if (!*f.pattern)
		usage_error(usage_str, "empty PATTERN");
	f.whole_path = strchr(f.pattern, '/') != NULL;
	while (*f.pattern == '/')
		f.pattern++;

	open_store_or_die(dir, &store, &odb);
	if (optind == argc) {
		if (refs_for_each(&store, "refs/snapshots/", add_ref, &st, &err) < 0)
			die_err(&err);
	}
	for (; optind < argc; optind++) {
		ALLOC_GROW(st.oids, st.nr + 1, st.alloc);
		if (resolve_rev(odb, argv[optind], &st.oids[st.nr], &err) < 0)
			die_err(&err);
		st.nr++;
	}
	for (i = 0; i < st.nr; i++)
		search(odb, &f, &seen, &st.oids[i]);
	free(st.oids);
	free(f.at);
	oidset_clear(&f.clean);
	oidset_clear(&seen);
	odb_close(odb);
	store_release(&store);
	return finish_stdout(f.matches ? 0 : EXIT_NO);
}
