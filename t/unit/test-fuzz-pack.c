/*
 * Damages a store's one pack or its index at random, many times over, and
 * reads every object of it after each damage: a reader must never crash,
 * hang or hand out bytes that are not the object's.  Each round puts the
 * original files back before the next.
 *
 *   test-fuzz-pack STORE ROUNDS SEED
 *
 * Prints one line, "ROUNDS rounds: R objects read, E refused", and exits
 * 0; 1 when a read succeeded with wrong bytes; 2 on a usage or set-up
 * error.  make check runs a few hundred rounds, make fuzz many more.
 */
#include "hash.h"
#include "odb.h"
#include "pack.h"
#include "store.h"
#include "strbuf.h"
#include "util.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint64_t rng;

/* xorshift64*: the same rounds for the same seed on every machine. */
static uint64_t next_random(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ull;
}

static size_t below(size_t n)
{
	return n ? (size_t)(next_random() % n) : 0;
}

static int put_file(const char *path, const struct strbuf *b)
{
	FILE *f = fopen(path, "wb");
	int ok = f && fwrite(b->buf, 1, b->len, f) == b->len;

	if (f && fclose(f) != 0)
		ok = 0;
	return ok ? 0 : -1;
}

/*
 * One kind of damage to a copy of the file's bytes: a few bytes changed
 * (in the index, mostly in its records, where offsets, lengths, flags and
 * member offsets live), a run of bytes zeroed, or the file cut short.
 */
static void damage(struct strbuf *b, size_t from)
{
	size_t i, n, at;

	switch (below(4)) {
	case 0:
		strbuf_setlen(b, below(b->len));
		break;
	case 1:
		at = below(b->len);
		n = 1 + below(64);
		for (i = at; i < b->len && i < at + n; i++)
			b->buf[i] = 0;
		break;
	default:
		n = 1 + below(8);
		for (i = 0; i < n; i++) {
			at = from + below(b->len - from);
			b->buf[at] = (char)(b->buf[at] ^ (1u << below(8)) ^
					    (below(4) ? 0 : (unsigned)next_random()));
		}
	}
}

int main(int argc, char **argv)
{
	struct strbuf err = STRBUF_INIT, dir = STRBUF_INIT, idx = STRBUF_INIT,
		      pack = STRBUF_INIT, idx_bytes = STRBUF_INIT, pack_bytes = STRBUF_INIT,
		      copy = STRBUF_INIT, out = STRBUF_INIT;
	struct snap_store store;
	struct snap_oid *ids;
	struct pack p;
	struct dirent *de;
	unsigned long rounds, r;
	unsigned long long read_ok = 0, refused = 0;
	size_t nr, i, records;
	DIR *d;

	if (argc != 4) {
		fprintf(stderr, "usage: test-fuzz-pack STORE ROUNDS SEED\n");
		return 2;
	}
	rounds = strtoul(argv[2], NULL, 10);
	rng = strtoull(argv[3], NULL, 10) * 0x9e3779b97f4a7c15ull + 1;
	if (store_open(&store, argv[1], &err) < 0) {
		fprintf(stderr, "test-fuzz-pack: %s\n", err.buf);
		return 2;
	}
	store_path(&store, &dir, "objects/pack");
	d = opendir(dir.buf);
	while (d && (de = readdir(d))) {
		size_t len = strlen(de->d_name);
		if (len > 4 && !strcmp(de->d_name + len - 4, ".idx")) {
			if (idx.len) {
				fprintf(stderr, "test-fuzz-pack: more than one pack in '%s'\n", dir.buf);
				return 2;
			}
			strbuf_addf(&idx, "%s/%s", dir.buf, de->d_name);
		}
	}
	if (d)
		closedir(d);
	if (!idx.len || pack_open(&p, idx.buf, &err) < 0) {
		fprintf(stderr, "test-fuzz-pack: no pack in '%s' %s\n", dir.buf, err.buf);
		return 2;
	}
	strbuf_addstr(&pack, p.pack_path);
	nr = p.nr;
	ids = xcalloc(nr + 1, sizeof(*ids));
	for (i = 0; i < nr; i++)
		pack_oid(&p, (uint32_t)i, &ids[i]);
	pack_close(&p);
	if (strbuf_read_file(&idx_bytes, idx.buf, 1u << 30) < 0 ||
	    strbuf_read_file(&pack_bytes, pack.buf, 1u << 30) < 0) {
		fprintf(stderr, "test-fuzz-pack: cannot read the pack\n");
		return 2;
	}
	/* Where the records start: header, fan-out, ids. */
	records = 16 + 256 * 4 + nr * SNAP_OID_RAWSZ;

	for (r = 0; r < rounds; r++) {
		int in_idx = below(2);
		struct odb *odb;

		strbuf_reset(&copy);
		strbuf_addbuf(&copy, in_idx ? &idx_bytes : &pack_bytes);
		damage(&copy, in_idx && records < copy.len && below(4) ? records : 0);
		if (put_file(in_idx ? idx.buf : pack.buf, &copy) < 0) {
			fprintf(stderr, "test-fuzz-pack: cannot write the damage\n");
			return 2;
		}
		strbuf_reset(&err);
		if (odb_open(&odb, &store, &err) == 0) {
			for (i = 0; i < nr; i++) {
				enum object_type type;
				struct snap_oid got;

				strbuf_reset(&err);
				if (odb_read(odb, &ids[i], &type, &out, PACK_OBJECT_MAX, &err) < 0) {
					refused++;
					continue;
				}
				hash_object_buf(type, out.buf, out.len, &got);
				if (oid_cmp(&got, &ids[i])) {
					printf("round %lu: object %s read with wrong bytes\n", r,
					       oid_to_hex(&ids[i]));
					return 1;
				}
				read_ok++;
			}
			odb_close(odb);
		} else {
			refused += nr;
		}
		if (put_file(in_idx ? idx.buf : pack.buf, in_idx ? &idx_bytes : &pack_bytes) < 0) {
			fprintf(stderr, "test-fuzz-pack: cannot put the pack back\n");
			return 2;
		}
	}
	printf("%lu rounds: %llu objects read, %llu refused\n", rounds, read_ok, refused);
	free(ids);
	strbuf_release(&err);
	strbuf_release(&dir);
	strbuf_release(&idx);
	strbuf_release(&pack);
	strbuf_release(&idx_bytes);
	strbuf_release(&pack_bytes);
	strbuf_release(&copy);
	strbuf_release(&out);
	store_release(&store);
	return 0;
}
