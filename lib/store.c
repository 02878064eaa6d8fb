#include "store.h"
#include "error.h"
#include "fsio.h"
#include "storefs.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const store_dirs[] = {
	"objects", "objects/pack", "objects/tmp", "refs", "refs/snapshots",
	"refs/tags", "logs", "logs/refs", "sessions",
};

/* Directories of the layout made only when first needed. */
static const char *const later_dirs[] = {
	"cache", "cache/refs", "cache/refs/snapshots", "cache/rclone", "memo",
	"memo/claims", "journal", "refs/memo", "logs/refs/snapshots",
	"logs/refs/tags", "logs/refs/memo",
};

static int is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static char *absolute(const char *path)
{
	char *r = realpath(path, NULL);
	return r ? r : xstrdup(path);
}

/* Parses "key = value" lines; unknown keys are kept for newer readers. */
static int parse_config(struct snap_store *store, const char *text,
			const char *file, struct strbuf *err)
{
	const char *line = text;
	int seen_format = 0, lineno = 0;

	store->format = 0;
	store->level = SNAP_DEFAULT_LEVEL;
	store->append_only = 0;
	while (*line) {
		const char *end = strchrnul(line, '\n');
		const char *eq = memchr(line, '=', (size_t)(end - line));
		char key[64], val[64];
		size_t kl, vl;
		uint64_t v;

		lineno++;
		if (end == line || *line == '#') {
			line = *end ? end + 1 : end;
			continue;
		}
		if (!eq)
			return snap_error(err, SNAP_EINVAL,
					  "bad config line %d in '%s': no '='", lineno, file);
		while (eq > line && eq[-1] == ' ')
			eq--;
		kl = (size_t)(eq - line);
		while (*eq == ' ' || *eq == '=')
			eq++;
		vl = (size_t)(end - eq);
		if (kl >= sizeof(key) || vl >= sizeof(val))
			return snap_error(err, SNAP_EINVAL,
					  "bad config line %d in '%s': too long", lineno, file);
		memcpy(key, line, kl);
		key[kl] = '\0';
		memcpy(val, eq, vl);
		val[vl] = '\0';
		if (!strcmp(key, "format")) {
			if (parse_u64(val, &v) < 0 || v != SNAP_FORMAT_VERSION)
				return snap_error(err, SNAP_EINVAL,
						  "unsupported store format '%s' in '%s' (this snap reads format %d)",
						  val, file, SNAP_FORMAT_VERSION);
			store->format = (int)v;
			seen_format = 1;
		} else if (!strcmp(key, "hash")) {
			if (strcmp(val, "blake3"))
				return snap_error(err, SNAP_EINVAL,
						  "unsupported hash '%s' in '%s'", val, file);
		} else if (!strcmp(key, "shared")) {
			if (store_parse_shared(val, &store->shared) < 0)
				return snap_error(err, SNAP_EINVAL,
						  "bad value '%s' of 'shared' in '%s' (group or private)",
						  val, file);
		} else if (!strcmp(key, "compression")) {
			if (parse_u64(val, &v) < 0 || v < 1 || v > 19)
				return snap_error(err, SNAP_EINVAL,
						  "bad compression level '%s' in '%s' (1 to 19)", val, file);
			store->level = (int)v;
		} else if (!strcmp(key, "append-only")) {
			if (strcmp(val, "true") && strcmp(val, "false"))
				return snap_error(err, SNAP_EINVAL,
						  "bad value '%s' of 'append-only' in '%s' (true or false)",
						  val, file);
			store->append_only = !strcmp(val, "true");
		}
		line = *end ? end + 1 : end;
	}
	if (!seen_format)
		return snap_error(err, SNAP_EINVAL, "no 'format' in '%s'", file);
	return 0;
}

static int open_at(struct snap_store *store, const char *dir, struct strbuf *err)
{
	struct strbuf cfg = STRBUF_INIT, text = STRBUF_INIT;
	int ret;

	strbuf_addf(&cfg, "%s/config", dir);
	ret = strbuf_read_file(&text, cfg.buf, 65536);
	if (ret == SNAP_ENOTFOUND) {
		ret = snap_error(err, SNAP_ENOTFOUND,
				 "'%s' is not a snap store (no config file)", dir);
	} else if (ret == SNAP_ETOOBIG) {
		ret = snap_error(err, SNAP_EINVAL, "config '%s' is too large", cfg.buf);
	} else if (ret < 0) {
		ret = snap_error_errno(err, "cannot read '%s'", cfg.buf);
	} else if ((ret = parse_config(store, text.buf, cfg.buf, err)) == 0) {
		store->path = absolute(dir);
		/* Resolved once: from here on no link below it is followed. */
		if (storefs_add_root(store->path) < 0) {
			ret = snap_error_errno(err, "cannot open '%s'", store->path);
			free(store->path);
			store->path = NULL;
			goto out;
		}
		if (store->shared == STORE_GROUP) {
			mode_t old = umask(0);
			umask((old & ~(mode_t)070) | 007);
		}
	}
out:
	strbuf_release(&cfg);
	strbuf_release(&text);
	return ret;
}

int store_open(struct snap_store *store, const char *dir, struct strbuf *err)
{
	struct strbuf cur = STRBUF_INIT;
	char *cwd;
	int ret;

	memset(store, 0, sizeof(*store));
	if (!dir)
		dir = getenv("SNAP_DIR");
	if (dir && *dir) {
		if (!is_dir(dir))
			return snap_error(err, SNAP_ENOTFOUND,
					  "store '%s' does not exist", dir);
		return open_at(store, dir, err);
	}
	cwd = getcwd(NULL, 0);
	if (!cwd)
		return snap_error_errno(err, "cannot get the working directory");
	strbuf_addstr(&cur, cwd);
	for (;;) {
		size_t base = cur.len;

		strbuf_addstr(&cur, cur.len > 1 ? "/.snap" : ".snap");
		if (is_dir(cur.buf)) {
			ret = open_at(store, cur.buf, err);
			goto out;
		}
		strbuf_setlen(&cur, base);
		if (base <= 1)
			break;
		while (cur.len > 1 && cur.buf[cur.len - 1] != '/')
			cur.len--;
		if (cur.len > 1)
			cur.len--;
		strbuf_setlen(&cur, cur.len);
	}
	ret = snap_error(err, SNAP_ENOTFOUND,
			 "no snap store: no .snap directory here or above '%s' "
			 "(use --store DIR, set SNAP_DIR, or run snap-init)", cwd);
out:
	free(cwd);
	strbuf_release(&cur);
	return ret;
}

void store_release(struct snap_store *store)
{
	if (store->path)
		storefs_remove_root(store->path);
	free(store->path);
	store->path = NULL;
}

void store_path(const struct snap_store *store, struct strbuf *sb,
		const char *fmt, ...)
{
	va_list ap;

	strbuf_reset(sb);
	strbuf_addstr(sb, store->path);
	strbuf_addch(sb, '/');
	va_start(ap, fmt);
	strbuf_vaddf(sb, fmt, ap);
	va_end(ap);
}

const char *store_hint(const char *dir)
{
	if (dir)
		return dir;
	if (getenv("SNAP_DIR") && *getenv("SNAP_DIR"))
		return getenv("SNAP_DIR");
	return ".snap";
}


int store_parse_shared(const char *s, enum store_shared *out)
{
	if (!strcmp(s, "private"))
		*out = STORE_PRIVATE;
	else if (!strcmp(s, "group"))
		*out = STORE_GROUP;
	else
		return -1;
	return 0;
}

int store_create(const char *path, int level, enum store_shared shared,
		 int *existed, struct strbuf *err)
{
	struct strbuf p = STRBUF_INIT, cfg = STRBUF_INIT;
	/* chmod, not the mkdir mode: the umask must not loosen or tighten it. */
	mode_t dir_mode = shared == STORE_GROUP ? 02770 : 0700;
	struct stat st;
	size_t i;
	int fd, ret = 0;

	*existed = 0;
	strbuf_addf(&p, "%s/config", path);
	if (stat(p.buf, &st) == 0) {
		*existed = 1;
	} else if (is_dir(path)) {
		int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
		struct dirent *de;
		int nonempty = 0;

		if (!d) {
			if (dfd >= 0)
				close(dfd);
			ret = snap_error_errno(err, "cannot read directory '%s'", path);
			goto out;
		}
		while ((de = readdir(d)))
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
				nonempty = 1;
		closedir(d);
		if (nonempty) {
			ret = snap_error(err, SNAP_EEXISTS,
					 "'%s' exists and is not an empty directory", path);
			goto out;
		}
	} else {
		strbuf_reset(&p);
		strbuf_addf(&p, "%s/", path);
		if (fsio_mkdirs_for(p.buf) < 0) {
			ret = snap_error_errno(err, "cannot create '%s'", path);
			goto out;
		}
	}
	if (!*existed && chmod(path, dir_mode) < 0) {
		ret = snap_error_errno(err, "cannot set the mode of '%s'", path);
		goto out;
	}
	for (i = 0; i < ARRAY_SIZE(store_dirs); i++) {
		strbuf_reset(&p);
		strbuf_addf(&p, "%s/%s", path, store_dirs[i]);
		if (fsio_mkdir(p.buf, 0700) < 0) {
			if (errno == EEXIST)
				continue;
			ret = snap_error_errno(err, "cannot create '%s'", p.buf);
			goto out;
		}
		if (chmod(p.buf, dir_mode) < 0) {
			ret = snap_error_errno(err, "cannot set the mode of '%s'", p.buf);
			goto out;
		}
	}
	if (*existed)
		goto out;
	/* config last, written whole and renamed: its presence marks a store. */
	strbuf_reset(&cfg);
	strbuf_addf(&cfg, "%s/objects/tmp", path);
	fd = fsio_mktemp(cfg.buf, "config-", &p);
	strbuf_reset(&cfg);
	if (fd < 0) {
		ret = snap_error_errno(err, "cannot create a temporary file in '%s/objects/tmp'", path);
		goto out;
	}
	strbuf_addf(&cfg, "# snap store\nformat = %d\nhash = blake3\ncompression = %d\n",
		    SNAP_FORMAT_VERSION, level);
	if (shared == STORE_GROUP)
		strbuf_addstr(&cfg, "shared = group\n");
	if (fchmod(fd, shared == STORE_GROUP ? 0440 : 0400) < 0 ||
	    fsio_write(fd, cfg.buf, cfg.len) < 0 || fsio_fsync(fd) < 0) {
		ret = snap_error_errno(err, "cannot write '%s'", p.buf);
		fsio_close(fd);
		unlink(p.buf);
		goto out;
	}
	if (fsio_close(fd) < 0) {
		ret = snap_error_errno(err, "cannot write '%s'", p.buf);
		unlink(p.buf);
		goto out;
	}
	strbuf_reset(&cfg);
	strbuf_addf(&cfg, "%s/config", path);
	if (fsio_rename(p.buf, cfg.buf) < 0) {
		ret = snap_error_errno(err, "cannot create '%s'", cfg.buf);
		unlink(p.buf);
		goto out;
	}
	if (fsio_fsync_dir(path) < 0)
		ret = snap_error_errno(err, "cannot sync '%s'", path);
out:
	strbuf_release(&p);
	strbuf_release(&cfg);
	return ret;
}

static int cmp_path(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int store_list(const struct snap_store *store, const char *sub, const char *prefix,
	       const char *suffix, char ***paths, size_t *nr, struct strbuf *err)
{
	struct strbuf dir = STRBUF_INIT;
	size_t alloc = 0, pl = strlen(prefix), sl = strlen(suffix);
	struct dirent *de;
	int ret = 0;
	DIR *d;

	*paths = NULL;
	*nr = 0;
	store_path(store, &dir, "%s", sub);
	d = storefs_opendir(dir.buf);
	if (!d) {
		if (errno != ENOENT)
			ret = snap_error_errno(err, "cannot read '%s'", dir.buf);
		strbuf_release(&dir);
		return ret;
	}
	while ((de = readdir(d))) {
		const char *n = de->d_name;
		size_t len = strlen(n);
		struct strbuf full = STRBUF_INIT;

		if (n[0] == '.' || len <= pl + sl || strncmp(n, prefix, pl) ||
		    strcmp(n + len - sl, suffix))
			continue;
		strbuf_addf(&full, "%s/%s", dir.buf, n);
		ALLOC_GROW(*paths, *nr + 1, alloc);
		(*paths)[(*nr)++] = strbuf_detach(&full, NULL);
	}
	closedir(d);
	QSORT(*paths, *nr, cmp_path);
	strbuf_release(&dir);
	return 0;
}

static int layout_dir(const char *rel)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(store_dirs); i++)
		if (!strcmp(rel, store_dirs[i]))
			return 1;
	for (i = 0; i < ARRAY_SIZE(later_dirs); i++)
		if (!strcmp(rel, later_dirs[i]))
			return 1;
	/* objects/<2 hex> */
	return !strncmp(rel, "objects/", 8) && strlen(rel) == 10 &&
	       strspn(rel + 8, "0123456789abcdef") == 2;
}

static int find_links(const struct snap_store *store, struct strbuf *path,
		      size_t root_len, int depth,
		      void (*fn)(const char *path, void *data), void *data,
		      struct strbuf *err)
{
	DIR *d = storefs_opendir(path->buf);
	struct dirent *de;
	int found = 0;

	if (!d)
		return snap_error_errno(err, "cannot read '%s'", path->buf);
	while ((de = readdir(d)) && found >= 0) {
		size_t len = path->len;
		unsigned char type = de->d_type;
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		strbuf_addf(path, "/%s", de->d_name);
		if (type == DT_UNKNOWN && lstat(path->buf, &st) == 0)
			type = S_ISLNK(st.st_mode) ? DT_LNK : S_ISDIR(st.st_mode) ? DT_DIR : DT_REG;
		if (type == DT_LNK &&
		    (layout_dir(path->buf + root_len + 1) ||
		     (stat(path->buf, &st) == 0 && S_ISDIR(st.st_mode)))) {
			fn(path->buf, data);
			found++;
		} else if (type == DT_DIR && depth < 64) {
			int r = find_links(store, path, root_len, depth + 1, fn, data, err);

			found = r < 0 ? r : found + r;
		}
		strbuf_setlen(path, len);
	}
	closedir(d);
	return found;
}

int store_find_links(const struct snap_store *store,
		     void (*fn)(const char *path, void *data), void *data,
		     struct strbuf *err)
{
	struct strbuf path = STRBUF_INIT;
	int ret;

	strbuf_addstr(&path, store->path);
	ret = find_links(store, &path, path.len, 0, fn, data, err);
	strbuf_release(&path);
	return ret;
}
