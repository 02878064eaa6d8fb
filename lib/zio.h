#ifndef SNAP_ZIO_H
#define SNAP_ZIO_H

/*
 * zio: the object database's zstd frames (docs/FORMAT.md), compressed and
 * decompressed in the one place that calls zstd for it and checks what
 * zstd says.  A failure of compression is SNAP_EIO with "compression
 * failed: <zstd's reason>"; a failure of decompression is told to the
 * caller as zstd's reason (why), for it to name the object it is reading.
 *
 * Frames carry no zstd checksum: the object id verifies what they hold.
 * A frame asking for a window above 2^27 bytes (the zstd tool's own
 * default limit) is refused on read, so a crafted one cannot make a
 * reader allocate more.
 *
 * A context is used by one thread at a time.
 */

#include <stddef.h>
#include <stdint.h>

struct strbuf;
struct zio_cctx;
struct zio_dctx;

#define ZIO_SIZE_UNKNOWN UINT64_MAX

/* Contexts.  Out of memory is fatal, as for any allocation (util.h). */
struct zio_cctx *zio_cctx_new(void);
void zio_cctx_free(struct zio_cctx *c);
struct zio_dctx *zio_dctx_new(void);
/* Readies d for a new frame. */
void zio_dctx_reset(struct zio_dctx *d);
void zio_dctx_free(struct zio_dctx *d);

/* The most a frame of n bytes compresses to. */
size_t zio_bound(size_t n);

/*
 * A streamed frame: zio_stream_start() at level, for size bytes of
 * content (ZIO_SIZE_UNKNOWN: the frame does not record it; with worker,
 * zstd compresses on a thread of its own while the caller feeds it);
 * then zio_stream_feed() with each piece, end set with the last (len may
 * be 0).  Each piece of compressed output goes to out(data, buf, n),
 * whose failure (a negative code) is returned as it is.
 */
typedef int (*zio_out_fn)(void *data, const void *buf, size_t n, struct strbuf *err);
void zio_stream_start(struct zio_cctx *c, int level, uint64_t size, int worker);
int zio_stream_feed(struct zio_cctx *c, const void *buf, size_t len, int end,
		    zio_out_fn out, void *data, struct strbuf *err);

/* One frame holding hdr then buf (an object's header and payload), into
 * frame (replacing its content). */
int zio_compress_object(struct zio_cctx *c, int level, const void *hdr, size_t hlen,
			const void *buf, size_t len, struct strbuf *frame,
			struct strbuf *err);
/* One frame holding buf (a block's members), into frame. */
int zio_compress(struct zio_cctx *c, int level, const void *buf, size_t len,
		 struct strbuf *frame, struct strbuf *err);

/*
 * Streamed decompression: the compressed bytes src[pos..size) are read
 * from, pos moved past what was used; decompressed bytes go to
 * out[*got..cap), *got moved past them.  Returns 1 when the frame has
 * ended, 0 when it goes on (more input or room is needed), -1 with *why
 * set when the input is not a valid frame.
 */
struct zio_in {
	const void *src;
	size_t size, pos;
};
int zio_stream_decompress(struct zio_dctx *d, void *out, size_t cap, size_t *got,
			  struct zio_in *in, const char **why);
/* A good size for the compressed input handed to each call above. */
size_t zio_in_size(void);

/*
 * A whole frame held in memory, src[0..len): zio_frame_content() sets the
 * size of its content, or returns -1 when the frame does not record it
 * or its header is bad; zio_frame_length() is the length of the frame
 * src starts with, 0 when it is not one.  zio_decompress() decompresses
 * it into dst[0..cap), sets *got, or returns -1 with *why set.
 */
int zio_frame_content(const void *src, size_t len, uint64_t *content);
size_t zio_frame_length(const void *src, size_t len);
int zio_decompress(struct zio_dctx *d, void *dst, size_t cap, const void *src,
		   size_t len, size_t *got, const char **why);

#endif
