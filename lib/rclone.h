#ifndef SNAP_RCLONE_H
#define SNAP_RCLONE_H

/*
 * snap-push and snap-fetch to object storage through rclone: the remote
 * "rclone:RCLONE_REMOTE:PATH" is a directory of plain files that rclone
 * reaches (any remote rclone knows, a crypt remote included), laid out as
 * docs/FORMAT.md ("Object storage layout") says: snap-remote, packs in
 * snap's own pack and index format named by content and never modified,
 * one file per ref, the pruned record, and a lease.
 *
 * There is no network code here.  Every access is a child process: the
 * program $SNAP_RCLONE (default "rclone") run with a fixed argv, no shell,
 * so rclone's own configuration and environment decide where the bytes
 * go and with which credentials.
 *
 * One writer at a time: a push takes the remote's lease before it reads
 * the refs and gives it back at the end (rclone_disconnect); a lease past
 * its expiry is taken over.  Object stores have no compare-and-swap, so
 * the lease is a protocol, not a lock: its race window is described in
 * docs/FORMAT.md.  Whatever happens, a ref is written only after the
 * packs holding everything it reaches are uploaded and listed with their
 * sizes, so a ref on the remote never names what is not there.
 *
 * Fetching trusts the remote no more than snap-serve: every object is
 * read from the downloaded pack, its id recomputed as it is written into
 * the store (a batch of the odb), and everything the wanted ids reach is
 * present before this returns 0.
 */

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "oid.h"
#include "pack.h"
#include "strbuf.h"
#include "transport.h"

struct session;

#define RCLONE_PREFIX "rclone:"
/* The "format" of the remote's snap-remote file. */
#define RCLONE_FORMAT 1
/* Seconds a lease lasts unless $SNAP_RCLONE_LEASE says otherwise. */
#define RCLONE_LEASE_SECONDS 3600
/* How long a pusher waits after writing its lease before reading it back. */
#define RCLONE_SETTLE_MS 1000
/* Largest file read from the remote into memory (a pruned record, a list). */
#define RCLONE_FILE_MAX ((size_t)256 << 20)

/* One pack the remote has (its index present): pack-<name>.pack/.idx. */
struct rclone_pack {
	char name[SNAP_OID_HEXSZ + 1];
	uint64_t pack_size;	/* as the remote listed it */
	struct pack idx;	/* the cached index, opened and checked */
	int has_lists;		/* pack-<name>.lists is there too */
	char *local;		/* the downloaded .idx beside its .pack, or NULL */
};

/* A chunked blob of a .lists file: its chunks, in order. */
struct rclone_list {
	struct snap_oid oid;
	uint64_t size;
	size_t first, nr;	/* chunks[first..first+nr) of the remote */
	uint32_t pack;		/* the pack whose .lists file holds it */
};

struct rclone_remote {
	char *url;		/* as given, for messages */
	char *base;		/* "REMOTE:PATH" as rclone takes it */
	struct snap_store *store;
	struct remote_ref *refs;	/* sorted by name */
	size_t nr_refs, alloc_refs;
	char token[33];		/* our lease's token, once written */
	int leased;
	struct rclone_pack *packs;
	size_t nr_packs, alloc_packs;
	struct rclone_list *lists;	/* sorted by id */
	size_t nr_lists, alloc_lists;
	struct snap_oid *chunks;
	uint64_t *chunk_sizes;
	size_t nr_chunks, alloc_chunks, alloc_chunk_sizes;
	struct session *session;	/* ours, while connected: gc keeps our downloads */
};

/* 1 if remote is an "rclone:" remote, else 0. */
int rclone_is_remote(const char *remote);

/* What rclone_connect() is for. */
enum rclone_mode {
	RCLONE_FETCH,	/* read only; the remote must exist */
	RCLONE_PUSH,	/* the lease first; an empty remote is made one */
	RCLONE_CHANGE,	/* an existing remote, checked, then the lease (rclone_gc) */
};

/*
 * Begins a write session in store (what is downloaded keeps the remote's
 * mtime: a concurrent gc keeps it by the session; session.h), checks the
 * remote (snap-remote; a push creates it on an empty remote)
 * and reads its refs.  For a push or a change, takes the lease:
 * SNAP_ELOCKED, err naming the holder and its expiry, when another pusher
 * holds one that has not expired or wins the race for it.  SNAP_EINVAL
 * for a remote that does not parse or of another format; SNAP_ENOTFOUND
 * (a fetch, a change: before anything is written) for a remote that holds
 * no snap-remote; SNAP_EIO when rclone fails.
 */
int rclone_connect(struct rclone_remote *r, struct snap_store *store, const char *remote,
		   enum rclone_mode mode, struct strbuf *err);
/* The remote's ref of that full name, or NULL. */
const struct remote_ref *rclone_ref(const struct rclone_remote *r, const char *name);
/*
 * Gives the lease back (when it is still ours), removes downloaded files,
 * ends the session and frees r.  0, or SNAP_EIO when the lease could not be removed.
 */
int rclone_disconnect(struct rclone_remote *r, struct strbuf *err);
/*
 * For commands: rclone_disconnect(r) when the process exits (exit(),
 * die()), if it has not been called by then, so that a refusal or a
 * failure leaves no lease of ours behind.  One r per process.
 */
void rclone_disconnect_at_exit(struct rclone_remote *r);

/*
 * As transport_push: uploads what the updates need that the remote lacks
 * (known by id from its indexes, so a repacked store sends nothing
 * again), merges the pruned record, then writes the refs.  SNAP_EEXISTS
 * when a ref moved since rclone_connect read it; SNAP_ELOCKED when the
 * lease was lost meanwhile.
 */
int rclone_push(struct rclone_remote *r, struct odb *odb, const struct push_update *u,
		size_t nr, struct transfer_stats *st, struct strbuf *err);

/* What rclone_gc removed (or would). */
struct rclone_gc_stats {
	size_t packs_kept, packs_removed, files_removed;
	uint64_t bytes_removed;
};

/*
 * Removes from a remote connected for a push (the lease held) the packs
 * that nothing its refs reach is in: walks every remote ref as a fetch
 * would (through the pruned records), reading trees and snapshots from
 * this store when it has them and from the remote's packs otherwise, and
 * keeps each pack that holds a reached object, a reached chunked blob's
 * list or one of its chunks.  Every other pack-* file of packs/ goes:
 * all such indexes first (a pack without its index is no longer on the
 * remote), then .lists, then .pack files; a file of a push killed before
 * its index was uploaded goes too.  Nothing is removed when the walk
 * fails (SNAP_EINVAL "incomplete remote" for an object a ref reaches
 * that is not there) or the lease was lost (SNAP_ELOCKED).  Then every
 * file of tmp/ (uploads a killed writer left).  removed() is called with
 * each file's path under the remote (packs/FILE, tmp/FILE) and size once
 * it is gone, or (dry_run) instead of removing it.
 */
int rclone_gc(struct rclone_remote *r, struct odb *odb, int dry_run,
	      void (*removed)(const char *file, uint64_t size, void *data), void *data,
	      struct rclone_gc_stats *st, struct strbuf *err);

/* As transport_fetch, from the remote's packs. */
int rclone_fetch(struct rclone_remote *r, struct odb *odb, const struct snap_oid *wants,
		 size_t nr, struct transfer_stats *st, struct pruned *pruned,
		 struct strbuf *err);

#endif
