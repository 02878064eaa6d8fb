/*
 * Length-prefixed frames over a pair of descriptors (pktline.h).
 */
#include "pktline.h"

#include "error.h"
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RBUF_SIZE (128u << 10)

void pkt_init(struct pkt_conn *c, int in, int out)
{
	memset(c, 0, sizeof(*c));
	c->in = in;
	c->out = out;
	strbuf_init(&c->wbuf, 0);
	c->rbuf = xmalloc(RBUF_SIZE);
}

void pkt_release(struct pkt_conn *c)
{
	strbuf_release(&c->wbuf);
	free(c->rbuf);
	c->rbuf = NULL;
}

static int drain(struct pkt_conn *c, struct strbuf *err)
{
	if (!c->wbuf.len)
		return 0;
	if (write_all(c->out, c->wbuf.buf, c->wbuf.len) < 0) {
		c->hung_up = errno == EPIPE || errno == ECONNRESET;
		return snap_error_errno(err, "cannot write to the connection");
	}
	c->bytes_out += c->wbuf.len;
	strbuf_reset(&c->wbuf);
	return 0;
}

static int queue(struct pkt_conn *c, const void *buf, size_t len, struct strbuf *err)
{
	char hdr[5];

	if (len > PKT_DATA_MAX)
		return snap_error(err, SNAP_EINVAL, "frame of %zu bytes is too long", len);
	if (c->wbuf.len + len + 4 > 2 * PKT_MAX) {
		int ret = drain(c, err);

		if (ret < 0)
			return ret;
	}
	snprintf(hdr, sizeof(hdr), "%04x", (unsigned)(len + 4));
	strbuf_add(&c->wbuf, hdr, 4);
	strbuf_add(&c->wbuf, buf, len);
	return 0;
}

int pkt_write(struct pkt_conn *c, const void *buf, size_t len, struct strbuf *err)
{
	return queue(c, buf, len, err);
}

int pkt_writef(struct pkt_conn *c, struct strbuf *err, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;
	int ret;

	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	ret = queue(c, sb.buf, sb.len, err);
	strbuf_release(&sb);
	return ret;
}

int pkt_flush(struct pkt_conn *c, struct strbuf *err)
{
	strbuf_add(&c->wbuf, "0000", 4);
	return drain(c, err);
}

/* Reads exactly len bytes into buf through the read buffer. */
static int get(struct pkt_conn *c, void *buf, size_t len, struct strbuf *err)
{
	unsigned char *p = buf;

	while (len) {
		size_t n;

		if (c->rpos == c->rlen) {
			ssize_t got;

			do
				got = read(c->in, c->rbuf, RBUF_SIZE);
			while (got < 0 && errno == EINTR);
			if (got < 0)
				return snap_error_errno(err, "cannot read from the connection");
			if (got == 0)
				return snap_error(err, SNAP_EIO, "connection closed");
			c->rpos = 0;
			c->rlen = (size_t)got;
			c->bytes_in += (uint64_t)got;
		}
		n = c->rlen - c->rpos < len ? c->rlen - c->rpos : len;
		memcpy(p, c->rbuf + c->rpos, n);
		c->rpos += n;
		p += n;
		len -= n;
	}
	return 0;
}

int pkt_read(struct pkt_conn *c, struct strbuf *out, struct strbuf *err)
{
	unsigned char hdr[4];
	size_t len = 0;
	int i, ret;

	strbuf_reset(out);
	ret = get(c, hdr, 4, err);
	if (ret < 0)
		return ret;
	for (i = 0; i < 4; i++) {
		int v = hex_digit(hdr[i]);

		if (v < 0)
			return snap_error(err, SNAP_EINVAL, "malformed frame length '%.4s'",
					  (const char *)hdr);
		len = len * 16 + (size_t)v;
	}
	if (len == 0)
		return 0;
	if (len < 5 || len > PKT_MAX)
		return snap_error(err, SNAP_EINVAL, "bad frame length %zu", len);
	len -= 4;
	strbuf_grow(out, len);
	ret = get(c, out->buf, len, err);
	if (ret < 0)
		return ret;
	strbuf_setlen(out, len);
	return 1;
}
