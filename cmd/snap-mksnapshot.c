/*
 * snap-mksnapshot: writes a snapshot object from a tree, parents, time,
 * host, metadata and message.  Deterministic: the same inputs give the
 * same id.
 */
#include "error.h"
#include "odb.h"
#include "revision.h"
#include "snapshot.h"
#include "store.h"
#include "usage.h"
#include "util.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char usage_str[] =
"usage: snap-mksnapshot [-p PARENT]... [-m MSG | -F FILE] [--meta KEY=VALUE]...\n"
"                       [--time TIME] [--host HOST] [--problems FILE] TREE\n"
"\n"
"Writes a snapshot of TREE and prints its id.  TREE and each PARENT are\n"
"parsed first; a malformed one is refused.\n"
"\n"
"  -p, --parent REV    a parent snapshot (repeatable, in order)\n"
"  -m, --message MSG   the message (a final newline is added if missing)\n"
"  -F, --file FILE     read the message from FILE ('-': standard input)\n"
"  --meta KEY=VALUE    a metadata line (repeatable, kept in order)\n"
"  --time TIME         SECONDS [+hhmm], @SECONDS, YYYY-MM-DD[THH:MM[:SS]][Z|+HH:MM]\n"
"                      or YYYY-MM-DD_HH-MM-SS[-FRACTION]\n"
"                      (default $SNAP_TIME, else now in the local zone)\n"
"  --host HOST         the host (default $SNAP_HOST, else this host's name)\n"
"  --problems FILE     mark the snapshot incomplete, listing the problems\n"
"                      in FILE (\"REASON PATH\" lines of snap-write-tree)\n"
"  --store DIR         the store (default $SNAP_DIR, else .snap above)\n";

#define MESSAGE_MAX (1u << 20)
/* Longest line of a problems file (a path of PATH_MAX bytes, escaped). */
#define PROBLEM_LINE_MAX (64u << 10)

/* Adds the problems listed in file, one "REASON PATH" a line. */
static void read_problems(struct snapshot *s, const char *file)
{
	struct strbuf err = STRBUF_INIT;
	FILE *in = fopen(file, "r");
	char *line = NULL;
	size_t alloc = 0, lineno = 0;
	ssize_t n;

	if (!in)
		die("cannot open '%s': %s", file, strerror(errno));
	while ((n = getline(&line, &alloc, in)) > 0) {
		lineno++;
		if (line[n - 1] != '\n' || (size_t)n > PROBLEM_LINE_MAX)
			die("'%s' line %zu: not a whole line of at most %u bytes", file, lineno,
			    PROBLEM_LINE_MAX);
		if (snapshot_add_problem(s, line, (size_t)n - 1, &err) < 0)
			die("'%s' line %zu: %s", file, lineno, err.buf);
	}
	if (ferror(in))
		die("cannot read '%s': %s", file, strerror(errno));
	fclose(in);
	free(line);
	strbuf_release(&err);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "parent", required_argument, NULL, 'p' },
		{ "message", required_argument, NULL, 'm' },
		{ "file", required_argument, NULL, 'F' },
		{ "meta", required_argument, NULL, 'M' },
		{ "time", required_argument, NULL, 't' },
		{ "host", required_argument, NULL, 'H' },
		{ "problems", required_argument, NULL, 'P' },
		{ "store", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct strbuf err = STRBUF_INIT, msg = STRBUF_INIT, buf = STRBUF_INIT;
	struct snapshot s = SNAPSHOT_INIT;
	struct snap_store store;
	struct snap_oid oid;
	struct odb *odb;
	const char **parents = NULL, *time_arg = NULL, *host = NULL, *dir = NULL;
	const char *msg_arg = NULL, *msg_file = NULL, *problems = NULL;
	char **metas = NULL;
	size_t nr_parents = 0, alloc_parents = 0, nr_metas = 0, alloc_metas = 0, i;
	int c, ret;

	usage_setup(argv[0]);
	while ((c = getopt_long(argc, argv, "p:m:F:h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			ALLOC_GROW(parents, nr_parents + 1, alloc_parents);
			parents[nr_parents++] = optarg;
			break;
		case 'm': msg_arg = optarg; break;
		case 'F': msg_file = optarg; break;
		case 'M':
			ALLOC_GROW(metas, nr_metas + 1, alloc_metas);
			metas[nr_metas++] = optarg;
			break;
		case 't': time_arg = optarg; break;
		case 'H': host = optarg; break;
		case 'P': problems = optarg; break;
		case 'S': dir = optarg; break;
		case 'h': usage_help(usage_str);
		default: usage_error(usage_str, "bad option");
		}
	}
	if (argc - optind != 1)
		usage_error(usage_str, "expected one TREE");
	if (msg_arg && msg_file)
		usage_error(usage_str, "-m and -F cannot be combined");

	if (snapshot_set_origin(&s, time_arg, host, SNAPSHOT_ORIGIN_NOW, &err) < 0)
		die_err(&err);
	for (i = 0; i < nr_metas; i++)
		if (snapshot_add_meta(&s, metas[i], &err) < 0)
			die_err(&err);
	if (problems)
		read_problems(&s, problems);
	if (msg_file) {
		int r = !strcmp(msg_file, "-") ? strbuf_read_fd(&msg, 0, MESSAGE_MAX)
					       : strbuf_read_file(&msg, msg_file, MESSAGE_MAX);
		if (r == SNAP_ETOOBIG)
			die("message in '%s' is too long (at most %u bytes)", msg_file, MESSAGE_MAX);
		if (r < 0)
			die("cannot read '%s': %s", msg_file, strerror(errno));
	} else if (msg_arg) {
		strbuf_addstr(&msg, msg_arg);
	}
	if (memchr(msg.buf, '\0', msg.len))
		die("the message contains a NUL byte");
	if (msg.len && msg.buf[msg.len - 1] != '\n')
		strbuf_addch(&msg, '\n');
	s.message = strbuf_detach(&msg, NULL);

	open_store_or_die(dir, &store, &odb);
	if (resolve_rev(odb, argv[optind], &s.tree, &err) < 0)
		die_err(&err);
	/* What the snapshot links to is parsed as every reader will. */
	if (snapshot_check_link(odb, &s.tree, OBJ_TREE, argv[optind], &err) < 0)
		die_err(&err);
	for (i = 0; i < nr_parents; i++) {
		strbuf_reset(&err);
		if (resolve_rev(odb, parents[i], &oid, &err) < 0)
			die_err(&err);
		if (snapshot_check_link(odb, &oid, OBJ_SNAPSHOT, parents[i], &err) < 0)
			die_err(&err);
		snapshot_add_parent(&s, &oid);
	}
	ret = snapshot_encode(&s, &buf, &err);
	if (ret == 0)
		ret = odb_write_buf(odb, OBJ_SNAPSHOT, buf.buf, buf.len, &oid, &err);
	if (ret < 0)
		die_err(&err);
	printf("%s\n", oid_to_hex(&oid));
	snapshot_release(&s);
	strbuf_release(&buf);
	free(parents);
	free(metas);
	odb_close(odb);
	store_release(&store);
	return finish_stdout(0);
}
