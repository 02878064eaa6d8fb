#include "oidset.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

/*
 * Each function below takes the entry size apart from the map, so that a
 * set need not carry it (a zeroed oidset is a valid empty one).
 */

#define FIRST_SLOTS 256

static const struct snap_oid *key_at(const struct oidmap *m, size_t esize, size_t pos)
{
	return (const struct snap_oid *)(m->entries + pos * esize);
}

static size_t home(const struct snap_oid *oid, size_t size)
{
	uint64_t h;

	memcpy(&h, oid->hash, sizeof(h));
	return (size_t)(h & (size - 1));
}

/* The slot holding oid, or the empty slot where it would go. */
static size_t probe(const struct oidmap *m, size_t esize, const struct snap_oid *oid)
{
	size_t i, mask = m->size - 1;

	for (i = home(oid, m->size); m->slots[i]; i = (i + 1) & mask)
		if (!oid_cmp(key_at(m, esize, m->slots[i] - 1), oid))
			break;
	return i;
}

static void grow(struct oidmap *m, size_t esize)
{
	size_t j;

	free(m->slots);
	m->size = m->size ? m->size * 2 : FIRST_SLOTS;
	m->slots = xcalloc(m->size, sizeof(*m->slots));
	for (j = 0; j < m->nr; j++)
		m->slots[probe(m, esize, key_at(m, esize, j))] = (uint32_t)(j + 1);
}

static void *get(const struct oidmap *m, size_t esize, const struct snap_oid *oid)
{
	size_t i;

	if (!m->nr)
		return NULL;
	i = probe(m, esize, oid);
	return m->slots[i] ? m->entries + (m->slots[i] - 1) * esize : NULL;
}

static void *put(struct oidmap *m, size_t esize, const struct snap_oid *oid, int *added)
{
	unsigned char *e;
	size_t i = 0;

	if (m->nr) {
		i = probe(m, esize, oid);
		if (m->slots[i]) {
			if (added)
				*added = 0;
			return m->entries + (m->slots[i] - 1) * esize;
		}
	}
	if (m->nr >= UINT32_MAX - 1)
		BUG("an oidmap holds %zu entries, its most", m->nr);
	if ((m->nr + 1) * 2 > m->size) {
		grow(m, esize);
		i = probe(m, esize, oid);
	}
	m->entries = xgrow(m->entries, &m->alloc, m->nr + 1, esize);
	e = m->entries + m->nr * esize;
	memset(e, 0, esize);
	memcpy(e, oid, sizeof(*oid));
	m->slots[i] = (uint32_t)(++m->nr);
	if (added)
		*added = 1;
	return e;
}

static size_t entry_size(const struct oidmap *m)
{
	if (m->entry_size < sizeof(struct snap_oid))
		BUG("an oidmap not set up with OIDMAP_INIT");
	return m->entry_size;
}

void *oidmap_get(const struct oidmap *m, const struct snap_oid *oid)
{
	return get(m, entry_size(m), oid);
}

void *oidmap_put(struct oidmap *m, const struct snap_oid *oid, int *added)
{
	return put(m, entry_size(m), oid, added);
}

void *oidmap_at(const struct oidmap *m, size_t i)
{
	if (i >= m->nr)
		BUG("oidmap entry %zu of %zu", i, m->nr);
	return m->entries + i * entry_size(m);
}

void *oidmap_detach(struct oidmap *m, size_t *nr)
{
	void *entries = m->entries;

	*nr = m->nr;
	m->entries = NULL;
	oidmap_clear(m);
	return entries;
}

void oidmap_clear(struct oidmap *m)
{
	free(m->entries);
	free(m->slots);
	m->entries = NULL;
	m->slots = NULL;
	m->nr = m->alloc = m->size = 0;
}

int oidset_insert(struct oidset *s, const struct snap_oid *oid)
{
	int added;

	put(&s->map, sizeof(*oid), oid, &added);
	return added;
}

int oidset_contains(const struct oidset *s, const struct snap_oid *oid)
{
	return get(&s->map, sizeof(*oid), oid) != NULL;
}

size_t oidset_size(const struct oidset *s)
{
	return s->map.nr;
}

void oidset_clear(struct oidset *s)
{
	oidmap_clear(&s->map);
}
