#ifndef SNAP_BUNDLE_H
#define SNAP_BUNDLE_H

/*
 * Sync bundles (docs/FORMAT.md, "Bundles"): the change sets of
 * sqlite-sync-core, stored one object each as canonical JSON (RFC 8785),
 * and listed in sequence order by bundle snapshots.
 *
 * A bundle is a JSON object with "sequence" (an integer from 0 to
 * 2^53 - 1) and "operations" (an array); other members are kept as they
 * are.  A native sqlite-sync-core bundle (a .bundle.db file) is stored in
 * one documented shape of that kind, marked "format": "sqlite-sync-core",
 * and is checked the way sqlite-sync-core checks it (op ids, content
 * hash), so it can be written back as a .bundle.db file.
 *
 * Everything here treats its input as hostile: sizes, nesting and numbers
 * are bounded (json.h), and messages say where the problem is: the file,
 * the bundle's place in it and the JSON path or table row.
 */

#include <jansson.h>
#include <stdint.h>
#include "odb.h"
#include "oid.h"
#include "strbuf.h"

/*
 * Largest bundle as given: the JSON text of one bundle, or one .bundle.db
 * file (with its write-ahead log applied).  100,000 operations of
 * sqlite-sync-core (its own limit) take some 20 to 60 MiB as a file.
 */
#define BUNDLE_MAX_SIZE (256u << 20)
/*
 * Largest bundle as stored (its canonical JSON): a .bundle.db's blobs
 * double as hex, and each operation's member names are spelt out.
 */
#define BUNDLE_OBJECT_MAX (1024u << 20)
/* Largest input one import reads, all files together. */
#define BUNDLE_INPUT_MAX (1ull << 30)

enum bundle_format {
	BUNDLE_AUTO = 0,	/* by content: the SQLite header; JSON Lines when the
				 * first bundle ends on its first line; else JSON */
	BUNDLE_JSON,		/* one JSON text: an array of bundles, or one */
	BUNDLE_JSONL,		/* one bundle a line; blank lines skipped */
	BUNDLE_SQLITE,		/* one native .bundle.db database */
};

/* "json", "jsonl", "sqlite"; BUNDLE_AUTO for anything else. */
enum bundle_format bundle_format_from_name(const char *name);

/*
 * A native bundle's clock: the pointwise maximum of its operations'
 * vector clocks, devices in order.  Bundles without one (JSON bundles)
 * have known == 0.
 */
struct bundle_tick {
	char device[33];	/* 32 lowercase hex digits */
	uint64_t count;
};
struct bundle_clock {
	struct bundle_tick *v;
	size_t nr;
	int known;
};

void bundle_clock_release(struct bundle_clock *c);

/* Sets c from a checked bundle value (bundle_from_json() passed). */
void bundle_clock_of(const json_t *bundle, struct bundle_clock *c);

/* What orders one bundle after another (docs/FORMAT.md, "Snapshots"). */
struct bundle_key {
	uint64_t sequence;
	struct snap_oid oid;	/* for messages */
	struct bundle_clock clock;
};

/* Whether a happened before b: both known, a <= b everywhere, a != b. */
int bundle_clock_before(const struct bundle_clock *a, const struct bundle_clock *b);

/*
 * Whether next may follow prev on a chain: its sequence is above prev's;
 * or prev happened before it (their clocks say so, whatever the wall
 * clocks said); or both are native, of the same sequence, and concurrent
 * (neither happened before the other).  Never when next happened before
 * prev.
 */
int bundle_key_follows(const struct bundle_key *prev, const struct bundle_key *next);

struct bundle {
	uint64_t sequence;
	struct bundle_clock clock;
	char *payload;		/* canonical JSON, malloc'd */
	size_t len;
	int native;
	/* A native bundle's schema_version; -1 for other bundles. */
	long long schema_version;
	struct snap_oid oid;	/* the bundle object's id */
	/* Where it was read, for messages: file, place (from 1), line or 0. */
	const char *file;
	size_t index, line, order;
};

struct bundle_list {
	struct bundle *v;
	size_t nr, alloc;
	uint64_t bytes;		/* input bytes read, against BUNDLE_INPUT_MAX */
};

void bundle_list_release(struct bundle_list *list);

/*
 * Checks one parsed bundle and sets b's sequence, payload, native flag
 * and oid.  SNAP_EINVAL with "$.path: what" in err when it is not a
 * bundle; SNAP_ETOOBIG when its canonical form is over BUNDLE_OBJECT_MAX.
 */
int bundle_from_json(const json_t *v, struct bundle *b, struct strbuf *err);

/*
 * Checks a stored bundle payload: a bundle, in canonical form.  Sets
 * *sequence; *out (if not NULL) gets the parsed value, owned by the caller.
 */
int bundle_parse(const char *buf, size_t len, uint64_t *sequence, json_t **out,
		 struct strbuf *err);

/*
 * Reads the stored bundle oid into buf, verified, and checks it as
 * bundle_parse() does.  With sequence and out both NULL the parse is
 * skipped: the type and the id are still checked, which is all a reader
 * that copies the payload out needs (fsck checks the form).
 * SNAP_ENOTFOUND when absent; SNAP_ECORRUPT, naming it, when it is of
 * another type, damaged or malformed.
 */
int bundle_load(struct odb *odb, const struct snap_oid *oid, struct strbuf *buf,
		uint64_t *sequence, json_t **out, struct strbuf *err);

/*
 * Reads every bundle of one input, buf[0..len), named name in messages,
 * and appends them to list.  Nothing is appended unless all of them are
 * valid.  Errors read "NAME: bundle N (line L[, column C]): what" for
 * JSON and "NAME: <table> row R (op_id X): what" for SQLite.
 */
int bundle_read(const char *name, const char *buf, size_t len,
		enum bundle_format fmt, struct bundle_list *list,
		struct strbuf *err);

#define BUNDLE_CAUSAL_MAX 10000
/*
 * Puts list in order: by sequence, then by id, then (for lists of at most
 * BUNDLE_CAUSAL_MAX) moved so that no bundle comes before one that
 * happened before it; and checks that each
 * may follow the one before it (bundle_key_follows()) and, when parent is
 * not NULL, the first the parent snapshot's last.
 *
 * A bundle that is already there is dropped from the list instead, and
 * note (if not NULL) is called with a line saying so: one identical to
 * another of the list (the same id), and, among those at or below the
 * parent's last sequence, one identical to a bundle of the parent's
 * chain or, for native bundles, of the same content_hash (the op_ids:
 * sqlite-sync-core's rule for a bundle already imported).  The list may
 * end empty.
 */
int bundle_list_order(struct odb *odb, struct bundle_list *list,
		      const struct snap_oid *parent,
		      void (*note)(const char *msg, void *data), void *data,
		      struct strbuf *err);

/*
 * The last sequence of a bundle snapshot (its last bundle's).
 * SNAP_EINVAL if oid is not a bundle snapshot.
 */
int bundle_snapshot_last(struct odb *odb, const struct snap_oid *oid,
			 uint64_t *sequence, struct strbuf *err);

/* The key of a bundle snapshot's last bundle; the caller releases its clock. */
int bundle_snapshot_last_key(struct odb *odb, const struct snap_oid *oid,
			     struct bundle_key *key, struct strbuf *err);

/*
 * Stores the bundles of an ordered list and a snapshot listing them (the
 * template s gives parents, time, host, message; its bundles are set
 * here) and sets *out to the snapshot's id.  Imports of fewer than
 * BUNDLE_PACK_MIN bundles write loose objects, larger ones a pack.  A
 * progress line counts the bundles stored (progress.h: when wanted).
 */
#define BUNDLE_PACK_MIN 100
struct snapshot;
int bundle_store(struct odb *odb, struct bundle_list *list, struct snapshot *s,
		 struct snap_oid *out, struct strbuf *err);

/*
 * The bundle ids of tip's chain (first parents), oldest first: from the
 * root, or from just after since (which must be on the chain).  Every
 * snapshot on the way must be a bundle snapshot.
 */
int bundle_chain(struct odb *odb, const struct snap_oid *tip,
		 const struct snap_oid *since, struct snap_oid **ids,
		 size_t *nr, struct strbuf *err);

#endif
