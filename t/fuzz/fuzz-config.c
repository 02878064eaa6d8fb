/*
 * Store config files (lib/store.c): the input is written as the config
 * of a store directory that store_open() then reads.  A config that opens
 * must give a level and format that snap can use.
 */
#include "harness.h"
#include "store.h"

#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct strbuf dir = STRBUF_INIT, path = STRBUF_INIT, err = STRBUF_INIT;
	struct snap_store s;

	fuzz_store_path(&dir, "config-dir");
	strbuf_addf(&path, "%s/config", dir.buf);
	fuzz_write(path.buf, data, size);
	if (store_open(&s, dir.buf, &err) == 0) {
		if (s.format != SNAP_FORMAT_VERSION || s.level < 1 || s.level > 19)
			fuzz_fail("a config opened with format %d, level %d",
				  s.format, s.level);
		store_release(&s);
	}
	strbuf_release(&dir);
	strbuf_release(&path);
	strbuf_release(&err);
	return 0;
}
