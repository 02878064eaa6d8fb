#ifndef SNAP_OIDSET_H
#define SNAP_OIDSET_H

/*
 * A set of object ids: open addressing over the ids themselves (they are
 * uniformly distributed), 32 bytes an entry and at most twice the count,
 * so memory grows with the number of objects only.
 */

#include <stddef.h>
#include "oid.h"

struct oidset {
	struct snap_oid *slots;
	unsigned char *used;
	size_t nr, size;
};

#define OIDSET_INIT { NULL, NULL, 0, 0 }

/* Adds oid; returns 1 if it was new, 0 if present already. */
int oidset_insert(struct oidset *s, const struct snap_oid *oid);
int oidset_contains(const struct oidset *s, const struct snap_oid *oid);
void oidset_clear(struct oidset *s);

#endif
