/*
 * What reads share across threads: the pool of decompression contexts and
 * the cache of decompressed blocks (shared frames of packs).
 */
#include "odb-internal.h"
#include "error.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct zio_dctx *dctx_get(struct odb *odb)
{
	struct zio_dctx *d = NULL;

	pthread_mutex_lock(&odb->dctx_lock);
	if (odb->nr_dctx_free)
		d = odb->dctx_free[--odb->nr_dctx_free];
	pthread_mutex_unlock(&odb->dctx_lock);
	if (d) {
		zio_dctx_reset(d);
		return d;
	}
	return zio_dctx_new();
}

void dctx_put(struct odb *odb, struct zio_dctx *d)
{
	pthread_mutex_lock(&odb->dctx_lock);
	ALLOC_GROW(odb->dctx_free, odb->nr_dctx_free + 1, odb->alloc_dctx_free);
	odb->dctx_free[odb->nr_dctx_free++] = d;
	pthread_mutex_unlock(&odb->dctx_lock);
}

void block_release(struct odb *odb, struct block *b)
{
	int last;

	if (!b)
		return;
	pthread_mutex_lock(&odb->block_lock);
	last = !--b->refs;
	pthread_mutex_unlock(&odb->block_lock);
	if (last) {
		free(b->buf);
		free(b);
	}
}

/* The cached block of pack p at offset, with a reference taken, or NULL. */
static struct block *block_cached(struct odb *odb, const unsigned char *pack,
				  uint64_t offset)
{
	struct block *b = NULL;
	size_t i;

	for (i = 0; i < BLOCK_CACHE_SIZE; i++) {
		struct block *c = odb->blocks[i];
		if (c && c->offset == offset && !memcmp(c->pack, pack, SNAP_OID_RAWSZ)) {
			b = c;
			b->refs++;
			b->used = ++odb->block_clock;
			break;
		}
	}
	return b;
}

/*
 * The decompressed block the shared frame r of pack p holds, with a
 * reference for the caller.  NULL with *why set when the frame is damaged.
 */
struct block *block_get(struct odb *odb, struct pack *p,
			const struct pack_record *r, const char **why,
			struct strbuf *err)
{
	const unsigned char *pack = p->map + p->map_len - 2 * SNAP_OID_RAWSZ;
	struct block *b, *old;
	const char *zwhy = NULL;
	uint64_t content;
	struct zio_dctx *d;
	char *frame;
	size_t got = 0, slot = 0, i;
	int bad;
	ssize_t n;
	int fd;

	*why = NULL;
	pthread_mutex_lock(&odb->block_lock);
	b = block_cached(odb, pack, r->offset);
	pthread_mutex_unlock(&odb->block_lock);
	if (b)
		return b;

	fd = pack_fd(p, err);
	if (fd < 0)
		return NULL;
	if (r->length > zio_bound(PACK_BLOCK_MAX)) {
		*why = "shared frame too large";
		return NULL;
	}
	frame = xmalloc_io((size_t)r->length);
	do
		n = pread(fd, frame, (size_t)r->length, (off_t)r->offset);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)r->length) {
		free(frame);
		if (n < 0)
			snap_error_errno(err, "cannot read '%s'", p->pack_path);
		else
			*why = "truncated";
		return NULL;
	}
	if (zio_frame_content(frame, (size_t)r->length, &content) < 0 ||
	    content > PACK_BLOCK_MAX) {
		free(frame);
		*why = "bad shared frame header";
		return NULL;
	}
	if (zio_frame_length(frame, (size_t)r->length) != r->length) {
		free(frame);
		*why = "trailing bytes after the compressed frame";
		return NULL;
	}
	b = xcalloc(1, sizeof(*b));
	memcpy(b->pack, pack, SNAP_OID_RAWSZ);
	b->offset = r->offset;
	b->buf = xmalloc(content ? (size_t)content : 1);
	d = dctx_get(odb);
	bad = zio_decompress(d, b->buf, (size_t)content, frame, (size_t)r->length,
			     &got, &zwhy) < 0;
	dctx_put(odb, d);
	free(frame);
	if (bad || got != content) {
		*why = bad ? zwhy : "shorter than its frame says";
		free(b->buf);
		free(b);
		return NULL;
	}
	b->len = got;
	b->refs = 2;	/* the caller's, and the cache's */

	pthread_mutex_lock(&odb->block_lock);
	old = block_cached(odb, pack, r->offset);
	if (old) {
		/* Another thread decompressed it meanwhile: keep one. */
		pthread_mutex_unlock(&odb->block_lock);
		free(b->buf);
		free(b);
		return old;
	}
	for (i = 0; i < BLOCK_CACHE_SIZE; i++) {
		if (!odb->blocks[i]) {
			slot = i;
			break;
		}
		if (odb->blocks[i]->used < odb->blocks[slot]->used)
			slot = i;
	}
	old = odb->blocks[slot];
	b->used = ++odb->block_clock;
	odb->blocks[slot] = b;
	pthread_mutex_unlock(&odb->block_lock);
	block_release(odb, old);
	return b;
}

void blocks_release(struct odb *odb)
{
	size_t i;

	while (odb->nr_dctx_free)
		zio_dctx_free(odb->dctx_free[--odb->nr_dctx_free]);
	free(odb->dctx_free);
	pthread_mutex_destroy(&odb->dctx_lock);
	for (i = 0; i < BLOCK_CACHE_SIZE; i++)
		block_release(odb, odb->blocks[i]);
	pthread_mutex_destroy(&odb->block_lock);
}
