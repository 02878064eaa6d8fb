#ifndef SNAP_OIDSET_H
#define SNAP_OIDSET_H

/*
 * The one table keyed by object id: a map from ids to the caller's
 * entries (struct oidmap), and a set of ids built on it (struct oidset).
 *
 * Entries live in one array, in the order they were added; the table
 * proper holds only 32-bit positions in that array, open addressing over
 * the ids' first bytes (ids are uniformly distributed, so they need no
 * hashing), at most half full.  An entry of E bytes costs E times 1 to
 * 1.5 (the array grows by half) plus 8 to 16 bytes of table: an oidset
 * about 40 to 64 bytes an id, an id with a 64-bit value 48 to 76.  Memory
 * grows with the number of entries only; at most UINT32_MAX - 1 entries
 * (BUG() past that).
 *
 * Not thread-safe: one writer, or readers with no writer.
 */

#include <stddef.h>
#include <stdint.h>
#include "oid.h"

/*
 * A map from ids to entries of a caller's struct whose first member is
 * `struct snap_oid oid` (the key), the rest the value:
 *
 *   struct memo { struct snap_oid oid; uint64_t bytes; };
 *   struct oidmap m = OIDMAP_INIT(struct memo);
 *
 * OIDMAP_INIT refuses to compile for a struct whose first member is not
 * its oid.  The fields are the map's own; read them only through the
 * functions below (nr may be read).
 */
struct oidmap {
	unsigned char *entries;	/* nr entries of entry_size bytes */
	uint32_t *slots;	/* 0: empty; else an entry's position + 1 */
	size_t nr, alloc, size;	/* entries, of room for alloc; size slots */
	size_t entry_size;
};

#define OIDMAP_ENTRY_SIZE(type) \
	(sizeof(type) + 0 * sizeof(char[offsetof(type, oid) == 0 ? 1 : -1]))
#define OIDMAP_INIT(type) { NULL, NULL, 0, 0, 0, OIDMAP_ENTRY_SIZE(type) }

/* The entry for oid, or NULL.  Valid until the next oidmap_put(). */
void *oidmap_get(const struct oidmap *m, const struct snap_oid *oid);

/*
 * The entry for oid, added if absent: then its oid is set, the rest of it
 * is zero bytes, and *added (when not NULL) is 1; else *added is 0 and
 * the entry is as it was.  The pointer is valid until the next put, which
 * may move every entry.
 */
void *oidmap_put(struct oidmap *m, const struct snap_oid *oid, int *added);

/* The i-th entry added (i < m->nr), for going through all of them. */
void *oidmap_at(const struct oidmap *m, size_t i);

/*
 * Hands the entries (m->nr of them, in the order added) to the caller,
 * who frees them with free(), e.g. after sorting them; the map is left
 * empty.  NULL when there are none.
 */
void *oidmap_detach(struct oidmap *m, size_t *nr);

/* Frees everything; the map is empty and may be used again. */
void oidmap_clear(struct oidmap *m);

/*
 * A set of ids: an oidmap whose entries are the ids alone.  A set that is
 * all zero bytes (memset, calloc) is empty, as OIDSET_INIT is.
 */
struct oidset {
	struct oidmap map;
};

#define OIDSET_INIT { { NULL, NULL, 0, 0, 0, sizeof(struct snap_oid) } }

/* Adds oid; returns 1 if it was new, 0 if present already. */
int oidset_insert(struct oidset *s, const struct snap_oid *oid);
int oidset_contains(const struct oidset *s, const struct snap_oid *oid);
/* The number of ids in the set. */
size_t oidset_size(const struct oidset *s);
void oidset_clear(struct oidset *s);

#endif
