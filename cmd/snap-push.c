/*
 * snap-push: sends refs and the objects they need to another store,
 * through snap-serve on the far side (docs/snap-push.md).
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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_str[] =
"usage: snap-push [options] REMOTE [REF...]\n"
"\n"
"Sends REFs (default: every ref under refs/snapshots/) and the objects\n"
"they need to REMOTE: a store's path, HOST:PATH,\n"
"ssh://[USER@]HOST[:PORT]/PATH or rclone:RCLONE_REMOTE:PATH (object\n"
"storage through rclone).  Only what the remote lacks is sent.\n"
"\n"
"  --force-with-lease[=REF:EXPECTED]\n"
"                    allow a push that is not a fast-forward, where the\n"
"                    remote's REF still holds EXPECTED (an id, or empty\n"
"                    for absent); bare: whatever it held when we connected\n"
"  -d, --delete      delete the REFs on the remote\n"
"      --json        print the result as one JSON object\n"
"      --progress    a progress line on stderr while objects cross (the\n"
"                    default when stderr is a terminal)\n"
"  -q, --quiet       print nothing on success, and no progress\n"
"      --serve-path CMD  the far side's snap-serve (default snap-serve)\n"
"      --store DIR   the local store (default $SNAP_DIR, else .snap above)\n";

struct lease {
	char *name;
	struct snap_oid expected;
};

static struct lease *leases;
static size_t nr_leases, alloc_leases;
static int lease_all;

static void add_lease(const char *arg)
{
	const char *colon = strrchr(arg, ':');
	struct strbuf err = STRBUF_INIT;
	struct lease l;
	char *name;

	if (!colon)
		usage_error(usage_str, "--force-with-lease=%s: expected REF:EXPECTED", arg);
	name = xstrndup(arg, (size_t)(colon - arg));
	l.name = ref_full_name(name);
	free(name);
	if (ref_name_check(l.name, &err) < 0)
		usage_error(usage_str, "--force-with-lease: %s", err.buf);
	if (!colon[1])
		l.expected = snap_null_oid;
	else if (strlen(colon + 1) != SNAP_OID_HEXSZ || oid_from_hex(&l.expected, colon + 1) < 0)
		usage_error(usage_str, "--force-with-lease=%s: EXPECTED must be a full id or empty", arg);
	ALLOC_GROW(leases, nr_leases + 1, alloc_leases);
	leases[nr_leases++] = l;
}

static const struct lease *find_lease(const char *name)
{
	size_t i;

	for (i = 0; i < nr_leases; i++)
		if (!strcmp(leases[i].name, name))
			return &leases[i];
	return NULL;
}

/* An rclone remote's lease is given back however we exit. */
static struct rclone_remote rc;


/* push's own options: --force-with-lease[=REF:EXPECTED] and -d, --delete. */
static int own_option(int c, const char *arg, void *data)
{
	switch (c) {
	case 'l':
		if (arg)
			add_lease(arg);
		else
			lease_all = 1;
		return 0;
	case 'd':
		*(int *)data = 1;
		return 0;
	}
	return -1;
}

int main(int argc, char **argv)
{
	struct strbuf remote_url = STRBUF_INIT, remote_ssh = STRBUF_INIT;
	static const struct option longopts[] = {
		{ "force-with-lease", optional_argument, NULL, 'l' },
		{ "delete", no_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 }
	};
	struct transport_opts o = TRANSPORT_OPTS_INIT;
	struct strbuf err = STRBUF_INIT, out = STRBUF_INIT;
	struct ref_names names = REF_NAMES_INIT;
	struct push_update *u;
	struct ref_result *res;
	struct transfer_stats st = { 0, 0 };
	struct transport t;
	struct snap_store store;
	struct odb *odb;
	size_t i, nr_u = 0;
	int del = 0, ret, rcl;

	usage_setup(argv[0]);
	ret = transport_parse_options(&o, argc, argv, "d", longopts, own_option, &del, &err);
	if (ret == TRANSPORT_OPTS_HELP)
		usage_help(usage_str);
	if (ret < 0)
		usage_error(usage_str, "%s", err.buf);
	if (del && optind == argc)
		usage_error(usage_str, "--delete needs the REFs to delete");
	open_store_or_die(o.dir, &store, &odb);
	if (optind == argc && refs_for_each(&store, "refs/snapshots/", ref_names_add, &names, &err) < 0)
		die_err(&err);
	if (transport_ref_args(argc, argv, optind, &names, &err) < 0)
		die_err(&err);

	u = xcalloc(names.nr + 1, sizeof(*u));
	res = xcalloc(names.nr + 1, sizeof(*res));
	for (i = 0; i < names.nr; i++) {
		res[i].name = names.v[i];
		if (del)
			continue;
		ret = ref_read(&store, names.v[i], &res[i].new_oid, &err);
		if (ret < 0)
			die_err(&err);
	}
	if (transport_use_remote(&store, &o.remote, &remote_url, &remote_ssh, &err) < 0)
		die_err(&err);
	/* A record that cannot be read fails here, before the far side waits. */
	{
		struct pruned check = PRUNED_INIT;

		if (pruned_load(&store, &check, &err) < 0)
			die_err(&err);
		pruned_release(&check);
	}
	rcl = rclone_is_remote(o.remote);
	if (rcl) {
		rclone_disconnect_at_exit(&rc);
		ret = rclone_connect(&rc, &store, o.remote, RCLONE_PUSH, &err);
		if (ret == SNAP_ELOCKED)
			die_refused("%s", err.buf);
		if (ret < 0)
			die_err(&err);
	} else if (transport_connect(&t, o.remote, o.serve, &err) < 0) {
		die_err(&err);
	}
	for (i = 0; i < names.nr; i++) {
		const struct remote_ref *rr = rcl ? rclone_ref(&rc, names.v[i])
						  : transport_ref(&t, names.v[i]);
		const struct lease *l = find_lease(names.v[i]);
		struct snap_oid theirs = rr ? rr->oid : snap_null_oid;
		int force = lease_all || l;

		res[i].old_oid = theirs;
		if (l && oid_cmp(&l->expected, &theirs)) {
			char want[SNAP_OID_HEXSZ + 1];

			die_refused("ref '%s' not pushed: the remote holds %s, not the %s the lease expects",
			       names.v[i], oid_to_hex(&theirs), oid_to_hex_r(want, &l->expected));
		}
		if (!oid_cmp(&theirs, &res[i].new_oid)) {
			res[i].status = "up-to-date";
			continue;
		}
		if (del) {
			res[i].status = "deleted";
		} else if (oid_is_null(&theirs)) {
			res[i].status = "created";
		} else {
			/* (theirs may be one pruned and collected here: the walk
			 * passes through the record's entries, comparing each) */
			ret = transport_is_ancestor(odb, &theirs, &res[i].new_oid, NULL, &err);
			if (ret < 0)
				die_err(&err);
			if (!ret && !force)
				die_refused("ref '%s' not pushed: not a fast-forward of the remote's %s "
				       "(fetch first, or --force-with-lease)", names.v[i], oid_to_hex(&theirs));
			res[i].status = ret ? "updated" : "forced";
		}
		u[nr_u].name = names.v[i];
		u[nr_u].old_oid = theirs;
		u[nr_u].new_oid = res[i].new_oid;
		u[nr_u].force = force;
		nr_u++;
	}
	if (rcl)
		ret = nr_u ? rclone_push(&rc, odb, u, nr_u, &st, &err) : 0;
	else
		ret = nr_u ? transport_push(&t, odb, u, nr_u, &st, &err) : 0;
	if (ret < 0) {
		struct strbuf ignored = STRBUF_INIT;

		if (!rcl)
			transport_disconnect(&t, &ignored);
		if (ret == SNAP_EEXISTS || (rcl && ret == SNAP_ELOCKED))
			die_refused("%s", err.buf);
		die_err(&err);
	}
	/*
	 * On an rclone remote the refs have moved by now: a lease that cannot
	 * be given back lapses on its own and is no failure of the push.
	 */
	if (rcl && rclone_disconnect(&rc, &err) < 0)
		warning("the push is complete, but the remote's lease stays until it expires "
			"(a push from this host takes it over at once): %s", err.buf);
	else if (!rcl && transport_disconnect(&t, &err) < 0)
		die_err(&err);
	transport_report(&out, res, names.nr, &st, "sent", o.json);
	if (!o.quiet)
		xfwrite(out.buf, out.len);
	odb_close(odb);
	store_release(&store);
	return finish_stdout_done(0, nr_u ? "the push is done (refs moved on the remote)" : NULL);
}
