/*
 * The far side of the transfer protocol: snap-serve's loop, its
 * advertisement, and the push and fetch it answers (transport.h,
 * serve_run; docs/FORMAT.md, "Transfer protocol").
 */
#include "transport.h"

#include "error.h"
#include "pruned.h"
#include "refs.h"
#include "transfer.h"
#include "util.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

struct advert {
	struct pkt_conn *c;
	struct remote_ref *refs;
	size_t nr, alloc;
	int ret;
	struct strbuf *err;
};

static int advertise_ref(const char *name, const struct snap_oid *oid, void *data)
{
	struct advert *a = data;

	if (!oid)
		return 0;
	ALLOC_GROW(a->refs, a->nr + 1, a->alloc);
	a->refs[a->nr].name = xstrdup(name);
	a->refs[a->nr].oid = *oid;
	a->nr++;
	return pkt_writef(a->c, a->err, "ref %s %s\n", oid_to_hex(oid), name);
}

/*
 * Tells the client why, as "refused" (the answer no) or "error", and
 * empties err: the client reports it.
 */
static int tell(struct pkt_conn *c, int ret, struct strbuf *err)
{
	struct strbuf ignored = STRBUF_INIT;

	pkt_writef(c, &ignored, "%s %s\n",
		   ret == SNAP_EEXISTS || ret == SNAP_ELOCKED ? "refused" : "error", err->buf);
	pkt_flush(c, &ignored);
	strbuf_release(&ignored);
	strbuf_reset(err);
	return ret;
}

struct serve_update {
	char *name;
	struct snap_oid old_oid, new_oid;
	int force;
};

static int read_updates(struct pkt_conn *c, struct serve_update **out, size_t *nr,
			struct strbuf *err)
{
	struct strbuf line = STRBUF_INIT;
	size_t alloc = 0;
	int ret;

	while ((ret = transfer_read_ctl(c, &line, err)) == 1) {
		struct serve_update u;
		const char *p, *q;
		char *name;

		if (strncmp(line.buf, "update ", 7) || !(p = transfer_parse_oid(line.buf + 7, &u.old_oid, ' ')) ||
		    !(q = transfer_parse_oid(p, &u.new_oid, ' ')) || *nr >= TRANSPORT_REFS_MAX) {
			ret = transfer_protocol_error(err, "expected 'update <old> <new> <name>'", &line);
			break;
		}
		name = xstrdup(q);
		u.force = 0;
		if (strlen(name) > 6 && !strcmp(name + strlen(name) - 6, " force")) {
			name[strlen(name) - 6] = '\0';
			u.force = 1;
		}
		u.name = name;
		ALLOC_GROW(*out, *nr + 1, alloc);
		(*out)[(*nr)++] = u;
		if ((ret = ref_name_check(name, err)) < 0)
			break;
	}
	strbuf_release(&line);
	return ret;
}

/* What may be refused before any object crosses. */
static int check_update(struct odb *odb, const struct serve_update *u, const struct serve_opts *o,
			struct strbuf *err)
{
	struct snap_oid cur;
	int ret;

	if (o->append_only && oid_is_null(&u->new_oid))
		return snap_error(err, SNAP_EEXISTS, "ref '%s' not deleted: the store is append-only",
				  u->name);
	ret = ref_read(odb_store(odb), u->name, &cur, err);
	if (ret == SNAP_ENOTFOUND) {
		strbuf_reset(err);
		cur = snap_null_oid;
	} else if (ret < 0) {
		return ret;
	}
	if (oid_cmp(&cur, &u->old_oid)) {
		char want[SNAP_OID_HEXSZ + 1];

		return snap_error(err, SNAP_EEXISTS, "ref '%s' moved: expected %s, found %s", u->name,
				  oid_to_hex_r(want, &u->old_oid), oid_to_hex(&cur));
	}
	return 0;
}

/* What is checked once the objects are here: fast-forwards. */
static int check_forward(struct odb *odb, const struct serve_update *u, const struct serve_opts *o,
			 const struct pruned *received, struct strbuf *err)
{
	int ret;

	if (oid_is_null(&u->old_oid) || oid_is_null(&u->new_oid))
		return 0;
	ret = transport_is_ancestor(odb, &u->old_oid, &u->new_oid, received, err);
	if (ret < 0 || ret == 1)
		return ret < 0 ? ret : 0;
	if (o->append_only)
		return snap_error(err, SNAP_EEXISTS,
				  "ref '%s' not updated: not a fast-forward, and the store is append-only",
				  u->name);
	if (!u->force)
		return snap_error(err, SNAP_EEXISTS, "ref '%s' not updated: not a fast-forward", u->name);
	return 0;
}

static int serve_push(struct pkt_conn *c, struct odb *odb, const struct serve_opts *o,
		      struct strbuf *err)
{
	struct serve_update *u = NULL;
	struct transfer_stats st = { 0, 0 };
	struct ref_transaction *tx = NULL;
	struct pruned received = PRUNED_INIT;
	size_t nr = 0, i;
	int ret = read_updates(c, &u, &nr, err);

	for (i = 0; ret == 0 && i < nr; i++)
		ret = check_update(odb, &u[i], o, err);
	if (ret == 0) {
		ret = pkt_writef(c, err, "ready\n");
		if (ret == 0)
			ret = pkt_flush(c, err);
		if (ret < 0)
			goto out;
		ret = transfer_receive(c, odb, o->version, &st, &received, err);
	}
	for (i = 0; ret == 0 && i < nr; i++)
		ret = check_forward(odb, &u[i], o, &received, err);
	/* All checked: what the sender pruned of what it sent goes on record
	 * just before the refs move (a lost swap then leaves only entries
	 * for snapshots this store does not have). */
	if (ret == 0 && received.nr)
		ret = pruned_add(odb_store(odb), &received, NULL, err);
	if (ret == 0) {
		tx = ref_transaction_begin(odb);
		for (i = 0; ret == 0 && i < nr; i++)
			ret = ref_transaction_add(tx, u[i].name,
						  oid_is_null(&u[i].new_oid) ? NULL : &u[i].new_oid,
						  &u[i].old_oid, 0, "push", err);
		ret = ref_transaction_end(tx, ret, err);
	}
	if (ret == 0) {
		ret = pkt_writef(c, err, "ok\n");
		if (ret == 0)
			ret = pkt_flush(c, err);
	} else if (ret != SNAP_EIO || strncmp(err->buf, "connection closed", 17)) {
		tell(c, ret, err);
	}
out:
	for (i = 0; i < nr; i++)
		free(u[i].name);
	free(u);
	pruned_release(&received);
	return ret;
}

static int serve_fetch(struct pkt_conn *c, struct odb *odb, int version, const struct advert *a,
		       struct strbuf *err)
{
	struct strbuf line = STRBUF_INIT;
	struct snap_oid *wants = NULL, *haves = NULL;
	size_t nr_w = 0, al_w = 0, nr_h = 0, al_h = 0;
	struct transfer_stats st = { 0, 0 };
	int ret;

	while ((ret = transfer_read_ctl(c, &line, err)) == 1) {
		struct snap_oid oid;
		int want = !strncmp(line.buf, "want ", 5), have = !strncmp(line.buf, "have ", 5);
		size_t i;

		if ((!want && !have) || !transfer_parse_oid(line.buf + 5, &oid, '\0') ||
		    nr_w + nr_h >= 2 * TRANSPORT_REFS_MAX) {
			ret = transfer_protocol_error(err, "expected 'want <id>' or 'have <id>'", &line);
			break;
		}
		if (have) {
			ALLOC_GROW(haves, nr_h + 1, al_h);
			haves[nr_h++] = oid;
			continue;
		}
		/* Only what a ref names is served, nothing else of the store. */
		for (i = 0; i < a->nr && oid_cmp(&a->refs[i].oid, &oid); i++)
			;
		if (i == a->nr) {
			ret = snap_error(err, SNAP_EINVAL, "'%s' is not the id of a ref", oid_to_hex(&oid));
			break;
		}
		ALLOC_GROW(wants, nr_w + 1, al_w);
		wants[nr_w++] = oid;
	}
	if (ret == 0)
		ret = transfer_send(c, odb, version, wants, nr_w, haves, nr_h, &st, err);
	if (ret < 0 && (ret != SNAP_EIO || strncmp(err->buf, "cannot write", 12)))
		tell(c, ret, err);
	free(wants);
	free(haves);
	strbuf_release(&line);
	return ret;
}

int serve_run(struct odb *odb, int in, int out, const struct serve_opts *o,
	      struct strbuf *err)
{
	struct pkt_conn c;
	struct advert a = { &c, NULL, 0, 0, 0, err };
	struct strbuf line = STRBUF_INIT;
	size_t i;
	int ret;

	signal(SIGPIPE, SIG_IGN);
	pkt_init(&c, in, out);
	ret = pkt_writef(&c, err, "version %d\n", o->version > 1 ? 2 : 1);
	if (ret == 0)
		ret = refs_for_each(odb_store(odb), "refs/", advertise_ref, &a, err);
	if (ret == 0)
		ret = pkt_flush(&c, err);
	if (ret == 0) {
		ret = transfer_read_ctl(&c, &line, err);
		if (ret == SNAP_EIO && !strcmp(err->buf, "connection closed")) {
			strbuf_reset(err);
			ret = 0;
		} else if (ret == 1 && !strcmp(line.buf, "push")) {
			ret = serve_push(&c, odb, o, err);
		} else if (ret == 1 && !strcmp(line.buf, "fetch")) {
			ret = serve_fetch(&c, odb, o->version, &a, err);
		} else if (ret == 1) {
			ret = tell(&c, snap_error(err, SNAP_EINVAL, "unknown command '%.40s'", line.buf), err);
		}
	}
	/* A client that hung up says why itself; a second line would be noise. */
	if (ret < 0 && c.hung_up)
		strbuf_reset(err);
	for (i = 0; i < a.nr; i++)
		free(a.refs[i].name);
	free(a.refs);
	strbuf_release(&line);
	pkt_release(&c);
	return ret;
}
