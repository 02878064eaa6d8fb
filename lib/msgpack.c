/*
 * MessagePack well-formedness; the rules are in msgpack.h.
 */
#include "msgpack.h"
#include "error.h"

#include <string.h>

static uint64_t be(const unsigned char *p, size_t n)
{
	uint64_t x = 0;

	while (n--)
		x = x << 8 | *p++;
	return x;
}

/* Whether p[0..n) is UTF-8 (no overlongs, surrogates or values past U+10FFFF). */
static int utf8_ok(const unsigned char *p, uint64_t n)
{
	uint64_t i = 0;

	while (i < n) {
		unsigned c = p[i], need, min, cp, k;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1; min = 0x80; cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2; min = 0x800; cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3; min = 0x10000; cp = c & 0x07;
		} else {
			return 0;
		}
		if (n - i <= need)
			return 0;
		for (k = 1; k <= need; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += need + 1;
	}
	return 1;
}

/* One open array or map: elements still to come; for a map, keys are the even ones. */
struct level {
	uint64_t left;
	int map;
};

int msgpack_check(const unsigned char *buf, size_t len, enum msgpack_kind *kind,
		  uint64_t *count, struct strbuf *err)
{
	struct level stack[MSGPACK_DEPTH_MAX];
	size_t depth = 0, pos = 0;
	int top = 1;

	for (;;) {
		size_t at = pos, lenbytes = 0, fixed = 0;
		enum msgpack_kind k;
		uint64_t n = 0;
		int is_key = depth && stack[depth - 1].map && stack[depth - 1].left % 2 == 0;
		unsigned char c;

		if (pos >= len)
			return snap_error(err, SNAP_EINVAL, "truncated at byte %zu", pos);
		c = buf[pos++];
		if (c <= 0x7f || c >= 0xe0) {
			k = MSGPACK_INT;
		} else if (c <= 0x8f) {
			k = MSGPACK_MAP; n = c & 0x0f;
		} else if (c <= 0x9f) {
			k = MSGPACK_ARRAY; n = c & 0x0f;
		} else if (c <= 0xbf) {
			k = MSGPACK_STR; n = c & 0x1f;
		} else {
			switch (c) {
			case 0xc0: k = MSGPACK_NIL; break;
			case 0xc2: case 0xc3: k = MSGPACK_BOOL; break;
			case 0xc4: case 0xc5: case 0xc6:
				k = MSGPACK_BIN; lenbytes = (size_t)1 << (c - 0xc4); break;
			case 0xc7: case 0xc8: case 0xc9:
				k = MSGPACK_EXT; lenbytes = (size_t)1 << (c - 0xc7); break;
			case 0xca: k = MSGPACK_FLOAT; fixed = 4; break;
			case 0xcb: k = MSGPACK_FLOAT; fixed = 8; break;
			case 0xcc: case 0xcd: case 0xce: case 0xcf:
				k = MSGPACK_INT; fixed = (size_t)1 << (c - 0xcc); break;
			case 0xd0: case 0xd1: case 0xd2: case 0xd3:
				k = MSGPACK_INT; fixed = (size_t)1 << (c - 0xd0); break;
			case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
				k = MSGPACK_EXT; n = (uint64_t)1 << (c - 0xd4); break;
			case 0xd9: case 0xda: case 0xdb:
				k = MSGPACK_STR; lenbytes = (size_t)1 << (c - 0xd9); break;
			case 0xdc: case 0xdd:
				k = MSGPACK_ARRAY; lenbytes = (size_t)2 << (c - 0xdc); break;
			case 0xde: case 0xdf:
				k = MSGPACK_MAP; lenbytes = (size_t)2 << (c - 0xde); break;
			default:
				return snap_error(err, SNAP_EINVAL,
						  "byte %zu: 0x%02x is not a MessagePack type", at, c);
			}
		}
		if (lenbytes) {
			if (len - pos < lenbytes)
				return snap_error(err, SNAP_EINVAL, "truncated at byte %zu", len);
			n = be(buf + pos, lenbytes);
			pos += lenbytes;
		}
		if (is_key && k != MSGPACK_STR && k != MSGPACK_BIN)
			return snap_error(err, SNAP_EINVAL,
					  "byte %zu: a map key that is not a str or bin", at);
		if (k == MSGPACK_EXT) {
			/* The type byte, then n bytes; type -1 is the timestamp. */
			if (len - pos < 1)
				return snap_error(err, SNAP_EINVAL, "truncated at byte %zu", len);
			if (buf[pos] == 0xff && n != 4 && n != 8 && n != 12)
				return snap_error(err, SNAP_EINVAL,
						  "byte %zu: a timestamp of %llu bytes (4, 8 or 12)",
						  at, (unsigned long long)n);
			pos++;
			fixed = 0;
		}
		if (k == MSGPACK_STR || k == MSGPACK_BIN || k == MSGPACK_EXT)
			fixed = n > len ? len + 1 : (size_t)n;
		if (len - pos < fixed)
			return snap_error(err, SNAP_EINVAL, "truncated at byte %zu", len);
		if (k == MSGPACK_STR && !utf8_ok(buf + pos, n))
			return snap_error(err, SNAP_EINVAL, "byte %zu: a str that is not UTF-8", at);
		pos += fixed;
		if (top) {
			if (kind)
				*kind = k;
			if (count)
				*count = n;
			top = 0;
		}
		if (depth)
			stack[depth - 1].left--;
		if ((k == MSGPACK_ARRAY || k == MSGPACK_MAP) && n) {
			/* Every element takes a byte at least. */
			if (n > len - pos || (k == MSGPACK_MAP && n > (len - pos) / 2))
				return snap_error(err, SNAP_EINVAL, "truncated at byte %zu", len);
			if (depth == MSGPACK_DEPTH_MAX)
				return snap_error(err, SNAP_EINVAL,
						  "byte %zu: nested deeper than %d levels",
						  at, MSGPACK_DEPTH_MAX);
			stack[depth].left = k == MSGPACK_MAP ? 2 * n : n;
			stack[depth].map = k == MSGPACK_MAP;
			depth++;
		}
		while (depth && !stack[depth - 1].left)
			depth--;
		if (!depth)
			break;
	}
	if (pos != len)
		return snap_error(err, SNAP_EINVAL, "byte %zu: bytes after the value", pos);
	return 0;
}
