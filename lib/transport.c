/*
 * The transfer protocol: connecting, negotiating, sending and receiving
 * objects, and the server's loop (transport.h; docs/FORMAT.md,
 * "Transfer protocol").
 */
#include "transport.h"

#include "chunk.h"
#include "error.h"
#include "fsio.h"
#include "hash.h"
#include "json.h"
#include "oidset.h"
#include "pruned.h"
#include "refs.h"
#include "snapshot.h"
#include "store.h"
#include "tree.h"
#include "util.h"
#include "walk.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Objects larger than this arrive into a temporary file, not memory. */
#define RECV_MEM_MAX (64u << 20)
/* A receiver makes what arrived durable every so many objects or bytes. */
#define RECV_BATCH_OBJECTS 4096
#define RECV_BATCH_BYTES (32u << 20)

/* ---- control frames ---- */

/* Drops the newline that ends a text frame. */
static void chomp(struct strbuf *sb)
{
	if (sb->len && sb->buf[sb->len - 1] == '\n')
		strbuf_setlen(sb, sb->len - 1);
}

/*
 * Reads a control frame: 1 with its text (newline dropped), 0 for a
 * flush.  The peer's "error MSG" is SNAP_EIO and its "refused MSG"
 * SNAP_EEXISTS, each with "remote: MSG" in err.
 */
static int read_ctl(struct pkt_conn *c, struct strbuf *line, struct strbuf *err)
{
	int r = pkt_read(c, line, err);
	size_t i;

	if (r <= 0)
		return r;
	chomp(line);
	for (i = 0; i < line->len; i++)
		if ((unsigned char)line->buf[i] < 0x20 || line->buf[i] == 0x7f)
			return snap_error(err, SNAP_EINVAL,
					  "protocol error: control character in a control frame");
	if (!strncmp(line->buf, "error ", 6))
		return snap_error(err, SNAP_EIO, "remote: %s", line->buf + 6);
	if (!strncmp(line->buf, "refused ", 8))
		return snap_error(err, SNAP_EEXISTS, "remote: %s", line->buf + 8);
	return 1;
}

static int protocol_error(struct strbuf *err, const char *what, const struct strbuf *line)
{
	return snap_error(err, SNAP_EINVAL, "protocol error: %s, got '%.80s'", what, line->buf);
}

/* Parses "<hex>" exactly at p, followed by end (a character or NUL). */
static const char *parse_oid_at(const char *p, struct snap_oid *oid, char end)
{
	if (strlen(p) < SNAP_OID_HEXSZ || oid_from_hexn(oid, p, SNAP_OID_HEXSZ) < 0 ||
	    !is_hex(p, SNAP_OID_HEXSZ))
		return NULL;
	p += SNAP_OID_HEXSZ;
	if (*p != end)
		return NULL;
	return end ? p + 1 : p;
}

/* ---- ancestry ---- */

int transport_is_ancestor(struct odb *odb, const struct snap_oid *anc,
			  const struct snap_oid *new_oid, const struct pruned *extra,
			  struct strbuf *err)
{
	struct oidset seen = OIDSET_INIT;
	struct pruned pr = PRUNED_INIT;
	struct snap_oid *stack = NULL;
	size_t nr = 0, alloc = 0;
	int found = 0, ret;

	/* A snapshot pruned on purpose is passed over to its recorded parent. */
	ret = pruned_load(odb_store(odb), &pr, err);
	if (ret < 0)
		return ret;
	ALLOC_GROW(stack, nr + 1, alloc);
	stack[nr++] = *new_oid;
	while (nr && !found) {
		struct snap_oid cur = stack[--nr];
		struct snapshot s = SNAPSHOT_INIT;
		enum object_type type;
		uint64_t size;
		size_t i;

		if (!oidset_insert(&seen, &cur))
			continue;
		if (!oid_cmp(&cur, anc)) {
			found = 1;
			break;
		}
		if (!odb_has(odb, &cur)) {
			/* Pruned: its recorded parents, each compared in turn. */
			const struct pruned_entry *e = pruned_find(&pr, &cur);
			const struct pruned *in = &pr;

			if (!e && extra) {
				e = pruned_find(extra, &cur);
				in = extra;
			}
			if (e) {
				for (i = 0; i < e->nr_parents; i++) {
					ALLOC_GROW(stack, nr + 1, alloc);
					stack[nr++] = pruned_parents(in, e)[i];
				}
				continue;
			}
		}
		ret = odb_read_header(odb, &cur, &type, &size, err);
		if (ret < 0)
			break;
		if (type != OBJ_SNAPSHOT)
			continue;
		ret = snapshot_read(odb, &cur, &s, err);
		if (ret < 0)
			break;
		for (i = 0; i < s.nr_parents; i++) {
			ALLOC_GROW(stack, nr + 1, alloc);
			stack[nr++] = s.parents[i];
		}
		snapshot_release(&s);
	}
	free(stack);
	oidset_clear(&seen);
	pruned_release(&pr);
	return ret < 0 ? ret : found;
}

/* ---- sending ---- */

struct send_item {
	struct snap_oid oid;
	enum object_type type;
	uint64_t size;
	int missing;
};

struct sender {
	struct send_item *v;
	size_t nr, alloc;
	long problems;
	struct strbuf problem;
};

static void send_reached(const struct snap_oid *oid, enum object_type type,
			 uint64_t size, void *data)
{
	struct sender *s = data;

	ALLOC_GROW(s->v, s->nr + 1, s->alloc);
	s->v[s->nr].oid = *oid;
	s->v[s->nr].type = type;
	s->v[s->nr].size = size;
	s->v[s->nr].missing = 0;
	s->nr++;
}

static void send_problem(const struct walk_problem *p, void *data)
{
	struct sender *s = data;

	if (!s->problems++)
		strbuf_addf(&s->problem, "%s object %s%s%s", p->check, oid_to_hex(p->oid),
			    p->detail ? ": " : "", p->detail ? p->detail : "");
}

static void ignore_problem(const struct walk_problem *p, void *data)
{
	(void)p;
	(void)data;
}

struct chunk_list {
	struct strbuf text;
	size_t nr;
};

static void add_chunk_line(const struct snap_oid *chunk, uint64_t size, void *data)
{
	struct chunk_list *l = data;

	strbuf_addf(&l->text, "%s %llu\n", oid_to_hex(chunk), (unsigned long long)size);
	l->nr++;
}

/* Sends one object's payload: its header frame, then data frames. */
static int send_whole(struct pkt_conn *c, struct odb *odb, const struct send_item *it,
		      char *buf, struct transfer_stats *st, struct strbuf *err)
{
	struct odb_stream *s;
	enum object_type type;
	uint64_t size, sent = 0;
	int ret = odb_stream_open(odb, &it->oid, &s, &type, &size, err);

	if (ret < 0)
		return ret;
	ret = pkt_writef(c, err, "object %s %s %llu\n", oid_to_hex(&it->oid), type_name(type),
			 (unsigned long long)size);
	while (ret == 0) {
		size_t got;

		ret = odb_stream_read(s, buf, PKT_DATA_MAX, &got, err);
		if (ret < 0 || !got)
			break;
		if (got > size - sent) {
			ret = snap_error(err, SNAP_ECORRUPT, "object %s is longer than its header says",
					 oid_to_hex(&it->oid));
			break;
		}
		ret = pkt_write(c, buf, got, err);
		sent += got;
	}
	odb_stream_close(s);
	if (ret == 0 && sent != size)
		ret = snap_error(err, SNAP_ECORRUPT, "object %s is shorter than its header says",
				 oid_to_hex(&it->oid));
	if (ret == 0) {
		st->objects++;
		st->bytes += size;
	}
	return ret;
}

/* Sends one record: a chunk list as it is, any other object whole. */
static int send_item(struct pkt_conn *c, struct odb *odb, const struct send_item *it,
		     int lists, char *buf, struct transfer_stats *st, struct strbuf *err)
{
	struct chunk_list l = { STRBUF_INIT, 0 };
	int ret = 0, chunked = 0;

	if (it->type == OBJ_BLOB && it->size > CHUNK_THRESHOLD) {
		chunked = odb_chunks_each(odb, &it->oid, add_chunk_line, &l, err);
		if (chunked < 0) {
			strbuf_release(&l.text);
			return chunked;
		}
	}
	if (chunked != lists) {
		strbuf_release(&l.text);
		return 0;
	}
	if (!chunked)
		return send_whole(c, odb, it, buf, st, err);
	ret = pkt_writef(c, err, "chunked %s %llu %zu\n", oid_to_hex(&it->oid),
			 (unsigned long long)it->size, l.nr);
	if (ret == 0) {
		const char *p = l.text.buf;

		while (ret == 0 && *p) {
			const char *nl = strchr(p, '\n');

			ret = pkt_write(c, p, (size_t)(nl - p + 1), err);
			p = nl + 1;
		}
	}
	if (ret == 0)
		st->objects++;
	strbuf_release(&l.text);
	return ret;
}

/*
 * The sender's side of an exchange: everything tips reach that the
 * receiver's tips (those present here) do not, less what the receiver
 * says it has, children before parents and chunk lists last.
 */
static int send_objects(struct pkt_conn *c, struct odb *odb,
			const struct snap_oid *tips, size_t nr_tips,
			const struct snap_oid *theirs, size_t nr_theirs,
			struct transfer_stats *st, struct strbuf *err)
{
	struct oidset seen = OIDSET_INIT;
	struct sender s = { NULL, 0, 0, 0, STRBUF_INIT };
	struct pruned pr = PRUNED_INIT;
	struct walk_opts quiet = { 0, NULL, ignore_problem, NULL, &pr };
	struct walk_opts collect = { 0, send_reached, send_problem, &s, &pr };
	struct snap_oid *have = xcalloc(nr_theirs + 1, sizeof(*have));
	struct strbuf line = STRBUF_INIT;
	size_t i, nr_have = 0, nr_missing = 0;
	char *buf = NULL;
	int ret = 0;

	/* Walks pass over what was pruned here, and the record goes along. */
	ret = pruned_load(odb_store(odb), &pr, err);
	if (ret < 0)
		goto out;
	for (i = 0; i < nr_theirs; i++)
		if (odb_has(odb, &theirs[i]))
			have[nr_have++] = theirs[i];
	/*
	 * The receiver has its tips' ancestors too.  Marking their parents
	 * seen keeps both walks out of that history (reading every tree of
	 * it would cost more than the transfer); what an old snapshot holds
	 * and the tips do not is asked about instead, and found present.
	 */
	for (i = 0; i < nr_have; i++) {
		struct snapshot snap = SNAPSHOT_INIT;
		enum object_type type;
		uint64_t size;
		size_t k;

		if (odb_read_header(odb, &have[i], &type, &size, err) < 0 || type != OBJ_SNAPSHOT ||
		    snapshot_read(odb, &have[i], &snap, err) < 0) {
			strbuf_reset(err);
			continue;
		}
		for (k = 0; k < snap.nr_parents; k++)
			oidset_insert(&seen, &snap.parents[k]);
		snapshot_release(&snap);
	}
	/* What the receiver's tips reach is left out: its problems are not ours
	 * to report (quiet); the tips' own are (s.problems, below). */
	walk_reachable(odb, have, NULL, nr_have, &seen, &quiet);
	walk_reachable(odb, tips, NULL, nr_tips, &seen, &collect);
	if (s.problems) {
		ret = snap_error(err, SNAP_ECORRUPT, "cannot send what is not sound here: %s%s",
				 s.problem.buf, s.problems > 1 ? " (and more)" : "");
		goto out;
	}

	/* The receiver answers each batch in query order. */
	for (i = 0; i < s.nr && ret == 0; i += TRANSPORT_QUERY_BATCH) {
		size_t end = i + TRANSPORT_QUERY_BATCH < s.nr ? i + TRANSPORT_QUERY_BATCH : s.nr;
		size_t j, next = i;

		for (j = i; j < end && ret == 0; j++)
			ret = pkt_writef(c, err, "query %s\n", oid_to_hex(&s.v[j].oid));
		if (ret == 0)
			ret = pkt_flush(c, err);
		while (ret == 0 && (ret = read_ctl(c, &line, err)) == 1) {
			struct snap_oid oid;

			ret = 0;
			if (strncmp(line.buf, "missing ", 8) ||
			    !parse_oid_at(line.buf + 8, &oid, '\0')) {
				ret = protocol_error(err, "expected 'missing <id>'", &line);
				break;
			}
			while (next < end && oid_cmp(&s.v[next].oid, &oid))
				next++;
			if (next == end) {
				ret = protocol_error(err, "an id not asked about, or out of order", &line);
				break;
			}
			s.v[next++].missing = 1;
			nr_missing++;
		}
	}
	if (ret < 0)
		goto out;

	for (i = 0; i < pr.nr && ret == 0; i++) {
		const struct pruned_entry *e = &pr.v[i];
		size_t k;

		strbuf_reset(&line);
		strbuf_addf(&line, "pruned %s", oid_to_hex(&e->id));
		for (k = 0; k < e->nr_parents; k++)
			strbuf_addf(&line, " %s", oid_to_hex(&pr.parents[e->parent + k]));
		strbuf_addch(&line, '\n');
		ret = pkt_writef(c, err, "%s", line.buf);
	}
	if (ret < 0)
		goto out;
	buf = xmalloc(PKT_DATA_MAX);
	ret = pkt_writef(c, err, "pack %zu\n", nr_missing);
	for (i = s.nr; i-- > 0 && ret == 0;)
		if (s.v[i].missing)
			ret = send_item(c, odb, &s.v[i], 0, buf, st, err);
	for (i = s.nr; i-- > 0 && ret == 0;)
		if (s.v[i].missing)
			ret = send_item(c, odb, &s.v[i], 1, buf, st, err);
	if (ret == 0)
		ret = pkt_flush(c, err);
out:
	free(buf);
	free(have);
	free(s.v);
	strbuf_release(&s.problem);
	strbuf_release(&line);
	oidset_clear(&seen);
	pruned_release(&pr);
	return ret;
}

/* ---- receiving ---- */

struct chunked_rec {
	struct snap_oid oid;
	uint64_t size;
	struct snap_oid *chunks;
	uint64_t *sizes;
	size_t nr;
};

struct receiver {
	struct pkt_conn *c;
	struct odb *odb;
	struct transfer_stats *st;
	struct strbuf frame;
	/* Ids received objects name, to be present at the end. */
	struct snap_oid *needed;
	size_t nr_needed, alloc_needed;
	struct chunked_rec *lists;
	size_t nr_lists, alloc_lists;
	struct pruned pruned;	/* the sender's pruned record, as it came */
	/* The parents received snapshots name, and what of the sender's
	 * record this store takes: entries for snapshots it lacks that the
	 * received history leads to, nothing else. */
	struct snap_oid *parents;
	size_t nr_parents, alloc_parents;
	struct pruned accepted;
	size_t batch_objects;
	uint64_t batch_bytes;
};

static void need(struct receiver *r, const struct snap_oid *oid)
{
	ALLOC_GROW(r->needed, r->nr_needed + 1, r->alloc_needed);
	r->needed[r->nr_needed++] = *oid;
}

/* Records the ids a received tree or snapshot names. */
static int note_links(struct receiver *r, enum object_type type, const struct snap_oid *oid,
		      const char *buf, size_t len, struct strbuf *err)
{
	size_t i;
	int ret = 0;

	if (type == OBJ_TREE) {
		struct tree t = TREE_INIT;

		ret = tree_parse(&t, buf, len, err);
		for (i = 0; ret == 0 && i < t.nr; i++)
			if (!oid_is_null(&t.entries[i].oid))
				need(r, &t.entries[i].oid);
		tree_release(&t);
	} else if (type == OBJ_SNAPSHOT) {
		struct snapshot s = SNAPSHOT_INIT;

		ret = snapshot_parse(&s, buf, len, err);
		if (ret == 0 && !oid_is_null(&s.tree))
			need(r, &s.tree);
		for (i = 0; ret == 0 && i < s.nr_parents; i++) {
			need(r, &s.parents[i]);
			ALLOC_GROW(r->parents, r->nr_parents + 1, r->alloc_parents);
			r->parents[r->nr_parents++] = s.parents[i];
		}
		for (i = 0; ret == 0 && i < s.nr_bundles; i++)
			need(r, &s.bundles[i]);
		snapshot_release(&s);
	}
	if (ret < 0)
		strbuf_addf(err, " (received %s '%s')", type_name(type), oid_to_hex(oid));
	return ret;
}

/* Reads size bytes of data frames, through fn. */
static int read_payload(struct receiver *r, uint64_t size,
			int (*fn)(void *, const void *, size_t, struct strbuf *),
			void *data, struct strbuf *err)
{
	while (size) {
		int ret = pkt_read(r->c, &r->frame, err);

		if (ret < 0)
			return ret;
		if (ret == 0 || r->frame.len > size)
			return snap_error(err, SNAP_EINVAL,
					  "protocol error: object data %s", ret ? "too long" : "cut short");
		ret = fn(data, r->frame.buf, r->frame.len, err);
		if (ret < 0)
			return ret;
		size -= r->frame.len;
	}
	return 0;
}

/*
 * An object's payload in memory.  It grows as bytes arrive (up to the
 * size announced), so a peer that announces a large object and sends
 * little costs little.
 */
struct membuf {
	char *buf;
	size_t len, alloc, size;
	struct snap_hash_ctx h;
};

static int to_mem(void *data, const void *buf, size_t len, struct strbuf *err)
{
	struct membuf *m = data;

	(void)err;
	if (m->len + len > m->alloc) {
		while (m->len + len > m->alloc)
			m->alloc = m->alloc > m->size / 2 ? m->size : m->alloc ? 2 * m->alloc : len;
		m->buf = xrealloc(m->buf, m->alloc + 1);
	}
	memcpy(m->buf + m->len, buf, len);
	m->len += len;
	hash_update(&m->h, buf, len);
	return 0;
}

struct filebuf {
	int fd;
	const char *path;
	struct snap_hash_ctx h;
};

static int to_file(void *data, const void *buf, size_t len, struct strbuf *err)
{
	struct filebuf *f = data;

	if (fsio_write(f->fd, buf, len) < 0)
		return snap_error_errno(err, "cannot write '%s'", f->path);
	hash_update(&f->h, buf, len);
	return 0;
}

static int check_id(const struct snap_oid *want, struct snap_hash_ctx *h, struct strbuf *err)
{
	struct snap_oid got;

	hash_final(h, &got);
	if (oid_cmp(&got, want))
		return snap_error(err, SNAP_ECORRUPT,
				  "object %s arrived damaged: its bytes hash to %s",
				  oid_to_hex(want), oid_to_hex(&got));
	return 0;
}

static int write_got(const struct snap_oid *want, const struct snap_oid *got, struct strbuf *err)
{
	if (oid_cmp(want, got))
		return snap_error(err, SNAP_ECORRUPT, "object %s was stored as %s",
				  oid_to_hex(want), oid_to_hex(got));
	return 0;
}

static int tmp_file(struct odb *odb, struct strbuf *path, struct strbuf *err)
{
	struct strbuf dir = STRBUF_INIT;
	int fd;

	store_path(odb_store(odb), &dir, "objects/tmp");
	fd = fsio_mktemp(dir.buf, "recv-", path);
	if (fd < 0)
		snap_error_errno(err, "cannot create a temporary file in '%s'", dir.buf);
	strbuf_release(&dir);
	return fd;
}

/* A large blob: into a temporary file, verified, then stored from it. */
static int receive_to_file(struct receiver *r, const struct snap_oid *oid, uint64_t size,
			   struct strbuf *err)
{
	struct strbuf path = STRBUF_INIT;
	struct filebuf f;
	struct snap_oid got;
	int ret;

	f.fd = tmp_file(r->odb, &path, err);
	if (f.fd < 0) {
		strbuf_release(&path);
		return SNAP_EIO;
	}
	f.path = path.buf;
	hash_object_start(&f.h, OBJ_BLOB, size, NULL);
	ret = read_payload(r, size, to_file, &f, err);
	if (ret == 0)
		ret = check_id(oid, &f.h, err);
	if (ret == 0 && lseek(f.fd, 0, SEEK_SET) < 0)
		ret = snap_error_errno(err, "cannot rewind '%s'", path.buf);
	if (ret == 0)
		ret = odb_write_fd(r->odb, OBJ_BLOB, f.fd, size, path.buf, &got, err);
	if (ret == 0)
		ret = write_got(oid, &got, err);
	close(f.fd);
	unlink(path.buf);
	strbuf_release(&path);
	return ret;
}

static int receive_object(struct receiver *r, const char *args, struct strbuf *err)
{
	struct snap_oid oid, got;
	enum object_type type;
	uint64_t size;
	const char *p = parse_oid_at(args, &oid, ' '), *sp;
	struct membuf m;
	int ret;

	if (!p || !(sp = strchr(p, ' ')) ||
	    (type = type_from_name(p, (size_t)(sp - p))) == OBJ_NONE ||
	    parse_u64(sp + 1, &size) < 0)
		return protocol_error(err, "malformed object record", &r->frame);
	if ((type == OBJ_TREE && size > TREE_MAX_SIZE) ||
	    (type == OBJ_SNAPSHOT && size > SNAPSHOT_MAX_SIZE) ||
	    (type == OBJ_BUNDLE && size > (16u << 20)))
		return snap_error(err, SNAP_ETOOBIG, "object %s: a %s of %llu bytes is too big",
				  oid_to_hex(&oid), type_name(type), (unsigned long long)size);
	if (type == OBJ_BLOB && size > RECV_MEM_MAX) {
		ret = receive_to_file(r, &oid, size, err);
	} else {
		m.size = (size_t)size;
		m.alloc = m.size < (1u << 20) ? m.size : (1u << 20);
		m.buf = xmalloc(m.alloc + 1);
		m.len = 0;
		hash_object_start(&m.h, type, size, NULL);
		ret = read_payload(r, size, to_mem, &m, err);
		if (ret == 0)
			ret = check_id(&oid, &m.h, err);
		if (ret == 0)
			ret = note_links(r, type, &oid, m.buf, m.len, err);
		if (ret < 0) {
			free(m.buf);
			return ret;
		}
		ret = odb_write_owned(r->odb, type, m.buf, m.len, &got, err);
		if (ret == 0)
			ret = write_got(&oid, &got, err);
	}
	if (ret == 0) {
		r->st->objects++;
		r->st->bytes += size;
		r->batch_objects++;
		r->batch_bytes += size;
	}
	return ret;
}

static int receive_list(struct receiver *r, const char *args, struct strbuf *err)
{
	struct chunked_rec rec;
	const char *p = parse_oid_at(args, &rec.oid, ' ');
	char *sp;
	uint64_t nr, sum = 0;
	size_t i;

	if (!p || !(sp = strchr(p, ' ')))
		return protocol_error(err, "malformed chunked record", &r->frame);
	*sp = '\0';
	if (parse_u64(p, &rec.size) < 0 || parse_u64(sp + 1, &nr) < 0 || !nr ||
	    nr > rec.size / CHUNK_MIN + 1)
		return protocol_error(err, "malformed chunked record", &r->frame);
	rec.nr = (size_t)nr;
	rec.chunks = xcalloc(rec.nr, sizeof(*rec.chunks));
	rec.sizes = xcalloc(rec.nr, sizeof(*rec.sizes));
	for (i = 0; i < rec.nr; i++) {
		int ret = read_ctl(r->c, &r->frame, err);
		const char *q;

		if (ret == 1 && (q = parse_oid_at(r->frame.buf, &rec.chunks[i], ' ')) &&
		    parse_u64(q, &rec.sizes[i]) == 0 && rec.sizes[i] &&
		    rec.sizes[i] <= rec.size - sum) {
			sum += rec.sizes[i];
			continue;
		}
		free(rec.chunks);
		free(rec.sizes);
		return ret < 0 ? ret : protocol_error(err, "malformed chunk line", &r->frame);
	}
	if (sum != rec.size) {
		free(rec.chunks);
		free(rec.sizes);
		return snap_error(err, SNAP_EINVAL, "protocol error: chunks of blob %s add up to %llu, not %llu",
				  oid_to_hex(&rec.oid), (unsigned long long)sum,
				  (unsigned long long)rec.size);
	}
	ALLOC_GROW(r->lists, r->nr_lists + 1, r->alloc_lists);
	r->lists[r->nr_lists++] = rec;
	r->st->objects++;
	return 0;
}

/*
 * A chunked blob: its chunks are here now (durable), so its bytes are
 * read back from them, its id checked, and it is stored as any writer
 * stores a large blob (the same cuts, so the same chunks, found present).
 */
static int rebuild_list(struct receiver *r, const struct chunked_rec *rec, struct strbuf *err)
{
	struct strbuf path = STRBUF_INIT;
	struct filebuf f;
	struct snap_oid got;
	char *buf;
	size_t i;
	int ret = 0;

	if (odb_has(r->odb, &rec->oid))
		return 0;
	f.fd = tmp_file(r->odb, &path, err);
	if (f.fd < 0) {
		strbuf_release(&path);
		return SNAP_EIO;
	}
	f.path = path.buf;
	buf = xmalloc(PKT_DATA_MAX);
	hash_object_start(&f.h, OBJ_BLOB, rec->size, NULL);
	for (i = 0; ret == 0 && i < rec->nr; i++) {
		struct odb_stream *s;
		enum object_type type;
		uint64_t size, seen = 0;

		ret = odb_stream_open(r->odb, &rec->chunks[i], &s, &type, &size, err);
		if (ret == SNAP_ENOTFOUND) {
			strbuf_reset(err);
			ret = snap_error(err, SNAP_EINVAL, "incomplete transfer: chunk %s of blob %s is missing",
					 oid_to_hex(&rec->chunks[i]), oid_to_hex(&rec->oid));
		}
		if (ret < 0)
			break;
		if (type != OBJ_BLOB || size != rec->sizes[i])
			ret = snap_error(err, SNAP_EINVAL, "chunk %s of blob %s is not a blob of %llu bytes",
					 oid_to_hex(&rec->chunks[i]), oid_to_hex(&rec->oid),
					 (unsigned long long)rec->sizes[i]);
		while (ret == 0) {
			size_t n;

			ret = odb_stream_read(s, buf, PKT_DATA_MAX, &n, err);
			if (ret < 0 || !n)
				break;
			seen += n;
			ret = to_file(&f, buf, n, err);
		}
		odb_stream_close(s);
		if (ret == 0 && seen != size)
			ret = snap_error(err, SNAP_ECORRUPT, "chunk %s ended early", oid_to_hex(&rec->chunks[i]));
	}
	free(buf);
	if (ret == 0)
		ret = check_id(&rec->oid, &f.h, err);
	if (ret == 0 && lseek(f.fd, 0, SEEK_SET) < 0)
		ret = snap_error_errno(err, "cannot rewind '%s'", path.buf);
	if (ret == 0)
		ret = odb_write_fd(r->odb, OBJ_BLOB, f.fd, rec->size, path.buf, &got, err);
	if (ret == 0)
		ret = write_got(&rec->oid, &got, err);
	close(f.fd);
	unlink(path.buf);
	strbuf_release(&path);
	return ret;
}

/* After a failure mid-pack: reads on to the pack's end, so the peer can be told. */
static void drain_pack(struct receiver *r)
{
	struct strbuf ignored = STRBUF_INIT;

	while (pkt_read(r->c, &r->frame, &ignored) > 0)
		;
	strbuf_release(&ignored);
}

static void accept_pruned(struct receiver *r);

static int receive_pack(struct receiver *r, uint64_t count, struct strbuf *err)
{
	struct pruned here = PRUNED_INIT;
	uint64_t records = 0;
	size_t i;
	int ret;

	odb_batch_begin(r->odb);
	for (;;) {
		ret = read_ctl(r->c, &r->frame, err);
		if (ret <= 0)
			break;
		if (!strncmp(r->frame.buf, "object ", 7))
			ret = receive_object(r, r->frame.buf + 7, err);
		else if (!strncmp(r->frame.buf, "chunked ", 8))
			ret = receive_list(r, r->frame.buf + 8, err);
		else
			ret = protocol_error(err, "expected an object record", &r->frame);
		if (ret == 0 && ++records > count)
			ret = snap_error(err, SNAP_EINVAL, "protocol error: more than the %llu records announced",
					 (unsigned long long)count);
		if (ret < 0)
			break;
		if (r->batch_objects >= RECV_BATCH_OBJECTS || r->batch_bytes >= RECV_BATCH_BYTES) {
			ret = odb_batch_end(r->odb, err);
			if (ret < 0)
				return ret;
			odb_batch_begin(r->odb);
			r->batch_objects = 0;
			r->batch_bytes = 0;
		}
	}
	/* What arrived whole and verified is kept either way (transport.h). */
	if (ret < 0) {
		struct strbuf ignored = STRBUF_INIT;

		if (ret == SNAP_ECORRUPT || ret == SNAP_ETOOBIG || ret == SNAP_EINVAL)
			drain_pack(r);
		odb_batch_end(r->odb, &ignored);
		strbuf_release(&ignored);
		return ret;
	}
	ret = odb_batch_end(r->odb, err);
	if (ret == 0 && records != count)
		ret = snap_error(err, SNAP_EINVAL, "protocol error: %llu records of the %llu announced",
				 (unsigned long long)records, (unsigned long long)count);
	for (i = 0; ret == 0 && i < r->nr_lists; i++)
		ret = rebuild_list(r, &r->lists[i], err);
	/* A parent pruned on purpose, here or by the sender, is not missing. */
	if (ret == 0 && r->nr_needed)
		ret = pruned_load(odb_store(r->odb), &here, err);
	if (ret == 0)
		accept_pruned(r);
	for (i = 0; ret == 0 && i < r->nr_needed; i++)
		if (!odb_has(r->odb, &r->needed[i]) && !pruned_contains(&r->accepted, &r->needed[i]) &&
		    !pruned_contains(&here, &r->needed[i]))
			ret = snap_error(err, SNAP_EINVAL,
					 "incomplete transfer: object %s is missing",
					 oid_to_hex(&r->needed[i]));
	pruned_release(&here);
	return ret;
}

static int cmp_pruned_entry(const void *a, const void *b)
{
	return oid_cmp(&((const struct pruned_entry *)a)->id, &((const struct pruned_entry *)b)->id);
}

/*
 * What of the sender's record the receiver takes: starting from the
 * parents the received snapshots name, each one this store lacks and the
 * record lists, then its recorded parents in turn.  A snapshot this store
 * has is never taken as pruned: a sender cannot hide or free history the
 * receiver holds, only say why what it did not send is absent.
 */
static void accept_pruned(struct receiver *r)
{
	struct oidset seen = OIDSET_INIT;
	struct snap_oid *pending = NULL;
	size_t nr = 0, alloc = 0, i;

	for (i = 0; i < r->nr_parents; i++) {
		ALLOC_GROW(pending, nr + 1, alloc);
		pending[nr++] = r->parents[i];
	}
	while (nr) {
		struct snap_oid cur = pending[--nr];
		const struct pruned_entry *e;

		if (!oidset_insert(&seen, &cur) || odb_has(r->odb, &cur) ||
		    !(e = pruned_find(&r->pruned, &cur)))
			continue;
		pruned_append(&r->accepted, &cur, pruned_parents(&r->pruned, e), e->nr_parents);
		for (i = 0; i < e->nr_parents; i++) {
			ALLOC_GROW(pending, nr + 1, alloc);
			pending[nr++] = pruned_parents(&r->pruned, e)[i];
		}
	}
	free(pending);
	oidset_clear(&seen);
	/* Sorted, as a record is searched. */
	if (r->accepted.nr > 1)
		QSORT(r->accepted.v, r->accepted.nr, cmp_pruned_entry);
}

/* One "pruned <id> [<parent>...]" frame of the sender's record. */
static int receive_pruned(struct receiver *r, const char *p, struct strbuf *err)
{
	struct snap_oid ids[65];	/* the id, then its parents */
	size_t n = 0;

	if (r->pruned.nr >= PRUNED_MAX / 64)
		return protocol_error(err, "too many 'pruned' entries", &r->frame);
	for (;;) {
		char end = strlen(p) > SNAP_OID_HEXSZ ? ' ' : '\0';

		if (n == 65 || !(p = parse_oid_at(p, &ids[n++], end)))
			return protocol_error(err, "malformed 'pruned <id> [<parent>...]'", &r->frame);
		if (!end)
			break;
	}
	/* In the record's order, so that it is searched as it came. */
	if (r->pruned.nr && oid_cmp(&r->pruned.v[r->pruned.nr - 1].id, &ids[0]) >= 0)
		return protocol_error(err, "'pruned' entries out of order", &r->frame);
	pruned_append(&r->pruned, &ids[0], ids + 1, n - 1);
	return 0;
}

/*
 * The receiver's side of an exchange: answers the sender's queries, then
 * takes its pack.
 */
static int receive_objects(struct pkt_conn *c, struct odb *odb, struct transfer_stats *st,
			   struct pruned *accepted, struct strbuf *err)
{
	struct receiver r;
	size_t i;
	int ret;

	memset(&r, 0, sizeof(r));
	r.c = c;
	r.odb = odb;
	r.st = st;
	strbuf_init(&r.frame, 0);
	/*
	 * Answers are queued until the sender's flush: a batch's answers
	 * (TRANSPORT_QUERY_BATCH frames of 77 bytes) fit in the connection's
	 * write buffer, so we never block writing while the sender is still
	 * writing to us.
	 */
	for (;;) {
		struct snap_oid oid;

		ret = read_ctl(c, &r.frame, err);
		if (ret < 0)
			break;
		if (ret == 0) {
			ret = pkt_flush(c, err);
			if (ret < 0)
				break;
			continue;
		}
		if (!strncmp(r.frame.buf, "query ", 6) && parse_oid_at(r.frame.buf + 6, &oid, '\0')) {
			if (!odb_has(odb, &oid))
				ret = pkt_writef(c, err, "missing %s\n", oid_to_hex(&oid));
			if (ret < 0)
				break;
			continue;
		}
		if (!strncmp(r.frame.buf, "pruned ", 7)) {
			ret = receive_pruned(&r, r.frame.buf + 7, err);
			if (ret < 0)
				break;
			continue;
		}
		if (!strncmp(r.frame.buf, "pack ", 5)) {
			uint64_t count;

			if (parse_u64(r.frame.buf + 5, &count) < 0)
				ret = protocol_error(err, "malformed 'pack <n>'", &r.frame);
			else
				ret = receive_pack(&r, count, err);
			/* The caller adds it to the record once the refs may move. */
			if (ret == 0) {
				*accepted = r.accepted;
				memset(&r.accepted, 0, sizeof(r.accepted));
			}
			break;
		}
		ret = protocol_error(err, "expected 'query' or 'pack'", &r.frame);
		break;
	}
	for (i = 0; i < r.nr_lists; i++) {
		free(r.lists[i].chunks);
		free(r.lists[i].sizes);
	}
	free(r.lists);
	free(r.needed);
	free(r.parents);
	pruned_release(&r.pruned);
	pruned_release(&r.accepted);
	strbuf_release(&r.frame);
	return ret;
}

/* ---- the client ---- */

/* Appends s quoted for a POSIX shell. */
static void sq_quote(struct strbuf *sb, const char *s)
{
	strbuf_addch(sb, '\'');
	for (; *s; s++) {
		if (*s == '\'')
			strbuf_addstr(sb, "'\\''");
		else
			strbuf_addch(sb, *s);
	}
	strbuf_addch(sb, '\'');
}

struct remote_spec {
	char *host;	/* NULL: a local path */
	char *port;
	char *path;
};

static int parse_remote(const char *remote, struct remote_spec *rs, struct strbuf *err)
{
	const char *colon, *slash;

	memset(rs, 0, sizeof(*rs));
	if (!*remote)
		return snap_error(err, SNAP_EINVAL, "empty remote");
	if (!strncmp(remote, "ssh://", 6)) {
		const char *h = remote + 6, *pend, *at, *pc;

		slash = strchr(h, '/');
		if (!slash || slash == h || !slash[1])
			return snap_error(err, SNAP_EINVAL, "remote '%s': expected ssh://[USER@]HOST[:PORT]/PATH",
					  remote);
		at = memchr(h, '@', (size_t)(slash - h));
		pc = memchr(at ? at : h, ':', (size_t)(slash - (at ? at : h)));
		pend = pc ? pc : slash;
		rs->host = xstrndup(h, (size_t)(pend - h));
		if (pc) {
			rs->port = xstrndup(pc + 1, (size_t)(slash - pc - 1));
			if (!*rs->port || strspn(rs->port, "0123456789") != strlen(rs->port))
				return snap_error(err, SNAP_EINVAL, "remote '%s': bad port '%s'",
						  remote, rs->port);
		}
		rs->path = xstrdup(slash);
	} else if ((colon = strchr(remote, ':')) &&
		   (!(slash = strchr(remote, '/')) || colon < slash) && colon != remote) {
		rs->host = xstrndup(remote, (size_t)(colon - remote));
		rs->path = xstrdup(colon + 1);
		if (!*rs->path)
			return snap_error(err, SNAP_EINVAL, "remote '%s': no path after the host", remote);
	} else {
		rs->path = xstrdup(remote);
		return 0;
	}
	if (!rs->host[0] || rs->host[0] == '-' || strchr(rs->host, '@') == rs->host ||
	    (strchr(rs->host, '@') && strchr(rs->host, '@')[1] == '-'))
		return snap_error(err, SNAP_EINVAL, "remote '%s': bad host '%s'", remote, rs->host);
	return 0;
}

static void remote_spec_release(struct remote_spec *rs)
{
	free(rs->host);
	free(rs->port);
	free(rs->path);
}

static int spawn(struct transport *t, const struct remote_spec *rs, const char *serve,
		 struct strbuf *err)
{
	int to[2], from[2];
	pid_t pid;

	if (pipe(to) < 0 || pipe(from) < 0)
		return snap_error_errno(err, "cannot make a pipe");
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return snap_error_errno(err, "cannot fork");
	if (pid == 0) {
		const char *argv[10];
		struct strbuf cmd = STRBUF_INIT;
		const char *ssh = getenv("SNAP_SSH_COMMAND");
		int n = 0;

		/* Ours is ignored (transport_connect); the far side's is its own. */
		signal(SIGPIPE, SIG_DFL);
		dup2(to[0], 0);
		dup2(from[1], 1);
		close(to[0]);
		close(to[1]);
		close(from[0]);
		close(from[1]);
		if (!rs->host) {
			/* The path is sh's $1: never parsed by the shell. */
			strbuf_addf(&cmd, "%s \"$1\"", serve);
			argv[n++] = "sh";
			argv[n++] = "-c";
			argv[n++] = cmd.buf;
			argv[n++] = "sh";
			argv[n++] = rs->path;
			argv[n] = NULL;
			execvp("sh", (char *const *)argv);
			fprintf(stderr, "cannot run sh: %s\n", strerror(errno));
			_exit(127);
		}
		strbuf_addstr(&cmd, serve);
		strbuf_addch(&cmd, ' ');
		sq_quote(&cmd, rs->path);
		if (ssh && *ssh) {
			argv[n++] = "sh";
			argv[n++] = "-c";
			argv[n++] = NULL;	/* set below */
			argv[n++] = ssh;
		} else {
			argv[n++] = "ssh";
		}
		if (rs->port) {
			argv[n++] = "-p";
			argv[n++] = rs->port;
		}
		argv[n++] = rs->host;
		argv[n++] = cmd.buf;
		argv[n] = NULL;
		if (ssh && *ssh) {
			struct strbuf script = STRBUF_INIT;

			strbuf_addf(&script, "%s \"$@\"", ssh);
			argv[2] = script.buf;
			execvp("sh", (char *const *)argv);
		} else {
			execvp("ssh", (char *const *)argv);
		}
		fprintf(stderr, "cannot run '%s': %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(to[0]);
	close(from[1]);
	t->child = pid;
	pkt_init(&t->conn, from[0], to[1]);
	return 0;
}

static int cmp_ref(const void *a, const void *b)
{
	return strcmp(((const struct remote_ref *)a)->name, ((const struct remote_ref *)b)->name);
}

static int read_advertisement(struct transport *t, struct strbuf *err)
{
	struct strbuf line = STRBUF_INIT;
	int ret = read_ctl(&t->conn, &line, err);

	if (ret == 1 && strncmp(line.buf, "version ", 8))
		ret = protocol_error(err, "expected 'version N'", &line);
	else if (ret == 1 && strcmp(line.buf + 8, "1"))
		ret = snap_error(err, SNAP_EINVAL, "remote speaks protocol version %.20s, not %d",
				 line.buf + 8, TRANSPORT_VERSION);
	else if (ret == 0)
		ret = snap_error(err, SNAP_EINVAL, "protocol error: no greeting");
	if (ret < 0)
		goto out;
	t->version = TRANSPORT_VERSION;
	while ((ret = read_ctl(&t->conn, &line, err)) == 1) {
		struct snap_oid oid;
		const char *name;
		struct strbuf ignored = STRBUF_INIT;

		if (strncmp(line.buf, "ref ", 4) || !(name = parse_oid_at(line.buf + 4, &oid, ' ')) ||
		    ref_name_check(name, &ignored) < 0 || t->nr_refs >= TRANSPORT_REFS_MAX) {
			strbuf_release(&ignored);
			ret = protocol_error(err, "expected 'ref <id> <name>'", &line);
			goto out;
		}
		ALLOC_GROW(t->refs, t->nr_refs + 1, t->alloc_refs);
		t->refs[t->nr_refs].name = xstrdup(name);
		t->refs[t->nr_refs].oid = oid;
		t->nr_refs++;
	}
	QSORT(t->refs, t->nr_refs, cmp_ref);
out:
	strbuf_release(&line);
	return ret;
}

/* Waits for the child; 0 if it exited 0. */
static int reap(struct transport *t, struct strbuf *err)
{
	int status, ret = 0;

	if (t->child <= 0)
		return 0;
	while (waitpid(t->child, &status, 0) < 0) {
		if (errno != EINTR) {
			ret = snap_error_errno(err, "cannot wait for the remote side");
			break;
		}
	}
	if (ret == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
		if (WIFEXITED(status))
			ret = snap_error(err, SNAP_EIO, "the remote side exited with status %d",
					 WEXITSTATUS(status));
		else
			ret = snap_error(err, SNAP_EIO, "the remote side was killed by signal %d",
					 WTERMSIG(status));
	}
	t->child = 0;
	return ret;
}

int transport_remote_lookup(struct snap_store *store, const char *name, struct strbuf *url,
			    struct strbuf *ssh, struct strbuf *err)
{
	struct strbuf path = STRBUF_INIT, text = STRBUF_INIT;
	const char *p, *end;
	size_t i;
	int ret = 1;

	for (i = 0; name[i]; i++)
		if (!isalnum((unsigned char)name[i]) && !strchr("._-", name[i]))
			return 0;
	if (!i || i > 100 || name[0] == '.' || name[0] == '-')
		return 0;
	store_path(store, &path, "remotes/");
	strbuf_addstr(&path, name);
	ret = strbuf_read_file(&text, path.buf, 65536);
	if (ret == SNAP_ENOTFOUND) {
		ret = 0;
		goto out;
	}
	if (ret < 0) {
		ret = snap_error_errno(err, "remote '%s': cannot read '%s'", name, path.buf);
		goto out;
	}
	ret = 1;
	strbuf_reset(url);
	strbuf_reset(ssh);
	for (p = text.buf; *p; p = *end ? end + 1 : end) {
		const char *eq, *v;
		size_t klen;

		end = strchrnul(p, '\n');
		if (p == end || *p == '#')
			continue;
		eq = memchr(p, '=', (size_t)(end - p));
		if (!eq) {
			ret = snap_error(err, SNAP_EINVAL, "remote '%s': bad line in '%s'", name, path.buf);
			goto out;
		}
		klen = (size_t)(eq - p);
		while (klen && p[klen - 1] == ' ')
			klen--;
		for (v = eq + 1; v < end && *v == ' '; v++)
			;
		if (klen == 3 && !memcmp(p, "url", 3))
			strbuf_add(url, v, (size_t)(end - v));
		else if (klen == 3 && !memcmp(p, "ssh", 3))
			strbuf_add(ssh, v, (size_t)(end - v));
	}
	if (!url->len)
		ret = snap_error(err, SNAP_EINVAL, "remote '%s': no url in '%s'", name, path.buf);
out:
	strbuf_release(&path);
	strbuf_release(&text);
	return ret;
}

int transport_use_remote(struct snap_store *store, const char **remote, struct strbuf *url,
			 struct strbuf *ssh, struct strbuf *err)
{
	int ret = transport_remote_lookup(store, *remote, url, ssh, err);

	if (ret > 0) {
		*remote = url->buf;
		if (ssh->len && !getenv("SNAP_SSH_COMMAND"))
			setenv("SNAP_SSH_COMMAND", ssh->buf, 1);
	}
	return ret < 0 ? ret : 0;
}

int transport_connect(struct transport *t, const char *remote, const char *serve,
		      struct strbuf *err)
{
	struct remote_spec rs;
	int ret;

	memset(t, 0, sizeof(*t));
	/* A far side that dies is a failed write, not our death. */
	signal(SIGPIPE, SIG_IGN);
	ret = parse_remote(remote, &rs, err);
	/* A local path that holds no store: said here, in one line. */
	if (ret == 0 && !rs.host && !serve) {
		struct strbuf cfg = STRBUF_INIT;

		strbuf_addf(&cfg, "%s/config", rs.path);
		if (access(cfg.buf, F_OK) < 0)
			ret = snap_error(err, SNAP_ENOTFOUND, "remote '%s' is not a snap store", remote);
		strbuf_release(&cfg);
	}
	if (ret == 0)
		ret = spawn(t, &rs, serve ? serve : "snap-serve", err);
	remote_spec_release(&rs);
	if (ret < 0)
		return ret;
	ret = read_advertisement(t, err);
	if (ret < 0) {
		struct strbuf why = STRBUF_INIT;

		close(t->conn.in);
		close(t->conn.out);
		if (!strncmp(err->buf, "connection closed", 17)) {
			int failed = reap(t, &why) < 0;

			strbuf_reset(err);
			if (failed)
				strbuf_addf(err, "remote '%s' did not answer: %s", remote, why.buf);
			else
				strbuf_addf(err, "remote '%s' closed the connection in its greeting", remote);
		} else {
			reap(t, &why);
		}
		strbuf_release(&why);
		pkt_release(&t->conn);
		return ret == SNAP_EEXISTS ? ret : ret == SNAP_EINVAL ? ret : SNAP_EIO;
	}
	return 0;
}

const struct remote_ref *transport_ref(const struct transport *t, const char *name)
{
	struct remote_ref key;

	if (!t->nr_refs)
		return NULL;
	key.name = (char *)name;
	return bsearch(&key, t->refs, t->nr_refs, sizeof(*t->refs), cmp_ref);
}

int transport_disconnect(struct transport *t, struct strbuf *err)
{
	struct strbuf why = STRBUF_INIT;
	size_t i;
	int ret;

	/* A flush where a command would come: nothing more to ask. */
	pkt_flush(&t->conn, &why);
	strbuf_reset(&why);
	close(t->conn.out);
	close(t->conn.in);
	ret = reap(t, &why);
	if (ret < 0 && !err->len)
		strbuf_addbuf(err, &why);
	strbuf_release(&why);
	pkt_release(&t->conn);
	for (i = 0; i < t->nr_refs; i++)
		free(t->refs[i].name);
	free(t->refs);
	t->refs = NULL;
	t->nr_refs = 0;
	return ret;
}

/*
 * After our write to the far side failed: it may have said why before it
 * closed.  Its message replaces ours when there is one.
 */
static int remote_reason(struct transport *t, int ret, struct strbuf *err)
{
	struct strbuf line = STRBUF_INIT, why = STRBUF_INIT;
	int r;

	while ((r = read_ctl(&t->conn, &line, &why)) > 0)
		;
	if (r < 0 && !strncmp(why.buf, "remote: ", 8)) {
		strbuf_reset(err);
		strbuf_addbuf(err, &why);
		ret = r;
	}
	strbuf_release(&line);
	strbuf_release(&why);
	return ret;
}

int transport_push(struct transport *t, struct odb *odb, const struct push_update *u,
		   size_t nr, struct transfer_stats *st, struct strbuf *err)
{
	struct strbuf line = STRBUF_INIT;
	struct snap_oid *tips = xcalloc(nr + 1, sizeof(*tips)), *theirs;
	size_t i, nr_tips = 0;
	int ret = pkt_writef(&t->conn, err, "push\n");

	for (i = 0; ret == 0 && i < nr; i++) {
		char old_hex[SNAP_OID_HEXSZ + 1], new_hex[SNAP_OID_HEXSZ + 1];

		ret = pkt_writef(&t->conn, err, "update %s %s %s%s\n", oid_to_hex_r(old_hex, &u[i].old_oid),
				 oid_to_hex_r(new_hex, &u[i].new_oid), u[i].name,
				 u[i].force ? " force" : "");
		if (!oid_is_null(&u[i].new_oid))
			tips[nr_tips++] = u[i].new_oid;
	}
	if (ret == 0)
		ret = pkt_flush(&t->conn, err);
	if (ret == 0 && (ret = read_ctl(&t->conn, &line, err)) >= 0 && strcmp(line.buf, "ready"))
		ret = protocol_error(err, "expected 'ready'", &line);
	if (ret >= 0 && (ret = read_ctl(&t->conn, &line, err)) > 0)
		ret = protocol_error(err, "expected a flush after 'ready'", &line);
	if (ret < 0)
		goto out;
	theirs = xcalloc(t->nr_refs + 1, sizeof(*theirs));
	for (i = 0; i < t->nr_refs; i++)
		theirs[i] = t->refs[i].oid;
	ret = send_objects(&t->conn, odb, tips, nr_tips, theirs, t->nr_refs, st, err);
	free(theirs);
	if (ret == SNAP_EIO) {
		ret = remote_reason(t, ret, err);
		goto out;
	}
	if (ret == 0 && (ret = read_ctl(&t->conn, &line, err)) >= 0 && strcmp(line.buf, "ok"))
		ret = protocol_error(err, "expected 'ok'", &line);
	if (ret > 0)
		ret = 0;
out:
	free(tips);
	strbuf_release(&line);
	return ret;
}

static int add_have(const char *name, const struct snap_oid *oid, void *data)
{
	struct transport *t = data;
	struct strbuf ignored = STRBUF_INIT;

	(void)name;
	if (oid)
		pkt_writef(&t->conn, &ignored, "have %s\n", oid_to_hex(oid));
	strbuf_release(&ignored);
	return 0;
}

int transport_fetch(struct transport *t, struct odb *odb, const struct snap_oid *wants,
		    size_t nr, struct transfer_stats *st, struct pruned *pruned, struct strbuf *err)
{
	size_t i;
	int ret = pkt_writef(&t->conn, err, "fetch\n");

	for (i = 0; ret == 0 && i < nr; i++)
		ret = pkt_writef(&t->conn, err, "want %s\n", oid_to_hex(&wants[i]));
	if (ret == 0)
		ret = refs_for_each(odb_store(odb), "refs/", add_have, t, err);
	if (ret == 0)
		ret = pkt_flush(&t->conn, err);
	if (ret == 0)
		ret = receive_objects(&t->conn, odb, st, pruned, err);
	return ret;
}

void transport_report(struct strbuf *out, const struct ref_result *r, size_t nr,
		      const struct transfer_stats *st, const char *verb, int json)
{
	char a[SNAP_OID_HEXSZ + 1], b[SNAP_OID_HEXSZ + 1];
	size_t i;

	if (!json) {
		for (i = 0; i < nr; i++)
			strbuf_addf(out, "%s %s %s %s\n", r[i].status, r[i].name,
				    oid_to_hex_r(a, &r[i].old_oid), oid_to_hex_r(b, &r[i].new_oid));
		strbuf_addf(out, "%s %llu objects, %llu bytes\n", verb,
			    (unsigned long long)st->objects, (unsigned long long)st->bytes);
		return;
	}
	strbuf_addstr(out, "{\"refs\":[");
	for (i = 0; i < nr; i++) {
		strbuf_addstr(out, i ? ",{\"name\":" : "{\"name\":");
		json_add_string(out, r[i].name, strlen(r[i].name));
		strbuf_addf(out, ",\"status\":\"%s\",\"old\":\"%s\",\"new\":\"%s\"}", r[i].status,
			    oid_to_hex_r(a, &r[i].old_oid), oid_to_hex_r(b, &r[i].new_oid));
	}
	strbuf_addf(out, "],\"objects_%s\":%llu,\"bytes_%s\":%llu}\n", verb,
		    (unsigned long long)st->objects, verb, (unsigned long long)st->bytes);
}

/* ---- the server ---- */

struct advert {
	struct pkt_conn *c;
	struct remote_ref *refs;
	size_t nr, alloc;
	int ret;
	struct strbuf *err;
};

static int advertise_ref(const char *name, const struct snap_oid *oid, void *data)
{
	struct advert *a = data;

	if (!oid)
		return 0;
	ALLOC_GROW(a->refs, a->nr + 1, a->alloc);
	a->refs[a->nr].name = xstrdup(name);
	a->refs[a->nr].oid = *oid;
	a->nr++;
	return pkt_writef(a->c, a->err, "ref %s %s\n", oid_to_hex(oid), name);
}

/*
 * Tells the client why, as "refused" (the answer no) or "error", and
 * empties err: the client reports it.
 */
static int tell(struct pkt_conn *c, int ret, struct strbuf *err)
{
	struct strbuf ignored = STRBUF_INIT;

	pkt_writef(c, &ignored, "%s %s\n",
		   ret == SNAP_EEXISTS || ret == SNAP_ELOCKED ? "refused" : "error", err->buf);
	pkt_flush(c, &ignored);
	strbuf_release(&ignored);
	strbuf_reset(err);
	return ret;
}

struct serve_update {
	char *name;
	struct snap_oid old_oid, new_oid;
	int force;
};

static int read_updates(struct pkt_conn *c, struct serve_update **out, size_t *nr,
			struct strbuf *err)
{
	struct strbuf line = STRBUF_INIT;
	size_t alloc = 0;
	int ret;

	while ((ret = read_ctl(c, &line, err)) == 1) {
		struct serve_update u;
		const char *p, *q;
		char *name;

		if (strncmp(line.buf, "update ", 7) || !(p = parse_oid_at(line.buf + 7, &u.old_oid, ' ')) ||
		    !(q = parse_oid_at(p, &u.new_oid, ' ')) || *nr >= TRANSPORT_REFS_MAX) {
			ret = protocol_error(err, "expected 'update <old> <new> <name>'", &line);
			break;
		}
		name = xstrdup(q);
		u.force = 0;
		if (strlen(name) > 6 && !strcmp(name + strlen(name) - 6, " force")) {
			name[strlen(name) - 6] = '\0';
			u.force = 1;
		}
		u.name = name;
		ALLOC_GROW(*out, *nr + 1, alloc);
		(*out)[(*nr)++] = u;
		if ((ret = ref_name_check(name, err)) < 0)
			break;
	}
	strbuf_release(&line);
	return ret;
}

/* What may be refused before any object crosses. */
static int check_update(struct odb *odb, const struct serve_update *u, const struct serve_opts *o,
			struct strbuf *err)
{
	struct snap_oid cur;
	int ret;

	if (o->append_only && oid_is_null(&u->new_oid))
		return snap_error(err, SNAP_EEXISTS, "ref '%s' not deleted: the store is append-only",
				  u->name);
	ret = ref_read(odb_store(odb), u->name, &cur, err);
	if (ret == SNAP_ENOTFOUND) {
		strbuf_reset(err);
		cur = snap_null_oid;
	} else if (ret < 0) {
		return ret;
	}
	if (oid_cmp(&cur, &u->old_oid)) {
		char want[SNAP_OID_HEXSZ + 1];

		return snap_error(err, SNAP_EEXISTS, "ref '%s' moved: expected %s, found %s", u->name,
				  oid_to_hex_r(want, &u->old_oid), oid_to_hex(&cur));
	}
	return 0;
}

/* What is checked once the objects are here: fast-forwards. */
static int check_forward(struct odb *odb, const struct serve_update *u, const struct serve_opts *o,
			 const struct pruned *received, struct strbuf *err)
{
	int ret;

	if (oid_is_null(&u->old_oid) || oid_is_null(&u->new_oid))
		return 0;
	ret = transport_is_ancestor(odb, &u->old_oid, &u->new_oid, received, err);
	if (ret < 0 || ret == 1)
		return ret < 0 ? ret : 0;
	if (o->append_only)
		return snap_error(err, SNAP_EEXISTS,
				  "ref '%s' not updated: not a fast-forward, and the store is append-only",
				  u->name);
	if (!u->force)
		return snap_error(err, SNAP_EEXISTS, "ref '%s' not updated: not a fast-forward", u->name);
	return 0;
}

static int serve_push(struct pkt_conn *c, struct odb *odb, const struct serve_opts *o,
		      struct strbuf *err)
{
	struct serve_update *u = NULL;
	struct transfer_stats st = { 0, 0 };
	struct ref_transaction *tx = NULL;
	struct pruned received = PRUNED_INIT;
	size_t nr = 0, i;
	int ret = read_updates(c, &u, &nr, err);

	for (i = 0; ret == 0 && i < nr; i++)
		ret = check_update(odb, &u[i], o, err);
	if (ret == 0) {
		ret = pkt_writef(c, err, "ready\n");
		if (ret == 0)
			ret = pkt_flush(c, err);
		if (ret < 0)
			goto out;
		ret = receive_objects(c, odb, &st, &received, err);
	}
	for (i = 0; ret == 0 && i < nr; i++)
		ret = check_forward(odb, &u[i], o, &received, err);
	/* All checked: what the sender pruned of what it sent goes on record
	 * just before the refs move (a lost swap then leaves only entries
	 * for snapshots this store does not have). */
	if (ret == 0 && received.nr)
		ret = pruned_add(odb_store(odb), &received, NULL, err);
	if (ret == 0) {
		tx = ref_transaction_begin(odb);
		for (i = 0; ret == 0 && i < nr; i++)
			ret = ref_transaction_add(tx, u[i].name,
						  oid_is_null(&u[i].new_oid) ? NULL : &u[i].new_oid,
						  &u[i].old_oid, 0, "push", err);
		if (ret == 0)
			ret = ref_transaction_prepare(tx, err);
		if (ret == 0)
			ret = ref_transaction_commit(tx, err);
		else
			ref_transaction_abort(tx);
	}
	if (ret == 0) {
		ret = pkt_writef(c, err, "ok\n");
		if (ret == 0)
			ret = pkt_flush(c, err);
	} else if (ret != SNAP_EIO || strncmp(err->buf, "connection closed", 17)) {
		tell(c, ret, err);
	}
out:
	for (i = 0; i < nr; i++)
		free(u[i].name);
	free(u);
	pruned_release(&received);
	return ret;
}

static int serve_fetch(struct pkt_conn *c, struct odb *odb, const struct advert *a,
		       struct strbuf *err)
{
	struct strbuf line = STRBUF_INIT;
	struct snap_oid *wants = NULL, *haves = NULL;
	size_t nr_w = 0, al_w = 0, nr_h = 0, al_h = 0;
	struct transfer_stats st = { 0, 0 };
	int ret;

	while ((ret = read_ctl(c, &line, err)) == 1) {
		struct snap_oid oid;
		int want = !strncmp(line.buf, "want ", 5), have = !strncmp(line.buf, "have ", 5);
		size_t i;

		if ((!want && !have) || !parse_oid_at(line.buf + 5, &oid, '\0') ||
		    nr_w + nr_h >= 2 * TRANSPORT_REFS_MAX) {
			ret = protocol_error(err, "expected 'want <id>' or 'have <id>'", &line);
			break;
		}
		if (have) {
			ALLOC_GROW(haves, nr_h + 1, al_h);
			haves[nr_h++] = oid;
			continue;
		}
		/* Only what a ref names is served, nothing else of the store. */
		for (i = 0; i < a->nr && oid_cmp(&a->refs[i].oid, &oid); i++)
			;
		if (i == a->nr) {
			ret = snap_error(err, SNAP_EINVAL, "'%s' is not the id of a ref", oid_to_hex(&oid));
			break;
		}
		ALLOC_GROW(wants, nr_w + 1, al_w);
		wants[nr_w++] = oid;
	}
	if (ret == 0)
		ret = send_objects(c, odb, wants, nr_w, haves, nr_h, &st, err);
	if (ret < 0 && (ret != SNAP_EIO || strncmp(err->buf, "cannot write", 12)))
		tell(c, ret, err);
	free(wants);
	free(haves);
	strbuf_release(&line);
	return ret;
}

int serve_run(struct odb *odb, int in, int out, const struct serve_opts *o,
	      struct strbuf *err)
{
	struct pkt_conn c;
	struct advert a = { &c, NULL, 0, 0, 0, err };
	struct strbuf line = STRBUF_INIT;
	size_t i;
	int ret;

	signal(SIGPIPE, SIG_IGN);
	pkt_init(&c, in, out);
	ret = pkt_writef(&c, err, "version %d\n", TRANSPORT_VERSION);
	if (ret == 0)
		ret = refs_for_each(odb_store(odb), "refs/", advertise_ref, &a, err);
	if (ret == 0)
		ret = pkt_flush(&c, err);
	if (ret == 0) {
		ret = read_ctl(&c, &line, err);
		if (ret == SNAP_EIO && !strcmp(err->buf, "connection closed")) {
			strbuf_reset(err);
			ret = 0;
		} else if (ret == 1 && !strcmp(line.buf, "push")) {
			ret = serve_push(&c, odb, o, err);
		} else if (ret == 1 && !strcmp(line.buf, "fetch")) {
			ret = serve_fetch(&c, odb, &a, err);
		} else if (ret == 1) {
			ret = tell(&c, snap_error(err, SNAP_EINVAL, "unknown command '%.40s'", line.buf), err);
		}
	}
	for (i = 0; i < a.nr; i++)
		free(a.refs[i].name);
	free(a.refs);
	strbuf_release(&line);
	pkt_release(&c);
	return ret;
}
