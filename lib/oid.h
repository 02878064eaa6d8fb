#ifndef SNAP_OID_H
#define SNAP_OID_H

/*
 * Object ids: the BLAKE3-256 of an object's header and payload
 * (docs/FORMAT.md), carried as 32 raw bytes and written as 64 lower-case
 * hex digits.  struct snap_oid is the one id type in snap.
 */

#include <stddef.h>

#define SNAP_OID_RAWSZ 32
#define SNAP_OID_HEXSZ 64
#define SNAP_OID_MINPREFIX 4

struct snap_oid {
	unsigned char hash[SNAP_OID_RAWSZ];
};

extern const struct snap_oid snap_null_oid;

/* Writes 64 hex digits and a NUL into out (SNAP_OID_HEXSZ + 1 bytes). */
char *oid_to_hex_r(char *out, const struct snap_oid *oid);
/* Same into one of four rotating buffers of the calling thread: for
 * messages and short-lived use only. */
const char *oid_to_hex(const struct snap_oid *oid);

/* Parses exactly 64 hex digits (either case).  Returns 0 or -1. */
int oid_from_hex(struct snap_oid *oid, const char *hex);
/* Parses exactly the first 64 characters of hex (no terminator needed). */
int oid_from_hexn(struct snap_oid *oid, const char *hex, size_t len);

int oid_cmp(const struct snap_oid *a, const struct snap_oid *b);
int oid_is_null(const struct snap_oid *oid);

/* 1 if s[0..len) is all hex digits, else 0. */
int is_hex(const char *s, size_t len);

#endif
