/*
 * The scratch store and the file helpers every fuzz target uses.
 */
#include "harness.h"
#include "fsio.h"
#include "util.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct snap_store store;
static char *scratch;
static pid_t owner;

static int remove_one(const char *path, const struct stat *st, int flag,
		      struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void remove_scratch(void)
{
	if (scratch && getpid() == owner)
		nftw(scratch, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

struct snap_store *fuzz_store(void)
{
	struct strbuf dir = STRBUF_INIT, err = STRBUF_INIT;
	const char *tmp = getenv("TMPDIR");
	int existed;

	if (store.path)
		return &store;
	strbuf_addf(&dir, "%s/snap-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir.buf))
		fuzz_fail("cannot make a scratch directory under '%s'",
			  tmp && *tmp ? tmp : "/tmp");
	scratch = strbuf_detach(&dir, NULL);
	owner = getpid();
	atexit(remove_scratch);
	strbuf_addf(&dir, "%s/store", scratch);
	if (store_create(dir.buf, 3, STORE_PRIVATE, &existed, &err) < 0 ||
	    store_open(&store, dir.buf, &err) < 0)
		fuzz_fail("cannot make the scratch store: %s", err.buf);
	strbuf_release(&dir);
	strbuf_release(&err);
	return &store;
}

void fuzz_store_path(struct strbuf *sb, const char *rel)
{
	strbuf_reset(sb);
	strbuf_addf(sb, "%s/%s", fuzz_store()->path, rel);
}

void fuzz_write(const char *path, const void *data, size_t size)
{
	int fd;

	if (fsio_mkdirs_for(path) < 0)
		fuzz_fail("cannot make the directories for '%s'", path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write_all(fd, data, size) < 0 || close(fd) < 0)
		fuzz_fail("cannot write '%s'", path);
}

void fuzz_fail(const char *what, ...)
{
	va_list ap;

	fputs("fuzz: property broken: ", stderr);
	va_start(ap, what);
	vfprintf(stderr, what, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}
