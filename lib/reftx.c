/*
 * Ref locks and transactions: the ref mutex, taking over a stale lock,
 * compare-and-swap checks, writing a ref's new file, moving refs with
 * their reflog lines (refs.h; docs/FORMAT.md, "Transactions").  The
 * journal that makes a transaction all or nothing is lib/refjournal.c.
 */
#include "refs.h"
#include "refs-internal.h"

#include "error.h"
#include "fsio.h"
#include "lockfile.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

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
int refs_mutex_take(struct snap_store *store, int *fd, struct strbuf *err)
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

void refs_mutex_release(int fd)
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
			ret = refs_finish_journals(store, err);
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
		refs_crash_point();
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
void refs_crash_point(void)
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
void ref_lock_forget(struct lockfile *lk)
{
	free(lk->path);
	free(lk->lock_path);
	memset(lk, 0, sizeof(*lk));
	lk->fd = -1;
}

void ref_moves_free(struct ref_move *m, size_t nr)
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
int ref_move_apply(struct snap_store *store, const struct ref_move *m, int finishing,
		   struct strbuf *err)
{
	struct strbuf path = STRBUF_INIT, ignore = STRBUF_INIT;
	struct snap_oid cur;
	int ret, exists, is_old, is_new;

	ret = ref_read_file(store, m->name, &cur, &ignore);
	exists = ret == 0;
	if (ret < 0 && ret != SNAP_ENOTFOUND) {
		ret = snap_error(err, ret, "%s", ignore.buf);
		goto out;
	}
	ret = 0;
	is_old = oid_is_null(&m->old_oid) ? !exists : exists && !oid_cmp(&cur, &m->old_oid);
	is_new = oid_is_null(&m->new_oid) ? !exists : exists && !oid_cmp(&cur, &m->new_oid);
	ref_file_path(store, m->name, &path);
	if (is_new && (finishing || !is_old)) {
		/* Moved before the crash: its reflog line may be missing. */
		struct last_entry last = { { { 0 } }, { { 0 } }, 0 };

		if (oid_is_null(&m->new_oid)) {
			ret = reflog_delete(store, m->name, err);
			goto out;
		}
		strbuf_reset(&ignore);
		ret = reflog_read(store, m->name, note_last, &last, &ignore);
		if (ret < 0 && ret != SNAP_ENOTFOUND) {
			ret = snap_error(err, ret, "%s", ignore.buf);
			goto out;
		}
		ret = 0;
		if (!last.found || oid_cmp(&last.old_oid, &m->old_oid) ||
		    oid_cmp(&last.new_oid, &m->new_oid)) {
			ret = reflog_append(store, m->name, &m->old_oid, &m->new_oid, m->reason, err);
			refs_crash_point();
		}
	} else if (is_old && oid_is_null(&m->new_oid)) {
		if (fsio_unlink(path.buf) < 0 && errno != ENOENT)
			ret = snap_error_errno(err, "cannot delete ref '%s'", path.buf);
		else if (fsio_fsync_parent(path.buf) < 0)
			ret = snap_error_errno(err, "cannot sync the directory of '%s'", path.buf);
		refs_crash_point();
		if (ret == 0)
			ret = reflog_delete(store, m->name, err);
		refs_crash_point();
	} else if (is_old) {
		ret = write_ref_file(path.buf, &m->new_oid, err);
		refs_crash_point();
		if (ret == 0)
			ret = reflog_append(store, m->name, &m->old_oid, &m->new_oid, m->reason, err);
		refs_crash_point();
	} else if (!finishing) {
		ret = snap_error(err, SNAP_EIO, "ref '%s' changed while its lock was held", m->name);
	}
out:
	strbuf_release(&path);
	strbuf_release(&ignore);
	return ret;
}

int ref_transaction_prepare(struct ref_transaction *tx, struct strbuf *err)
{
	struct snap_store *store = odb_store(tx->odb);
	struct strbuf path = STRBUF_INIT;
	size_t i;
	int ret = 0;

	/* A dead transaction is finished before we look at any ref. */
	ret = refs_recover_once(store, err);
	if (ret < 0)
		return ret;
	/* A fixed order of locking, so that two transactions cannot deadlock. */
	QSORT(tx->u, tx->nr, cmp_update);
	lock_holder_line(&tx->holder);
	for (i = 0; i < tx->nr && ret == 0; i++) {
		struct ref_update *u = &tx->u[i];

		ref_file_path(store, u->name, &path);
		ret = u->verify ? 0 : ref_dirs_possible(store, u->name, err);
		if (ret == 0)
			ret = take_ref_lock(store, u->name, path.buf, &u->lock, tx->holder.buf, err);
		if (ret < 0)
			break;
		refs_crash_point();
		ret = ref_read_file(store, u->name, &u->current, err);
		u->exists = ret == 0;
		if (ret == SNAP_ENOTFOUND) {
			strbuf_reset(err);
			ret = 0;
		}
		if (ret == 0 && !u->verify)
			ret = ref_move_possible(store, u->name, err);
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
		ret = refs_journal_write(store, tx->holder.buf, m, nr, &jpath, err);
	if (nr && ret == 0) {
		refs_crash_point();
		for (i = 0; i < nr && ret == 0; i++)
			ret = ref_move_apply(store, &m[i], 0, err);
		if (ret == 0)
			ret = refs_journal_remove(jpath.buf, err);
		if (ret < 0) {
			/*
			 * Committed but not all applied: the locks stay, so
			 * that no one moves these refs before the journal is
			 * finished, which the next ref command does once we
			 * have exited.
			 */
			for (i = 0; i < tx->nr; i++)
				ref_lock_forget(&tx->u[i].lock);
			strbuf_addf(err, "; the transaction in '%s' is finished by the next "
				    "ref command", jpath.buf);
		} else {
			refs_crash_point();
		}
	}
	for (i = 0; i < tx->nr; i++) {
		if (tx->u[i].lock.lock_path) {
			lock_rollback(&tx->u[i].lock);
			refs_crash_point();
		}
	}
	ref_moves_free(m, nr);
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

	return ref_transaction_end(tx, ret, err);
}

int ref_delete(struct odb *odb, const char *name, const struct snap_oid *old_oid,
	       struct strbuf *err)
{
	struct ref_transaction *tx = ref_transaction_begin(odb);
	int ret = ref_transaction_add(tx, name, NULL, old_oid, 0, NULL, err);

	return ref_transaction_end(tx, ret, err);
}

int ref_transaction_end(struct ref_transaction *tx, int ret, struct strbuf *err)
{
	if (ret == 0)
		ret = ref_transaction_prepare(tx, err);
	/* commit frees tx, whatever it returns */
	if (ret == 0)
		return ref_transaction_commit(tx, err);
	ref_transaction_abort(tx);
	return ret;
}
