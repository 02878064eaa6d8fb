/*
 * snap-sqlite-backup: a consistent copy of a live SQLite database, through
 * SQLite's online backup API, for snap-snapshot --sqlite.
 */
#include "usage.h"
#include "util.h"

#include <getopt.h>
#include <sqlite3.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage_str[] =
"usage: snap-sqlite-backup [--timeout MS] DB COPY\n"
"\n"
"Copies the SQLite database DB to the new file COPY, consistently, while\n"
"other connections may be writing DB: the copy is taken in one read\n"
"transaction (sqlite3_backup_step with -1), waiting up to MS milliseconds\n"
"(default 30000) for a lock.  DB is opened read-only.\n";

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	sqlite3 *src = NULL, *dst = NULL;
	sqlite3_backup *b;
	struct stat st;
	uint64_t timeout = 30000;
	int c, rc;

	usage_setup(argv[0]);
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (parse_u64(optarg, &timeout) < 0 || timeout > 3600000)
				usage_error(usage_str, "bad --timeout '%s'", optarg);
			break;
		case 'h': usage_help(usage_str);
		default: usage_error(usage_str, "bad option");
		}
	}
	if (argc - optind != 2)
		usage_error(usage_str, "expected DB and COPY");
	if (stat(argv[optind], &st) < 0 || !S_ISREG(st.st_mode))
		die("no database '%s'", argv[optind]);
	if (access(argv[optind + 1], F_OK) == 0)
		die("'%s' exists already", argv[optind + 1]);

	rc = sqlite3_open_v2(argv[optind], &src, SQLITE_OPEN_READONLY, NULL);
	if (rc != SQLITE_OK)
		die("cannot open database '%s': %s", argv[optind], sqlite3_errmsg(src));
	sqlite3_busy_timeout(src, (int)timeout);
	rc = sqlite3_open_v2(argv[optind + 1], &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc != SQLITE_OK)
		die("cannot create '%s': %s", argv[optind + 1], sqlite3_errmsg(dst));
	b = sqlite3_backup_init(dst, "main", src, "main");
	if (!b)
		die("cannot back up '%s': %s", argv[optind], sqlite3_errmsg(dst));
	/* -1: every page in one step, so one consistent read transaction. */
	while ((rc = sqlite3_backup_step(b, -1)) == SQLITE_BUSY || rc == SQLITE_LOCKED)
		sqlite3_sleep(20);
	sqlite3_backup_finish(b);
	if (rc != SQLITE_DONE) {
		unlink(argv[optind + 1]);
		die("cannot back up '%s': %s", argv[optind], sqlite3_errstr(rc));
	}
	if (sqlite3_close(dst) != SQLITE_OK) {
		unlink(argv[optind + 1]);
		die("cannot write '%s'", argv[optind + 1]);
	}
	sqlite3_close(src);
	return finish_stdout(0);
}
