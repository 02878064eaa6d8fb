#ifndef SNAP_PKTLINE_H
#define SNAP_PKTLINE_H

/*
 * Frames of the transfer protocol (docs/FORMAT.md, "Transfer protocol"):
 * four lower-case hex digits giving the frame's whole length (the four
 * included), then that many bytes less four of payload; "0000" is a
 * flush frame, with no payload.  A frame is at most PKT_MAX bytes, so a
 * reader never holds more than that for one frame, whatever the peer
 * sends.
 *
 * A pkt_conn buffers what it writes until pkt_flush() (or until the
 * buffer is full), so a batch of small frames costs one write.  Reads
 * and writes go to two descriptors (a pipe pair, or stdin/stdout), so
 * one process never waits on itself.  Every failure is SNAP_EIO (the
 * peer closed, a write failed) or SNAP_EINVAL (a malformed frame), with
 * what in err.
 */

#include <stddef.h>
#include <stdint.h>
#include "strbuf.h"

#define PKT_MAX 65520
#define PKT_DATA_MAX (PKT_MAX - 4)

struct pkt_conn {
	int in, out;
	struct strbuf wbuf;
	unsigned char *rbuf;
	size_t rpos, rlen;
	uint64_t bytes_in, bytes_out;	/* on the wire, framing included */
	int hung_up;	/* a write found the far end closed (EPIPE, ECONNRESET) */
};

void pkt_init(struct pkt_conn *c, int in, int out);
void pkt_release(struct pkt_conn *c);

/* Queues one frame of len (at most PKT_DATA_MAX) bytes. */
int pkt_write(struct pkt_conn *c, const void *buf, size_t len, struct strbuf *err);
/* Queues one text frame, formatted (a newline is the caller's). */
int pkt_writef(struct pkt_conn *c, struct strbuf *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Queues a flush frame and writes out everything queued. */
int pkt_flush(struct pkt_conn *c, struct strbuf *err);

/*
 * Reads one frame into out (replacing its content; a NUL follows the
 * payload for text use).  Returns 1 for a frame with payload, 0 for a
 * flush frame; SNAP_EIO "connection closed" at end of input.
 */
int pkt_read(struct pkt_conn *c, struct strbuf *out, struct strbuf *err);

#endif
