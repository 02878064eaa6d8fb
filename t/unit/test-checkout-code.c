/*
 * Restores TREE into DIR with checkout_tree() (with TMP, checkout_in_place()
 * through TMP) on JOBS threads, and prints the name of the code it
 * returned, so that a test sees the library's code and not only the exit
 * status a command makes of it.  The message goes to stderr.
 *
 *   test-checkout-code STORE TREE JOBS DIR [TMP]
 */
#include "checkout.h"
#include "error.h"
#include "odb.h"
#include "store.h"

#include <stdio.h>
#include <stdlib.h>

static const char *code_name(int code)
{
	switch (code) {
	case SNAP_OK: return "SNAP_OK";
	case CHECKOUT_INCOMPLETE: return "CHECKOUT_INCOMPLETE";
	case SNAP_ENOTFOUND: return "SNAP_ENOTFOUND";
	case SNAP_EAMBIGUOUS: return "SNAP_EAMBIGUOUS";
	case SNAP_EEXISTS: return "SNAP_EEXISTS";
	case SNAP_EINVAL: return "SNAP_EINVAL";
	case SNAP_ECORRUPT: return "SNAP_ECORRUPT";
	case SNAP_EIO: return "SNAP_EIO";
	case SNAP_ETOOBIG: return "SNAP_ETOOBIG";
	case SNAP_ELOCKED: return "SNAP_ELOCKED";
	case SNAP_EUNSAFE: return "SNAP_EUNSAFE";
	}
	return "unknown";
}

int main(int argc, char **argv)
{
	struct strbuf err = STRBUF_INIT;
	struct checkout_opts co = { 0 };
	struct snap_store store;
	struct snap_oid tree;
	struct odb *odb;
	int ret;

	if ((argc != 5 && argc != 6) || oid_from_hex(&tree, argv[2]) < 0) {
		fprintf(stderr, "usage: test-checkout-code STORE TREE JOBS DIR [TMP]\n");
		return 2;
	}
	co.jobs = atoi(argv[3]);
	if (store_open(&store, argv[1], &err) < 0 || odb_open(&odb, &store, &err) < 0) {
		fprintf(stderr, "test-checkout-code: %s\n", err.buf);
		return 2;
	}
	if (argc == 6)
		ret = checkout_in_place(odb, &tree, argv[4], argv[5], &co, &err);
	else
		ret = checkout_tree(odb, &tree, argv[4], &co, &err);
	printf("%s\n", code_name(ret));
	if (ret < 0)
		fprintf(stderr, "test-checkout-code: %s\n", err.buf);
	odb_close(odb);
	store_release(&store);
	return 0;
}
