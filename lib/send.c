/*
 * The sending side of the transfer protocol: what the receiver lacks,
 * found by a walk and its answers to queries, then sent as a pack
 * (transfer.h; docs/FORMAT.md, "Transfer protocol").
 */
#include "transfer.h"

#include "chunk.h"
#include "error.h"
#include "odb.h"
#include "oidset.h"
#include "progress.h"
#include "pruned.h"
#include "snapshot.h"
#include "transport.h"
#include "util.h"
#include "walk.h"
#include "zio.h"

#include <stdlib.h>
#include <string.h>

/*
 * In version 2 whole objects of up to ZSEND_MAX bytes cross in zbatch
 * records: several objects in one zstd frame, so that what small
 * objects share (the store keeps them in blocks for the same reason)
 * is compressed once.  A batch is sent once it holds ZSEND_BATCH bytes;
 * a larger object (blobs are chunked long before) streams raw, as in
 * version 1.  Level 3: about as fast as 1 on this data, and a tenth
 * smaller.
 */
#define ZSEND_MAX (4u << 20)
#define ZSEND_BATCH (1u << 20)
#define ZSEND_LEVEL 3

/* The zbatch being filled: its objects' records and payloads, raw. */
struct zbatch {
	struct zio_cctx *z;
	struct strbuf raw, frame;
	size_t n;
};

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

/* Sends buf as data frames. */
static int send_data(struct pkt_conn *c, const char *buf, size_t len, struct strbuf *err)
{
	int ret = 0;

	while (ret == 0 && len) {
		size_t n = len < PKT_DATA_MAX ? len : PKT_DATA_MAX;

		ret = pkt_write(c, buf, n, err);
		buf += n;
		len -= n;
	}
	return ret;
}

/* Sends the batch's objects as one zbatch record, if it holds any. */
static int send_batch(struct pkt_conn *c, struct zbatch *b, struct strbuf *err)
{
	int ret;

	if (!b || !b->n)
		return 0;
	strbuf_reset(&b->frame);
	ret = zio_compress(b->z, ZSEND_LEVEL, b->raw.buf, b->raw.len, &b->frame, err);
	if (ret == 0)
		ret = pkt_writef(c, err, "zbatch %zu %zu %zu\n", b->n, b->raw.len, b->frame.len);
	if (ret == 0)
		ret = send_data(c, b->frame.buf, b->frame.len, err);
	strbuf_reset(&b->raw);
	b->n = 0;
	return ret;
}

/*
 * Sends one object's payload: into the batch b (version 2) when its size
 * suits, else its own header frame, then data frames.
 */
static int send_whole(struct pkt_conn *c, struct odb *odb, const struct send_item *it,
		      char *buf, struct zbatch *b, struct transfer_stats *st, struct strbuf *err)
{
	struct odb_stream *s;
	enum object_type type;
	uint64_t size, sent = 0;
	int ret = odb_stream_open(odb, &it->oid, &s, &type, &size, err), batched;

	if (ret < 0)
		return ret;
	batched = b && size <= ZSEND_MAX;
	if (batched)
		strbuf_addf(&b->raw, "%s %s %llu\n", oid_to_hex(&it->oid), type_name(type),
			    (unsigned long long)size);
	else if ((ret = send_batch(c, b, err)) == 0)
		ret = pkt_writef(c, err, "object %s %s %llu\n", oid_to_hex(&it->oid),
				 type_name(type), (unsigned long long)size);
	while (ret == 0) {
		size_t got;

		ret = odb_stream_read(s, buf, PKT_DATA_MAX, &got, err);
		if (ret < 0 || got == 0)
			break;
		if (sent + got > size) {
			ret = snap_error(err, SNAP_ECORRUPT, "object %s is longer than its header says",
					 oid_to_hex(&it->oid));
			break;
		}
		if (batched)
			strbuf_add(&b->raw, buf, got);
		else
			ret = pkt_write(c, buf, got, err);
		sent += got;
	}
	odb_stream_close(s);
	if (ret == 0 && sent != size)
		ret = snap_error(err, SNAP_ECORRUPT, "object %s is shorter than its header says",
				 oid_to_hex(&it->oid));
	if (ret == 0 && batched) {
		b->n++;
		if (b->raw.len >= ZSEND_BATCH)
			ret = send_batch(c, b, err);
	}
	if (ret == 0) {
		st->objects++;
		st->bytes += size;
	}
	return ret;
}

/* Sends one record: a chunk list as it is, any other object whole. */
static int send_item(struct pkt_conn *c, struct odb *odb, const struct send_item *it,
		     int lists, char *buf, struct zbatch *b, struct transfer_stats *st,
		     struct strbuf *err)
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
		return send_whole(c, odb, it, buf, b, st, err);
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

int transfer_send(struct pkt_conn *c, struct odb *odb, int version,
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
	struct zbatch b = { NULL, STRBUF_INIT, STRBUF_INIT, 0 }, *bp = NULL;
	struct progress *meter;
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
		while (ret == 0 && (ret = transfer_read_ctl(c, &line, err)) == 1) {
			struct snap_oid oid;

			ret = 0;
			if (strncmp(line.buf, "missing ", 8) ||
			    !transfer_parse_oid(line.buf + 8, &oid, '\0')) {
				ret = transfer_protocol_error(err, "expected 'missing <id>'", &line);
				break;
			}
			while (next < end && oid_cmp(&s.v[next].oid, &oid))
				next++;
			if (next == end) {
				ret = transfer_protocol_error(err, "an id not asked about, or out of order", &line);
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
	if (version >= 2)
		bp = &b;
	b.z = bp ? zio_cctx_new() : NULL;
	ret = pkt_writef(c, err, "pack %zu\n", nr_missing);
	meter = progress_start("objects", nr_missing);
	for (i = s.nr; i-- > 0 && ret == 0;)
		if (s.v[i].missing) {
			ret = send_item(c, odb, &s.v[i], 0, buf, bp, st, err);
			progress_update(meter, st->objects, st->bytes);
		}
	/* Chunk lists come after every chunk. */
	if (ret == 0)
		ret = send_batch(c, bp, err);
	for (i = s.nr; i-- > 0 && ret == 0;)
		if (s.v[i].missing) {
			ret = send_item(c, odb, &s.v[i], 1, buf, NULL, st, err);
			progress_update(meter, st->objects, st->bytes);
		}
	if (ret == 0)
		ret = pkt_flush(c, err);
	progress_done(meter);
out:
	if (b.z)
		zio_cctx_free(b.z);
	strbuf_release(&b.raw);
	strbuf_release(&b.frame);
	free(buf);
	free(have);
	free(s.v);
	strbuf_release(&s.problem);
	strbuf_release(&line);
	oidset_clear(&seen);
	pruned_release(&pr);
	return ret;
}
