#ifndef SNAP_SQLBUNDLE_H
#define SNAP_SQLBUNDLE_H

/*
 * Native sqlite-sync-core bundles: SQLite databases with the tables
 * bundle_metadata (one row) and bundle_operations, in the schema that
 * sqlite-sync-core publishes.  snap stores one as a JSON value of a fixed
 * shape (docs/FORMAT.md, "Native bundles"): blobs as lowercase hex,
 * operations in op_id order, bundle_metadata.created_at as "sequence",
 * op_count left out (it is the number of operations).  The same rows give
 * the same value, whatever the file's page layout.
 */

#include <jansson.h>
#include <stddef.h>
#include "strbuf.h"

/* Longest table_name sqlite-sync-core's import is given. */
#define SQLBUNDLE_NAME_MAX 128
/* The schema_version sqlite-sync-core's import expects (its SCHEMA_VERSION). */
#define SQLBUNDLE_SCHEMA_VERSION 1
/* Largest value (one column of one row) of a .bundle.db. */
#define SQLBUNDLE_VALUE_MAX (16u << 20)
/* The "format" of native sqlite-sync-core bundles. */
#define SQLBUNDLE_FORMAT "sqlite-sync-core"

/*
 * Reads the database image buf[0..len), read-only, with sqlite-sync-core's
 * checks: PRAGMA integrity_check, both tables present with exactly the
 * published columns and no other table, view or trigger, one metadata
 * row, op_count equal to the number of operations, at least one of them,
 * content_hash the SHA-256 of the op_ids in order, every value of its
 * column's type, and every operation one that sqlite-sync-core's import
 * can apply (vector clock, hlc, values for its type, MessagePack, unique
 * op_id, plain table name; docs/FORMAT.md).  Sets
 * *out to the native value.
 * SNAP_EINVAL otherwise, with "<table> row R (op_id X): what" in err
 * (R counts rows in op_id order, from 1).
 */
int sqlbundle_read(const void *buf, size_t len, json_t **out, struct strbuf *err);

/*
 * Applies SQLite's write-ahead log wal[0..len) (of the database file
 * named for messages by name) to the database image db, so that db holds
 * what SQLite reads from the pair: the main file's pages overlaid, in
 * order, by those of the log's frames up to its last commit frame, cut
 * to that commit's size (docs/FORMAT.md, "Native bundles").  Frames past
 * the last commit, or after the first frame whose salts or checksum do
 * not hold, do not count; a log whose header does not hold is ignored, as
 * SQLite does.  Returns 1 when db was changed, 0 when the log holds no
 * commit; SNAP_EINVAL for a log of another version or page size,
 * SNAP_ETOOBIG when the result would be over max bytes.
 */
int sqlbundle_apply_wal(struct strbuf *db, const void *wal, size_t len, size_t max,
			const char *name, struct strbuf *err);

/*
 * Reads the database file at path (at most max bytes) into out as SQLite
 * reads it: with its write-ahead log "<path>-wal", when there is one,
 * applied by sqlbundle_apply_wal().  Nothing is written, to either file
 * or beside them (no -shm, no checkpoint).  The log is read before and
 * after the main file and must be the same both times, else it is read
 * again; SNAP_EINVAL when it kept changing.  Without a log, a hot
 * rollback journal "<path>-journal" (not empty, not starting with a zero
 * byte: a transaction cut short, which SQLite would roll back) is
 * SNAP_EINVAL naming it.  The three are opened without waiting: one that
 * is not a regular file (a FIFO) is SNAP_EINVAL naming it, unread.
 * SNAP_EIO (naming the file) when one cannot be
 * read.
 */
int sqlbundle_read_file(const char *path, size_t max, struct strbuf *out,
			struct strbuf *err);

/*
 * Checks that v has the native shape exactly, with a content hash that
 * matches, at least one operation, and the operations to
 * sqlite-sync-core's import rules as sqlbundle_read() does.  SNAP_EINVAL with "$.path: what" otherwise.
 */
int sqlbundle_check(const json_t *v, struct strbuf *err);

/*
 * sqlite-sync-core's JSON wire form of a push: {"device_id": "<32 hex>",
 * "operations": [...]}, each operation with op_id, device_id,
 * parent_op_id, vector_clock, table_name, op_type, row_pk, old_values,
 * new_values (blobs as hex), schema_version, created_at and hlc (the
 * HLC text's bytes as hex).  sqlbundle_is_wire() says whether v has that
 * shape's top (device_id and operations, no sequence and no format).
 * sqlbundle_from_wire() turns it into the native value of the bundle
 * (docs/FORMAT.md, "The wire form"), not yet checked by
 * sqlbundle_check(); SNAP_EINVAL with "$.path: what" otherwise.
 */
int sqlbundle_is_wire(const json_t *v);
int sqlbundle_from_wire(const json_t *v, json_t **out, struct strbuf *err);
/*
 * The other way: the wire form of a native value (one that passed
 * sqlbundle_check), as sqlite-sync-core would push its operations:
 * device_id the source_device_id, the operations in their stored order
 * without is_local and applied_at, hlc as the hex of its text.  What the
 * wire does not carry (bundle_id, created_at, content_hash, applied_at)
 * is left behind.  SNAP_EINVAL "$.path: what" for a value of another
 * shape.
 */
int sqlbundle_to_wire(const json_t *v, json_t **out, struct strbuf *err);

/*
 * Writes a native value (one that passed sqlbundle_check) as a new
 * database at path, durably: a temporary file beside it, fsync, then a
 * link to path, which must not exist (SNAP_EEXISTS).
 */
int sqlbundle_write(const json_t *v, const char *path, struct strbuf *err);

#endif
