#ifndef SNAP_SNAPSHOT_H
#define SNAP_SNAPSHOT_H

/*
 * Snapshot objects: text header lines in the manner of a git commit, a
 * blank line, then the message (docs/FORMAT.md, "Snapshots"):
 *
 *   tree <id>              or, for sync bundles, instead of it:
 *   bundle <id>            one or more, in sequence order
 *   parent <id>            zero or more
 *   time <seconds> <+hhmm>
 *   host <name>
 *   incomplete <count>     only in a snapshot that is incomplete, then
 *   problem <reason> <path>  one or more: the first problems met
 *   meta <key>=<value>     zero or more, in the order given
 *
 *   <message>
 *
 * snapshot_parse() is strict (fields in that order, each once where once
 * is meant, canonical numbers), so one snapshot has one encoding.
 */

#include <stdint.h>
#include "object.h"
#include "oid.h"
#include "strbuf.h"

/*
 * One thing a snapshot of a directory could not store as it was: reason
 * is "unreadable" (left out, or stored without an extended attribute
 * whose value could not be read) or "vanished" (left out), "changed"
 * (changed while it was read, twice: stored as read) or "unstable"
 * (changed while it was read, twice, and could not be read through: left
 * out); path is relative to the directory, escaped as names in trees.
 */
struct snapshot_problem {
	char *reason;
	char *path;
};

struct snapshot {
	struct snap_oid tree;	/* the null id in a bundle snapshot */
	struct snap_oid *bundles;	/* a bundle snapshot's bundles, in order */
	size_t nr_bundles, alloc_bundles;
	struct snap_oid *parents;
	size_t nr_parents, alloc_parents;
	int64_t time;		/* seconds since the epoch, UTC */
	int tz;			/* offset east of UTC, in minutes */
	char *host;
	/*
	 * How many problems the snapshot was taken with (0: it is
	 * complete), and the first of them, as many as the limits below
	 * allow.
	 */
	uint64_t incomplete;
	struct snapshot_problem *problems;
	size_t nr_problems, alloc_problems, problems_bytes;
	char **meta;		/* "key=value" strings */
	size_t nr_meta, alloc_meta;
	char *message;		/* may be empty; no trailing newline added */
};

#define SNAPSHOT_INIT { .tz = 0 }
/* Largest snapshot payload snap reads. */
#define SNAPSHOT_MAX_SIZE (16u << 20)
/* Most bundles one snapshot lists (72 bytes a line, under the size above). */
#define SNAPSHOT_BUNDLES_MAX 200000
/* Most problems listed, and most bytes of their lines (the rest are counted). */
#define SNAPSHOT_PROBLEMS_MAX 1000
#define SNAPSHOT_PROBLEMS_BYTES (4u << 20)
/* Times allowed: +-2^40 seconds (about 35,000 years either way). */
#define SNAPSHOT_TIME_LIMIT ((int64_t)1 << 40)

void snapshot_release(struct snapshot *s);
void snapshot_add_parent(struct snapshot *s, const struct snap_oid *oid);
void snapshot_add_bundle(struct snapshot *s, const struct snap_oid *oid);
/*
 * Counts one problem and lists it while the limits allow; line is
 * "<reason> <escaped path>" as in the snapshot's problem lines (and
 * snap-write-tree's --problems file).  SNAP_EINVAL, naming it, for an
 * unknown reason or a path that is not canonically escaped, relative and
 * made of valid names.
 */
int snapshot_add_problem(struct snapshot *s, const char *line, size_t len,
			 struct strbuf *err);
/* Adds "key=value"; SNAP_EINVAL if the key or value is not allowed. */
int snapshot_add_meta(struct snapshot *s, const char *kv, struct strbuf *err);

int snapshot_encode(const struct snapshot *s, struct strbuf *out,
		    struct strbuf *err);
int snapshot_parse(struct snapshot *s, const char *buf, size_t len,
		   struct strbuf *err);

struct odb;
/*
 * Reads, verifies and parses the snapshot oid.  SNAP_EINVAL (naming it)
 * when the object is of another type; as odb_read() otherwise.
 */
int snapshot_read(struct odb *odb, const struct snap_oid *oid, struct snapshot *s,
		  struct strbuf *err);

/*
 * Checks an object a new snapshot is to link to, as every reader will
 * take it: that oid is of type want (OBJ_TREE or OBJ_SNAPSHOT; else
 * SNAP_EINVAL "'<name>' is a <type>, not a <want>") and that it reads,
 * verifies and parses (else the parser's SNAP_EINVAL, or the read's
 * code, followed by " (tree '<id>')" or " (snapshot '<id>')").
 */
int snapshot_check_link(struct odb *odb, const struct snap_oid *oid,
			enum object_type want, const char *name, struct strbuf *err);

/*
 * Where a snapshot's time and host come from, for every command that makes
 * one: the value given (time_arg, host_arg: an option), else $SNAP_TIME
 * and $SNAP_HOST, else the default of the kind of snapshot:
 *   SNAPSHOT_ORIGIN_NOW   now in the local time zone and the host name:
 *                         a snapshot of a tree records when and where;
 *   SNAPSHOT_ORIGIN_NONE  time 0 and host "-": a bundle snapshot is made
 *                         to come out the same on every device that
 *                         imports the same bundles (docs/FORMAT.md).
 * An empty value counts as not given.  A TIME that does not parse is
 * parse_time()'s SNAP_EINVAL; a host name that cannot be had, SNAP_EIO.
 */
enum snapshot_origin { SNAPSHOT_ORIGIN_NOW, SNAPSHOT_ORIGIN_NONE };
int snapshot_set_origin(struct snapshot *s, const char *time_arg, const char *host_arg,
			enum snapshot_origin dflt, struct strbuf *err);

/* The value of meta key, or NULL. */
const char *snapshot_meta(const struct snapshot *s, const char *key);

/*
 * Parses a time as users give it: "SECONDS [+-hhmm]", "@SECONDS",
 * "YYYY-MM-DD", "YYYY-MM-DDTHH:MM[:SS](Z|+-HH:MM)" (with a space allowed
 * for 'T'; no zone means UTC).  tz is set to the zone given (else 0).
 */
int parse_time(const char *s, int64_t *t, int *tz, struct strbuf *err);
/* The local time zone offset, in minutes east, at time t. */
int local_tz(int64_t t);
/* Appends "YYYY-MM-DD HH:MM:SS +hhmm" for t shown in zone tz. */
void format_time(struct strbuf *out, int64_t t, int tz);

#endif
