/*
 * Session files (lib/session.c): the input is written as a session of
 * the scratch store and read back with session_find() and
 * sessions_load(), as snap-session and gc read them.
 */
#include "harness.h"
#include "session.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct strbuf path = STRBUF_INIT, err = STRBUF_INIT;
	struct snap_store *store = fuzz_store();
	struct session *s, **all;
	size_t nr, i;

	fuzz_store_path(&path, "sessions/fuzzhost-1-0000");
	fuzz_write(path.buf, data, size);
	if (session_find(store, "fuzzhost-1-0000", &s, &err) == 0) {
		if (!s->host || !*s->host || s->pid <= 0)
			fuzz_fail("a session read without a host or a pid");
		session_free(s);
	}
	strbuf_reset(&err);
	if (sessions_load(store, &all, &nr, &err) == 0) {
		for (i = 0; i < nr; i++)
			session_free(all[i]);
		free(all);
	}
	strbuf_release(&path);
	strbuf_release(&err);
	return 0;
}
