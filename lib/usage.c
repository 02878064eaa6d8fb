#include "usage.h"
#include "odb.h"
#include "store.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

/* Set when porcelain lent its name: the usage text is not the user's. */
static int progname_lent;

/* A name porcelain may give: "snap-" and letters, digits and '-'. */
static int progname_ok(const char *s)
{
	size_t i;

	if (strncmp(s, "snap-", 5) || !s[5] || strlen(s) > 64)
		return 0;
	for (i = 5; s[i]; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-')
			return 0;
	return 1;
}

void usage_setup(const char *argv0)
{
	const char *slash = strrchr(argv0, '/');
	const char *given = getenv("SNAP_PROGRAM");
	int fd;

	/*
	 * A standard descriptor the caller closed (`<&-`, `>&-`) is opened
	 * on /dev/null first: else the first file opened here (a pack) would
	 * take its number, and be read as standard input or written as
	 * standard output.  Read-only, so that input ends at once and what
	 * is written to a closed output fails (EBADF) as it would have, and
	 * is reported, rather than vanishing with exit 0.
	 */
	while ((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0 && fd <= 2)
		if (fcntl(fd, F_SETFD, 0) < 0)
			break;
	if (fd > 2)
		close(fd);

	snap_progname = slash ? slash + 1 : argv0;
	if (given && progname_ok(given) && strcmp(given, snap_progname)) {
		snap_progname = given;
		progname_lent = 1;
	}
}

__attribute__((format(printf, 2, 0)))
static void vreport(const char *prefix, const char *fmt, va_list ap)
{
	struct strbuf sb = STRBUF_INIT;

	struct strbuf msg = STRBUF_INIT;
	size_t i;

	strbuf_addf(&sb, "%s: %s", snap_progname, prefix);
	strbuf_vaddf(&msg, fmt, ap);
	/* One line, whatever a name in it holds: control bytes are escaped. */
	for (i = 0; i < msg.len; i++) {
		unsigned char c = (unsigned char)msg.buf[i];

		if (c == '\n')
			strbuf_addstr(&sb, "\\n");
		else if (c == '\t')
			strbuf_addstr(&sb, "\\t");
		else if (c < 0x20 || c == 0x7f)
			strbuf_addf(&sb, "\\x%02x", c);
		else
			strbuf_addch(&sb, (char)c);
	}
	strbuf_release(&msg);
	strbuf_addch(&sb, '\n');
	fflush(stdout);
	fwrite(sb.buf, 1, sb.len, stderr);
	strbuf_release(&sb);
}

void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport("fatal: ", fmt, ap);
	va_end(ap);
	exit(EXIT_FATAL);
}

void die_refused(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	va_start(ap, fmt);
	vreport("fatal: ", fmt, ap);
	va_end(ap);
	exit(EXIT_NO);
}

void die_err(const struct strbuf *err)
{
	die("%s", err->len ? err->buf : "unknown error");
}

void warning(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport("warning: ", fmt, ap);
	va_end(ap);
}

void error_line(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport("error: ", fmt, ap);
	va_end(ap);
}

void warning_cb(const char *msg, void *data)
{
	if (!data || !*(int *)data)
		warning("%s", msg);
}

void usage_error(const char *usage, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport("error: ", fmt, ap);
	va_end(ap);
	if (!progname_lent)
		fputs(usage, stderr);
	exit(EXIT_USAGE);
}

void usage_help(const char *usage)
{
	fputs(usage, stdout);
	exit(finish_stdout(0));
}

int finish_stdout_done(int status, const char *done)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		int saved = errno;

		if (done)
			fprintf(stderr, "%s: fatal: %s, but standard output cannot be written: %s\n",
				snap_progname, done, strerror(saved));
		else
			fprintf(stderr, "%s: fatal: cannot write to standard output: %s\n",
				snap_progname, strerror(saved));
		return EXIT_FATAL;
	}
	return status;
}

int finish_stdout(int status)
{
	return finish_stdout_done(status, NULL);
}

void xfwrite(const void *buf, size_t len)
{
	if (len && fwrite(buf, 1, len, stdout) != len)
		die("cannot write to standard output: %s", strerror(errno));
}

void open_store_or_die(const char *dir, struct snap_store *store,
		       struct odb **odb)
{
	struct strbuf err = STRBUF_INIT;
	size_t i;

	if (store_open(store, dir, &err) < 0 || odb_open(odb, store, &err) < 0)
		die_err(&err);
	/* Porcelain running several commands says it once (SNAP_DAMAGE_SEEN). */
	if (!getenv("SNAP_DAMAGE_SEEN"))
		for (i = 0; i < odb_nr_damaged(*odb); i++)
			warning("%s", odb_damaged(*odb, i));
	strbuf_release(&err);
}
