/*
 * The multi-pack index; the format is in docs/FORMAT.md ("Multi-pack index").
 */
#include "midx.h"
#include "error.h"
#include "fsio.h"
#include "hash.h"
#include "pack.h"
#include "util.h"
#include "storefs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEADER_SIZE 16
#define FANOUT_SIZE (256 * 4)
#define ENTRY_SIZE 8
#define TRAILER_SIZE 32

static int bad(struct strbuf *err, const char *path, const char *why)
{
	return snap_error(err, SNAP_ECORRUPT, "multi-pack index '%s' is corrupt: %s", path, why);
}

int midx_open(struct midx *m, const char *path, struct strbuf *err)
{
	struct snap_hash_ctx h;
	struct snap_oid sum;
	struct stat st;
	uint64_t want;
	const char *why;
	uint32_t i;
	void *map;
	int fd, ret;

	memset(m, 0, sizeof(*m));
	fd = storefs_open(path, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return errno == ENOENT ? SNAP_ENOTFOUND
				       : snap_error_errno(err, "cannot open '%s'", path);
	if (fstat(fd, &st) < 0) {
		ret = snap_error_errno(err, "cannot stat '%s'", path);
		close(fd);
		return ret;
	}
	if ((uint64_t)st.st_size < HEADER_SIZE + FANOUT_SIZE + TRAILER_SIZE) {
		close(fd);
		return bad(err, path, "too short");
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return snap_error_errno(err, "cannot map '%s'", path);
	m->map = map;
	m->map_len = (size_t)st.st_size;
	if (memcmp(m->map, MIDX_MAGIC, 8) || get_be32(m->map + 8) != MIDX_VERSION) {
		ret = bad(err, path, "bad magic or version");
		goto fail;
	}
	m->nr_packs = get_be32(m->map + 12);
	if ((uint64_t)m->nr_packs * 32 > m->map_len) {
		ret = bad(err, path, "size does not match its counts");
		goto fail;
	}
	m->pack_ids = m->map + HEADER_SIZE;
	m->fanout = m->pack_ids + (size_t)m->nr_packs * 32;
	if ((size_t)(m->fanout - m->map) + FANOUT_SIZE + TRAILER_SIZE > m->map_len) {
		ret = bad(err, path, "size does not match its counts");
		goto fail;
	}
	m->nr = get_be32(m->fanout + 255 * 4);
	m->ids = m->fanout + FANOUT_SIZE;
	m->entries = m->ids + (size_t)m->nr * 32;
	want = HEADER_SIZE + (uint64_t)m->nr_packs * 32 + FANOUT_SIZE +
	       (uint64_t)m->nr * (32 + ENTRY_SIZE) + TRAILER_SIZE;
	if (want != m->map_len) {
		ret = bad(err, path, "size does not match its counts");
		goto fail;
	}
	why = id_table_check(m->fanout, m->ids, m->nr);
	if (why) {
		ret = bad(err, path, why);
		goto fail;
	}
	for (i = 1; i < m->nr_packs; i++)
		if (memcmp(m->pack_ids + (i - 1) * 32, m->pack_ids + (size_t)i * 32, 32) >= 0) {
			ret = bad(err, path, "pack names out of order");
			goto fail;
		}
	for (i = 0; i < m->nr; i++) {
		if (get_be32(m->entries + (size_t)i * ENTRY_SIZE) >= m->nr_packs) {
			ret = bad(err, path, "an entry names no pack");
			goto fail;
		}
	}
	hash_init(&h);
	hash_update(&h, m->map, m->map_len - TRAILER_SIZE);
	hash_final(&h, &sum);
	if (memcmp(sum.hash, m->map + m->map_len - TRAILER_SIZE, 32)) {
		ret = bad(err, path, "checksum mismatch");
		goto fail;
	}
	return 0;
fail:
	midx_close(m);
	return ret;
}

void midx_close(struct midx *m)
{
	if (m->map)
		munmap((void *)m->map, m->map_len);
	memset(m, 0, sizeof(*m));
}

long midx_find(const struct midx *m, const struct snap_oid *oid)
{
	return id_table_find(m->fanout, m->ids, oid);
}

void midx_entry(const struct midx *m, uint32_t i, uint32_t *pack, uint32_t *pos)
{
	const unsigned char *e = m->entries + (size_t)i * ENTRY_SIZE;

	*pack = get_be32(e);
	*pos = get_be32(e + 4);
}

void midx_pack_id(const struct midx *m, uint32_t i, struct snap_oid *id)
{
	memcpy(id->hash, m->pack_ids + (size_t)i * 32, 32);
}

int midx_pack_name(const struct pack *p, struct snap_oid *id)
{
	const char *base = strrchr(p->idx_path, '/');
	size_t len;

	base = base ? base + 1 : p->idx_path;
	len = strlen(base);
	if (len != 5 + SNAP_OID_HEXSZ + 4 || strncmp(base, "pack-", 5))
		return -1;
	return oid_from_hexn(id, base + 5, SNAP_OID_HEXSZ);
}

/* ---- writing ---- */

struct entry {
	struct snap_oid oid;
	uint32_t pack, pos;
};

static int cmp_entry(const void *va, const void *vb)
{
	const struct entry *a = va, *b = vb;
	int c = memcmp(a->oid.hash, b->oid.hash, 32);

	if (c)
		return c;
	return a->pack < b->pack ? -1 : a->pack > b->pack;
}

struct named {
	struct snap_oid id;
	struct pack *p;
};

static int cmp_named(const void *va, const void *vb)
{
	return memcmp(((const struct named *)va)->id.hash, ((const struct named *)vb)->id.hash, 32);
}

/* Appends to out, and writes out to fd when it has grown. */
static int emit(int fd, struct strbuf *out, struct snap_hash_ctx *h, const void *buf,
		size_t len, int flush)
{
	strbuf_add(out, buf, len);
	if (out->len < (1u << 20) && !flush)
		return 0;
	hash_update(h, out->buf, out->len);
	if (fsio_write(fd, out->buf, out->len) < 0)
		return -1;
	strbuf_reset(out);
	return 0;
}

int midx_write(const char *packdir, const char *tmpdir, struct pack *packs,
	       size_t nr, struct strbuf *err)
{
	struct strbuf tmp = STRBUF_INIT, final = STRBUF_INIT, out = STRBUF_INIT;
	struct snap_hash_ctx h;
	struct snap_oid sum;
	struct named *named;
	struct entry *ents;
	unsigned char b4[4], b8[8], fan[FANOUT_SIZE];
	size_t total = 0, n = 0, i, j;
	uint32_t counts[256] = { 0 }, acc = 0;
	int fd, ret = 0;

	named = xcalloc(nr ? nr : 1, sizeof(*named));
	for (i = 0; i < nr; i++) {
		if (midx_pack_name(&packs[i], &named[i].id) < 0) {
			free(named);
			return snap_error(err, SNAP_EINVAL, "pack '%s' is not named by its checksum",
					  packs[i].idx_path);
		}
		named[i].p = &packs[i];
		total += packs[i].nr;
	}
	QSORT(named, nr, cmp_named);
	for (i = 1; i < nr; i++)
		if (!oid_cmp(&named[i - 1].id, &named[i].id))
			BUG("midx_write: one pack given twice");
	if (total > UINT32_MAX) {
		free(named);
		return snap_error(err, SNAP_ETOOBIG, "too many objects for a multi-pack index");
	}
	ents = xcalloc(total ? total : 1, sizeof(*ents));
	for (i = 0; i < nr; i++)
		for (j = 0; j < named[i].p->nr; j++) {
			pack_oid(named[i].p, (uint32_t)j, &ents[n].oid);
			ents[n].pack = (uint32_t)i;
			ents[n++].pos = (uint32_t)j;
		}
	QSORT(ents, n, cmp_entry);
	/* The same object in two packs: keep the first. */
	for (i = j = 0; i < n; i++)
		if (!j || oid_cmp(&ents[j - 1].oid, &ents[i].oid))
			ents[j++] = ents[i];
	n = j;
	for (i = 0; i < n; i++)
		counts[ents[i].oid.hash[0]]++;
	for (i = 0; i < 256; i++) {
		acc += counts[i];
		put_be32(fan + i * 4, acc);
	}

	fd = fsio_mktemp(tmpdir, "midx-", &tmp);
	if (fd < 0) {
		ret = snap_error_errno(err, "cannot create a temporary file in '%s'", tmpdir);
		goto out;
	}
	hash_init(&h);
	strbuf_add(&out, MIDX_MAGIC, 8);
	put_be32(b4, MIDX_VERSION);
	strbuf_add(&out, b4, 4);
	put_be32(b4, (uint32_t)nr);
	strbuf_add(&out, b4, 4);
	for (i = 0; i < nr && ret == 0; i++)
		ret = emit(fd, &out, &h, named[i].id.hash, 32, 0);
	if (ret == 0)
		ret = emit(fd, &out, &h, fan, sizeof(fan), 0);
	for (i = 0; i < n && ret == 0; i++)
		ret = emit(fd, &out, &h, ents[i].oid.hash, 32, 0);
	for (i = 0; i < n && ret == 0; i++) {
		put_be32(b8, ents[i].pack);
		put_be32(b8 + 4, ents[i].pos);
		ret = emit(fd, &out, &h, b8, 8, i + 1 == n);
	}
	if (ret == 0 && out.len)
		ret = emit(fd, &out, &h, "", 0, 1);
	if (ret == 0) {
		hash_final(&h, &sum);
		ret = fsio_write(fd, sum.hash, 32);
	}
	if (ret == 0)
		ret = fsio_fsync(fd);
	if (fsio_close(fd) < 0 && ret == 0)
		ret = -1;
	strbuf_addf(&final, "%s/%s", packdir, MIDX_NAME);
	if (ret == 0)
		ret = fsio_rename(tmp.buf, final.buf);
	if (ret == 0)
		ret = fsio_fsync_dir(packdir);
	if (ret < 0) {
		ret = snap_error_errno(err, "cannot write '%s'", final.buf);
		storefs_unlink(tmp.buf);
	}
out:
	free(named);
	free(ents);
	strbuf_release(&tmp);
	strbuf_release(&final);
	strbuf_release(&out);
	return ret;
}
