/*
 * test-oidmap: lib/oidset.h's map and set, checked against what was put.
 *
 *   test-oidmap map N        N ids with 64-bit values: each added once,
 *                            found with its value, absent ids not found,
 *                            insertion order kept through every resize,
 *                            detach and reuse; prints the count and the
 *                            number of times the table grew
 *   test-oidmap pointers N   N ids with pointer values
 *   test-oidmap collide N    N ids sharing their first 8 bytes (all 0xff:
 *                            one home slot, at the table's end), so every
 *                            probe runs on and wraps around
 *   test-oidmap set N        an oidset of N ids, one zeroed by memset
 *
 * Each prints "ok ..." and exits 0, or names the first failure and exits 1.
 */
#include "oidset.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

#define CHECK(cond, ...) do { \
	if (!(cond)) { \
		fprintf(stderr, "test-oidmap: " __VA_ARGS__); \
		fputc('\n', stderr); \
		failures++; \
		return 1; \
	} \
} while (0)

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* The id of number i of a series; colliding ids share their first word. */
static void make_id(struct snap_oid *oid, uint64_t i, int collide)
{
	size_t w;

	for (w = 0; w < 4; w++) {
		uint64_t v = mix(i * 4 + w);
		memcpy(oid->hash + 8 * w, &v, 8);
	}
	if (collide)
		memset(oid->hash, 0xff, 8);
}

struct value {
	struct snap_oid oid;
	uint64_t v;
};

static int check_map(size_t n, int collide)
{
	struct oidmap m = OIDMAP_INIT(struct value);
	struct snap_oid oid;
	struct value *all;
	size_t i, nr, last_size = 0, resizes = 0;
	int added, round;

	for (round = 0; round < 2; round++) {
		for (i = 0; i < n; i++) {
			struct value *e;

			make_id(&oid, i, collide);
			e = oidmap_put(&m, &oid, &added);
			CHECK(added && e && !oid_cmp(&e->oid, &oid) && e->v == 0,
			      "put %zu: not a new zeroed entry", i);
			e->v = i * 3 + 1;
			if (m.size != last_size) {
				resizes += round == 0;
				last_size = m.size;
			}
			CHECK(m.nr == i + 1, "put %zu: %zu entries", i, m.nr);
		}
		for (i = 0; i < n; i++) {
			const struct value *e;

			make_id(&oid, i, collide);
			e = oidmap_get(&m, &oid);
			CHECK(e && !oid_cmp(&e->oid, &oid) && e->v == i * 3 + 1,
			      "get %zu: wrong entry", i);
			CHECK(oidmap_put(&m, &oid, &added) == e && !added,
			      "put %zu again: not the entry there", i);
			e = oidmap_at(&m, i);
			CHECK(!oid_cmp(&e->oid, &oid), "entry %zu: not in insertion order", i);
			make_id(&oid, n + i, collide);
			CHECK(!oidmap_get(&m, &oid), "get %zu: an absent id found", n + i);
		}
		CHECK(m.nr == n, "%zu entries after putting %zu ids again", m.nr, n);
		if (round == 0) {
			all = oidmap_detach(&m, &nr);
			CHECK(nr == n && m.nr == 0, "detach: %zu of %zu", nr, n);
			for (i = 0; i < nr; i++)
				CHECK(all[i].v == i * 3 + 1, "detached entry %zu: wrong value", i);
			free(all);
			make_id(&oid, 0, collide);
			CHECK(!oidmap_get(&m, &oid), "an id found after detach");
			last_size = 0;
		}
	}
	oidmap_clear(&m);
	CHECK(!oidmap_get(&m, &oid), "an id found after clear");
	printf("ok %zu entries, %zu resizes\n", n, resizes);
	return 0;
}

struct named {
	struct snap_oid oid;
	const char *name;
};

static int check_pointers(size_t n)
{
	struct oidmap m = OIDMAP_INIT(struct named);
	char *names = malloc(n ? n : 1);
	struct snap_oid oid;
	size_t i;

	if (!names)
		return 1;
	for (i = 0; i < n; i++) {
		struct named *e;

		make_id(&oid, i, 0);
		e = oidmap_put(&m, &oid, NULL);
		CHECK(!e->name, "put %zu: a pointer not NULL", i);
		e->name = names + i;
	}
	for (i = 0; i < n; i++) {
		const struct named *e;

		make_id(&oid, i, 0);
		e = oidmap_get(&m, &oid);
		CHECK(e && e->name == names + i, "get %zu: wrong pointer", i);
	}
	oidmap_clear(&m);
	free(names);
	printf("ok %zu pointers\n", n);
	return 0;
}

static int check_set(size_t n)
{
	struct oidset s = OIDSET_INIT, z;
	struct snap_oid oid;
	size_t i;

	memset(&z, 0, sizeof(z));
	for (i = 0; i < n; i++) {
		make_id(&oid, i, 0);
		CHECK(oidset_insert(&s, &oid) == 1, "insert %zu: not new", i);
		CHECK(oidset_insert(&z, &oid) == 1, "insert %zu in the zeroed set: not new", i);
	}
	for (i = 0; i < n; i++) {
		make_id(&oid, i, 0);
		CHECK(oidset_insert(&s, &oid) == 0, "insert %zu again: new", i);
		CHECK(oidset_contains(&s, &oid) && oidset_contains(&z, &oid),
		      "contains %zu: no", i);
		make_id(&oid, n + i, 0);
		CHECK(!oidset_contains(&s, &oid), "contains %zu: an absent id", n + i);
	}
	CHECK(oidset_size(&s) == n && oidset_size(&z) == n, "size %zu, %zu of %zu",
	      oidset_size(&s), oidset_size(&z), n);
	oidset_clear(&s);
	oidset_clear(&z);
	CHECK(oidset_size(&s) == 0 && !oidset_contains(&s, &oid), "not empty after clear");
	printf("ok %zu ids\n", n);
	return 0;
}

int main(int argc, char **argv)
{
	size_t n;

	if (argc != 3) {
		fputs("usage: test-oidmap (map | pointers | collide | set) N\n", stderr);
		return 129;
	}
	n = strtoul(argv[2], NULL, 10);
	if (!strcmp(argv[1], "map"))
		check_map(n, 0);
	else if (!strcmp(argv[1], "pointers"))
		check_pointers(n);
	else if (!strcmp(argv[1], "collide"))
		check_map(n, 1);
	else if (!strcmp(argv[1], "set"))
		check_set(n);
	else
		return 129;
	return failures ? 1 : 0;
}
