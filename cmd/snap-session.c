/*
 * snap-session: registers, lists and ends write sessions, so that a script
 * that writes with several commands is one session for gc.
 */
#include "error.h"
#include "odb.h"
#include "revision.h"
#include "session.h"
#include "store.h"
#include "usage.h"
#include "util.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage_str[] =
"usage: snap-session begin [--pid PID] [--base REV]...\n"
"   or: snap-session end NAME\n"
"   or: snap-session list\n"
"\n"
"  begin      register a write session and print its name; export it as\n"
"             SNAP_SESSION so that the commands a script runs share it\n"
"  --pid PID  the process the session lives as long as (default: the\n"
"             parent process, that is the calling script)\n"
"  --base REV a snapshot the session builds on (repeatable)\n"
"  end NAME   unregister the session\n"
"  list       one line a session: name host pid start-seconds state\n"
"  --store DIR  the store (default $SNAP_DIR, else .snap above)\n";

static const char *const state_names[] = { "live", "dead", "expired" };

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "base", required_argument, NULL, 'b' },
		{ "store", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct strbuf err = STRBUF_INIT;
	struct snap_store store;
	struct snap_oid *bases = NULL;
	size_t nr = 0, alloc = 0, i;
	const char **base_names = NULL, *dir = NULL, *verb;
	pid_t pid = getppid();
	struct session *s;
	struct odb *odb;
	int64_t v;
	int c;

	usage_setup(argv[0]);
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (parse_i64(optarg, &v) < 0 || v <= 0)
				usage_error(usage_str, "bad pid '%s'", optarg);
			pid = (pid_t)v;
			break;
		case 'b':
			ALLOC_GROW(base_names, nr + 1, alloc);
			base_names[nr++] = optarg;
			break;
		case 'S': dir = optarg; break;
		case 'h': usage_help(usage_str);
		default: usage_error(usage_str, "bad option");
		}
	}
	if (optind == argc)
		usage_error(usage_str, "no verb given");
	verb = argv[optind++];
	if (strcmp(verb, "begin") && nr)
		usage_error(usage_str, "--base goes with begin");

	open_store_or_die(dir, &store, &odb);
	if (!strcmp(verb, "begin")) {
		if (optind != argc)
			usage_error(usage_str, "begin takes no arguments");
		bases = xcalloc(nr + 1, sizeof(*bases));
		for (i = 0; i < nr; i++)
			if (resolve_rev(odb, base_names[i], &bases[i], &err) < 0)
				die_err(&err);
		if (session_begin(&store, pid, bases, nr, &s, &err) < 0)
			die_err(&err);
		printf("%s\n", s->name);
		session_free(s);
	} else if (!strcmp(verb, "end")) {
		if (argc - optind != 1)
			usage_error(usage_str, "end takes one NAME");
		if (session_find(&store, argv[optind], &s, &err) < 0)
			die_err(&err);
		session_end(s);
	} else if (!strcmp(verb, "list")) {
		struct session **all;
		int64_t now;

		if (optind != argc)
			usage_error(usage_str, "list takes no arguments");
		if (store_now(&store, &now, &err) < 0 ||
		    sessions_load(&store, &all, &nr, &err) < 0)
			die_err(&err);
		for (i = 0; i < nr; i++) {
			printf("%s %s %ld %lld %s\n", all[i]->name, all[i]->host,
			       (long)all[i]->pid, (long long)(all[i]->start_ns / 1000000000),
			       state_names[session_state(all[i], now)]);
			session_free(all[i]);
		}
		free(all);
	} else {
		usage_error(usage_str, "unknown verb '%s'", verb);
	}
	free(bases);
	free(base_names);
	odb_close(odb);
	store_release(&store);
	return finish_stdout(0);
}
