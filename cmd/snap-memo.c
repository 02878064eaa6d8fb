/*
 * snap-memo: a keyed result cache with single-flight runs.  The first
 * caller of a key runs the command and stores what it printed and its
 * exit status; every later or concurrent caller prints the stored result.
 */
#include "error.h"
#include "memo.h"
#include "odb.h"
#include "refs.h"
#include "spool.h"
#include "store.h"
#include "usage.h"
#include "util.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char usage_str[] =
"usage: snap-memo [--key KEY | --key-from FILE...] [--timeout S] [--cache-failures] -- CMD [ARGS...]\n"
"   or: snap-memo (--get | --has | --delete | --put) KEY\n"
"   or: snap-memo (--list | --stats) [--json]\n"
"   or: snap-memo --batch\n"
"\n"
"Runs CMD once per key and keeps its standard output and exit status in\n"
"the store (refs/memo/KEY); a caller with a key already stored, or one\n"
"that waited for a concurrent caller of the same key, prints the stored\n"
"output and exits with the stored status.  The key defaults to the hash\n"
"of CMD's arguments and of the --key-from files' contents.\n"
"\n"
"  --key KEY          the key (1 to 128 of A-Z a-z 0-9 . _ -)\n"
"  --key-from FILE    add FILE's content to the default key (repeatable)\n"
"  --timeout S        wait at most S seconds for a concurrent caller\n"
"                     (default 3600); a claim of another host older than\n"
"                     S is taken over\n"
"  --cache-failures   keep a result whose status is not 0 as well\n"
"  --get KEY          print KEY's stored output, exit 0 (1 if none)\n"
"  --has KEY          exit 0 if KEY is stored, 1 if not\n"
"  --delete KEY       remove KEY's entry (exit 1 if none)\n"
"  --put KEY          store standard input as KEY's output, status 0\n"
"  --list             every entry: key, status, size, time\n"
"  --stats            entries, bytes, hits, misses, hit rate; per key\n"
"  --batch            lines 'get KEY' or 'put KEY SIZE' + SIZE bytes on stdin\n"
"  --json             --list and --stats as JSON, one object a line\n"
"  --store DIR        the store (default $SNAP_DIR, else .snap above)\n";

static struct snap_store store;
static struct odb *odb;

/* Copies KEY's stored output to standard output, verified. */
static void print_output(const struct memo_entry *e)
{
	struct strbuf err = STRBUF_INIT;
	struct odb_stream *st;
	enum object_type type;
	uint64_t size;
	char buf[65536];
	size_t got;

	if (odb_stream_open(odb, &e->output, &st, &type, &size, &err) < 0)
		die_err(&err);
	for (;;) {
		if (odb_stream_read(st, buf, sizeof(buf), &got, &err) < 0)
			die_err(&err);
		if (!got)
			break;
		xfwrite(buf, got);
	}
	odb_stream_close(st);
}

static void count(const char *key, int hit)
{
	struct strbuf err = STRBUF_INIT;

	if (memo_count(&store, key, hit, &err) < 0)
		warning("%s", err.buf);
	strbuf_release(&err);
}

/* A hit: the stored output, then the stored status. */
static _Noreturn void replay(const char *key, const struct memo_entry *e)
{
	count(key, 1);
	print_output(e);
	exit(finish_stdout(e->status));
}

static int lookup(const char *key, struct memo_entry *e)
{
	struct strbuf err = STRBUF_INIT;
	int ret = memo_get(odb, key, e, &err);

	if (ret < 0 && ret != SNAP_ENOTFOUND)
		die_err(&err);
	strbuf_release(&err);
	return ret == 0;
}

/* A file in objects/tmp, already unlinked: gone with its descriptor. */
static int tmp_fd(void)
{
	struct strbuf dir = STRBUF_INIT, path = STRBUF_INIT;
	int fd;

	store_path(&store, &dir, "objects/tmp");
	strbuf_addf(&path, "%s/memo-XXXXXX", dir.buf);
	fd = mkstemp(path.buf);
	if (fd < 0)
		die("cannot create a temporary file in '%s': %s", dir.buf, strerror(errno));
	unlink(path.buf);
	strbuf_release(&dir);
	strbuf_release(&path);
	return fd;
}

/* Runs argv with its standard output into a file in objects/tmp. */
static int run_command(char **argv, int *out_fd, uint64_t *size)
{
	struct stat st;
	pid_t pid, parent;
	int fd = tmp_fd(), status;

	fflush(stdout);
	parent = getpid();
	pid = fork();
	if (pid < 0)
		die("cannot run '%s': %s", argv[0], strerror(errno));
	if (!pid) {
		/*
		 * The command dies with its caller: a killed claimant must not
		 * leave it running (a second copy would start beside it, and
		 * it would go on filling an unlinked file in the store).
		 */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
			_exit(128 + SIGKILL);
		unsetenv("SNAP_PROGRAM");
		if (dup2(fd, 1) < 0)
			_exit(127);
		close(fd);
		execvp(argv[0], argv);
		fprintf(stderr, "%s: fatal: cannot run '%s': %s\n", snap_progname, argv[0],
			strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			die("cannot wait for '%s': %s", argv[0], strerror(errno));
	if (fstat(fd, &st) < 0 || lseek(fd, 0, SEEK_SET) < 0)
		die("cannot read the output of '%s': %s", argv[0], strerror(errno));
	*out_fd = fd;
	*size = (uint64_t)st.st_size;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

static void copy_fd(int fd)
{
	char buf[65536];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		xfwrite(buf, (size_t)n);
	if (n < 0)
		die("cannot read the command's output: %s", strerror(errno));
}

static int run_memo(const char *key, char **argv, double timeout, int cache_failures)
{
	struct strbuf err = STRBUF_INIT, cmd = STRBUF_INIT;
	struct memo_claim claim;
	struct memo_entry e;
	uint64_t size;
	int fd, status, i;

	if (lookup(key, &e))
		replay(key, &e);
	if (memo_claim(&store, key, timeout, &claim, &err) < 0)
		die_err(&err);
	/* The caller before us may have stored it while we waited. */
	if (lookup(key, &e)) {
		memo_release(&claim);
		replay(key, &e);
	}
	count(key, 0);
	status = run_command(argv, &fd, &size);
	/* Killed by a signal: never kept, whatever --cache-failures says. */
	if (status == 0 || (cache_failures && status < 128)) {
		for (i = 0; argv[i]; i++)
			strbuf_addf(&cmd, "%s%s", i ? " " : "", argv[i]);
		if (memo_put(odb, key, fd, size, status, cmd.buf, 0, &e, &err) < 0) {
			if (err.len && !strstr(err.buf, "already exists"))
				warning("result not kept: %s", err.buf);
		}
		if (lseek(fd, 0, SEEK_SET) < 0)
			die("cannot read the command's output: %s", strerror(errno));
	}
	memo_release(&claim);
	copy_fd(fd);
	close(fd);
	strbuf_release(&cmd);
	strbuf_release(&err);
	return finish_stdout(status);
}

static void check_key(const char *key)
{
	struct strbuf err = STRBUF_INIT;

	if (memo_key_check(key, &err) < 0)
		usage_error(usage_str, "%s", err.buf);
}

/* --put: standard input, spooled to learn its size, as KEY's output. */
static int do_put(const char *key)
{
	struct strbuf err = STRBUF_INIT, dir = STRBUF_INIT;
	struct memo_entry e;
	uint64_t size;
	int fd;

	store_path(&store, &dir, "objects/tmp");
	if (spool_fd(0, dir.buf, "standard input", &fd, &size, &err) < 0 ||
	    memo_put(odb, key, fd, size, 0, NULL, 1, &e, &err) < 0)
		die_err(&err);
	close(fd);
	strbuf_release(&dir);
	return 0;
}

static void add_json_key(struct strbuf *out, const char *key)
{
	strbuf_addf(out, "\"%s\"", key);	/* keys are checked: no escaping needed */
}

static int each_entry(const char *name, const struct snap_oid *oid, void *data)
{
	struct strbuf err = STRBUF_INIT, out = STRBUF_INIT;
	const char *key = name + strlen("refs/memo/");
	int *json = data;
	struct memo_entry e;

	if (!oid || memo_get(odb, key, &e, &err) < 0) {
		warning("memo entry '%s' is unreadable%s%s", key, err.len ? ": " : "", err.buf);
		strbuf_release(&err);
		return 0;
	}
	if (*json) {
		strbuf_addstr(&out, "{\"key\":");
		add_json_key(&out, key);
		strbuf_addf(&out, ",\"status\":%d,\"size\":%" PRIu64 ",\"time\":%" PRId64
			    ",\"snapshot\":\"%s\"}\n", e.status, e.size, e.time,
			    oid_to_hex(&e.snapshot));
	} else {
		strbuf_addf(&out, "%s %d %" PRIu64 " %" PRId64 "\n", key, e.status, e.size, e.time);
	}
	xfwrite(out.buf, out.len);
	strbuf_release(&out);
	return 0;
}

struct totals {
	uint64_t entries, bytes;
};

static int add_total(const char *name, const struct snap_oid *oid, void *data)
{
	struct strbuf err = STRBUF_INIT;
	struct totals *t = data;
	struct memo_entry e;

	if (oid && memo_get(odb, name + strlen("refs/memo/"), &e, &err) == 0) {
		t->entries++;
		t->bytes += e.size;
	}
	strbuf_release(&err);
	return 0;
}

static int do_stats(int json)
{
	struct strbuf err = STRBUF_INIT, out = STRBUF_INIT;
	struct memo_stats_row *rows;
	struct totals t = { 0, 0 };
	uint64_t hits = 0, misses = 0;
	size_t nr, i;

	if (refs_for_each(&store, "refs/memo/", add_total, &t, &err) < 0 ||
	    memo_stats(&store, &rows, &nr, &err) < 0)
		die_err(&err);
	for (i = 0; i < nr; i++) {
		hits += rows[i].hits;
		misses += rows[i].misses;
	}
	if (json) {
		strbuf_addf(&out, "{\"entries\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"hits\":%" PRIu64
			    ",\"misses\":%" PRIu64 ",\"hit_rate\":%.4f}\n", t.entries, t.bytes,
			    hits, misses, hits + misses ? (double)hits / (double)(hits + misses) : 0.0);
		for (i = 0; i < nr; i++) {
			strbuf_addstr(&out, "{\"key\":");
			add_json_key(&out, rows[i].key);
			strbuf_addf(&out, ",\"hits\":%" PRIu64 ",\"misses\":%" PRIu64
				    ",\"accesses\":%" PRIu64 ",\"last_access\":%" PRId64 "}\n",
				    rows[i].hits, rows[i].misses, rows[i].hits + rows[i].misses,
				    rows[i].last_access);
		}
	} else {
		strbuf_addf(&out, "entries %" PRIu64 "\nbytes %" PRIu64 "\nhits %" PRIu64
			    "\nmisses %" PRIu64 "\nhit-rate %.4f\n", t.entries, t.bytes, hits, misses,
			    hits + misses ? (double)hits / (double)(hits + misses) : 0.0);
		for (i = 0; i < nr; i++)
			strbuf_addf(&out, "key %s %" PRIu64 " %" PRIu64 " %" PRId64 "\n", rows[i].key,
				    rows[i].hits, rows[i].misses, rows[i].last_access);
	}
	xfwrite(out.buf, out.len);
	free(rows);
	strbuf_release(&out);
	return finish_stdout(0);
}

/* One line of a batch. */
struct batch_op {
	char *key;
	long line;
	int put;		/* else a get */
	uint64_t offset, size;	/* a put's bytes in the spool */
	size_t from;		/* a get: 1 + the put of key before it in the batch, or 0 */
	int stored;		/* a put: the last of its key, the one stored */
	int found;		/* a get of an entry already stored: e */
	struct memo_entry e;
};

static int cmp_op(const void *a, const void *b)
{
	const struct batch_op *x = *(struct batch_op *const *)a, *y = *(struct batch_op *const *)b;
	int c = strcmp(x->key, y->key);

	return c ? c : (x->line > y->line) - (x->line < y->line);
}

/* size bytes of the spool from off, to the descriptor to (-1: standard output). */
static void copy_range(int spool, uint64_t off, uint64_t size, int to)
{
	char buf[65536];

	while (size) {
		size_t want = size < sizeof(buf) ? (size_t)size : sizeof(buf);
		ssize_t n = pread(spool, buf, want, (off_t)off);

		if (n <= 0)
			die("cannot read the batch's spool: %s", n ? strerror(errno) : "it ended early");
		if (to < 0)
			xfwrite(buf, (size_t)n);
		else if (write(to, buf, (size_t)n) != n)
			die("cannot write a temporary file: %s", strerror(errno));
		off += (uint64_t)n;
		size -= (uint64_t)n;
	}
}

/* Reads and checks one line (and a put's bytes, into the spool). */
static void batch_parse(struct strbuf *line, long lineno, int spool, uint64_t *spooled,
			struct batch_op *op)
{
	struct strbuf err = STRBUF_INIT;
	char *sp = strchr(line->buf, ' ');

	memset(op, 0, sizeof(*op));
	op->line = lineno;
	if (memchr(line->buf, '\0', line->len))
		die("batch line %ld: holds a NUL byte", lineno);
	if (!sp)
		die("batch line %ld: want 'get KEY' or 'put KEY SIZE'", lineno);
	*sp = '\0';
	if (!strcmp(line->buf, "put")) {
		char *sp2 = strchr(sp + 1, ' ');

		if (!sp2 || parse_u64(sp2 + 1, &op->size) < 0 || op->size > (1u << 30) ||
		    (sp2[1] == '0' && sp2[2]))
			die("batch line %ld: want 'put KEY SIZE' (SIZE up to 1 GiB)", lineno);
		*sp2 = '\0';
		op->put = 1;
	} else if (strcmp(line->buf, "get")) {
		die("batch line %ld: unknown command '%s'", lineno, line->buf);
	}
	if (memo_key_check(sp + 1, &err) < 0)
		die("batch line %ld: %s", lineno, err.buf);
	op->key = xstrdup(sp + 1);
	if (op->put) {
		char buf[65536];
		uint64_t left;

		op->offset = *spooled;
		for (left = op->size; left; ) {
			size_t want = left < sizeof(buf) ? (size_t)left : sizeof(buf);

			if (fread(buf, 1, want, stdin) != want)
				die("batch line %ld: standard input ended inside %" PRIu64 " bytes of '%s'",
				    lineno, op->size, op->key);
			if (write(spool, buf, want) != (ssize_t)want)
				die("cannot write a temporary file: %s", strerror(errno));
			left -= want;
		}
		*spooled += op->size;
	}
}

/*
 * --batch: "get KEY" prints "KEY SIZE STATUS\n" + SIZE bytes + "\n", or
 * "KEY missing\n"; "put KEY SIZE\n" + SIZE bytes stores them and prints
 * "KEY stored\n".  One transaction: every line is read and checked first
 * (a bad one ends the batch with nothing written or printed), then the
 * last put of each key is stored and all their refs move at once; a get
 * answers as of its place in the batch.
 */
static int do_batch(void)
{
	struct strbuf line = STRBUF_INIT, err = STRBUF_INIT;
	struct batch_op *ops = NULL, **sorted;
	const char **keys;
	struct memo_entry *entries;
	size_t nr = 0, alloc = 0, nr_put = 0, i;
	uint64_t spooled = 0;
	int spool = tmp_fd();

	while (strbuf_getline(&line, stdin, '\n') == 0) {
		ALLOC_GROW(ops, nr + 1, alloc);
		batch_parse(&line, (long)nr + 1, spool, &spooled, &ops[nr]);
		nr++;
	}
	/* Each key's lines in order: which put a get sees, which put is stored. */
	sorted = xcalloc(nr ? nr : 1, sizeof(*sorted));
	for (i = 0; i < nr; i++)
		sorted[i] = &ops[i];
	qsort(sorted, nr, sizeof(*sorted), cmp_op);
	for (i = 0; i < nr; i++) {
		struct batch_op *prev = i ? sorted[i - 1] : NULL;
		int same = prev && !strcmp(prev->key, sorted[i]->key);
		size_t last_put = same ? (prev->put ? (size_t)(prev - ops) + 1 : prev->from) : 0;

		if (sorted[i]->put) {
			if (last_put)
				ops[last_put - 1].stored = 0;
			sorted[i]->stored = 1;
		}
		sorted[i]->from = last_put;
	}
	keys = xcalloc(nr ? nr : 1, sizeof(*keys));
	entries = xcalloc(nr ? nr : 1, sizeof(*entries));
	for (i = 0; i < nr; i++) {
		struct batch_op *op = &ops[i];

		if (op->put && op->stored) {
			int fd = tmp_fd();

			copy_range(spool, op->offset, op->size, fd);
			if (lseek(fd, 0, SEEK_SET) < 0 ||
			    memo_write(odb, op->key, fd, op->size, 0, NULL, &entries[nr_put], &err) < 0)
				die_err(&err);
			close(fd);
			keys[nr_put++] = op->key;
		} else if (!op->put && !op->from) {
			op->found = lookup(op->key, &op->e);
		}
	}
	if (memo_commit(odb, keys, entries, nr_put, &err) < 0)
		die_err(&err);
	for (i = 0; i < nr; i++) {
		struct batch_op *op = &ops[i];

		if (op->put) {
			printf("%s stored\n", op->key);
		} else if (op->from) {
			const struct batch_op *put = &ops[op->from - 1];

			count(op->key, 1);
			printf("%s %" PRIu64 " 0\n", op->key, put->size);
			copy_range(spool, put->offset, put->size, -1);
			putchar('\n');
		} else if (op->found) {
			count(op->key, 1);
			printf("%s %" PRIu64 " %d\n", op->key, op->e.size, op->e.status);
			print_output(&op->e);
			putchar('\n');
		} else {
			printf("%s missing\n", op->key);
		}
		free(op->key);
	}
	close(spool);
	free(ops);
	free(sorted);
	free(keys);
	free(entries);
	strbuf_release(&line);
	return finish_stdout(0);
}

int main(int argc, char **argv)
{
	enum { RUN, GET, HAS, DEL, PUT, LIST, STATS, BATCH } mode = RUN;
	static const struct option opts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "key-from", required_argument, NULL, 'f' },
		{ "timeout", required_argument, NULL, 't' },
		{ "cache-failures", no_argument, NULL, 'c' },
		{ "get", required_argument, NULL, 'G' },
		{ "has", required_argument, NULL, 'H' },
		{ "delete", required_argument, NULL, 'D' },
		{ "put", required_argument, NULL, 'P' },
		{ "list", no_argument, NULL, 'L' },
		{ "stats", no_argument, NULL, 'T' },
		{ "batch", no_argument, NULL, 'B' },
		{ "json", no_argument, NULL, 'j' },
		{ "store", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct strbuf err = STRBUF_INIT, key = STRBUF_INIT;
	char **files = NULL;
	size_t nr_files = 0, alloc_files = 0;
	const char *dir = NULL, *given = NULL;
	double timeout = 3600;
	int cache_failures = 0, json = 0, modes = 0, c;
	struct memo_entry e;

	usage_setup(argv[0]);
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 'k': given = optarg; break;
		case 'f':
			ALLOC_GROW(files, nr_files + 1, alloc_files);
			files[nr_files++] = optarg;
			break;
		case 't':
			if (parse_decimal(optarg, &timeout) < 0 || timeout > 1e9)
				usage_error(usage_str, "--timeout takes seconds, not '%s'", optarg);
			break;
		case 'c': cache_failures = 1; break;
		case 'G': mode = GET; given = optarg; modes++; break;
		case 'H': mode = HAS; given = optarg; modes++; break;
		case 'D': mode = DEL; given = optarg; modes++; break;
		case 'P': mode = PUT; given = optarg; modes++; break;
		case 'L': mode = LIST; modes++; break;
		case 'T': mode = STATS; modes++; break;
		case 'B': mode = BATCH; modes++; break;
		case 'j': json = 1; break;
		case 'S': dir = optarg; break;
		case 'h': usage_help(usage_str);
		default: usage_error(usage_str, "bad option");
		}
	}
	if (modes > 1)
		usage_error(usage_str, "give one of --get, --has, --delete, --put, --list, --stats, --batch");
	if (mode == RUN && optind == argc)
		usage_error(usage_str, "no command given (snap-memo [OPTIONS] -- CMD [ARGS...])");
	if (mode != RUN && optind < argc)
		usage_error(usage_str, "no command is run with --get, --has, --delete, --put, --list, --stats or --batch");
	if (given && nr_files)
		usage_error(usage_str, "--key and --key-from cannot be combined");
	if (json && mode != LIST && mode != STATS)
		usage_error(usage_str, "--json goes with --list or --stats");
	if (given)
		check_key(given);

	open_store_or_die(dir, &store, &odb);
	switch (mode) {
	case RUN:
		if (given)
			strbuf_addstr(&key, given);
		else if (memo_key_compute(argv + optind, files, nr_files, &key, &err) < 0)
			die_err(&err);
		return run_memo(key.buf, argv + optind, timeout, cache_failures);
	case GET:
		if (!lookup(given, &e))
			return EXIT_NO;
		count(given, 1);
		print_output(&e);
		return finish_stdout(0);
	case HAS:
		return lookup(given, &e) ? 0 : EXIT_NO;
	case DEL: {
		int ret = memo_delete(odb, given, &err);

		if (ret == SNAP_ENOTFOUND)
			return EXIT_NO;
		if (ret < 0)
			die_err(&err);
		return 0;
	}
	case PUT:
		do_put(given);
		return 0;
	case LIST:
		if (refs_for_each(&store, "refs/memo/", each_entry, &json, &err) < 0)
			die_err(&err);
		return finish_stdout(0);
	case STATS:
		return do_stats(json);
	case BATCH:
		return do_batch();
	}
	return 0;
}
