/*
 * Refs and reflogs; formats in docs/FORMAT.md ("Refs and reflogs").
 */
#include "refs.h"
#include "error.h"
#include "fsio.h"
#include "lockfile.h"
#include "snapshot.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define REFLOG_MAX (64u << 20)

int ref_name_check(const char *name, struct strbuf *err)
{
	const char *why = NULL, *p, *comp;
	size_t len = strlen(name);

	if (strncmp(name, "refs/", 5) || !name[5])
		why = "must start with 'refs/' and name something below it";
	else if (len > REF_NAME_MAX)
		why = "too long";
	else if (name[len - 1] == '/')
		why = "ends with '/'";
	else if (strstr(name, "//"))
		why = "empty component";
	else if (strstr(name, ".."))
		why = "contains '..'";
	else if (strstr(name, "@{"))
		why = "contains '@{'";
	for (p = name; !why && *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c < 0x20 || c == 0x7f)
			why = "contains a control character";
		else if (strchr(" ~^:?*[\\", c))
			why = "contains a character not allowed in ref names";
	}
	for (comp = name; !why && comp; ) {
		const char *end = strchrnul(comp, '/');
		if (comp[0] == '.')
			why = "a component starts with '.'";
		else if (end - comp >= 5 && !strncmp(end - 5, ".lock", 5))
			why = "a component ends with '.lock'";
		comp = *end ? end + 1 : NULL;
	}
	if (!why)
		return 0;
	strbuf_addstr(err, "invalid ref name '");
	strbuf_addquoted(err, name, len);
	strbuf_addf(err, "': %s", why);
	return SNAP_EINVAL;
}

static void ref_path(struct snap_store *store, const char *name, struct strbuf *out)
{
	store_path(store, out, "%s", name);
}

static void log_path(struct snap_store *store, const char *name, struct strbuf *out)
{
	store_path(store, out, "logs/%s", name);
}

static int parse_ref(const char *buf, size_t len, struct snap_oid *out)
{
	size_t i;

	if (len != SNAP_OID_HEXSZ + 1 || buf[SNAP_OID_HEXSZ] != '\n')
		return -1;
	for (i = 0; i < SNAP_OID_HEXSZ; i++)
		if (buf[i] >= 'A' && buf[i] <= 'F')
			return -1;
	return oid_from_hexn(out, buf, SNAP_OID_HEXSZ);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void recover_quietly(struct snap_store *store);
static int finish_journals(struct snap_store *store, struct strbuf *err);
static void crash_point(void);
static int read_reflog(struct snap_store *store, const char *name,
		       reflog_each_fn fn, void *data, struct strbuf *err);

/* ref_read without finishing a dead transaction first. */
static int read_ref_file(struct snap_store *store, const char *name, struct snap_oid *out,
			 struct strbuf *err)
{
	struct strbuf path = STRBUF_INIT, buf = STRBUF_INIT;
	struct snap_oid oid;
	struct stat st;
	int ret;

	ret = ref_name_check(name, err);
	if (ret < 0)
		return ret;
	ref_path(store, name, &path);
	if (lstat(path.buf, &st) == 0 && !S_ISREG(st.st_mode)) {
		ret = S_ISDIR(st.st_mode)
			? snap_error(err, SNAP_ENOTFOUND, "ref '%s' not found", name)
			: snap_error(err, SNAP_ECORRUPT, "ref '%s' is not a regular file", name);
		goto out;
	}
	ret = strbuf_read_file(&buf, path.buf, 1024);
	if (ret == SNAP_ENOTFOUND)
		ret = snap_error(err, SNAP_ENOTFOUND, "ref '%s' not found", name);
	else if (ret == SNAP_ETOOBIG || (ret == 0 && parse_ref(buf.buf, buf.len, &oid) < 0))
		ret = snap_error(err, SNAP_ECORRUPT, "ref '%s' is malformed ('%s')", name, path.buf);
	else if (ret < 0)
		ret = snap_error_errno(err, "cannot read ref '%s'", path.buf);
	else if (out)
		*out = oid;
out:
	strbuf_release(&path);
	strbuf_release(&buf);
	return ret;
}

int ref_read(struct snap_store *store, const char *name, struct snap_oid *out,
	     struct strbuf *err)
{
	recover_quietly(store);
	return read_ref_file(store, name, out, err);
}

/* A reason as reflogs and journals hold it: control characters become spaces. */
static void add_reason(struct strbuf *sb, const char *reason)
{
	const char *r;

	for (r = reason ? reason : ""; *r; r++)
		strbuf_addch(sb, (unsigned char)*r < 0x20 || *r == 0x7f ? ' ' : *r);
}

/*
 * A reflog whose last line has no newline holds an append cut short (a
 * full disk, a crash): readers ignore that line, but the next append
 * would join it into one malformed line.  Cuts the file back to its last
 * newline and returns the resulting size, or -1 with errno.  Appends are
 * made under the ref's lock, so nobody else is writing here.
 */
static off_t torn_tail_cut(int fd)
{
	char buf[4096];
	struct stat st;
	off_t end, at;
	ssize_t n;

	if (fstat(fd, &st) < 0)
		return -1;
	for (end = st.st_size; end > 0; end = at) {
		at = end > (off_t)sizeof(buf) ? end - (off_t)sizeof(buf) : 0;
		n = pread(fd, buf, (size_t)(end - at), at);
		if (n != end - at) {
			if (n >= 0)
				errno = EIO;
			return -1;
		}
		while (n > 0 && buf[n - 1] != '\n')
			n--;
		if (n > 0) {
			end = at + n;
			break;
		}
	}
	if (end < st.st_size && fsio_ftruncate(fd, end) < 0)
		return -1;
	return end;
}

static int append_reflog(struct snap_store *store, const char *name,
			 const struct snap_oid *old_oid, const struct snap_oid *new_oid,
			 const char *reason, struct strbuf *err)
{
	struct strbuf path = STRBUF_INIT, line = STRBUF_INIT;
	time_t now = time(NULL);
	int fd, ret = 0, tz = local_tz((int64_t)now), a = tz < 0 ? -tz : tz;
	off_t size;

	log_path(store, name, &path);
	strbuf_addf(&line, "%s %s %lld %c%02d%02d\t", oid_to_hex(old_oid),
		    oid_to_hex(new_oid), (long long)now, tz < 0 ? '-' : '+', a / 60, a % 60);
	add_reason(&line, reason);
	strbuf_addch(&line, '\n');
	if (fsio_mkdirs_for(path.buf) < 0) {
		ret = snap_error_errno(err, "cannot create the directory of '%s'", path.buf);
		goto out;
	}
	fd = fsio_open(path.buf, O_RDWR | O_CREAT | O_APPEND, 0666);
	if (fd < 0) {
		ret = snap_error_errno(err, "cannot open reflog '%s'", path.buf);
		goto out;
	}
	size = torn_tail_cut(fd);
	if (size < 0) {
		ret = snap_error_errno(err, "cannot write reflog '%s'", path.buf);
	} else if (fsio_write(fd, line.buf, line.len) < 0 || fsio_fsync(fd) < 0) {
		ret = snap_error_errno(err, "cannot write reflog '%s'", path.buf);
		/* Half a line would join the next append's: take it back
		 * now; torn_tail_cut() does it next time if this fails. */
		(void)fsio_ftruncate(fd, size);
	}
	if (fsio_close(fd) < 0 && ret == 0)
		ret = snap_error_errno(err, "cannot write reflog '%s'", path.buf);
out:
	strbuf_release(&path);
	strbuf_release(&line);
	return ret;
}

/* ---- transactions ---- */

struct ref_update {
	char *name;
	struct snap_oid new_oid, old_oid;
	int delete, verify, have_old;
	char *reason;
	struct lockfile lock;
	struct snap_oid current;
	int exists;
};

struct ref_transaction {
	struct odb *odb;
	struct ref_update *u;
	size_t nr, alloc;
	int prepared;
	struct strbuf holder;	/* the holder line in our locks */
};

/*
 * The store's ref mutex, journal/mutex, held with flock(): taking over a
 * stale lock (and finishing a dead transaction) happens under it, so two
 * processes never both judge one lock stale and one of them removes the
 * lock the other has just made.  Ordinary updates never take it.
 */
static int refs_mutex_take(struct snap_store *store, int *fd, struct strbuf *err)
{
	struct strbuf path = STRBUF_INIT;
	int ret = 0;

	store_path(store, &path, "journal/mutex");
	if (fsio_mkdirs_for(path.buf) < 0) {
		ret = snap_error_errno(err, "cannot create the directory of '%s'", path.buf);
		goto out;
	}
	*fd = fsio_open(path.buf, O_RDWR | O_CREAT, 0666);
	if (*fd < 0) {
		ret = snap_error_errno(err, "cannot open '%s'", path.buf);
		goto out;
	}
	while (flock(*fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			ret = snap_error_errno(err, "cannot lock '%s'", path.buf);
			close(*fd);
			*fd = -1;
			break;
		}
	}
out:
	strbuf_release(&path);
	return ret;
}

static void refs_mutex_release(int fd)
{
	if (fd >= 0)
		close(fd);
}

/*
 * Takes "<path>.lock" for ref name.  A lock whose holder is gone
 * (lock_is_stale) is removed under the ref mutex, after a second look,
 * and taken; a lock in use is SNAP_ELOCKED: "ref 'X' is locked: ...".
 */
static int take_ref_lock(struct snap_store *store, const char *name, const char *path,
			 struct lockfile *lk, const char *holder, struct strbuf *err)
{
	struct strbuf lp = STRBUF_INIT, why = STRBUF_INIT;
	int ret, stale, tries, mutex = -1;

	strbuf_addf(&lp, "%s.lock", path);
	for (tries = 0; ; tries++) {
		strbuf_reset(err);
		ret = lock_hold(lk, path, holder, err);
		if (ret != SNAP_ELOCKED)
			break;
		strbuf_reset(&why);
		stale = lock_is_stale(lp.buf, NULL, &why);
		if (stale == 1 && tries < 2) {
			ret = refs_mutex_take(store, &mutex, err);
			if (ret < 0)
				break;
			/* A dead transaction's locks go with its journal, finished. */
			ret = finish_journals(store, err);
			if (ret < 0) {
				refs_mutex_release(mutex);
				break;
			}
			ret = 0;
			strbuf_reset(&why);
			stale = lock_is_stale(lp.buf, NULL, &why);
			if (stale == 1 && fsio_unlink(lp.buf) < 0 && errno != ENOENT)
				ret = snap_error_errno(err, "cannot remove the stale lock '%s'", lp.buf);
			refs_mutex_release(mutex);
			if (ret < 0)
				break;
			continue;
		}
		if (stale == SNAP_ENOTFOUND && tries < 2)
			continue;
		strbuf_reset(err);
		if (stale < 0 && stale != SNAP_ENOTFOUND)
			ret = snap_error(err, SNAP_EIO, "ref '%s': %s", name, why.buf);
		else
			ret = snap_error(err, SNAP_ELOCKED, "ref '%s' is locked: %s", name,
					 stale == 0 ? why.buf : "its lock keeps coming back");
		break;
	}
	strbuf_release(&lp);
	strbuf_release(&why);
	return ret;
}

/*
 * Writes a ref's new value into ".<base>.new" beside it (a name no ref can
 * have), fsyncs it, renames it over the ref and fsyncs the directory.  The
 * caller holds the ref's lock, so the temporary name is its alone.
 */
static int write_ref_file(const char *path, const struct snap_oid *oid, struct strbuf *err)
{
	struct strbuf tmp = STRBUF_INIT;
	const char *slash = strrchr(path, '/');
	char hex[SNAP_OID_HEXSZ + 2];
	int fd, ret = 0;

	strbuf_add(&tmp, path, (size_t)(slash + 1 - path));
	strbuf_addf(&tmp, ".%s.new", slash + 1);
	oid_to_hex_r(hex, oid);
	hex[SNAP_OID_HEXSZ] = '\n';
	fd = fsio_open(tmp.buf, O_WRONLY | O_CREAT | O_TRUNC, 0666);
	if (fd < 0) {
		ret = snap_error_errno(err, "cannot create '%s'", tmp.buf);
		goto out;
	}
	if (fsio_write(fd, hex, SNAP_OID_HEXSZ + 1) < 0 || fsio_fsync(fd) < 0)
		ret = snap_error_errno(err, "cannot write '%s'", tmp.buf);
	if (fsio_close(fd) < 0 && ret == 0)
		ret = snap_error_errno(err, "cannot write '%s'", tmp.buf);
	if (ret == 0)
		crash_point();
	if (ret == 0 && fsio_rename(tmp.buf, path) < 0)
		ret = snap_error_errno(err, "cannot rename '%s' to '%s'", tmp.buf, path);
	if (ret < 0)
		unlink(tmp.buf);
	else if (fsio_fsync_parent(path) < 0)
		ret = snap_error_errno(err, "cannot sync the directory of '%s'", path);
out:
	strbuf_release(&tmp);
	return ret;
}

struct ref_transaction *ref_transaction_begin(struct odb *odb)
{
	struct ref_transaction *tx = xcalloc(1, sizeof(*tx));

	tx->odb = odb;
	strbuf_init(&tx->holder, 0);
	return tx;
}

int ref_transaction_add(struct ref_transaction *tx, const char *name,
			const struct snap_oid *new_oid,
			const struct snap_oid *old_oid, int verify,
			const char *reason, struct strbuf *err)
{
	struct ref_update *u;
	size_t i;
	int ret = ref_name_check(name, err);

	if (ret < 0)
		return ret;
	for (i = 0; i < tx->nr; i++)
		if (!strcmp(tx->u[i].name, name))
			return snap_error(err, SNAP_EINVAL,
					  "ref '%s' appears twice in one transaction", name);
	ALLOC_GROW(tx->u, tx->nr + 1, tx->alloc);
	u = &tx->u[tx->nr++];
	memset(u, 0, sizeof(*u));
	u->lock.fd = -1;
	u->name = xstrdup(name);
	u->delete = !new_oid && !verify;
	u->verify = verify;
	if (new_oid)
		u->new_oid = *new_oid;
	if (old_oid) {
		u->have_old = 1;
		u->old_oid = *old_oid;
	}
	u->reason = xstrdup(reason ? reason : "");
	return 0;
}

static int cmp_update(const void *a, const void *b)
{
	return strcmp(((const struct ref_update *)a)->name, ((const struct ref_update *)b)->name);
}

static int check_new(struct odb *odb, const struct ref_update *u, struct strbuf *err)
{
	enum object_type type;
	uint64_t size;
	int ret;

	ret = odb_read_header(odb, &u->new_oid, &type, &size, NULL);
	if (ret == SNAP_ENOTFOUND || ret < 0)
		return snap_error(err, SNAP_ENOTFOUND,
				  "cannot point ref '%s' at '%s': no such object",
				  u->name, oid_to_hex(&u->new_oid));
	if (!strncmp(u->name, "refs/snapshots/", 15) && type != OBJ_SNAPSHOT)
		return snap_error(err, SNAP_EINVAL,
				  "cannot point ref '%s' at '%s': a %s, not a snapshot",
				  u->name, oid_to_hex(&u->new_oid), type_name(type));
	return 0;
}

static int check_old(const struct ref_update *u, struct strbuf *err)
{
	if (!u->have_old)
		return 0;
	if (oid_is_null(&u->old_oid)) {
		if (u->exists)
			return snap_error(err, SNAP_EEXISTS, "ref '%s' already exists (at %s)",
					  u->name, oid_to_hex(&u->current));
		return 0;
	}
	if (!u->exists)
		return snap_error(err, SNAP_EEXISTS, "ref '%s' moved: expected %s, found none",
				  u->name, oid_to_hex(&u->old_oid));
	if (oid_cmp(&u->current, &u->old_oid))
		return snap_error(err, SNAP_EEXISTS, "ref '%s' moved: expected %s, found %s",
				  u->name, oid_to_hex(&u->old_oid), oid_to_hex(&u->current));
	return 0;
}

/*
 * SNAP_TEST_KILL_AT=N: SIGKILL at the Nth step of moving refs in this
 * process (a test hook; docs/ARCHITECTURE.md, "Fault injection").  The
 * steps are each lock taken, the journal made durable, each ref's new
 * file written, each ref renamed or deleted, each reflog change, the
 * journal removed and each lock released, in prepare, commit and the
 * finishing of a dead transaction alike.
 */
static void crash_point(void)
{
	static long at = -1, steps;

	if (at < 0) {
		const char *s = getenv("SNAP_TEST_KILL_AT");
		uint64_t n;

		at = s && parse_u64(s, &n) == 0 && n < 1000000 ? (long)n : 0;
	}
	if (at && ++steps == at)
		raise(SIGKILL);
}

/* A lock taken over from a dead transaction's holder is ours to remove
 * only once its journal is gone; until then it is forgotten, not removed. */
static void lock_forget(struct lockfile *lk)
{
	free(lk->path);
	free(lk->lock_path);
	memset(lk, 0, sizeof(*lk));
	lk->fd = -1;
}

/* One ref's change in a journal: old or new null for "absent". */
struct ref_move {
	char *name;
	struct snap_oid old_oid, new_oid;
	char *reason;
};

static void moves_free(struct ref_move *m, size_t nr)
{
	size_t i;

	for (i = 0; i < nr; i++) {
		free(m[i].name);
		free(m[i].reason);
	}
	free(m);
}

/* The last complete line of a reflog, if any: for finishing a move once. */
struct last_entry {
	struct snap_oid old_oid, new_oid;
	int found;
};

static int note_last(const struct reflog_entry *e, void *data)
{
	struct last_entry *l = data;

	l->old_oid = e->old_oid;
	l->new_oid = e->new_oid;
	l->found = 1;
	return 0;
}

/*
 * Brings one ref to m's new value, with its reflog line after the ref
 * moved (so a crash never leaves a line naming a value the ref did not
 * get).  finishing: m comes from a dead transaction's journal, and may
 * have been applied already, in part or whole; a ref found at neither
 * value was moved by someone else since and is left alone.
 */
static int apply_move(struct snap_store *store, const struct ref_move *m, int finishing,
		      struct strbuf *err)
{
	struct strbuf path = STRBUF_INIT, ignore = STRBUF_INIT;
	struct snap_oid cur;
	int ret, exists, is_old, is_new;

	ret = read_ref_file(store, m->name, &cur, &ignore);
	exists = ret == 0;
	if (ret < 0 && ret != SNAP_ENOTFOUND) {
		ret = snap_error(err, ret, "%s", ignore.buf);
		goto out;
	}
	ret = 0;
	is_old = oid_is_null(&m->old_oid) ? !exists : exists && !oid_cmp(&cur, &m->old_oid);
	is_new = oid_is_null(&m->new_oid) ? !exists : exists && !oid_cmp(&cur, &m->new_oid);
	ref_path(store, m->name, &path);
	if (is_new && (finishing || !is_old)) {
		/* Moved before the crash: its reflog line may be missing. */
		struct last_entry last = { { { 0 } }, { { 0 } }, 0 };

		if (oid_is_null(&m->new_oid)) {
			ret = reflog_delete(store, m->name, err);
			goto out;
		}
		strbuf_reset(&ignore);
		ret = read_reflog(store, m->name, note_last, &last, &ignore);
		if (ret < 0 && ret != SNAP_ENOTFOUND) {
			ret = snap_error(err, ret, "%s", ignore.buf);
			goto out;
		}
		ret = 0;
		if (!last.found || oid_cmp(&last.old_oid, &m->old_oid) ||
		    oid_cmp(&last.new_oid, &m->new_oid)) {
			ret = append_reflog(store, m->name, &m->old_oid, &m->new_oid, m->reason, err);
			crash_point();
		}
	} else if (is_old && oid_is_null(&m->new_oid)) {
		if (fsio_unlink(path.buf) < 0 && errno != ENOENT)
			ret = snap_error_errno(err, "cannot delete ref '%s'", path.buf);
		else if (fsio_fsync_parent(path.buf) < 0)
			ret = snap_error_errno(err, "cannot sync the directory of '%s'", path.buf);
		crash_point();
		if (ret == 0)
			ret = reflog_delete(store, m->name, err);
		crash_point();
	} else if (is_old) {
		ret = write_ref_file(path.buf, &m->new_oid, err);
		crash_point();
		if (ret == 0)
			ret = append_reflog(store, m->name, &m->old_oid, &m->new_oid, m->reason, err);
		crash_point();
	} else if (!finishing) {
		ret = snap_error(err, SNAP_EIO, "ref '%s' changed while its lock was held", m->name);
	}
out:
	strbuf_release(&path);
	strbuf_release(&ignore);
	return ret;
}

/*
 * The journal (docs/FORMAT.md, "Transactions"): every move of a
 * transaction, written to objects/tmp, fsynced and renamed to
 * journal/tx-<nanoseconds>-<pid> before the first ref moves.
 */
static int journal_write(struct snap_store *store, const char *holder,
			 const struct ref_move *m, size_t nr, struct strbuf *jpath,
			 struct strbuf *err)
{
	struct strbuf text = STRBUF_INIT, dir = STRBUF_INIT, tmp = STRBUF_INIT;
	struct timespec ts;
	size_t i;
	int fd, ret = 0;

	strbuf_addf(&text, "snap-ref-journal 1\nholder %s", holder);
	for (i = 0; i < nr; i++) {
		strbuf_addf(&text, "%s ", oid_to_hex(&m[i].old_oid));
		strbuf_addf(&text, "%s %s\t", oid_to_hex(&m[i].new_oid), m[i].name);
		add_reason(&text, m[i].reason);
		strbuf_addch(&text, '\n');
	}
	strbuf_addf(&text, "end %zu\n", nr);

	clock_gettime(CLOCK_REALTIME, &ts);
	store_path(store, jpath, "journal/tx-%019lld-%ld",
		   (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec, (long)getpid());
	if (fsio_mkdirs_for(jpath->buf) < 0) {
		ret = snap_error_errno(err, "cannot create the directory of '%s'", jpath->buf);
		goto out;
	}
	store_path(store, &dir, "objects/tmp");
	fd = fsio_mktemp(dir.buf, "journal-", &tmp);
	if (fd < 0) {
		ret = snap_error_errno(err, "cannot create a journal in '%s'", dir.buf);
		goto out;
	}
	if (fsio_write(fd, text.buf, text.len) < 0 || fsio_fsync(fd) < 0)
		ret = snap_error_errno(err, "cannot write '%s'", tmp.buf);
	if (fsio_close(fd) < 0 && ret == 0)
		ret = snap_error_errno(err, "cannot write '%s'", tmp.buf);
	if (ret == 0 && fsio_rename(tmp.buf, jpath->buf) < 0)
		ret = snap_error_errno(err, "cannot rename '%s' to '%s'", tmp.buf, jpath->buf);
	if (ret < 0) {
		unlink(tmp.buf);
		goto out;
	}
	if (fsio_fsync_parent(jpath->buf) < 0) {
		/* Renamed but perhaps not durable: no ref may move on it. */
		ret = snap_error_errno(err, "cannot sync the directory of '%s'", jpath->buf);
		unlink(jpath->buf);
	}
out:
	strbuf_release(&text);
	strbuf_release(&dir);
	strbuf_release(&tmp);
	return ret;
}

/* Removes a finished journal, durably. */
static int journal_remove(const char *jpath, struct strbuf *err)
{
	if (fsio_unlink(jpath) < 0 && errno != ENOENT)
		return snap_error_errno(err, "cannot remove '%s'", jpath);
	if (fsio_fsync_parent(jpath) < 0)
		return snap_error_errno(err, "cannot sync the directory of '%s'", jpath);
	return 0;
}

/* Parses a journal; -1 unless it is exactly as journal_write writes it. */
static int journal_parse(const char *buf, size_t len, struct strbuf *holder,
			 struct ref_move **out, size_t *nr_out)
{
	struct ref_move *m = NULL;
	size_t nr = 0, alloc = 0;
	const char *p = buf, *end = buf + len;
	struct strbuf ignore = STRBUF_INIT;
	int ret = -1;

	if (memchr(buf, '\0', len) || len < 19 || memcmp(p, "snap-ref-journal 1\n", 19))
		goto out;
	p += 19;
	{
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl || end - p < 7 || memcmp(p, "holder ", 7))
			goto out;
		strbuf_reset(holder);
		strbuf_add(holder, p + 7, (size_t)(nl + 1 - (p + 7)));
		p = nl + 1;
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *tab;
		struct ref_move mv;
		char count[24];
		size_t n = nl ? (size_t)(nl - p) : 0;

		if (!nl)
			goto out;
		if (n > 4 && n < 4 + sizeof(count) && !memcmp(p, "end ", 4)) {
			uint64_t want;
			memcpy(count, p + 4, n - 4);
			count[n - 4] = '\0';
			if (nl + 1 == end && parse_u64(count, &want) == 0 && want == nr && nr > 0)
				ret = 0;
			goto out;
		}
		tab = memchr(p, '\t', n);
		if (n < 2 * SNAP_OID_HEXSZ + 3 || !tab || p[SNAP_OID_HEXSZ] != ' ' ||
		    p[2 * SNAP_OID_HEXSZ + 1] != ' ' ||
		    oid_from_hexn(&mv.old_oid, p, SNAP_OID_HEXSZ) < 0 ||
		    oid_from_hexn(&mv.new_oid, p + SNAP_OID_HEXSZ + 1, SNAP_OID_HEXSZ) < 0 ||
		    tab < p + 2 * SNAP_OID_HEXSZ + 3)
			goto out;
		mv.name = xstrndup(p + 2 * SNAP_OID_HEXSZ + 2,
				   (size_t)(tab - (p + 2 * SNAP_OID_HEXSZ + 2)));
		if (ref_name_check(mv.name, &ignore) < 0) {
			free(mv.name);
			goto out;
		}
		mv.reason = xstrndup(tab + 1, (size_t)(nl - tab - 1));
		ALLOC_GROW(m, nr + 1, alloc);
		m[nr++] = mv;
		p = nl + 1;
	}
out:
	strbuf_release(&ignore);
	if (ret < 0) {
		moves_free(m, nr);
		return -1;
	}
	*out = m;
	*nr_out = nr;
	return 0;
}

/*
 * Finishes the transaction of journal jpath if its holder is gone; the
 * caller holds the ref mutex.  Rolls forward: the journal was durable
 * before any ref moved, so the transaction had committed.  Returns 1 when
 * it finished one, 0 when the holder may still be at work.
 */
static int journal_finish(struct snap_store *store, const char *jpath, struct strbuf *err)
{
	struct strbuf buf = STRBUF_INIT, holder = STRBUF_INIT, mine = STRBUF_INIT;
	struct strbuf path = STRBUF_INIT, lp = STRBUF_INIT, cur = STRBUF_INIT, why = STRBUF_INIT;
	struct ref_move *m = NULL;
	struct lockfile *locks = NULL;
	struct lock_holder h;
	size_t nr = 0, i;
	int ret;

	ret = strbuf_read_file(&buf, jpath, REFLOG_MAX);
	if (ret == SNAP_ENOTFOUND) {
		ret = 0;
		goto out;
	}
	if (ret < 0) {
		ret = snap_error_errno(err, "cannot read '%s'", jpath);
		goto out;
	}
	/*
	 * A journal is fsynced whole before it is renamed into journal/, and
	 * no ref moves before that: an empty one (what a power cut may leave
	 * of one a finished transaction had just removed) moved nothing.
	 */
	if (!buf.len) {
		ret = fsio_unlink(jpath) < 0 && errno != ENOENT
			? snap_error_errno(err, "cannot remove the empty journal '%s'", jpath) : 0;
		goto out;
	}
	if (journal_parse(buf.buf, buf.len, &holder, &m, &nr) < 0) {
		ret = snap_error(err, SNAP_ECORRUPT,
				 "transaction journal '%s' is malformed; its refs may be half-moved",
				 jpath);
		goto out;
	}
	if (lock_holder_gone(holder.buf, holder.len, &h) != 1)
		goto out;
	lock_holder_line(&mine);
	locks = xcalloc(nr, sizeof(*locks));
	for (i = 0; i < nr; i++)
		locks[i].fd = -1;
	for (i = 0; i < nr && ret == 0; i++) {
		int stale;

		ref_path(store, m[i].name, &path);
		strbuf_reset(&lp);
		strbuf_addf(&lp, "%s.lock", path.buf);
		strbuf_reset(&why);
		stale = lock_is_stale(lp.buf, &cur, &why);
		if (stale >= 0 && stale != SNAP_ENOTFOUND && !strcmp(cur.buf, holder.buf)) {
			/* The dead holder's own lock: now ours. */
			locks[i].path = xstrdup(path.buf);
			locks[i].lock_path = strbuf_detach(&lp, NULL);
			continue;
		}
		if (stale == 1 && fsio_unlink(lp.buf) < 0 && errno != ENOENT)
			ret = snap_error_errno(err, "cannot remove the stale lock '%s'", lp.buf);
		else if (stale == 1 || stale == SNAP_ENOTFOUND)
			ret = lock_hold(&locks[i], path.buf, mine.buf, err);
		else if (stale == 0)
			ret = snap_error(err, SNAP_ELOCKED, "ref '%s' is locked: %s", m[i].name, why.buf);
		else
			ret = snap_error(err, stale, "%s", why.buf);
		if (ret < 0) {
			struct strbuf detail = STRBUF_INIT;

			strbuf_addbuf(&detail, err);
			strbuf_reset(err);
			ret = snap_error(err, ret, "cannot finish the transaction in '%s': %s",
					 jpath, detail.buf);
			strbuf_release(&detail);
		}
	}
	for (i = 0; i < nr && ret == 0; i++)
		ret = apply_move(store, &m[i], 1, err);
	if (ret == 0)
		ret = journal_remove(jpath, err);
	if (ret == 0)
		crash_point();
	for (i = 0; locks && i < nr; i++) {
		if (ret < 0 || !locks[i].lock_path) {
			/* Left for the next try, which takes them over again. */
			lock_forget(&locks[i]);
			continue;
		}
		lock_rollback(&locks[i]);
		crash_point();
	}
	if (ret == 0)
		ret = 1;
out:
	free(locks);
	moves_free(m, nr);
	strbuf_release(&buf);
	strbuf_release(&holder);
	strbuf_release(&mine);
	strbuf_release(&path);
	strbuf_release(&lp);
	strbuf_release(&cur);
	strbuf_release(&why);
	return ret;
}

/* The journals present, oldest first. */
static int list_journals(struct snap_store *store, char ***names, size_t *nr,
			 struct strbuf *err)
{
	struct strbuf dir = STRBUF_INIT;
	struct dirent *de;
	size_t alloc = 0;
	DIR *d;
	int ret = 0;

	*names = NULL;
	*nr = 0;
	store_path(store, &dir, "journal");
	d = opendir(dir.buf);
	if (!d) {
		if (errno != ENOENT)
			ret = snap_error_errno(err, "cannot read '%s'", dir.buf);
		strbuf_release(&dir);
		return ret;
	}
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, "tx-", 3))
			continue;
		struct strbuf full = STRBUF_INIT;

		strbuf_addf(&full, "%s/%s", dir.buf, de->d_name);
		ALLOC_GROW(*names, *nr + 1, alloc);
		(*names)[(*nr)++] = strbuf_detach(&full, NULL);
	}
	closedir(d);
	QSORT(*names, *nr, cmp_str);
	strbuf_release(&dir);
	return ret;
}

/* refs_recover with the ref mutex held. */
static int finish_journals(struct snap_store *store, struct strbuf *err)
{
	char **names;
	size_t nr, i;
	int ret, done = 0;

	ret = list_journals(store, &names, &nr, err);
	for (i = 0; i < nr; i++) {
		if (ret >= 0) {
			ret = journal_finish(store, names[i], err);
			done += ret > 0;
		}
		free(names[i]);
	}
	free(names);
	return ret < 0 ? ret : done;
}

/*
 * Removes, under the ref mutex, every ref lock below dir whose holder is
 * surely gone (lock_is_stale), with the hidden ".NAME.new" it may have
 * left: a crash between a ref's move and its unlock leaves nothing that
 * waits for the next update of that very ref.
 */
static int clear_stale_locks(struct snap_store *store, const char *dir, int depth,
			     int *mutex, struct strbuf *err)
{
	struct strbuf sub = STRBUF_INIT, why = STRBUF_INIT;
	struct dirent *de;
	DIR *d = opendir(dir);
	int ret = 0;

	if (!d)
		return 0;
	while (ret == 0 && (de = readdir(d))) {
		size_t n = strlen(de->d_name);
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		strbuf_reset(&sub);
		strbuf_addf(&sub, "%s/%s", dir, de->d_name);
		if (lstat(sub.buf, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			if (depth < 64)
				ret = clear_stale_locks(store, sub.buf, depth + 1, mutex, err);
			continue;
		}
		/* A lock's hidden temporary file, left by a crash (lock_hold). */
		if (de->d_name[0] == '.' && strstr(de->d_name, ".lock-") &&
		    time(NULL) - st.st_mtime > 3600) {
			unlink(sub.buf);
			continue;
		}
		if (n <= 5 || strcmp(de->d_name + n - 5, ".lock"))
			continue;
		strbuf_reset(&why);
		if (lock_is_stale(sub.buf, NULL, &why) != 1)
			continue;
		if (*mutex < 0 && (ret = refs_mutex_take(store, mutex, err)) < 0)
			break;
		/* A second look, now that no one else can take it over. */
		strbuf_reset(&why);
		if (lock_is_stale(sub.buf, NULL, &why) == 1) {
			struct strbuf hidden = STRBUF_INIT;

			strbuf_addf(&hidden, "%s/.%.*s.new", dir, (int)(n - 5), de->d_name);
			unlink(hidden.buf);
			strbuf_release(&hidden);
			if (fsio_unlink(sub.buf) < 0 && errno != ENOENT)
				ret = snap_error_errno(err, "cannot remove the stale lock '%s'", sub.buf);
		}
	}
	closedir(d);
	strbuf_release(&sub);
	strbuf_release(&why);
	return ret;
}

int refs_recover(struct snap_store *store, struct strbuf *err)
{
	struct strbuf dir = STRBUF_INIT;
	char **names;
	size_t nr, i;
	int ret, mutex = -1;

	ret = list_journals(store, &names, &nr, err);
	for (i = 0; i < nr; i++)
		free(names[i]);
	free(names);
	if (ret < 0)
		return ret;
	if (nr) {
		ret = refs_mutex_take(store, &mutex, err);
		if (ret < 0)
			return ret;
		ret = finish_journals(store, err);
	}
	if (ret >= 0) {
		int r;

		store_path(store, &dir, "refs");
		r = clear_stale_locks(store, dir.buf, 0, &mutex, err);
		if (r < 0)
			ret = r;
	}
	if (mutex >= 0)
		refs_mutex_release(mutex);
	strbuf_release(&dir);
	return ret;
}

/* Once a process: tried by a reader (whose errors are ignored); done. */
static int recovery_tried, recovery_done;

static void recover_quietly(struct snap_store *store)
{
	struct strbuf ignore = STRBUF_INIT;

	if (recovery_tried)
		return;
	recovery_tried = 1;
	refs_recover(store, &ignore);
	strbuf_release(&ignore);
}

int ref_transaction_prepare(struct ref_transaction *tx, struct strbuf *err)
{
	struct snap_store *store = odb_store(tx->odb);
	struct strbuf path = STRBUF_INIT;
	size_t i;
	int ret = 0;

	/* A dead transaction is finished before we look at any ref. */
	if (!recovery_done) {
		recovery_tried = 1;
		ret = refs_recover(store, err);
		if (ret < 0)
			return ret;
		ret = 0;
		recovery_done = 1;
	}
	/* A fixed order of locking, so that two transactions cannot deadlock. */
	QSORT(tx->u, tx->nr, cmp_update);
	lock_holder_line(&tx->holder);
	for (i = 0; i < tx->nr && ret == 0; i++) {
		struct ref_update *u = &tx->u[i];

		ref_path(store, u->name, &path);
		ret = take_ref_lock(store, u->name, path.buf, &u->lock, tx->holder.buf, err);
		if (ret < 0)
			break;
		crash_point();
		ret = read_ref_file(store, u->name, &u->current, err);
		u->exists = ret == 0;
		if (ret == SNAP_ENOTFOUND) {
			strbuf_reset(err);
			ret = 0;
		}
		if (ret == 0)
			ret = check_old(u, err);
		if (ret == 0 && !u->delete && !u->verify)
			ret = check_new(tx->odb, u, err);
		if (ret == 0 && u->delete && !u->exists && !u->have_old)
			ret = snap_error(err, SNAP_ENOTFOUND, "ref '%s' not found", u->name);
	}
	strbuf_release(&path);
	if (ret < 0) {
		for (i = 0; i < tx->nr; i++)
			if (tx->u[i].lock.lock_path)
				lock_rollback(&tx->u[i].lock);
		return ret;
	}
	tx->prepared = 1;
	return 0;
}

int ref_transaction_commit(struct ref_transaction *tx, struct strbuf *err)
{
	struct snap_store *store = odb_store(tx->odb);
	struct strbuf jpath = STRBUF_INIT;
	struct ref_move *m;
	size_t i, nr = 0;
	int ret = 0;

	if (!tx->prepared) {
		ret = ref_transaction_prepare(tx, err);
		if (ret < 0)
			goto out;
	}
	m = xcalloc(tx->nr + 1, sizeof(*m));
	for (i = 0; i < tx->nr; i++) {
		const struct ref_update *u = &tx->u[i];

		if (u->verify)
			continue;
		m[nr].name = xstrdup(u->name);
		m[nr].old_oid = u->exists ? u->current : snap_null_oid;
		m[nr].new_oid = u->delete ? snap_null_oid : u->new_oid;
		m[nr].reason = xstrdup(u->reason);
		nr++;
	}
	/*
	 * The journal first: once it is durable the transaction has
	 * happened, and a crash from here on is rolled forward by the next
	 * ref command (journal_finish).  Before it, nothing has changed.
	 */
	if (nr)
		ret = journal_write(store, tx->holder.buf, m, nr, &jpath, err);
	if (nr && ret == 0) {
		crash_point();
		for (i = 0; i < nr && ret == 0; i++)
			ret = apply_move(store, &m[i], 0, err);
		if (ret == 0)
			ret = journal_remove(jpath.buf, err);
		if (ret < 0) {
			/*
			 * Committed but not all applied: the locks stay, so
			 * that no one moves these refs before the journal is
			 * finished, which the next ref command does once we
			 * have exited.
			 */
			for (i = 0; i < tx->nr; i++)
				lock_forget(&tx->u[i].lock);
			strbuf_addf(err, "; the transaction in '%s' is finished by the next "
				    "ref command", jpath.buf);
		} else {
			crash_point();
		}
	}
	for (i = 0; i < tx->nr; i++) {
		if (tx->u[i].lock.lock_path) {
			lock_rollback(&tx->u[i].lock);
			crash_point();
		}
	}
	moves_free(m, nr);
out:
	strbuf_release(&jpath);
	ref_transaction_abort(tx);
	return ret;
}

void ref_transaction_abort(struct ref_transaction *tx)
{
	size_t i;

	if (!tx)
		return;
	for (i = 0; i < tx->nr; i++) {
		if (tx->u[i].lock.lock_path)
			lock_rollback(&tx->u[i].lock);
		free(tx->u[i].name);
		free(tx->u[i].reason);
	}
	free(tx->u);
	strbuf_release(&tx->holder);
	free(tx);
}

int ref_update(struct odb *odb, const char *name, const struct snap_oid *new_oid,
	       const struct snap_oid *old_oid, const char *reason,
	       struct strbuf *err)
{
	struct ref_transaction *tx = ref_transaction_begin(odb);
	int ret = ref_transaction_add(tx, name, new_oid, old_oid, 0, reason, err);

	if (ret < 0) {
		ref_transaction_abort(tx);
		return ret;
	}
	return ref_transaction_commit(tx, err);
}

int ref_delete(struct odb *odb, const char *name, const struct snap_oid *old_oid,
	       struct strbuf *err)
{
	struct ref_transaction *tx = ref_transaction_begin(odb);
	int ret = ref_transaction_add(tx, name, NULL, old_oid, 0, NULL, err);

	if (ret < 0) {
		ref_transaction_abort(tx);
		return ret;
	}
	return ref_transaction_commit(tx, err);
}

/* ---- listing ---- */

/* Collects the names of regular files below dir (relative to base). */
static int collect(const char *root, const char *rel, char ***names, size_t *nr,
		   size_t *alloc, int depth, struct strbuf *err)
{
	struct strbuf path = STRBUF_INIT, sub = STRBUF_INIT;
	struct dirent *de;
	DIR *d;
	int ret = 0;

	if (depth > 64)
		return 0;
	strbuf_addf(&path, "%s/%s", root, rel);
	d = opendir(path.buf);
	if (!d) {
		if (errno != ENOENT && errno != ENOTDIR)
			ret = snap_error_errno(err, "cannot read '%s'", path.buf);
		strbuf_release(&path);
		return ret;
	}
	while (ret == 0 && (de = readdir(d))) {
		struct stat st;
		size_t len = strlen(de->d_name);

		if (de->d_name[0] == '.')
			continue;
		strbuf_reset(&sub);
		strbuf_addf(&sub, "%s/%s", rel, de->d_name);
		strbuf_reset(&path);
		strbuf_addf(&path, "%s/%s", root, sub.buf);
		if (lstat(path.buf, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			ret = collect(root, sub.buf, names, nr, alloc, depth + 1, err);
		} else if (!(len > 5 && !strcmp(de->d_name + len - 5, ".lock"))) {
			ALLOC_GROW(*names, *nr + 1, *alloc);
			(*names)[(*nr)++] = strbuf_detach(&sub, NULL);
		}
	}
	closedir(d);
	strbuf_release(&path);
	strbuf_release(&sub);
	return ret;
}

int refs_for_each(struct snap_store *store, const char *prefix, ref_each_fn fn,
		  void *data, struct strbuf *err)
{
	char **names = NULL;
	size_t nr = 0, alloc = 0, i;
	int ret;

	recover_quietly(store);
	ret = collect(store->path, "refs", &names, &nr, &alloc, 0, err);
	QSORT(names, nr, cmp_str);
	for (i = 0; i < nr; i++) {
		struct snap_oid oid;
		struct strbuf ignore = STRBUF_INIT;

		if (ret == 0 && !strncmp(names[i], prefix, strlen(prefix))) {
			int r = read_ref_file(store, names[i], &oid, &ignore);
			ret = fn(names[i], r == 0 ? &oid : NULL, data);
		}
		strbuf_release(&ignore);
		free(names[i]);
	}
	free(names);
	return ret;
}

int reflogs_for_each(struct snap_store *store, ref_each_fn fn, void *data,
		     struct strbuf *err)
{
	struct strbuf root = STRBUF_INIT;
	char **names = NULL;
	size_t nr = 0, alloc = 0, i;
	int ret;

	recover_quietly(store);
	store_path(store, &root, "logs");
	ret = collect(root.buf, "refs", &names, &nr, &alloc, 0, err);
	QSORT(names, nr, cmp_str);
	for (i = 0; i < nr; i++) {
		if (ret == 0)
			ret = fn(names[i], NULL, data);
		free(names[i]);
	}
	free(names);
	strbuf_release(&root);
	return ret;
}

static int parse_reflog_line(const char *line, size_t len, struct reflog_entry *e,
			     struct strbuf *reason)
{
	const char *p = line, *tab;
	char num[24];
	size_t nl;
	uint64_t t;
	int h, m;

	if (len < 2 * SNAP_OID_HEXSZ + 2 || line[SNAP_OID_HEXSZ] != ' ' ||
	    line[2 * SNAP_OID_HEXSZ + 1] != ' ' ||
	    oid_from_hexn(&e->old_oid, p, SNAP_OID_HEXSZ) < 0 ||
	    oid_from_hexn(&e->new_oid, p + SNAP_OID_HEXSZ + 1, SNAP_OID_HEXSZ) < 0)
		return -1;
	p += 2 * SNAP_OID_HEXSZ + 2;
	nl = strspn(p, "0123456789");
	if (!nl || nl >= sizeof(num) || p[nl] != ' ')
		return -1;
	memcpy(num, p, nl);
	num[nl] = '\0';
	if (parse_u64(num, &t) < 0)
		return -1;
	e->time = (int64_t)t;
	p += nl + 1;
	if ((p[0] != '+' && p[0] != '-') || strspn(p + 1, "0123456789") != 4 || p[5] != '\t')
		return -1;
	h = (p[1] - '0') * 10 + (p[2] - '0');
	m = (p[3] - '0') * 10 + (p[4] - '0');
	e->tz = (p[0] == '-' ? -1 : 1) * (h * 60 + m);
	tab = p + 5;
	strbuf_reset(reason);
	strbuf_add(reason, tab + 1, len - (size_t)(tab + 1 - line));
	e->reason = reason->buf;
	return 0;
}

int reflog_for_each(struct snap_store *store, const char *name,
		    reflog_each_fn fn, void *data, struct strbuf *err)
{
	recover_quietly(store);
	return read_reflog(store, name, fn, data, err);
}

static int read_reflog(struct snap_store *store, const char *name,
		       reflog_each_fn fn, void *data, struct strbuf *err)
{
	struct strbuf path = STRBUF_INIT, buf = STRBUF_INIT, reason = STRBUF_INIT;
	const char *p;
	size_t lineno = 0;
	int ret;

	ret = ref_name_check(name, err);
	if (ret < 0)
		return ret;
	log_path(store, name, &path);
	ret = strbuf_read_file(&buf, path.buf, REFLOG_MAX);
	if (ret == SNAP_ENOTFOUND)
		ret = snap_error(err, SNAP_ENOTFOUND, "no reflog for '%s'", name);
	else if (ret < 0)
		ret = snap_error(err, ret == SNAP_ETOOBIG ? SNAP_ETOOBIG : SNAP_EIO,
				 "cannot read reflog '%s'", path.buf);
	for (p = buf.buf; ret == 0 && *p; ) {
		const char *nl = strchrnul(p, '\n');
		struct reflog_entry e;

		/* A last line without its newline is an append cut short by a
		 * crash: it never described a change that happened. */
		if (!*nl)
			break;
		lineno++;
		if (parse_reflog_line(p, (size_t)(nl - p), &e, &reason) < 0)
			ret = snap_error(err, SNAP_ECORRUPT, "reflog '%s' line %zu is malformed",
					 path.buf, lineno);
		else
			ret = fn(&e, data);
		p = *nl ? nl + 1 : nl;
	}
	strbuf_release(&path);
	strbuf_release(&buf);
	strbuf_release(&reason);
	return ret;
}

int reflog_reset(struct snap_store *store, const char *name,
		 const struct snap_oid *new_oid, const char *reason,
		 struct strbuf *err)
{
	int ret = reflog_delete(store, name, err);

	if (ret == 0)
		ret = append_reflog(store, name, &snap_null_oid, new_oid, reason, err);
	return ret;
}

int reflog_delete(struct snap_store *store, const char *name, struct strbuf *err)
{
	struct strbuf path = STRBUF_INIT;
	int ret = ref_name_check(name, err);

	if (ret < 0)
		return ret;
	log_path(store, name, &path);
	if (fsio_unlink(path.buf) < 0 && errno != ENOENT)
		ret = snap_error_errno(err, "cannot delete reflog '%s'", path.buf);
	strbuf_release(&path);
	return ret;
}

int ref_dwim(struct snap_store *store, const char *name, struct strbuf *fullname,
	     struct snap_oid *oid, struct strbuf *err)
{
	static const char *const rules[] = { "", "refs/snapshots/", "refs/tags/" };
	struct strbuf ignore = STRBUF_INIT;
	size_t i;
	int ret;

	for (i = !strncmp(name, "refs/", 5) ? 0 : 1; i < ARRAY_SIZE(rules); i++) {
		strbuf_reset(fullname);
		strbuf_addstr(fullname, rules[i]);
		strbuf_addstr(fullname, name);
		strbuf_reset(&ignore);
		ret = ref_read(store, fullname->buf, oid, &ignore);
		if (ret != SNAP_ENOTFOUND && ret != SNAP_EINVAL) {
			if (ret < 0 && err)
				strbuf_addbuf(err, &ignore);
			strbuf_release(&ignore);
			return ret;
		}
		if (i == 0)
			break;
	}
	strbuf_release(&ignore);
	return snap_error(err, SNAP_ENOTFOUND, "ref '%s' not found", name);
}

char *ref_full_name(const char *name)
{
	struct strbuf sb = STRBUF_INIT;

	if (strncmp(name, "refs/", 5))
		strbuf_addstr(&sb, "refs/snapshots/");
	strbuf_addstr(&sb, name);
	return strbuf_detach(&sb, NULL);
}

int ref_names_add(const char *name, const struct snap_oid *oid, void *data)
{
	struct ref_names *n = data;

	(void)oid;
	ALLOC_GROW(n->v, n->nr + 1, n->alloc);
	n->v[n->nr++] = xstrdup(name);
	return 0;
}

void ref_names_release(struct ref_names *n)
{
	size_t i;

	for (i = 0; i < n->nr; i++)
		free(n->v[i]);
	free(n->v);
	n->v = NULL;
	n->nr = n->alloc = 0;
}
