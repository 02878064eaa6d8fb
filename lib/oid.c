#include "oid.h"
#include "banned.h"
#include "util.h"

#include <string.h>

const struct snap_oid snap_null_oid;

static const char hexdigits[] = "0123456789abcdef";

char *oid_to_hex_r(char *out, const struct snap_oid *oid)
{
	int i;

	for (i = 0; i < SNAP_OID_RAWSZ; i++) {
		out[2 * i] = hexdigits[oid->hash[i] >> 4];
		out[2 * i + 1] = hexdigits[oid->hash[i] & 15];
	}
	out[SNAP_OID_HEXSZ] = '\0';
	return out;
}

const char *oid_to_hex(const struct snap_oid *oid)
{
	/* Per thread: compression and restore workers format ids too. */
	static _Thread_local char bufs[4][SNAP_OID_HEXSZ + 1];
	static _Thread_local int n;

	n = (n + 1) & 3;
	return oid_to_hex_r(bufs[n], oid);
}

/* Either case. */
static int hexval(char c)
{
	return hex_digit(c >= 'A' && c <= 'F' ? c + ('a' - 'A') : c);
}

int is_hex(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (hexval(s[i]) < 0)
			return 0;
	return 1;
}

int oid_from_hexn(struct snap_oid *oid, const char *hex, size_t len)
{
	int i;

	if (len < SNAP_OID_HEXSZ)
		return -1;
	for (i = 0; i < SNAP_OID_RAWSZ; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		oid->hash[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

int oid_from_hex(struct snap_oid *oid, const char *hex)
{
	if (strlen(hex) != SNAP_OID_HEXSZ)
		return -1;
	return oid_from_hexn(oid, hex, SNAP_OID_HEXSZ);
}

int oid_cmp(const struct snap_oid *a, const struct snap_oid *b)
{
	return memcmp(a->hash, b->hash, SNAP_OID_RAWSZ);
}

int oid_is_null(const struct snap_oid *oid)
{
	return !oid_cmp(oid, &snap_null_oid);
}
