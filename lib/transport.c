/*
 * The client of the transfer protocol: finding a remote, starting the
 * far side (a child, or ssh) and reading its advertisement, asking it for
 * a push or a fetch, the report the commands print; and the ancestry
 * check both ends use (transport.h; docs/FORMAT.md, "Transfer protocol").
 * The exchange itself is lib/send.c and lib/receive.c, the server
 * lib/serve.c.
 */
#include "transport.h"

#include "error.h"
#include "json.h"
#include "oidset.h"
#include "pruned.h"
#include "refs.h"
#include "snapshot.h"
#include "store.h"
#include "transfer.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- ancestry ---- */

int transport_is_ancestor(struct odb *odb, const struct snap_oid *anc,
			  const struct snap_oid *new_oid, const struct pruned *extra,
			  struct strbuf *err)
{
	struct oidset seen = OIDSET_INIT;
	struct pruned pr = PRUNED_INIT;
	struct snap_oid *stack = NULL;
	size_t nr = 0, alloc = 0;
	int found = 0, ret;

	/* A snapshot pruned on purpose is passed over to its recorded parent. */
	ret = pruned_load(odb_store(odb), &pr, err);
	if (ret < 0)
		return ret;
	ALLOC_GROW(stack, nr + 1, alloc);
	stack[nr++] = *new_oid;
	while (nr && !found) {
		struct snap_oid cur = stack[--nr];
		struct snapshot s = SNAPSHOT_INIT;
		enum object_type type;
		uint64_t size;
		size_t i;

		if (!oidset_insert(&seen, &cur))
			continue;
		if (!oid_cmp(&cur, anc)) {
			found = 1;
			break;
		}
		if (!odb_has(odb, &cur)) {
			/* Pruned: its recorded parents, each compared in turn. */
			const struct pruned_entry *e = pruned_find(&pr, &cur);
			const struct pruned *in = &pr;

			if (!e && extra) {
				e = pruned_find(extra, &cur);
				in = extra;
			}
			if (e) {
				for (i = 0; i < e->nr_parents; i++) {
					ALLOC_GROW(stack, nr + 1, alloc);
					stack[nr++] = pruned_parents(in, e)[i];
				}
				continue;
			}
		}
		ret = odb_read_header(odb, &cur, &type, &size, err);
		if (ret < 0)
			break;
		if (type != OBJ_SNAPSHOT)
			continue;
		ret = snapshot_read(odb, &cur, &s, err);
		if (ret < 0)
			break;
		for (i = 0; i < s.nr_parents; i++) {
			ALLOC_GROW(stack, nr + 1, alloc);
			stack[nr++] = s.parents[i];
		}
		snapshot_release(&s);
	}
	free(stack);
	oidset_clear(&seen);
	pruned_release(&pr);
	return ret < 0 ? ret : found;
}

/* ---- the client ---- */

/* Appends s quoted for a POSIX shell. */
static void sq_quote(struct strbuf *sb, const char *s)
{
	strbuf_addch(sb, '\'');
	for (; *s; s++) {
		if (*s == '\'')
			strbuf_addstr(sb, "'\\''");
		else
			strbuf_addch(sb, *s);
	}
	strbuf_addch(sb, '\'');
}

struct remote_spec {
	char *host;	/* NULL: a local path */
	char *port;
	char *path;
};

static int parse_remote(const char *remote, struct remote_spec *rs, struct strbuf *err)
{
	const char *colon, *slash;

	memset(rs, 0, sizeof(*rs));
	if (!*remote)
		return snap_error(err, SNAP_EINVAL, "empty remote");
	if (!strncmp(remote, "ssh://", 6)) {
		const char *h = remote + 6, *pend, *at, *pc;

		slash = strchr(h, '/');
		if (!slash || slash == h || !slash[1])
			return snap_error(err, SNAP_EINVAL, "remote '%s': expected ssh://[USER@]HOST[:PORT]/PATH",
					  remote);
		at = memchr(h, '@', (size_t)(slash - h));
		pc = memchr(at ? at : h, ':', (size_t)(slash - (at ? at : h)));
		pend = pc ? pc : slash;
		rs->host = xstrndup(h, (size_t)(pend - h));
		if (pc) {
			rs->port = xstrndup(pc + 1, (size_t)(slash - pc - 1));
			if (!*rs->port || strspn(rs->port, "0123456789") != strlen(rs->port))
				return snap_error(err, SNAP_EINVAL, "remote '%s': bad port '%s'",
						  remote, rs->port);
		}
		rs->path = xstrdup(slash);
	} else if ((colon = strchr(remote, ':')) &&
		   (!(slash = strchr(remote, '/')) || colon < slash) && colon != remote) {
		rs->host = xstrndup(remote, (size_t)(colon - remote));
		rs->path = xstrdup(colon + 1);
		if (!*rs->path)
			return snap_error(err, SNAP_EINVAL, "remote '%s': no path after the host", remote);
	} else {
		rs->path = xstrdup(remote);
		return 0;
	}
	if (!rs->host[0] || rs->host[0] == '-' || strchr(rs->host, '@') == rs->host ||
	    (strchr(rs->host, '@') && strchr(rs->host, '@')[1] == '-'))
		return snap_error(err, SNAP_EINVAL, "remote '%s': bad host '%s'", remote, rs->host);
	return 0;
}

static void remote_spec_release(struct remote_spec *rs)
{
	free(rs->host);
	free(rs->port);
	free(rs->path);
}

static int spawn(struct transport *t, const struct remote_spec *rs, const char *serve,
		 struct strbuf *err)
{
	int to[2], from[2];
	pid_t pid;

	if (pipe(to) < 0 || pipe(from) < 0)
		return snap_error_errno(err, "cannot make a pipe");
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return snap_error_errno(err, "cannot fork");
	if (pid == 0) {
		const char *argv[10];
		struct strbuf cmd = STRBUF_INIT;
		const char *ssh = getenv("SNAP_SSH_COMMAND");
		int n = 0;

		/* Ours is ignored (transport_connect); the far side's is its own. */
		signal(SIGPIPE, SIG_DFL);
		dup2(to[0], 0);
		dup2(from[1], 1);
		close(to[0]);
		close(to[1]);
		close(from[0]);
		close(from[1]);
		if (!rs->host) {
			/* Asks for version 2 (TRANSPORT_VERSION); the path is
			 * sh's $1: never parsed by the shell. */
			setenv("SNAP_PROTOCOL", "2", 1);
			strbuf_addf(&cmd, "%s \"$1\"", serve);
			argv[n++] = "sh";
			argv[n++] = "-c";
			argv[n++] = cmd.buf;
			argv[n++] = "sh";
			argv[n++] = rs->path;
			argv[n] = NULL;
			execvp("sh", (char *const *)argv);
			fprintf(stderr, "cannot run sh: %s\n", strerror(errno));
			_exit(127);
		}
		/* env(1) puts the request for version 2 in the environment
		 * of serve in any login shell (csh and fish have no VAR=x
		 * prefix); a forced command sees it as two leading words. */
		strbuf_addf(&cmd, "env SNAP_PROTOCOL=2 %s ", serve);
		sq_quote(&cmd, rs->path);
		if (ssh && *ssh) {
			argv[n++] = "sh";
			argv[n++] = "-c";
			argv[n++] = NULL;	/* set below */
			argv[n++] = ssh;
		} else {
			argv[n++] = "ssh";
		}
		if (rs->port) {
			argv[n++] = "-p";
			argv[n++] = rs->port;
		}
		argv[n++] = rs->host;
		argv[n++] = cmd.buf;
		argv[n] = NULL;
		if (ssh && *ssh) {
			struct strbuf script = STRBUF_INIT;

			strbuf_addf(&script, "%s \"$@\"", ssh);
			argv[2] = script.buf;
			execvp("sh", (char *const *)argv);
		} else {
			execvp("ssh", (char *const *)argv);
		}
		fprintf(stderr, "cannot run '%s': %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(to[0]);
	close(from[1]);
	t->child = pid;
	pkt_init(&t->conn, from[0], to[1]);
	return 0;
}

static int cmp_ref(const void *a, const void *b)
{
	return strcmp(((const struct remote_ref *)a)->name, ((const struct remote_ref *)b)->name);
}

static int read_advertisement(struct transport *t, struct strbuf *err)
{
	struct strbuf line = STRBUF_INIT;
	int ret = transfer_read_ctl(&t->conn, &line, err);

	if (ret == 1 && strncmp(line.buf, "version ", 8))
		ret = transfer_protocol_error(err, "expected 'version N'", &line);
	else if (ret == 1 && strcmp(line.buf + 8, "1") && strcmp(line.buf + 8, "2"))
		ret = snap_error(err, SNAP_EINVAL, "remote speaks protocol version %.20s, not 1 or 2",
				 line.buf + 8);
	else if (ret == 0)
		ret = snap_error(err, SNAP_EINVAL, "protocol error: no greeting");
	if (ret < 0)
		goto out;
	t->version = line.buf[8] - '0';
	while ((ret = transfer_read_ctl(&t->conn, &line, err)) == 1) {
		struct snap_oid oid;
		const char *name;
		struct strbuf ignored = STRBUF_INIT;

		if (strncmp(line.buf, "ref ", 4) || !(name = transfer_parse_oid(line.buf + 4, &oid, ' ')) ||
		    ref_name_check(name, &ignored) < 0 || t->nr_refs >= TRANSPORT_REFS_MAX) {
			strbuf_release(&ignored);
			ret = transfer_protocol_error(err, "expected 'ref <id> <name>'", &line);
			goto out;
		}
		ALLOC_GROW(t->refs, t->nr_refs + 1, t->alloc_refs);
		t->refs[t->nr_refs].name = xstrdup(name);
		t->refs[t->nr_refs].oid = oid;
		t->nr_refs++;
	}
	QSORT(t->refs, t->nr_refs, cmp_ref);
out:
	strbuf_release(&line);
	return ret;
}

/* Waits for the child; 0 if it exited 0. */
static int reap(struct transport *t, struct strbuf *err)
{
	int status, ret = 0;

	if (t->child <= 0)
		return 0;
	while (waitpid(t->child, &status, 0) < 0) {
		if (errno != EINTR) {
			ret = snap_error_errno(err, "cannot wait for the remote side");
			break;
		}
	}
	if (ret == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
		if (WIFEXITED(status))
			ret = snap_error(err, SNAP_EIO, "the remote side exited with status %d",
					 WEXITSTATUS(status));
		else
			ret = snap_error(err, SNAP_EIO, "the remote side was killed by signal %d",
					 WTERMSIG(status));
	}
	t->child = 0;
	return ret;
}

int transport_remote_lookup(struct snap_store *store, const char *name, struct strbuf *url,
			    struct strbuf *ssh, struct strbuf *err)
{
	struct strbuf path = STRBUF_INIT, text = STRBUF_INIT;
	const char *p, *end;
	size_t i;
	int ret = 1;

	for (i = 0; name[i]; i++)
		if (!isalnum((unsigned char)name[i]) && !strchr("._-", name[i]))
			return 0;
	if (!i || i > 100 || name[0] == '.' || name[0] == '-')
		return 0;
	store_path(store, &path, "remotes/");
	strbuf_addstr(&path, name);
	ret = strbuf_read_file(&text, path.buf, 65536);
	if (ret == SNAP_ENOTFOUND) {
		ret = 0;
		goto out;
	}
	if (ret < 0) {
		ret = snap_error_errno(err, "remote '%s': cannot read '%s'", name, path.buf);
		goto out;
	}
	ret = 1;
	strbuf_reset(url);
	strbuf_reset(ssh);
	for (p = text.buf; *p; p = *end ? end + 1 : end) {
		const char *eq, *v;
		size_t klen;

		end = strchrnul(p, '\n');
		if (p == end || *p == '#')
			continue;
		eq = memchr(p, '=', (size_t)(end - p));
		if (!eq) {
			ret = snap_error(err, SNAP_EINVAL, "remote '%s': bad line in '%s'", name, path.buf);
			goto out;
		}
		klen = (size_t)(eq - p);
		while (klen && p[klen - 1] == ' ')
			klen--;
		for (v = eq + 1; v < end && *v == ' '; v++)
			;
		if (klen == 3 && !memcmp(p, "url", 3))
			strbuf_add(url, v, (size_t)(end - v));
		else if (klen == 3 && !memcmp(p, "ssh", 3))
			strbuf_add(ssh, v, (size_t)(end - v));
	}
	if (!url->len)
		ret = snap_error(err, SNAP_EINVAL, "remote '%s': no url in '%s'", name, path.buf);
out:
	strbuf_release(&path);
	strbuf_release(&text);
	return ret;
}

int transport_use_remote(struct snap_store *store, const char **remote, struct strbuf *url,
			 struct strbuf *ssh, struct strbuf *err)
{
	int ret = transport_remote_lookup(store, *remote, url, ssh, err);

	if (ret > 0) {
		*remote = url->buf;
		if (ssh->len && !getenv("SNAP_SSH_COMMAND"))
			setenv("SNAP_SSH_COMMAND", ssh->buf, 1);
	}
	return ret < 0 ? ret : 0;
}

int transport_connect(struct transport *t, const char *remote, const char *serve,
		      struct strbuf *err)
{
	struct remote_spec rs;
	int ret;

	memset(t, 0, sizeof(*t));
	/* A far side that dies is a failed write, not our death. */
	signal(SIGPIPE, SIG_IGN);
	ret = parse_remote(remote, &rs, err);
	/* A local path that holds no store: said here, in one line. */
	if (ret == 0 && !rs.host && !serve) {
		struct strbuf cfg = STRBUF_INIT;

		strbuf_addf(&cfg, "%s/config", rs.path);
		if (access(cfg.buf, F_OK) < 0)
			ret = snap_error(err, SNAP_ENOTFOUND, "remote '%s' is not a snap store", remote);
		strbuf_release(&cfg);
	}
	if (ret == 0)
		ret = spawn(t, &rs, serve ? serve : "snap-serve", err);
	remote_spec_release(&rs);
	if (ret < 0)
		return ret;
	ret = read_advertisement(t, err);
	if (ret < 0) {
		struct strbuf why = STRBUF_INIT;

		close(t->conn.in);
		close(t->conn.out);
		if (!strncmp(err->buf, "connection closed", 17)) {
			int failed = reap(t, &why) < 0;

			strbuf_reset(err);
			if (failed)
				strbuf_addf(err, "remote '%s' did not answer: %s", remote, why.buf);
			else
				strbuf_addf(err, "remote '%s' closed the connection in its greeting", remote);
		} else {
			reap(t, &why);
		}
		strbuf_release(&why);
		pkt_release(&t->conn);
		return ret == SNAP_EEXISTS ? ret : ret == SNAP_EINVAL ? ret : SNAP_EIO;
	}
	return 0;
}

int transport_parse_options(struct transport_opts *o, int argc, char **argv,
			    const char *shortopts, const struct option *longopts,
			    int (*own)(int c, const char *arg, void *data), void *data,
			    struct strbuf *err)
{
	static const struct option shared[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "progress", no_argument, NULL, 'P' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "serve-path", required_argument, NULL, 'S' },
		{ "store", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
	};
	struct strbuf shorts = STRBUF_INIT;
	struct option *all;
	size_t n = 0;
	int c, ret = 0;

	/* The command's own first, so getopt sees the table it always saw. */
	while (longopts[n].name)
		n++;
	all = xcalloc(n + ARRAY_SIZE(shared) + 1, sizeof(*all));
	memcpy(all, longopts, n * sizeof(*all));
	memcpy(all + n, shared, sizeof(shared));
	strbuf_addf(&shorts, "%sq", shortopts);
	while (ret == 0 && (c = getopt_long(argc, argv, shorts.buf, all, NULL)) != -1) {
		switch (c) {
		case 'j': o->json = 1; break;
		case 'q': o->quiet = 1; break;
		case 'P': o->progress = 1; break;
		case 'S': o->serve = optarg; break;
		case 's': o->dir = optarg; break;
		case 'h': ret = TRANSPORT_OPTS_HELP; break;
		default:
			if (own(c, optarg, data) < 0)
				ret = snap_error(err, SNAP_EINVAL, "unknown option");
		}
	}
	free(all);
	strbuf_release(&shorts);
	if (ret)
		return ret;
	/* progress.h reads it; -q wins over --progress. */
	if (o->quiet)
		setenv("SNAP_PROGRESS", "0", 1);
	else if (o->progress)
		setenv("SNAP_PROGRESS", "1", 1);
	if (optind >= argc)
		return snap_error(err, SNAP_EINVAL, "no REMOTE given");
	o->remote = argv[optind++];
	return 0;
}

int transport_ref_args(int argc, char **argv, int first, struct ref_names *names,
		       struct strbuf *err)
{
	int i;

	for (i = first; i < argc; i++) {
		char *name = ref_full_name(argv[i]);
		int ret = ref_name_check(name, err);

		if (ret == 0)
			ref_names_add(name, NULL, names);
		free(name);
		if (ret < 0)
			return ret;
	}
	return 0;
}

const struct remote_ref *transport_ref(const struct transport *t, const char *name)
{
	struct remote_ref key;

	if (!t->nr_refs)
		return NULL;
	key.name = (char *)name;
	return bsearch(&key, t->refs, t->nr_refs, sizeof(*t->refs), cmp_ref);
}

int transport_disconnect(struct transport *t, struct strbuf *err)
{
	struct strbuf why = STRBUF_INIT;
	size_t i;
	int ret;

	/* A flush where a command would come: nothing more to ask. */
	pkt_flush(&t->conn, &why);
	strbuf_reset(&why);
	close(t->conn.out);
	close(t->conn.in);
	ret = reap(t, &why);
	if (ret < 0 && !err->len)
		strbuf_addbuf(err, &why);
	strbuf_release(&why);
	pkt_release(&t->conn);
	for (i = 0; i < t->nr_refs; i++)
		free(t->refs[i].name);
	free(t->refs);
	t->refs = NULL;
	t->nr_refs = 0;
	return ret;
}

/*
 * After our write to the far side failed: it may have said why before it
 * closed.  Its message replaces ours when there is one.
 */
static int remote_reason(struct transport *t, int ret, struct strbuf *err)
{
	struct strbuf line = STRBUF_INIT, why = STRBUF_INIT;
	int r;

	while ((r = transfer_read_ctl(&t->conn, &line, &why)) > 0)
		;
	if (r < 0 && !strncmp(why.buf, "remote: ", 8)) {
		strbuf_reset(err);
		strbuf_addbuf(err, &why);
		ret = r;
	}
	strbuf_release(&line);
	strbuf_release(&why);
	return ret;
}

int transport_push(struct transport *t, struct odb *odb, const struct push_update *u,
		   size_t nr, struct transfer_stats *st, struct strbuf *err)
{
	struct strbuf line = STRBUF_INIT;
	struct snap_oid *tips = xcalloc(nr + 1, sizeof(*tips)), *theirs;
	size_t i, nr_tips = 0;
	int ret = pkt_writef(&t->conn, err, "push\n");

	for (i = 0; ret == 0 && i < nr; i++) {
		char old_hex[SNAP_OID_HEXSZ + 1], new_hex[SNAP_OID_HEXSZ + 1];

		ret = pkt_writef(&t->conn, err, "update %s %s %s%s\n", oid_to_hex_r(old_hex, &u[i].old_oid),
				 oid_to_hex_r(new_hex, &u[i].new_oid), u[i].name,
				 u[i].force ? " force" : "");
		if (!oid_is_null(&u[i].new_oid))
			tips[nr_tips++] = u[i].new_oid;
	}
	if (ret == 0)
		ret = pkt_flush(&t->conn, err);
	if (ret == 0 && (ret = transfer_read_ctl(&t->conn, &line, err)) >= 0 && strcmp(line.buf, "ready"))
		ret = transfer_protocol_error(err, "expected 'ready'", &line);
	if (ret >= 0 && (ret = transfer_read_ctl(&t->conn, &line, err)) > 0)
		ret = transfer_protocol_error(err, "expected a flush after 'ready'", &line);
	if (ret < 0)
		goto out;
	theirs = xcalloc(t->nr_refs + 1, sizeof(*theirs));
	for (i = 0; i < t->nr_refs; i++)
		theirs[i] = t->refs[i].oid;
	ret = transfer_send(&t->conn, odb, t->version, tips, nr_tips, theirs, t->nr_refs, st, err);
	free(theirs);
	if (ret == SNAP_EIO) {
		ret = remote_reason(t, ret, err);
		goto out;
	}
	if (ret == 0 && (ret = transfer_read_ctl(&t->conn, &line, err)) >= 0 && strcmp(line.buf, "ok"))
		ret = transfer_protocol_error(err, "expected 'ok'", &line);
	if (ret > 0)
		ret = 0;
out:
	free(tips);
	strbuf_release(&line);
	return ret;
}

static int add_have(const char *name, const struct snap_oid *oid, void *data)
{
	struct transport *t = data;
	struct strbuf ignored = STRBUF_INIT;

	(void)name;
	if (oid)
		pkt_writef(&t->conn, &ignored, "have %s\n", oid_to_hex(oid));
	strbuf_release(&ignored);
	return 0;
}

int transport_fetch(struct transport *t, struct odb *odb, const struct snap_oid *wants,
		    size_t nr, struct transfer_stats *st, struct pruned *pruned, struct strbuf *err)
{
	size_t i;
	int ret = pkt_writef(&t->conn, err, "fetch\n");

	for (i = 0; ret == 0 && i < nr; i++)
		ret = pkt_writef(&t->conn, err, "want %s\n", oid_to_hex(&wants[i]));
	if (ret == 0)
		ret = refs_for_each(odb_store(odb), "refs/", add_have, t, err);
	if (ret == 0)
		ret = pkt_flush(&t->conn, err);
	if (ret == 0)
		ret = transfer_receive(&t->conn, odb, t->version, st, pruned, err);
	return ret;
}

void transport_report(struct strbuf *out, const struct ref_result *r, size_t nr,
		      const struct transfer_stats *st, const char *verb, int json)
{
	char a[SNAP_OID_HEXSZ + 1], b[SNAP_OID_HEXSZ + 1];
	size_t i;

	if (!json) {
		for (i = 0; i < nr; i++)
			strbuf_addf(out, "%s %s %s %s\n", r[i].status, r[i].name,
				    oid_to_hex_r(a, &r[i].old_oid), oid_to_hex_r(b, &r[i].new_oid));
		strbuf_addf(out, "%s %llu objects, %llu bytes\n", verb,
			    (unsigned long long)st->objects, (unsigned long long)st->bytes);
		return;
	}
	strbuf_addstr(out, "{\"refs\":[");
	for (i = 0; i < nr; i++) {
		strbuf_addstr(out, i ? ",{\"name\":" : "{\"name\":");
		json_add_string(out, r[i].name, strlen(r[i].name));
		strbuf_addf(out, ",\"status\":\"%s\",\"old\":\"%s\",\"new\":\"%s\"}", r[i].status,
			    oid_to_hex_r(a, &r[i].old_oid), oid_to_hex_r(b, &r[i].new_oid));
	}
	strbuf_addf(out, "],\"objects_%s\":%llu,\"bytes_%s\":%llu}\n", verb,
		    (unsigned long long)st->objects, verb, (unsigned long long)st->bytes);
}
