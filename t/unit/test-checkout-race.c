/*
 * Restores TREE into DIR like snap-checkout, playing the attacker who can
 * write in DIR: at the first STEP of the restore (see checkout_opts.step)
 * it moves DIR/SWAP aside and puts a symlink to TARGET in its place.
 * Exits 0 when the restore succeeded, 1 when it failed (the message on
 * stderr), 3 when STEP never came.
 *
 *   test-checkout-race STORE TREE DIR STEP SWAP TARGET
 */
#include "checkout.h"
#include "odb.h"
#include "store.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct attack {
	const char *dir, *step, *swap, *target;
	int done;
};

static void step(const char *what, const char *path, void *data)
{
	struct attack *a = data;
	struct strbuf from = STRBUF_INIT, to = STRBUF_INIT;

	(void)path;
	if (a->done || strcmp(what, a->step))
		return;
	a->done = 1;
	strbuf_addf(&from, "%s/%s", a->dir, a->swap);
	strbuf_addf(&to, "%s.moved", from.buf);
	if (rename(from.buf, to.buf) < 0 || symlink(a->target, from.buf) < 0) {
		perror("test-checkout-race: swap");
		exit(2);
	}
	strbuf_release(&from);
	strbuf_release(&to);
}

int main(int argc, char **argv)
{
	struct strbuf err = STRBUF_INIT;
	struct checkout_opts co = { .jobs = 1 };
	struct snap_store store;
	struct snap_oid tree;
	struct attack a;
	struct odb *odb;
	int ret;

	if (argc != 7 || oid_from_hex(&tree, argv[2]) < 0) {
		fprintf(stderr, "usage: test-checkout-race STORE TREE DIR STEP SWAP TARGET\n");
		return 2;
	}
	a.dir = argv[3];
	a.step = argv[4];
	a.swap = argv[5];
	a.target = argv[6];
	a.done = 0;
	co.step = step;
	co.step_data = &a;
	if (store_open(&store, argv[1], &err) < 0 || odb_open(&odb, &store, &err) < 0) {
		fprintf(stderr, "test-checkout-race: %s\n", err.buf);
		return 2;
	}
	ret = checkout_tree(odb, &tree, argv[3], &co, &err);
	if (ret < 0)
		fprintf(stderr, "test-checkout-race: %s\n", err.buf);
	odb_close(odb);
	store_release(&store);
	if (!a.done)
		return 3;
	return ret < 0;
}
