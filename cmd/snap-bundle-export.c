/*
 * snap-bundle-export: writes the bundles of a bundle snapshot's chain, in
 * sequence order, as JSON Lines, a JSON array or native .bundle.db files.
 */
#include "bundle.h"
#include "error.h"
#include "fsio.h"
#include "json.h"
#include "lockfile.h"
#include "odb.h"
#include "revision.h"
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
"usage: snap-bundle-export [--since REV] [--format jsonl|json|wire|sqlite] [-o PATH] REV\n"
"\n"
"Writes the bundles of REV's chain, from its root (or from after --since)\n"
"to REV, in sequence order, each in canonical form.\n"
"\n"
"  --since REV        only the bundles after REV, a snapshot on the chain\n"
"  --format FMT       jsonl (one bundle a line, the default), json (an array),\n"
"                     wire (sqlite-sync-core's push form, one a line) or\n"
"                     sqlite (one .bundle.db file each, into -o DIR)\n"
"  -o, --output PATH  the file to write (default standard output); with\n"
"                     --format sqlite, the directory (made if missing)\n"
"  --store DIR        the store (default $SNAP_DIR, else .snap above)\n";

static struct odb *odb;

/* One output: standard output, or a file replaced atomically at the end. */
struct out {
	struct lockfile lk;
	int to_file;
};

static void out_add(struct out *o, const void *buf, size_t len)
{
	struct strbuf err = STRBUF_INIT;

	if (!o->to_file) {
		xfwrite(buf, len);
	} else if (lock_write(&o->lk, buf, len, &err) < 0) {
		lock_rollback(&o->lk);
		die_err(&err);
	}
}

/* Dies unless v is a native sqlite-sync-core bundle (for wire and sqlite). */
static void need_native(const json_t *v, const struct snap_oid *id, uint64_t seq)
{
	const json_t *fmt = json_object_get(v, "format");

	if (!(json_is_string(fmt) && !strcmp(json_string_value(fmt), SQLBUNDLE_FORMAT)))
		die("bundle '%s' (sequence %llu) is not a native sqlite-sync-core bundle; export it as json or jsonl",
		    oid_to_hex(id), (unsigned long long)seq);
}

/*
 * Dies (naming it) unless the directory that is to hold path exists: -o
 * makes no directory above the one it names, as cp does not.
 */
static void need_parent(const char *path, const char *verb)
{
	struct strbuf dir = STRBUF_INIT;
	size_t len = strlen(path);
	const char *slash;
	struct stat st;

	while (len > 1 && path[len - 1] == '/')
		len--;
	strbuf_add(&dir, path, len);
	slash = strrchr(dir.buf, '/');
	if (slash) {
		strbuf_setlen(&dir, slash > dir.buf ? (size_t)(slash - dir.buf) : 1);
		int r = stat(dir.buf, &st);

		if (r == 0 ? !S_ISDIR(st.st_mode) : errno == ENOENT || errno == ENOTDIR)
			die("cannot %s '%s': no directory '%s'", verb, path, dir.buf);
		if (r < 0)
			die("cannot %s '%s': %s", verb, path, strerror(errno));
	}
	strbuf_release(&dir);
}

/* The wire form of bundle id, canonical, into out. */
static void wire_of(const struct snap_oid *id, struct strbuf *out)
{
	struct strbuf err = STRBUF_INIT, buf = STRBUF_INIT;
	json_t *v, *w;
	uint64_t seq;

	if (bundle_load(odb, id, &buf, &seq, &v, &err) < 0)
		die_err(&err);
	need_native(v, id, seq);
	if (sqlbundle_to_wire(v, &w, &err) < 0 || json_canonical(w, out, &err) < 0)
		die("bundle '%s': %s", oid_to_hex(id), err.buf);
	json_decref(w);
	json_decref(v);
	strbuf_release(&buf);
}

static void export_json(const struct snap_oid *ids, size_t nr, int lines, int wire,
			const char *path)
{
	struct strbuf err = STRBUF_INIT, buf = STRBUF_INIT;
	struct out o = { .to_file = path != NULL };
	size_t i;

	if (path)
		need_parent(path, "write");
	/* Every bundle must have a wire form before anything is written. */
	for (i = 0; wire && i < nr; i++) {
		strbuf_reset(&buf);
		wire_of(&ids[i], &buf);
	}
	if (path && lock_take(&o.lk, path, &err) < 0)
		die("cannot write '%s': %s", path, err.buf);
	if (!lines)
		out_add(&o, "[", 1);
	for (i = 0; i < nr; i++) {
		strbuf_reset(&buf);
		if (wire) {
			wire_of(&ids[i], &buf);
		} else if (bundle_load(odb, &ids[i], &buf, NULL, NULL, &err) < 0) {
			if (path)
				lock_rollback(&o.lk);
			die_err(&err);
		}
		if (!lines && i)
			out_add(&o, ",", 1);
		out_add(&o, buf.buf, buf.len);
		if (lines)
			out_add(&o, "\n", 1);
	}
	if (!lines)
		out_add(&o, "]\n", 2);
	if (path && lock_commit(&o.lk, &err) < 0)
		die_err(&err);
	strbuf_release(&buf);
}

static void export_sqlite(const struct snap_oid *ids, size_t nr, const char *dir)
{
	struct strbuf err = STRBUF_INIT, buf = STRBUF_INIT, path = STRBUF_INIT;
	uint64_t seq, prev = 0;
	size_t i, repeat = 0;
	int pass;

	need_parent(dir, "create");
	/* Every bundle is checked before the first file is written. */
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < nr; i++) {
			json_t *v;

			if (bundle_load(odb, &ids[i], &buf, &seq, &v, &err) < 0)
				die_err(&err);
			if (!pass)
				need_native(v, &ids[i], seq);
			if (pass) {
				/* Concurrent bundles may share a sequence: -1, -2, ... after the first. */
				repeat = i && seq == prev ? repeat + 1 : 0;
				prev = seq;
				strbuf_reset(&path);
				strbuf_addf(&path, "%s/%016llu", dir, (unsigned long long)seq);
				if (repeat)
					strbuf_addf(&path, "-%zu", repeat);
				strbuf_addstr(&path, ".bundle.db");
				if (sqlbundle_write(v, path.buf, &err) < 0)
					die_err(&err);
			}
			json_decref(v);
		}
		if (!pass && fsio_mkdir(dir, 0777) < 0 && errno != EEXIST)
			die("cannot create '%s': %s", dir, strerror(errno));
	}
	strbuf_release(&buf);
	strbuf_release(&path);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "since", required_argument, NULL, 's' },
		{ "format", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ "store", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct strbuf err = STRBUF_INIT;
	struct snap_store store;
	struct snap_oid tip, since, *ids;
	const char *since_arg = NULL, *output = NULL, *dir = NULL;
	enum bundle_format fmt = BUNDLE_JSONL;
	size_t nr;
	int c, wire = 0;

	usage_setup(argv[0]);
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 's': since_arg = optarg; break;
		case 'f':
			/* wire is an export form only: import knows it by its shape. */
			wire = !strcmp(optarg, "wire");
			fmt = wire ? BUNDLE_JSONL : bundle_format_from_name(optarg);
			if (fmt == BUNDLE_AUTO)
				usage_error(usage_str, "unknown format '%s' (jsonl, json, wire or sqlite)", optarg);
			break;
		case 'o': output = optarg; break;
		case 'S': dir = optarg; break;
		case 'h': usage_help(usage_str);
		default: usage_error(usage_str, "bad option");
		}
	}
	if (argc - optind != 1)
		usage_error(usage_str, "expected one REV");
	if (fmt == BUNDLE_SQLITE && !output)
		usage_error(usage_str, "--format sqlite needs -o DIR");

	open_store_or_die(dir, &store, &odb);
	if (resolve_rev(odb, argv[optind], &tip, &err) < 0)
		die_err(&err);
	if (since_arg && resolve_rev(odb, since_arg, &since, &err) < 0)
		die_err(&err);
	if (bundle_chain(odb, &tip, since_arg ? &since : NULL, &ids, &nr, &err) < 0)
		die_err(&err);
	if (fmt == BUNDLE_SQLITE)
		export_sqlite(ids, nr, output);
	else
		export_json(ids, nr, fmt == BUNDLE_JSONL, wire, output);
	free(ids);
	odb_close(odb);
	store_release(&store);
	return finish_stdout(0);
}
