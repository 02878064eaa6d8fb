/*
 * Content-defined chunking and chunk-list lines; docs/FORMAT.md.
 */
#include "chunk.h"
#include "hash.h"
#include "util.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

static uint64_t gear[256];
static pthread_once_t gear_once = PTHREAD_ONCE_INIT;

static void gear_make(void)
{
	unsigned char out[sizeof(gear)];
	struct snap_hash_ctx c;
	size_t i, k;

	hash_init(&c);
	hash_update(&c, CHUNK_GEAR_SEED, strlen(CHUNK_GEAR_SEED));
	hash_final_xof(&c, out, sizeof(out));
	for (i = 0; i < 256; i++) {
		uint64_t v = 0;
		for (k = 8; k-- > 0;)
			v = v << 8 | out[i * 8 + k];
		gear[i] = v;
	}
}

/* The top n bits of a 64-bit word: they depend on the last 64 bytes. */
static uint64_t top_bits(unsigned n)
{
	return n ? ~(uint64_t)0 << (64 - n) : 0;
}

void chunker_init(struct chunker *c, size_t min, size_t avg, size_t max)
{
	unsigned bits = 0;

	if (avg < 256 || (avg & (avg - 1)) || min > avg || avg > max)
		BUG("bad chunker parameters %zu/%zu/%zu", min, avg, max);
	while (((size_t)1 << bits) < avg)
		bits++;
	pthread_once(&gear_once, gear_make);
	c->min = min;
	c->avg = avg;
	c->max = max;
	c->mask_hard = top_bits(bits + 2);
	c->mask_easy = top_bits(bits - 2);
}

size_t chunker_cut(const struct chunker *c, const unsigned char *data, size_t len)
{
	size_t i, normal, end = len < c->max ? len : c->max;
	uint64_t h = 0;

	if (end <= c->min)
		return end;
	normal = c->avg < end ? c->avg : end;
	for (i = c->min; i < normal; i++) {
		h = (h << 1) + gear[data[i]];
		if (!(h & c->mask_hard))
			return i + 1;
	}
	for (; i < end; i++) {
		h = (h << 1) + gear[data[i]];
		if (!(h & c->mask_easy))
			return i + 1;
	}
	return end;
}

size_t chunk_list_header_format(char *hdr, uint64_t size)
{
	int n = snprintf(hdr, SNAP_HDR_MAX, "chunks %llu", (unsigned long long)size);
	return (size_t)n + 1;
}

/* Parses decimal digits s[0..len) without leading zeros; -1 if not. */
static int parse_digits(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (!len || len > 20 || (len > 1 && s[0] == '0'))
		return -1;
	for (i = 0; i < len; i++) {
		unsigned d = (unsigned)(s[i] - '0');
		if (s[i] < '0' || s[i] > '9' || v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int chunk_list_header_parse(const char *buf, size_t len, uint64_t *size)
{
	static const char word[] = "chunks ";
	size_t n = sizeof(word) - 1, i;

	if (memcmp(buf, word, len < n ? len : n))
		return -1;
	if (len <= n)
		return 0;
	for (i = n; i < len && buf[i]; i++)
		if (buf[i] < '0' || buf[i] > '9' || i - n >= 20)
			return -1;
	if (i == len)
		return 0;
	if (parse_digits(buf + n, i - n, size) < 0)
		return -1;
	return (int)(i + 1);
}

size_t chunk_list_line_format(char *line, const struct snap_oid *oid, size_t size)
{
	char hex[SNAP_OID_HEXSZ + 1];
	int n = snprintf(line, CHUNK_LIST_LINE_MAX + 1, "%s %zu\n",
			 oid_to_hex_r(hex, oid), size);
	return (size_t)n;
}

int chunk_list_line_parse(const char *line, size_t len, struct snap_oid *oid,
			  uint64_t *size)
{
	if (len < SNAP_OID_HEXSZ + 3 || line[len - 1] != '\n' ||
	    line[SNAP_OID_HEXSZ] != ' ' ||
	    strspn(line, "0123456789abcdef") != SNAP_OID_HEXSZ ||
	    oid_from_hexn(oid, line, SNAP_OID_HEXSZ) < 0 ||
	    parse_digits(line + SNAP_OID_HEXSZ + 1, len - SNAP_OID_HEXSZ - 2, size) < 0 ||
	    *size == 0 || *size > CHUNK_LIST_SIZE_MAX)
		return -1;
	return 0;
}
