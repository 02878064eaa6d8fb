#ifndef SNAP_MIDX_H
#define SNAP_MIDX_H

/*
 * The multi-pack index (docs/FORMAT.md, "Multi-pack index"): one sorted
 * table of the ids of every object in a set of packs, with the pack and
 * the position in that pack's own index where each is, so that a lookup
 * costs one binary search however many packs there are.
 *
 *   objects/pack/multi-pack-index
 *
 * It is only ever a shortcut: the object database checks every hit
 * against the pack's own index, ignores an index that names a pack it
 * does not have (gc removed it since), and searches packs the index does
 * not cover one by one.  A damaged index therefore costs speed, never a
 * wrong answer; its checksum is verified when it is opened, so that it
 * cannot hide an object either.  It is used through mmap.
 */

#include <stddef.h>
#include <stdint.h>
#include "oid.h"
#include "strbuf.h"

#define MIDX_MAGIC "SNAPMIDX"
#define MIDX_VERSION 1
#define MIDX_NAME "multi-pack-index"

struct pack;

struct midx {
	const unsigned char *map;
	size_t map_len;
	uint32_t nr_packs, nr;
	const unsigned char *pack_ids;	/* nr_packs x 32: the packs' names, sorted */
	const unsigned char *fanout;	/* 256 big-endian u32 */
	const unsigned char *ids;	/* nr x 32, strictly increasing */
	const unsigned char *entries;	/* nr x (pack u32, position u32) */
};

/*
 * Maps path and checks it whole: magic, version, sizes, the fan-out, the
 * order of pack names and ids, every pack number, the checksum.
 * SNAP_ENOTFOUND when there is none; SNAP_ECORRUPT naming what is wrong.
 */
int midx_open(struct midx *m, const char *path, struct strbuf *err);
void midx_close(struct midx *m);

/* The index of oid among m's ids, or -1. */
long midx_find(const struct midx *m, const struct snap_oid *oid);
/* Which of m's packs holds entry i, and at which position of its index. */
void midx_entry(const struct midx *m, uint32_t i, uint32_t *pack, uint32_t *pos);
/* The name (checksum) of m's pack i. */
void midx_pack_id(const struct midx *m, uint32_t i, struct snap_oid *id);

/*
 * The checksum a pack's files are named by ("pack-<hex>.idx").
 * Returns 0, or -1 for a path not of that form.
 */
int midx_pack_name(const struct pack *p, struct snap_oid *id);

/*
 * Writes the index of packs[0..nr) to packdir/multi-pack-index: built in
 * a temporary file in tmpdir (on the same filesystem), fsynced, renamed
 * into place, the directory fsynced.  An object in several packs is
 * listed once.
 */
int midx_write(const char *packdir, const char *tmpdir, struct pack *packs,
	       size_t nr, struct strbuf *err);

#endif
