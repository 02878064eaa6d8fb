/*
 * Builds, in the store given, a chain of N snapshots and a directory D
 * levels deep, then walks them with lib/walk (as fsck and gc do) and
 * checks that every object was reached.  The walk must not recurse: a
 * million snapshots or ten thousand levels would overflow a C stack.
 *
 *   test-deep-walk STORE N D
 */
#include "odb.h"
#include "oidset.h"
#include "snapshot.h"
#include "store.h"
#include "tree.h"
#include "util.h"
#include "walk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check(int ret, const struct strbuf *err)
{
	if (ret < 0) {
		fprintf(stderr, "test-deep-walk: %s\n", err->buf);
		exit(1);
	}
}

int main(int argc, char **argv)
{
	struct strbuf err = STRBUF_INIT, buf = STRBUF_INIT;
	struct snap_store store;
	struct odb *odb;
	struct snap_oid dir, tip, prev;
	struct oidset seen = OIDSET_INIT;
	struct walk_opts wo;
	uint64_t n, depth, i;
	size_t problems;
	int existed;

	if (argc != 4 || parse_u64(argv[2], &n) < 0 || parse_u64(argv[3], &depth) < 0 || !n) {
		fprintf(stderr, "usage: test-deep-walk STORE N DEPTH\n");
		return 2;
	}
	check(store_create(argv[1], 1, STORE_PRIVATE, &existed, &err), &err);
	check(store_open(&store, argv[1], &err), &err);
	check(odb_open(&odb, &store, &err), &err);
	odb_batch_begin(odb);

	/* The deep directory, bottom up: each level one entry "d". */
	check(odb_write_buf(odb, OBJ_TREE, "", 0, &dir, &err), &err);
	for (i = 0; i < depth; i++) {
		strbuf_reset(&buf);
		strbuf_addf(&buf, "dir 0755 0 0 0.000000000 0 %s - d\n", oid_to_hex(&dir));
		check(odb_write_buf(odb, OBJ_TREE, buf.buf, buf.len, &dir, &err), &err);
	}
	/* The chain: every snapshot of the deep tree, each on the previous. */
	for (i = 0; i < n; i++) {
		strbuf_reset(&buf);
		strbuf_addf(&buf, "tree %s\n", oid_to_hex(&dir));
		if (i)
			strbuf_addf(&buf, "parent %s\n", oid_to_hex(&prev));
		strbuf_addf(&buf, "time %llu +0000\nhost h\n\n", (unsigned long long)i);
		check(odb_write_buf(odb, OBJ_SNAPSHOT, buf.buf, buf.len, &tip, &err), &err);
		prev = tip;
	}
	check(odb_batch_end(odb, &err), &err);

	memset(&wo, 0, sizeof(wo));
	problems = walk_reachable(odb, &tip, NULL, 1, &seen, &wo);
	if (problems != 0 || oidset_size(&seen) != n + depth + 1) {
		fprintf(stderr, "test-deep-walk: %zu problems, %zu objects reached, %llu expected\n",
			problems, oidset_size(&seen), (unsigned long long)(n + depth + 1));
		return 1;
	}
	printf("walked %zu objects: %llu snapshots, %llu levels\n%s\n", oidset_size(&seen),
	       (unsigned long long)n, (unsigned long long)depth, oid_to_hex(&tip));
	oidset_clear(&seen);
	odb_close(odb);
	store_release(&store);
	strbuf_release(&buf);
	return 0;
}
