/*
 * Reading bundle inputs: JSON, JSON Lines and .bundle.db images, each
 * bundle checked by bundle_from_json() (bundle.h; docs/FORMAT.md,
 * "Bundles").  Storing and ordering them is lib/bundle.c.
 */
#include "bundle.h"
#include "error.h"
#include "json.h"
#include "sqlbundle.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

/* Turns byte offsets into lines and columns, moving forward only. */
struct cursor {
	const char *buf;
	size_t pos, line, line_start;
};

static void cursor_to(struct cursor *c, size_t off)
{
	for (; c->pos < off; c->pos++)
		if (c->buf[c->pos] == '\n') {
			c->line++;
			c->line_start = c->pos + 1;
		}
}

struct reading {
	const char *name;
	const char *buf;
	size_t len;
	struct bundle_list *list;
	struct strbuf *err;
	struct strbuf msg;
};

static size_t skip_ws(const char *buf, size_t len, size_t pos)
{
	while (pos < len && (buf[pos] == ' ' || buf[pos] == '\t' || buf[pos] == '\r' ||
			     buf[pos] == '\n'))
		pos++;
	return pos;
}

static int append(struct reading *r, struct bundle *b, size_t index, size_t line)
{
	b->file = r->name;
	b->index = index;
	b->line = line;
	b->order = r->list->nr;
	ALLOC_GROW(r->list->v, r->list->nr + 1, r->list->alloc);
	r->list->v[r->list->nr++] = *b;
	return 0;
}

/*
 * A NUL byte anywhere in JSON text, between values or in one, is named
 * by its offset: jansson would read it as the end of the input.  It is
 * looked for where a value is parsed and where white space ends, so that
 * a bundle too large is refused as that first.
 */
static int refuse_nul(struct reading *r, size_t off)
{
	struct cursor c = { r->buf, 0, 1, 0 };

	cursor_to(&c, off);
	return snap_error(r->err, SNAP_EINVAL, "%s: offset %zu (line %zu, column %zu): %s",
			  r->name, off, c.line, off - c.line_start + 1, JSON_NUL_MESSAGE);
}

/*
 * Parses the bundle at buf[start..limit) (its value may end before
 * limit), the index-th of the file; sets *next just past it.
 */
static int parse_one(struct reading *r, struct cursor *c, size_t start, size_t limit,
		     size_t index, size_t *next)
{
	struct bundle b = { 0 };
	size_t end, pos, line;
	const char *nul;
	json_t *v;
	int ret;

	cursor_to(c, start);
	line = c->line;
	ret = json_scan_value(r->buf + start, limit - start, BUNDLE_MAX_SIZE, &end);
	if (ret < 0) {
		if (end >= BUNDLE_MAX_SIZE)
			return snap_error(r->err, SNAP_ETOOBIG, "%s: bundle %zu (line %zu): larger than %u MiB",
					  r->name, index, line, BUNDLE_MAX_SIZE >> 20);
		cursor_to(c, start + end);
		return snap_error(r->err, SNAP_EINVAL,
				  "%s: bundle %zu (line %zu, column %zu): nested deeper than %d levels",
				  r->name, index, c->line, start + end - c->line_start + 1,
				  JSON_DEPTH_MAX);
	}
	*next = start + end;
	nul = memchr(r->buf + start, 0, end ? end : limit > start);
	if (nul)
		return refuse_nul(r, (size_t)(nul - r->buf));
	strbuf_reset(&r->msg);
	if (json_parse(r->buf + start, end, &v, &pos, &r->msg) < 0) {
		cursor_to(c, start + pos);
		return snap_error(r->err, SNAP_EINVAL, "%s: bundle %zu (line %zu, column %zu): %s",
				  r->name, index, c->line, start + pos - c->line_start + 1,
				  r->msg.buf);
	}
	ret = bundle_from_json(v, &b, &r->msg);
	json_decref(v);
	if (ret < 0)
		return snap_error(r->err, ret, "%s: bundle %zu (line %zu): %s", r->name, index,
				  line, r->msg.buf);
	return append(r, &b, index, line);
}

/* A JSON array of bundles, or one bundle object. */
static int read_json(struct reading *r)
{
	struct cursor c = { r->buf, 0, 1, 0 };
	size_t pos = skip_ws(r->buf, r->len, 0), index = 0;
	int ret;

	if (pos == r->len)
		return 0;
	if (r->buf[pos] != '[') {
		ret = parse_one(r, &c, pos, r->len, 1, &pos);
		goto tail;
	}
	pos = skip_ws(r->buf, r->len, pos + 1);
	if (pos < r->len && r->buf[pos] == ']') {
		pos++;
		ret = 0;
		goto tail;
	}
	for (;;) {
		ret = parse_one(r, &c, pos, r->len, ++index, &pos);
		if (ret < 0)
			return ret;
		pos = skip_ws(r->buf, r->len, pos);
		if (pos < r->len && r->buf[pos] == ']') {
			pos++;
			break;
		}
		if (pos < r->len && r->buf[pos] == ',') {
			pos = skip_ws(r->buf, r->len, pos + 1);
			if (pos < r->len && r->buf[pos] != ']')
				continue;
		}
		if (pos < r->len && !r->buf[pos])
			return refuse_nul(r, pos);
		cursor_to(&c, pos);
		if (pos == r->len)
			return snap_error(r->err, SNAP_EINVAL,
					  "%s: line %zu: the array ends without ']' after bundle %zu",
					  r->name, c.line, index);
		return snap_error(r->err, SNAP_EINVAL,
				  "%s: line %zu, column %zu: expected ',' and a bundle, or ']', after bundle %zu",
				  r->name, c.line, pos - c.line_start + 1, index);
	}
tail:
	if (ret < 0)
		return ret;
	pos = skip_ws(r->buf, r->len, pos);
	if (pos != r->len && !r->buf[pos])
		return refuse_nul(r, pos);
	if (pos != r->len) {
		cursor_to(&c, pos);
		return snap_error(r->err, SNAP_EINVAL, "%s: line %zu, column %zu: text after the JSON value",
				  r->name, c.line, pos - c.line_start + 1);
	}
	return 0;
}

/* JSON Lines: one bundle a line, blank lines skipped. */
static int read_jsonl(struct reading *r)
{
	struct cursor c = { r->buf, 0, 1, 0 };
	size_t pos = 0, index = 0;

	while (pos < r->len) {
		const char *nl = memchr(r->buf + pos, '\n', r->len - pos);
		size_t end = nl ? (size_t)(nl - r->buf) : r->len;
		size_t first = skip_ws(r->buf, end, pos), next;
		int ret;

		if (first < end) {
			index++;
			if (end - first > BUNDLE_MAX_SIZE) {
				cursor_to(&c, first);
				return snap_error(r->err, SNAP_ETOOBIG,
						  "%s: bundle %zu (line %zu): larger than %u MiB",
						  r->name, index, c.line, BUNDLE_MAX_SIZE >> 20);
			}
			ret = parse_one(r, &c, first, end, index, &next);
			if (ret < 0)
				return ret;
			next = skip_ws(r->buf, end, next);
			if (next != end && !r->buf[next])
				return refuse_nul(r, next);
			if (next != end) {
				cursor_to(&c, next);
				return snap_error(r->err, SNAP_EINVAL,
						  "%s: bundle %zu (line %zu, column %zu): text after the bundle (one bundle a line)",
						  r->name, index, c.line, next - c.line_start + 1);
			}
		}
		pos = end + 1;
	}
	return 0;
}

static int read_sqlite(struct reading *r)
{
	struct bundle b = { 0 };
	json_t *v;
	int ret;

	if (r->len > BUNDLE_MAX_SIZE)
		return snap_error(r->err, SNAP_ETOOBIG, "%s: larger than %u MiB",
				  r->name, BUNDLE_MAX_SIZE >> 20);
	strbuf_reset(&r->msg);
	ret = sqlbundle_read(r->buf, r->len, &v, &r->msg);
	if (ret == 0) {
		ret = bundle_from_json(v, &b, &r->msg);
		json_decref(v);
	}
	if (ret < 0)
		return snap_error(r->err, ret, "%s: %s", r->name, r->msg.buf);
	return append(r, &b, 1, 0);
}

/* Whether the value at buf[start] ends before the line does (JSON Lines). */
static int first_on_one_line(const char *buf, size_t len, size_t start)
{
	const char *nl = memchr(buf + start, '\n', len - start);
	size_t end;

	if (json_scan_value(buf + start, len - start, BUNDLE_MAX_SIZE, &end) < 0)
		return 1;	/* let the line reader say what is wrong */
	return !nl || start + end <= (size_t)(nl - buf);
}

int bundle_read(const char *name, const char *buf, size_t len,
		enum bundle_format fmt, struct bundle_list *list,
		struct strbuf *err)
{
	struct reading r = { name, buf, len, list, err, STRBUF_INIT };
	size_t start = list->nr, first;
	int ret;

	if (list->bytes + len > BUNDLE_INPUT_MAX)
		return snap_error(err, SNAP_ETOOBIG,
				  "%s: the input of one import is limited to %llu MiB",
				  name, BUNDLE_INPUT_MAX >> 20);
	list->bytes += len;
	if (fmt == BUNDLE_AUTO) {
		first = skip_ws(buf, len, 0);
		if (len >= 16 && !memcmp(buf, "SQLite format 3", 16))
			fmt = BUNDLE_SQLITE;
		else if (first < len && buf[first] == '{' && first_on_one_line(buf, len, first))
			fmt = BUNDLE_JSONL;
		else
			fmt = BUNDLE_JSON;
	}
	if (fmt == BUNDLE_SQLITE)
		ret = read_sqlite(&r);
	else if (fmt == BUNDLE_JSONL)
		ret = read_jsonl(&r);
	else
		ret = read_json(&r);
	if (ret < 0)
		while (list->nr > start) {
			free(list->v[--list->nr].payload);
			bundle_clock_release(&list->v[list->nr].clock);
		}
	strbuf_release(&r.msg);
	return ret;
}
