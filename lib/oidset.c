#include "oidset.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

static size_t slot_of(const struct snap_oid *oid, size_t size)
{
	uint64_t h;

	memcpy(&h, oid->hash, sizeof(h));
	return (size_t)(h & (size - 1));
}

static void put(struct oidset *s, const struct snap_oid *oid)
{
	size_t i;

	for (i = slot_of(oid, s->size); s->used[i]; i = (i + 1) & (s->size - 1))
		;
	s->used[i] = 1;
	s->slots[i] = *oid;
}

static void grow(struct oidset *s)
{
	struct snap_oid *old = s->slots;
	unsigned char *old_used = s->used;
	size_t old_size = s->size, i;

	s->size = s->size ? s->size * 2 : 1024;
	s->slots = xmalloc(s->size * sizeof(*s->slots));
	s->used = xcalloc(s->size, 1);
	for (i = 0; i < old_size; i++)
		if (old_used[i])
			put(s, &old[i]);
	free(old);
	free(old_used);
}

int oidset_contains(const struct oidset *s, const struct snap_oid *oid)
{
	size_t i;

	if (!s->size)
		return 0;
	for (i = slot_of(oid, s->size); s->used[i]; i = (i + 1) & (s->size - 1))
		if (!oid_cmp(&s->slots[i], oid))
			return 1;
	return 0;
}

int oidset_insert(struct oidset *s, const struct snap_oid *oid)
{
	if (oidset_contains(s, oid))
		return 0;
	if ((s->nr + 1) * 2 > s->size)
		grow(s);
	put(s, oid);
	s->nr++;
	return 1;
}

void oidset_clear(struct oidset *s)
{
	free(s->slots);
	free(s->used);
	memset(s, 0, sizeof(*s));
}
