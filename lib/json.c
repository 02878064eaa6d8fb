/*
 * JSON parsing with limits, and RFC 8785 canonical output.
 */
#include "json.h"
#include "error.h"
#include "util.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int json_scan_value(const char *buf, size_t len, size_t max, size_t *end)
{
	size_t i = 0, depth = 0;

	if (len && buf[0] != '{' && buf[0] != '[' && buf[0] != '"') {
		/* A bare scalar ends at a separator or white space (a NUL is neither). */
		while (i < len && !is_ws(buf[i]) && !(buf[i] && strchr(",]}", buf[i])))
			i++;
		*end = i;
		return i > max ? SNAP_ETOOBIG : 0;
	}
	for (; i < len; i++) {
		if (i >= max) {
			*end = i;
			return SNAP_ETOOBIG;
		}
		switch (buf[i]) {
		case '"':
			for (i++; i < len && buf[i] != '"'; i++)
				if (buf[i] == '\\')
					i++;
			if (i >= len) {
				*end = len;
				return 0;
			}
			break;
		case '{': case '[':
			if (++depth > JSON_DEPTH_MAX) {
				*end = i;
				return SNAP_ETOOBIG;
			}
			break;
		case '}': case ']':
			if (depth)
				depth--;
			break;
		}
		if (!depth) {
			*end = i + 1;
			return 0;
		}
	}
	*end = len;
	return 0;
}

int json_parse(const char *buf, size_t len, json_t **out, size_t *errpos,
	       struct strbuf *err)
{
	json_error_t e;
	const char *what;
	const char *nul = memchr(buf, 0, len);

	/*
	 * JSON text holds no NUL byte: not as white space, nor raw in a
	 * string.  jansson's reader would take one for the end of its input.
	 */
	if (nul) {
		*out = NULL;
		*errpos = (size_t)(nul - buf);
		return snap_error(err, SNAP_EINVAL, "%s", JSON_NUL_MESSAGE);
	}
	*out = json_loadb(buf, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES |
			  JSON_ALLOW_NUL, &e);
	if (*out)
		return 0;
	/*
	 * jansson's position counts the bytes read, the offending one among
	 * them, except for invalid UTF-8, where it stops before the bad byte.
	 */
	*errpos = e.position > 0 ? (size_t)e.position : 0;
	if (json_error_code(&e) != json_error_invalid_utf8 && *errpos > 0)
		(*errpos)--;
	if (*errpos > len)
		*errpos = len;
	switch (json_error_code(&e)) {
	case json_error_duplicate_key: what = "duplicate object key"; break;
	case json_error_invalid_utf8: what = "invalid UTF-8"; break;
	case json_error_numeric_overflow: what = "number out of range"; break;
	case json_error_null_byte_in_key: what = "NUL in an object key"; break;
	case json_error_premature_end_of_input: what = "unexpected end of input"; break;
	case json_error_end_of_input_expected: what = "text after the value"; break;
	case json_error_stack_overflow: what = "nested too deeply"; break;
	default:
		/* jansson's words for \u escapes that are not valid UTF-16. */
		if (!strncmp(e.text, "invalid Unicode", 15))
			what = "lone or invalid UTF-16 surrogate in a \\u escape";
		else
			what = NULL;
	}
	if (what)
		return snap_error(err, SNAP_EINVAL, "%s", what);
	return snap_error(err, SNAP_EINVAL, "invalid JSON: %s", e.text);
}

/* ---- canonical output ---- */

/* The inside of a JSON string: s[0..len) escaped as RFC 8785 says. */
static void add_escaped(struct strbuf *out, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, run = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		const char *esc = NULL;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		strbuf_add(out, s + run, i - run);
		run = i + 1;
		switch (c) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		}
		if (esc) {
			strbuf_addstr(out, esc);
		} else {
			strbuf_addstr(out, "\\u00");
			strbuf_addch(out, hex[c >> 4]);
			strbuf_addch(out, hex[c & 15]);
		}
	}
	strbuf_add(out, s + run, len - run);
}

void json_add_string(struct strbuf *out, const char *s, size_t len)
{
	strbuf_addch(out, '"');
	add_escaped(out, s, len);
	strbuf_addch(out, '"');
}

/*
 * Decimal digits of a double: d = 0.D1D2...Dk * 10^n.  digits[] holds
 * '0'..'9', k of them, no trailing zeros.
 */
struct decimal {
	char digits[24];
	int k, n;
};

/* The p-digit decimal printf rounds d to (correctly, in glibc). */
static void decimal_round(double d, int p, struct decimal *dec)
{
	char buf[48];
	int i;

	snprintf(buf, sizeof(buf), "%.*e", p - 1, d);
	dec->k = 0;
	for (i = 0; buf[i] && buf[i] != 'e'; i++)
		if (isdigit((unsigned char)buf[i]))
			dec->digits[dec->k++] = buf[i];
	dec->n = atoi(buf + i + 1) + 1;
}

static double decimal_value(const struct decimal *dec)
{
	char buf[48];

	snprintf(buf, sizeof(buf), "0.%.*se%d", dec->k, dec->digits, dec->n);
	return strtod(buf, NULL);
}

/* Moves the last digit one step up (dir 1) or down (-1); 0 if it cannot. */
static int decimal_step(struct decimal *dec, int dir)
{
	int i = dec->k - 1;

	if (dir > 0) {
		while (i >= 0 && dec->digits[i] == '9')
			dec->digits[i--] = '0';
		if (i < 0) {
			memmove(dec->digits + 1, dec->digits, (size_t)dec->k - 1);
			dec->digits[0] = '1';
			dec->n++;
		} else {
			dec->digits[i]++;
		}
		return 1;
	}
	while (i >= 0 && dec->digits[i] == '0')
		dec->digits[i--] = '9';
	if (i < 0)
		return 0;
	dec->digits[i]--;
	if (dec->digits[0] == '0') {
		/* 1.000e(n) - 1 unit is 9.999e(n-1): still k digits. */
		memmove(dec->digits, dec->digits + 1, (size_t)dec->k - 1);
		dec->digits[dec->k - 1] = '9';
		dec->n--;
	}
	return 1;
}

/*
 * The fewest digits that read back as d; among candidates of that length,
 * the nearest to d.  The correctly rounded p-digit decimal is the nearest
 * one; its neighbours are tried too because next to a power of two the
 * interval of values that round to d is lopsided.
 */
static void shortest_decimal(double d, struct decimal *out)
{
	int p;

	for (p = 1; p <= 17; p++) {
		struct decimal c, up, down;
		int ok_up, ok_down;

		decimal_round(d, p, &c);
		if (decimal_value(&c) == d) {
			*out = c;
			break;
		}
		up = c;
		down = c;
		ok_up = decimal_step(&up, 1) && decimal_value(&up) == d;
		ok_down = decimal_step(&down, -1) && decimal_value(&down) == d;
		if (ok_up && ok_down) {
			double du = fabs(decimal_value(&up) - d);
			double dd = fabs(decimal_value(&down) - d);
			*out = du <= dd ? up : down;
			break;
		}
		if (ok_up || ok_down) {
			*out = ok_up ? up : down;
			break;
		}
	}
	while (out->k > 1 && out->digits[out->k - 1] == '0')
		out->k--;
}

void json_add_number(struct strbuf *out, double d)
{
	struct decimal dec;
	int k, n, i;

	if (d == 0) {
		strbuf_addch(out, '0');	/* and -0 too */
		return;
	}
	if (d < 0) {
		strbuf_addch(out, '-');
		d = -d;
	}
	shortest_decimal(d, &dec);
	k = dec.k;
	n = dec.n;
	if (k <= n && n <= 21) {
		strbuf_add(out, dec.digits, (size_t)k);
		for (i = k; i < n; i++)
			strbuf_addch(out, '0');
	} else if (0 < n && n <= 21) {
		strbuf_add(out, dec.digits, (size_t)n);
		strbuf_addch(out, '.');
		strbuf_add(out, dec.digits + n, (size_t)(k - n));
	} else if (-6 < n && n <= 0) {
		strbuf_addstr(out, "0.");
		for (i = n; i < 0; i++)
			strbuf_addch(out, '0');
		strbuf_add(out, dec.digits, (size_t)k);
	} else {
		strbuf_addch(out, dec.digits[0]);
		if (k > 1) {
			strbuf_addch(out, '.');
			strbuf_add(out, dec.digits + 1, (size_t)(k - 1));
		}
		strbuf_addf(out, "e%c%d", n - 1 >= 0 ? '+' : '-', abs(n - 1));
	}
}

static int ident_ok(const char *key)
{
	size_t i;

	if (!*key || isdigit((unsigned char)key[0]))
		return 0;
	for (i = 0; key[i]; i++)
		if (!isalnum((unsigned char)key[i]) && key[i] != '_')
			return 0;
	return 1;
}

void json_path_key(struct strbuf *path, const char *key)
{
	if (ident_ok(key)) {
		strbuf_addch(path, '.');
		strbuf_addstr(path, key);
	} else {
		strbuf_addch(path, '[');
		json_add_string(path, key, strlen(key));
		strbuf_addch(path, ']');
	}
}

void json_path_index(struct strbuf *path, size_t i)
{
	strbuf_addf(path, "[%zu]", i);
}

/* The next UTF-16 code unit of a valid UTF-8 string; *pending carries the
 * low surrogate of a pair. */
static unsigned next_unit(const unsigned char **s, const unsigned char *end,
			  unsigned *pending)
{
	unsigned cp;
	const unsigned char *p = *s;

	if (*pending) {
		cp = *pending;
		*pending = 0;
		return cp;
	}
	if (p[0] < 0x80) {
		cp = p[0];
		p += 1;
	} else if (p[0] < 0xe0 && end - p >= 2) {
		cp = (p[0] & 0x1fu) << 6 | (p[1] & 0x3fu);
		p += 2;
	} else if (p[0] < 0xf0 && end - p >= 3) {
		cp = (p[0] & 0x0fu) << 12 | (p[1] & 0x3fu) << 6 | (p[2] & 0x3fu);
		p += 3;
	} else if (end - p >= 4) {
		cp = (p[0] & 0x07u) << 18 | (p[1] & 0x3fu) << 12 |
		     (p[2] & 0x3fu) << 6 | (p[3] & 0x3fu);
		p += 4;
	} else {
		cp = p[0];	/* not reached for jansson's valid UTF-8 */
		p = end;
	}
	*s = p;
	if (cp >= 0x10000) {
		cp -= 0x10000;
		*pending = 0xdc00 + (cp & 0x3ff);
		return 0xd800 + (cp >> 10);
	}
	return cp;
}

/* RFC 8785 member order: by UTF-16 code units, as JavaScript sorts. */
static int cmp_utf16(const char *a, const char *b)
{
	const unsigned char *pa = (const unsigned char *)a, *pb = (const unsigned char *)b;
	const unsigned char *ea = pa + strlen(a), *eb = pb + strlen(b);
	unsigned qa = 0, qb = 0;

	while ((pa < ea || qa) && (pb < eb || qb)) {
		unsigned ua = next_unit(&pa, ea, &qa), ub = next_unit(&pb, eb, &qb);
		if (ua != ub)
			return ua < ub ? -1 : 1;
	}
	return (pa < ea || qa) - (pb < eb || qb);
}

static int cmp_keys(const void *a, const void *b)
{
	return cmp_utf16(*(const char *const *)a, *(const char *const *)b);
}

static int canonical(const json_t *v, struct strbuf *out, struct strbuf *path,
		     struct strbuf *err)
{
	size_t i, n, plen = path->len;
	int ret = 0;

	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		const char **keys;
		const char *key;
		json_t *val;

		n = json_object_size(v);
		keys = xcalloc(n ? n : 1, sizeof(*keys));
		i = 0;
		json_object_foreach((json_t *)v, key, val)
			keys[i++] = key;
		QSORT(keys, n, cmp_keys);
		strbuf_addch(out, '{');
		for (i = 0; i < n && !ret; i++) {
			if (i)
				strbuf_addch(out, ',');
			json_add_string(out, keys[i], strlen(keys[i]));
			strbuf_addch(out, ':');
			json_path_key(path, keys[i]);
			ret = canonical(json_object_get(v, keys[i]), out, path, err);
			strbuf_setlen(path, plen);
		}
		strbuf_addch(out, '}');
		free(keys);
		return ret;
	}
	case JSON_ARRAY:
		strbuf_addch(out, '[');
		n = json_array_size(v);
		for (i = 0; i < n && !ret; i++) {
			if (i)
				strbuf_addch(out, ',');
			json_path_index(path, i);
			ret = canonical(json_array_get(v, i), out, path, err);
			strbuf_setlen(path, plen);
		}
		strbuf_addch(out, ']');
		return ret;
	case JSON_STRING:
		json_add_string(out, json_string_value(v), json_string_length(v));
		return 0;
	case JSON_INTEGER: {
		json_int_t x = json_integer_value(v);
		if (x > JSON_INT_EXACT_MAX || x < -JSON_INT_EXACT_MAX)
			return snap_error(err, SNAP_EINVAL,
					  "%s: integer %lld is beyond +-(2^53 - 1), which JSON numbers cannot keep exactly",
					  path->buf, (long long)x);
		strbuf_addf(out, "%lld", (long long)x);
		return 0;
	}
	case JSON_REAL: {
		double d = json_real_value(v), a = d < 0 ? -d : d;
		/*
		 * Below 1e21 canonical numbers have no exponent: a double of
		 * an integer value beyond +-(2^53 - 1) (1e20, 9007199254740992.0)
		 * comes out as digits that read back as an integer too large,
		 * which json_parse() or the check above refuses.  Refused here,
		 * so that canonical output always reads back.
		 */
		if (a > (double)JSON_INT_EXACT_MAX && a < 1e21) {
			struct strbuf num = STRBUF_INIT;
			json_add_number(&num, d);
			snap_error(err, SNAP_EINVAL,
				   "%s: number %s is an integer beyond +-(2^53 - 1), which JSON numbers cannot keep exactly",
				   path->buf, num.buf);
			strbuf_release(&num);
			return SNAP_EINVAL;
		}
		json_add_number(out, d);
		return 0;
	}
	case JSON_TRUE:
		strbuf_addstr(out, "true");
		return 0;
	case JSON_FALSE:
		strbuf_addstr(out, "false");
		return 0;
	case JSON_NULL:
		strbuf_addstr(out, "null");
		return 0;
	}
	BUG("json_canonical: unknown jansson type");
}

int json_canonical(const json_t *v, struct strbuf *out, struct strbuf *err)
{
	struct strbuf path = STRBUF_INIT;
	int ret;

	strbuf_addch(&path, '$');
	ret = canonical(v, out, &path, err);
	strbuf_release(&path);
	return ret;
}

/* The length of the valid UTF-8 sequence at s (at most len bytes), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t len)
{
	size_t n, i;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and code points past U+10FFFF. */
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

void json_add_bytes(struct strbuf *out, const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, start;

	strbuf_addch(out, '"');
	while (i < len) {
		size_t n;

		start = i;
		while (i < len && (n = utf8_seq(u + i, len - i)))
			i += n;
		add_escaped(out, s + start, i - start);
		if (i < len)
			strbuf_addf(out, "\\udc%02x", u[i++]);
	}
	strbuf_addch(out, '"');
}
