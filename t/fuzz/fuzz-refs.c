/*
 * Ref and reflog files (lib/refs.c).  The input is written as the ref
 * refs/heads/fuzz and as its reflog, then read back through ref_read()
 * and reflog_for_each(); ref_name_check() gets the input as a name.
 * A reflog entry handed out is one line: its reason holds no newline.
 */
#include "harness.h"
#include "refs.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

#define NAME "refs/heads/fuzz"

static int each(const struct reflog_entry *e, void *data)
{
	(void)data;
	if (strchr(e->reason, '\n'))
		fuzz_fail("a reflog entry's reason holds a newline");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct strbuf path = STRBUF_INIT, err = STRBUF_INIT;
	struct snap_store *store = fuzz_store();
	struct snap_oid oid;
	char *name;

	fuzz_store_path(&path, NAME);
	fuzz_write(path.buf, data, size);
	ref_read(store, NAME, &oid, &err);

	fuzz_store_path(&path, "logs/" NAME);
	fuzz_write(path.buf, data, size);
	strbuf_reset(&err);
	reflog_for_each(store, NAME, each, NULL, &err);

	if (size <= 1024) {
		name = xstrndup((const char *)data, size);
		strbuf_reset(&err);
		ref_name_check(name, &err);
		free(name);
	}
	strbuf_release(&path);
	strbuf_release(&err);
	return 0;
}
