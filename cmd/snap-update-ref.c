/*
 * snap-update-ref: moves, creates and deletes refs with compare-and-swap,
 * one at a time or as a transaction read from standard input.
 */
#include "error.h"
#include "fsio.h"
#include "odb.h"
#include "refs.h"
#include "revision.h"
#include "statcache.h"
#include "store.h"
#include "usage.h"
#include "util.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_str[] =
"usage: snap-update-ref [-m REASON] REF NEW [OLD]\n"
"   or: snap-update-ref [-m REASON] -d REF [OLD]\n"
"   or: snap-update-ref [-m REASON] --stdin [-z]\n"
"\n"
"Sets REF to NEW if it holds OLD (64 zeros: if it does not exist).\n"
"REF is a full name (refs/...) or NAME for refs/snapshots/NAME.\n"
"\n"
"  -m REASON   the reason recorded in the reflog\n"
"  -d          delete REF (and its reflog)\n"
"  --stdin     read commands: update REF NEW [OLD], create REF NEW,\n"
"              delete REF [OLD], verify REF [OLD], start, prepare,\n"
"              commit, abort; all of them commit together\n"
"  -z          with --stdin: NUL-terminated fields\n"
"  --store DIR the store (default $SNAP_DIR, else .snap above)\n";

static struct odb *odb;
/* The --stdin transaction under way: released by whatever way we exit. */
static struct ref_transaction *pending;
static struct snap_store store;

/* The refs the pending transaction deletes, for drop_caches(). */
static char **gone;
static size_t nr_gone, alloc_gone;

static void forget_gone(void)
{
	while (nr_gone)
		free(gone[--nr_gone]);
}

/*
 * A deleted ref's stat cache (cache/<ref>) serves no snapshot any more
 * and would stand in the way of a ref below its name: it goes with it.
 */
static void drop_caches(void)
{
	struct strbuf path = STRBUF_INIT, err = STRBUF_INIT;
	size_t i;

	for (i = 0; i < nr_gone; i++)
		if (stat_cache_path(&store, gone[i], &path, &err) == 0 &&
		    fsio_unlink(path.buf) < 0 && errno != ENOENT)
			warning("cannot remove the stat cache '%s': %s", path.buf, strerror(errno));
	forget_gone();
	strbuf_release(&path);
	strbuf_release(&err);
}

static void release_pending(void)
{
	ref_transaction_abort(pending);
	pending = NULL;
	forget_gone();
}

/*
 * Ends the run on a failed ref call: exit 1 when the answer is "no" (the
 * ref moved, exists already, or is locked), else 128.  The message is the
 * same "fatal: ..." line either way.
 */
static _Noreturn void fail(int ret, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static _Noreturn void fail(int ret, const char *fmt, ...)
{
	struct strbuf msg = STRBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	strbuf_vaddf(&msg, fmt, ap);
	va_end(ap);
	if (ret != SNAP_EEXISTS && ret != SNAP_ELOCKED)
		die("%s", msg.buf);
	fflush(stdout);
	fprintf(stderr, "%s: fatal: %s\n", snap_progname, msg.buf);
	strbuf_release(&msg);
	exit(finish_stdout(EXIT_NO));
}

/* An OLD or NEW value: 64 zeros, a full id, or any revision. */
static int parse_value(const char *arg, struct snap_oid *oid, struct strbuf *err)
{
	if (strlen(arg) == SNAP_OID_HEXSZ && oid_from_hex(oid, arg) == 0)
		return 0;
	return resolve_rev(odb, arg, oid, err);
}

struct reader {
	FILE *in;
	int z;
	size_t lineno;
	struct strbuf line;
	char *fields[4];
	int nr;
};

/* Reads one command with its fields.  Returns 0, or -1 at end of input. */
static int read_command(struct reader *r)
{
	int i;

	for (i = 0; i < r->nr; i++)
		free(r->fields[i]);
	r->nr = 0;
	if (strbuf_getline(&r->line, r->in, r->z ? '\0' : '\n') < 0)
		return -1;
	r->lineno++;
	if (!r->z) {
		char *p = r->line.buf, *sp;

		/* A NUL would cut the line short unseen: refuse, as git does. */
		if (memchr(r->line.buf, '\0', r->line.len))
			die("line %zu: holds a NUL byte (use -z for NUL-separated input)", r->lineno);

		while (*p && r->nr < 4) {
			sp = strchrnul(p, ' ');
			r->fields[r->nr++] = xstrndup(p, (size_t)(sp - p));
			p = *sp ? sp + 1 : sp;
		}
		if (*p)
			die("line %zu: too many fields", r->lineno);
		return 0;
	}
	/* -z: "<verb> SP <ref>" NUL, then each value NUL-terminated. */
	{
		char *sp = strchr(r->line.buf, ' ');
		int want, k;

		r->fields[r->nr++] = xstrndup(r->line.buf, sp ? (size_t)(sp - r->line.buf) : r->line.len);
		if (!sp)
			return 0;
		r->fields[r->nr++] = xstrdup(sp + 1);
		want = !strcmp(r->fields[0], "update") ? 2 : !strcmp(r->fields[0], "create") ? 1 : 1;
		for (k = 0; k < want; k++) {
			if (strbuf_getline(&r->line, r->in, '\0') < 0)
				die("command %zu: missing value", r->lineno);
			if (r->line.len)
				r->fields[r->nr++] = xstrdup(r->line.buf);
		}
	}
	return 0;
}

static int run_stdin(int z, const char *reason)
{
	struct reader r = { stdin, z, 0, STRBUF_INIT, { NULL }, 0 };
	struct strbuf err = STRBUF_INIT;
	int explicit = 0, prepared = 0;

	while (read_command(&r) == 0) {
		const char *verb = r.nr ? r.fields[0] : "";
		struct snap_oid new_oid, old_oid;
		int has_old = 0, ret = 0, nargs = r.nr - 1;
		char *name;

		if (!strcmp(verb, "start")) {
			if (pending || nargs)
				die("line %zu: 'start' inside a transaction or with arguments", r.lineno);
			pending = ref_transaction_begin(odb);
			explicit = 1;
			puts("start: ok");
			fflush(stdout);
			continue;
		}
		if (!strcmp(verb, "prepare") || !strcmp(verb, "commit") || !strcmp(verb, "abort")) {
			if (!pending)
				pending = ref_transaction_begin(odb);
			if (!strcmp(verb, "abort")) {
				release_pending();
			} else if (!strcmp(verb, "prepare")) {
				ret = ref_transaction_prepare(pending, &err);
				if (ret < 0)
					fail(ret, "line %zu: %s", r.lineno, err.buf);
				prepared = 1;
			} else {
				struct ref_transaction *tx = pending;

				/* commit frees tx, whatever it returns */
				pending = NULL;
				ret = ref_transaction_commit(tx, &err);
				if (ret < 0)
					fail(ret, "line %zu: %s", r.lineno, err.buf);
				drop_caches();
			}
			printf("%s: ok\n", verb);
			fflush(stdout);
			if (strcmp(verb, "prepare"))
				explicit = prepared = 0;
			continue;
		}
		if (prepared)
			die("line %zu: '%s' after 'prepare'", r.lineno, verb);
		if (!pending)
			pending = ref_transaction_begin(odb);
		if (nargs < 1)
			die("line %zu: '%s' needs a ref", r.lineno, verb);
		name = ref_full_name(r.fields[1]);
		if (!strcmp(verb, "update") && (nargs == 2 || nargs == 3)) {
			ret = parse_value(r.fields[2], &new_oid, &err);
			if (ret == 0 && nargs == 3 && (ret = parse_value(r.fields[3], &old_oid, &err)) == 0)
				has_old = 1;
			if (ret == 0)
				ret = ref_transaction_add(pending, name, &new_oid, has_old ? &old_oid : NULL,
							  0, reason, &err);
		} else if (!strcmp(verb, "create") && nargs == 2) {
			ret = parse_value(r.fields[2], &new_oid, &err);
			if (ret == 0)
				ret = ref_transaction_add(pending, name, &new_oid, &snap_null_oid, 0,
							  reason, &err);
		} else if ((!strcmp(verb, "delete") || !strcmp(verb, "verify")) &&
			   (nargs == 1 || nargs == 2)) {
			if (nargs == 2 && (ret = parse_value(r.fields[2], &old_oid, &err)) == 0)
				has_old = 1;
			if (ret == 0)
				ret = ref_transaction_add(pending, name, NULL, has_old ? &old_oid : NULL,
							  !strcmp(verb, "verify"), reason, &err);
			if (ret == 0 && !strcmp(verb, "delete")) {
				ALLOC_GROW(gone, nr_gone + 1, alloc_gone);
				gone[nr_gone++] = xstrdup(name);
			}
		} else {
			die("line %zu: bad command '%s'", r.lineno, r.line.buf);
		}
		free(name);
		if (ret < 0)
			fail(ret, "line %zu: %s", r.lineno, err.buf);
	}
	if (explicit && pending)
		die("input ended inside a transaction (no 'commit' or 'abort'); nothing changed");
	if (pending) {
		struct ref_transaction *tx = pending;
		int ret;

		pending = NULL;
		ret = ref_transaction_commit(tx, &err);
		if (ret < 0)
			fail(ret, "%s", err.buf);
		drop_caches();
	}
	strbuf_release(&r.line);
	strbuf_release(&err);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "stdin", no_argument, NULL, 'i' },
		{ "store", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct strbuf err = STRBUF_INIT;
	struct snap_oid new_oid, old_oid;
	const char *reason = NULL, *dir = NULL;
	int del = 0, from_stdin = 0, z = 0, c, ret, nargs;
	char *name;

	usage_setup(argv[0]);
	while ((c = getopt_long(argc, argv, "m:dzh", opts, NULL)) != -1) {
		switch (c) {
		case 'm': reason = optarg; break;
		case 'd': del = 1; break;
		case 'z': z = 1; break;
		case 'i': from_stdin = 1; break;
		case 'S': dir = optarg; break;
		case 'h': usage_help(usage_str);
		default: usage_error(usage_str, "bad option");
		}
	}
	nargs = argc - optind;
	if (z && !from_stdin)
		usage_error(usage_str, "-z goes with --stdin");
	if (from_stdin && (del || nargs))
		usage_error(usage_str, "--stdin takes no other arguments");
	if (!from_stdin && (del ? nargs < 1 || nargs > 2 : nargs < 2 || nargs > 3))
		usage_error(usage_str, "wrong number of arguments");

	open_store_or_die(dir, &store, &odb);
	/* die() and fail() exit: the locks of a transaction go with us. */
	atexit(release_pending);
	if (from_stdin) {
		run_stdin(z, reason);
		goto out;
	}
	name = ref_full_name(argv[optind]);
	if (del) {
		if (nargs == 2 && parse_value(argv[optind + 1], &old_oid, &err) < 0)
			die_err(&err);
		ret = ref_delete(odb, name, nargs == 2 ? &old_oid : NULL, &err);
		if (ret == 0) {
			ALLOC_GROW(gone, nr_gone + 1, alloc_gone);
			gone[nr_gone++] = xstrdup(name);
			drop_caches();
		}
	} else {
		if (parse_value(argv[optind + 1], &new_oid, &err) < 0 ||
		    (nargs == 3 && parse_value(argv[optind + 2], &old_oid, &err) < 0))
			die_err(&err);
		ret = ref_update(odb, name, &new_oid, nargs == 3 ? &old_oid : NULL, reason, &err);
	}
	if (ret < 0)
		fail(ret, "%s", err.buf);
	free(name);
out:
	strbuf_release(&err);
	odb_close(odb);
	store_release(&store);
	return finish_stdout(0);
}
