#include "pruned.h"
#include "error.h"
#include "fsio.h"
#include "hash.h"
#include "store.h"
#include "strbuf.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#define PRUNED_HEADER "snap-pruned 1\n"

static int cmp_entry(const void *a, const void *b)
{
	return oid_cmp(&((const struct pruned_entry *)a)->id,
		       &((const struct pruned_entry *)b)->id);
}

void pruned_release(struct pruned *p)
{
	free(p->v);
	free(p->parents);
	memset(p, 0, sizeof(*p));
}

const struct pruned_entry *pruned_find(const struct pruned *p, const struct snap_oid *oid)
{
	struct pruned_entry key;

	if (!p || !p->nr)
		return NULL;
	key.id = *oid;
	return bsearch(&key, p->v, p->nr, sizeof(*p->v), cmp_entry);
}

int pruned_contains(const struct pruned *p, const struct snap_oid *oid)
{
	return pruned_find(p, oid) != NULL;
}

int pruned_first_parent(const struct pruned *p, const struct snap_oid *parent,
			struct snap_oid *out)
{
	const struct pruned_entry *e;
	size_t steps = 0;

	*out = *parent;
	while ((e = pruned_find(p, out))) {
		if (!e->nr_parents || steps++ > p->nr)
			return 0;
		*out = p->parents[e->parent];
	}
	return 1;
}

void pruned_append(struct pruned *p, const struct snap_oid *id,
		   const struct snap_oid *parents, size_t nr_parents)
{
	struct pruned_entry *e;
	size_t i;

	ALLOC_GROW(p->v, p->nr + 1, p->alloc);
	e = &p->v[p->nr++];
	e->id = *id;
	e->parent = p->nr_all;
	e->nr_parents = nr_parents;
	for (i = 0; i < nr_parents; i++) {
		ALLOC_GROW(p->parents, p->nr_all + 1, p->alloc_all);
		p->parents[p->nr_all++] = parents[i];
	}
}

static int damaged(struct pruned *p, struct strbuf *err, const char *what, size_t line)
{
	pruned_release(p);
	return snap_error(err, SNAP_ECORRUPT, "%s, line %zu", what, line);
}

/* BLAKE3-256 of the record's bytes before its last line, in hex. */
static void checksum_hex(const char *buf, size_t len, char *hex)
{
	struct snap_hash_ctx c;
	struct snap_oid sum;

	hash_init(&c);
	hash_update(&c, buf, len);
	hash_final(&c, &sum);
	oid_to_hex_r(hex, &sum);
}

/* An id at s (64 lower-case hex digits) into oid; 0 or -1. */
static int parse_id(const char *s, const char *end, struct snap_oid *oid)
{
	size_t i;

	if (end - s < SNAP_OID_HEXSZ)
		return -1;
	for (i = 0; i < SNAP_OID_HEXSZ; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return -1;
	return oid_from_hexn(oid, s, SNAP_OID_HEXSZ) < 0 ? -1 : 0;
}

/* Maximum parents on one line, as for a snapshot. */
#define PRUNED_MAX_PARENTS 256

int pruned_parse(struct pruned *p, const char *buf, size_t len, struct strbuf *err)
{
	size_t hl = strlen(PRUNED_HEADER), pos, line = 1, body_end;
	struct snap_oid parents[PRUNED_MAX_PARENTS];
	char hex[SNAP_OID_HEXSZ + 1];
	const char *end, *q, *sp;
	uint64_t count;
	char num[24];

	if (len < hl || memcmp(buf, PRUNED_HEADER, hl))
		return damaged(p, err, "no 'snap-pruned 1' header", 1);
	pos = hl;
	for (;;) {
		struct snap_oid oid;
		size_t np = 0;

		line++;
		end = memchr(buf + pos, '\n', len - pos);
		if (!end)
			return damaged(p, err, "cut short (no 'end' line)", line);
		q = buf + pos;
		if (end - q >= 4 && !memcmp(q, "end ", 4))
			break;
		if (parse_id(q, end, &oid) < 0)
			return damaged(p, err, "not an id", line);
		q += SNAP_OID_HEXSZ;
		while (q < end) {
			if (*q != ' ' || np == PRUNED_MAX_PARENTS || parse_id(q + 1, end, &parents[np]) < 0)
				return damaged(p, err, "bad parent", line);
			np++;
			q += 1 + SNAP_OID_HEXSZ;
		}
		if (p->nr && oid_cmp(&p->v[p->nr - 1].id, &oid) >= 0)
			return damaged(p, err, "ids not in ascending order", line);
		pruned_append(p, &oid, parents, np);
		pos = (size_t)(end - buf) + 1;
	}
	/* The last line: "end <count> <checksum>". */
	body_end = pos;
	pos += 4;
	sp = memchr(buf + pos, ' ', (size_t)(end - (buf + pos)));
	if (!sp || sp == buf + pos || (size_t)(sp - (buf + pos)) >= sizeof(num))
		return damaged(p, err, "bad 'end' line", line);
	memcpy(num, buf + pos, (size_t)(sp - (buf + pos)));
	num[sp - (buf + pos)] = '\0';
	if (parse_u64(num, &count) < 0 || count != p->nr)
		return damaged(p, err, "the count on the 'end' line does not match", line);
	sp++;
	if ((size_t)(end - sp) != SNAP_OID_HEXSZ)
		return damaged(p, err, "bad 'end' line", line);
	checksum_hex(buf, body_end, hex);
	if (memcmp(sp, hex, SNAP_OID_HEXSZ))
		return damaged(p, err, "checksum mismatch", line);
	if ((size_t)(end - buf) + 1 != len)
		return damaged(p, err, "bytes after the 'end' line", line + 1);
	return 0;
}

void pruned_encode(const struct pruned *p, struct strbuf *out)
{
	char hex[SNAP_OID_HEXSZ + 1];
	size_t start = out->len, i, j;

	strbuf_addstr(out, PRUNED_HEADER);
	for (i = 0; i < p->nr; i++) {
		const struct pruned_entry *e = &p->v[i];

		strbuf_addstr(out, oid_to_hex_r(hex, &e->id));
		for (j = 0; j < e->nr_parents; j++) {
			strbuf_addch(out, ' ');
			strbuf_addstr(out, oid_to_hex_r(hex, &p->parents[e->parent + j]));
		}
		strbuf_addch(out, '\n');
	}
	checksum_hex(out->buf + start, out->len - start, hex);
	strbuf_addf(out, "end %zu %s\n", p->nr, hex);
}

int pruned_load(struct snap_store *store, struct pruned *p, struct strbuf *err)
{
	struct strbuf path = STRBUF_INIT, text = STRBUF_INIT, why = STRBUF_INIT;
	int ret;

	store_path(store, &path, PRUNED_FILE);
	ret = strbuf_read_file(&text, path.buf, PRUNED_MAX);
	if (ret == SNAP_ENOTFOUND) {
		ret = 0;
	} else if (ret == SNAP_ETOOBIG) {
		ret = snap_error(err, SNAP_ECORRUPT, "pruned record '%s' is damaged: over %zu bytes",
				 path.buf, PRUNED_MAX);
	} else if (ret < 0) {
		ret = snap_error_errno(err, "cannot read the pruned record '%s'", path.buf);
	} else if ((ret = pruned_parse(p, text.buf, text.len, &why)) < 0) {
		ret = snap_error(err, ret, "pruned record '%s' is damaged: %s", path.buf, why.buf);
	}
	strbuf_release(&path);
	strbuf_release(&text);
	strbuf_release(&why);
	return ret;
}

/* flock() of "pruned.mutex": released by the kernel when its holder dies. */
static int pruned_lock(struct snap_store *store, int *fd, struct strbuf *err)
{
	struct strbuf path = STRBUF_INIT;
	int ret = 0;

	store_path(store, &path, "%s.mutex", PRUNED_FILE);
	*fd = fsio_open(path.buf, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
	if (*fd < 0)
		ret = snap_error_errno(err, "cannot open '%s'", path.buf);
	while (ret == 0 && flock(*fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			ret = snap_error_errno(err, "cannot lock '%s'", path.buf);
			close(*fd);
			*fd = -1;
		}
	}
	strbuf_release(&path);
	return ret;
}

int pruned_add(struct snap_store *store, const struct pruned *batch,
	       size_t *added, struct strbuf *err)
{
	struct strbuf path = STRBUF_INIT, dir = STRBUF_INIT, text = STRBUF_INIT;
	struct pruned old = PRUNED_INIT, merged = PRUNED_INIT, b = PRUNED_INIT;
	size_t i, j;
	int fd = -1, ret;

	if (added)
		*added = 0;
	ret = pruned_lock(store, &fd, err);
	if (ret == 0)
		ret = pruned_load(store, &old, err);
	if (ret < 0)
		goto out;
	/* The batch sorted, its first entry for an id kept. */
	for (i = 0; i < batch->nr; i++)
		pruned_append(&b, &batch->v[i].id, pruned_parents(batch, &batch->v[i]),
			      batch->v[i].nr_parents);
	if (b.nr)
		qsort(b.v, b.nr, sizeof(*b.v), cmp_entry);
	for (i = j = 0; i < old.nr || j < b.nr;) {
		int c = i == old.nr ? 1 : j == b.nr ? -1 : oid_cmp(&old.v[i].id, &b.v[j].id);
		const struct pruned *from = c <= 0 ? &old : &b;
		const struct pruned_entry *e = c <= 0 ? &old.v[i] : &b.v[j];

		if (!merged.nr || oid_cmp(&merged.v[merged.nr - 1].id, &e->id))
			pruned_append(&merged, &e->id, pruned_parents(from, e), e->nr_parents);
		if (c <= 0)
			i++;
		if (c >= 0)
			j++;
	}
	if (merged.nr == old.nr)
		goto out;
	pruned_encode(&merged, &text);
	store_path(store, &path, PRUNED_FILE);
	store_path(store, &dir, "objects/tmp");
	if (fsio_replace_file(dir.buf, path.buf, text.buf, text.len, 0444) < 0) {
		ret = snap_error_errno(err, "cannot replace '%s'", path.buf);
		goto out;
	}
	if (added)
		*added = merged.nr - old.nr;
out:
	if (fd >= 0)
		close(fd);
	pruned_release(&old);
	pruned_release(&merged);
	pruned_release(&b);
	strbuf_release(&path);
	strbuf_release(&dir);
	strbuf_release(&text);
	return ret;
}
