#ifndef SNAP_UTIL_H
#define SNAP_UTIL_H

/*
 * Small helpers every module uses: checked allocation (out of memory
 * aborts: the one failure lib/ does not return), BUG() for broken
 * invariants, and integer parsing that refuses anything but plain digits.
 */

#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

void *xmalloc(size_t n);
/*
 * For buffers that read() fills or write() drains: 64-byte aligned.  The
 * kernel copies to and from a buffer misaligned by malloc's 16 bytes up
 * to three times slower on some processors.  Freed with free().
 */
void *xmalloc_io(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
void *xmemdup(const void *p, size_t n);
/* Grows *arr (of *alloc elements of size elem) to hold at least want. */
void *xgrow(void *arr, size_t *alloc, size_t want, size_t elem);
/* qsort that accepts an empty (NULL) array, which qsort itself may not. */
#define QSORT(base, n, cmp) \
	do { if ((n) > 1) qsort((base), (n), sizeof(*(base)), (cmp)); } while (0)

#define ALLOC_GROW(arr, want, alloc) \
	((arr) = xgrow((arr), &(alloc), (want), sizeof(*(arr))))

_Noreturn void bug_fl(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
#define BUG(...) bug_fl(__FILE__, __LINE__, __VA_ARGS__)

/*
 * Parses a whole string of decimal digits (no sign, no spaces, no leading
 * '+') into *out.  Returns 0, or -1 on anything else or on overflow.
 */
int parse_u64(const char *s, uint64_t *out);
/* Same for a signed value (an optional leading '-'). */
int parse_i64(const char *s, int64_t *out);
/*
 * Parses decimal digits with an optional fraction ("30", "0.25") into
 * *out: no sign, spaces, exponent, hexadecimal, "inf" or "nan", which
 * strtod() would take.  Returns 0, or -1 on anything else.
 */
int parse_decimal(const char *s, double *out);

/*
 * Parses a duration: plain seconds, or a number with one unit of s, m, h,
 * d, w (minutes are 'm'; months are not a fixed length and not accepted).
 * Returns 0, or -1 on anything else or on overflow.
 */
int parse_duration(const char *s, int64_t *secs);

/* The value of a lowercase hex digit c, or -1 for anything else. */
int hex_digit(int c);

/* write(2) all of buf, retrying on EINTR and short writes; -1 with errno. */
int write_all(int fd, const void *buf, size_t len);
/* read(2) until len bytes or end of file; returns bytes read or -1. */
long long read_full(int fd, void *buf, size_t len);


/* Big-endian integers of the on-disk formats (docs/FORMAT.md). */
static inline uint32_t get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t get_be64(const unsigned char *p)
{
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

static inline void put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static inline void put_be64(unsigned char *p, uint64_t v)
{
	put_be32(p, (uint32_t)(v >> 32));
	put_be32(p + 4, (uint32_t)v);
}

/* An index with a sort key: sort_keyed() orders by key, ties by index. */
struct keyed {
	uint64_t key;
	size_t idx;
};
void sort_keyed(struct keyed *v, size_t nr);

/*
 * The name messages begin with ("snap-gc: warning: ..."): "snap" until a
 * command's usage_setup() (usage.h, cmd/ only) sets it.
 */
extern const char *snap_progname;

/* Last: the functions snap does not call (lib/banned.h). */
#include "banned.h"

#endif
