#ifndef SNAP_JSON_H
#define SNAP_JSON_H

/*
 * JSON for snap: jansson's parser held to snap's limits, and output in the
 * canonical form of RFC 8785 (the JSON Canonicalization Scheme), so that
 * two spellings of one value have one encoding and so one object id
 * (docs/FORMAT.md, "Bundles").
 *
 * Limits on untrusted input, each refused with a message that says where:
 * nesting deeper than JSON_DEPTH_MAX, a value longer than the caller's
 * maximum, duplicate object keys, invalid UTF-8, lone UTF-16 surrogates in
 * \u escapes, numbers that overflow a double, and integers that a double
 * cannot hold exactly (beyond +-(2^53 - 1)), which canonical output would
 * silently change.
 */

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include "strbuf.h"

/* Deepest nesting of arrays and objects accepted (the outermost is 1). */
#define JSON_DEPTH_MAX 128
/* Largest integer magnitude kept exactly: 2^53 - 1 (RFC 7493, I-JSON). */
#define JSON_INT_EXACT_MAX 9007199254740991LL

/*
 * Finds the end of the JSON value that starts at buf[0], lexically
 * (strings and brackets only), so that one element of a long array can be
 * parsed alone.  Sets *end just past the value.  Returns 0, or
 * SNAP_ETOOBIG with *end at the offending byte when brackets nest deeper
 * than JSON_DEPTH_MAX or the value runs past max bytes.  A value cut short
 * by the end of buf ends at len; json_parse() then says what is wrong.
 */
int json_scan_value(const char *buf, size_t len, size_t max, size_t *end);

/* What json_parse() and the bundle readers say of a NUL byte in JSON text. */
#define JSON_NUL_MESSAGE \
	"a NUL byte, which JSON text cannot hold (its white space is space, tab, LF and CR)"

/*
 * Parses exactly one JSON value from buf[0..len) (white space around it
 * allowed: space, tab, LF, CR).  \u0000 is allowed in strings, not in
 * keys; a NUL byte is allowed nowhere (JSON_NUL_MESSAGE).  On failure
 * returns SNAP_EINVAL, sets *errpos to the offset of the byte where the
 * problem shows (the end of a duplicate key, the bad byte, ...) and
 * appends a short description ("duplicate object key", "invalid UTF-8",
 * ...) to err.  The caller owns *out (json_decref).
 */
int json_parse(const char *buf, size_t len, json_t **out, size_t *errpos,
	       struct strbuf *err);

/*
 * Appends v in canonical form: object members sorted by the UTF-16 code
 * units of their keys, no white space, strings escaped as RFC 8785 says,
 * numbers as ECMAScript writes them.  SNAP_EINVAL for an integer beyond
 * +-JSON_INT_EXACT_MAX, or a number of such a value written otherwise
 * (1e20: canonical output has no exponent below 1e21, and its digits
 * would not read back); err then names its JSON path, e.g.
 * "$.operations[2].id: integer 9007199254740993 is beyond +-(2^53 - 1)".
 * So what it writes, json_parse() reads.
 */
int json_canonical(const json_t *v, struct strbuf *out, struct strbuf *err);

/*
 * Appends a finite double as ECMAScript's Number.prototype.toString writes
 * it (the shortest digits that read back as d; RFC 8785, section 3.2.2.3).
 */
void json_add_number(struct strbuf *out, double d);

/* Appends s[0..len) as a JSON string, escaped as RFC 8785 says. */
void json_add_string(struct strbuf *out, const char *s, size_t len);

/*
 * Appends any bytes s[0..len) as a JSON string for reports: valid UTF-8
 * as json_add_string() writes it, and each byte that is not part of valid
 * UTF-8 as the lone surrogate \udcXX (Python's "surrogateescape"), so a
 * file name or message that is not UTF-8 still comes back byte for byte.
 */
void json_add_bytes(struct strbuf *out, const char *s, size_t len);

/*
 * Appends one step of a JSON path to path: ".key" for a key of letters,
 * digits and '_' not starting with a digit, else ["key"]; "[i]" for an
 * array index.  Paths start with "$".
 */
void json_path_key(struct strbuf *path, const char *key);
void json_path_index(struct strbuf *path, size_t i);

#endif
