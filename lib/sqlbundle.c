/*
 * Native sqlite-sync-core bundles: sqlite-sync-core's import rules for an
 * operation, the native shape's check and the JSON wire form
 * (sqlbundle.h; docs/FORMAT.md, "Native bundles").  Reading a database
 * is lib/sqlread.c, writing one lib/sqlwrite.c.
 */
#include "sqlbundle.h"
#include "sqlbundle-internal.h"

#include "error.h"
#include "json.h"
#include "msgpack.h"
#include "util.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

const char *sqlbundle_kind_name(enum kind k)
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

int sqlbundle_optype_ok(const char *s, size_t len)
{
	return (len == 6 && (!memcmp(s, "INSERT", 6) || !memcmp(s, "UPDATE", 6) ||
			     !memcmp(s, "DELETE", 6)));
}

void sqlbundle_add_hex(struct strbuf *sb, const unsigned char *p, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		strbuf_addch(sb, hex[p[i] >> 4]);
		strbuf_addch(sb, hex[p[i] & 15]);
	}
}

int sqlbundle_hex_decode(const char *s, size_t len, size_t want, struct strbuf *out)
{
	size_t i;

	if (len % 2 || (want && len != 2 * want))
		return -1;
	strbuf_reset(out);
	for (i = 0; i < len; i += 2) {
		int hi = hex_digit(s[i]), lo = hex_digit(s[i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		strbuf_addch(out, hi << 4 | lo);
	}
	return 0;
}

/* ---- what sqlite-sync-core's import needs of an operation ---- */

/* One operation's fields the import rules look at, blobs as bytes. */
struct op_fields {
	const char *op_type, *table_name, *vector_clock, *hlc;
	size_t table_name_len, vector_clock_len, hlc_len;
	const struct strbuf *row_pk, *old_values, *new_values;	/* NULL for null */
};

static int is_hex32(const char *s)
{
	size_t i;

	for (i = 0; i < 32; i++)
		if (hex_digit(s[i]) < 0)
			return 0;
	return !s[32];
}

/*
 * vector_clock: a JSON object of device ids (32 lowercase hex digits,
 * as sqlite-sync-core writes them) to counters (integers from 0 to
 * 2^53 - 1, as every integer of the format).
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
			if (json_integer_value(val) > JSON_INT_EXACT_MAX) {
				ret = snap_error(err, SNAP_EINVAL,
						 "%s: vector_clock: the counter of %s is larger than 2^53 - 1",
						 where, msg.buf);
				break;
			}
		}
	json_decref(v);
	strbuf_release(&msg);
	return ret;
}

/*
 * A name sqlite-sync-core can splice into SQL as it is:
 * [A-Za-z_][A-Za-z0-9_]*, every one of its len bytes (a NUL is not one).
 */
static int plain_identifier(const char *s, size_t len)
{
	size_t i;

	if (!len || len > SQLBUNDLE_NAME_MAX || (*s >= '0' && *s <= '9'))
		return 0;
	for (i = 0; i < len; i++)
		if (!(s[i] == '_' || (s[i] >= '0' && s[i] <= '9') ||
		      ((s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'z')))
			return 0;
	return 1;
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
	/* sqlite-sync-core's HLC text is "wall:counter:node", never empty. */
	if (ret == 0 && !f->hlc_len)
		ret = snap_error(err, SNAP_EINVAL, "%s: hlc: empty", where);
	if (ret == 0 && memchr(f->hlc, 0, f->hlc_len))
		ret = snap_error(err, SNAP_EINVAL, "%s: hlc: holds a NUL byte", where);
	if (ret == 0 && !plain_identifier(f->table_name, f->table_name_len)) {
		struct strbuf q = STRBUF_INIT;
		json_add_string(&q, f->table_name, f->table_name_len);
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

int sqlbundle_check_op_json(const json_t *op, const char *where, struct strbuf *err)
{
	static const char *const blobs[3] = { "row_pk", "old_values", "new_values" };
	struct strbuf b[3] = { STRBUF_INIT, STRBUF_INIT, STRBUF_INIT };
	const struct strbuf *p[3];
	const json_t *vc = json_object_get(op, "vector_clock");
	const json_t *tn = json_object_get(op, "table_name"), *hlc = json_object_get(op, "hlc");
	struct op_fields f;
	int i, ret;

	for (i = 0; i < 3; i++) {
		const json_t *v = json_object_get(op, blobs[i]);
		p[i] = NULL;
		if (json_is_string(v) &&
		    sqlbundle_hex_decode(json_string_value(v), json_string_length(v), 0, &b[i]) == 0)
			p[i] = &b[i];
	}
	f.op_type = json_string_value(json_object_get(op, "op_type"));
	f.table_name = json_string_value(tn);
	f.table_name_len = json_string_length(tn);
	f.hlc = json_string_value(hlc);
	f.hlc_len = json_string_length(hlc);
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
		if (sqlbundle_hex_decode(s, len, col->kind == K_ID ? 16 : col->kind == K_HASH ? 32 : 0,
			       scratch) < 0)
			break;
		return 0;
	case K_TEXT:
		if (json_is_string(v))
			return 0;
		break;
	case K_OPTYPE:
		if (json_is_string(v) && sqlbundle_optype_ok(json_string_value(v), json_string_length(v)))
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
			  col->kind <= K_BLOB ? "lowercase hex of " : "", sqlbundle_kind_name(col->kind),
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
			ret = sqlbundle_check_op_json(op, path.buf, err);
	}
	EVP_DigestFinal_ex(md, have, NULL);
	EVP_MD_CTX_free(md);
	if (ret == 0) {
		const json_t *h = json_object_get(v, "content_hash");
		sqlbundle_hex_decode(json_string_value(h), json_string_length(h), 32, &id);
		if (memcmp(id.buf, have, 32))
			ret = snap_error(err, SNAP_EINVAL,
					 "$.content_hash: not the SHA-256 of the op_ids in order");
	}
	if (ret == 0 && !json_array_size(ops))
		ret = snap_error(err, SNAP_EINVAL, "$.operations: empty (%s)", NO_OPS_WHY);
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
	if (ret == 0 && !json_is_array(ops))
		ret = snap_error(err, SNAP_EINVAL, "$.operations: not an array of operations");
	else if (ret == 0 && !json_array_size(ops))
		ret = snap_error(err, SNAP_EINVAL, "$.operations: empty (%s)", NO_OPS_WHY);
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
		/* The largest is the sequence: named here, not as $.sequence. */
		if (ret == 0 && json_integer_value(c) > JSON_INT_EXACT_MAX)
			ret = snap_error(err, SNAP_EINVAL, "%s.created_at: larger than 2^53 - 1", path.buf);
		if (ret == 0 && !json_is_integer(sv))
			ret = snap_error(err, SNAP_EINVAL, "%s.schema_version: not an integer", path.buf);
		if (ret == 0 && i && json_integer_value(sv) != schema)
			ret = snap_error(err, SNAP_EINVAL,
					 "%s.schema_version: %lld, not %lld as the operations before (one bundle has one)",
					 path.buf, (long long)json_integer_value(sv), (long long)schema);
		/* An empty text or a NUL in it: the native rules say so, as for a .bundle.db. */
		if (ret == 0 && (!json_is_string(h) ||
				 sqlbundle_hex_decode(json_string_value(h), json_string_length(h), 0, &scratch) < 0))
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

		sqlbundle_hex_decode(json_string_value(h), json_string_length(h), 0, &scratch);
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
		sqlbundle_hex_decode(json_string_value(json_object_get(op, "op_id")), 32, 16, &scratch);
		EVP_DigestUpdate(md, scratch.buf, 16);
	}
	EVP_DigestFinal_ex(md, hash, NULL);
	EVP_MD_CTX_free(md);
	if (ret < 0) {
		json_decref(nops);
		goto out;
	}
	sqlbundle_add_hex(&hex, hash, 32);
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

int sqlbundle_to_wire(const json_t *v, json_t **out, struct strbuf *err)
{
	static const char hexdig[] = "0123456789abcdef";
	const json_t *dev = json_object_get(v, "source_device_id");
	const json_t *ops = json_object_get(v, "operations");
	json_t *wire, *wops;
	size_t i;

	*out = NULL;
	if (!json_is_string(dev))
		return snap_error(err, SNAP_EINVAL, "$.source_device_id: not a device id");
	if (!json_is_array(ops))
		return snap_error(err, SNAP_EINVAL, "$.operations: not an array of operations");
	wops = json_array();
	for (i = 0; i < json_array_size(ops); i++) {
		const json_t *h = json_object_get(json_array_get(ops, i), "hlc");
		struct strbuf hex = STRBUF_INIT;
		json_t *op;
		size_t k;

		if (!json_is_object(json_array_get(ops, i)) || !json_is_string(h)) {
			json_decref(wops);
			return snap_error(err, SNAP_EINVAL, "$.operations[%zu].hlc: not text", i);
		}
		op = json_deep_copy(json_array_get(ops, i));
		json_object_del(op, "is_local");
		json_object_del(op, "applied_at");
		for (k = 0; k < json_string_length(h); k++) {
			unsigned char c = (unsigned char)json_string_value(h)[k];
			strbuf_addch(&hex, hexdig[c >> 4]);
			strbuf_addch(&hex, hexdig[c & 15]);
		}
		json_object_set_new(op, "hlc", json_stringn(hex.buf, hex.len));
		strbuf_release(&hex);
		json_array_append_new(wops, op);
	}
	wire = json_object();
	json_object_set(wire, "device_id", (json_t *)dev);
	json_object_set_new(wire, "operations", wops);
	*out = wire;
	return 0;
}
