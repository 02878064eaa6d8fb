#ifndef SNAP_MEMO_H
#define SNAP_MEMO_H

/*
 * memo: a keyed result cache in the store (snap-memo(1)).  An entry is an
 * ordinary snapshot under refs/memo/KEY: its tree holds one file, stdout,
 * the bytes a command printed; its metadata "status=N" the exit status,
 * "command=..." what ran.  So fsck checks entries, gc keeps them, and
 * push and fetch carry them like every other snapshot.
 *
 * A command runs once however many callers ask for the same key at once:
 * the first takes the key's claim, a file memo/claims/KEY held with
 * flock(2) while it runs (the kernel lets go when the holder dies, so a
 * dead claimant on this host is taken over at once); the others wait for
 * the claim, then read the entry.  A claim file also names its holder's
 * host, pid and start time.  flock(2) need not reach across hosts on a
 * shared filesystem, so a claim another host wrote is live, whatever the
 * flock says, until it is older than the caller's timeout (by the
 * caller's clock); then it is stale and taken over.
 *
 * Counts live in memo/stats, one line "KEY HITS MISSES LAST_ACCESS",
 * rewritten whole under memo/stats.lock (flock): hits and misses are
 * exact under any number of concurrent callers.
 */

#include <stdint.h>
#include <sys/types.h>
#include "odb.h"
#include "oid.h"
#include "store.h"
#include "strbuf.h"

#define MEMO_KEY_MAX 128

/*
 * 0 if key is a valid key: 1 to 128 of [A-Za-z0-9._-], not starting with
 * '.' nor ending in ".lock", and refs/memo/KEY a valid ref name (no "..";
 * ref_name_check).  Else SNAP_EINVAL "bad memo key 'KEY' (...)", or "bad
 * memo key 'KEY': invalid ref name ...".
 */
int memo_key_check(const char *key, struct strbuf *err);

/*
 * The default key of a command: BLAKE3 of each argument (NUL-ended), then
 * for each file its path and the BLAKE3 of its content, as 64 hex digits.
 * SNAP_EIO (naming the file) when a file cannot be read.
 */
int memo_key_compute(char *const *argv, char *const *files, size_t nr_files,
		     struct strbuf *key, struct strbuf *err);

struct memo_entry {
	struct snap_oid snapshot;	/* what refs/memo/KEY names */
	struct snap_oid output;		/* the stdout blob */
	uint64_t size;			/* its size */
	int status;			/* the exit status stored */
	int64_t time;			/* when it was stored */
};

/* Reads KEY's entry.  SNAP_ENOTFOUND when there is none. */
int memo_get(struct odb *odb, const char *key, struct memo_entry *e,
	     struct strbuf *err);

/*
 * Stores size bytes from fd as KEY's entry with status and command
 * (may be NULL).  replace 0: an entry stored meanwhile by someone else is
 * kept (SNAP_EEXISTS); 1: it is replaced.  The key is checked
 * (memo_key_check) before any object is written.
 */
int memo_put(struct odb *odb, const char *key, int fd, uint64_t size, int status,
	     const char *command, int replace, struct memo_entry *e, struct strbuf *err);

/*
 * memo_put in two steps, for several entries at once (snap-memo --batch):
 * memo_write stores an entry's objects (output blob, tree, snapshot: the
 * key checked first) and fills e, moving no ref; memo_commit then moves
 * refs/memo/KEY to entries[i].snapshot for every keys[i] in one ref
 * transaction, replacing what is there: every entry is stored, or none
 * (objects written for it are left unreferenced, for gc).  Keys must
 * differ (SNAP_EINVAL "ref ... appears twice in one transaction").
 */
int memo_write(struct odb *odb, const char *key, int fd, uint64_t size, int status,
	       const char *command, struct memo_entry *e, struct strbuf *err);
int memo_commit(struct odb *odb, const char *const *keys, const struct memo_entry *entries,
		size_t nr, struct strbuf *err);

/* Deletes KEY's entry.  SNAP_ENOTFOUND when there is none. */
int memo_delete(struct odb *odb, const char *key, struct strbuf *err);

struct memo_claim {
	int fd;
	char *path;
};

/*
 * Takes KEY's claim, waiting up to timeout_s seconds for another caller's
 * (a live claim of this host or another; another host's claim goes stale
 * and is taken over once older than timeout_s).  Returns 1 when the caller holds it (then it must look for the entry
 * again: the previous holder may have stored it), SNAP_ELOCKED when the
 * time ran out (err names the holder), or another negative code.
 */
int memo_claim(struct snap_store *store, const char *key, double timeout_s,
	       struct memo_claim *c, struct strbuf *err);
/* Gives the claim up (removing its file). */
void memo_release(struct memo_claim *c);

/* Adds a hit or a miss to KEY's counts. */
int memo_count(struct snap_store *store, const char *key, int hit, struct strbuf *err);

struct memo_stats_row {
	char key[MEMO_KEY_MAX + 1];
	uint64_t hits, misses;
	int64_t last_access;
};

/* Reads every key's counts (sorted by key); *rows is the caller's to free. */
int memo_stats(struct snap_store *store, struct memo_stats_row **rows, size_t *nr,
	       struct strbuf *err);

#endif
