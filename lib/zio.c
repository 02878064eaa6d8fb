/*
 * The object database's zstd calls (zio.h).
 */
#include "zio.h"
#include "error.h"
#include "strbuf.h"
#include "util.h"

#include <stdlib.h>
#include <zstd.h>

/* Largest zstd window accepted on read: the zstd tool's own default. */
#define WINDOW_LOG_MAX 27

struct zio_cctx {
	ZSTD_CCtx *z;
	char *out;	/* a streamed frame's output, before it is handed on */
	size_t cap;
};

static int compress_error(struct strbuf *err, size_t r)
{
	return snap_error(err, SNAP_EIO, "compression failed: %s", ZSTD_getErrorName(r));
}

struct zio_cctx *zio_cctx_new(void)
{
	struct zio_cctx *c = xcalloc(1, sizeof(*c));

	c->z = ZSTD_createCCtx();
	if (!c->z)
		BUG("ZSTD_createCCtx failed");
	return c;
}

void zio_cctx_free(struct zio_cctx *c)
{
	if (!c)
		return;
	ZSTD_freeCCtx(c->z);
	free(c->out);
	free(c);
}

struct zio_dctx *zio_dctx_new(void)
{
	ZSTD_DCtx *d = ZSTD_createDCtx();

	if (!d)
		BUG("ZSTD_createDCtx failed");
	ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, WINDOW_LOG_MAX);
	return (struct zio_dctx *)d;
}

void zio_dctx_reset(struct zio_dctx *d)
{
	ZSTD_DCtx_reset((ZSTD_DCtx *)d, ZSTD_reset_session_only);
}

void zio_dctx_free(struct zio_dctx *d)
{
	ZSTD_freeDCtx((ZSTD_DCtx *)d);
}

size_t zio_bound(size_t n)
{
	return ZSTD_compressBound(n);
}

void zio_stream_start(struct zio_cctx *c, int level, uint64_t size, int worker)
{
	ZSTD_CCtx_reset(c->z, ZSTD_reset_session_and_parameters);
	ZSTD_CCtx_setParameter(c->z, ZSTD_c_compressionLevel, level);
	ZSTD_CCtx_setParameter(c->z, ZSTD_c_checksumFlag, 0);
	if (size != ZIO_SIZE_UNKNOWN)
		ZSTD_CCtx_setPledgedSrcSize(c->z, size);
	if (worker) {
		ZSTD_CCtx_setParameter(c->z, ZSTD_c_nbWorkers, 1);
		/* Small jobs keep the worker's buffers, and so memory, small. */
		ZSTD_CCtx_setParameter(c->z, ZSTD_c_jobSize, 2 << 20);
	}
}

int zio_stream_feed(struct zio_cctx *c, const void *buf, size_t len, int end,
		    zio_out_fn out, void *data, struct strbuf *err)
{
	ZSTD_inBuffer in = { buf, len, 0 };
	ZSTD_EndDirective mode = end ? ZSTD_e_end : ZSTD_e_continue;

	if (!c->out) {
		c->cap = ZSTD_CStreamOutSize();
		c->out = xmalloc_io(c->cap);
	}
	for (;;) {
		ZSTD_outBuffer ob = { c->out, c->cap, 0 };
		size_t r = ZSTD_compressStream2(c->z, &ob, &in, mode);
		int ret;

		if (ZSTD_isError(r))
			return compress_error(err, r);
		if (ob.pos && (ret = out(data, c->out, ob.pos, err)) < 0)
			return ret;
		if (end ? r == 0 : in.pos == in.size)
			return 0;
	}
}

int zio_compress_object(struct zio_cctx *c, int level, const void *hdr, size_t hlen,
			const void *buf, size_t len, struct strbuf *frame,
			struct strbuf *err)
{
	ZSTD_inBuffer in = { hdr, hlen, 0 };
	ZSTD_outBuffer out;
	size_t r;

	strbuf_reset(frame);
	strbuf_grow(frame, ZSTD_compressBound(hlen + len));
	out.dst = frame->buf;
	out.size = frame->alloc - 1;
	out.pos = 0;
	ZSTD_CCtx_reset(c->z, ZSTD_reset_session_and_parameters);
	ZSTD_CCtx_setParameter(c->z, ZSTD_c_compressionLevel, level);
	ZSTD_CCtx_setPledgedSrcSize(c->z, hlen + len);
	r = ZSTD_compressStream2(c->z, &out, &in, ZSTD_e_continue);
	if (!ZSTD_isError(r)) {
		ZSTD_inBuffer pin = { buf, len, 0 };
		r = ZSTD_compressStream2(c->z, &out, &pin, ZSTD_e_end);
		if (r != 0 && !ZSTD_isError(r))
			return snap_error(err, SNAP_EIO, "compression output overflow");
	}
	if (ZSTD_isError(r))
		return compress_error(err, r);
	strbuf_setlen(frame, out.pos);
	return 0;
}

int zio_compress(struct zio_cctx *c, int level, const void *buf, size_t len,
		 struct strbuf *frame, struct strbuf *err)
{
	size_t r;

	strbuf_reset(frame);
	strbuf_grow(frame, ZSTD_compressBound(len));
	ZSTD_CCtx_reset(c->z, ZSTD_reset_session_and_parameters);
	ZSTD_CCtx_setParameter(c->z, ZSTD_c_compressionLevel, level);
	r = ZSTD_compress2(c->z, frame->buf, frame->alloc - 1, buf, len);
	if (ZSTD_isError(r))
		return compress_error(err, r);
	strbuf_setlen(frame, r);
	return 0;
}

int zio_stream_decompress(struct zio_dctx *d, void *out, size_t cap, size_t *got,
			  struct zio_in *in, const char **why)
{
	ZSTD_outBuffer ob = { out, cap, *got };
	ZSTD_inBuffer ib = { in->src, in->size, in->pos };
	size_t r = ZSTD_decompressStream((ZSTD_DCtx *)d, &ob, &ib);

	in->pos = ib.pos;
	*got = ob.pos;
	if (ZSTD_isError(r)) {
		*why = ZSTD_getErrorName(r);
		return -1;
	}
	return r == 0;
}

size_t zio_in_size(void)
{
	return ZSTD_DStreamInSize();
}

int zio_frame_content(const void *src, size_t len, uint64_t *content)
{
	unsigned long long n = ZSTD_getFrameContentSize(src, len);

	if (n == ZSTD_CONTENTSIZE_UNKNOWN || n == ZSTD_CONTENTSIZE_ERROR)
		return -1;
	*content = n;
	return 0;
}

size_t zio_frame_length(const void *src, size_t len)
{
	size_t n = ZSTD_findFrameCompressedSize(src, len);

	return ZSTD_isError(n) ? 0 : n;
}

int zio_decompress(struct zio_dctx *d, void *dst, size_t cap, const void *src,
		   size_t len, size_t *got, const char **why)
{
	size_t n = ZSTD_decompressDCtx((ZSTD_DCtx *)d, dst, cap, src, len);

	if (ZSTD_isError(n)) {
		*why = ZSTD_getErrorName(n);
		return -1;
	}
	*got = n;
	return 0;
}
