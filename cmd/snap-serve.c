/*
 * snap-serve: the far side of snap-push and snap-fetch, speaking the
 * transfer protocol on stdin and stdout (docs/FORMAT.md).
 */
#include "error.h"
#include "odb.h"
#include "store.h"
#include "transport.h"
#include "usage.h"
#include "util.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage_str[] =
"usage: snap-serve [--restrict] [--append-only] STORE\n"
"\n"
"Serves STORE to one snap-push or snap-fetch on stdin/stdout.\n"
"\n"
"  --restrict     serve STORE only: a path asked for in\n"
"                 $SSH_ORIGINAL_COMMAND must name the same directory\n"
"  --append-only  refuse ref deletions and updates that are not\n"
"                 fast-forwards (also when config says append-only)\n";

/*
 * The words of a command line as snap-push and snap-fetch write it:
 * plain words, '...' quoting and backslash escapes.  Returns the number
 * of words, or -1 for an unterminated quote.
 */
static int split_words(const char *s, char ***out)
{
	char **v = NULL;
	size_t nr = 0, alloc = 0;

	while (*s) {
		struct strbuf w = STRBUF_INIT;

		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s)
			break;
		while (*s && *s != ' ' && *s != '\t') {
			if (*s == '\'') {
				const char *q = strchr(s + 1, '\'');

				if (!q)
					return -1;
				strbuf_add(&w, s + 1, (size_t)(q - s - 1));
				s = q + 1;
			} else if (*s == '\\' && s[1]) {
				strbuf_addch(&w, s[1]);
				s += 2;
			} else if (*s == '"') {
				return -1;
			} else {
				strbuf_addch(&w, *s++);
			}
		}
		ALLOC_GROW(v, nr + 1, alloc);
		v[nr++] = strbuf_detach(&w, NULL);
	}
	*out = v;
	return (int)nr;
}

/*
 * Under --restrict: the client's requested path must be STORE.  Returns 1 when the requested command asked for protocol version 2: a
 * forced command runs without that request's environment, so the
 * leading words "env SNAP_PROTOCOL=2" that snap-push and snap-fetch put
 * in front of it stand for it.
 */
static int check_restricted(const char *store)
{
	const char *cmd = getenv("SSH_ORIGINAL_COMMAND");
	char **w = NULL, *want, *got;
	const char *base;
	int n, first = 0, asked = 0;

	if (!cmd)
		return 0;
	n = split_words(cmd, &w);
	if (n >= 2 && !strcmp(w[0], "env") && !strncmp(w[1], "SNAP_PROTOCOL=", 14)) {
		asked = !strcmp(w[1] + 14, "2");
		first = 2;
	}
	if (n < 1)
		die("access denied: cannot parse the requested command");
	if (n != first + 2)
		die("access denied: only 'snap-serve PATH' is allowed here");
	base = strrchr(w[first], '/') ? strrchr(w[first], '/') + 1 : w[first];
	if (strcmp(base, "snap-serve"))
		die("access denied: only 'snap-serve PATH' is allowed here");
	want = realpath(store, NULL);
	got = realpath(w[first + 1], NULL);
	if (!want || !got || strcmp(want, got))
		die("access denied: '%s' is not the store served here", w[first + 1]);
	free(want);
	free(got);
	while (n-- > 0)
		free(w[n]);
	free(w);
	return asked;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "restrict", no_argument, NULL, 'r' },
		{ "append-only", no_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct serve_opts o = { 0, 1 };
	const char *proto = getenv("SNAP_PROTOCOL");
	struct snap_store store;
	struct strbuf err = STRBUF_INIT;
	struct odb *odb;
	int restrict_path = 0, asked = proto && !strcmp(proto, "2"), c;

	usage_setup(argv[0]);
	/* Its stderr is the client's (a child's, or through ssh): one
	 * progress line there is the client's to draw. */
	setenv("SNAP_PROGRESS", "0", 1);
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			restrict_path = 1;
			break;
		case 'a':
			o.append_only = 1;
			break;
		case 'h':
			usage_help(usage_str);
		default:
			usage_error(usage_str, "unknown option");
		}
	}
	if (argc - optind != 1)
		usage_error(usage_str, "expected one STORE");
	if (restrict_path)
		asked |= check_restricted(argv[optind]);
	/* Only a client that asked may be greeted with more than 1. */
	if (asked)
		o.version = 2;
	open_store_or_die(argv[optind], &store, &odb);
	if (store.append_only)
		o.append_only = 1;
	c = serve_run(odb, 0, 1, &o, &err);
	if (c < 0 && err.len)
		die_err(&err);
	odb_close(odb);
	if (c < 0)
		return c == SNAP_EEXISTS ? EXIT_NO : EXIT_FATAL;
	store_release(&store);
	return 0;
}
