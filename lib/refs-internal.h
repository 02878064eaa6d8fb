#ifndef SNAP_REFS_INTERNAL_H
#define SNAP_REFS_INTERNAL_H

/*
 * What the files of the refs module share and nothing else uses
 * (refs.h is the manual): lib/refs.c (names, reading, listing),
 * lib/reflog.c (reflogs), lib/reftx.c (locks and transactions) and
 * lib/refjournal.c (a transaction's journal, and finishing a dead one).
 * Formats in docs/FORMAT.md ("Refs and reflogs", "Transactions").
 */

#include <stddef.h>
#include "oid.h"
#include "strbuf.h"

struct lockfile;
struct reflog_entry;
struct snap_store;

/* The most a reflog, or a journal, may hold when it is read. */
#define REFLOG_MAX (64u << 20)

/* The file of ref name: <store>/<name>. */
void ref_file_path(struct snap_store *store, const char *name, struct strbuf *out);
/* ref_read() without finishing a dead transaction first. */
int ref_read_file(struct snap_store *store, const char *name, struct snap_oid *out,
		  struct strbuf *err);
/* strcmp() of two char * array elements, for QSORT. */
int refs_cmp_str(const void *a, const void *b);
/*
 * Appends to *names the paths (from rel, "rel/...") of the regular files
 * below root/rel that are not locks or hidden, to 64 levels.  A missing
 * directory holds nothing; one that cannot be read is SNAP_EIO.
 */
int refs_collect(const char *root, const char *rel, char ***names, size_t *nr,
		 size_t *alloc, int depth, struct strbuf *err);

/* Appends reason as reflogs and journals hold it: control characters become spaces. */
void reflog_add_reason(struct strbuf *sb, const char *reason);
/*
 * Whether a move of ref name can be carried out whole, checked before a
 * transaction's journal is written (a journal that cannot be finished
 * would stop every later ref command): SNAP_EINVAL if name's path is a
 * directory (it holds other refs: "a" beside "a/b") or its reflog's path
 * is something other than a regular file (a symlink is never written
 * through), with one line in err.
 */
int ref_move_possible(struct snap_store *store, const char *name, struct strbuf *err);
/*
 * Checked before name's lock is taken: SNAP_EINVAL, one line in err,
 * when a directory name's path needs is a regular file (a ref "a" beside
 * "a/b").
 */
int ref_dirs_possible(struct snap_store *store, const char *name, struct strbuf *err);
/* Appends one line to name's reflog, durable when this returns 0. */
int reflog_append(struct snap_store *store, const char *name,
		  const struct snap_oid *old_oid, const struct snap_oid *new_oid,
		  const char *reason, struct strbuf *err);
/* reflog_for_each() without finishing a dead transaction first. */
int reflog_read(struct snap_store *store, const char *name,
		int (*fn)(const struct reflog_entry *e, void *data), void *data,
		struct strbuf *err);

/*
 * The store's ref mutex (journal/mutex, flock()), under which a stale
 * lock is taken over and a dead transaction finished; ordinary updates
 * never take it.  *fd is -1 after a failure.
 */
int refs_mutex_take(struct snap_store *store, int *fd, struct strbuf *err);
void refs_mutex_release(int fd);
/*
 * SNAP_TEST_KILL_AT=N: SIGKILL at the Nth step of changing refs in this
 * process (docs/ARCHITECTURE.md, "Fault injection").
 */
void refs_crash_point(void);
/* Drops a lock taken over from a dead holder without removing its file. */
void ref_lock_forget(struct lockfile *lk);

/* One ref's change in a journal: old or new null for "absent". */
struct ref_move {
	char *name;
	struct snap_oid old_oid, new_oid;
	char *reason;
};
void ref_moves_free(struct ref_move *m, size_t nr);
/*
 * Brings one ref to m's new value, its reflog line after the ref moved.
 * finishing: m comes from a dead transaction's journal and may have been
 * applied already, in part or whole; a ref at neither value is left alone.
 */
int ref_move_apply(struct snap_store *store, const struct ref_move *m, int finishing,
		   struct strbuf *err);

/*
 * Writes the journal of nr moves (holder: the locks' holder line),
 * durable, as journal/tx-<nanoseconds>-<pid>, whose path goes to jpath;
 * and removes one.
 */
int refs_journal_write(struct snap_store *store, const char *holder,
		       const struct ref_move *m, size_t nr, struct strbuf *jpath,
		       struct strbuf *err);
int refs_journal_remove(const char *jpath, struct strbuf *err);
/* Finishes every journal of a dead transaction; the caller holds the ref mutex. */
int refs_finish_journals(struct snap_store *store, struct strbuf *err);
/* refs_recover() once a process, before a transaction looks at any ref. */
int refs_recover_once(struct snap_store *store, struct strbuf *err);
/* The same for a reader, which ignores its errors (tried once a process). */
void refs_recover_quietly(struct snap_store *store);

#endif
