/*
 * The packs of an rclone remote (docs/FORMAT.md, "Object storage
 * layout"): their indexes, cached under the store's cache/ and checked
 * before each use, the .lists files of chunked blobs, and reading objects
 * out of a downloaded pack, verified.  Push and fetch over them are
 * lib/rclonexfer.c.
 */
#include "rclonepack.h"

#include "error.h"
#include "fsio.h"
#include "hash.h"
#include "object.h"
#include "store.h"
#include "util.h"
#include "storefs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#define LISTS_MAGIC "snap-lists 1\n"

void rclone_random_hex(char *out, size_t bytes)
{
	unsigned char rnd[32];
	size_t i;

	if (bytes > sizeof(rnd))
		BUG("rclone_random_hex: %zu bytes", bytes);
	if (getrandom(rnd, bytes, 0) != (ssize_t)bytes)
		BUG("getrandom failed: %s", strerror(errno));
	for (i = 0; i < bytes; i++)
		snprintf(out + 2 * i, 3, "%02x", rnd[i]);
}

void rclone_cache_dir(const struct rclone_remote *r, struct strbuf *dir)
{
	struct snap_hash_ctx h;
	struct snap_oid key;

	hash_init(&h);
	hash_update(&h, r->url, strlen(r->url));
	hash_final(&h, &key);
	store_path(r->store, dir, "cache/rclone/%.32s", oid_to_hex(&key));
}

void rclone_tmp_path(const struct rclone_remote *r, struct strbuf *path, const char *name)
{
	char rnd[17];

	rclone_random_hex(rnd, 8);
	store_path(r->store, path, "objects/tmp/rclone-%s-%s", rnd, name);
}

int rclone_download(const struct rclone_remote *r, const char *rel, const char *local,
		    uint64_t size, struct strbuf *err)
{
	struct strbuf path = STRBUF_INIT;
	const char *args[4] = { "copyto", NULL, local, NULL };
	struct stat st;
	int ret;

	rclone_path(r, &path, rel);
	args[1] = path.buf;
	ret = rclone_run(args, -1, NULL, 0, err);
	if (ret == 0 && stat(local, &st) < 0)
		ret = snap_error_errno(err, "rclone copyto '%s': no '%s' after it", path.buf, local);
	if (ret == 0 && (uint64_t)st.st_size != size)
		ret = snap_error(err, SNAP_ECORRUPT, "'%s' of '%s' came with %lld bytes, not the %llu listed",
				 rel, r->url, (long long)st.st_size, (unsigned long long)size);
	if (ret < 0)
		storefs_unlink(local);
	strbuf_release(&path);
	return ret;
}

/* ---- the .lists files ---- */

void rclone_lists_encode(const struct rclone_list_in *v, size_t nr, struct strbuf *out)
{
	struct snap_hash_ctx h;
	struct snap_oid sum;
	size_t i, k;

	strbuf_addstr(out, LISTS_MAGIC);
	for (i = 0; i < nr; i++) {
		strbuf_addf(out, "%s %llu %zu\n", oid_to_hex(&v[i].oid), (unsigned long long)v[i].size,
			    v[i].nr);
		for (k = 0; k < v[i].nr; k++)
			strbuf_addf(out, "%s %llu\n", oid_to_hex(&v[i].chunks[k]),
				    (unsigned long long)v[i].sizes[k]);
	}
	hash_init(&h);
	hash_update(&h, out->buf, out->len);
	hash_final(&h, &sum);
	strbuf_addf(out, "end %zu %s\n", nr, oid_to_hex(&sum));
}

/* One "<id> <number>[ <number>]" line; the rest of the line after p. */
static const char *parse_line(const char *p, const char *end, struct snap_oid *oid,
			      uint64_t *a, uint64_t *b)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	char line[128];
	size_t len;

	if (!nl || (len = (size_t)(nl - p)) >= sizeof(line) || len < SNAP_OID_HEXSZ + 2 ||
	    p[SNAP_OID_HEXSZ] != ' ')
		return NULL;
	memcpy(line, p, len);
	line[len] = '\0';
	line[SNAP_OID_HEXSZ] = '\0';
	if (oid_from_hex(oid, line) < 0)
		return NULL;
	if (b) {
		char *sp = strchr(line + SNAP_OID_HEXSZ + 1, ' ');

		if (!sp)
			return NULL;
		*sp = '\0';
		if (parse_u64(sp + 1, b) < 0)
			return NULL;
	}
	if (parse_u64(line + SNAP_OID_HEXSZ + 1, a) < 0)
		return NULL;
	return nl + 1;
}

static int add_lists(struct rclone_remote *r, const char *rel, const char *buf, size_t len,
		     struct strbuf *err)
{
	const char *p = buf, *end = buf + len, *endline;
	struct snap_hash_ctx h;
	struct snap_oid sum;
	size_t count = 0, before = r->nr_lists, before_chunks = r->nr_chunks;
	char want[128];

	if (len < strlen(LISTS_MAGIC) || memcmp(buf, LISTS_MAGIC, strlen(LISTS_MAGIC)))
		goto bad;
	p += strlen(LISTS_MAGIC);
	while (p < end && strncmp(p, "end ", 4)) {
		struct rclone_list l;
		uint64_t n, k, total = 0;

		if (!(p = parse_line(p, end, &l.oid, &l.size, &n)) || n == 0 || n > l.size)
			goto bad;
		l.first = r->nr_chunks;
		l.nr = (size_t)n;
		for (k = 0; k < n; k++) {
			struct snap_oid c;
			uint64_t cs;

			if (!(p = parse_line(p, end, &c, &cs, NULL)) || cs == 0 || cs > l.size - total)
				goto bad;
			total += cs;
			ALLOC_GROW(r->chunks, r->nr_chunks + 1, r->alloc_chunks);
			ALLOC_GROW(r->chunk_sizes, r->nr_chunks + 1, r->alloc_chunk_sizes);
			r->chunks[r->nr_chunks] = c;
			r->chunk_sizes[r->nr_chunks++] = cs;
		}
		if (total != l.size)
			goto bad;
		/* The lists file read is the one of the pack loaded last. */
		l.pack = (uint32_t)(r->nr_packs - 1);
		ALLOC_GROW(r->lists, r->nr_lists + 1, r->alloc_lists);
		r->lists[r->nr_lists++] = l;
		count++;
	}
	endline = p;
	hash_init(&h);
	hash_update(&h, buf, (size_t)(endline - buf));
	hash_final(&h, &sum);
	snprintf(want, sizeof(want), "end %zu %s\n", count, oid_to_hex(&sum));
	if ((size_t)(end - endline) != strlen(want) || memcmp(endline, want, strlen(want)))
		goto bad;
	return 0;
bad:
	r->nr_lists = before;
	r->nr_chunks = before_chunks;
	return snap_error(err, SNAP_ECORRUPT, "'%s' of '%s' is damaged", rel, r->url);
}

static int cmp_list(const void *a, const void *b)
{
	return oid_cmp(&((const struct rclone_list *)a)->oid, &((const struct rclone_list *)b)->oid);
}

const struct rclone_list *rclone_list_find(const struct rclone_remote *r, const struct snap_oid *oid)
{
	struct rclone_list key;

	if (!r->nr_lists)
		return NULL;
	key.oid = *oid;
	return bsearch(&key, r->lists, r->nr_lists, sizeof(*r->lists), cmp_list);
}

/* ---- the remote's packs ---- */

struct listed {
	char *name;
	uint64_t size;
};

struct listing {
	struct listed *v;
	size_t nr, alloc;
};

static void add_listed(const char *name, uint64_t size, void *data)
{
	struct listing *l = data;

	ALLOC_GROW(l->v, l->nr + 1, l->alloc);
	l->v[l->nr].name = xstrdup(name);
	l->v[l->nr++].size = size;
}

static const struct listed *find_listed(const struct listing *l, const char *name)
{
	size_t i;

	for (i = 0; i < l->nr; i++)
		if (!strcmp(l->v[i].name, name))
			return &l->v[i];
	return NULL;
}

int rclone_pack_file(const char *file, char *name)
{
	static const char *const ext[] = { NULL, ".idx", ".pack", ".lists" };
	size_t len = strlen(file), n = 5 + SNAP_OID_HEXSZ;
	struct snap_oid ignored;
	int kind;

	if (len <= n || strncmp(file, "pack-", 5))
		return 0;
	memcpy(name, file + 5, SNAP_OID_HEXSZ);
	name[SNAP_OID_HEXSZ] = '\0';
	if (oid_from_hex(&ignored, name) < 0)
		return 0;
	for (kind = 1; kind <= 3; kind++)
		if (!strcmp(file + n, ext[kind]))
			return kind;
	return 0;
}

/* A pack-<64 hex>.idx name: its hex into name. */
static int idx_name(const char *file, char *name)
{
	return rclone_pack_file(file, name) == RCLONE_FILE_IDX;
}

/* An index that opens, checks, and names the pack it is named after. */
static int open_index(struct pack *p, const char *path, const char *name, struct strbuf *err)
{
	struct snap_oid sum;
	int ret = pack_open(p, path, err);

	if (ret < 0)
		return ret;
	memcpy(sum.hash, p->map + p->map_len - 2 * SNAP_OID_RAWSZ, SNAP_OID_RAWSZ);
	if (strcmp(oid_to_hex(&sum), name)) {
		pack_close(p);
		return snap_error(err, SNAP_ECORRUPT, "pack index '%s' belongs to another pack", path);
	}
	return 0;
}

/*
 * The cached copy of the remote file packs/<file>, fetched when absent or
 * of another size, or (for an index) when it fails its checks.
 */
static int cached(struct rclone_remote *r, const char *file, uint64_t size, const char *name,
		  struct pack *p, struct strbuf *text, struct strbuf *err)
{
	struct strbuf dir = STRBUF_INIT, path = STRBUF_INIT, tmp = STRBUF_INIT, rel = STRBUF_INIT;
	struct stat st;
	int ret = -1, attempt;

	rclone_cache_dir(r, &dir);
	strbuf_addf(&path, "%s/%s", dir.buf, file);
	strbuf_addf(&rel, "packs/%s", file);
	for (attempt = 0; attempt < 2; attempt++) {
		if (attempt || stat(path.buf, &st) < 0 || (uint64_t)st.st_size != size) {
			rclone_tmp_path(r, &tmp, file);
			ret = rclone_download(r, rel.buf, tmp.buf, size, err);
			if (ret < 0)
				break;
			if (fsio_mkdirs_for(path.buf) < 0 || storefs_rename(tmp.buf, path.buf) < 0) {
				ret = snap_error_errno(err, "cannot put '%s' in place", path.buf);
				storefs_unlink(tmp.buf);
				break;
			}
		}
		strbuf_reset(err);
		if (p) {
			ret = open_index(p, path.buf, name, err);
		} else {
			strbuf_reset(text);
			ret = strbuf_read_file(text, path.buf, RCLONE_FILE_MAX);
			if (ret < 0)
				ret = snap_error_errno(err, "cannot read '%s'", path.buf);
			else
				ret = add_lists(r, rel.buf, text->buf, text->len, err);
		}
		if (ret == 0 || ret == SNAP_EIO)
			break;
	}
	if (ret == SNAP_ECORRUPT) {
		strbuf_reset(err);
		ret = snap_error(err, SNAP_ECORRUPT, "'%s' of '%s' is damaged", rel.buf, r->url);
	}
	strbuf_release(&dir);
	strbuf_release(&path);
	strbuf_release(&tmp);
	strbuf_release(&rel);
	return ret;
}

int rclone_load_packs(struct rclone_remote *r, struct strbuf *err)
{
	struct listing l = { NULL, 0, 0 };
	struct strbuf file = STRBUF_INIT, text = STRBUF_INIT;
	size_t i;
	int ret = rclone_list(r, "packs", 0, add_listed, &l, err);

	for (i = 0; ret == 0 && i < l.nr; i++) {
		const struct listed *pk, *ls;
		struct rclone_pack *rp;
		char name[SNAP_OID_HEXSZ + 1];

		if (!idx_name(l.v[i].name, name))
			continue;
		strbuf_reset(&file);
		strbuf_addf(&file, "pack-%s.pack", name);
		pk = find_listed(&l, file.buf);
		if (!pk) {
			ret = snap_error(err, SNAP_ECORRUPT, "'packs/%s' of '%s' has no pack", l.v[i].name,
					 r->url);
			break;
		}
		ALLOC_GROW(r->packs, r->nr_packs + 1, r->alloc_packs);
		rp = &r->packs[r->nr_packs];
		memset(rp, 0, sizeof(*rp));
		memcpy(rp->name, name, sizeof(name));
		rp->pack_size = pk->size;
		ret = cached(r, l.v[i].name, l.v[i].size, name, &rp->idx, NULL, err);
		if (ret < 0)
			break;
		r->nr_packs++;
		if (rp->idx.pack_size != pk->size) {
			ret = snap_error(err, SNAP_ECORRUPT, "'packs/%s' of '%s' has %llu bytes, its index says %llu",
					 file.buf, r->url, (unsigned long long)pk->size,
					 (unsigned long long)rp->idx.pack_size);
			break;
		}
		strbuf_reset(&file);
		strbuf_addf(&file, "pack-%s.lists", name);
		ls = find_listed(&l, file.buf);
		if (ls) {
			rp->has_lists = 1;
			ret = cached(r, file.buf, ls->size, name, NULL, &text, err);
		}
	}
	QSORT(r->lists, r->nr_lists, cmp_list);
	for (i = 0; i < l.nr; i++)
		free(l.v[i].name);
	free(l.v);
	strbuf_release(&file);
	strbuf_release(&text);
	return ret;
}

int rclone_cache_add(struct rclone_remote *r, const char *local, const char *file,
		     struct strbuf *err)
{
	struct strbuf dir = STRBUF_INIT, path = STRBUF_INIT;
	int ret = 0;

	rclone_cache_dir(r, &dir);
	strbuf_addf(&path, "%s/%s", dir.buf, file);
	storefs_unlink(path.buf);
	if (fsio_mkdirs_for(path.buf) < 0 || storefs_link(local, path.buf) < 0)
		ret = snap_error_errno(err, "cannot put '%s' in the cache", path.buf);
	strbuf_release(&dir);
	strbuf_release(&path);
	return ret;
}

int rclone_pack_get(struct rclone_remote *r, size_t k, struct strbuf *err)
{
	struct rclone_pack *rp = &r->packs[k];
	struct strbuf base = STRBUF_INIT, idx = STRBUF_INIT, pack = STRBUF_INIT, rel = STRBUF_INIT;
	struct pack p;
	int ret;

	if (rp->local)
		return 0;
	strbuf_addf(&rel, "pack-%s", rp->name);
	rclone_tmp_path(r, &base, rel.buf);
	strbuf_addf(&idx, "%s.idx", base.buf);
	strbuf_addf(&pack, "%s.pack", base.buf);
	strbuf_reset(&rel);
	strbuf_addf(&rel, "packs/pack-%s.pack", rp->name);
	ret = rclone_download(r, rel.buf, pack.buf, rp->pack_size, err);
	if (ret == 0 && storefs_link(rp->idx.idx_path, idx.buf) < 0)
		ret = snap_error_errno(err, "cannot link '%s'", idx.buf);
	if (ret == 0)
		ret = pack_open(&p, idx.buf, err);
	if (ret == 0) {
		ret = pack_verify(&p, err);
		if (ret < 0) {
			pack_close(&p);
			if (ret == SNAP_ECORRUPT) {
				strbuf_reset(err);
				ret = snap_error(err, SNAP_ECORRUPT,
						 "'%s' of '%s' is damaged: it fails its checksum",
						 rel.buf, r->url);
			}
		}
	}
	if (ret < 0) {
		storefs_unlink(idx.buf);
		storefs_unlink(pack.buf);
	} else {
		/* The downloaded pack is read from here on. */
		pack_close(&rp->idx);
		rp->idx = p;
		rp->local = strbuf_detach(&idx, NULL);
	}
	strbuf_release(&base);
	strbuf_release(&idx);
	strbuf_release(&pack);
	strbuf_release(&rel);
	return ret;
}

void rclone_pack_release_all(struct rclone_remote *r)
{
	size_t i;

	for (i = 0; i < r->nr_packs; i++) {
		struct rclone_pack *rp = &r->packs[i];

		pack_close(&rp->idx);
		if (rp->local) {
			size_t len = strlen(rp->local);
			char *pack = xmalloc(len + 2);

			memcpy(pack, rp->local, len - 4);
			memcpy(pack + len - 4, ".pack", 6);
			storefs_unlink(pack);
			storefs_unlink(rp->local);
			free(pack);
			free(rp->local);
		}
	}
	free(r->packs);
	free(r->lists);
	free(r->chunks);
	free(r->chunk_sizes);
}

/* ---- reading a downloaded pack ---- */

/* Decompresses one zstd frame of at most max bytes into out, nothing after it. */
static int unzstd(ZSTD_DCtx **dctx, const struct strbuf *frame, size_t max, struct strbuf *out)
{
	ZSTD_inBuffer in = { frame->buf, frame->len, 0 };
	ZSTD_outBuffer o;
	size_t ret;

	if (!*dctx && !(*dctx = ZSTD_createDCtx()))
		BUG("ZSTD_createDCtx failed");
	ZSTD_DCtx_reset(*dctx, ZSTD_reset_session_only);
	strbuf_reset(out);
	strbuf_grow(out, max + 1);
	o.dst = out->buf;
	o.size = max + 1;
	o.pos = 0;
	do {
		ret = ZSTD_decompressStream(*dctx, &o, &in);
		if (ZSTD_isError(ret) || o.pos > max)
			return -1;
	} while (ret && in.pos < in.size);
	if (ret || in.pos != in.size)
		return -1;
	strbuf_setlen(out, o.pos);
	return 0;
}

int rclone_read_object(struct rclone_reader *rd, struct rclone_remote *r, size_t k,
		       uint32_t pos, const struct snap_oid *want, enum object_type *type,
		       const char **payload, uint64_t *size, struct strbuf *err)
{
	struct rclone_pack *rp = &r->packs[k];
	struct pack_record rec;
	struct strbuf *content = &rd->own;
	struct snap_oid got;
	ZSTD_DCtx *dctx = rd->dctx;
	enum object_type t;
	uint64_t sz;
	int hl, ret;
	size_t i;

	pack_record(&rp->idx, pos, &rec);
	if (rec.shared) {
		for (i = 0; i < RCLONE_BLOCK_CACHE; i++)
			if (rd->block_pack[i] == k + 1 && rd->block_offset[i] == rec.offset)
				break;
		if (i == RCLONE_BLOCK_CACHE) {
			i = rd->next++ % RCLONE_BLOCK_CACHE;
			rd->block_pack[i] = 0;
			ret = pack_read_frame(&rp->idx, pos, &rd->frame, err);
			if (ret < 0)
				return ret;
			if (unzstd(&dctx, &rd->frame, PACK_BLOCK_MAX, &rd->block[i]) < 0)
				goto bad;
			rd->block_pack[i] = k + 1;
			rd->block_offset[i] = rec.offset;
		}
		content = &rd->block[i];
	} else {
		ret = pack_read_frame(&rp->idx, pos, &rd->frame, err);
		if (ret < 0)
			return ret;
		if (unzstd(&dctx, &rd->frame, SNAP_HDR_MAX + rec.size, content) < 0)
			goto bad;
	}
	if (rec.inner >= content->len)
		goto bad;
	hl = object_header_parse(content->buf + rec.inner, content->len - rec.inner, &t, &sz);
	if (hl <= 0 || t != rec.type || sz != rec.size || sz > content->len - rec.inner - (size_t)hl ||
	    (!rec.shared && sz != content->len - (size_t)hl))
		goto bad;
	rd->dctx = dctx;
	*payload = content->buf + rec.inner + hl;
	hash_object_buf(t, *payload, (size_t)sz, &got);
	if (oid_cmp(&got, want))
		goto bad;
	*type = t;
	*size = sz;
	return 0;
bad:
	rd->dctx = dctx;
	return snap_error(err, SNAP_ECORRUPT, "object %s in 'packs/pack-%s.pack' of '%s' is corrupt",
			  oid_to_hex(want), rp->name, r->url);
}

void rclone_reader_init(struct rclone_reader *rd)
{
	size_t i;

	memset(rd, 0, sizeof(*rd));
	strbuf_init(&rd->frame, 0);
	strbuf_init(&rd->own, 0);
	for (i = 0; i < RCLONE_BLOCK_CACHE; i++)
		strbuf_init(&rd->block[i], 0);
}

void rclone_reader_release(struct rclone_reader *rd)
{
	size_t i;

	for (i = 0; i < RCLONE_BLOCK_CACHE; i++)
		strbuf_release(&rd->block[i]);
	strbuf_release(&rd->own);
	strbuf_release(&rd->frame);
	if (rd->dctx)
		ZSTD_freeDCtx((ZSTD_DCtx *)rd->dctx);
}
