#ifndef SNAP_SESSION_H
#define SNAP_SESSION_H

/*
 * Write sessions: how writers and gc share a store (docs/FORMAT.md,
 * "Sessions"; docs/snap-gc.md).
 *
 * A writer registers a session file sessions/<host>-<pid>-<random> holding
 * its host, pid, start time and the snapshots it builds on.  The start
 * time is the file's mtime as the store's filesystem set it, the same
 * clock that stamps the objects, so "written or reused since the session
 * began" is a comparison of mtimes on one clock.  gc keeps every object
 * with an mtime at or after the oldest live session's start (less a small
 * slack for coarse timestamps), and everything the sessions' bases reach.
 *
 * A session is live while its process is (same host: kill(pid, 0)), or,
 * for another host, while its file was refreshed within SESSION_TTL.
 */

#include <stdint.h>
#include <sys/types.h>
#include "oid.h"
#include "store.h"
#include "strbuf.h"

#define SESSION_TTL (24 * 3600)
/* Timestamps may be this coarse on some filesystems. */
#define SESSION_SLACK_NS 2000000000LL

struct session {
	char *path;
	char *name;
	char *host;
	pid_t pid;
	int64_t start_ns;	/* the store's clock, nanoseconds */
	int64_t beat_ns;	/* the file's mtime: last refresh */
	struct snap_oid *bases;
	size_t nr_bases, alloc_bases;
};

/*
 * Registers a session for pid (0: this process) with the given bases.
 * The file is durable when this returns.
 */
int session_begin(struct snap_store *store, pid_t pid,
		  const struct snap_oid *bases, size_t nr_bases,
		  struct session **out, struct strbuf *err);
/* Adds a base snapshot (rewrites the file atomically). */
int session_add_base(struct session *s, const struct snap_oid *oid,
		     struct strbuf *err);
/* Refreshes the file's mtime (a heartbeat for gc on other hosts). */
void session_touch(struct session *s);
/* Unregisters and frees the session. */
void session_end(struct session *s);
void session_free(struct session *s);

/* Looks up a session by name (as printed by snap-session begin). */
int session_find(struct snap_store *store, const char *name,
		 struct session **out, struct strbuf *err);

enum session_state { SESSION_LIVE, SESSION_DEAD, SESSION_EXPIRED };

/* What gc makes of a session now. */
enum session_state session_state(const struct session *s, int64_t now_ns);

/*
 * Reads every session file.  One that cannot be read or parsed is
 * SNAP_ECORRUPT (or the read's error) naming it, and nothing is returned:
 * its writer may be live, and what it protects is unknown, so a caller
 * such as gc must not go on as if it were absent.  (Files are written
 * whole and renamed into place, so a reader never meets one half
 * written.)  A file that vanishes meanwhile is a session that ended.
 */
int sessions_load(struct snap_store *store, struct session ***out, size_t *nr,
		  struct strbuf *err);

/* The store filesystem's current time: the mtime of a file made now. */
int store_now(struct snap_store *store, int64_t *now_ns, struct strbuf *err);

const char *local_host(void);
/*
 * Whether the process pid of this host is gone: none such, or a zombie
 * (killed and not yet reaped by its parent: it holds nothing any more,
 * and a script that reruns a command at once after kill -9 meets one).
 */
int process_gone(long pid);

#endif
