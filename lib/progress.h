#ifndef SNAP_PROGRESS_H
#define SNAP_PROGRESS_H

/*
 * progress: one line on stderr, redrawn at most four times a second, for
 * commands that take a while (snapshot, restore, fsck, gc, import):
 *
 *   snap-fsck: objects 51234/83000 (61%), 612.4 MiB, 188.3 MiB/s, ETA 2 s
 *
 * It is shown only when stderr is a terminal, or when $SNAP_PROGRESS is
 * "1" (--progress); never when it is "0" (-q), so cron mail never holds
 * it.  progress_done() ends the line with a newline, and a message printed
 * meanwhile should call progress_clear() first so the two do not mix.
 * Updates are cheap (a clock read) and may come from one thread only.
 */

#include <stdint.h>

struct progress;

/*
 * Starts a meter titled what ("objects", "files"), counting up to total
 * (0: unknown, no percentage and no ETA).  Returns NULL when progress is
 * not to be shown; every call takes NULL and does nothing then.
 */
struct progress *progress_start(const char *what, uint64_t total);

/* Sets the count and the bytes so far (bytes 0: not shown). */
void progress_update(struct progress *p, uint64_t count, uint64_t bytes);

/* Erases the line (before a warning), to be drawn again at the next update. */
void progress_clear(struct progress *p);

/* Draws the final line, ends it, and frees p. */
void progress_done(struct progress *p);

/* 1 when progress would be shown: $SNAP_PROGRESS, else isatty(stderr). */
int progress_wanted(void);

#endif
