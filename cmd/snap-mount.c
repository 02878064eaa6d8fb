/*
 * snap-mount: every snapshot of a store as a read-only file system, by
 * ref and time and by id (lib/mountview.h has the layout); file content
 * read through lib/blobread.h, verified.  The FUSE glue only.
 */
#define FUSE_USE_VERSION 35

#include "blobread.h"
#include "error.h"
#include "mountview.h"
#include "odb.h"
#include "store.h"
#include "usage.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

static const char usage_str[] =
"usage: snap-mount [--store DIR] [-r REF]... MOUNTPOINT\n"
"\n"
"Shows the store's snapshots read-only at MOUNTPOINT, until it is unmounted\n"
"(fusermount3 -u MOUNTPOINT) or the command is interrupted:\n"
"  MOUNTPOINT/<ref>/<YYYY-MM-DDTHH:MM:SS>/...  each snapshot of a ref (UTC)\n"
"  MOUNTPOINT/<ref>/latest                     the newest, a symlink\n"
"  MOUNTPOINT/ids/<id>/...                     each snapshot by its id\n"
"\n"
"  -r, --ref REF  show this ref (repeatable; default every snapshot ref)\n"
"  --store DIR    the store (default $SNAP_DIR, else .snap above)\n";

static struct odb *odb;
static struct mountview *view;

/* One open file: its reader, and whether a failure was reported. */
struct open_file {
	struct blob_reader *r;
	int failed;
};

/* A snap error code as errno; an unexpected failure is said on stderr. */
static int fail(int code, const char *path, const struct strbuf *err)
{
	if (code == SNAP_ENOTFOUND)
		return -ENOENT;
	error_line("'%s': %s", path, err->buf);
	return -EIO;
}

static void fill_stat(const struct mv_node *n, struct stat *st)
{
	static const mode_t kinds[] = {
		[TREE_FILE] = S_IFREG, [TREE_DIR] = S_IFDIR, [TREE_SYMLINK] = S_IFLNK,
		[TREE_FIFO] = S_IFIFO, [TREE_CHR] = S_IFCHR, [TREE_BLK] = S_IFBLK,
	};

	memset(st, 0, sizeof(*st));
	st->st_ino = (ino_t)n->ino;
	st->st_mode = kinds[n->type] | (mode_t)n->perm;
	st->st_nlink = 1;
	st->st_uid = n->uid;
	st->st_gid = n->gid;
	st->st_size = (off_t)n->size;
	st->st_blksize = 4096;
	st->st_blocks = (blkcnt_t)((n->size + 511) / 512);
	st->st_mtim.tv_sec = (time_t)n->mtime_sec;
	st->st_mtim.tv_nsec = (long)n->mtime_nsec;
	st->st_atim = st->st_ctim = st->st_mtim;
	if (n->type == TREE_CHR || n->type == TREE_BLK)
		st->st_rdev = makedev(n->rdev_major, n->rdev_minor);
}

static void *m_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	(void)conn;
	cfg->use_ino = 1;
	cfg->readdir_ino = 1;
	/* Content never changes under a name: the page cache may keep it. */
	cfg->kernel_cache = 1;
	return NULL;
}

static int m_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	struct strbuf err = STRBUF_INIT;
	struct mv_node n;
	int ret;

	(void)fi;
	if ((ret = mountview_lookup(view, path, &n, &err)) < 0)
		ret = fail(ret, path, &err);
	else
		fill_stat(&n, st);
	strbuf_release(&err);
	return ret;
}

static int m_readlink(const char *path, char *buf, size_t size)
{
	struct strbuf err = STRBUF_INIT, target = STRBUF_INIT;
	enum object_type type;
	struct mv_node n;
	size_t len;
	int ret;

	if (!size)
		return -EINVAL;
	ret = mountview_lookup(view, path, &n, &err);
	if (ret == 0 && n.type != TREE_SYMLINK) {
		strbuf_release(&err);
		return -EINVAL;
	}
	if (ret == 0 && n.target) {
		strbuf_add(&target, n.target, n.target_len);
	} else if (ret == 0) {
		ret = odb_read(odb, &n.oid, &type, &target, 65536, &err);
		if (ret == 0 && (type != OBJ_BLOB || target.len != n.size))
			ret = snap_error(&err, SNAP_ECORRUPT,
					 "object '%s' is not the symlink's target", oid_to_hex(&n.oid));
		if (ret == SNAP_ENOTFOUND)
			ret = SNAP_EIO;
	}
	if (ret < 0) {
		ret = fail(ret, path, &err);
	} else {
		len = target.len < size - 1 ? target.len : size - 1;
		memcpy(buf, target.buf, len);
		buf[len] = '\0';
	}
	strbuf_release(&target);
	strbuf_release(&err);
	return ret;
}

struct fill {
	void *buf;
	fuse_fill_dir_t filler;
};

static int fill_one(const char *name, size_t len, const struct mv_node *n, void *data)
{
	struct fill *f = data;
	struct stat st;
	char *z = xstrndup(name, len);
	int full;

	fill_stat(n, &st);
	full = f->filler(f->buf, z, &st, 0, 0);
	free(z);
	return full ? 1 : 0;
}

static int m_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t off,
		     struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	struct strbuf err = STRBUF_INIT;
	struct fill f = { buf, filler };
	int ret;

	(void)off;
	(void)fi;
	(void)flags;
	filler(buf, ".", NULL, 0, 0);
	filler(buf, "..", NULL, 0, 0);
	ret = mountview_list(view, path, fill_one, &f, &err);
	if (ret == SNAP_EINVAL)
		ret = -ENOTDIR;
	else if (ret < 0)
		ret = fail(ret, path, &err);
	else
		ret = 0;
	strbuf_release(&err);
	return ret;
}

static int m_open(const char *path, struct fuse_file_info *fi)
{
	struct strbuf err = STRBUF_INIT;
	struct open_file *of;
	struct mv_node n;
	int ret;

	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC))
		return -EROFS;
	if ((ret = mountview_lookup(view, path, &n, &err)) < 0) {
		ret = fail(ret, path, &err);
		strbuf_release(&err);
		return ret;
	}
	if (n.type != TREE_FILE) {
		strbuf_release(&err);
		return n.type == TREE_DIR ? -EISDIR : -EACCES;
	}
	of = xcalloc(1, sizeof(*of));
	if ((ret = blob_reader_open(odb, &n.oid, n.size, &of->r, &err)) < 0) {
		free(of);
		ret = fail(ret == SNAP_ENOTFOUND ? SNAP_EIO : ret, path, &err);
		strbuf_release(&err);
		return ret;
	}
	fi->fh = (uint64_t)(uintptr_t)of;
	fi->keep_cache = 1;
	strbuf_release(&err);
	return 0;
}

static int m_read(const char *path, char *buf, size_t size, off_t off,
		  struct fuse_file_info *fi)
{
	struct open_file *of = (struct open_file *)(uintptr_t)fi->fh;
	struct strbuf err = STRBUF_INIT;
	size_t got;
	int ret;

	if (of->failed)
		return -EIO;
	ret = blob_reader_pread(of->r, buf, size, (uint64_t)off, &got, &err);
	if (ret < 0) {
		/* Said once per open file: the kernel may ask again. */
		of->failed = 1;
		error_line("'%s': %s", path, err.buf);
		strbuf_release(&err);
		return -EIO;
	}
	strbuf_release(&err);
	return (int)got;
}

static int m_release(const char *path, struct fuse_file_info *fi)
{
	struct open_file *of = (struct open_file *)(uintptr_t)fi->fh;

	(void)path;
	blob_reader_close(of->r);
	free(of);
	return 0;
}

/* Every call that would change something. */
static int rofs_path(const char *path) { (void)path; return -EROFS; }
static int rofs_mode(const char *path, mode_t mode) { (void)path; (void)mode; return -EROFS; }
static int rofs_two(const char *a, const char *b) { (void)a; (void)b; return -EROFS; }
static int rofs_rename(const char *a, const char *b, unsigned int flags)
{ (void)a; (void)b; (void)flags; return -EROFS; }
static int rofs_mknod(const char *path, mode_t mode, dev_t dev)
{ (void)path; (void)mode; (void)dev; return -EROFS; }
static int rofs_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{ (void)path; (void)mode; (void)fi; return -EROFS; }
static int rofs_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{ (void)path; (void)uid; (void)gid; (void)fi; return -EROFS; }
static int rofs_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{ (void)path; (void)size; (void)fi; return -EROFS; }
static int rofs_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{ (void)path; (void)tv; (void)fi; return -EROFS; }
static int rofs_write(const char *path, const char *buf, size_t size, off_t off,
		      struct fuse_file_info *fi)
{ (void)path; (void)buf; (void)size; (void)off; (void)fi; return -EROFS; }
static int rofs_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{ (void)path; (void)mode; (void)fi; return -EROFS; }
static int rofs_setxattr(const char *path, const char *name, const char *value,
			 size_t size, int flags)
{ (void)path; (void)name; (void)value; (void)size; (void)flags; return -EROFS; }
static int rofs_removexattr(const char *path, const char *name)
{ (void)path; (void)name; return -EROFS; }

static const struct fuse_operations ops = {
	.init = m_init,
	.getattr = m_getattr,
	.readlink = m_readlink,
	.readdir = m_readdir,
	.open = m_open,
	.read = m_read,
	.release = m_release,
	.mknod = rofs_mknod,
	.mkdir = rofs_mode,
	.unlink = rofs_path,
	.rmdir = rofs_path,
	.symlink = rofs_two,
	.rename = rofs_rename,
	.link = rofs_two,
	.chmod = rofs_chmod,
	.chown = rofs_chown,
	.truncate = rofs_truncate,
	.utimens = rofs_utimens,
	.write = rofs_write,
	.create = rofs_create,
	.setxattr = rofs_setxattr,
	.removexattr = rofs_removexattr,
};

/* What libfuse says, kept for the one line a failed mount prints. */
static struct strbuf fuse_said = STRBUF_INIT;

__attribute__((format(printf, 2, 0)))
static void keep_fuse_log(enum fuse_log_level level, const char *fmt, va_list ap)
{
	(void)level;
	if (fuse_said.len)
		strbuf_addstr(&fuse_said, "; ");
	strbuf_vaddf(&fuse_said, fmt, ap);
	strbuf_rtrim(&fuse_said);
}

static void warn_cb(const char *msg, void *data)
{
	(void)data;
	warning("%s", msg);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ref", required_argument, NULL, 'r' },
		{ "store", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *fargv[] = { argv[0], (char *)"-o",
			  (char *)"ro,default_permissions,fsname=snap,subtype=snap", NULL };
	struct fuse_args args = FUSE_ARGS_INIT(3, fargv);
	struct strbuf err = STRBUF_INIT;
	const char **refs = NULL;
	size_t nr_refs = 0, alloc_refs = 0;
	struct snap_store store;
	const char *dir = NULL, *mnt;
	struct fuse *fuse;
	struct stat st;
	int c, ret;

	usage_setup(argv[0]);
	while ((c = getopt_long(argc, argv, "r:h", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			ALLOC_GROW(refs, nr_refs + 1, alloc_refs);
			refs[nr_refs++] = optarg;
			break;
		case 'S': dir = optarg; break;
		case 'h': usage_help(usage_str);
		default: usage_error(usage_str, "bad option");
		}
	}
	if (argc - optind != 1)
		usage_error(usage_str, "give one MOUNTPOINT");
	mnt = argv[optind];
	if (stat(mnt, &st) < 0)
		die("cannot use mount point '%s': %s", mnt, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		die("mount point '%s' is not a directory", mnt);

	open_store_or_die(dir, &store, &odb);
	if (mountview_open(&view, odb, &store, refs, nr_refs, (uint32_t)getuid(),
			   (uint32_t)getgid(), (int64_t)time(NULL), warn_cb, NULL, &err) < 0)
		die_err(&err);

	fuse_set_log_func(keep_fuse_log);
	fuse = fuse_new(&args, &ops, sizeof(ops), NULL);
	if (!fuse)
		die("cannot start the file system: %s", fuse_said.len ? fuse_said.buf : "fuse_new failed");
	/*
	 * The handlers go first: a SIGTERM that comes as soon as the mount
	 * is seen must still unmount, never kill the process and leave a
	 * dead mount behind.
	 */
	if (fuse_set_signal_handlers(fuse_get_session(fuse)) < 0)
		die("cannot set signal handlers: %s", fuse_said.len ? fuse_said.buf : "failed");
	if (fuse_mount(fuse, mnt) < 0)
		die("cannot mount on '%s': %s", mnt, fuse_said.len ? fuse_said.buf : "fuse_mount failed");
	strbuf_reset(&fuse_said);
	/* One thread: the view and its caches are not shared. */
	ret = fuse_loop(fuse);
	fuse_remove_signal_handlers(fuse_get_session(fuse));
	fuse_unmount(fuse);
	fuse_destroy(fuse);
	fuse_opt_free_args(&args);
	mountview_close(view);
	odb_close(odb);
	store_release(&store);
	free(refs);
	if (ret < 0)
		die("file system loop failed: %s", strerror(-ret));
	return finish_stdout(0);
}
