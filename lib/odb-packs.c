/*
 * The odb's pack set: loading the packs and the multi-pack index, lookups,
 * packs that appeared since they were loaded, reloads, and writing and
 * checking the multi-pack index.
 */
#include "odb-internal.h"
#include "error.h"
#include "util.h"
#include "storefs.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int file_exists(const char *path)
{
	struct stat st;

	return storefs_lstat(path, &st) == 0;
}

/*
 * Maps a pack's index and opens the pack.  SNAP_ENOTFOUND when a file
 * has gone because gc replaced the pack after its name was read.  gc
 * takes an index away before its pack and puts a pack back before its
 * index, so an index still there whose pack is not is damage, not a race.
 * Damage costs the objects it takes and no more (odb.h): an index that
 * cannot be read or fails its checks is replaced by a scan of its pack;
 * a pack that cannot be opened is left out, its objects absent.  Either
 * is noted for odb_damaged().
 */
int add_pack(struct odb *odb, const char *idx_path, struct strbuf *err)
{
	struct strbuf why = STRBUF_INIT, why2 = STRBUF_INIT;
	struct pack *p;
	struct stat st;
	int ret = 0, r;

	(void)err;
	ALLOC_GROW(odb->packs, odb->nr_packs + 1, odb->alloc_packs);
	p = &odb->packs[odb->nr_packs];
	r = pack_open(p, idx_path, &why);
	if (r < 0) {
		if (r == SNAP_ENOTFOUND && !file_exists(idx_path)) {
			ret = SNAP_ENOTFOUND;
			goto out;
		}
		r = pack_scan(p, idx_path, &why2);
		if (r < 0) {
			if (r == SNAP_ENOTFOUND && !file_exists(idx_path))
				ret = SNAP_ENOTFOUND;
			else
				note_damage(odb, "%s; its pack cannot be read either: %s",
					    why.buf, why2.buf);
			goto out;
		}
		note_damage(odb, "%s; its pack is read by a scan", why.buf);
	} else if ((r = pack_fd(p, &why2)) < 0) {
		/* Opened now, so that readers on several threads share it. */
		int gone = r == SNAP_ENOTFOUND;

		/* Put back by gc in between (pack first, then index)? */
		if (gone && file_exists(idx_path)) {
			strbuf_reset(&why2);
			r = pack_fd(p, &why2);
			gone = r < 0 ? r == SNAP_ENOTFOUND : -1;
		}
		if (gone >= 0) {
			if (gone && !file_exists(idx_path))
				ret = SNAP_ENOTFOUND;
			else
				note_damage(odb, "%s; its objects are unavailable", why2.buf);
			pack_close(p);
			goto out;
		}
	}
	if (fstat(p->fd, &st) == 0) {
		p->file_size = (uint64_t)st.st_size;
		if (!p->scanned && p->file_size < p->pack_size)
			note_damage(odb, "pack '%s' is truncated (%llu bytes, its index says %llu)",
				    p->pack_path, (unsigned long long)p->file_size,
				    (unsigned long long)p->pack_size);
	} else {
		p->file_size = p->pack_size;
	}
	odb->nr_packs++;
out:
	strbuf_release(&why);
	strbuf_release(&why2);
	return ret;
}

/* Maps the index of every pack in objects/pack, in name order. */
static int load_packs_once(struct odb *odb, struct strbuf *err)
{
	char **paths;
	size_t nr, i;
	int ret;

	ret = store_list(odb->store, "objects/pack", "pack-", ".idx", &paths, &nr, err);
	for (i = 0; i < nr; i++) {
		if (ret == 0)
			ret = add_pack(odb, paths[i], err);
		free(paths[i]);
	}
	free(paths);
	return ret;
}

/*
 * gc makes a merged pack durable before it deletes the packs it replaces,
 * so a pack that vanished between readdir() and open() means a newer pack
 * holds its objects: drop what was loaded and read the directory again.
 */
#define LOAD_PACKS_TRIES 20
int load_packs(struct odb *odb, struct strbuf *err)
{
	size_t base = odb->nr_packs, keep = err ? err->len : 0, damaged = odb->nr_damage;
	int tries, ret = 0;

	for (tries = 0; tries < LOAD_PACKS_TRIES; tries++) {
		ret = load_packs_once(odb, err);
		if (ret != SNAP_ENOTFOUND)
			return ret;
		while (odb->nr_packs > base)
			pack_close(&odb->packs[--odb->nr_packs]);
		drop_damage(odb, damaged);
		if (err)
			strbuf_setlen(err, keep);
	}
	return load_packs_once(odb, err);
}

void drop_midx(struct odb *odb)
{
	size_t i;

	midx_close(&odb->midx);
	free(odb->midx_pack);
	odb->midx_pack = NULL;
	odb->have_midx = 0;
	for (i = 0; i < odb->nr_packs; i++)
		odb->packs[i].in_midx = 0;
}

/*
 * Maps objects/pack/multi-pack-index when every pack it names is loaded
 * (else gc has replaced some since, and it is left unused: the packs are
 * searched one by one until it is written again).  Both lists are sorted
 * by name.  A missing or damaged index is not an error: it only saves time.
 */
void load_midx(struct odb *odb)
{
	struct strbuf path = STRBUF_INIT;
	size_t k = 0;
	uint32_t i;

	drop_midx(odb);
	store_path(odb->store, &path, "objects/pack/" MIDX_NAME);
	if (midx_open(&odb->midx, path.buf, NULL) < 0) {
		strbuf_release(&path);
		return;
	}
	strbuf_release(&path);
	odb->midx_pack = xcalloc(odb->midx.nr_packs ? odb->midx.nr_packs : 1,
				 sizeof(*odb->midx_pack));
	for (i = 0; i < odb->midx.nr_packs; i++) {
		struct snap_oid want, have;

		midx_pack_id(&odb->midx, i, &want);
		while (k < odb->nr_packs &&
		       (midx_pack_name(&odb->packs[k], &have) < 0 || oid_cmp(&have, &want) < 0))
			k++;
		if (k == odb->nr_packs || oid_cmp(&have, &want)) {
			drop_midx(odb);
			return;
		}
		odb->midx_pack[i] = (uint32_t)k;
		/* A scanned index has other positions: search it on its own. */
		odb->packs[k].in_midx = !odb->packs[k].scanned;
	}
	odb->have_midx = 1;
}

/*
 * The pack holding oid and its position there, or NULL: through the
 * multi-pack index, then the packs it does not cover.  A hit that the
 * pack's own index does not confirm sends the lookup through every pack.
 */
struct pack *find_packed(struct odb *odb, const struct snap_oid *oid,
			 uint32_t *pos)
{
	int all = !odb->have_midx;
	size_t i;

	if (odb->have_midx) {
		long at = midx_find(&odb->midx, oid);
		if (at >= 0) {
			uint32_t mp, mpos;
			struct pack *p;

			midx_entry(&odb->midx, (uint32_t)at, &mp, &mpos);
			p = &odb->packs[odb->midx_pack[mp]];
			if (mpos < p->nr && !memcmp(p->ids + (size_t)mpos * 32, oid->hash, 32)) {
				*pos = mpos;
				return p;
			}
			all = 1;
		}
	}
	for (i = 0; i < odb->nr_packs; i++) {
		if (odb->packs[i].in_midx && !all)
			continue;
		long at = pack_find(&odb->packs[i], oid);
		if (at >= 0) {
			*pos = (uint32_t)at;
			return &odb->packs[i];
		}
	}
	return NULL;
}

static int pack_known(struct odb *odb, const char *idx_path)
{
	struct late_pack *l;
	size_t i;

	for (i = 0; i < odb->nr_packs; i++)
		if (!strcmp(odb->packs[i].idx_path, idx_path))
			return 1;
	for (l = odb->late; l; l = l->next)
		if (!strcmp(l->p.idx_path, idx_path))
			return 1;
	return 0;
}

/*
 * The pack holding oid among those that appeared since the pack set was
 * loaded, opening any new one; NULL if none holds it.
 */
struct pack *late_find(struct odb *odb, const struct snap_oid *oid, uint32_t *pos)
{
	struct strbuf dir = STRBUF_INIT, idx = STRBUF_INIT, err = STRBUF_INIT;
	struct pack *found = NULL;
	struct late_pack *l;
	struct dirent *de;
	DIR *d;
	long at;

	pthread_mutex_lock(&odb->late_lock);
	store_path(odb->store, &dir, "objects/pack");
	d = storefs_opendir(dir.buf);
	while (d && (de = readdir(d))) {
		size_t n = strlen(de->d_name);

		if (n < 5 || strcmp(de->d_name + n - 4, ".idx"))
			continue;
		strbuf_reset(&idx);
		strbuf_addf(&idx, "%s/%s", dir.buf, de->d_name);
		if (pack_known(odb, idx.buf))
			continue;
		l = xcalloc(1, sizeof(*l));
		strbuf_reset(&err);
		if (pack_open(&l->p, idx.buf, &err) < 0) {
			free(l);
			continue;
		}
		/* Damage the pack set left out (its pack gone, unreadable) stays out. */
		if (pack_fd(&l->p, &err) < 0) {
			pack_close(&l->p);
			free(l);
			continue;
		}
		l->next = odb->late;
		odb->late = l;
	}
	if (d)
		closedir(d);
	for (l = odb->late; l && !found; l = l->next)
		if ((at = pack_find(&l->p, oid)) >= 0) {
			found = &l->p;
			*pos = (uint32_t)at;
		}
	pthread_mutex_unlock(&odb->late_lock);
	strbuf_release(&dir);
	strbuf_release(&idx);
	strbuf_release(&err);
	return found;
}

/*
 * Writes the multi-pack index again once more than MIDX_UNCOVERED_MAX
 * packs are outside it, so that lookups stay one binary search between
 * gc runs.  Its failure only leaves lookups slower: a batch that stored
 * its objects has succeeded.
 */
#define MIDX_UNCOVERED_MAX 8
void refresh_midx(struct odb *odb)
{
	size_t i, uncovered = 0;

	for (i = 0; i < odb->nr_packs; i++)
		uncovered += !odb->packs[i].in_midx;
	if (uncovered > MIDX_UNCOVERED_MAX)
		odb_write_midx(odb, NULL);
}

uint64_t odb_locality(struct odb *odb, const struct snap_oid *oid)
{
	struct pack_record r;
	struct pack *p;
	uint32_t pos;

	p = find_packed(odb, oid, &pos);
	if (!p)
		return 0;
	pack_record(p, pos, &r);
	return ((uint64_t)(p - odb->packs) + 1) << 40 | (r.offset & ((1ull << 40) - 1));
}

uint64_t odb_stored_size(struct odb *odb, const struct snap_oid *oid, uint64_t *frame)
{
	struct strbuf path = STRBUF_INIT;
	struct pack_record r;
	struct stat st;
	struct pack *p;
	uint32_t pos;
	uint64_t n = 0;

	*frame = 0;
	if ((p = find_packed(odb, oid, &pos))) {
		pack_record(p, pos, &r);
		if (r.shared)
			*frame = odb_locality(odb, oid);
		return r.length;
	}
	odb_loose_path(odb, oid, &path);
	if (storefs_lstat(path.buf, &st) == 0 && S_ISREG(st.st_mode))
		n = (uint64_t)st.st_size;
	strbuf_release(&path);
	return n;
}

size_t odb_nr_packs(struct odb *odb)
{
	return odb->nr_packs;
}

struct pack *odb_pack(struct odb *odb, size_t i)
{
	return &odb->packs[i];
}

int odb_reload_packs(struct odb *odb, struct strbuf *err)
{
	int ret;

	drop_midx(odb);
	while (odb->nr_packs)
		pack_close(&odb->packs[--odb->nr_packs]);
	drop_damage(odb, 0);
	ret = load_packs(odb, err);
	if (ret == 0)
		load_midx(odb);
	return ret;
}

int odb_write_midx(struct odb *odb, struct strbuf *err)
{
	struct strbuf packdir = STRBUF_INIT, tmpdir = STRBUF_INIT;
	int ret;

	store_path(odb->store, &packdir, "objects/pack");
	store_path(odb->store, &tmpdir, "objects/tmp");
	drop_midx(odb);
	ret = midx_write(packdir.buf, tmpdir.buf, odb->packs, odb->nr_packs, err);
	load_midx(odb);
	strbuf_release(&packdir);
	strbuf_release(&tmpdir);
	return ret;
}

int odb_verify_midx(struct odb *odb, struct strbuf *err)
{
	uint32_t i;

	if (!odb->have_midx)
		return 0;
	for (i = 0; i < odb->midx.nr; i++) {
		uint32_t mp, pos;
		const struct pack *p;

		midx_entry(&odb->midx, i, &mp, &pos);
		p = &odb->packs[odb->midx_pack[mp]];
		if (pos >= p->nr || memcmp(p->ids + (size_t)pos * 32, odb->midx.ids + (size_t)i * 32, 32))
			return snap_error(err, SNAP_ECORRUPT,
					  "multi-pack index entry %u does not match pack '%s'",
					  i, p->idx_path);
	}
	return 0;
}
