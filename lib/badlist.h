#ifndef SNAP_BADLIST_H
#define SNAP_BADLIST_H

/*
 * The bad-object list: the file "bad-objects" in the store names the
 * objects snap-fsck found with no good copy (docs/FORMAT.md, "Bad-object
 * list").  A process's own failed reads teach its writers not to
 * deduplicate against a bad copy (odb.h, "Known bad"); this list carries
 * that knowledge from fsck to the next snapshot, so that taking it again
 * writes the damaged objects again, as borg's create heals chunks its
 * check found missing.  gc drops the ids that read whole again.
 *
 * The list is advice, never needed to read the store: a missing, torn or
 * damaged list costs at most a deduplication against a bad copy (today's
 * behaviour without it) or one needless rewrite, never a wrong answer.
 * Malformed lines are ignored; it is at most BADLIST_MAX bytes.
 */

#include <stddef.h>
#include "oid.h"
#include "oidset.h"

struct snap_store;
struct odb;
struct strbuf;

#define BADLIST_MAX (1u << 20)	/* 15,000 ids; the rest are not recorded */

/* Adds the ids the list holds to set.  A missing or unreadable list adds
 * nothing; returns the number of ids added. */
size_t badlist_read(struct snap_store *store, struct oidset *set);

/*
 * Adds ids to the list (those not there yet), replacing the file
 * atomically.  Returns 0 or a negative SNAP_E* code with err set (a
 * read-only store, a full disk); the store is then as it was.
 */
int badlist_add(struct snap_store *store, const struct snap_oid *ids, size_t n,
		struct strbuf *err);

/*
 * Drops from the list each id that odb now reads whole (from any copy)
 * or no longer holds; removes the file when none is left.  For gc, under
 * its lock, after it repacked.  *dropped (may be NULL) gets the count.
 */
int badlist_tidy(struct snap_store *store, struct odb *odb, size_t *dropped,
		 struct strbuf *err);

#endif
