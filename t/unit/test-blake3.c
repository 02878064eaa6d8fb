/*
 * Checks BLAKE3's published test vectors through lib/hash.h: for each
 * line "LEN HEX" of the file given, the input of LEN bytes i % 251 must
 * hash to the first 32 bytes of HEX, and its extended output to all of it.
 * Prints one line a vector; exits 1 on any mismatch.
 */
#include "hash.h"
#include "strbuf.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void to_hex(const unsigned char *in, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", in[i]);
}

int main(int argc, char **argv)
{
	struct strbuf line = STRBUF_INIT;
	FILE *fp;
	int failed = 0, count = 0;

	if (argc != 2 || !(fp = fopen(argv[1], "r"))) {
		fprintf(stderr, "usage: test-blake3 VECTORS-FILE\n");
		return 2;
	}
	while (strbuf_getline(&line, fp, '\n') == 0) {
		char want[600], got[600];
		unsigned char xof[300], *input;
		struct snap_hash_ctx c;
		struct snap_oid oid;
		size_t len, xlen, i;
		uint64_t n;
		char *sp;

		if (!line.len || line.buf[0] == '#')
			continue;
		sp = strchr(line.buf, ' ');
		if (!sp)
			return 2;
		*sp = '\0';
		if (parse_u64(line.buf, &n) < 0 || strlen(sp + 1) >= sizeof(want))
			return 2;
		memcpy(want, sp + 1, strlen(sp + 1) + 1);
		len = (size_t)n;
		xlen = strlen(want) / 2;
		input = xmalloc(len + 1);
		for (i = 0; i < len; i++)
			input[i] = (unsigned char)(i % 251);

		hash_init(&c);
		hash_update(&c, input, len);
		hash_final(&c, &oid);
		to_hex(oid.hash, 32, got);
		if (strncmp(got, want, 64)) {
			printf("FAIL %zu hash %s\n", len, got);
			failed = 1;
		}
		/* The same input fed in uneven pieces, read as extended output. */
		hash_init(&c);
		for (i = 0; i < len; i += 7)
			hash_update(&c, input + i, len - i < 7 ? len - i : 7);
		hash_final_xof(&c, xof, xlen);
		to_hex(xof, xlen, got);
		if (strcmp(got, want)) {
			printf("FAIL %zu xof\n", len);
			failed = 1;
		} else {
			printf("ok %zu\n", len);
		}
		count++;
		free(input);
	}
	fclose(fp);
	strbuf_release(&line);
	return failed || !count;
}
