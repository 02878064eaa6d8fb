#ifndef SNAP_TRANSFER_H
#define SNAP_TRANSFER_H

/*
 * The inside of the transfer protocol (docs/FORMAT.md, "Transfer
 * protocol"), shared by its two ends and not meant for cmd/: the control
 * frames (lib/transfer.c), the side that sends objects (lib/send.c) and
 * the side that receives them (lib/receive.c).  The client
 * (lib/transport.c) and the server (lib/serve.c) each play either part:
 * a push sends and its server receives, a fetch receives and its server
 * sends.  transport.h is the public manual.
 */

#include <stddef.h>
#include "oid.h"
#include "pktline.h"
#include "strbuf.h"

struct odb;
struct pruned;
struct transfer_stats;

/*
 * Reads a control frame: 1 with its text (newline dropped), 0 for a
 * flush.  A control character in the text is SNAP_EINVAL.  The peer's
 * "error MSG" is SNAP_EIO and its "refused MSG" SNAP_EEXISTS, each with
 * "remote: MSG" in err.
 */
int transfer_read_ctl(struct pkt_conn *c, struct strbuf *line, struct strbuf *err);

/* SNAP_EINVAL "protocol error: WHAT, got '<line>'" (the line cut at 80 bytes). */
int transfer_protocol_error(struct strbuf *err, const char *what, const struct strbuf *line);

/*
 * Parses a full hex id exactly at p, followed by end (a character, or
 * NUL for the end of the text).  Returns what follows end (p's end for
 * NUL), or NULL when p does not hold that.
 */
const char *transfer_parse_oid(const char *p, struct snap_oid *oid, char end);

/*
 * The sender's side of an exchange: everything tips reach that the
 * receiver's tips (theirs, those present here) do not, less what the
 * receiver says it has, children before parents and chunk lists last,
 * with this store's pruned record ahead of the pack.  Refuses
 * (SNAP_ECORRUPT) to send from damaged history.  st counts what crossed.
 * In version 2 whole objects of up to 4 MiB cross compressed, several
 * to a zbatch record.
 */
int transfer_send(struct pkt_conn *c, struct odb *odb, int version,
		  const struct snap_oid *tips, size_t nr_tips,
		  const struct snap_oid *theirs, size_t nr_theirs,
		  struct transfer_stats *st, struct strbuf *err);

/*
 * The receiver's side of an exchange: answers the sender's queries, then
 * takes its pack, every object verified (transport.h) and durable when
 * this returns 0.  accepted (an empty record on entry) gets what of the
 * sender's pruned record explains snapshots this store lacks; adding it
 * to the store's record is the caller's, once the refs may move.
 */
int transfer_receive(struct pkt_conn *c, struct odb *odb, int version, struct transfer_stats *st,
		     struct pruned *accepted, struct strbuf *err);

#endif
