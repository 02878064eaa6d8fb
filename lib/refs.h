#ifndef SNAP_REFS_H
#define SNAP_REFS_H

/*
 * Refs: named pointers to objects, one file each under <store>/refs/, and
 * their reflogs under <store>/logs/ (docs/FORMAT.md, "Refs and reflogs").
 *
 * Every change takes "<ref>.lock" with O_CREAT|O_EXCL (naming its holder;
 * a dead holder's lock is taken over), checks the old value
 * (compare-and-swap) and that the new object exists, writes a journal of
 * the whole transaction, moves each ref (new file, rename), then appends
 * its reflog line, removes the journal and releases the locks.  A name is
 * checked (ref_name_check) before any path is built from it.
 *
 * A transaction is atomic under a crash: one killed after its journal is
 * durable is rolled forward (every ref reaches its new value, with its
 * reflog line) by the next ref command of any process: every ref read,
 * listing and update here finishes a dead transaction's journal first
 * (readers ignore failures to), and refs_recover() does it on request.
 */

#include <stdint.h>
#include "odb.h"
#include "oid.h"
#include "store.h"
#include "strbuf.h"

#define REF_NAME_MAX 255

/* 0, or SNAP_EINVAL with "invalid ref name 'X': <why>". */
int ref_name_check(const char *name, struct strbuf *err);

/*
 * SNAP_ENOTFOUND when absent; SNAP_ECORRUPT for a malformed ref file
 * (anything but 64 lower-case hex digits and a newline: empty, too long,
 * NUL bytes, "ref: ..." text).  out may be NULL, to check a ref only; it
 * is set only on success.
 */
int ref_read(struct snap_store *store, const char *name, struct snap_oid *out,
	     struct strbuf *err);

/*
 * Sets name to new_oid.  old_oid NULL: no check; the null id: the ref must
 * not exist; else it must hold old_oid (SNAP_EEXISTS otherwise: "ref 'X'
 * moved: expected A, found B" or "ref 'X' already exists").  The new
 * object must exist, and be a snapshot under refs/snapshots/.
 * SNAP_ELOCKED when another process holds the lock.
 */
int ref_update(struct odb *odb, const char *name, const struct snap_oid *new_oid,
	       const struct snap_oid *old_oid, const char *reason,
	       struct strbuf *err);

/* Deletes the ref and its reflog; old_oid as for ref_update. */
int ref_delete(struct odb *odb, const char *name, const struct snap_oid *old_oid,
	       struct strbuf *err);

/*
 * Transactions: queue updates, then prepare (every lock taken, every old
 * value and new object checked), then commit (every ref moved).  Nothing
 * changes unless prepare succeeds for all of them.  commit fails without
 * a change if the journal cannot be written; a failure after that leaves
 * the journal and the locks, and err ends "; the transaction in 'J' is
 * finished by the next ref command".
 */
struct ref_transaction;
struct ref_transaction *ref_transaction_begin(struct odb *odb);
/* new_oid NULL: delete; old_oid as for ref_update; verify: check only. */
int ref_transaction_add(struct ref_transaction *tx, const char *name,
			const struct snap_oid *new_oid,
			const struct snap_oid *old_oid, int verify,
			const char *reason, struct strbuf *err);
int ref_transaction_prepare(struct ref_transaction *tx, struct strbuf *err);
int ref_transaction_commit(struct ref_transaction *tx, struct strbuf *err);
/* Releases the locks without changing anything, and frees tx. */
void ref_transaction_abort(struct ref_transaction *tx);
/*
 * Ends tx and frees it: prepared and committed when ret (what adding its
 * updates returned) is 0, else aborted.  Returns ret, or the prepare's or
 * the commit's failure.
 */
int ref_transaction_end(struct ref_transaction *tx, int ret, struct strbuf *err);

/*
 * Finishes every transaction whose journal (journal/tx-*) outlived its
 * process: rolls it forward under the ref mutex, taking over its locks.
 * A journal of a live process, or of another host, is left alone.
 * Returns how many it finished, or a negative SNAP_E* (a malformed
 * journal is SNAP_ECORRUPT; a ref of it locked by a live process,
 * SNAP_ELOCKED).  Then it removes every ref lock whose holder is surely
 * gone (with the ".NAME.new" it left).  gc and fsck call it before they
 * read refs.
 */
int refs_recover(struct snap_store *store, struct strbuf *err);

/*
 * Calls fn for every ref whose name starts with prefix, sorted by name.
 * oid is NULL for a ref file that cannot be read or parsed (fsck reports
 * it).  A non-zero return of fn stops the walk and is returned.
 */
typedef int (*ref_each_fn)(const char *name, const struct snap_oid *oid, void *data);
int refs_for_each(struct snap_store *store, const char *prefix, ref_each_fn fn,
		  void *data, struct strbuf *err);

/*
 * A ref name as commands take it: NAME is refs/snapshots/NAME, a name
 * starting "refs/" is itself.  Newly allocated; not checked.
 */
char *ref_full_name(const char *name);

/* A list of ref names, filled by ref_names_add (a ref_each_fn) or by hand. */
struct ref_names {
	char **v;
	size_t nr, alloc;
};
#define REF_NAMES_INIT { NULL, 0, 0 }
int ref_names_add(const char *name, const struct snap_oid *oid, void *data);
void ref_names_release(struct ref_names *n);

struct reflog_entry {
	struct snap_oid old_oid, new_oid;
	int64_t time;
	int tz;
	const char *reason;
};
/* Oldest first.  SNAP_ENOTFOUND if the ref has no reflog. */
typedef int (*reflog_each_fn)(const struct reflog_entry *e, void *data);
int reflog_for_each(struct snap_store *store, const char *name,
		    reflog_each_fn fn, void *data, struct strbuf *err);
/* Calls fn for the name of every reflog present (refs may be gone). */
int reflogs_for_each(struct snap_store *store, ref_each_fn fn, void *data,
		     struct strbuf *err);
/*
 * Replaces a ref's reflog with the single line "<zeros> <new_oid> ...
 * reason": for a rewrite of history (snap-prune), after which the old
 * entries would keep what was dropped alive.
 */
int reflog_reset(struct snap_store *store, const char *name,
		 const struct snap_oid *new_oid, const char *reason,
		 struct strbuf *err);

/* Deletes a reflog (for a ref already deleted). */
int reflog_delete(struct snap_store *store, const char *name, struct strbuf *err);

/*
 * Resolves a user's ref name: "refs/..." as it is, else refs/snapshots/NAME,
 * then refs/tags/NAME.  Sets fullname and oid.  SNAP_ENOTFOUND otherwise.
 */
int ref_dwim(struct snap_store *store, const char *name, struct strbuf *fullname,
	     struct snap_oid *oid, struct strbuf *err);

#endif
