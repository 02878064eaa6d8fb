/*
 * The object database: opening and closing it, whether an object is
 * there, iteration and prefix lookup, damage notes, and the ids known bad.
 * The rest lives beside it (odb-internal.h lists the files); formats are
 * in docs/FORMAT.md.
 */
#include "badlist.h"
#include "odb-internal.h"
#include "error.h"
#include "session.h"
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define IO_BUF (256 * 1024)

/* Notes a damaged file for odb_damaged(). */
__attribute__((format(printf, 2, 3)))
void note_damage(struct odb *odb, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	ALLOC_GROW(odb->damage, odb->nr_damage + 1, odb->alloc_damage);
	odb->damage[odb->nr_damage++] = strbuf_detach(&sb, NULL);
}

void drop_damage(struct odb *odb, size_t keep)
{
	while (odb->nr_damage > keep)
		free(odb->damage[--odb->nr_damage]);
}

size_t odb_nr_damaged(struct odb *odb)
{
	return odb->nr_damage;
}

const char *odb_damaged(struct odb *odb, size_t i)
{
	return odb->damage[i];
}

int odb_open(struct odb **out, struct snap_store *store, struct strbuf *err)
{
	struct odb *odb = xcalloc(1, sizeof(*odb));
	struct oidmap pending = OIDMAP_INIT(struct pending);
	int ret;

	odb->store = store;
	odb->pending = pending;
	strbuf_init(&odb->path, 0);
	pthread_mutex_init(&odb->dctx_lock, NULL);
	pthread_mutex_init(&odb->block_lock, NULL);
	pthread_mutex_init(&odb->bad_lock, NULL);
	pthread_mutex_init(&odb->late_lock, NULL);
	ret = load_packs(odb, err);
	if (ret < 0) {
		odb_close(odb);
		return ret;
	}
	load_midx(odb);
	/* What fsck found bad is known bad to this process's writers. */
	badlist_read(store, &odb->bad);
	*out = odb;
	return 0;
}

void odb_close(struct odb *odb)
{
	if (!odb)
		return;
	if (odb->bulk)
		bulk_stop(odb, NULL);
	session_end(odb->session);
	drop_pending(odb);
	drop_loose_cache(odb);
	pack_writer_abort(odb->pw);
	drop_midx(odb);
	while (odb->nr_packs)
		pack_close(&odb->packs[--odb->nr_packs]);
	free(odb->packs);
	drop_damage(odb, 0);
	free(odb->damage);
	zio_cctx_free(odb->cctx);
	zio_cctx_free(odb->list_cctx);
	blocks_release(odb);
	oidset_clear(&odb->bad);
	oidset_clear(&odb->rewritten);
	pthread_mutex_destroy(&odb->bad_lock);
	while (odb->late) {
		struct late_pack *l = odb->late;

		odb->late = l->next;
		pack_close(&l->p);
		free(l);
	}
	pthread_mutex_destroy(&odb->late_lock);
	strbuf_release(&odb->path);
	free(odb);
}

struct snap_store *odb_store(struct odb *odb)
{
	return odb->store;
}

void odb_loose_path(struct odb *odb, const struct snap_oid *oid,
		    struct strbuf *out)
{
	char hex[SNAP_OID_HEXSZ + 1];

	oid_to_hex_r(hex, oid);
	strbuf_reset(out);
	strbuf_addf(out, "%s/objects/%.2s/%s", odb->store->path, hex, hex + 2);
}

/* The packs from the one the last hinted lookup found an id in, in turn. */
static struct pack *find_packed_hinted(struct odb *odb, const struct snap_oid *oid,
				       uint32_t *pos)
{
	size_t i, n = odb->nr_packs;

	for (i = 0; i < n; i++) {
		size_t k = (odb->freshen_hint + i) % n;
		long at = pack_find(&odb->packs[k], oid);

		if (at >= 0) {
			odb->freshen_hint = k;
			*pos = (uint32_t)at;
			return &odb->packs[k];
		}
	}
	return NULL;
}

enum odb_where odb_locate(struct odb *odb, const struct snap_oid *oid, unsigned flags,
			  struct pack **p, struct strbuf *err)
{
	struct pack *found = NULL;
	uint32_t pos = 0;

	if (pending_has(odb, oid))
		return ODB_PENDING;
	if (bulk_has(odb->bulk, oid))
		return ODB_QUEUED;
	if (flags & LOCATE_PACKS_HINTED)
		found = find_packed_hinted(odb, oid, &pos);
	else if (flags & LOCATE_PACKS)
		found = find_packed(odb, oid, &pos);
	if (found) {
		if (p)
			*p = found;
		return ODB_PACKED;
	}
	if ((flags & LOCATE_LOOSE_LISTED) && loose_cached(odb, oid, err))
		return ODB_LOOSE;
	if (flags & LOCATE_LOOSE) {
		struct strbuf path = STRBUF_INIT;
		struct stat st;
		int there;

		odb_loose_path(odb, oid, &path);
		there = lstat(path.buf, &st) == 0 && S_ISREG(st.st_mode);
		strbuf_release(&path);
		if (there)
			return ODB_LOOSE;
	}
	return ODB_ABSENT;
}

int odb_has(struct odb *odb, const struct snap_oid *oid)
{
	return odb_locate(odb, oid, LOCATE_PACKS | LOCATE_LOOSE, NULL, NULL) != ODB_ABSENT;
}

void note_bad(struct odb *odb, const struct snap_oid *oid)
{
	pthread_mutex_lock(&odb->bad_lock);
	oidset_insert(&odb->bad, oid);
	pthread_mutex_unlock(&odb->bad_lock);
}

/* 1 if every copy of oid failed a read in this process, and it has not
 * been written again since. */
int known_bad(struct odb *odb, const struct snap_oid *oid)
{
	int ret;

	pthread_mutex_lock(&odb->bad_lock);
	ret = oidset_contains(&odb->bad, oid) && !oidset_contains(&odb->rewritten, oid);
	pthread_mutex_unlock(&odb->bad_lock);
	return ret;
}

int odb_read_header(struct odb *odb, const struct snap_oid *oid,
		    enum object_type *type, uint64_t *size, struct strbuf *err)
{
	return odb_read_info(odb, oid, type, size, NULL, err);
}

int odb_read_info(struct odb *odb, const struct snap_oid *oid,
		  enum object_type *type, uint64_t *size, int *chunked,
		  struct strbuf *err)
{
	struct odb_stream *st;
	struct pack_record r;
	struct pack *p;
	struct strbuf path = STRBUF_INIT;
	uint32_t pos;
	int ret, loose;

	odb_loose_path(odb, oid, &path);
	loose = access(path.buf, F_OK) == 0;
	strbuf_release(&path);
	if (!loose && (p = find_packed(odb, oid, &pos))) {
		pack_record(p, pos, &r);
		if (type)
			*type = r.type;
		if (size)
			*size = r.size;
		if (chunked)
			*chunked = 0;
		return 0;
	}
	ret = odb_stream_open(odb, oid, &st, type, size, err);
	if (ret == 0) {
		if (chunked)
			*chunked = odb_stream_chunked(st);
		odb_stream_close(st);
	}
	return ret;
}

/*
 * Whether a writer may keep the copy of oid the store has instead of
 * writing it again (odb.h, "Known bad"): not when every copy failed a
 * read in this process, nor, for a write outside a batch, when reading
 * it through now fails.  A copy that is not kept is written again; that
 * is noted, so that the id is written once, not by every later writer.
 */
int reusable(struct odb *odb, const struct snap_oid *oid)
{
	struct odb_stream *st;
	char *buf;
	size_t got;
	int ret;

	if (!known_bad(odb, oid) && !odb->verify_writes)
		return 1;
	if (!known_bad(odb, oid)) {
		ret = odb_stream_open(odb, oid, &st, NULL, NULL, NULL);
		if (ret == 0) {
			buf = xmalloc(IO_BUF);
			do
				ret = odb_stream_read(st, buf, IO_BUF, &got, NULL);
			while (ret == 0 && got);
			free(buf);
			odb_stream_close(st);
		}
		if (ret == 0 || ret == SNAP_ENOTFOUND)
			return ret == 0;
	}
	pthread_mutex_lock(&odb->bad_lock);
	oidset_insert(&odb->bad, oid);
	oidset_insert(&odb->rewritten, oid);
	pthread_mutex_unlock(&odb->bad_lock);
	return 0;
}

static int cmp_oid(const void *a, const void *b)
{
	return oid_cmp(a, b);
}

int odb_for_each(struct odb *odb, odb_each_fn fn, void *data,
		 struct strbuf *err)
{
	struct snap_oid *all = NULL;
	size_t nr = 0, alloc = 0, i, j;
	unsigned shard;
	int ret = 0;

	for (i = 0; i < odb->nr_packs; i++) {
		const struct pack *p = &odb->packs[i];
		ALLOC_GROW(all, nr + p->nr, alloc);
		for (j = 0; j < p->nr; j++)
			pack_oid(p, (uint32_t)j, &all[nr++]);
	}
	for (shard = 0; shard < 256 && ret == 0; shard++) {
		char **names;
		size_t nn;

		ret = list_shard(odb, shard, "", &names, &nn, err);
		if (ret < 0)
			break;
		ALLOC_GROW(all, nr + nn, alloc);
		for (i = 0; i < nn; i++)
			shard_oid(&all[nr++], shard, names[i]);
		free_names(names, nn);
	}
	if (ret == 0)
		QSORT(all, nr, cmp_oid);
	for (i = 0; ret == 0 && i < nr; i++)
		if (!i || oid_cmp(&all[i - 1], &all[i]))
			ret = fn(&all[i], data);
	free(all);
	return ret;
}

int odb_resolve_prefix(struct odb *odb, const char *hex, size_t len,
		       struct snap_oid *oid, struct strbuf *err)
{
	char lower[SNAP_OID_HEXSZ + 1];
	char **names;
	size_t nr, i, matches;
	unsigned shard;
	int ret;

	if (len < SNAP_OID_MINPREFIX || len > SNAP_OID_HEXSZ || !is_hex(hex, len))
		return snap_error(err, SNAP_EINVAL,
				  "'%.*s' is not an object name (4 to 64 hex digits)",
				  (int)(len > 80 ? 80 : len), hex);
	for (i = 0; i < len; i++)
		lower[i] = (char)(hex[i] >= 'A' && hex[i] <= 'F' ? hex[i] + 32 : hex[i]);
	lower[len] = '\0';
	if (len == SNAP_OID_HEXSZ) {
		oid_from_hex(oid, lower);
		/* A name the user gave: worth a look at packs gc made since. */
		if (odb_has_now(odb, oid))
			return 0;
		return snap_error(err, SNAP_ENOTFOUND, "object '%s' not found", lower);
	}
	shard = (unsigned)strtoul((char[]){ lower[0], lower[1], 0 }, NULL, 16);
	ret = list_shard(odb, shard, lower + 2, &names, &nr, err);
	if (ret < 0)
		return ret;
	/* The same object may be loose and in several packs: count ids. */
	{
		struct snap_oid *found = NULL;
		size_t nf = 0, af = 0;

		ALLOC_GROW(found, nr, af);
		for (i = 0; i < nr; i++)
			shard_oid(&found[nf++], shard, names[i]);
		for (i = 0; i < odb->nr_packs; i++) {
			uint32_t first, count, k;

			pack_prefix_range(&odb->packs[i], lower, len, &first, &count);
			ALLOC_GROW(found, nf + count, af);
			for (k = 0; k < count; k++)
				pack_oid(&odb->packs[i], first + k, &found[nf++]);
		}
		QSORT(found, nf, cmp_oid);
		for (i = 0, matches = 0; i < nf; i++)
			if (!i || oid_cmp(&found[i - 1], &found[i]))
				matches++;
		if (nf)
			*oid = found[0];
		free(found);
	}
	if (matches == 0)
		ret = snap_error(err, SNAP_ENOTFOUND, "no object matches '%s'", lower);
	else if (matches > 1)
		ret = snap_error(err, SNAP_EAMBIGUOUS,
				 "short object name '%s' is ambiguous (%zu objects match)",
				 lower, matches);
	free_names(names, nr);
	return ret;
}

int odb_has_now(struct odb *odb, const struct snap_oid *oid)
{
	uint32_t pos;

	return odb_has(odb, oid) || late_find(odb, oid, &pos) != NULL;
}
