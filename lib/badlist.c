/*
 * The bad-object list (badlist.h; docs/FORMAT.md, "Bad-object list").
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "badlist.h"
#include "error.h"
#include "fsio.h"
#include "odb.h"
#include "store.h"
#include "strbuf.h"
#include "util.h"
#include "storefs.h"

/* Calls fn for each well-formed line of the list's text. */
static void each_id(const struct strbuf *text,
		    void (*fn)(const struct snap_oid *oid, void *data), void *data)
{
	const char *p = text->buf, *end = text->buf + text->len;
	struct snap_oid oid;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		if (!nl)
			break;	/* a line cut short: never written whole */
		if (nl - p == SNAP_OID_HEXSZ && !oid_from_hexn(&oid, p, SNAP_OID_HEXSZ))
			fn(&oid, data);
		p = nl + 1;
	}
}

static void read_list(struct snap_store *store, struct strbuf *text)
{
	struct strbuf path = STRBUF_INIT;

	struct stat st;
	int fd;

	store_path(store, &path, "bad-objects");
	/* Never blocks on a fifo, nor follows a link out of the store. */
	fd = storefs_open(path.buf, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC, 0);
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		if (strbuf_read_fd(text, fd, BADLIST_MAX) < 0)
			strbuf_reset(text);
	}
	if (fd >= 0)
		close(fd);
	strbuf_release(&path);
}

struct collect {
	struct oidset *set;
	size_t added;
	struct snap_oid *ids;
	size_t nr, alloc;
};

static void add_to_set(const struct snap_oid *oid, void *data)
{
	struct collect *c = data;

	if (oidset_insert(c->set, oid))
		c->added++;
}

size_t badlist_read(struct snap_store *store, struct oidset *set)
{
	struct strbuf text = STRBUF_INIT;
	struct collect c = { set, 0, NULL, 0, 0 };

	read_list(store, &text);
	each_id(&text, add_to_set, &c);
	strbuf_release(&text);
	return c.added;
}

/* Replaces the list with ids (the file removed when there are none). */
static int write_list(struct snap_store *store, const struct snap_oid *ids, size_t n,
		      struct strbuf *err)
{
	struct strbuf path = STRBUF_INIT, dir = STRBUF_INIT, text = STRBUF_INIT;
	char hex[SNAP_OID_HEXSZ + 1];
	size_t i;
	int ret = 0;

	store_path(store, &path, "bad-objects");
	if (n == 0) {
		if (fsio_unlink(path.buf) < 0 && errno != ENOENT)
			ret = snap_error_errno(err, "cannot remove '%s'", path.buf);
		goto out;
	}
	for (i = 0; i < n && text.len + sizeof(hex) <= BADLIST_MAX; i++) {
		strbuf_addstr(&text, oid_to_hex_r(hex, &ids[i]));
		strbuf_addch(&text, '\n');
	}
	store_path(store, &dir, "objects/tmp");
	if (fsio_replace_file(dir.buf, path.buf, text.buf, text.len, 0444) < 0)
		ret = snap_error_errno(err, "cannot replace '%s'", path.buf);
out:
	strbuf_release(&path);
	strbuf_release(&dir);
	strbuf_release(&text);
	return ret;
}

static void add_to_list(const struct snap_oid *oid, void *data)
{
	struct collect *c = data;

	if (!oidset_insert(c->set, oid))
		return;
	ALLOC_GROW(c->ids, c->nr + 1, c->alloc);
	c->ids[c->nr++] = *oid;
}

int badlist_add(struct snap_store *store, const struct snap_oid *ids, size_t n,
		struct strbuf *err)
{
	struct strbuf text = STRBUF_INIT;
	struct oidset seen = OIDSET_INIT;
	struct collect c = { &seen, 0, NULL, 0, 0 };
	size_t i, before;
	int ret = 0;

	read_list(store, &text);
	each_id(&text, add_to_list, &c);
	before = c.nr;
	for (i = 0; i < n; i++)
		add_to_list(&ids[i], &c);
	if (c.nr > before)
		ret = write_list(store, c.ids, c.nr, err);
	strbuf_release(&text);
	oidset_clear(&seen);
	free(c.ids);
	return ret;
}

/* 1 if some copy of oid reads whole, or there is none; 0 if all are bad. */
static int reads_or_gone(struct odb *odb, const struct snap_oid *oid)
{
	struct odb_stream *st;
	char buf[65536];
	size_t got;
	int ret;

	ret = odb_stream_open(odb, oid, &st, NULL, NULL, NULL);
	if (ret == 0) {
		do
			ret = odb_stream_read(st, buf, sizeof(buf), &got, NULL);
		while (ret == 0 && got);
		odb_stream_close(st);
	}
	return ret == 0 || ret == SNAP_ENOTFOUND;
}

int badlist_tidy(struct snap_store *store, struct odb *odb, size_t *dropped,
		 struct strbuf *err)
{
	struct strbuf text = STRBUF_INIT;
	struct oidset seen = OIDSET_INIT;
	struct collect c = { &seen, 0, NULL, 0, 0 };
	size_t i, kept = 0;
	int ret = 0;

	read_list(store, &text);
	each_id(&text, add_to_list, &c);
	for (i = 0; i < c.nr; i++)
		if (!reads_or_gone(odb, &c.ids[i]))
			c.ids[kept++] = c.ids[i];
	if (text.len && (kept < c.nr || c.nr == 0))
		ret = write_list(store, c.ids, kept, err);
	if (dropped)
		*dropped = c.nr - kept;
	strbuf_release(&text);
	oidset_clear(&seen);
	free(c.ids);
	return ret;
}
