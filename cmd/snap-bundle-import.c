/*
 * snap-bundle-import: stores sqlite-sync-core sync bundles and a bundle
 * snapshot listing them, and moves a ref to it by compare-and-swap.  Every
 * input is checked before anything is written.
 */
#include "bundle.h"
#include "error.h"
#include "json.h"
#include "odb.h"
#include "refs.h"
#include "revision.h"
#include "snapshot.h"
#include "sqlbundle.h"
#include "store.h"
#include "usage.h"
#include "util.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char usage_str[] =
"usage: snap-bundle-import [-r REF | --no-ref] [--parent REV] [-m MSG] [--meta KEY=VALUE]...\n"
"                          [--format json|jsonl|sqlite] [--strict] [--schema-version N]\n"
"                          [--time TIME] [--host HOST] [--progress] [-q] [FILE...]\n"
"\n"
"Checks every bundle in FILEs (standard input without FILE, or '-'), stores\n"
"them and a snapshot listing them in sequence order, moves REF to it and\n"
"prints '<snapshot-id> <ref>'.\n"
"\n"
"  -r, --ref REF       the ref to extend (default bundles: refs/snapshots/bundles)\n"
"  --no-ref            move no ref; print only the snapshot id\n"
"  --parent REV        the parent snapshot (default: the ref's value)\n"
"  -m, --message MSG   the snapshot's message\n"
"  --meta KEY=VALUE    a metadata line of the snapshot (repeatable, kept in order)\n"
"  --format FMT        json (an array, or one bundle), jsonl (one a line) or\n"
"                      sqlite (a .bundle.db); default: by content\n"
"  --schema-version N  the schema_version native bundles should have (default 1)\n"
"  --strict            refuse a native bundle of another schema_version\n"
"                      (without it: a warning)\n"
"  --time TIME         the snapshot's time (default $SNAP_TIME, else 0)\n"
"  --host HOST         the snapshot's host (default $SNAP_HOST, else '-')\n"
"  --progress          a progress line on stderr (default: when it is a tty)\n"
"  -q, --quiet         no notes (bundles already stored), no progress\n"
"  --store DIR         the store (default $SNAP_DIR, else .snap above)\n";

static void read_input(const char *path, enum bundle_format fmt, struct bundle_list *list)
{
	struct strbuf buf = STRBUF_INIT, err = STRBUF_INIT;
	const char *name = strcmp(path, "-") ? path : "<stdin>";
	size_t room = (size_t)(BUNDLE_INPUT_MAX - list->bytes);
	struct stat st;
	int ret = 0, regular = 0, known = 0;

	/*
	 * A FILE that is a regular file is refused unread when too large,
	 * and a database in it is read as SQLite reads it, with the commits
	 * still in its write-ahead log.  Anything else (a pipe, <(...),
	 * /dev/stdin) is read to its end as standard input is: it has no
	 * log beside it.
	 */
	if (strcmp(path, "-"))
		known = stat(path, &st) == 0;
	if (!strcmp(path, "-")) {
		ret = strbuf_read_fd(&buf, 0, room);
	} else if (known && S_ISDIR(st.st_mode)) {
		die("cannot read '%s': Is a directory", name);
	} else if (known && !S_ISREG(st.st_mode)) {
		/* Opened once, blocking: a FIFO's writer is never cut off. */
		ret = strbuf_read_file(&buf, path, room);
	} else {
		ret = strbuf_read_regular(&buf, path, room);
		regular = 1;
		if (ret == SNAP_EINVAL)
			die("'%s': replaced by what is not a regular file while it was read", name);
	}
	if (ret == SNAP_ETOOBIG)
		die("%s: the input of one import is limited to %llu MiB", name,
		    BUNDLE_INPUT_MAX >> 20);
	if (ret < 0)
		die("cannot read '%s': %s", name, strerror(errno));
	if (regular && (fmt == BUNDLE_AUTO || fmt == BUNDLE_SQLITE) &&
	    buf.len >= 16 && !memcmp(buf.buf, "SQLite format 3", 16) &&
	    sqlbundle_read_file(path, room, &buf, &err) < 0)
		die_err(&err);
	if (bundle_read(name, buf.buf, buf.len, fmt, list, &err) < 0)
		die_err(&err);
	strbuf_release(&buf);
}

static int quiet;

static void note(const char *msg, void *data)
{
	(void)data;
	if (!quiet)
		fprintf(stderr, "%s: note: %s\n", snap_progname, msg);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ref", required_argument, NULL, 'r' },
		{ "no-ref", no_argument, NULL, 'N' },
		{ "parent", required_argument, NULL, 'p' },
		{ "message", required_argument, NULL, 'm' },
		{ "format", required_argument, NULL, 'f' },
		{ "meta", required_argument, NULL, 'M' },
		{ "strict", no_argument, NULL, 's' },
		{ "schema-version", required_argument, NULL, 'V' },
		{ "time", required_argument, NULL, 't' },
		{ "host", required_argument, NULL, 'H' },
		{ "store", required_argument, NULL, 'S' },
		{ "progress", no_argument, NULL, 'P' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct strbuf err = STRBUF_INIT, full = STRBUF_INIT, reason = STRBUF_INIT;
	struct bundle_list list = { 0 };
	struct snapshot s = SNAPSHOT_INIT;
	struct snap_store store;
	struct snap_oid old, parent, id;
	struct odb *odb;
	const char *ref = NULL, *parent_arg = NULL, *msg = NULL, *time_arg = NULL;
	const char *host = NULL, *dir = NULL;
	enum bundle_format fmt = BUNDLE_AUTO;
	int c, no_ref = 0, have_old = 0, have_parent = 0, strict = 0, i;
	long long schema_version = SQLBUNDLE_SCHEMA_VERSION;
	char **metas = NULL;
	size_t nr_metas = 0, alloc_metas = 0, j;

	usage_setup(argv[0]);
	while ((c = getopt_long(argc, argv, "r:m:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'P':
			if (!quiet)
				setenv("SNAP_PROGRESS", "1", 1);
			break;
		case 'q':
			quiet = 1;
			setenv("SNAP_PROGRESS", "0", 1);
			break;
		case 'r': ref = optarg; break;
		case 'N': no_ref = 1; break;
		case 'p': parent_arg = optarg; break;
		case 'm': msg = optarg; break;
		case 'f':
			fmt = bundle_format_from_name(optarg);
			if (fmt == BUNDLE_AUTO)
				usage_error(usage_str, "unknown format '%s' (json, jsonl or sqlite)", optarg);
			break;
		case 'M':
			ALLOC_GROW(metas, nr_metas + 1, alloc_metas);
			metas[nr_metas++] = optarg;
			break;
		case 's': strict = 1; break;
		case 'V': {
			uint64_t v;

			/* Decimal digits only; too many of them is its own reason. */
			if (parse_u64(optarg, &v) == 0 && v <= JSON_INT_EXACT_MAX)
				schema_version = (long long)v;
			else if (*optarg && strspn(optarg, "0123456789") == strlen(optarg))
				usage_error(usage_str, "--schema-version: '%s' is larger than 2^53 - 1", optarg);
			else
				usage_error(usage_str, "--schema-version: '%s' is not an integer >= 0", optarg);
			break;
		}
		case 't': time_arg = optarg; break;
		case 'H': host = optarg; break;
		case 'S': dir = optarg; break;
		case 'h': usage_help(usage_str);
		default: usage_error(usage_str, "bad option");
		}
	}
	if (!ref && !no_ref)
		ref = "bundles";

	/* The snapshot records what it is given: no clock, no host name. */
	if (snapshot_set_origin(&s, time_arg, host, SNAPSHOT_ORIGIN_NONE, &err) < 0)
		die_err(&err);
	if (msg) {
		struct strbuf m = STRBUF_INIT;
		strbuf_addstr(&m, msg);
		if (m.len && m.buf[m.len - 1] != '\n')
			strbuf_addch(&m, '\n');
		s.message = strbuf_detach(&m, NULL);
	}
	for (j = 0; j < nr_metas; j++)
		if (snapshot_add_meta(&s, metas[j], &err) < 0)
			die_err(&err);
	free(metas);

	open_store_or_die(dir, &store, &odb);
	if (ref) {
		char *name = ref_full_name(ref);

		strbuf_addstr(&full, name);
		free(name);
		if (ref_name_check(full.buf, &err) < 0)
			die_err(&err);
		int ret = ref_read(&store, full.buf, &old, &err);
		if (ret < 0 && ret != SNAP_ENOTFOUND)
			die_err(&err);
		have_old = ret == 0;
		strbuf_reset(&err);
	}
	if (parent_arg) {
		if (resolve_rev(odb, parent_arg, &parent, &err) < 0)
			die_err(&err);
		have_parent = 1;
	} else if (have_old) {
		parent = old;
		have_parent = 1;
	}

	if (optind == argc)
		read_input("-", fmt, &list);
	for (i = optind; i < argc; i++)
		read_input(argv[i], fmt, &list);
	if (!list.nr)
		die("no bundles in the input");
	/* sqlite-sync-core refuses a bundle of a schema other than its own. */
	for (j = 0; j < list.nr; j++) {
		const struct bundle *b = &list.v[j];
		if (b->schema_version < 0 || b->schema_version == schema_version)
			continue;
		strbuf_reset(&err);
		strbuf_addf(&err, "%s: bundle %zu", b->file, b->index);
		if (b->line)
			strbuf_addf(&err, " (line %zu)", b->line);
		strbuf_addf(&err, ": schema_version %lld is not %lld", b->schema_version,
			    schema_version);
		if (strict)
			die("%s (--strict)", err.buf);
		warning("%s, which sqlite-sync-core's import refuses", err.buf);
	}
	strbuf_reset(&err);
	if (bundle_list_order(odb, &list, have_parent ? &parent : NULL, note, NULL, &err) < 0)
		die_err(&err);
	/* Everything was there already: a sync loop's repeat, not an error. */
	if (!list.nr) {
		printf("%s%s%s\n", oid_to_hex(&parent), no_ref ? "" : " ", no_ref ? "" : full.buf);
		goto out;
	}
	if (have_parent)
		snapshot_add_parent(&s, &parent);
	if (bundle_store(odb, &list, &s, &id, &err) < 0)
		die_err(&err);

	if (no_ref) {
		printf("%s\n", oid_to_hex(&id));
	} else {
		strbuf_addf(&reason, "bundle-import: %zu bundle%s", list.nr, list.nr == 1 ? "" : "s");
		if (ref_update(odb, full.buf, &id, have_old ? &old : &snap_null_oid, reason.buf, &err) < 0)
			die_err(&err);
		printf("%s %s\n", oid_to_hex(&id), full.buf);
	}
out:
	bundle_list_release(&list);
	snapshot_release(&s);
	strbuf_release(&full);
	strbuf_release(&reason);
	odb_close(odb);
	store_release(&store);
	return finish_stdout(0);
}
