#ifndef SNAP_HASH_H
#define SNAP_HASH_H

/*
 * Hashing: BLAKE3-256 over raw bytes, and the object id of a typed payload
 * (BLAKE3 of "<type> <size>\0" followed by the payload; docs/FORMAT.md).
 * The BLAKE3 implementation is the official C one, compiled from the
 * sources configure found; this is the only module that includes it.
 */

#include <stddef.h>
#include <stdint.h>
#include "oid.h"
#include "object.h"

struct snap_hash_ctx {
	/* Opaque storage for blake3_hasher, aligned and sized generously. */
	_Alignas(16) unsigned char opaque[1920];
};

void hash_init(struct snap_hash_ctx *c);
void hash_update(struct snap_hash_ctx *c, const void *data, size_t len);
/* Writes the 32-byte digest; the context may be updated no further. */
void hash_final(struct snap_hash_ctx *c, struct snap_oid *out);
/* Writes outlen bytes of BLAKE3's extendable output (for test vectors). */
void hash_final_xof(struct snap_hash_ctx *c, unsigned char *out, size_t outlen);

/*
 * Starts an object id: feeds "<type> <size>\0".  Returns the header's length
 * and writes it to hdr (at least SNAP_HDR_MAX bytes) when hdr is not NULL.
 */
size_t hash_object_start(struct snap_hash_ctx *c, enum object_type type,
			 uint64_t size, char *hdr);
/* The id of a payload held in memory. */
void hash_object_buf(enum object_type type, const void *buf, size_t len,
		     struct snap_oid *out);

/*
 * The id of an object of size bytes read from fd, in constant memory,
 * without a store; what names the input in messages.  SNAP_EINVAL if fd
 * ends early or holds more.
 */
struct strbuf;
int hash_fd(enum object_type type, int fd, uint64_t size, const char *what,
	    struct snap_oid *oid, struct strbuf *err);

#endif
