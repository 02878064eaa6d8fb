/*
 * Reading a native bundle's database: read-only, with sqlite-sync-core's
 * checks, into the native shape; and SQLite's write-ahead log applied as
 * SQLite reads it (sqlbundle.h; docs/FORMAT.md, "Native bundles").
 */
#include "sqlbundle.h"
#include "sqlbundle-internal.h"

#include "error.h"
#include "fsio.h"
#include "json.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
		sqlbundle_add_hex(&hex, blob ? blob : (const unsigned char *)"", (size_t)n);
		*out = json_stringn(hex.buf, hex.len);
		strbuf_release(&hex);
		return 0;
	case K_TEXT: case K_OPTYPE:
		if (type != SQLITE_TEXT)
			break;
		n = sqlite3_column_bytes(st, i);
		blob = sqlite3_column_text(st, i);
		if (col->kind == K_OPTYPE && !sqlbundle_optype_ok((const char *)blob, (size_t)n))
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
			  col->name, sqlbundle_kind_name(col->kind), col->nullable ? " or NULL" : "");
}

static int check_tables(struct reader *r)
{
	static const char *const want[2] = { "bundle_metadata", "bundle_operations" };
	sqlite3_stmt *st;
	int found[2] = { 0, 0 }, rc, i, ret = 0;

	/*
	 * Views and triggers are refused too: a bundle holds the two tables
	 * and nothing else that a reader could run or snap would lose.  An
	 * index holds no data of its own (integrity_check holds it to the
	 * table) and is left behind.
	 */
	rc = sqlite3_prepare_v2(r->db,
				"SELECT name, type FROM sqlite_schema WHERE type IN ('table', 'view', 'trigger') "
				"AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY type = 'table', name",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_error(r, "cannot read the schema");
	while (ret == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		const char *type = (const char *)sqlite3_column_text(st, 1);
		int table = type && !strcmp(type, "table");

		for (i = 0; table && i < 2; i++)
			if (name && !strcmp(name, want[i]))
				break;
		if (!table)
			ret = snap_error(r->err, SNAP_EINVAL,
					 "unexpected %s '%s' (a bundle holds the tables bundle_metadata and bundle_operations only)",
					 type ? type : "?", name ? name : "");
		else if (i == 2)
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
			sqlbundle_add_hex(&r->where, id, 16);
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
			ret = sqlbundle_check_op_json(op, r->where.buf, r->err);
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
	if (!json_array_size(ops)) {
		ret = snap_error(err, SNAP_EINVAL, "bundle_operations has no row (%s)", NO_OPS_WHY);
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
	struct stat st;
	ssize_t n = 0;
	int fd, ret = 0, regular = 1;

	strbuf_addf(&journal, "%s-journal", path);
	/* Without waiting: a FIFO of that name would block a plain open. */
	fd = open(journal.buf, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd >= 0) {
		regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
		if (regular)
			n = read(fd, &first, 1);
		close(fd);
	}
	if (fd < 0 && errno != ENOENT)
		ret = snap_error_errno(err, "cannot read '%s'", journal.buf);
	else if (!regular)
		ret = snap_error(err, SNAP_EINVAL, "'%s': not a regular file", journal.buf);
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
		ret = strbuf_read_regular(&wal, walpath.buf, max);
		if (ret == SNAP_ENOTFOUND)
			ret = 0;
		else if (ret < 0)
			failed = walpath.buf;
		if (!failed && (ret = strbuf_read_regular(out, path, max)) < 0)
			failed = path;
		if (!failed) {
			ret = strbuf_read_regular(&again, walpath.buf, max);
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
	if (ret == SNAP_EINVAL) {
		ret = snap_error(err, ret, "'%s': not a regular file", failed);
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
