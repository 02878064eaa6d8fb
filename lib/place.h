#ifndef SNAP_PLACE_H
#define SNAP_PLACE_H

/*
 * Putting restored entries into a directory that already exists (the
 * target of `snap restore --force REV DIR PATH...`, or a mount point that
 * cannot be renamed), without touching anything else in it and without
 * ever following a symlink in it.
 *
 * from is a directory this process made and nobody else writes (a
 * finished checkout); dir is the target.  Each entry is moved with one
 * renameat2(): RENAME_EXCHANGE with what dir holds at that path (the old
 * entry then sits in from, and goes when the caller removes from), or
 * RENAME_NOREPLACE where dir holds nothing.  Every directory of dir on
 * the way is opened alone with O_NOFOLLOW|O_DIRECTORY relative to the one
 * above it, so a symlink or a file put there, even while this runs,
 * stops the placement (SNAP_EUNSAFE) instead of sending it elsewhere; a
 * directory missing on the way is made with the mode, owner and times
 * its counterpart in from has.  from and dir must be on one filesystem
 * (SNAP_EIO with EXDEV otherwise: callers make from inside dir).
 *
 * Each path is placed whole or not at all; a failure leaves the paths
 * placed before it placed.  Without paths the placement is all or
 * nothing: a step that fails (an immutable or append-only entry of dir
 * cannot be moved) takes back what was moved before it.
 */

#include <stddef.h>

struct stat;
struct strbuf;

/*
 * Places from/PATH at dir/PATH for each of the nr_paths paths (relative,
 * '/'-separated, as checkout_opts.paths).  With nr_paths 0: every entry
 * of from is placed at the top of dir, and every other entry of dir but
 * the directory skip (the one holding from, when it is inside dir) is
 * moved into aside (a directory on dir's filesystem), so that dir then
 * holds exactly what from held.
 */
int place_entries(const char *from, const char *dir, const char *const *paths,
		  size_t nr_paths, const char *aside, const char *skip,
		  struct strbuf *err);

/*
 * Told of each directory placing a path made on the way to it (path
 * relative to dir; from: its counterpart's stat, made: the new one's),
 * for a caller that gives it more of the counterpart's metadata later.
 */
struct place_made {
	void (*fn)(const char *path, const struct stat *from, const struct stat *made,
		   void *data);
	void *data;
};

/*
 * The same into the directory open on dir_fd (dir: its name, for
 * messages), for a caller that opened it first and works in it alone;
 * made, when not NULL, is told of the directories made on the way.
 */
int place_entries_at(const char *from, int dir_fd, const char *dir,
		     const char *const *paths, size_t nr_paths, const char *aside,
		     const char *skip, const struct place_made *made, struct strbuf *err);

/*
 * Merges from into the directory open on dir_fd, touching nothing else
 * in it: each entry of from that is not a directory replaces the entry
 * at its path in dir that is not one either (one RENAME_EXCHANGE: the old
 * entry, a symlink included, is moved into from, never followed), or is
 * added where dir holds nothing; a directory of from is merged into
 * dir's directory there (opened alone with O_NOFOLLOW, so a symlink is
 * never gone through; its mode, owner and attributes stay), or moved in
 * whole where dir holds nothing.  Where one side has a directory and
 * the other something else, nothing is changed: refused(path, why,
 * data) is called (path relative, why a phrase) and *nr_refused counted;
 * so is an entry that became a directory in dir between the look and
 * the exchange (it is put back), and an entry that cannot be put in place
 * (a directory of dir that may not be written, another filesystem: why is
 * the reason), after which the merge goes on.  Nothing in dir is ever removed.
 */
int place_merge_at(const char *from, int dir_fd,
		   void (*refused)(const char *path, const char *why, void *data),
		   void *data, size_t *nr_refused, struct strbuf *err);

#endif
