/*
 * Native .bundle.db images (lib/sqlbundle.c): the input is a SQLite
 * database image read with sqlbundle_read().  A value it returns must
 * pass sqlbundle_check() and canonicalize.
 */
#include "harness.h"
#include "json.h"
#include "sqlbundle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct strbuf err = STRBUF_INIT, out = STRBUF_INIT;
	json_t *v;

	if (sqlbundle_read(data, size, &v, &err) == 0) {
		strbuf_reset(&err);
		if (sqlbundle_check(v, &err) < 0)
			fuzz_fail("a bundle read fails its check: %s", err.buf);
		if (json_canonical(v, &out, &err) < 0)
			fuzz_fail("a bundle read does not canonicalize: %s", err.buf);
		json_decref(v);
	}
	strbuf_release(&err);
	strbuf_release(&out);
	return 0;
}
