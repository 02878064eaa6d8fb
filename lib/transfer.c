/*
 * The transfer protocol's control frames: text frames, and the peer's
 * "error" and "refused" (transfer.h; docs/FORMAT.md, "Transfer protocol").
 */
#include "transfer.h"

#include "error.h"
#include "util.h"

#include <string.h>

/* Drops the newline that ends a text frame. */
static void chomp(struct strbuf *sb)
{
	if (sb->len && sb->buf[sb->len - 1] == '\n')
		strbuf_setlen(sb, sb->len - 1);
}

int transfer_read_ctl(struct pkt_conn *c, struct strbuf *line, struct strbuf *err)
{
	int r = pkt_read(c, line, err);
	size_t i;

	if (r <= 0)
		return r;
	chomp(line);
	for (i = 0; i < line->len; i++)
		if ((unsigned char)line->buf[i] < 0x20 || line->buf[i] == 0x7f)
			return snap_error(err, SNAP_EINVAL,
					  "protocol error: control character in a control frame");
	if (!strncmp(line->buf, "error ", 6))
		return snap_error(err, SNAP_EIO, "remote: %s", line->buf + 6);
	if (!strncmp(line->buf, "refused ", 8))
		return snap_error(err, SNAP_EEXISTS, "remote: %s", line->buf + 8);
	return 1;
}

int transfer_protocol_error(struct strbuf *err, const char *what, const struct strbuf *line)
{
	return snap_error(err, SNAP_EINVAL, "protocol error: %s, got '%.80s'", what, line->buf);
}

const char *transfer_parse_oid(const char *p, struct snap_oid *oid, char end)
{
	if (strlen(p) < SNAP_OID_HEXSZ || oid_from_hexn(oid, p, SNAP_OID_HEXSZ) < 0 ||
	    !is_hex(p, SNAP_OID_HEXSZ))
		return NULL;
	p += SNAP_OID_HEXSZ;
	if (*p != end)
		return NULL;
	return end ? p + 1 : p;
}
