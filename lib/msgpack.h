#ifndef SNAP_MSGPACK_H
#define SNAP_MSGPACK_H

/*
 * A well-formedness check of MessagePack (the msgpack specification,
 * github.com/msgpack/msgpack/blob/master/spec.md), the encoding
 * sqlite-sync-core keeps row values and primary keys in.  Nothing is
 * decoded into values: the check only walks the bytes, so its memory is
 * a fixed stack whatever the input.
 *
 * Beyond the specification it holds what sqlite-sync-core's decoder
 * (msgpack for Python, 1.0 and later, with raw=False) refuses, so that a
 * value it passes is one sqlite-sync-core can read: str is valid UTF-8,
 * map keys are str or bin, and the timestamp extension (type -1) is 4, 8
 * or 12 bytes long.
 */

#include <stddef.h>
#include <stdint.h>
#include "strbuf.h"

/* Arrays and maps nest at most this deep (the top value is level 1). */
#define MSGPACK_DEPTH_MAX 128

enum msgpack_kind {
	MSGPACK_NIL, MSGPACK_BOOL, MSGPACK_INT, MSGPACK_FLOAT, MSGPACK_STR,
	MSGPACK_BIN, MSGPACK_ARRAY, MSGPACK_MAP, MSGPACK_EXT,
};

/*
 * Checks that buf[0..len) is exactly one well-formed MessagePack value,
 * nothing before or after it.  Sets *kind to the top value's kind and
 * *count to its number of elements (arrays), pairs (maps) or bytes (str,
 * bin, ext); either may be NULL.  SNAP_EINVAL otherwise, with what is
 * wrong and the byte offset ("truncated at byte 7", "byte 0: 0xc1 is
 * not a MessagePack type") appended to err.  buf may be anything.
 */
int msgpack_check(const unsigned char *buf, size_t len, enum msgpack_kind *kind,
		  uint64_t *count, struct strbuf *err);

#endif
