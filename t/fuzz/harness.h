#ifndef SNAP_FUZZ_HARNESS_H
#define SNAP_FUZZ_HARNESS_H

/*
 * What the fuzz targets share (t/fuzz/README.md).  Each target is one
 * file fuzz-<name>.c defining LLVMFuzzerTestOneInput(); it is linked
 * either with libFuzzer (make fuzz) or with replay.c (make check), which
 * calls it once for each file named on its command line.
 *
 * A property a target checks (a round trip, idempotence) fails through
 * fuzz_fail(), which aborts, so libFuzzer and the sanitizers report it
 * like any crash, with the input saved.
 */

#include <stddef.h>
#include <stdint.h>
#include "store.h"
#include "strbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * A scratch store, made once per process under $TMPDIR (removed at exit),
 * for the parsers that only read files.
 */
struct snap_store *fuzz_store(void);

/* Writes data[0..size) to path (replacing it, directories made). */
void fuzz_write(const char *path, const void *data, size_t size);

/* "<store>/<rel>" in a buffer the caller releases. */
void fuzz_store_path(struct strbuf *sb, const char *rel);

/* Aborts with what went wrong: a broken property is a crash. */
void fuzz_fail(const char *what, ...) __attribute__((noreturn, format(printf, 1, 2)));

#endif
