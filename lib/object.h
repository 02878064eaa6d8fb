#ifndef SNAP_OBJECT_H
#define SNAP_OBJECT_H

/*
 * Object types and the object header "<type> <size>\0" (docs/FORMAT.md).
 */

#include <stddef.h>
#include <stdint.h>

enum object_type {
	OBJ_NONE = 0,
	OBJ_BLOB,
	OBJ_TREE,
	OBJ_SNAPSHOT,
	OBJ_BUNDLE,
};

/* Longest header: "snapshot " + 20 digits + NUL. */
#define SNAP_HDR_MAX 32

/* "blob", "tree", ...; NULL for OBJ_NONE or an out-of-range value. */
const char *type_name(enum object_type type);
/* The type named by the first len bytes of name; OBJ_NONE if unknown. */
enum object_type type_from_name(const char *name, size_t len);

/* Formats the header into hdr (SNAP_HDR_MAX bytes); returns its length,
 * the terminating NUL included. */
size_t object_header_format(char *hdr, enum object_type type, uint64_t size);

/*
 * Parses a header at the start of buf[0..len): a known type name, one space,
 * a decimal size with no leading zeros (but "0"), and a NUL.  Returns the
 * header's length (NUL included), or 0 if buf does not start with a
 * complete well-formed header, or -1 if it can never become one (so a
 * streaming reader knows to stop waiting for more bytes).
 */
int object_header_parse(const char *buf, size_t len, enum object_type *type,
			uint64_t *size);

#endif
