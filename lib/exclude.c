#include "exclude.h"
#include "error.h"
#include "util.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A name "**" in a pattern: any number of names. */
static int is_dstar(const char *p, const char *end)
{
	return end - p == 2 && p[0] == '*' && p[1] == '*';
}

/* fnmatch of one name of a pattern against one name of a path. */
static int name_match(const char *p, size_t pl, const char *s, size_t sl)
{
	char pbuf[256], sbuf[256];
	char *pc = pl < sizeof(pbuf) ? pbuf : xmalloc(pl + 1);
	char *sc = sl < sizeof(sbuf) ? sbuf : xmalloc(sl + 1);
	int ok;

	memcpy(pc, p, pl);
	pc[pl] = 0;
	memcpy(sc, s, sl);
	sc[sl] = 0;
	ok = !fnmatch(pc, sc, 0);
	if (pc != pbuf)
		free(pc);
	if (sc != sbuf)
		free(sc);
	return ok;
}

/*
 * 1 if the '/'-separated path s matches pattern p name by name, "**"
 * matching any number of names.
 */
static int glob_match(const char *p, const char *s)
{
	for (;;) {
		const char *pe = strchrnul(p, '/'), *se;

		if (is_dstar(p, pe)) {
			/* "**" after "**" adds nothing but time. */
			while (*pe && is_dstar(pe + 1, strchrnul(pe + 1, '/')))
				pe = strchrnul(pe + 1, '/');
			if (!*pe)
				return 1;
			for (;;) {
				if (glob_match(pe + 1, s))
					return 1;
				s = strchr(s, '/');
				if (!s)
					return 0;
				s++;
			}
		}
		se = strchrnul(s, '/');
		if (!name_match(p, (size_t)(pe - p), s, (size_t)(se - s)))
			return 0;
		if (!*pe || !*se)
			return !*pe && !*se;
		p = pe + 1;
		s = se + 1;
	}
}

/* FNM_PATHNAME does what glob_match() does for a pattern without "**". */
int exclude_match(const struct exclude *x, const char *s)
{
	return x->dstar ? glob_match(x->pat, s) : !fnmatch(x->pat, s, FNM_PATHNAME);
}


void exclude_prepare(struct exclude *x, const char *pat)
{
	size_t len = strlen(pat);

	memset(x, 0, sizeof(*x));
	while (len > 1 && pat[len - 1] == '/') {
		x->dir_only = 1;
		len--;
	}
	if (pat[0] == '/') {
		x->kind = EXCLUDE_ABS;
		while (len > 1 && *pat == '/') {
			pat++;
			len--;
		}
	} else {
		x->kind = memchr(pat, '/', len) ? EXCLUDE_BELOW : EXCLUDE_NAME;
	}
	x->pat = xstrndup(pat, len);
	x->dstar = !strcmp(x->pat, "**") || !strncmp(x->pat, "**/", 3) ||
		   strstr(x->pat, "/**/") ||
		   (len >= 3 && !strcmp(x->pat + len - 3, "/**"));
}

void exclude_release(struct exclude *x)
{
	free(x->pat);
	x->pat = NULL;
}

int exclude_file_read(const char *path, char ***pats, size_t *nr, size_t *alloc,
		      struct strbuf *err)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int ret = 0;

	if (!f)
		return snap_error_errno(err, "cannot read '%s'", path);
	while ((n = getline(&line, &cap, f)) >= 0) {
		if (n && line[n - 1] == '\n')
			line[--n] = 0;
		if (!n || line[0] == '#')
			continue;
		ALLOC_GROW(*pats, *nr + 1, *alloc);
		(*pats)[(*nr)++] = xstrndup(line, (size_t)n);
	}
	if (ferror(f))
		ret = snap_error_errno(err, "cannot read '%s'", path);
	fclose(f);
	free(line);
	return ret;
}

int exclude_parse_size(const char *s, uint64_t *out)
{
	static const char units[] = "KMGT";
	char digits[32];
	size_t len = strlen(s);
	const char *u;
	unsigned shift = 0;

	if (!len || len >= sizeof(digits))
		return -1;
	memcpy(digits, s, len + 1);
	u = digits[len - 1] >= 'A' ? strchr(units, digits[len - 1] & ~0x20) : NULL;
	if (u && *u) {
		shift = 10 * (unsigned)(u - units + 1);
		digits[--len] = 0;
	}
	if (parse_u64(digits, out) < 0 || (shift && *out > (UINT64_MAX >> shift)))
		return -1;
	*out <<= shift;
	return 0;
}
