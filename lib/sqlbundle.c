/*
 * Native sqlite-sync-core bundles; the shape is in docs/FORMAT.md.
 */
#include "sqlbundle.h"
#include "error.h"
#include "fsio.h"
#include "json.h"
#include "msgpack.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

static const char *kind_name(enum kind k)
{
	switch (k) {
	case K_ID: return "a 16-byte blob";
	case K_HASH: return "a 32-byte blob";
	case K_BLOB: return "a blob";
	case K_TEXT: return "text";
	case K_INT: return "an integer";
	case K_BOOL: return "0 or 1";
	case K_OPTYPE: return "'INSERT', 'UPDATE' or 'DELETE'";
	}
	return "?";
}

static int optype_ok(const char *s, size_t len)
{
	return (len == 6 && (!memcmp(s, "INSERT", 6) || !memcmp(s, "UPDATE", 6) ||
			     !memcmp(s, "DELETE", 6)));
}

static void add_hex(struct strbuf *sb, const unsigned char *p, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		strbuf_addch(sb, hex[p[i] >> 4]);
		strbuf_addch(sb, hex[p[i] & 15]);
	}
}

static int unhex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Lowercase hex of even length (want bytes, or any when 0) into out. */
static int hex_decode(const char *s, size_t len, size_t want, struct strbuf *out)
{
	size_t i;

	if (len % 2 || (want && len != 2 * want))
		return -1;
	strbuf_reset(out);
	for (i = 0; i < len; i += 2) {
		int hi = unhex(s[i]), lo = unhex(s[i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		strbuf_addch(out, hi << 4 | lo);
	}
	return 0;
}

/* ---- what sqlite-sync-core's import needs of an operation ---- */

/* One operation's fields the import rules look at, blobs as bytes. */
struct op_fields {
	const char *op_type, *table_name, *vector_clock;
	size_t vector_clock_len;
	const struct strbuf *row_pk, *old_values, *new_values;	/* NULL for null */
};

static int is_hex32(const char *s)
{
	size_t i;

	for (i = 0; i < 32; i++)
		if (unhex(s[i]) < 0)
			return 0;
	return !s[32];
}

/*
 * vector_clock: a JSON object of device ids (32 lowercase hex digits,
 * as sqlite-sync-core writes them) to counters (integers >= 0).
 */
static int check_vector_clock(const char *text, size_t len, const char *where,
			      struct strbuf *err)
{
	struct strbuf msg = STRBUF_INIT;
	const char *key;
	json_t *v = NULL, *val;
	size_t pos;
	int ret = 0;

	if (json_parse(text, len, &v, &pos, &msg) < 0)
		ret = snap_error(err, SNAP_EINVAL, "%s: vector_clock: not JSON (byte %zu: %s)",
				 where, pos, msg.buf);
	else if (!json_is_object(v))
		ret = snap_error(err, SNAP_EINVAL, "%s: vector_clock: not a JSON object", where);
	else
		json_object_foreach(v, key, val) {
			strbuf_reset(&msg);
			json_add_string(&msg, key, strlen(key));
			if (!is_hex32(key)) {
				ret = snap_error(err, SNAP_EINVAL,
						 "%s: vector_clock: key %s is not a device id (32 lowercase hex digits)",
						 where, msg.buf);
				break;
			}
			if (!json_is_integer(val) || json_integer_value(val) < 0) {
				ret = snap_error(err, SNAP_EINVAL,
						 "%s: vector_clock: the counter of %s is not an integer >= 0",
						 where, msg.buf);
				break;
			}
		}
	json_decref(v);
	strbuf_release(&msg);
	return ret;
}

/* A name sqlite-sync-core can splice into SQL as it is: [A-Za-z_][A-Za-z0-9_]*. */
static int plain_identifier(const char *s)
{
	size_t i;

	if (!*s || (*s >= '0' && *s <= '9'))
		return 0;
	for (i = 0; s[i]; i++)
		if (!(s[i] == '_' || (s[i] >= '0' && s[i] <= '9') ||
		      ((s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'z')))
			return 0;
	return i <= SQLBUNDLE_NAME_MAX;
}

/* want_map: 1 a map, 2 a map that is not empty. */
static int check_msgpack(const struct strbuf *b, const char *field, int want_map,
			 const char *where, struct strbuf *err)
{
	struct strbuf msg = STRBUF_INIT;
	enum msgpack_kind kind;
	uint64_t n;
	int ret = 0;

	if (msgpack_check((const unsigned char *)b->buf, b->len, &kind, &n, &msg) < 0)
		ret = snap_error(err, SNAP_EINVAL, "%s: %s: not well-formed MessagePack (%s)",
				 where, field, msg.buf);
	else if (want_map && kind != MSGPACK_MAP)
		ret = snap_error(err, SNAP_EINVAL, "%s: %s: not a MessagePack map", where, field);
	else if (want_map == 2 && !n)
		ret = snap_error(err, SNAP_EINVAL, "%s: %s: an empty map", where, field);
	strbuf_release(&msg);
	return ret;
}

/*
 * The rules of docs/FORMAT.md ("Native bundles", what the import needs):
 * what sqlite-sync-core's import refuses, or would run as SQL, is refused.
 * op_type is already one of the three.
 */
static int check_op_rules(const struct op_fields *f, const char *where, struct strbuf *err)
{
	int insert = !strcmp(f->op_type, "INSERT"), del = !strcmp(f->op_type, "DELETE");
	int ret;

	ret = check_vector_clock(f->vector_clock, f->vector_clock_len, where, err);
	if (ret == 0 && !plain_identifier(f->table_name)) {
		struct strbuf q = STRBUF_INIT;
		json_add_string(&q, f->table_name, strlen(f->table_name));
		ret = snap_error(err, SNAP_EINVAL,
				 "%s: table_name: %s is not a plain identifier ([A-Za-z_][A-Za-z0-9_]*, at most %d bytes)",
				 where, q.buf, SQLBUNDLE_NAME_MAX);
		strbuf_release(&q);
	}
	if (ret == 0)
		ret = check_msgpack(f->row_pk, "row_pk", 0, where, err);
	if (ret == 0 && del && !f->old_values)
		ret = snap_error(err, SNAP_EINVAL, "%s: old_values: null in a DELETE", where);
	if (ret == 0 && !del && !f->new_values)
		ret = snap_error(err, SNAP_EINVAL, "%s: new_values: null in an %s", where,
				 insert ? "INSERT" : "UPDATE");
	if (ret == 0 && f->old_values)
		ret = check_msgpack(f->old_values, "old_values", 1, where, err);
	if (ret == 0 && f->new_values)
		ret = check_msgpack(f->new_values, "new_values", del ? 1 : 2, where, err);
	return ret;
}

/* check_op_rules() on an operation in the native shape (blobs in hex). */
static int check_op_json(const json_t *op, const char *where, struct strbuf *err)
{
	static const char *const blobs[3] = { "row_pk", "old_values", "new_values" };
	struct strbuf b[3] = { STRBUF_INIT, STRBUF_INIT, STRBUF_INIT };
	const struct strbuf *p[3];
	const json_t *vc = json_object_get(op, "vector_clock");
	struct op_fields f;
	int i, ret;

	for (i = 0; i < 3; i++) {
		const json_t *v = json_object_get(op, blobs[i]);
		p[i] = NULL;
		if (json_is_string(v) &&
		    hex_decode(json_string_value(v), json_string_length(v), 0, &b[i]) == 0)
			p[i] = &b[i];
	}
	f.op_type = json_string_value(json_object_get(op, "op_type"));
	f.table_name = json_string_value(json_object_get(op, "table_name"));
	f.vector_clock = json_string_value(vc);
	f.vector_clock_len = json_string_length(vc);
	f.row_pk = p[0];
	f.old_values = p[1];
	f.new_values = p[2];
	ret = check_op_rules(&f, where, err);
	for (i = 0; i < 3; i++)
		strbuf_release(&b[i]);
	return ret;
}

/* ---- reading a database ---- */

struct reader {
	sqlite3 *db;
	struct strbuf *err;
	struct strbuf where;	/* "bundle_operations row 3 (op_id ...)" */
};

static int db_error(struct reader *r, const char *what)
{
	return snap_error(r->err, SNAP_EINVAL, "%s: %s", what, sqlite3_errmsg(r->db));
}

/* The value of column i of stmt as JSON, checked against col. */
static int column_value(struct reader *r, sqlite3_stmt *st, int i,
			const struct column *col, json_t **out)
{
	int type = sqlite3_column_type(st, i);
	const unsigned char *blob;
	struct strbuf hex = STRBUF_INIT;
	sqlite3_int64 x;
	int n;

	*out = NULL;
	if (type == SQLITE_NULL && col->nullable) {
		*out = json_null();
		return 0;
	}
	switch (col->kind) {
	case K_ID: case K_HASH: case K_BLOB:
		if (type != SQLITE_BLOB)
			break;
		n = sqlite3_column_bytes(st, i);
		if ((col->kind == K_ID && n != 16) || (col->kind == K_HASH && n != 32))
			break;
		blob = sqlite3_column_blob(st, i);
		add_hex(&hex, blob ? blob : (const unsigned char *)"", (size_t)n);
		*out = json_stringn(hex.buf, hex.len);
		strbuf_release(&hex);
		return 0;
	case K_TEXT: case K_OPTYPE:
		if (type != SQLITE_TEXT)
			break;
		n = sqlite3_column_bytes(st, i);
		blob = sqlite3_column_text(st, i);
		if (col->kind == K_OPTYPE && !optype_ok((const char *)blob, (size_t)n))
			break;
		*out = json_stringn((const char *)blob, (size_t)n);
		if (!*out)
			return snap_error(r->err, SNAP_EINVAL, "%s: %s is not valid UTF-8",
					  r->where.buf, col->name);
		return 0;
	case K_INT: case K_BOOL:
		if (type != SQLITE_INTEGER)
			break;
		x = sqlite3_column_int64(st, i);
		if (col->kind == K_BOOL && x != 0 && x != 1)
			break;
		if (x > JSON_INT_EXACT_MAX || x < -JSON_INT_EXACT_MAX)
			return snap_error(r->err, SNAP_EINVAL,
					  "%s: %s %lld is beyond +-(2^53 - 1)",
					  r->where.buf, col->name, (long long)x);
		*out = json_integer(x);
		return 0;
	}
	return snap_error(r->err, SNAP_EINVAL, "%s: %s is not %s%s", r->where.buf,
			  col->name, kind_name(col->kind), col->nullable ? " or NULL" : "");
}

static int check_tables(struct reader *r)
{
	static const char *const want[2] = { "bundle_metadata", "bundle_operations" };
	sqlite3_stmt *st;
	int found[2] = { 0, 0 }, rc, i, ret = 0;

	rc = sqlite3_prepare_v2(r->db,
				"SELECT name FROM sqlite_schema WHERE type = 'table' "
				"AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_error(r, "cannot read the schema");
	while (ret == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		for (i = 0; i < 2; i++)
			if (name && !strcmp(name, want[i]))
				break;
		if (i == 2)
			ret = snap_error(r->err, SNAP_EINVAL,
					 "unexpected table '%s' (a bundle holds bundle_metadata and bundle_operations only)",
					 name ? name : "");
		else
			found[i] = 1;
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = db_error(r, "cannot read the schema");
	sqlite3_finalize(st);
	for (i = 0; ret == 0 && i < 2; i++)
		if (!found[i])
			ret = snap_error(r->err, SNAP_EINVAL, "no table '%s'", want[i]);
	return ret;
}

static int check_columns(struct reader *r, const char *table,
			 const struct column *cols, size_t nr)
{
	sqlite3_stmt *st;
	int found[16] = { 0 };
	size_t i;
	int rc, ret = 0;

	if (nr > 16)
		BUG("check_columns: too many columns");
	rc = sqlite3_prepare_v2(r->db, "SELECT name FROM pragma_table_xinfo(?1)", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_error(r, "cannot read the schema");
	sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
	while (ret == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		for (i = 0; i < nr; i++)
			if (name && !strcmp(name, cols[i].name))
				break;
		if (i == nr)
			ret = snap_error(r->err, SNAP_EINVAL,
					 "unexpected column '%s' in %s (snap keeps the published columns only)",
					 name ? name : "", table);
		else
			found[i] = 1;
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = db_error(r, "cannot read the schema");
	sqlite3_finalize(st);
	for (i = 0; ret == 0 && i < nr; i++)
		if (!found[i])
			ret = snap_error(r->err, SNAP_EINVAL, "no column '%s' in %s",
					 cols[i].name, table);
	return ret;
}

static void select_sql(struct strbuf *sql, const char *table,
		       const struct column *cols, size_t nr, const char *order)
{
	size_t i;

	strbuf_addstr(sql, "SELECT ");
	for (i = 0; i < nr; i++)
		strbuf_addf(sql, "%s\"%s\"", i ? ", " : "", cols[i].name);
	strbuf_addf(sql, " FROM \"%s\"%s", table, order);
}

static int read_metadata(struct reader *r, json_t *bundle, sqlite3_int64 *op_count,
			 unsigned char *hash)
{
	struct strbuf sql = STRBUF_INIT;
	sqlite3_stmt *st;
	size_t i;
	int rc, ret = 0, rows = 0;

	select_sql(&sql, "bundle_metadata", meta_cols, NR_META, "");
	rc = sqlite3_prepare_v2(r->db, sql.buf, -1, &st, NULL);
	strbuf_release(&sql);
	if (rc != SQLITE_OK)
		return db_error(r, "cannot read bundle_metadata");
	strbuf_reset(&r->where);
	strbuf_addstr(&r->where, "bundle_metadata");
	while (ret == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (++rows > 1)
			break;
		for (i = 0; i < NR_META && ret == 0; i++) {
			json_t *v;
			ret = column_value(r, st, (int)i, &meta_cols[i], &v);
			if (ret < 0)
				break;
			if (!strcmp(meta_cols[i].name, "op_count")) {
				*op_count = sqlite3_column_int64(st, (int)i);
				json_decref(v);
			} else if (!strcmp(meta_cols[i].name, "created_at")) {
				if (json_integer_value(v) < 0)
					ret = snap_error(r->err, SNAP_EINVAL,
							 "bundle_metadata: created_at is negative (snap takes it as the sequence)");
				json_object_set_new(bundle, "sequence", v);
			} else {
				if (!strcmp(meta_cols[i].name, "content_hash"))
					memcpy(hash, sqlite3_column_blob(st, (int)i), 32);
				json_object_set_new(bundle, meta_cols[i].name, v);
			}
		}
	}
	if (ret == 0 && rc != SQLITE_ROW && rc != SQLITE_DONE)
		ret = db_error(r, "cannot read bundle_metadata");
	sqlite3_finalize(st);
	if (ret == 0 && rows != 1)
		ret = snap_error(r->err, SNAP_EINVAL, rows ? "bundle_metadata has more than one row"
						      : "bundle_metadata has no row");
	return ret;
}

static int read_operations(struct reader *r, json_t *ops, unsigned char *hash)
{
	struct strbuf sql = STRBUF_INIT, prev = STRBUF_INIT;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	sqlite3_stmt *st;
	size_t i, row = 0;
	int rc, ret = 0;

	if (!md)
		BUG("EVP_MD_CTX_new failed");
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	select_sql(&sql, "bundle_operations", op_cols, NR_OPS, " ORDER BY \"op_id\"");
	rc = sqlite3_prepare_v2(r->db, sql.buf, -1, &st, NULL);
	strbuf_release(&sql);
	if (rc != SQLITE_OK) {
		EVP_MD_CTX_free(md);
		return db_error(r, "cannot read bundle_operations");
	}
	while (ret == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *op = json_object();
		const void *id = sqlite3_column_blob(st, 0);
		int idlen = sqlite3_column_bytes(st, 0);

		row++;
		strbuf_reset(&r->where);
		strbuf_addf(&r->where, "bundle_operations row %zu", row);
		if (sqlite3_column_type(st, 0) == SQLITE_BLOB && idlen == 16) {
			strbuf_addstr(&r->where, " (op_id ");
			add_hex(&r->where, id, 16);
			strbuf_addch(&r->where, ')');
			if (prev.len == 16 && !memcmp(prev.buf, id, 16))
				ret = snap_error(r->err, SNAP_EINVAL, "%s: duplicate op_id",
						 r->where.buf);
			strbuf_reset(&prev);
			strbuf_add(&prev, id, 16);
			EVP_DigestUpdate(md, id, 16);
		}
		for (i = 0; i < NR_OPS && ret == 0; i++) {
			json_t *v;
			ret = column_value(r, st, (int)i, &op_cols[i], &v);
			if (ret == 0)
				json_object_set_new(op, op_cols[i].name, v);
		}
		if (ret == 0)
			ret = check_op_json(op, r->where.buf, r->err);
		json_array_append_new(ops, op);
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = db_error(r, "cannot read bundle_operations");
	sqlite3_finalize(st);
	EVP_DigestFinal_ex(md, hash, NULL);
	EVP_MD_CTX_free(md);
	strbuf_release(&prev);
	return ret;
}

int sqlbundle_read(const void *buf, size_t len, json_t **out, struct strbuf *err)
{
	struct reader r = { NULL, err, STRBUF_INIT };
	unsigned char want[32], have[32];
	sqlite3_int64 op_count = -1;
	json_t *bundle = NULL, *ops;
	sqlite3_stmt *st;
	unsigned char *copy;
	int rc, ret;

	*out = NULL;
	if (len < 100 || memcmp(buf, "SQLite format 3", 16))
		return snap_error(err, SNAP_EINVAL, "not an SQLite database");
	if (sqlite3_open_v2(":memory:", &r.db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		sqlite3_close(r.db);
		return snap_error(err, SNAP_EIO, "cannot start SQLite");
	}
	/*
	 * The file is hostile until checked: no schema-defined code runs with
	 * more than innocuous functions, no value grows past a bundle's size,
	 * and damaged b-tree cells are caught as they are read.
	 */
	sqlite3_db_config(r.db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_db_config(r.db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	sqlite3_limit(r.db, SQLITE_LIMIT_LENGTH, SQLBUNDLE_VALUE_MAX);
	sqlite3_exec(r.db, "PRAGMA cell_size_check = ON", NULL, NULL, NULL);
	copy = sqlite3_malloc64(len);
	if (!copy)
		BUG("out of memory");
	memcpy(copy, buf, len);
	/* A copy of a WAL database without its -wal file reads as a rollback one. */
	if (copy[18] == 2 && copy[19] == 2)
		copy[18] = copy[19] = 1;
	rc = sqlite3_deserialize(r.db, "main", copy, (sqlite3_int64)len, (sqlite3_int64)len,
				 SQLITE_DESERIALIZE_FREEONCLOSE | SQLITE_DESERIALIZE_READONLY);
	if (rc != SQLITE_OK) {
		ret = db_error(&r, "cannot open the database");
		goto out;
	}
	rc = sqlite3_prepare_v2(r.db, "PRAGMA integrity_check", -1, &st, NULL);
	if (rc != SQLITE_OK) {
		ret = db_error(&r, "not a valid SQLite database");
		goto out;
	}
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_finalize(st);
		ret = db_error(&r, "not a valid SQLite database");
		goto out;
	}
	if (strcmp((const char *)sqlite3_column_text(st, 0), "ok")) {
		ret = snap_error(err, SNAP_EINVAL, "PRAGMA integrity_check failed: %s",
				 sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
		goto out;
	}
	sqlite3_finalize(st);

	ret = check_tables(&r);
	if (ret == 0)
		ret = check_columns(&r, "bundle_metadata", meta_cols, NR_META);
	if (ret == 0)
		ret = check_columns(&r, "bundle_operations", op_cols, NR_OPS);
	if (ret < 0)
		goto out;
	bundle = json_object();
	json_object_set_new(bundle, "format", json_string(SQLBUNDLE_FORMAT));
	ret = read_metadata(&r, bundle, &op_count, want);
	if (ret < 0)
		goto out;
	ops = json_array();
	json_object_set_new(bundle, "operations", ops);
	ret = read_operations(&r, ops, have);
	if (ret < 0)
		goto out;
	if ((sqlite3_int64)json_array_size(ops) != op_count) {
		ret = snap_error(err, SNAP_EINVAL,
				 "bundle_metadata: op_count is %lld but bundle_operations has %zu rows",
				 (long long)op_count, json_array_size(ops));
		goto out;
	}
	if (memcmp(want, have, 32)) {
		ret = snap_error(err, SNAP_EINVAL,
				 "bundle_metadata: content_hash is not the SHA-256 of the op_ids in order");
		goto out;
	}
	*out = bundle;
	bundle = NULL;
out:
	json_decref(bundle);
	sqlite3_close(r.db);
	strbuf_release(&r.where);
	return ret;
}

/* ---- the write-ahead log ---- */

/*
 * SQLite's WAL file (its documented file format, "The Write-Ahead Log"):
 * a 32-byte header (magic, version, page size, checkpoint sequence, two
 * salts, a checksum of the first 24 bytes), then frames of a 24-byte
 * header (page number, database size in pages for the frame that ends a
 * transaction, else 0, the two salts, a running checksum) and one page.
 * A frame counts when its salts are the header's and its checksum holds;
 * the first one that does not ends the log.  What a reader sees is the
 * main file with the pages of every frame up to the last commit frame.
 */
#define WAL_HEADER 32
#define WAL_FRAME_HEADER 24
#define WAL_VERSION 3007000
#define WAL_READ_TRIES 5

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The log's checksum over p[0..len), len a multiple of 8, from s[0], s[1]. */
static void wal_checksum(int big_endian, const unsigned char *p, size_t len, uint32_t *s)
{
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		uint32_t x0, x1;

		if (big_endian) {
			x0 = be32(p + i);
			x1 = be32(p + i + 4);
		} else {
			x0 = (uint32_t)p[i + 3] << 24 | (uint32_t)p[i + 2] << 16 |
			     (uint32_t)p[i + 1] << 8 | p[i];
			x1 = (uint32_t)p[i + 7] << 24 | (uint32_t)p[i + 6] << 16 |
			     (uint32_t)p[i + 5] << 8 | p[i + 4];
		}
		s[0] += x0 + s[1];
		s[1] += x1 + s[0];
	}
}

/* The database's page size from its header (1 stands for 65536), or 0. */
static uint32_t db_page_size(const struct strbuf *db)
{
	uint32_t ps;

	if (db->len < 100)
		return 0;
	ps = (uint32_t)(unsigned char)db->buf[16] << 8 | (unsigned char)db->buf[17];
	return ps == 1 ? 65536 : ps;
}

int sqlbundle_apply_wal(struct strbuf *db, const void *wal, size_t len, size_t max,
			const char *name, struct strbuf *err)
{
	const unsigned char *w = wal;
	uint32_t magic, ps, sum[2] = { 0, 0 }, pages = 0, dbps;
	size_t pos, frame, last = 0, n;
	struct strbuf out = STRBUF_INIT;
	int big;

	if (len < WAL_HEADER)
		return 0;	/* no log yet: SQLite reads the main file */
	magic = be32(w);
	if (magic != 0x377f0682 && magic != 0x377f0683)
		return 0;
	big = magic == 0x377f0683;
	ps = be32(w + 8);
	wal_checksum(big, w, 24, sum);
	if (ps < 512 || ps > 65536 || (ps & (ps - 1)) ||
	    sum[0] != be32(w + 24) || sum[1] != be32(w + 28))
		return 0;	/* a damaged header: SQLite starts the log over */
	if (be32(w + 4) != WAL_VERSION)
		return snap_error(err, SNAP_EINVAL, "'%s': write-ahead log of unknown version %u",
				  name, be32(w + 4));
	frame = WAL_FRAME_HEADER + (size_t)ps;
	/* First pass: how far the log holds, up to its last commit. */
	for (pos = WAL_HEADER; pos + frame <= len; pos += frame) {
		const unsigned char *f = w + pos;

		if (memcmp(f + 8, w + 16, 8) || !be32(f))
			break;
		wal_checksum(big, f, 8, sum);
		wal_checksum(big, f + WAL_FRAME_HEADER, ps, sum);
		if (sum[0] != be32(f + 16) || sum[1] != be32(f + 20))
			break;
		if (be32(f + 4)) {
			last = pos + frame;
			pages = be32(f + 4);
		}
	}
	if (!last)
		return 0;	/* no committed transaction in the log */
	dbps = db_page_size(db);
	if (db->len && dbps != ps)
		return snap_error(err, SNAP_EINVAL,
				  "'%s': the write-ahead log's page size %u is not the database's (%u)",
				  name, ps, dbps);
	if ((uint64_t)pages * ps > max)
		return snap_error(err, SNAP_ETOOBIG,
				  "'%s': the database with its write-ahead log is over %zu bytes",
				  name, max);
	/* Second pass: the main file's pages, then the log's in order. */
	n = (size_t)pages * ps;
	strbuf_grow(&out, n);
	strbuf_add(&out, db->buf, db->len < n ? db->len : n);
	if (out.len < n) {
		memset(out.buf + out.len, 0, n - out.len);
		strbuf_setlen(&out, n);
	}
	for (pos = WAL_HEADER; pos < last; pos += frame) {
		uint32_t pgno = be32(w + pos);

		if (pgno <= pages)
			memcpy(out.buf + (size_t)(pgno - 1) * ps, w + pos + WAL_FRAME_HEADER, ps);
	}
	strbuf_release(db);
	*db = out;
	return 1;
}

/*
 * A rollback journal "<path>-journal" that is not empty and does not
 * start with a zero byte is hot, to SQLite: the main file may hold part
 * of a transaction that was cut short, and SQLite puts the journal's
 * pages back before it reads.  snap does not write that rollback, so it
 * refuses the file rather than store what SQLite would not read.
 */
static int refuse_hot_journal(const char *path, struct strbuf *err)
{
	struct strbuf journal = STRBUF_INIT;
	unsigned char first = 0;
	ssize_t n = 0;
	int fd, ret = 0;

	strbuf_addf(&journal, "%s-journal", path);
	fd = open(journal.buf, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, &first, 1);
		close(fd);
	}
	if (fd < 0 && errno != ENOENT)
		ret = snap_error_errno(err, "cannot read '%s'", journal.buf);
	else if (n < 0)
		ret = snap_error_errno(err, "cannot read '%s'", journal.buf);
	else if (n == 1 && first)
		ret = snap_error(err, SNAP_EINVAL,
				 "'%s': the hot journal '%s' beside it holds a transaction cut short, "
				 "which SQLite rolls back when it opens the file; open it with sqlite3 first",
				 path, journal.buf);
	strbuf_release(&journal);
	return ret;
}

int sqlbundle_read_file(const char *path, size_t max, struct strbuf *out,
			struct strbuf *err)
{
	struct strbuf wal = STRBUF_INIT, again = STRBUF_INIT, walpath = STRBUF_INIT;
	const char *failed = NULL;
	int ret = 0, tries;

	strbuf_addf(&walpath, "%s-wal", path);
	for (tries = 0; !failed; tries++) {
		/*
		 * The log, the main file, the log again: a checkpoint copies
		 * the log's pages into the main file but leaves the log as it
		 * is, so a log that did not change between the two reads
		 * holds the newest version of every page the main file may
		 * have taken from it meanwhile.  A log that changed is read
		 * again.
		 */
		strbuf_reset(&wal);
		strbuf_reset(&again);
		strbuf_reset(out);
		ret = strbuf_read_file(&wal, walpath.buf, max);
		if (ret == SNAP_ENOTFOUND)
			ret = 0;
		else if (ret < 0)
			failed = walpath.buf;
		if (!failed && (ret = strbuf_read_file(out, path, max)) < 0)
			failed = path;
		if (!failed) {
			ret = strbuf_read_file(&again, walpath.buf, max);
			if (ret == SNAP_ENOTFOUND)
				ret = 0;
			else if (ret < 0)
				failed = walpath.buf;
		}
		if (!failed && wal.len == again.len && !memcmp(wal.buf, again.buf, wal.len))
			break;
		if (!failed && tries + 1 == WAL_READ_TRIES) {
			ret = snap_error(err, SNAP_EINVAL,
					 "'%s' kept changing while it was read", walpath.buf);
			goto out;
		}
	}
	if (ret == SNAP_ETOOBIG) {
		ret = snap_error(err, ret, "'%s': over %zu bytes", failed, max);
		goto out;
	}
	if (ret < 0) {
		ret = snap_error_errno(err, "cannot read '%s'", failed);
		goto out;
	}
	ret = sqlbundle_apply_wal(out, wal.buf, wal.len, max, walpath.buf, err);
	if (ret == 0 && out->len)
		ret = refuse_hot_journal(path, err);
	if (ret > 0)
		ret = 0;
out:
	strbuf_release(&wal);
	strbuf_release(&again);
	strbuf_release(&walpath);
	return ret;
}

/* ---- the native shape ---- */

static int check_value(const json_t *v, const struct column *col, struct strbuf *path,
		       struct strbuf *scratch, struct strbuf *err)
{
	const char *s;
	size_t len;

	if (json_is_null(v) && col->nullable)
		return 0;
	switch (col->kind) {
	case K_ID: case K_HASH: case K_BLOB:
		if (!json_is_string(v))
			break;
		s = json_string_value(v);
		len = json_string_length(v);
		if (hex_decode(s, len, col->kind == K_ID ? 16 : col->kind == K_HASH ? 32 : 0,
			       scratch) < 0)
			break;
		return 0;
	case K_TEXT:
		if (json_is_string(v))
			return 0;
		break;
	case K_OPTYPE:
		if (json_is_string(v) && optype_ok(json_string_value(v), json_string_length(v)))
			return 0;
		break;
	case K_INT:
		if (json_is_integer(v))
			return 0;
		break;
	case K_BOOL:
		if (json_is_integer(v) && (json_integer_value(v) == 0 || json_integer_value(v) == 1))
			return 0;
		break;
	}
	return snap_error(err, SNAP_EINVAL, "%s: not %s%s%s", path->buf,
			  col->kind <= K_BLOB ? "lowercase hex of " : "", kind_name(col->kind),
			  col->nullable ? " or null" : "");
}

/* Every member of obj is one of cols (skipping skip), each present. */
static int check_members(const json_t *obj, const char *const *names, size_t nr,
			 struct strbuf *path, struct strbuf *err)
{
	const char *key;
	json_t *val;
	size_t i, plen = path->len;

	json_object_foreach((json_t *)obj, key, val) {
		for (i = 0; i < nr; i++)
			if (!strcmp(key, names[i]))
				break;
		if (i == nr) {
			json_path_key(path, key);
			return snap_error(err, SNAP_EINVAL,
					  "%s: not a member of a native bundle", path->buf);
		}
	}
	for (i = 0; i < nr; i++)
		if (!json_object_get(obj, names[i])) {
			json_path_key(path, names[i]);
			snap_error(err, SNAP_EINVAL, "%s: missing", path->buf);
			strbuf_setlen(path, plen);
			return SNAP_EINVAL;
		}
	return 0;
}

/*
 * The i-th of "$.operations": an object with exactly names[0..nr) as
 * members.  Leaves path at "$.operations[i]", its length in *plen.
 */
static int check_operation(const json_t *op, size_t i, const char *const *names, size_t nr,
			   struct strbuf *path, size_t *plen, struct strbuf *err)
{
	strbuf_setlen(path, 1);
	strbuf_addstr(path, ".operations");
	json_path_index(path, i);
	*plen = path->len;
	if (!json_is_object(op))
		return snap_error(err, SNAP_EINVAL, "%s: not an object", path->buf);
	return check_members(op, names, nr, path, err);
}

int sqlbundle_check(const json_t *v, struct strbuf *err)
{
	static const char *const top[] = {
		"bundle_id", "content_hash", "format", "operations", "schema_version",
		"sequence", "source_device_id",
	};
	const char *op_names[NR_OPS];
	struct strbuf path = STRBUF_INIT, id = STRBUF_INIT, prev = STRBUF_INIT;
	unsigned char have[32];
	EVP_MD_CTX *md;
	const json_t *ops;
	size_t i, j;
	int ret;

	strbuf_addch(&path, '$');
	ret = check_members(v, top, sizeof(top) / sizeof(top[0]), &path, err);
	for (i = 0; ret == 0 && i < NR_META; i++) {
		const char *name = meta_cols[i].name;
		if (!strcmp(name, "op_count") || !strcmp(name, "created_at"))
			continue;
		strbuf_setlen(&path, 1);
		json_path_key(&path, name);
		ret = check_value(json_object_get(v, name), &meta_cols[i], &path, &id, err);
	}
	ops = json_object_get(v, "operations");
	if (ret < 0)
		goto out;
	for (j = 0; j < NR_OPS; j++)
		op_names[j] = op_cols[j].name;
	md = EVP_MD_CTX_new();
	if (!md)
		BUG("EVP_MD_CTX_new failed");
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	for (i = 0; ret == 0 && i < json_array_size(ops); i++) {
		const json_t *op = json_array_get(ops, i);
		size_t plen;

		ret = check_operation(op, i, op_names, NR_OPS, &path, &plen, err);
		if (ret < 0)
			break;
		for (j = 0; ret == 0 && j < NR_OPS; j++) {
			strbuf_setlen(&path, plen);
			json_path_key(&path, op_cols[j].name);
			ret = check_value(json_object_get(op, op_cols[j].name), &op_cols[j],
					  &path, &id, err);
			if (ret == 0 && j == 0) {
				if (prev.len && !memcmp(prev.buf, id.buf, 16))
					ret = snap_error(err, SNAP_EINVAL,
							 "%s: duplicate op_id (that of the operation before)",
							 path.buf);
				else if (prev.len && memcmp(prev.buf, id.buf, 16) > 0)
					ret = snap_error(err, SNAP_EINVAL,
							 "%s: operations are not in strictly increasing op_id order",
							 path.buf);
				strbuf_reset(&prev);
				strbuf_addbuf(&prev, &id);
				EVP_DigestUpdate(md, id.buf, 16);
			}
		}
		strbuf_setlen(&path, plen);
		if (ret == 0)
			ret = check_op_json(op, path.buf, err);
	}
	EVP_DigestFinal_ex(md, have, NULL);
	EVP_MD_CTX_free(md);
	if (ret == 0) {
		const json_t *h = json_object_get(v, "content_hash");
		hex_decode(json_string_value(h), json_string_length(h), 32, &id);
		if (memcmp(id.buf, have, 32))
			ret = snap_error(err, SNAP_EINVAL,
					 "$.content_hash: not the SHA-256 of the op_ids in order");
	}
out:
	strbuf_release(&path);
	strbuf_release(&id);
	strbuf_release(&prev);
	return ret;
}

/* ---- sqlite-sync-core's JSON wire form ---- */

static const char *const wire_op_names[] = {
	"created_at", "device_id", "hlc", "new_values", "old_values", "op_id", "op_type",
	"parent_op_id", "row_pk", "schema_version", "table_name", "vector_clock",
};
#define NR_WIRE_OPS (sizeof(wire_op_names) / sizeof(wire_op_names[0]))

int sqlbundle_is_wire(const json_t *v)
{
	return json_is_object(v) && json_object_get(v, "device_id") &&
	       json_object_get(v, "operations") && !json_object_get(v, "sequence") &&
	       !json_object_get(v, "format");
}

static int cmp_op_id(const void *va, const void *vb)
{
	const json_t *a = *(const json_t *const *)va, *b = *(const json_t *const *)vb;

	return strcmp(json_string_value(json_object_get(a, "op_id")),
		      json_string_value(json_object_get(b, "op_id")));
}

int sqlbundle_from_wire(const json_t *v, json_t **out, struct strbuf *err)
{
	static const char *const top[] = { "device_id", "operations" };
	static const struct column dev = { "device_id", K_ID, 0 }, id = { "op_id", K_ID, 0 };
	struct strbuf path = STRBUF_INIT, scratch = STRBUF_INIT, hex = STRBUF_INIT;
	const json_t *ops = json_object_get(v, "operations");
	json_t **sorted = NULL, *bundle = NULL, *nops;
	json_int_t seq = -1, schema = 0;
	unsigned char hash[32];
	EVP_MD_CTX *md;
	size_t i, n;
	int ret;

	*out = NULL;
	strbuf_addch(&path, '$');
	ret = check_members(v, top, 2, &path, err);
	strbuf_setlen(&path, 1);
	strbuf_addstr(&path, ".device_id");
	if (ret == 0)
		ret = check_value(json_object_get(v, "device_id"), &dev, &path, &scratch, err);
	if (ret == 0 && (!json_is_array(ops) || !json_array_size(ops)))
		ret = snap_error(err, SNAP_EINVAL, "$.operations: not an array of operations");
	n = ret == 0 ? json_array_size(ops) : 0;
	for (i = 0; ret == 0 && i < n; i++) {
		const json_t *op = json_array_get(ops, i), *c, *sv, *h;
		size_t plen;

		ret = check_operation(op, i, wire_op_names, NR_WIRE_OPS, &path, &plen, err);
		if (ret < 0)
			break;
		strbuf_setlen(&path, plen);
		json_path_key(&path, "op_id");
		if (ret == 0)
			ret = check_value(json_object_get(op, "op_id"), &id, &path, &scratch, err);
		c = json_object_get(op, "created_at");
		sv = json_object_get(op, "schema_version");
		h = json_object_get(op, "hlc");
		strbuf_setlen(&path, plen);
		if (ret == 0 && (!json_is_integer(c) || json_integer_value(c) < 0))
			ret = snap_error(err, SNAP_EINVAL, "%s.created_at: not an integer >= 0", path.buf);
		if (ret == 0 && !json_is_integer(sv))
			ret = snap_error(err, SNAP_EINVAL, "%s.schema_version: not an integer", path.buf);
		if (ret == 0 && i && json_integer_value(sv) != schema)
			ret = snap_error(err, SNAP_EINVAL,
					 "%s.schema_version: %lld, not %lld as the operations before (one bundle has one)",
					 path.buf, (long long)json_integer_value(sv), (long long)schema);
		if (ret == 0 && (!json_is_string(h) ||
				 hex_decode(json_string_value(h), json_string_length(h), 0, &scratch) < 0 ||
				 !scratch.len || memchr(scratch.buf, 0, scratch.len)))
			ret = snap_error(err, SNAP_EINVAL, "%s.hlc: not lowercase hex of the HLC text", path.buf);
		if (ret < 0)
			break;
		schema = json_integer_value(sv);
		if (json_integer_value(c) > seq)
			seq = json_integer_value(c);
	}
	if (ret < 0)
		goto out;
	/* The native shape: operations in op_id order, received (is_local 0, not applied). */
	sorted = xcalloc(n, sizeof(*sorted));
	nops = json_array();
	for (i = 0; i < n; i++)
		sorted[i] = json_array_get(ops, i);
	QSORT(sorted, n, cmp_op_id);
	md = EVP_MD_CTX_new();
	if (!md)
		BUG("EVP_MD_CTX_new failed");
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	for (i = 0; ret == 0 && i < n; i++) {
		json_t *op = json_deep_copy(sorted[i]), *text;
		const json_t *h = json_object_get(op, "hlc");

		hex_decode(json_string_value(h), json_string_length(h), 0, &scratch);
		text = json_stringn(scratch.buf, scratch.len);
		if (!text) {
			strbuf_reset(&path);
			strbuf_addstr(&path, "$.operations");
			for (size_t k = 0; k < n; k++)
				if (json_array_get(ops, k) == sorted[i])
					json_path_index(&path, k);
			ret = snap_error(err, SNAP_EINVAL, "%s.hlc: not UTF-8 text", path.buf);
			json_decref(op);
			break;
		}
		json_object_set_new(op, "hlc", text);
		json_object_set_new(op, "is_local", json_integer(0));
		json_object_set_new(op, "applied_at", json_null());
		json_array_append_new(nops, op);
		hex_decode(json_string_value(json_object_get(op, "op_id")), 32, 16, &scratch);
		EVP_DigestUpdate(md, scratch.buf, 16);
	}
	EVP_DigestFinal_ex(md, hash, NULL);
	EVP_MD_CTX_free(md);
	if (ret < 0) {
		json_decref(nops);
		goto out;
	}
	add_hex(&hex, hash, 32);
	bundle = json_object();
	/* No bundle id on the wire: the content hash's first 16 bytes stand in. */
	json_object_set_new(bundle, "bundle_id", json_stringn(hex.buf, 32));
	json_object_set_new(bundle, "content_hash", json_stringn(hex.buf, 64));
	json_object_set_new(bundle, "format", json_string(SQLBUNDLE_FORMAT));
	json_object_set_new(bundle, "operations", nops);
	json_object_set_new(bundle, "schema_version", json_integer(schema));
	json_object_set_new(bundle, "sequence", json_integer(seq));
	json_object_set(bundle, "source_device_id", json_object_get(v, "device_id"));
	*out = bundle;
out:
	free(sorted);
	strbuf_release(&path);
	strbuf_release(&scratch);
	strbuf_release(&hex);
	return ret;
}

/* ---- writing a database ---- */

static int bind_value(sqlite3_stmt *st, int i, const json_t *v, const struct column *col,
		      struct strbuf *scratch)
{
	if (json_is_null(v))
		return sqlite3_bind_null(st, i);
	switch (col->kind) {
	case K_ID: case K_HASH: case K_BLOB:
		hex_decode(json_string_value(v), json_string_length(v), 0, scratch);
		return sqlite3_bind_blob(st, i, scratch->buf, (int)scratch->len, SQLITE_TRANSIENT);
	case K_TEXT: case K_OPTYPE:
		return sqlite3_bind_text(st, i, json_string_value(v), (int)json_string_length(v),
					 SQLITE_TRANSIENT);
	case K_INT: case K_BOOL:
		return sqlite3_bind_int64(st, i, json_integer_value(v));
	}
	return SQLITE_MISUSE;
}

static void insert_sql(struct strbuf *sql, const char *table, const struct column *cols,
		       size_t nr)
{
	size_t i;

	strbuf_addf(sql, "INSERT INTO \"%s\" (", table);
	for (i = 0; i < nr; i++)
		strbuf_addf(sql, "%s\"%s\"", i ? ", " : "", cols[i].name);
	strbuf_addstr(sql, ") VALUES (");
	for (i = 0; i < nr; i++)
		strbuf_addf(sql, "%s?%zu", i ? ", " : "", i + 1);
	strbuf_addch(sql, ')');
}

static int fill_db(sqlite3 *db, const json_t *v)
{
	struct strbuf sql = STRBUF_INIT, scratch = STRBUF_INIT;
	const json_t *ops = json_object_get(v, "operations");
	sqlite3_stmt *st = NULL;
	size_t i, j;
	int rc;

	rc = sqlite3_exec(db, "PRAGMA journal_mode = DELETE; BEGIN", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, schema_sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		goto out;
	insert_sql(&sql, "bundle_metadata", meta_cols, NR_META);
	rc = sqlite3_prepare_v2(db, sql.buf, -1, &st, NULL);
	for (i = 0; rc == SQLITE_OK && i < NR_META; i++) {
		const char *name = meta_cols[i].name;
		if (!strcmp(name, "op_count"))
			rc = sqlite3_bind_int64(st, (int)i + 1, (sqlite3_int64)json_array_size(ops));
		else
			rc = bind_value(st, (int)i + 1,
					json_object_get(v, strcmp(name, "created_at") ? name : "sequence"),
					&meta_cols[i], &scratch);
	}
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
	sqlite3_finalize(st);
	st = NULL;
	strbuf_reset(&sql);
	insert_sql(&sql, "bundle_operations", op_cols, NR_OPS);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db, sql.buf, -1, &st, NULL);
	for (i = 0; rc == SQLITE_OK && i < json_array_size(ops); i++) {
		const json_t *op = json_array_get(ops, i);
		for (j = 0; rc == SQLITE_OK && j < NR_OPS; j++)
			rc = bind_value(st, (int)j + 1, json_object_get(op, op_cols[j].name),
					&op_cols[j], &scratch);
		if (rc == SQLITE_OK)
			rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
		sqlite3_reset(st);
	}
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
out:
	sqlite3_finalize(st);
	strbuf_release(&sql);
	strbuf_release(&scratch);
	return rc;
}

int sqlbundle_write(const json_t *v, const char *path, struct strbuf *err)
{
	struct strbuf tmp = STRBUF_INIT, dir = STRBUF_INIT;
	const char *slash = strrchr(path, '/');
	sqlite3 *db = NULL;
	int fd, rc, ret = 0;

	if (slash)
		strbuf_add(&dir, path, (size_t)(slash - path));
	else
		strbuf_addch(&dir, '.');
	fd = fsio_mktemp(dir.buf, ".snap-bundle-", &tmp);
	if (fd < 0) {
		ret = snap_error_errno(err, "cannot create a temporary file in '%s'", dir.buf);
		goto out;
	}
	if (fchmod(fd, 0644) < 0 || fsio_close(fd) < 0) {
		ret = snap_error_errno(err, "cannot prepare '%s'", tmp.buf);
		goto fail;
	}
	rc = sqlite3_open_v2(tmp.buf, &db, SQLITE_OPEN_READWRITE, NULL);
	if (rc == SQLITE_OK)
		rc = fill_db(db, v);
	if (rc != SQLITE_OK) {
		ret = snap_error(err, SNAP_EIO, "cannot write '%s': %s", path,
				 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		sqlite3_close(db);
		goto fail;
	}
	if (sqlite3_close(db) != SQLITE_OK) {
		ret = snap_error(err, SNAP_EIO, "cannot close '%s'", tmp.buf);
		goto fail;
	}
	fd = fsio_open(tmp.buf, O_RDONLY, 0);
	if (fd < 0 || fsio_fsync(fd) < 0) {
		ret = snap_error_errno(err, "cannot sync '%s'", tmp.buf);
		if (fd >= 0)
			close(fd);
		goto fail;
	}
	close(fd);
	if (fsio_link(tmp.buf, path) < 0) {
		ret = errno == EEXIST ? snap_error(err, SNAP_EEXISTS, "'%s' exists already", path)
				      : snap_error_errno(err, "cannot create '%s'", path);
		goto fail;
	}
	unlink(tmp.buf);
	if (fsio_fsync_dir(dir.buf) < 0)
		ret = snap_error_errno(err, "cannot sync '%s'", dir.buf);
	goto out;
fail:
	unlink(tmp.buf);
out:
	strbuf_release(&tmp);
	strbuf_release(&dir);
	return ret;
}
