/*
 * Talking to an rclone remote: running rclone, the remote's small files
 * (snap-remote, refs, the lease) and the connection's life.  The layout
 * is docs/FORMAT.md, "Object storage layout"; packs are lib/rclonepack.c.
 */
#include "rclone.h"
#include "rclonepack.h"

#include "error.h"
#include "fsio.h"
#include "refs.h"
#include "session.h"
#include "store.h"
#include "util.h"
#include "storefs.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Most of rclone's complaints kept for the message (the last line is used). */
#define RCLONE_STDERR_MAX 65536

int rclone_is_remote(const char *remote)
{
	return !strncmp(remote, RCLONE_PREFIX, strlen(RCLONE_PREFIX));
}

/* rclone's last line of complaint, without its date and level. */
static void last_line(const struct strbuf *text, struct strbuf *out)
{
	const char *s = text->buf, *e = text->buf + text->len, *p;

	while (e > s && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' '))
		e--;
	for (p = e; p > s && p[-1] != '\n'; p--)
		;
	/* "2026/01/02 03:04:05 ERROR : " */
	if (e - p > 20 && p[4] == '/' && p[7] == '/' && p[10] == ' ' && p[13] == ':')
		p += 20;
	if (!strncmp(p, "ERROR : ", 8))
		p += 8;
	else if (!strncmp(p, "NOTICE: ", 8))
		p += 8;
	strbuf_add(out, p, (size_t)(e - p));
	if (!out->len)
		strbuf_addstr(out, "no message");
}

static void drain(int *fd, struct strbuf *sb, size_t max, int *over)
{
	char buf[65536];
	ssize_t n = read(*fd, buf, sizeof(buf));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		close(*fd);
		*fd = -1;
		return;
	}
	if (sb->len + (size_t)n > max) {
		*over = 1;
		return;
	}
	strbuf_add(sb, buf, (size_t)n);
}

int rclone_run(const char *const *args, int in_fd, struct strbuf *out, size_t max,
	       struct strbuf *err)
{
	const char *prog = getenv("SNAP_RCLONE");
	const char *argv[16];
	struct strbuf ignored = STRBUF_INIT, complaint = STRBUF_INIT;
	int po[2], pe[2], status, over = 0, junk = 0, n = 0, ret = 0;
	pid_t pid;

	if (!prog || !*prog)
		prog = "rclone";
	argv[n++] = prog;
	while (*args && n < (int)ARRAY_SIZE(argv) - 1)
		argv[n++] = *args++;
	argv[n] = NULL;
	if (!out)
		out = &ignored;
	if (pipe2(po, O_CLOEXEC) < 0)
		return snap_error_errno(err, "cannot make a pipe");
	if (pipe2(pe, O_CLOEXEC) < 0) {
		close(po[0]);
		close(po[1]);
		return snap_error_errno(err, "cannot make a pipe");
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(po[0]), close(po[1]), close(pe[0]), close(pe[1]);
		return snap_error_errno(err, "cannot fork");
	}
	if (pid == 0) {
		int in = in_fd >= 0 ? in_fd : open("/dev/null", O_RDONLY);

		signal(SIGPIPE, SIG_DFL);
		if (in < 0 || dup2(in, 0) < 0 || dup2(po[1], 1) < 0 || dup2(pe[1], 2) < 0)
			_exit(126);
		execvp(prog, (char *const *)argv);
		fprintf(stderr, "cannot run '%s': %s\n", prog, strerror(errno));
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	while (po[0] >= 0 || pe[0] >= 0) {
		struct pollfd fds[2];
		int k = 0;

		if (po[0] >= 0)
			fds[k++] = (struct pollfd){ .fd = po[0], .events = POLLIN };
		if (pe[0] >= 0)
			fds[k++] = (struct pollfd){ .fd = pe[0], .events = POLLIN };
		if (poll(fds, (nfds_t)k, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < k; i++) {
			if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			if (fds[i].fd == po[0])
				drain(&po[0], out, max, &over);
			else
				drain(&pe[0], &complaint, RCLONE_STDERR_MAX, &junk);
		}
		/* Past the limit: stop listening; the child's writes then fail. */
		if (over && po[0] >= 0) {
			close(po[0]);
			po[0] = -1;
		}
	}
	if (po[0] >= 0)
		close(po[0]);
	if (pe[0] >= 0)
		close(pe[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return snap_error_errno(err, "cannot wait for '%s'", prog);
	if (over) {
		ret = snap_error(err, SNAP_ETOOBIG, "rclone %s: more than %zu bytes of output",
				 argv[1], max);
	} else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		ret = 0;
	} else {
		struct strbuf line = STRBUF_INIT;
		int code = WIFEXITED(status) ? WEXITSTATUS(status) : 0;

		last_line(&complaint, &line);
		if (code == 127)
			ret = snap_error(err, SNAP_EIO, "cannot run '%s' (is rclone installed?)", prog);
		else if (code == 3 || code == 4)
			ret = snap_error(err, SNAP_ENOTFOUND, "rclone %s '%s': %s", argv[1],
					 argv[n - 1], line.buf);
		else if (code)
			ret = snap_error(err, SNAP_EIO, "rclone %s '%s' failed: %s", argv[1],
					 argv[n - 1], line.buf);
		else
			ret = snap_error(err, SNAP_EIO, "rclone %s was killed by signal %d", argv[1],
					 WTERMSIG(status));
		strbuf_release(&line);
	}
	strbuf_release(&ignored);
	strbuf_release(&complaint);
	return ret;
}

void rclone_path(const struct rclone_remote *r, struct strbuf *path, const char *rel)
{
	size_t len = strlen(r->base);

	strbuf_reset(path);
	strbuf_addstr(path, r->base);
	if (len && r->base[len - 1] != ':' && r->base[len - 1] != '/' && *rel)
		strbuf_addch(path, '/');
	strbuf_addstr(path, rel);
}

int rclone_cat(const struct rclone_remote *r, const char *rel, struct strbuf *out,
	       size_t max, struct strbuf *err)
{
	struct strbuf path = STRBUF_INIT;
	const char *args[3] = { "cat", NULL, NULL };
	int ret;

	rclone_path(r, &path, rel);
	args[1] = path.buf;
	strbuf_reset(out);
	ret = rclone_run(args, -1, out, max, err);
	strbuf_release(&path);
	return ret;
}

int rclone_move(const struct rclone_remote *r, const char *from, const char *to,
		struct strbuf *err)
{
	struct strbuf a = STRBUF_INIT, b = STRBUF_INIT;
	const char *args[4] = { "moveto", NULL, NULL, NULL };
	int ret;

	rclone_path(r, &a, from);
	rclone_path(r, &b, to);
	args[1] = a.buf;
	args[2] = b.buf;
	ret = rclone_run(args, -1, NULL, 0, err);
	strbuf_release(&a);
	strbuf_release(&b);
	return ret;
}

void rclone_tmp_name(struct strbuf *rel)
{
	char hex[33];

	rclone_random_hex(hex, 16);
	strbuf_reset(rel);
	strbuf_addf(rel, "tmp/%s", hex);
}

int rclone_put(const struct rclone_remote *r, const char *rel, const void *buf, size_t len,
	       struct strbuf *err)
{
	struct strbuf tmpdir = STRBUF_INIT, tmp = STRBUF_INIT, path = STRBUF_INIT;
	struct strbuf part = STRBUF_INIT, ignored = STRBUF_INIT;
	const char *args[3] = { "rcat", NULL, NULL };
	int fd, ret = 0;

	store_path(r->store, &tmpdir, "objects/tmp");
	fd = fsio_mktemp(tmpdir.buf, "rclone-put-", &tmp);
	if (fd < 0) {
		ret = snap_error_errno(err, "cannot make a temporary file in '%s'", tmpdir.buf);
		goto out;
	}
	if (fsio_write(fd, buf, len) < 0 || lseek(fd, 0, SEEK_SET) < 0)
		ret = snap_error_errno(err, "cannot write '%s'", tmp.buf);
	/*
	 * Whole or not at all: a backend may leave a cut file where an
	 * upload failed (a full disk under sftp or a local directory), so
	 * the bytes go to tmp/ first and are moved over rel once there.
	 */
	if (ret == 0) {
		rclone_tmp_name(&part);
		rclone_path(r, &path, part.buf);
		args[1] = path.buf;
		/* rcat always uploads; copyto would skip a file of the same size. */
		ret = rclone_run(args, fd, NULL, 0, err);
		if (ret == 0)
			ret = rclone_move(r, part.buf, rel, err);
		if (ret < 0)
			(void)rclone_delete(r, part.buf, &ignored);
	}
	close(fd);
	storefs_unlink(tmp.buf);
out:
	strbuf_release(&tmpdir);
	strbuf_release(&tmp);
	strbuf_release(&path);
	strbuf_release(&part);
	strbuf_release(&ignored);
	return ret;
}

int rclone_delete(const struct rclone_remote *r, const char *rel, struct strbuf *err)
{
	struct strbuf path = STRBUF_INIT;
	const char *args[3] = { "deletefile", NULL, NULL };
	int ret;

	rclone_path(r, &path, rel);
	args[1] = path.buf;
	ret = rclone_run(args, -1, NULL, 0, err);
	strbuf_release(&path);
	return ret;
}

int rclone_list(const struct rclone_remote *r, const char *rel, int recursive,
		void (*fn)(const char *name, uint64_t size, void *data), void *data,
		struct strbuf *err)
{
	struct strbuf path = STRBUF_INIT, out = STRBUF_INIT;
	/* six, -R, the path and the NULL that ends them */
	const char *args[9] = { "lsf", "--files-only", "--format", "sp", "--separator", ";" };
	char *p, *nl;
	int n = 6, ret;

	rclone_path(r, &path, rel);
	if (recursive)
		args[n++] = "-R";
	args[n++] = path.buf;
	ret = rclone_run(args, -1, &out, RCLONE_FILE_MAX, err);
	if (ret == SNAP_ENOTFOUND) {
		strbuf_reset(err);
		ret = 0;
	}
	for (p = out.buf; ret == 0 && *p; p = nl + 1) {
		char *semi;
		uint64_t size;

		nl = strchr(p, '\n');
		if (!nl)
			break;
		*nl = '\0';
		semi = strchr(p, ';');
		if (!semi) {
			ret = snap_error(err, SNAP_EIO, "rclone lsf '%s': unexpected line '%.80s'",
					 path.buf, p);
			break;
		}
		*semi = '\0';
		if (parse_u64(p, &size) < 0) {
			ret = snap_error(err, SNAP_EIO, "rclone lsf '%s': bad size '%.40s'", path.buf, p);
			break;
		}
		fn(semi + 1, size, data);
	}
	strbuf_release(&path);
	strbuf_release(&out);
	return ret;
}

/* ---- the lease ---- */

struct lease_info {
	char token[33];
	char host[256];
	long long pid;
	long long expires;
};

static int lease_parse(const struct strbuf *text, struct lease_info *l)
{
	const char *p = text->buf;
	int seen = 0;

	memset(l, 0, sizeof(*l));
	while (*p) {
		const char *nl = strchrnul(p, '\n');
		int len = (int)(nl - p);

		if (sscanf(p, "token = %32[0-9a-f]", l->token) == 1)
			seen |= 1;
		else if (len < 200 && sscanf(p, "host = %255[^\n]", l->host) == 1)
			seen |= 2;
		else if (sscanf(p, "pid = %lld", &l->pid) == 1)
			seen |= 4;
		else if (sscanf(p, "expires = %lld", &l->expires) == 1)
			seen |= 8;
		p = *nl ? nl + 1 : nl;
	}
	return seen == 15 && strlen(l->token) == 32 ? 0 : -1;
}

static void format_utc(char *buf, size_t len, long long t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, len, "%lld", t);
}

static int held(const struct lease_info *l, const char *what, struct strbuf *err)
{
	char when[64];

	format_utc(when, sizeof(when), l->expires);
	return snap_error(err, SNAP_ELOCKED, "%s: the remote's lease is held by %s pid %lld until %s",
			  what, l->host, l->pid, when);
}

/* Reads the lease: 1 with *l set, 0 absent, -1 there but unreadable; or an error. */
static int lease_read(struct rclone_remote *r, struct lease_info *l, struct strbuf *err)
{
	struct strbuf text = STRBUF_INIT;
	int ret = rclone_cat(r, "lease", &text, 4096, err);

	if (ret == SNAP_ENOTFOUND) {
		strbuf_reset(err);
		ret = 0;
	} else if (ret == 0) {
		ret = lease_parse(&text, l) < 0 ? -1 : 1;
	}
	strbuf_release(&text);
	return ret;
}

static long long lease_seconds(void)
{
	const char *s = getenv("SNAP_RCLONE_LEASE");
	uint64_t v;

	if (s && parse_u64(s, &v) == 0 && v > 0 && v < ((uint64_t)1 << 40))
		return (long long)v;
	return RCLONE_LEASE_SECONDS;
}

/*
 * Absent, expired, unreadable (a pusher killed while writing it), or
 * left by a pusher of this host that is gone: ours is written, and after
 * a settle read back; proceed only if it is still ours.
 */
static int lease_take(struct rclone_remote *r, struct strbuf *err)
{
	struct lease_info l;
	struct strbuf text = STRBUF_INIT;
	char host[256];
	struct timespec settle = { RCLONE_SETTLE_MS / 1000, (RCLONE_SETTLE_MS % 1000) * 1000000L };
	int ret = lease_read(r, &l, err);

	if (gethostname(host, sizeof(host)) < 0)
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	/* Live, unless its pusher was on this host and is gone. */
	if (ret == 1 && l.expires > (long long)time(NULL) &&
	    !(!strcmp(l.host, host) && process_gone(l.pid)))
		return held(&l, "not pushed", err);
	if (ret < -1)
		return ret;
	rclone_random_hex(r->token, 16);
	strbuf_addf(&text, "token = %s\nhost = %s\npid = %ld\nexpires = %lld\n", r->token, host,
		    (long)getpid(), (long long)time(NULL) + lease_seconds());
	ret = rclone_put(r, "lease", text.buf, text.len, err);
	strbuf_release(&text);
	/*
	 * A write that failed while another pusher wrote the same file (a
	 * backend may see a mix of both) lost the race: a refusal, when the
	 * remote still answers.
	 */
	if (ret < 0) {
		struct strbuf again = STRBUF_INIT;
		int now = lease_read(r, &l, &again);

		strbuf_release(&again);
		if (now == -1 || (now == 1 && strcmp(l.token, r->token))) {
			strbuf_reset(err);
			return now == 1 ? held(&l, "not pushed", err)
					: snap_error(err, SNAP_ELOCKED, "not pushed: another pusher is writing the remote's lease");
		}
		return ret;
	}
	r->leased = 1;
	while (nanosleep(&settle, &settle) < 0 && errno == EINTR)
		;
	return rclone_lease_check(r, err);
}

int rclone_lease_check(struct rclone_remote *r, struct strbuf *err)
{
	struct lease_info l;
	int ret = lease_read(r, &l, err);

	if (ret < -1)
		return ret;
	if (ret == 1 && !strcmp(l.token, r->token))
		return 0;
	r->leased = 0;
	if (ret == 1)
		return held(&l, "not pushed", err);
	return snap_error(err, SNAP_ELOCKED, "not pushed: the remote's lease was %s by another pusher",
			  ret == 0 ? "removed" : "overwritten");
}

static int lease_release(struct rclone_remote *r, struct strbuf *err)
{
	struct lease_info l;
	int ret = lease_read(r, &l, err);

	r->leased = 0;
	if (ret != 1 || strcmp(l.token, r->token))
		return ret < -1 ? ret : 0;
	return rclone_delete(r, "lease", err);
}

/* ---- refs ---- */

static int cmp_ref(const void *a, const void *b)
{
	return strcmp(((const struct remote_ref *)a)->name, ((const struct remote_ref *)b)->name);
}

int rclone_ref_read(struct rclone_remote *r, const char *name, struct snap_oid *oid,
		    struct strbuf *err)
{
	struct strbuf text = STRBUF_INIT;
	int ret = rclone_cat(r, name, &text, 4096, err);

	if (ret == SNAP_ENOTFOUND) {
		strbuf_reset(err);
		*oid = snap_null_oid;
		ret = 0;
	} else if (ret == 0 && (text.len != SNAP_OID_HEXSZ + 1 || text.buf[SNAP_OID_HEXSZ] != '\n' ||
				oid_from_hexn(oid, text.buf, SNAP_OID_HEXSZ) < 0)) {
		ret = snap_error(err, SNAP_ECORRUPT, "remote ref '%s' of '%s' is not one id line",
				 name, r->url);
	}
	strbuf_release(&text);
	return ret;
}

int rclone_ref_write(struct rclone_remote *r, const char *name, const struct snap_oid *new_oid,
		     struct strbuf *err)
{
	struct strbuf text = STRBUF_INIT;
	int ret;

	if (oid_is_null(new_oid))
		return rclone_delete(r, name, err);
	strbuf_addf(&text, "%s\n", oid_to_hex(new_oid));
	ret = rclone_put(r, name, text.buf, text.len, err);
	strbuf_release(&text);
	return ret;
}

struct ref_listing {
	char **names;
	size_t nr, alloc;
};

static void add_ref_name(const char *name, uint64_t size, void *data)
{
	struct ref_listing *l = data;

	(void)size;
	ALLOC_GROW(l->names, l->nr + 1, l->alloc);
	l->names[l->nr++] = xstrdup(name);
}

static int read_refs(struct rclone_remote *r, struct strbuf *err)
{
	struct ref_listing l = { NULL, 0, 0 };
	struct strbuf name = STRBUF_INIT;
	size_t i;
	int ret = rclone_list(r, "refs", 1, add_ref_name, &l, err);

	for (i = 0; ret == 0 && i < l.nr; i++) {
		struct snap_oid oid;

		strbuf_reset(&name);
		strbuf_addf(&name, "refs/%s", l.names[i]);
		if (ref_name_check(name.buf, err) < 0) {
			ret = snap_error(err, SNAP_EINVAL, " (a ref file of '%s')", r->url);
			break;
		}
		if (r->nr_refs >= TRANSPORT_REFS_MAX) {
			ret = snap_error(err, SNAP_ETOOBIG, "remote '%s' has more than %d refs", r->url,
					 TRANSPORT_REFS_MAX);
			break;
		}
		ret = rclone_ref_read(r, name.buf, &oid, err);
		/* (one deleted since it was listed) */
		if (ret < 0 || oid_is_null(&oid))
			continue;
		ALLOC_GROW(r->refs, r->nr_refs + 1, r->alloc_refs);
		r->refs[r->nr_refs].name = xstrdup(name.buf);
		r->refs[r->nr_refs].oid = oid;
		r->nr_refs++;
	}
	QSORT(r->refs, r->nr_refs, cmp_ref);
	for (i = 0; i < l.nr; i++)
		free(l.names[i]);
	free(l.names);
	strbuf_release(&name);
	return ret;
}

const struct remote_ref *rclone_ref(const struct rclone_remote *r, const char *name)
{
	struct remote_ref key;

	if (!r->nr_refs)
		return NULL;
	key.name = (char *)name;
	return bsearch(&key, r->refs, r->nr_refs, sizeof(*r->refs), cmp_ref);
}

/* ---- the connection ---- */

static int check_format(struct rclone_remote *r, int push, struct strbuf *err)
{
	struct strbuf text = STRBUF_INIT, want = STRBUF_INIT;
	int ret = rclone_cat(r, "snap-remote", &text, 4096, err);

	strbuf_addf(&want, "format = %d\n", RCLONE_FORMAT);
	if (ret == SNAP_ENOTFOUND) {
		strbuf_reset(err);
		if (push)
			ret = rclone_put(r, "snap-remote", want.buf, want.len, err);
		else
			ret = snap_error(err, SNAP_ENOTFOUND, "remote '%s' is not a snap remote (no snap-remote file)",
					 r->url);
	} else if (ret == 0 && strcmp(text.buf, want.buf)) {
		ret = snap_error(err, SNAP_EINVAL, "remote '%s': snap-remote says '%.40s', not format %d",
				 r->url, text.buf, RCLONE_FORMAT);
	}
	strbuf_release(&text);
	strbuf_release(&want);
	return ret;
}

int rclone_connect(struct rclone_remote *r, struct snap_store *store, const char *remote,
		   enum rclone_mode mode, struct strbuf *err)
{
	const char *spec = remote + strlen(RCLONE_PREFIX), *colon = strchr(spec, ':');
	int ret;

	memset(r, 0, sizeof(*r));
	r->store = store;
	r->url = xstrdup(remote);
	signal(SIGPIPE, SIG_IGN);
	/* A name first, so that nothing here is taken for a local path or an option. */
	if (!colon || colon == spec || spec[0] == '-' || strchr(spec, '\n'))
		return snap_error(err, SNAP_EINVAL, "remote '%s': expected rclone:RCLONE_REMOTE:PATH",
				  remote);
	r->base = xstrdup(spec);
	while (strlen(r->base) > (size_t)(colon - spec + 1) && r->base[strlen(r->base) - 1] == '/')
		r->base[strlen(r->base) - 1] = '\0';
	if ((ret = session_begin(store, 0, NULL, 0, &r->session, err)) < 0)
		return ret;
	/* A change writes nothing (not even a lease) where no remote is. */
	if (mode == RCLONE_CHANGE && (ret = check_format(r, 0, err)) < 0)
		return ret;
	if (mode != RCLONE_FETCH && (ret = lease_take(r, err)) < 0)
		return ret;
	ret = mode == RCLONE_CHANGE ? 0 : check_format(r, mode == RCLONE_PUSH, err);
	if (ret == 0)
		ret = read_refs(r, err);
	return ret;
}

int rclone_disconnect(struct rclone_remote *r, struct strbuf *err)
{
	size_t i;
	int ret = r->leased ? lease_release(r, err) : 0;

	rclone_pack_release_all(r);
	if (r->session)
		session_end(r->session);
	for (i = 0; i < r->nr_refs; i++)
		free(r->refs[i].name);
	free(r->refs);
	free(r->url);
	free(r->base);
	memset(r, 0, sizeof(*r));
	return ret;
}

static struct rclone_remote *at_exit;

static void disconnect_at_exit(void)
{
	struct strbuf ignored = STRBUF_INIT;

	if (at_exit)
		rclone_disconnect(at_exit, &ignored);
	strbuf_release(&ignored);
}

void rclone_disconnect_at_exit(struct rclone_remote *r)
{
	if (!at_exit)
		atexit(disconnect_at_exit);
	at_exit = r;
}
