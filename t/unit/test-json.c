/*
 * test-json: drives lib/json from the tests.
 *
 *   test-json number HEX...   each IEEE 754 double (16 hex digits of its
 *                             bits) as RFC 8785 writes it, one a line
 *   test-json canon           standard input, one JSON text, canonical on
 *                             stdout; on bad input "error at OFFSET: MSG"
 *                             on stderr and exit 1
 */
#include "error.h"
#include "json.h"
#include "strbuf.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int number(int argc, char **argv)
{
	struct strbuf out = STRBUF_INIT;
	int i;

	for (i = 2; i < argc; i++) {
		uint64_t bits = strtoull(argv[i], NULL, 16);
		double d;

		memcpy(&d, &bits, sizeof(d));
		strbuf_reset(&out);
		json_add_number(&out, d);
		printf("%s\n", out.buf);
	}
	strbuf_release(&out);
	return 0;
}

static int canon(void)
{
	struct strbuf in = STRBUF_INIT, out = STRBUF_INIT, err = STRBUF_INIT;
	size_t pos = 0, end;
	json_t *v;

	if (strbuf_read_fd(&in, 0, 64u << 20) < 0) {
		fprintf(stderr, "cannot read standard input\n");
		return 2;
	}
	while (pos < in.len && strchr(" \t\r\n", in.buf[pos]))
		pos++;
	if (json_scan_value(in.buf + pos, in.len - pos, in.len, &end) < 0) {
		fprintf(stderr, "error at %zu: nested too deeply\n", pos + end);
		return 1;
	}
	if (json_parse(in.buf, in.len, &v, &pos, &err) < 0) {
		fprintf(stderr, "error at %zu: %s\n", pos, err.buf);
		return 1;
	}
	if (json_canonical(v, &out, &err) < 0) {
		fprintf(stderr, "error: %s\n", err.buf);
		return 1;
	}
	fwrite(out.buf, 1, out.len, stdout);
	json_decref(v);
	strbuf_release(&in);
	strbuf_release(&out);
	strbuf_release(&err);
	return fflush(stdout) ? 2 : 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "number"))
		return number(argc, argv);
	if (argc == 2 && !strcmp(argv[1], "canon"))
		return canon();
	fprintf(stderr, "usage: test-json number HEX... | test-json canon\n");
	return 2;
}
