#include "hash.h"
#include "fsio.h"
#include "util.h"

#include <blake3.h>
#include <string.h>

_Static_assert(sizeof(blake3_hasher) <= sizeof(((struct snap_hash_ctx *)0)->opaque),
	       "snap_hash_ctx too small for blake3_hasher");

void hash_init(struct snap_hash_ctx *c)
{
	blake3_hasher_init((blake3_hasher *)c->opaque);
}

void hash_update(struct snap_hash_ctx *c, const void *data, size_t len)
{
	blake3_hasher_update((blake3_hasher *)c->opaque, data, len);
}

void hash_final(struct snap_hash_ctx *c, struct snap_oid *out)
{
	blake3_hasher_finalize((blake3_hasher *)c->opaque, out->hash,
			       SNAP_OID_RAWSZ);
}

void hash_final_xof(struct snap_hash_ctx *c, unsigned char *out, size_t outlen)
{
	blake3_hasher_finalize((blake3_hasher *)c->opaque, out, outlen);
}

size_t hash_object_start(struct snap_hash_ctx *c, enum object_type type,
			 uint64_t size, char *hdr)
{
	char buf[SNAP_HDR_MAX];
	size_t n = object_header_format(buf, type, size);

	hash_init(c);
	hash_update(c, buf, n);
	if (hdr)
		memcpy(hdr, buf, n);
	return n;
}

void hash_object_buf(enum object_type type, const void *buf, size_t len,
		     struct snap_oid *out)
{
	struct snap_hash_ctx c;

	hash_object_start(&c, type, len, NULL);
	hash_update(&c, buf, len);
	hash_final(&c, out);
}

static int feed_hash(void *data, const void *buf, size_t len, struct strbuf *err)
{
	(void)err;
	hash_update(data, buf, len);
	return 0;
}

int hash_fd(enum object_type type, int fd, uint64_t size, const char *what,
	    struct snap_oid *oid, struct strbuf *err)
{
	struct snap_hash_ctx c;
	int ret;

	hash_object_start(&c, type, size, NULL);
	ret = read_fd_exactly(fd, size, 1, what, feed_hash, &c, err);
	if (ret == 0)
		hash_final(&c, oid);
	return ret;
}
