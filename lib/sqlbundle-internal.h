#ifndef SNAP_SQLBUNDLE_INTERNAL_H
#define SNAP_SQLBUNDLE_INTERNAL_H

/*
 * What the files of the sqlbundle module share and nothing else uses
 * (sqlbundle.h is the manual): the published schema and its columns, and
 * the checks of values and operations.  lib/sqlbundle.c holds the
 * import rules, the native shape and the wire form; lib/sqlread.c
 * reading a database (and its write-ahead log); lib/sqlwrite.c writing
 * one back.
 */

#include <jansson.h>
#include <stddef.h>
#include "strbuf.h"

enum kind {
	K_ID,		/* a 16-byte blob (UUID) */
	K_HASH,		/* a 32-byte blob (SHA-256) */
	K_BLOB,		/* any blob */
	K_TEXT,
	K_INT,
	K_BOOL,		/* the integer 0 or 1 */
	K_OPTYPE,	/* 'INSERT', 'UPDATE' or 'DELETE' */
};

struct column {
	const char *name;
	enum kind kind;
	int nullable;
};

/*
 * The tables below are static here, so that each file's NR_META and
 * NR_OPS are sizeof the one definition; they are small and read-only.
 */

/* bundle_metadata; created_at is stored as "sequence", op_count not at all. */
static const struct column meta_cols[] = {
	{ "bundle_id", K_ID, 0 },
	{ "source_device_id", K_ID, 0 },
	{ "created_at", K_INT, 0 },
	{ "schema_version", K_INT, 0 },
	{ "op_count", K_INT, 0 },
	{ "content_hash", K_HASH, 0 },
};
#define NR_META (sizeof(meta_cols) / sizeof(meta_cols[0]))

static const struct column op_cols[] = {
	{ "op_id", K_ID, 0 },
	{ "device_id", K_ID, 0 },
	{ "parent_op_id", K_ID, 1 },
	{ "vector_clock", K_TEXT, 0 },
	{ "hlc", K_TEXT, 0 },
	{ "table_name", K_TEXT, 0 },
	{ "op_type", K_OPTYPE, 0 },
	{ "row_pk", K_BLOB, 0 },
	{ "old_values", K_BLOB, 1 },
	{ "new_values", K_BLOB, 1 },
	{ "schema_version", K_INT, 0 },
	{ "created_at", K_INT, 0 },
	{ "is_local", K_BOOL, 0 },
	{ "applied_at", K_INT, 1 },
};
#define NR_OPS (sizeof(op_cols) / sizeof(op_cols[0]))

/* The schema sqlite-sync-core writes its bundles with. */
static const char schema_sql[] =
	"CREATE TABLE bundle_metadata (\n"
	"    bundle_id BLOB PRIMARY KEY CHECK(length(bundle_id) = 16),\n"
	"    source_device_id BLOB NOT NULL CHECK(length(source_device_id) = 16),\n"
	"    created_at INTEGER NOT NULL,\n"
	"    schema_version INTEGER NOT NULL,\n"
	"    op_count INTEGER NOT NULL,\n"
	"    content_hash BLOB NOT NULL CHECK(length(content_hash) = 32)\n"
	") STRICT;\n"
	"CREATE TABLE bundle_operations (\n"
	"    op_id BLOB PRIMARY KEY CHECK(length(op_id) = 16),\n"
	"    device_id BLOB NOT NULL CHECK(length(device_id) = 16),\n"
	"    parent_op_id BLOB CHECK(parent_op_id IS NULL OR length(parent_op_id) = 16),\n"
	"    vector_clock TEXT NOT NULL,\n"
	"    hlc TEXT NOT NULL,\n"
	"    table_name TEXT NOT NULL,\n"
	"    op_type TEXT NOT NULL CHECK(op_type IN ('INSERT', 'UPDATE', 'DELETE')),\n"
	"    row_pk BLOB NOT NULL,\n"
	"    old_values BLOB,\n"
	"    new_values BLOB,\n"
	"    schema_version INTEGER NOT NULL,\n"
	"    created_at INTEGER NOT NULL,\n"
	"    is_local INTEGER NOT NULL CHECK(is_local IN (0, 1)),\n"
	"    applied_at INTEGER\n"
	") STRICT;\n";

/*
 * Why a bundle without operations is refused: sqlite-sync-core writes
 * none (generate_bundle returns None) and pushes none, and the wire form
 * would have no created_at to give it a sequence.
 */
#define NO_OPS_WHY "a bundle holds at least one operation"

/* What a value of kind k must be, for messages ("a 16-byte blob"). */
const char *sqlbundle_kind_name(enum kind k);
/* Whether s[0..len) is 'INSERT', 'UPDATE' or 'DELETE'. */
int sqlbundle_optype_ok(const char *s, size_t len);
/* Appends p[0..len) as lowercase hex. */
void sqlbundle_add_hex(struct strbuf *sb, const unsigned char *p, size_t len);
/* Lowercase hex of even length (want bytes, or any when 0) into out; -1 if not. */
int sqlbundle_hex_decode(const char *s, size_t len, size_t want, struct strbuf *out);
/*
 * sqlite-sync-core's import rules for one operation in the native shape
 * (blobs in hex): vector clock, an hlc neither empty nor with a NUL,
 * values for its op_type, MessagePack, a plain table name (over its
 * whole length).  SNAP_EINVAL with "WHERE: what" in err.
 */
int sqlbundle_check_op_json(const json_t *op, const char *where, struct strbuf *err);

#endif
