#ifndef SNAP_SPOOL_H
#define SNAP_SPOOL_H

/*
 * Spooling: an object's header needs its size before its first byte, so
 * input of unknown length (a pipe, a terminal) is first copied into an
 * anonymous temporary file, then hashed or stored from there.  Constant
 * memory; the disk holds the copy until the descriptor is closed.
 */

#include <stdint.h>
#include "strbuf.h"

/*
 * Copies everything from fd into a new unlinked file in dir (NULL: $TMPDIR
 * or /tmp), rewinds it, and returns its descriptor in *out and length in
 * *size.  what names fd in messages.
 */
int spool_fd(int fd, const char *dir, const char *what, int *out,
	     uint64_t *size, struct strbuf *err);

#endif
