/*
 * A ref transaction's journal: written before the first ref moves,
 * removed after the last; finishing the journals of a dead transaction,
 * and clearing stale locks (refs_recover; docs/FORMAT.md, "Transactions").
 */
#include "refs.h"
#include "refs-internal.h"

#include "error.h"
#include "fsio.h"
#include "lockfile.h"
#include "util.h"
#include "storefs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/*
 * The journal (docs/FORMAT.md, "Transactions"): every move of a
 * transaction, written to objects/tmp, fsynced and renamed to
 * journal/tx-<nanoseconds>-<pid> before the first ref moves.
 */
int refs_journal_write(struct snap_store *store, const char *holder,
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
		reflog_add_reason(&text, m[i].reason);
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
		storefs_unlink(tmp.buf);
		goto out;
	}
	if (fsio_fsync_parent(jpath->buf) < 0) {
		/* Renamed but perhaps not durable: no ref may move on it. */
		ret = snap_error_errno(err, "cannot sync the directory of '%s'", jpath->buf);
		storefs_unlink(jpath->buf);
	}
out:
	strbuf_release(&text);
	strbuf_release(&dir);
	strbuf_release(&tmp);
	return ret;
}

/* Removes a finished journal, durably. */
int refs_journal_remove(const char *jpath, struct strbuf *err)
{
	if (fsio_unlink(jpath) < 0 && errno != ENOENT)
		return snap_error_errno(err, "cannot remove '%s'", jpath);
	if (fsio_fsync_parent(jpath) < 0)
		return snap_error_errno(err, "cannot sync the directory of '%s'", jpath);
	return 0;
}

/* Parses a journal; -1 unless it is exactly as refs_journal_write writes it. */
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
		ref_moves_free(m, nr);
		return -1;
	}
	*out = m;
	*nr_out = nr;
	return 0;
}

/* Whether journal jpath is no longer there: its holder removed it. */
static int journal_vanished(const char *jpath)
{
	struct stat st;

	return lstat(jpath, &st) < 0 && errno == ENOENT;
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
	int ret, done = 0;

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

		ref_file_path(store, m[i].name, &path);
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
		if (ret < 0 && journal_vanished(jpath)) {
			/* Its holder finished it after we read it: nothing to do. */
			strbuf_reset(err);
			ret = 0;
			done = 1;
			break;
		}
		if (ret < 0) {
			struct strbuf detail = STRBUF_INIT;

			strbuf_addbuf(&detail, err);
			strbuf_reset(err);
			ret = snap_error(err, ret, "cannot finish the transaction in '%s': %s",
					 jpath, detail.buf);
			strbuf_release(&detail);
		}
	}
	for (i = 0; i < nr && ret == 0 && !done; i++)
		ret = ref_move_apply(store, &m[i], 1, err);
	if (ret == 0 && !done)
		ret = refs_journal_remove(jpath, err);
	if (ret == 0 && !done)
		refs_crash_point();
	for (i = 0; locks && i < nr; i++) {
		if (ret < 0 || !locks[i].lock_path) {
			/* Left for the next try, which takes them over again. */
			ref_lock_forget(&locks[i]);
			continue;
		}
		lock_rollback(&locks[i]);
		refs_crash_point();
	}
	if (ret == 0)
		ret = 1;
out:
	free(locks);
	ref_moves_free(m, nr);
	strbuf_release(&buf);
	strbuf_release(&holder);
	strbuf_release(&mine);
	strbuf_release(&path);
	strbuf_release(&lp);
	strbuf_release(&cur);
	strbuf_release(&why);
	return ret;
}

/* refs_recover with the ref mutex held. */
int refs_finish_journals(struct snap_store *store, struct strbuf *err)
{
	char **names;
	size_t nr, i;
	int ret, done = 0;

	/* The journals present, oldest first (their names sort by time). */
	ret = store_list(store, "journal", "tx-", "", &names, &nr, err);
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
	DIR *d = storefs_opendir(dir);
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
		if (storefs_lstat(sub.buf, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			if (depth < 64)
				ret = clear_stale_locks(store, sub.buf, depth + 1, mutex, err);
			continue;
		}
		/* A lock's hidden temporary file, left by a crash (lock_hold). */
		if (de->d_name[0] == '.' && strstr(de->d_name, ".lock-") &&
		    time(NULL) - st.st_mtime > 3600) {
			storefs_unlink(sub.buf);
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
			storefs_unlink(hidden.buf);
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

	/* The journals present, oldest first (their names sort by time). */
	ret = store_list(store, "journal", "tx-", "", &names, &nr, err);
	for (i = 0; i < nr; i++)
		free(names[i]);
	free(names);
	if (ret < 0)
		return ret;
	if (nr) {
		ret = refs_mutex_take(store, &mutex, err);
		if (ret < 0)
			return ret;
		ret = refs_finish_journals(store, err);
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

int refs_recover_once(struct snap_store *store, struct strbuf *err)
{
	int ret;

	if (recovery_done)
		return 0;
	recovery_tried = 1;
	ret = refs_recover(store, err);
	if (ret < 0)
		return ret;
	recovery_done = 1;
	return 0;
}

void refs_recover_quietly(struct snap_store *store)
{
	struct strbuf ignore = STRBUF_INIT;

	if (recovery_tried)
		return;
	recovery_tried = 1;
	refs_recover(store, &ignore);
	strbuf_release(&ignore);
}
