#ifndef SNAP_PRUNED_H
#define SNAP_PRUNED_H

/*
 * The pruned record: the file "pruned" in the store lists the snapshots
 * that were pruned on purpose, each with the parents it had (docs/FORMAT.md,
 * "Pruned record").  A kept snapshot keeps its id and still names a pruned
 * one as its parent; the record is what tells every walk that such a
 * parent, present or not, was cut on purpose, and where the history goes
 * on without its object (as git's grafts do):
 *
 *   - walks never read a listed parent: they go on to the parents the
 *     record gives it (which may be listed in turn);
 *   - gc does not mark a listed snapshot reached as a parent, nor one
 *     that only a reflog names, so its object and whatever only it held
 *     are swept; a ref that names a listed snapshot still keeps it;
 *   - fsck does not report a listed parent as missing;
 *   - REV~N and REV^ refuse to step onto a listed snapshot.
 *
 * A store without the file has pruned nothing.  A record that is there
 * but damaged (cut short, a flipped byte, not sorted) is SNAP_ECORRUPT
 * for every reader: it is never read in part, since a lost line would
 * turn a cut into "missing" and an extra one would let gc delete what
 * was meant to be kept.  snap-fsck reports it; gc refuses to run.
 *
 * The API is what a transport needs to carry the record: load a store's
 * record (or parse received bytes), ask it, add a batch.
 */

#include <stddef.h>
#include "oid.h"

struct snap_store;
struct strbuf;

/* The file's name in the store, and the largest record read (4M ids). */
#define PRUNED_FILE "pruned"
#define PRUNED_MAX ((size_t)256 << 20)

struct pruned_entry {
	struct snap_oid id;
	size_t parent;		/* its parents: pruned.parents[parent..parent+nr_parents) */
	size_t nr_parents;
};

struct pruned {
	struct pruned_entry *v;	/* sorted by id, no duplicates (but while built) */
	size_t nr, alloc;
	struct snap_oid *parents;
	size_t nr_all, alloc_all;
};
#define PRUNED_INIT { NULL, 0, 0, NULL, 0, 0 }

/*
 * Reads the store's record into p (which must be empty).  A missing file
 * is an empty record (0).  SNAP_ECORRUPT when the file is damaged, with
 * err "pruned record '<path>' is damaged: <what>, line N"; SNAP_EIO when
 * it cannot be read.  p is empty after a failure.
 */
int pruned_load(struct snap_store *store, struct pruned *p, struct strbuf *err);

/*
 * Parses the bytes of a record (docs/FORMAT.md) into p (empty).  Any
 * deviation is SNAP_ECORRUPT, err naming what and the line ("<what>, line
 * N"), p left empty.  buf need not end in NUL.
 */
int pruned_parse(struct pruned *p, const char *buf, size_t len, struct strbuf *err);

/* Appends the record's bytes, exactly as the file holds them, to out. */
void pruned_encode(const struct pruned *p, struct strbuf *out);

/* The entry of oid, or NULL when it is not listed.  A binary search. */
const struct pruned_entry *pruned_find(const struct pruned *p, const struct snap_oid *oid);
/* 1 if oid is listed, else 0. */
int pruned_contains(const struct pruned *p, const struct snap_oid *oid);
/* The parents of an entry of p. */
static inline const struct snap_oid *pruned_parents(const struct pruned *p,
						    const struct pruned_entry *e)
{
	return p->parents + e->parent;
}

/*
 * Where a first-parent history goes on past a parent: *out = parent when
 * it is not listed; else the first parent the record gives it, and so on
 * through listed ones.  Returns 1 with *out set, or 0 when the history
 * ends there (a listed snapshot with no parent recorded, or a record that
 * loops).
 */
int pruned_first_parent(const struct pruned *p, const struct snap_oid *parent,
			struct snap_oid *out);

/*
 * Appends an entry to a batch being built (in any order); pruned_add
 * sorts it.  Not for a record that others search while it grows.
 */
void pruned_append(struct pruned *p, const struct snap_oid *id,
		   const struct snap_oid *parents, size_t nr_parents);

/*
 * Adds the entries of batch (in any order; ids already listed keep the
 * entry they have) to the store's record: under the store's pruned lock
 * ("pruned.mutex", flock()ed, so a killed holder releases it), the record
 * is read again, merged and replaced whole (temporary file, fsync,
 * rename, fsync of the directory).  A kill at any point leaves the old
 * record or the new one.  A damaged record is SNAP_ECORRUPT and left as
 * it is.  *added (may be NULL) gets how many ids were new.
 */
int pruned_add(struct snap_store *store, const struct pruned *batch,
	       size_t *added, struct strbuf *err);

void pruned_release(struct pruned *p);

#endif
