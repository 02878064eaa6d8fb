/*
 * Garbage collection; the rules are in lib/gc.h and docs/snap-gc.md.
 */
#include "badlist.h"
#include "gc.h"
#include "error.h"
#include "fsio.h"
#include "oidset.h"
#include "pack.h"
#include "pruned.h"
#include "refs.h"
#include "repack.h"
#include "session.h"
#include "util.h"
#include "walk.h"
#include "storefs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct gc {
	struct odb *odb;
	struct snap_store *store;
	const struct gc_opts *o;
	struct gc_stats *st;
	struct oidset reachable;
	struct snap_oid *roots;
	size_t nr_roots, alloc_roots;
	int64_t start_ns, threshold_ns;
	int64_t session_ns;	/* the first live session's start, less slack */
	int have_threshold;	/* 0 with --prune=never: keep all garbage */
	struct snap_oid *loose_keep;	/* reachable loose objects, to pack */
	size_t nr_loose_keep, alloc_loose_keep;
	struct strbuf problem;
	int problem_code;	/* of the first problem: SNAP_EIO or SNAP_ECORRUPT */
	struct strbuf lock_path;
	struct pruned pruned;	/* snapshots pruned on purpose: not marked through */
	/* The shards objects/XX the sweep took an object out of. */
	unsigned char swept[256];
};

void gc_tmp_name(const struct snap_store *store, const char *what, struct strbuf *out)
{
	unsigned char r[4] = { 0 };

	if (getrandom(r, sizeof(r), 0) != sizeof(r))
		memset(r, 0, sizeof(r));
	store_path(store, out, "objects/tmp/gc-%s-%02x%02x%02x%02x", what, r[0], r[1], r[2], r[3]);
}

/* ---- the gc lock ---- */

/*
 * Removes the lock file seen as st, and only that one: it is renamed
 * aside first, and put back if it is another (a gc that took the lock
 * over meanwhile made it anew).  1 if it was removed.
 */
static int break_lock(struct gc *g, const struct stat *seen)
{
	struct strbuf aside = STRBUF_INIT;
	struct stat st;
	int ret = 0;

	gc_tmp_name(g->store, "lock", &aside);
	if (storefs_rename(g->lock_path.buf, aside.buf) == 0) {
		if (storefs_lstat(aside.buf, &st) == 0 && st.st_ino == seen->st_ino &&
		    st.st_dev == seen->st_dev) {
			storefs_unlink(aside.buf);
			ret = 1;
		} else if (storefs_link(aside.buf, g->lock_path.buf) == 0 || errno == EEXIST) {
			storefs_unlink(aside.buf);
		}
	}
	strbuf_release(&aside);
	return ret;
}

static int take_lock(struct gc *g, struct strbuf *err)
{
	struct strbuf text = STRBUF_INIT;
	int tries, ret = 0;

	store_path(g->store, &g->lock_path, "gc.lock");
	for (tries = 0; tries < 3; tries++) {
		int fd = fsio_open(g->lock_path.buf, O_WRONLY | O_CREAT | O_EXCL, 0666);
		char host[256];
		long pid = 0, since = 0;
		int64_t now_ns = 0;
		struct stat st;
		int fields = 0;

		if (fd >= 0) {
			strbuf_reset(&text);
			strbuf_addf(&text, "%ld %s %lld\n", (long)getpid(), local_host(),
				    (long long)time(NULL));
			if (fsio_write(fd, text.buf, text.len) < 0 || fsio_fsync(fd) < 0) {
				ret = snap_error_errno(err, "cannot write '%s'", g->lock_path.buf);
				close(fd);
				storefs_unlink(g->lock_path.buf);
			} else {
				close(fd);
			}
			strbuf_release(&text);
			return ret;
		}
		if (errno != EEXIST) {
			ret = snap_error_errno(err, "cannot create '%s'", g->lock_path.buf);
			break;
		}
		if (storefs_lstat(g->lock_path.buf, &st) < 0) {
			if (errno == ENOENT)
				continue;	/* its gc just ended */
			ret = snap_error_errno(err, "cannot stat '%s'", g->lock_path.buf);
			break;
		}
		strbuf_reset(&text);
		host[0] = '\0';
		if (strbuf_read_file(&text, g->lock_path.buf, 4096) >= 0)
			fields = sscanf(text.buf, "%ld %255s %ld", &pid, host, &since);
		if (fields != 3 || pid <= 0) {
			/*
			 * Empty or garbled: a gc is between creating the file
			 * and writing it, or died there.  The first takes a
			 * moment; past GC_LOCK_GRACE, it is the second.
			 */
			if ((ret = store_now(g->store, &now_ns, err)) < 0)
				break;
			if (now_ns - mtime_ns(&st) >= GC_LOCK_GRACE * 1000000000LL) {
				break_lock(g, &st);
				continue;
			}
			ret = snap_error(err, SNAP_ELOCKED,
					 "another gc is taking '%s' (the file is empty or "
					 "unreadable, %lld s old); it is taken over once %d s old",
					 g->lock_path.buf,
					 (long long)((now_ns - mtime_ns(&st)) / 1000000000LL),
					 GC_LOCK_GRACE);
			break;
		}
		if (!strcmp(host, local_host()) && process_gone(pid)) {
			/* Its process is gone: take the lock over. */
			break_lock(g, &st);
			continue;
		}
		ret = snap_error(err, SNAP_ELOCKED,
				 "another gc holds '%s' (pid %ld on host '%s', for %ld s); "
				 "if it is not running, remove the file",
				 g->lock_path.buf, pid, host,
				 since ? (long)(time(NULL) - since) : 0L);
		break;
	}
	strbuf_release(&text);
	return ret ? ret : snap_error(err, SNAP_ELOCKED, "cannot take '%s'", g->lock_path.buf);
}

static void release_lock(struct gc *g)
{
	if (g->lock_path.len)
		storefs_unlink(g->lock_path.buf);
}

/* ---- marking ---- */

static void add_root(struct gc *g, const struct snap_oid *oid)
{
	ALLOC_GROW(g->roots, g->nr_roots + 1, g->alloc_roots);
	g->roots[g->nr_roots++] = *oid;
}

static void walk_problem(const struct walk_problem *p, void *data)
{
	struct gc *g = data;

	if (g->problem.len)
		return;
	walk_problem_describe(p, &g->problem);
	g->problem_code = p->code == SNAP_EIO ? SNAP_EIO : SNAP_ECORRUPT;
}

/* Sessions: live ones protect their bases and set the threshold. */
static int load_sessions(struct gc *g, struct strbuf *err)
{
	struct session **all;
	size_t nr, i, j;
	int ret = sessions_load(g->store, &all, &nr, err);

	if (ret < 0) {
		strbuf_addstr(err, "; nothing was deleted (if its writer has ended, remove the file)");
		return ret;
	}
	for (i = 0; i < nr; i++) {
		struct session *s = all[i];
		enum session_state state = session_state(s, g->start_ns);

		if (state == SESSION_LIVE) {
			for (j = 0; j < s->nr_bases; j++)
				add_root(g, &s->bases[j]);
			if (s->start_ns < g->threshold_ns)
				g->threshold_ns = s->start_ns;
			if (s->start_ns - SESSION_SLACK_NS < g->session_ns)
				g->session_ns = s->start_ns - SESSION_SLACK_NS;
		} else if (!g->o->dry_run) {
			storefs_unlink(s->path);
			g->st->sessions_cleaned++;
		}
		session_free(s);
	}
	free(all);
	return 0;
}

static int mark(struct gc *g, struct strbuf *err)
{
	struct walk_opts wo;
	int ret;

	/*
	 * A damaged record cannot say which parents were cut on purpose:
	 * marking without it would call them missing, marking with part of
	 * it could sweep what was meant to stay.
	 */
	ret = pruned_load(g->store, &g->pruned, err);
	if (ret < 0) {
		strbuf_addstr(err, "; nothing was deleted (see snap-fsck)");
		return ret;
	}
	ret = walk_collect_roots(g->store, &g->pruned, &g->roots, &g->nr_roots,
				 &g->alloc_roots, err);
	if (ret < 0) {
		strbuf_addstr(err, "; nothing was deleted (see snap-fsck)");
		return ret;
	}
	memset(&wo, 0, sizeof(wo));
	wo.problem = walk_problem;
	wo.data = g;
	wo.pruned = &g->pruned;
	/* A walk that met any problem is not the whole of what is live. */
	if (walk_reachable(g->odb, g->roots, NULL, g->nr_roots, &g->reachable, &wo) > 0)
		return snap_error(err, g->problem_code, "%s; nothing was deleted (see snap-fsck)",
				  g->problem.buf);
	return 0;
}

/* ---- orphan packs ---- */

/*
 * A pack an hour old with no index (its writer, or a gc, was killed
 * between renaming the two) gets the index a scan of its frames gives, so
 * that its objects are read, kept or dropped like any others: never
 * deleted unread, since it may hold the only copy of something.
 */
static int index_orphans(struct gc *g, struct strbuf *err)
{
	struct strbuf dir = STRBUF_INIT, idx = STRBUF_INIT, tmp = STRBUF_INIT;
	struct dirent *de;
	DIR *d;
	int ret = 0, made = 0;

	store_path(g->store, &dir, "objects/pack");
	store_path(g->store, &tmp, "objects/tmp");
	d = storefs_opendir(dir.buf);
	while (d && ret == 0 && (de = readdir(d))) {
		size_t n = strlen(de->d_name);
		struct stat st;

		if (n < 6 || strcmp(de->d_name + n - 5, ".pack"))
			continue;
		strbuf_reset(&idx);
		strbuf_addf(&idx, "%s/%.*s.idx", dir.buf, (int)(n - 5), de->d_name);
		if (access(idx.buf, F_OK) == 0 || errno != ENOENT)
			continue;
		strbuf_setlen(&idx, idx.len - 4);
		strbuf_addstr(&idx, ".pack");
		if (storefs_lstat(idx.buf, &st) < 0 || g->start_ns - mtime_ns(&st) < 3600LL * 1000000000LL)
			continue;
		strbuf_setlen(&idx, idx.len - 5);
		strbuf_addstr(&idx, ".idx");
		ret = pack_index_orphan(idx.buf, tmp.buf, err);
		made += ret == 0;
	}
	if (d)
		closedir(d);
	if (ret == 0 && made)
		ret = odb_reload_packs(g->odb, err);
	strbuf_release(&dir);
	strbuf_release(&idx);
	strbuf_release(&tmp);
	return ret;
}

/* ---- sweeping ---- */

/*
 * Makes the sweep's removals durable before repack removes any pack: a
 * power cut must not bring back a dead loose object (a chunk list, a
 * tree) whose children went with a pack, which fsck would then call
 * missing.
 */
static int sweep_sync(struct gc *g, struct strbuf *err)
{
	struct strbuf dir = STRBUF_INIT;
	int i, ret = 0;

	for (i = 0; i < 256 && ret == 0; i++) {
		if (!g->swept[i])
			continue;
		store_path(g->store, &dir, "objects/%02x", i);
		if (fsio_fsync_dir(dir.buf) < 0 && errno != ENOENT)
			ret = snap_error_errno(err, "cannot sync '%s'", dir.buf);
	}
	strbuf_release(&dir);
	return ret;
}

static int recent(const struct gc *g, int64_t mtime)
{
	return !g->have_threshold || mtime >= g->threshold_ns;
}

static int sweep_one(const struct snap_oid *oid, void *data)
{
	struct gc *g = data;
	struct strbuf path = STRBUF_INIT, tmp = STRBUF_INIT, err = STRBUF_INIT;
	enum object_type type = OBJ_NONE;
	uint64_t size = 0;
	int chunked = 0;
	struct stat st;

	if (oidset_contains(&g->reachable, oid)) {
		ALLOC_GROW(g->loose_keep, g->nr_loose_keep + 1, g->alloc_loose_keep);
		g->loose_keep[g->nr_loose_keep++] = *oid;
		return 0;
	}
	odb_loose_path(g->odb, oid, &path);
	if (storefs_lstat(path.buf, &st) < 0 || recent(g, mtime_ns(&st))) {
		g->st->objects_kept++;
		goto out;
	}
	odb_read_info(g->odb, oid, &type, &size, &chunked, &err);
	if (g->o->dry_run) {
		g->st->objects_removed++;
		g->st->bytes_removed += chunked ? 0 : size;
		g->st->files_freed += (uint64_t)st.st_size;
		if (g->o->removed)
			g->o->removed(oid, type, size, g->o->data);
		goto out;
	}
	/* Take it out of sight first, then look again: see lib/gc.h. */
	gc_tmp_name(g->store, oid_to_hex(oid), &tmp);
	if (fsio_rename(path.buf, tmp.buf) < 0)
		goto out;
	g->swept[oid->hash[0]] = 1;
	if (storefs_lstat(tmp.buf, &st) == 0 && recent(g, mtime_ns(&st))) {
		if (storefs_link(tmp.buf, path.buf) < 0 && errno != EEXIST)
			storefs_rename(tmp.buf, path.buf);
		storefs_unlink(tmp.buf);
		g->st->objects_kept++;
		goto out;
	}
	fsio_unlink(tmp.buf);
	g->st->objects_removed++;
	/* A chunk list's bytes are its chunks', counted as they go. */
	g->st->bytes_removed += chunked ? 0 : size;
	g->st->files_freed += (uint64_t)st.st_size;
	if (g->o->removed)
		g->o->removed(oid, type, size, g->o->data);
out:
	strbuf_release(&path);
	strbuf_release(&tmp);
	strbuf_release(&err);
	return 0;
}

/* Step 5 (repack.h): what the mark left live, into new packs. */
static int repack(struct gc *g, struct strbuf *err)
{
	struct repack_opts ro = {
		.reachable = &g->reachable,
		.keep_since_ns = g->have_threshold ? g->threshold_ns : INT64_MIN,
		.start_ns = g->start_ns,
		.loose = g->loose_keep,
		.nr_loose = g->nr_loose_keep,
		.gc = g->o,
	};

	return repack_run(g->odb, &ro, g->st, err);
}

static void clean_temp(struct gc *g)
{
	struct strbuf dir = STRBUF_INIT, path = STRBUF_INIT;
	const char *dirs[] = { "objects/tmp", "sessions" };
	struct dirent *de;
	struct stat st;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(dirs); i++) {
		DIR *d;

		store_path(g->store, &dir, "%s", dirs[i]);
		d = storefs_opendir(dir.buf);
		while (d && (de = readdir(d))) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			if (i == 1 && de->d_name[0] != '.')
				continue;	/* session files proper were handled */
			strbuf_reset(&path);
			strbuf_addf(&path, "%s/%s", dir.buf, de->d_name);
			/*
			 * A file a live writer made since its session began is
			 * its, whatever its mtime says: a download (rclone copyto)
			 * keeps the remote file's old time, but its ctime is new.
			 */
			if (storefs_lstat(&path.buf[0], &st) < 0 || !S_ISREG(st.st_mode) ||
			    recent(g, mtime_ns(&st)) || ctime_ns(&st) >= g->session_ns)
				continue;
			if (!g->o->dry_run && fsio_unlink(path.buf) == 0)
				g->st->temp_removed++;
		}
		if (d)
			closedir(d);
	}
	strbuf_release(&dir);
	strbuf_release(&path);
}

int gc_run(struct odb *odb, const struct gc_opts *opts, struct gc_stats *stats,
	   struct strbuf *err)
{
	struct gc g;
	int ret;

	memset(&g, 0, sizeof(g));
	memset(stats, 0, sizeof(*stats));
	g.odb = odb;
	g.store = odb_store(odb);
	g.o = opts;
	g.st = stats;
	strbuf_init(&g.problem, 0);
	strbuf_init(&g.lock_path, 0);

	ret = take_lock(&g, err);
	if (ret < 0) {
		strbuf_release(&g.lock_path);
		g.lock_path.len = 0;
		goto out;
	}
	/* A ref transaction that died half-applied is finished before marking. */
	ret = refs_recover(g.store, err);
	if (ret < 0)
		goto out;
	ret = store_now(g.store, &g.start_ns, err);
	if (ret < 0)
		goto out;
	g.threshold_ns = g.start_ns;
	g.session_ns = INT64_MAX;
	ret = load_sessions(&g, err);
	if (ret < 0)
		goto out;
	/*
	 * An age reaching back before the epoch keeps every unreachable
	 * object (nothing is that old), as "never" does; so the subtraction
	 * below cannot overflow.
	 */
	g.have_threshold = opts->prune_age >= 0 &&
			   opts->prune_age <= g.start_ns / 1000000000LL;
	if (g.have_threshold && g.start_ns - opts->prune_age * 1000000000LL < g.threshold_ns)
		g.threshold_ns = g.start_ns - opts->prune_age * 1000000000LL;
	g.threshold_ns -= SESSION_SLACK_NS;

	if (!opts->dry_run && (ret = index_orphans(&g, err)) < 0)
		goto out;
	ret = mark(&g, err);
	if (ret < 0)
		goto out;
	ret = odb_for_each_loose(odb, sweep_one, &g, err);
	if (ret == 0)
		ret = sweep_sync(&g, err);
	if (ret == 0)
		ret = repack(&g, err);
	if (ret == 0 && !g.o->dry_run)
		ret = odb_write_midx(odb, err);
	/* Advice only (badlist.h): a failure here costs a needless rewrite. */
	if (ret == 0 && !g.o->dry_run)
		(void)badlist_tidy(g.store, odb, NULL, NULL);
	if (ret == 0)
		clean_temp(&g);
out:
	release_lock(&g);
	oidset_clear(&g.reachable);
	pruned_release(&g.pruned);
	free(g.roots);
	free(g.loose_keep);
	strbuf_release(&g.problem);
	strbuf_release(&g.lock_path);
	return ret;
}

