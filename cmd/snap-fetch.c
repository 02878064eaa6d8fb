/*
 * snap-fetch: copies refs and the objects they need from another store,
 * through snap-serve on the far side (docs/snap-fetch.md).
 */
#include "error.h"
#include "odb.h"
#include "pruned.h"
#include "rclone.h"
#include "refs.h"
#include "store.h"
#include "transport.h"
#include "usage.h"
#include "util.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_str[] =
"usage: snap-fetch [options] REMOTE [REF...]\n"
"\n"
"Copies REFs (default: every ref under refs/snapshots/ of REMOTE) and\n"
"the objects they need from REMOTE (a store's path, HOST:PATH,\n"
"ssh://[USER@]HOST[:PORT]/PATH or rclone:RCLONE_REMOTE:PATH) into this\n"
"store, under the same names.\n"
"Only what this store lacks crosses.\n"
"\n"
"  -f, --force       update a ref even when it is not a fast-forward\n"
"      --json        print the result as one JSON object\n"
"      --progress    a progress line on stderr while objects cross (the\n"
"                    default when stderr is a terminal)\n"
"  -q, --quiet       print nothing on success, and no progress\n"
"      --serve-path CMD  the far side's snap-serve (default snap-serve)\n"
"      --store DIR   the local store (default $SNAP_DIR, else .snap above)\n";

/* Downloaded packs of an rclone remote go however we exit. */
static struct rclone_remote rc;

static const struct remote_ref *remote_ref(const struct transport *t, const char *name)
{
	return rc.url ? rclone_ref(&rc, name) : transport_ref(t, name);
}

/* -f, --force: fetch's one option of its own. */
static int own_option(int c, const char *arg, void *data)
{
	(void)arg;
	if (c != 'f')
		return -1;
	*(int *)data = 1;
	return 0;
}

int main(int argc, char **argv)
{
	struct pruned received = PRUNED_INIT;
	struct strbuf remote_url = STRBUF_INIT, remote_ssh = STRBUF_INIT;
	static const struct option longopts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 }
	};
	struct transport_opts o = TRANSPORT_OPTS_INIT;
	struct ref_names names = REF_NAMES_INIT;
	struct strbuf err = STRBUF_INIT, out = STRBUF_INIT, reason = STRBUF_INIT;
	struct ref_result *res;
	struct snap_oid *wants;
	struct transfer_stats st = { 0, 0 };
	struct transport t;
	struct snap_store store;
	struct ref_transaction *tx;
	struct odb *odb;
	size_t i, nr = 0, nr_w = 0;
	int force = 0, ret;

	usage_setup(argv[0]);
	ret = transport_parse_options(&o, argc, argv, "f", longopts, own_option, &force, &err);
	if (ret == TRANSPORT_OPTS_HELP)
		usage_help(usage_str);
	if (ret < 0)
		usage_error(usage_str, "%s", err.buf);
	if (transport_ref_args(argc, argv, optind, &names, &err) < 0)
		die_err(&err);
	open_store_or_die(o.dir, &store, &odb);
	if (transport_use_remote(&store, &o.remote, &remote_url, &remote_ssh, &err) < 0)
		die_err(&err);
	if (rclone_is_remote(o.remote)) {
		rclone_disconnect_at_exit(&rc);
		if (rclone_connect(&rc, &store, o.remote, RCLONE_FETCH, &err) < 0)
			die_err(&err);
		t.refs = rc.refs;
		t.nr_refs = rc.nr_refs;
	} else if (transport_connect(&t, o.remote, o.serve, &err) < 0) {
		die_err(&err);
	}

	res = xcalloc(t.nr_refs + names.nr + 1, sizeof(*res));
	if (!names.nr) {
		for (i = 0; i < t.nr_refs; i++)
			if (!strncmp(t.refs[i].name, "refs/snapshots/", 15))
				res[nr++].name = xstrdup(t.refs[i].name);
	} else {
		for (i = 0; i < names.nr; i++) {
			const struct remote_ref *rr = remote_ref(&t, names.v[i]);

			if (!rr)
				die("ref '%s' is not on the remote", names.v[i]);
			res[nr++].name = xstrdup(rr->name);
		}
	}
	ref_names_release(&names);
	wants = xcalloc(nr + 1, sizeof(*wants));
	for (i = 0; i < nr; i++) {
		res[i].new_oid = remote_ref(&t, res[i].name)->oid;
		ret = ref_read(&store, res[i].name, &res[i].old_oid, &err);
		if (ret == SNAP_ENOTFOUND) {
			strbuf_reset(&err);
			res[i].old_oid = snap_null_oid;
		} else if (ret < 0) {
			die_err(&err);
		}
		if (!oid_cmp(&res[i].old_oid, &res[i].new_oid))
			res[i].status = "up-to-date";
		else
			wants[nr_w++] = res[i].new_oid;
	}
	if (rc.url)
		ret = nr_w ? rclone_fetch(&rc, odb, wants, nr_w, &st, &received, &err) : 0;
	else
		ret = nr_w ? transport_fetch(&t, odb, wants, nr_w, &st, &received, &err) : 0;
	if (ret < 0) {
		struct strbuf ignored = STRBUF_INIT;

		if (!rc.url)
			transport_disconnect(&t, &ignored);
		die_err(&err);
	}
	if ((rc.url ? rclone_disconnect(&rc, &err) : transport_disconnect(&t, &err)) < 0)
		die_err(&err);

	/* Every ref checked before one moves: all of them, or none. */
	for (i = 0; i < nr; i++) {
		if (res[i].status)
			continue;
		if (oid_is_null(&res[i].old_oid)) {
			res[i].status = "created";
			continue;
		}
		ret = transport_is_ancestor(odb, &res[i].old_oid, &res[i].new_oid, &received, &err);
		if (ret < 0)
			die_err(&err);
		if (!ret && !force) {
			fflush(stdout);
			fprintf(stderr, "%s: fatal: ref '%s' not updated: not a fast-forward of this store's %s (--force)\n",
				snap_progname, res[i].name, oid_to_hex(&res[i].old_oid));
			return finish_stdout(EXIT_NO);
		}
		res[i].status = ret ? "updated" : "forced";
	}
	/* What the remote pruned of what came goes on record as refs move. */
	if (received.nr && pruned_add(&store, &received, NULL, &err) < 0)
		die_err(&err);
	pruned_release(&received);
	strbuf_addf(&reason, "fetch %s", o.remote);
	tx = ref_transaction_begin(odb);
	ret = 0;
	for (i = 0; ret == 0 && i < nr; i++)
		if (strcmp(res[i].status, "up-to-date"))
			ret = ref_transaction_add(tx, res[i].name, &res[i].new_oid, &res[i].old_oid,
						  0, reason.buf, &err);
	ret = ref_transaction_end(tx, ret, &err);
	if (ret < 0) {
		if (ret != SNAP_EEXISTS && ret != SNAP_ELOCKED)
			die_err(&err);
		fflush(stdout);
		fprintf(stderr, "%s: fatal: %s\n", snap_progname, err.buf);
		return finish_stdout(EXIT_NO);
	}
	transport_report(&out, res, nr, &st, "received", o.json);
	if (!o.quiet)
		xfwrite(out.buf, out.len);
	odb_close(odb);
	store_release(&store);
	return finish_stdout_done(0, "the fetch is done (its refs are updated here)");
}
