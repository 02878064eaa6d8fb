/*
 * Writing a native bundle's database back from its stored value, in the
 * schema sqlite-sync-core publishes (sqlbundle.h; docs/FORMAT.md,
 * "Native bundles").
 */
#include "sqlbundle.h"
#include "sqlbundle-internal.h"

#include "error.h"
#include "fsio.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int bind_value(sqlite3_stmt *st, int i, const json_t *v, const struct column *col,
		      struct strbuf *scratch)
{
	if (json_is_null(v))
		return sqlite3_bind_null(st, i);
	switch (col->kind) {
	case K_ID: case K_HASH: case K_BLOB:
		sqlbundle_hex_decode(json_string_value(v), json_string_length(v), 0, scratch);
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
