#include "session.h"
#include "error.h"
#include "fsio.h"
#include "util.h"

#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define SESSION_FILE_MAX 65536

/*
 * Sessions of this very process are removed when it exits, even through
 * exit() after a fatal error, so that a failed command leaves no file.
 */
static char *own_paths[8];

static void remove_own_sessions(void)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(own_paths); i++)
		if (own_paths[i])
			unlink(own_paths[i]);
}

static void track_own(const char *path, int add)
{
	static int registered;
	size_t i;

	if (add && !registered) {
		atexit(remove_own_sessions);
		registered = 1;
	}
	for (i = 0; i < ARRAY_SIZE(own_paths); i++) {
		if (add && !own_paths[i]) {
			own_paths[i] = xstrdup(path);
			return;
		}
		if (!add && own_paths[i] && !strcmp(own_paths[i], path)) {
			free(own_paths[i]);
			own_paths[i] = NULL;
			return;
		}
	}
}

const char *local_host(void)
{
	static char host[256];

	if (!host[0] && gethostname(host, sizeof(host) - 1) < 0)
		memcpy(host, "localhost", sizeof("localhost"));
	return host;
}

int process_gone(long pid)
{
	char path[64], buf[512];
	const char *paren;
	ssize_t n;
	int fd;

	if (pid <= 0 || kill((pid_t)pid, 0) < 0)
		return pid > 0 && errno == ESRCH;
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* "pid (comm) S ...": the state follows the last ')'. */
	paren = strrchr(buf, ')');
	return paren && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X');
}

int store_now(struct snap_store *store, int64_t *now_ns, struct strbuf *err)
{
	struct strbuf dir = STRBUF_INIT, path = STRBUF_INIT;
	struct stat st;
	int fd, ret = 0;

	store_path(store, &dir, "objects/tmp");
	fd = fsio_mktemp(dir.buf, "clock-", &path);
	if (fd < 0 || fstat(fd, &st) < 0)
		ret = snap_error_errno(err, "cannot read the store's clock in '%s'", dir.buf);
	else
		*now_ns = mtime_ns(&st);
	if (fd >= 0) {
		close(fd);
		unlink(path.buf);
	}
	strbuf_release(&dir);
	strbuf_release(&path);
	return ret;
}

static void format_session(const struct session *s, struct strbuf *out)
{
	size_t i;

	strbuf_reset(out);
	strbuf_addf(out, "host %s\npid %ld\nstart %lld\n", s->host, (long)s->pid,
		    (long long)s->start_ns);
	for (i = 0; i < s->nr_bases; i++)
		strbuf_addf(out, "base %s\n", oid_to_hex(&s->bases[i]));
}

/*
 * Writes the session file whole (fsio_replace_file), its temporary file
 * in the store's objects/tmp: never a name in sessions/ that a reader
 * could take for a session.
 */
static int write_session(struct session *s, struct strbuf *err)
{
	struct strbuf text = STRBUF_INIT, tmpdir = STRBUF_INIT;
	int ret = 0;

	/* s->path is <store>/sessions/NAME */
	strbuf_add(&tmpdir, s->path, (size_t)(strrchr(s->path, '/') - s->path));
	strbuf_setlen(&tmpdir, (size_t)(strrchr(tmpdir.buf, '/') - tmpdir.buf));
	strbuf_addstr(&tmpdir, "/objects/tmp");
	format_session(s, &text);
	if (fsio_replace_file(tmpdir.buf, s->path, text.buf, text.len, 0444) < 0)
		ret = snap_error_errno(err, "cannot create '%s'", s->path);
	strbuf_release(&text);
	strbuf_release(&tmpdir);
	return ret;
}

int session_begin(struct snap_store *store, pid_t pid,
		  const struct snap_oid *bases, size_t nr_bases,
		  struct session **out, struct strbuf *err)
{
	struct session *s = xcalloc(1, sizeof(*s));
	struct strbuf path = STRBUF_INIT;
	unsigned char rnd[4] = { 0 };
	size_t i;
	int ret;

	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		memset(rnd, 0, sizeof(rnd));
	s->host = xstrdup(local_host());
	s->pid = pid ? pid : getpid();
	store_path(store, &path, "sessions");
	if (fsio_mkdir(path.buf, 0777) < 0 && errno != EEXIST) {
		ret = snap_error_errno(err, "cannot create '%s'", path.buf);
		strbuf_release(&path);
		session_free(s);
		return ret;
	}
	strbuf_addf(&path, "/%s-%ld-%02x%02x%02x%02x", s->host, (long)s->pid,
		    rnd[0], rnd[1], rnd[2], rnd[3]);
	s->path = strbuf_detach(&path, NULL);
	s->name = xstrdup(strrchr(s->path, '/') + 1);
	ret = store_now(store, &s->start_ns, err);
	for (i = 0; i < nr_bases; i++) {
		ALLOC_GROW(s->bases, s->nr_bases + 1, s->alloc_bases);
		s->bases[s->nr_bases++] = bases[i];
	}
	if (ret == 0)
		ret = write_session(s, err);
	if (ret < 0) {
		session_free(s);
		return ret;
	}
	if (s->pid == getpid())
		track_own(s->path, 1);
	*out = s;
	return 0;
}

int session_add_base(struct session *s, const struct snap_oid *oid,
		     struct strbuf *err)
{
	ALLOC_GROW(s->bases, s->nr_bases + 1, s->alloc_bases);
	s->bases[s->nr_bases++] = *oid;
	return write_session(s, err);
}

void session_touch(struct session *s)
{
	fsio_touch(s->path);
}

void session_free(struct session *s)
{
	if (!s)
		return;
	free(s->path);
	free(s->name);
	free(s->host);
	free(s->bases);
	free(s);
}

void session_end(struct session *s)
{
	if (!s)
		return;
	unlink(s->path);
	track_own(s->path, 0);
	session_free(s);
}

static int parse_session(struct session *s, const char *text, struct strbuf *err)
{
	const char *p = text;
	int have = 0, nr = 0;

	while (*p) {
		const char *nl = strchrnul(p, '\n');
		char *line = xstrndup(p, (size_t)(nl - p));
		struct snap_oid oid;
		int64_t v;

		nr++;
		if (!strncmp(line, "host ", 5) && line[5]) {
			free(s->host);
			s->host = xstrdup(line + 5);
			have |= 1;
		} else if (!strncmp(line, "pid ", 4) && parse_i64(line + 4, &v) == 0 && v > 0 &&
			   v <= INT32_MAX) {
			s->pid = (pid_t)v;
			have |= 2;
		} else if (!strncmp(line, "start ", 6) && parse_i64(line + 6, &v) == 0) {
			s->start_ns = v;
			have |= 4;
		} else if (!strncmp(line, "base ", 5) && oid_from_hex(&oid, line + 5) == 0) {
			ALLOC_GROW(s->bases, s->nr_bases + 1, s->alloc_bases);
			s->bases[s->nr_bases++] = oid;
		} else {
			free(line);
			return snap_error(err, SNAP_ECORRUPT, "bad line %d in session '%s'",
					  nr, s->path);
		}
		free(line);
		p = *nl ? nl + 1 : nl;
	}
	if (have != 7)
		return snap_error(err, SNAP_ECORRUPT,
				  "missing host, pid or start line in session '%s'", s->path);
	return 0;
}

static int load_one(const char *path, struct session **out, struct strbuf *err)
{
	struct strbuf text = STRBUF_INIT;
	struct session *s;
	struct stat st;
	int ret;

	if (stat(path, &st) < 0)
		return errno == ENOENT ? SNAP_ENOTFOUND
				       : snap_error_errno(err, "cannot stat '%s'", path);
	ret = strbuf_read_file(&text, path, SESSION_FILE_MAX);
	if (ret == SNAP_ENOTFOUND)
		return ret;
	if (ret < 0) {
		strbuf_release(&text);
		return snap_error(err, ret == SNAP_ETOOBIG ? SNAP_ECORRUPT : ret,
				  "cannot read session '%s'", path);
	}
	s = xcalloc(1, sizeof(*s));
	s->path = xstrdup(path);
	s->name = xstrdup(strrchr(path, '/') + 1);
	s->beat_ns = mtime_ns(&st);
	ret = parse_session(s, text.buf, err);
	strbuf_release(&text);
	if (ret < 0) {
		session_free(s);
		return ret;
	}
	*out = s;
	return 0;
}

int session_find(struct snap_store *store, const char *name,
		 struct session **out, struct strbuf *err)
{
	struct strbuf path = STRBUF_INIT;
	int ret;

	if (!*name || strchr(name, '/') || name[0] == '.')
		return snap_error(err, SNAP_EINVAL, "bad session name '%s'", name);
	store_path(store, &path, "sessions/%s", name);
	ret = load_one(path.buf, out, err);
	if (ret == SNAP_ENOTFOUND)
		ret = snap_error(err, SNAP_ENOTFOUND, "no session '%s'", name);
	strbuf_release(&path);
	return ret;
}

enum session_state session_state(const struct session *s, int64_t now_ns)
{
	if (!strcmp(s->host, local_host()))
		return process_gone(s->pid) ? SESSION_DEAD : SESSION_LIVE;
	if (now_ns - s->beat_ns > (int64_t)SESSION_TTL * 1000000000LL)
		return SESSION_EXPIRED;
	return SESSION_LIVE;
}

int sessions_load(struct snap_store *store, struct session ***out, size_t *nr,
		  struct strbuf *err)
{
	char **paths;
	size_t nr_paths, alloc = 0, i;
	int ret;

	*out = NULL;
	*nr = 0;
	ret = store_list(store, "sessions", "", "", &paths, &nr_paths, err);
	for (i = 0; i < nr_paths; i++) {
		struct session *s;

		if (ret == 0) {
			ret = load_one(paths[i], &s, err);
			if (ret == 0) {
				ALLOC_GROW(*out, *nr + 1, alloc);
				(*out)[(*nr)++] = s;
			} else if (ret == SNAP_ENOTFOUND) {
				ret = 0;	/* it ended meanwhile */
			}
		}
		free(paths[i]);
	}
	free(paths);
	if (ret < 0) {
		while (*nr)
			session_free((*out)[--*nr]);
		free(*out);
		*out = NULL;
	}
	return ret;
}
