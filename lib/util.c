#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *snap_progname = "snap";

static _Noreturn void oom(size_t n)
{
	fprintf(stderr, "snap: fatal: out of memory allocating %zu bytes\n", n);
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom(n);
	return p;
}

void *xmalloc_io(size_t n)
{
	void *p;

	if (posix_memalign(&p, 64, n ? n : 1))
		oom(n);
	return p;
}

void *xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
	if (!p)
		oom(nmemb * size);
	return p;
}

void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		oom(n);
	return q;
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void *xmemdup(const void *p, size_t n)
{
	void *q = xmalloc(n);
	memcpy(q, p, n);
	return q;
}

void *xgrow(void *arr, size_t *alloc, size_t want, size_t elem)
{
	size_t n;

	if (want <= *alloc)
		return arr;
	n = *alloc + *alloc / 2 + 16;
	if (n < want)
		n = want;
	if (n > SIZE_MAX / elem)
		oom(SIZE_MAX);
	*alloc = n;
	return xrealloc(arr, n * elem);
}

void bug_fl(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "snap: BUG: %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

int parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return -1;
	for (; *s; s++) {
		unsigned d;
		if (*s < '0' || *s > '9')
			return -1;
		d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int parse_i64(const char *s, int64_t *out)
{
	uint64_t v;
	int neg = *s == '-';

	if (parse_u64(s + neg, &v) < 0)
		return -1;
	if (neg) {
		if (v > (uint64_t)INT64_MAX + 1)
			return -1;
		*out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
	} else {
		if (v > INT64_MAX)
			return -1;
		*out = (int64_t)v;
	}
	return 0;
}

int parse_decimal(const char *s, double *out)
{
	size_t whole = strspn(s, "0123456789"), frac = 0;

	if (!whole)
		return -1;
	if (s[whole] == '.') {
		frac = strspn(s + whole + 1, "0123456789");
		if (!frac)
			return -1;
		frac++;
	}
	if (s[whole + frac])
		return -1;
	/* Only digits and one point are left, which strtod reads as decimal. */
	*out = strtod(s, NULL);
	return 0;
}

int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

long long read_full(int fd, void *buf, size_t len)
{
	char *p = buf;
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, p + got, len - got);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (long long)got;
}

int parse_duration(const char *s, int64_t *secs)
{
	static const struct { char unit; int64_t mult; } units[] = {
		{ 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 }, { 'w', 604800 },
	};
	size_t len = strlen(s), i;
	int64_t mult = 1;
	uint64_t v;
	char *num;
	int ret;

	if (!len)
		return -1;
	for (i = 0; i < ARRAY_SIZE(units); i++)
		if (s[len - 1] == units[i].unit) {
			mult = units[i].mult;
			len--;
		}
	num = xstrndup(s, len);
	ret = parse_u64(num, &v);
	free(num);
	if (ret < 0 || v > (uint64_t)INT64_MAX / (uint64_t)mult)
		return -1;
	*secs = (int64_t)v * mult;
	return 0;
}

static int cmp_keyed(const void *a, const void *b)
{
	const struct keyed *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

void sort_keyed(struct keyed *v, size_t nr)
{
	QSORT(v, nr, cmp_keyed);
}

int hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}
