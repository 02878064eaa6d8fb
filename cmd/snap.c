/*
 * snap COMMAND [ARGS...]: runs snap-COMMAND, found beside this program,
 * then in the installed libexec directory, then on PATH.  The directory it
 * was found in goes first on the command's PATH.
 */
#include "strbuf.h"
#include "usage.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char usage_str[] =
"usage: snap [--version] [--help] [--exec-path] [--store DIR] COMMAND [ARGS...]\n"
"\n"
"Runs snap-COMMAND with ARGS.  'snap help COMMAND' shows a command's help.\n"
"--store DIR (or --store=DIR) sets SNAP_DIR for the command.\n";

static char *self_dir(void)
{
	char *exe = realpath("/proc/self/exe", NULL);
	char *slash;

	if (!exe)
		return NULL;
	slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	return exe;
}

static int is_exec(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && !access(path, X_OK);
}

/* The directories searched, in order, as a NULL-terminated list. */
static void search_dirs(const char **dirs)
{
	static char *mine;
	const char *env = getenv("SNAP_EXEC_PATH");
	int n = 0;

	if (env && *env)
		dirs[n++] = env;
	if (!mine)
		mine = self_dir();
	if (mine)
		dirs[n++] = mine;
	dirs[n++] = SNAP_LIBEXECDIR;
	dirs[n] = NULL;
}

/*
 * What each command is for, in the order --help shows them: the porcelain
 * a person types first, then the plumbing scripts build on.  A command
 * found but not named here is listed last, without a description.
 */
static const struct {
	const char *name, *what;
	int porcelain;
} known[] = {
	{ "init", "create a store", 1 },
	{ "snapshot", "store a directory, stream or database as a new snapshot", 1 },
	{ "restore", "bring a snapshot (or paths of it) back into a directory", 1 },
	{ "backup", "the nightly job: snapshot, prune, gc, fsck sample, from a config", 1 },
	{ "log", "the snapshots of a ref, newest first", 1 },
	{ "diff", "what changed between two snapshots", 1 },
	{ "ls", "list a snapshot's files, like ls -l; --json for a manifest", 1 },
	{ "mount", "every snapshot as a read-only file system (FUSE)", 1 },
	{ "find", "every snapshot holding a path that matches a pattern", 1 },
	{ "stats", "what snapshots hold and what each added", 1 },
	{ "prune", "keep the snapshots a retention policy names", 1 },
	{ "fsck", "verify every object and reference of the store", 1 },
	{ "gc", "delete what no ref or reflog reaches", 1 },
	{ "push", "send refs and the objects they lack to another store, over ssh", 1 },
	{ "fetch", "copy refs and the objects we lack from another store, over ssh", 1 },
	{ "remote", "names for the stores push and fetch talk to", 1 },
	{ "memo", "run a command once per key, keep and replay its output", 1 },
	{ "bundle-import", "store sqlite-sync-core bundles as a bundle snapshot", 1 },
	{ "bundle-export", "write a bundle snapshot's bundles back out", 1 },
	{ "hash-object", "object ids of files; -w stores them", 0 },
	{ "cat-file", "read objects, verified", 0 },
	{ "write-tree", "store a directory, print its tree id", 0 },
	{ "ls-tree", "list a tree's entries", 0 },
	{ "mktree", "make a tree from ls-tree -l lines", 0 },
	{ "mksnapshot", "write a snapshot object", 0 },
	{ "checkout", "write a tree into a directory, safely", 0 },
	{ "diff-tree", "compare two trees", 0 },
	{ "rev-parse", "turn names into object ids", 0 },
	{ "rev-list", "a snapshot and its ancestors, one record each", 0 },
	{ "update-ref", "move a ref by compare-and-swap, reflogged", 0 },
	{ "show-ref", "list refs and their ids", 0 },
	{ "for-each-ref", "one formatted line per ref", 0 },
	{ "count-objects", "how many objects and bytes the store holds", 0 },
	{ "session", "register a write session that gc respects", 0 },
	{ "sqlite-backup", "a consistent copy of a live SQLite database", 0 },
	{ "serve", "the far side of push and fetch, on stdin/stdout", 0 },
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every snap-* program in the search directories, sorted, each once. */
static size_t found_commands(char ***out)
{
	const char *dirs[4];
	char **names = NULL;
	size_t nr = 0, alloc = 0, i, kept = 0;
	int d;

	search_dirs(dirs);
	for (d = 0; dirs[d]; d++) {
		DIR *dir = opendir(dirs[d]);
		struct dirent *de;

		if (!dir)
			continue;
		while ((de = readdir(dir))) {
			struct strbuf p = STRBUF_INIT;

			if (strncmp(de->d_name, "snap-", 5) || !de->d_name[5])
				continue;
			strbuf_addf(&p, "%s/%s", dirs[d], de->d_name);
			if (is_exec(p.buf)) {
				ALLOC_GROW(names, nr + 1, alloc);
				names[nr++] = xstrdup(de->d_name + 5);
			}
			strbuf_release(&p);
		}
		closedir(dir);
	}
	QSORT(names, nr, cmp_str);
	for (i = 0; i < nr; i++) {
		if (kept && !strcmp(names[i], names[kept - 1]))
			free(names[i]);
		else
			names[kept++] = names[i];
	}
	*out = names;
	return kept;
}

static int has_name(char **names, size_t nr, const char *name)
{
	return bsearch(&name, names, nr, sizeof(*names), cmp_str) != NULL;
}

static void list_commands(void)
{
	char **names;
	size_t nr = found_commands(&names), i, k;
	int section;

	fputs(usage_str, stdout);
	for (section = 1; section >= 0; section--) {
		fputs(section ? "\nEveryday commands:\n" : "\nPlumbing:\n", stdout);
		for (k = 0; k < ARRAY_SIZE(known); k++)
			if (known[k].porcelain == section && has_name(names, nr, known[k].name))
				printf("   %-15s %s\n", known[k].name, known[k].what);
	}
	for (i = 0; i < nr; i++) {
		for (k = 0; k < ARRAY_SIZE(known) && strcmp(known[k].name, names[i]); k++)
			;
		if (k == ARRAY_SIZE(known))
			printf("   %s\n", names[i]);
		free(names[i]);
	}
	free(names);
}

/*
 * Puts dir first on PATH, so that a porcelain script run from here finds
 * the plumbing beside it even under cron's bare PATH=/usr/bin:/bin.
 */
static void prepend_path(const char *dir)
{
	const char *old = getenv("PATH");
	struct strbuf p = STRBUF_INIT;

	strbuf_addstr(&p, dir);
	if (old && *old)
		strbuf_addf(&p, ":%s", old);
	if (setenv("PATH", p.buf, 1))
		die("cannot set PATH: %s", strerror(errno));
	strbuf_release(&p);
}

static _Noreturn void run(const char *cmd, char **argv)
{
	const char *dirs[4];
	struct strbuf path = STRBUF_INIT;
	int d;

	if (!*cmd || strchr(cmd, '/'))
		usage_error(usage_str, "'%s' is not a snap command", cmd);
	search_dirs(dirs);
	for (d = 0; dirs[d]; d++) {
		strbuf_reset(&path);
		strbuf_addf(&path, "%s/snap-%s", dirs[d], cmd);
		if (is_exec(path.buf)) {
			argv[0] = path.buf;
			prepend_path(dirs[d]);
			execv(path.buf, argv);
			die("cannot run '%s': %s", path.buf, strerror(errno));
		}
	}
	strbuf_reset(&path);
	strbuf_addf(&path, "snap-%s", cmd);
	argv[0] = path.buf;
	execvp(path.buf, argv);
	if (errno == ENOENT)
		usage_error(usage_str, "'%s' is not a snap command; see 'snap --help'", cmd);
	die("cannot run '%s': %s", path.buf, strerror(errno));
}

/* 0 if "man -w PAGE" finds the page (run quietly, no shell). */
static int man_finds(const char *page)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return -1;
	if (!pid) {
		int fd = open("/dev/null", O_WRONLY);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execlp("man", "man", "-w", page, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/*
 * Opens the manual page of snap-cmd with man(1) when one is installed
 * beside this snap (PREFIX/share/man) or where man looks; returns if
 * there is none, and 'snap help' then shows the command's --help.
 */
static void show_manual(const char *cmd)
{
	struct strbuf page = STRBUF_INIT, mandir = STRBUF_INIT;
	char *mine = self_dir();

	if (!*cmd || strchr(cmd, '/'))
		return;
	strbuf_addf(&page, "snap-%s", cmd);
	if (mine) {
		strbuf_addf(&mandir, "%s/../share/man", mine);
		free(mine);
	}
	fflush(stdout);
	if (mandir.len) {
		struct strbuf file = STRBUF_INIT;

		strbuf_addf(&file, "%s/man1/%s.1", mandir.buf, page.buf);
		if (!access(file.buf, R_OK))
			execlp("man", "man", "-M", mandir.buf, page.buf, (char *)NULL);
		strbuf_release(&file);
	}
	if (!man_finds(page.buf))
		execlp("man", "man", page.buf, (char *)NULL);
	strbuf_release(&page);
	strbuf_release(&mandir);
}

int main(int argc, char **argv)
{
	usage_setup(argv[0]);
	/* Global options before COMMAND: only --store, which the command
	 * sees as SNAP_DIR (every command takes the store from there). */
	while (argc >= 2 && !strncmp(argv[1], "--store", 7)) {
		const char *dir;

		if (!strcmp(argv[1], "--store")) {
			if (argc < 3)
				usage_error(usage_str, "--store needs DIR");
			dir = argv[2];
			argv += 2;
			argc -= 2;
		} else if (argv[1][7] == '=') {
			dir = argv[1] + 8;
			argv++;
			argc--;
		} else {
			break;
		}
		if (!*dir)
			usage_error(usage_str, "--store needs DIR");
		if (setenv("SNAP_DIR", dir, 1))
			die("cannot set SNAP_DIR: %s", strerror(errno));
	}
	if (argc < 2)
		usage_error(usage_str, "no command given");
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		list_commands();
		return finish_stdout(0);
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("snap version %s\n", SNAP_VERSION);
		return finish_stdout(0);
	}
	if (!strcmp(argv[1], "--exec-path")) {
		const char *dirs[4];
		search_dirs(dirs);
		printf("%s\n", dirs[0]);
		return finish_stdout(0);
	}
	if (argv[1][0] == '-')
		usage_error(usage_str, "unknown option '%s'", argv[1]);
	if (!strcmp(argv[1], "help")) {
		char *args[] = { NULL, (char *)"--help", NULL };
		if (argc < 3) {
			list_commands();
			return finish_stdout(0);
		}
		show_manual(argv[2]);
		run(argv[2], args);
	}
	run(argv[1], argv + 1);
}
