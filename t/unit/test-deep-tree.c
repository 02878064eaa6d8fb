/*
 * Writes, into the store given, a tree DEPTH directories deep (each level
 * one directory "d") whose bottom holds a file "f" and a hard link "g"
 * to it, and prints the root tree's id.  Building it with one snap-mktree
 * per level would take a process per level.
 *
 *   test-deep-tree STORE DEPTH
 */
#include "odb.h"
#include "store.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>

static void check(int ret, const struct strbuf *err)
{
	if (ret < 0) {
		fprintf(stderr, "test-deep-tree: %s\n", err->buf);
		exit(1);
	}
}

int main(int argc, char **argv)
{
	struct strbuf err = STRBUF_INIT, buf = STRBUF_INIT, path = STRBUF_INIT;
	struct snap_store store;
	struct snap_oid blob, dir;
	struct odb *odb;
	uint64_t depth, i;

	if (argc != 3 || parse_u64(argv[2], &depth) < 0) {
		fprintf(stderr, "usage: test-deep-tree STORE DEPTH\n");
		return 2;
	}
	check(store_open(&store, argv[1], &err), &err);
	check(odb_open(&odb, &store, &err), &err);
	odb_batch_begin(odb);
	check(odb_write_buf(odb, OBJ_BLOB, "deep", 4, &blob, &err), &err);
	for (i = 0; i < depth; i++)
		strbuf_addstr(&path, "d/");
	strbuf_addch(&path, 'f');
	strbuf_addf(&buf, "file 0644 0 0 0.000000000 4 %s - f\n", oid_to_hex(&blob));
	strbuf_addf(&buf, "file 0644 0 0 0.000000000 4 %s link=%s g\n",
		    oid_to_hex(&blob), path.buf);
	check(odb_write_buf(odb, OBJ_TREE, buf.buf, buf.len, &dir, &err), &err);
	for (i = 0; i < depth; i++) {
		strbuf_reset(&buf);
		strbuf_addf(&buf, "dir 0755 0 0 0.000000000 0 %s - d\n", oid_to_hex(&dir));
		check(odb_write_buf(odb, OBJ_TREE, buf.buf, buf.len, &dir, &err), &err);
	}
	check(odb_batch_end(odb, &err), &err);
	printf("%s\n", oid_to_hex(&dir));
	odb_close(odb);
	store_release(&store);
	strbuf_release(&buf);
	strbuf_release(&path);
	return 0;
}
