/*
 * The pruned record's API (lib/pruned.h), as a transport would call it:
 *
 *   test-pruned parse < FILE      parses a record; prints each entry
 *                                 ("<id> [parent]...") then re-encodes it
 *                                 and exits 3 if the bytes differ
 *   test-pruned add STORE < LINES adds "<id> [parent]..." lines as one
 *                                 batch; prints the number added
 *   test-pruned first STORE ID    where the first-parent history goes on
 *                                 past ID ("end" when it ends)
 *
 * Exits 1 with the error on stderr when the library refuses.
 */
#include "error.h"
#include "oid.h"
#include "pruned.h"
#include "store.h"
#include "strbuf.h"
#include "util.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void print(const struct pruned *p)
{
	size_t i, j;

	for (i = 0; i < p->nr; i++) {
		fputs(oid_to_hex(&p->v[i].id), stdout);
		for (j = 0; j < p->v[i].nr_parents; j++)
			printf(" %s", oid_to_hex(&pruned_parents(p, &p->v[i])[j]));
		putchar('\n');
	}
}

static int read_batch(struct pruned *b)
{
	struct strbuf line = STRBUF_INIT;
	struct snap_oid ids[8];

	while (strbuf_getline(&line, stdin, '\n') != EOF) {
		size_t n = 0, off = 0;

		while (off + SNAP_OID_HEXSZ <= line.len && n < 8 &&
		       oid_from_hexn(&ids[n], line.buf + off, SNAP_OID_HEXSZ) == 0) {
			n++;
			off += SNAP_OID_HEXSZ + 1;
		}
		if (!n) {
			fprintf(stderr, "test-pruned: bad line '%s'\n", line.buf);
			return -1;
		}
		pruned_append(b, &ids[0], ids + 1, n - 1);
	}
	strbuf_release(&line);
	return 0;
}

int main(int argc, char **argv)
{
	struct strbuf err = STRBUF_INIT, in = STRBUF_INIT, out = STRBUF_INIT;
	struct pruned p = PRUNED_INIT;
	struct snap_store store;
	struct snap_oid oid, next;
	size_t added;

	if (argc == 2 && !strcmp(argv[1], "parse")) {
		if (strbuf_read_fd(&in, 0, PRUNED_MAX) < 0 ||
		    pruned_parse(&p, in.buf, in.len, &err) < 0) {
			fprintf(stderr, "test-pruned: %s\n", err.buf);
			return 1;
		}
		print(&p);
		pruned_encode(&p, &out);
		return out.len == in.len && !memcmp(out.buf, in.buf, in.len) ? 0 : 3;
	}
	if (argc < 3 || store_open(&store, argv[2], &err) < 0) {
		fprintf(stderr, "usage: test-pruned parse | add STORE | first STORE ID (%s)\n", err.buf);
		return 2;
	}
	if (!strcmp(argv[1], "add")) {
		if (read_batch(&p) < 0)
			return 2;
		if (pruned_add(&store, &p, &added, &err) < 0) {
			fprintf(stderr, "test-pruned: %s\n", err.buf);
			return 1;
		}
		printf("%zu\n", added);
		return 0;
	}
	if (!strcmp(argv[1], "first") && argc == 4 && oid_from_hex(&oid, argv[3]) == 0) {
		if (pruned_load(&store, &p, &err) < 0) {
			fprintf(stderr, "test-pruned: %s\n", err.buf);
			return 1;
		}
		puts(pruned_first_parent(&p, &oid, &next) ? oid_to_hex(&next) : "end");
		return 0;
	}
	return 2;
}
