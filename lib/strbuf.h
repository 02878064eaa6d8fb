#ifndef SNAP_STRBUF_H
#define SNAP_STRBUF_H

/*
 * strbuf: a growable, always NUL-terminated byte buffer.
 *
 * buf[len] is always '\0', so a strbuf can be handed to C string functions
 * when it holds no NUL of its own.  The bytes may contain NULs; len is the
 * truth.  An initialised but never-grown strbuf points at a shared empty
 * string and owns no memory, so STRBUF_INIT needs no release if unused.
 *
 * Allocation failure aborts the process (out of memory is the one failure
 * lib/ does not return).  Buffers fed by untrusted input must be bounded by
 * their caller: see strbuf_grow_max().
 */

#include <stddef.h>
#include <stdarg.h>

struct strbuf {
	size_t alloc;
	size_t len;
	char *buf;
};

extern char strbuf_empty[];
#define STRBUF_INIT { 0, 0, strbuf_empty }

void strbuf_init(struct strbuf *sb, size_t hint);
/* Frees the memory and leaves sb as STRBUF_INIT. */
void strbuf_release(struct strbuf *sb);
/* Hands the buffer to the caller (who frees it); sb becomes empty. */
char *strbuf_detach(struct strbuf *sb, size_t *len);

/* Ensures room for extra more bytes plus the terminating NUL. */
void strbuf_grow(struct strbuf *sb, size_t extra);
/*
 * Like strbuf_grow, but refuses (returns -1, sb unchanged) when the result
 * would hold more than max bytes.  For buffers filled from untrusted input.
 */
int strbuf_grow_max(struct strbuf *sb, size_t extra, size_t max);

void strbuf_setlen(struct strbuf *sb, size_t len);
static inline void strbuf_reset(struct strbuf *sb) { strbuf_setlen(sb, 0); }

void strbuf_add(struct strbuf *sb, const void *data, size_t len);
void strbuf_addstr(struct strbuf *sb, const char *s);
void strbuf_addch(struct strbuf *sb, int c);
void strbuf_addbuf(struct strbuf *sb, const struct strbuf *other);
void strbuf_addf(struct strbuf *sb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void strbuf_vaddf(struct strbuf *sb, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
/* Appends s with bytes outside printable ASCII shown as \ooo (for messages). */
void strbuf_addquoted(struct strbuf *sb, const char *s, size_t len);

/* Removes trailing white space (and a trailing newline). */
void strbuf_rtrim(struct strbuf *sb);

/*
 * Reads one line from fp up to and excluding the terminator term ('\n' or
 * '\0').  Returns 0 on success, -1 at end of input with nothing read.
 * A final line without terminator is returned as a line.
 */
int strbuf_getline(struct strbuf *sb, void *fp, int term);

/*
 * Reads the whole of fd (from its current offset) into sb, at most max bytes.
 * Returns 0, or a negative SNAP_E* code (SNAP_ETOOBIG past max, SNAP_EIO on a
 * read error with errno kept).
 */
int strbuf_read_fd(struct strbuf *sb, int fd, size_t max);
/* Same for a path.  SNAP_ENOTFOUND if it does not exist. */
int strbuf_read_file(struct strbuf *sb, const char *path, size_t max);
/*
 * strbuf_read_file() of a regular file only, for paths a user names: the
 * open never waits (a FIFO without a writer would block it), and a FIFO,
 * device, socket or directory is SNAP_EINVAL, unread.  A file larger than
 * max is SNAP_ETOOBIG before anything is read.
 */
int strbuf_read_regular(struct strbuf *sb, const char *path, size_t max);

/* The functions snap does not call (lib/banned.h): strbuf replaces them. */
#include "banned.h"

#endif
