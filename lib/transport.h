#ifndef SNAP_TRANSPORT_H
#define SNAP_TRANSPORT_H

/*
 * Copying snapshots between stores: snap-push and snap-fetch on one
 * side, snap-serve on the other, speaking the transfer protocol of
 * docs/FORMAT.md ("Transfer protocol") over a pipe pair: to a child
 * snap-serve for a local path, or through OpenSSH for HOST:PATH and
 * ssh://[USER@]HOST[:PORT]/PATH.  There is no network code here: ssh
 * (or $SNAP_SSH_COMMAND, run by sh) carries the bytes.
 *
 * Only missing objects cross.  The sender leaves out the receiver's ref
 * tips that it has, what their trees reach and their ancestors (without
 * reading the ancestors' trees), asks the receiver about the rest in
 * batches, and sends what it lacks.
 *
 * The receiver trusts nothing: each object's id is recomputed over the
 * bytes that arrived before it is written (through the odb's batch, in
 * the odb's write session), every id a received tree, snapshot or chunk
 * list names must be present when the pack ends, and refs move only
 * after that, all in one ref transaction (compare-and-swap on the values
 * the sender saw).  Objects that arrived whole and verified are kept
 * when the connection dies or another object fails (made durable,
 * referenced by nothing, kept by gc for its prune age), so the next
 * transfer sends only what is still missing.
 */

#include <stdint.h>
#include <sys/types.h>
#include "odb.h"
#include "oid.h"
#include "pktline.h"
#include "strbuf.h"

/*
 * The highest protocol version spoken.  A client asks for 2 through the
 * environment of snap-serve (SNAP_PROTOCOL=2) and speaks what the server
 * greets with, 1 or 2; version 2 lets objects cross compressed
 * (docs/FORMAT.md, "Transfer protocol").
 */
#define TRANSPORT_VERSION 2
/* Ids per "query" batch of the negotiation. */
#define TRANSPORT_QUERY_BATCH 1024
/* Most refs a server may advertise, and most updates or wants a request holds. */
#define TRANSPORT_REFS_MAX 100000

struct remote_ref {
	char *name;
	struct snap_oid oid;
};

struct transport {
	struct pkt_conn conn;
	pid_t child;
	int version;
	struct remote_ref *refs;	/* as advertised, sorted by name */
	size_t nr_refs, alloc_refs;
};

struct transfer_stats {
	uint64_t objects;	/* objects whose bytes crossed */
	uint64_t bytes;		/* their payload bytes */
};

/*
 * Starts the far side for remote (a local path, HOST:PATH or
 * ssh://[USER@]HOST[:PORT]/PATH) and reads its advertisement.
 * serve is the program the far side runs (NULL: "snap-serve"; for ssh it
 * is passed to the remote shell as it is, followed by the quoted path).
 * SNAP_EINVAL for a remote that cannot be parsed (or a host starting with
 * '-'); SNAP_EIO when the far side cannot be started or does not answer.
 */
/*
 * A named remote (snap-remote(1)): when name is one of letters, digits
 * and "._-" (not first "." or "-") and the store has remotes/NAME, sets
 * url (and ssh, its ssh command, or empty) from that file's "url = ..."
 * and "ssh = ..." lines and returns 1; 0 when there is no such remote;
 * SNAP_EINVAL or SNAP_EIO for a file without a url or unreadable.
 */
struct snap_store;
int transport_remote_lookup(struct snap_store *store, const char *name, struct strbuf *url,
			    struct strbuf *ssh, struct strbuf *err);

/*
 * What the commands do with a REMOTE argument: a named remote's url takes
 * its place in *remote (url owns it), and its ssh command becomes
 * $SNAP_SSH_COMMAND unless that is set.  0, or as transport_remote_lookup.
 */
int transport_use_remote(struct snap_store *store, const char **remote, struct strbuf *url,
			 struct strbuf *ssh, struct strbuf *err);

int transport_connect(struct transport *t, const char *remote, const char *serve,
		      struct strbuf *err);

/*
 * The command line snap-push and snap-fetch share: [options] REMOTE
 * [REF...], with --json, --progress, -q/--quiet (the two set
 * $SNAP_PROGRESS for progress.h, -q winning), --serve-path CMD, --store
 * DIR and --help (docs/snap-push.md, docs/snap-fetch.md).
 */
struct transport_opts {
	const char *dir;	/* --store: NULL for the default store */
	const char *serve;	/* --serve-path: NULL for snap-serve */
	const char *remote;	/* REMOTE (transport_use_remote() may put a url here) */
	int json, quiet, progress;
};
#define TRANSPORT_OPTS_INIT { NULL, NULL, NULL, 0, 0, 0 }
/* transport_parse_options()'s answer to --help. */
#define TRANSPORT_OPTS_HELP 1

struct option;
/*
 * Parses argv with getopt_long(): the shared options into o; the
 * command's own (shortopts and longopts, a table ended by a zero entry,
 * using none of the values 'j', 'q', 'S', 's', 'h') go to own(c, optarg,
 * data), which returns 0 when it took c and -1 when c is not one of its
 * own.  Then REMOTE into o->remote, with optind left at the first REF.
 * 0; TRANSPORT_OPTS_HELP for --help (the caller prints its usage);
 * SNAP_EINVAL with "unknown option" (after getopt's own message) or
 * "no REMOTE given" in err.
 */
int transport_parse_options(struct transport_opts *o, int argc, char **argv,
			    const char *shortopts, const struct option *longopts,
			    int (*own)(int c, const char *arg, void *data), void *data,
			    struct strbuf *err);

/*
 * Each REF argument (argv[first..argc-1]) as a full name (ref_full_name),
 * checked (ref_name_check) and appended to names, in order.  0, or
 * SNAP_EINVAL with the first bad name's message in err.
 */
struct ref_names;
int transport_ref_args(int argc, char **argv, int first, struct ref_names *names,
		       struct strbuf *err);

/* The advertised ref of that full name, or NULL. */
const struct remote_ref *transport_ref(const struct transport *t, const char *name);
/*
 * Ends the connection and waits for the far side.  SNAP_EIO when it
 * exited with a failure (unless err already holds a message).
 */
int transport_disconnect(struct transport *t, struct strbuf *err);

/* One ref of a push: new_oid null to delete. */
struct push_update {
	const char *name;
	struct snap_oid old_oid;	/* the value the remote must hold (null: absent) */
	struct snap_oid new_oid;
	int force;			/* not a fast-forward, asked for */
};

/*
 * Sends the objects the updates need that the remote lacks, then the
 * updates, which the remote applies in one transaction.  SNAP_EEXISTS
 * (the answer "no") when the remote refuses them: a ref moved since it
 * was advertised, not a fast-forward, a refusal of an append-only store;
 * err holds the remote's reason.  Other failures as their codes.
 */
int transport_push(struct transport *t, struct odb *odb, const struct push_update *u,
		   size_t nr, struct transfer_stats *st, struct strbuf *err);

/*
 * Receives the objects the wanted ids reach that odb lacks (its ref tips
 * are offered as haves), verified and durable when this returns 0.
 * Moving refs is the caller's, and so is adding to the store's pruned
 * record what of the sender's this fills into pruned (an empty record on
 * entry; the entries for snapshots this store lacks that the received
 * history leads to): once the refs are checked, before they move.
 */
struct pruned;
int transport_fetch(struct transport *t, struct odb *odb, const struct snap_oid *wants,
		    size_t nr, struct transfer_stats *st, struct pruned *pruned,
		    struct strbuf *err);

/*
 * 1 if anc is new_oid or reached from it through snapshot parents, else
 * 0; a negative SNAP_E* when a snapshot on the way cannot be read.  A
 * snapshot absent here that the store's pruned record (or extra, a
 * received one; may be NULL) lists is passed through to its recorded
 * parents, each compared with anc in turn.
 */
int transport_is_ancestor(struct odb *odb, const struct snap_oid *anc,
			  const struct snap_oid *new_oid, const struct pruned *extra,
			  struct strbuf *err);

/*
 * What snap-push and snap-fetch print: one line per ref,
 * "STATUS NAME OLD NEW" (ids in full, 64 zeros for none), and
 * "<verb> N objects, M bytes"; or with json one object
 * {"refs":[{"name","status","old","new"}...],"objects_<verb>":N,
 * "bytes_<verb>":M}.  status is "created", "updated", "forced",
 * "deleted" or "up-to-date".
 */
struct ref_result {
	const char *name;
	const char *status;
	struct snap_oid old_oid, new_oid;
};
void transport_report(struct strbuf *out, const struct ref_result *r, size_t nr,
		      const struct transfer_stats *st, const char *verb, int json);

/* The far side: snap-serve's loop over in and out. */
struct serve_opts {
	int append_only;
	int version;	/* greeted with: 2 when the client asked for it, else 1 */
};
/*
 * Serves one connection.  Refusals and failures of a request are sent to
 * the client as a frame and returned with err empty (the client reports
 * them); a failure the client could not be told of is returned with its
 * message in err, but for a client that hung up (err empty: it reports
 * its own failure).
 */
int serve_run(struct odb *odb, int in, int out, const struct serve_opts *o,
	      struct strbuf *err);

#endif
