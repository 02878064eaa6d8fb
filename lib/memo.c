#include "memo.h"
#include "error.h"
#include "fsio.h"
#include "hash.h"
#include "refs.h"
#include "session.h"
#include "snapshot.h"
#include "tree.h"
#include "util.h"
#include "storefs.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int memo_key_check(const char *key, struct strbuf *err)
{
	struct strbuf name = STRBUF_INIT;
	size_t i, len = strlen(key), err_len = err->len;
	int ret;

	if (!len || len > MEMO_KEY_MAX || key[0] == '.')
		goto bad;
	for (i = 0; i < len; i++) {
		char c = key[i];
		if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') &&
		    !(c >= '0' && c <= '9') && c != '.' && c != '_' && c != '-')
			goto bad;
	}
	if (len >= 5 && !strcmp(key + len - 5, ".lock"))
		goto bad;
	/*
	 * The entry is a ref: what a ref name cannot hold ("..") is refused
	 * here, before anything is written, by the one check of ref names.
	 */
	strbuf_addf(&name, "refs/memo/%s", key);
	strbuf_addf(err, "bad memo key '%s': ", key);
	ret = ref_name_check(name.buf, err);
	strbuf_release(&name);
	if (ret < 0)
		return ret;
	strbuf_setlen(err, err_len);
	return 0;
bad:
	return snap_error(err, SNAP_EINVAL,
			  "bad memo key '%s' (1 to %d of A-Z a-z 0-9 . _ -, not starting with '.')",
			  key, MEMO_KEY_MAX);
}

int memo_key_compute(char *const *argv, char *const *files, size_t nr_files,
		     struct strbuf *key, struct strbuf *err)
{
	struct snap_hash_ctx c;
	struct snap_oid oid;
	char hex[SNAP_OID_HEXSZ + 1];
	size_t i;

	hash_init(&c);
	hash_update(&c, "snap-memo command\n", 18);
	for (i = 0; argv[i]; i++)
		hash_update(&c, argv[i], strlen(argv[i]) + 1);
	for (i = 0; i < nr_files; i++) {
		struct snap_hash_ctx fc;
		struct snap_oid content;
		char buf[65536];
		ssize_t n;
		int fd = storefs_open(files[i], O_RDONLY | O_CLOEXEC, 0);

		if (fd < 0)
			return snap_error_errno(err, "cannot read '%s'", files[i]);
		hash_init(&fc);
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			hash_update(&fc, buf, (size_t)n);
		if (n < 0) {
			int ret = snap_error_errno(err, "cannot read '%s'", files[i]);
			close(fd);
			return ret;
		}
		close(fd);
		hash_final(&fc, &content);
		hash_update(&c, "\nfile ", 6);
		hash_update(&c, files[i], strlen(files[i]) + 1);
		hash_update(&c, content.hash, sizeof(content.hash));
	}
	hash_final(&c, &oid);
	strbuf_addstr(key, oid_to_hex_r(hex, &oid));
	return 0;
}

static void ref_name(struct strbuf *sb, const char *key)
{
	strbuf_reset(sb);
	strbuf_addf(sb, "refs/memo/%s", key);
}

int memo_get(struct odb *odb, const char *key, struct memo_entry *e,
	     struct strbuf *err)
{
	struct strbuf name = STRBUF_INIT;
	struct snapshot s = SNAPSHOT_INIT;
	struct tree t = TREE_INIT;
	const char *status;
	uint64_t v;
	int ret;

	memset(e, 0, sizeof(*e));
	ref_name(&name, key);
	ret = ref_read(odb_store(odb), name.buf, &e->snapshot, err);
	if (ret == SNAP_ENOTFOUND) {
		strbuf_reset(err);
		ret = snap_error(err, SNAP_ENOTFOUND, "no memo entry '%s'", key);
	}
	if (ret < 0)
		goto out;
	if ((ret = snapshot_read(odb, &e->snapshot, &s, err)) < 0 ||
	    (ret = tree_read(odb, &s.tree, &t, err)) < 0)
		goto out;
	status = snapshot_meta(&s, "status");
	if (!status || parse_u64(status, &v) < 0 || v > 255 || t.nr != 1 ||
	    t.entries[0].type != TREE_FILE || strcmp(t.entries[0].name, "stdout")) {
		ret = snap_error(err, SNAP_EINVAL,
				 "memo entry '%s' (snapshot %s) is not one snap-memo wrote",
				 key, oid_to_hex(&e->snapshot));
		goto out;
	}
	e->status = (int)v;
	e->output = t.entries[0].oid;
	e->size = t.entries[0].size;
	e->time = s.time;
out:
	tree_release(&t);
	snapshot_release(&s);
	strbuf_release(&name);
	return ret;
}

int memo_write(struct odb *odb, const char *key, int fd, uint64_t size, int status,
	       const char *command, struct memo_entry *e, struct strbuf *err)
{
	struct strbuf buf = STRBUF_INIT, kv = STRBUF_INIT;
	struct tree t = TREE_INIT;
	struct tree_entry te = { 0 };
	struct snapshot s = SNAPSHOT_INIT;
	int64_t now;
	int ret;

	memset(e, 0, sizeof(*e));
	if ((ret = memo_key_check(key, err)) < 0 ||
	    (ret = store_now(odb_store(odb), &now, err)) < 0)
		goto out;
	if ((ret = odb_write_fd(odb, OBJ_BLOB, fd, size, "the command's output", &e->output, err)) < 0)
		goto out;
	te.type = TREE_FILE;
	te.perm = 0644;
	te.uid = (uint32_t)getuid();
	te.gid = (uint32_t)getgid();
	te.mtime_sec = now / 1000000000;
	te.mtime_nsec = (uint32_t)(now % 1000000000);
	te.size = size;
	te.oid = e->output;
	te.name = (char *)"stdout";
	te.name_len = 6;
	tree_add(&t, &te);
	if ((ret = tree_encode(&t, &buf, err)) < 0 ||
	    (ret = odb_write_buf(odb, OBJ_TREE, buf.buf, buf.len, &s.tree, err)) < 0)
		goto out;
	s.time = now / 1000000000;
	s.tz = local_tz(s.time);
	s.host = xstrdup(local_host());
	strbuf_addf(&kv, "status=%d", status);
	if ((ret = snapshot_add_meta(&s, kv.buf, err)) < 0)
		goto out;
	strbuf_reset(&kv);
	strbuf_addf(&kv, "key=%s", key);
	if ((ret = snapshot_add_meta(&s, kv.buf, err)) < 0)
		goto out;
	if (command) {
		strbuf_reset(&kv);
		strbuf_addf(&kv, "command=%s", command);
		/* A command line that metadata cannot hold is simply not recorded. */
		if (snapshot_add_meta(&s, kv.buf, err) < 0)
			strbuf_reset(err);
	}
	s.message = xstrdup("snap-memo entry");
	strbuf_reset(&buf);
	if ((ret = snapshot_encode(&s, &buf, err)) < 0 ||
	    (ret = odb_write_buf(odb, OBJ_SNAPSHOT, buf.buf, buf.len, &e->snapshot, err)) < 0)
		goto out;
	e->status = status;
	e->size = size;
	e->time = s.time;
out:
	snapshot_release(&s);
	tree_release(&t);
	strbuf_release(&kv);
	strbuf_release(&buf);
	return ret;
}

int memo_put(struct odb *odb, const char *key, int fd, uint64_t size, int status,
	     const char *command, int replace, struct memo_entry *e, struct strbuf *err)
{
	struct strbuf name = STRBUF_INIT;
	struct snap_oid null_oid = { { 0 } };
	int ret = memo_write(odb, key, fd, size, status, command, e, err);

	if (ret < 0)
		return ret;
	ref_name(&name, key);
	ret = ref_update(odb, name.buf, &e->snapshot, replace ? NULL : &null_oid,
			 "memo: put", err);
	strbuf_release(&name);
	return ret;
}

int memo_commit(struct odb *odb, const char *const *keys, const struct memo_entry *entries,
		size_t nr, struct strbuf *err)
{
	struct ref_transaction *tx;
	struct strbuf name = STRBUF_INIT;
	size_t i;
	int ret = 0;

	if (!nr)
		return 0;
	tx = ref_transaction_begin(odb);
	for (i = 0; i < nr && ret == 0; i++) {
		if ((ret = memo_key_check(keys[i], err)) < 0)
			break;
		ref_name(&name, keys[i]);
		ret = ref_transaction_add(tx, name.buf, &entries[i].snapshot, NULL, 0,
					  "memo: put", err);
	}
	ret = ref_transaction_end(tx, ret, err);
	strbuf_release(&name);
	return ret;
}

int memo_delete(struct odb *odb, const char *key, struct strbuf *err)
{
	struct strbuf name = STRBUF_INIT;
	struct snap_oid cur;
	int ret;

	ref_name(&name, key);
	ret = ref_read(odb_store(odb), name.buf, &cur, err);
	if (ret == SNAP_ENOTFOUND) {
		strbuf_reset(err);
		ret = snap_error(err, SNAP_ENOTFOUND, "no memo entry '%s'", key);
	}
	if (ret == 0)
		ret = ref_delete(odb, name.buf, &cur, err);
	strbuf_release(&name);
	return ret;
}

/* memo/ and memo/claims/ in the store, made on first use. */
static int memo_dir(struct snap_store *store, const char *sub, struct strbuf *path,
		    struct strbuf *err)
{
	store_path(store, path, "memo/%s", sub);
	if (fsio_mkdirs_for(path->buf) < 0)
		return snap_error_errno(err, "cannot create '%s'", path->buf);
	return 0;
}

/* Host, pid and start time of a claim's holder, read from its file. */
static int claim_holder(int fd, struct strbuf *host, long *pid, int64_t *since)
{
	char buf[512];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	char *sp1, *sp2;

	if (n <= 0)
		return -1;
	buf[n] = '\0';
	sp1 = strchr(buf, ' ');
	sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	if (!sp2)
		return -1;
	*pid = strtol(buf, NULL, 10);
	*since = strtoll(sp1 + 1, NULL, 10);
	strbuf_reset(host);
	strbuf_add(host, sp2 + 1, strcspn(sp2 + 1, "\n"));
	return 0;
}

/*
 * A claim another host holds, seen from here: live until it is older than
 * timeout_s by this host's clock, then stale.  0 for a claim of this host
 * (its flock says whether it is live) or one whose file names no holder.
 * 1 live, 2 stale.
 */
static int claim_elsewhere(int fd, double timeout_s, struct strbuf *host, long *pid,
			   int64_t *since)
{
	struct timespec now;

	if (claim_holder(fd, host, pid, since) < 0 || !strcmp(host->buf, local_host()))
		return 0;
	clock_gettime(CLOCK_REALTIME, &now);
	return (double)now.tv_sec + (double)now.tv_nsec / 1e9 - (double)*since > timeout_s ? 2 : 1;
}

int memo_claim(struct snap_store *store, const char *key, double timeout_s,
	       struct memo_claim *c, struct strbuf *err)
{
	struct strbuf path = STRBUF_INIT, line = STRBUF_INIT, host = STRBUF_INIT;
	struct timespec start, now, pause = { 0, 20 * 1000 * 1000 };
	int ret;

	c->fd = -1;
	c->path = NULL;
	if ((ret = memo_dir(store, "claims/", &path, err)) < 0)
		goto out;
	strbuf_addstr(&path, key);
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		struct stat st_fd, st_path;
		long pid;
		int64_t since;
		double waited;
		int fd = storefs_open(path.buf, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

		if (fd < 0) {
			ret = snap_error_errno(err, "cannot open '%s'", path.buf);
			goto out;
		}
		if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
			/*
			 * Held; but the file may have been removed by the
			 * previous holder since we opened it: hold the one
			 * at the path, or try again.
			 */
			if (fstat(fd, &st_fd) < 0 || stat(path.buf, &st_path) < 0 ||
			    st_fd.st_ino != st_path.st_ino || st_fd.st_dev != st_path.st_dev) {
				close(fd);
				continue;
			}
			/*
			 * flock(2) need not reach across hosts on a shared
			 * filesystem: a claim another host wrote is waited
			 * for while it is live, whatever our flock says.
			 */
			if (claim_elsewhere(fd, timeout_s, &host, &pid, &since) != 1) {
				strbuf_reset(&line);
				strbuf_addf(&line, "%ld %lld %s\n", (long)getpid(),
					    (long long)time(NULL), local_host());
				if (ftruncate(fd, 0) < 0 || pwrite(fd, line.buf, line.len, 0) < 0) {
					ret = snap_error_errno(err, "cannot write '%s'", path.buf);
					close(fd);
					goto out;
				}
				c->fd = fd;
				c->path = strbuf_detach(&path, NULL);
				ret = 1;
				goto out;
			}
		} else if (errno != EWOULDBLOCK) {
			ret = snap_error_errno(err, "cannot lock '%s'", path.buf);
			close(fd);
			goto out;
		} else if (claim_elsewhere(fd, timeout_s, &host, &pid, &since) == 2) {
			/* Another host's claim, older than we wait: take it over. */
			storefs_unlink(path.buf);
			close(fd);
			continue;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		waited = (double)(now.tv_sec - start.tv_sec) +
			 (double)(now.tv_nsec - start.tv_nsec) / 1e9;
		if (waited >= timeout_s) {
			int held = claim_holder(fd, &host, &pid, &since) == 0;
			int64_t age = held ? (int64_t)time(NULL) - since : 0;

			if (held && age >= 0)
				ret = snap_error(err, SNAP_ELOCKED,
						 "memo key '%s' is being computed by pid %ld on host '%s' since %lld s; gave up after %g s",
						 key, pid, host.buf, (long long)age, timeout_s);
			else if (held)
				/* another host's clock ahead of ours */
				ret = snap_error(err, SNAP_ELOCKED,
						 "memo key '%s' is being computed by pid %ld on host '%s', claimed %lld s ahead of this host's clock; gave up after %g s",
						 key, pid, host.buf, (long long)-age, timeout_s);
			else
				ret = snap_error(err, SNAP_ELOCKED,
						 "memo key '%s' is being computed by another caller; gave up after %g s",
						 key, timeout_s);
			close(fd);
			goto out;
		}
		close(fd);
		nanosleep(&pause, NULL);
	}
out:
	strbuf_release(&path);
	strbuf_release(&line);
	strbuf_release(&host);
	return ret;
}

void memo_release(struct memo_claim *c)
{
	if (c->fd < 0)
		return;
	/* Removed while held, so no one takes a claim on a stale file. */
	storefs_unlink(c->path);
	close(c->fd);
	free(c->path);
	c->fd = -1;
	c->path = NULL;
}

static int stats_parse(const char *text, struct memo_stats_row **rows, size_t *nr)
{
	size_t alloc = 0;
	const char *p = text;

	*rows = NULL;
	*nr = 0;
	while (*p) {
		const char *end = strchrnul(p, '\n');
		struct memo_stats_row r;
		char key[MEMO_KEY_MAX + 2];
		unsigned long long h, m;
		long long t;

		/* 129 = MEMO_KEY_MAX + 1: a longer key is seen and dropped. */
		_Static_assert(MEMO_KEY_MAX == 128, "the width below follows MEMO_KEY_MAX");
		if (sscanf(p, "%129s %llu %llu %lld", key, &h, &m, &t) == 4 &&
		    strlen(key) <= MEMO_KEY_MAX) {
			memcpy(r.key, key, strlen(key) + 1);
			r.hits = h;
			r.misses = m;
			r.last_access = t;
			ALLOC_GROW(*rows, *nr + 1, alloc);
			(*rows)[(*nr)++] = r;
		}
		p = *end ? end + 1 : end;
	}
	return 0;
}

static int read_stats(struct snap_store *store, struct memo_stats_row **rows,
		      size_t *nr, struct strbuf *err)
{
	struct strbuf path = STRBUF_INIT, text = STRBUF_INIT;
	int ret;

	store_path(store, &path, "memo/stats");
	ret = strbuf_read_file(&text, path.buf, 64u << 20);
	if (ret == SNAP_ENOTFOUND) {
		*rows = NULL;
		*nr = 0;
		ret = 0;
	} else if (ret < 0) {
		ret = snap_error_errno(err, "cannot read '%s'", path.buf);
	} else {
		ret = stats_parse(text.buf, rows, nr);
	}
	strbuf_release(&path);
	strbuf_release(&text);
	return ret;
}

int memo_count(struct snap_store *store, const char *key, int hit, struct strbuf *err)
{
	struct strbuf path = STRBUF_INIT, out = STRBUF_INIT, tmp = STRBUF_INIT;
	struct memo_stats_row *rows = NULL;
	size_t nr = 0, i;
	int lock_fd = -1, fd = -1, ret, found = 0;

	if ((ret = memo_dir(store, "stats.lock", &path, err)) < 0)
		goto out;
	lock_fd = storefs_open(path.buf, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (lock_fd < 0 || flock(lock_fd, LOCK_EX) < 0) {
		ret = snap_error_errno(err, "cannot lock '%s'", path.buf);
		goto out;
	}
	if ((ret = read_stats(store, &rows, &nr, err)) < 0)
		goto out;
	for (i = 0; i < nr; i++) {
		if (!strcmp(rows[i].key, key)) {
			found = 1;
			break;
		}
	}
	if (!found) {
		struct memo_stats_row r = { .hits = 0 };
		size_t alloc = nr;

		memcpy(r.key, key, strlen(key) + 1);
		ALLOC_GROW(rows, nr + 1, alloc);
		/* Kept sorted by key. */
		for (i = 0; i < nr && strcmp(rows[i].key, key) < 0; i++)
			;
		memmove(rows + i + 1, rows + i, (nr - i) * sizeof(*rows));
		rows[i] = r;
		nr++;
	}
	if (hit)
		rows[i].hits++;
	else
		rows[i].misses++;
	rows[i].last_access = (int64_t)time(NULL);
	for (i = 0; i < nr; i++)
		strbuf_addf(&out, "%s %" PRIu64 " %" PRIu64 " %" PRId64 "\n", rows[i].key,
			    rows[i].hits, rows[i].misses, rows[i].last_access);
	store_path(store, &tmp, "memo");
	fd = fsio_mktemp(tmp.buf, "stats-", &path);
	if (fd < 0) {
		ret = snap_error_errno(err, "cannot create a temporary file in '%s'", tmp.buf);
		goto out;
	}
	strbuf_reset(&tmp);
	store_path(store, &tmp, "memo/stats");
	if (fsio_write(fd, out.buf, out.len) < 0 || fsio_close(fd) < 0) {
		fd = -1;
		ret = snap_error_errno(err, "cannot write '%s'", path.buf);
		storefs_unlink(path.buf);
		goto out;
	}
	fd = -1;
	if (fsio_rename(path.buf, tmp.buf) < 0) {
		ret = snap_error_errno(err, "cannot replace '%s'", tmp.buf);
		storefs_unlink(path.buf);
	}
out:
	if (fd >= 0)
		close(fd);
	if (lock_fd >= 0)
		close(lock_fd);
	free(rows);
	strbuf_release(&path);
	strbuf_release(&out);
	strbuf_release(&tmp);
	return ret;
}

int memo_stats(struct snap_store *store, struct memo_stats_row **rows, size_t *nr,
	       struct strbuf *err)
{
	return read_stats(store, rows, nr, err);
}
