/*
 * Snapshot objects; the format is in docs/FORMAT.md ("Snapshots").
 */
#include "snapshot.h"
#include "error.h"
#include "odb.h"
#include "tree.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void snapshot_release(struct snapshot *s)
{
	size_t i;

	free(s->parents);
	free(s->bundles);
	free(s->host);
	for (i = 0; i < s->nr_meta; i++)
		free(s->meta[i]);
	free(s->meta);
	for (i = 0; i < s->nr_problems; i++) {
		free(s->problems[i].reason);
		free(s->problems[i].path);
	}
	free(s->problems);
	free(s->message);
	memset(s, 0, sizeof(*s));
}

void snapshot_add_parent(struct snapshot *s, const struct snap_oid *oid)
{
	ALLOC_GROW(s->parents, s->nr_parents + 1, s->alloc_parents);
	s->parents[s->nr_parents++] = *oid;
}

void snapshot_add_bundle(struct snapshot *s, const struct snap_oid *oid)
{
	ALLOC_GROW(s->bundles, s->nr_bundles + 1, s->alloc_bundles);
	s->bundles[s->nr_bundles++] = *oid;
}

static int key_ok(const char *k, size_t len)
{
	size_t i;

	if (!len || len > 128)
		return 0;
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)k[i]) && !strchr("._-", k[i]))
			return 0;
	return 1;
}

static int text_ok(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

static const char *const problem_reasons[] = {
	"unreadable", "vanished", "changed", "unstable", "metadata",
};

/* Checks "<reason> <escaped path>"; sets *sp to the space. */
static int problem_ok(const char *line, size_t len, const char **sp)
{
	struct strbuf path = STRBUF_INIT;
	size_t i;
	int ok;

	*sp = memchr(line, ' ', len);
	if (!*sp)
		return 0;
	for (i = 0; i < ARRAY_SIZE(problem_reasons); i++)
		if ((size_t)(*sp - line) == strlen(problem_reasons[i]) &&
		    !memcmp(line, problem_reasons[i], (size_t)(*sp - line)))
			break;
	if (i == ARRAY_SIZE(problem_reasons))
		return 0;
	ok = tree_unescape(*sp + 1, len - (size_t)(*sp + 1 - line), &path) == 0 &&
	     tree_path_ok(path.buf, path.len);
	strbuf_release(&path);
	return ok;
}

static void add_problem(struct snapshot *s, const char *line, size_t len, const char *sp)
{
	struct snapshot_problem *p;

	s->incomplete++;
	if (s->nr_problems >= SNAPSHOT_PROBLEMS_MAX ||
	    s->problems_bytes + len + 9 > SNAPSHOT_PROBLEMS_BYTES)
		return;
	ALLOC_GROW(s->problems, s->nr_problems + 1, s->alloc_problems);
	p = &s->problems[s->nr_problems++];
	p->reason = xstrndup(line, (size_t)(sp - line));
	p->path = xstrndup(sp + 1, len - (size_t)(sp + 1 - line));
	s->problems_bytes += len + 9;	/* "problem " and a newline */
}

int snapshot_add_problem(struct snapshot *s, const char *line, size_t len,
			 struct strbuf *err)
{
	const char *sp;

	if (!problem_ok(line, len, &sp))
		return snap_error(err, SNAP_EINVAL,
				  "bad problem line '%.*s': want REASON PATH, REASON one of unreadable, vanished, changed, unstable, PATH relative and escaped",
				  (int)(len > 200 ? 200 : len), line);
	add_problem(s, line, len, sp);
	return 0;
}

int snapshot_add_meta(struct snapshot *s, const char *kv, struct strbuf *err)
{
	const char *eq = strchr(kv, '=');

	if (!eq || !key_ok(kv, (size_t)(eq - kv)))
		return snap_error(err, SNAP_EINVAL,
				  "bad metadata '%s': want KEY=VALUE, KEY of letters, digits, '.', '_', '-'",
				  kv);
	if (!text_ok(eq + 1, strlen(eq + 1)))
		return snap_error(err, SNAP_EINVAL,
				  "bad metadata '%.*s': control characters in the value",
				  (int)(eq - kv), kv);
	ALLOC_GROW(s->meta, s->nr_meta + 1, s->alloc_meta);
	s->meta[s->nr_meta++] = xstrdup(kv);
	return 0;
}

const char *snapshot_meta(const struct snapshot *s, const char *key)
{
	size_t i, kl = strlen(key);

	for (i = 0; i < s->nr_meta; i++)
		if (!strncmp(s->meta[i], key, kl) && s->meta[i][kl] == '=')
			return s->meta[i] + kl + 1;
	return NULL;
}

static void add_tz(struct strbuf *out, int tz)
{
	int a = tz < 0 ? -tz : tz;
	strbuf_addf(out, "%c%02d%02d", tz < 0 ? '-' : '+', a / 60, a % 60);
}

int snapshot_encode(const struct snapshot *s, struct strbuf *out,
		    struct strbuf *err)
{
	size_t i;

	if (s->time <= -SNAPSHOT_TIME_LIMIT || s->time >= SNAPSHOT_TIME_LIMIT)
		return snap_error(err, SNAP_EINVAL, "time %lld out of range",
				  (long long)s->time);
	if (s->tz <= -24 * 60 || s->tz >= 24 * 60)
		return snap_error(err, SNAP_EINVAL, "time zone out of range");
	if (!s->host || !*s->host || !text_ok(s->host, strlen(s->host)))
		return snap_error(err, SNAP_EINVAL, "bad host name");
	if (s->nr_bundles > SNAPSHOT_BUNDLES_MAX)
		return snap_error(err, SNAP_ETOOBIG, "more than %d bundles in one snapshot",
				  SNAPSHOT_BUNDLES_MAX);
	strbuf_reset(out);
	if (!s->nr_bundles)
		strbuf_addf(out, "tree %s\n", oid_to_hex(&s->tree));
	for (i = 0; i < s->nr_bundles; i++)
		strbuf_addf(out, "bundle %s\n", oid_to_hex(&s->bundles[i]));
	for (i = 0; i < s->nr_parents; i++)
		strbuf_addf(out, "parent %s\n", oid_to_hex(&s->parents[i]));
	strbuf_addf(out, "time %lld ", (long long)s->time);
	add_tz(out, s->tz);
	strbuf_addf(out, "\nhost %s\n", s->host);
	if (s->incomplete && !s->nr_problems)
		return snap_error(err, SNAP_EINVAL, "an incomplete snapshot lists no problem");
	if (s->incomplete)
		strbuf_addf(out, "incomplete %llu\n", (unsigned long long)s->incomplete);
	for (i = 0; i < s->nr_problems; i++)
		strbuf_addf(out, "problem %s %s\n", s->problems[i].reason, s->problems[i].path);
	for (i = 0; i < s->nr_meta; i++)
		strbuf_addf(out, "meta %s\n", s->meta[i]);
	strbuf_addch(out, '\n');
	if (s->message)
		strbuf_addstr(out, s->message);
	return 0;
}

/* Takes "<word> " off the front of line; returns the rest or NULL. */
static const char *keyword(const char *line, size_t len, const char *word)
{
	size_t wl = strlen(word);

	if (len > wl && !memcmp(line, word, wl) && line[wl] == ' ')
		return line + wl + 1;
	return NULL;
}

static int parse_oid_field(const char *v, size_t len, struct snap_oid *oid)
{
	size_t i;

	if (len != SNAP_OID_HEXSZ)
		return -1;
	for (i = 0; i < len; i++)
		if (v[i] >= 'A' && v[i] <= 'F')
			return -1;
	return oid_from_hexn(oid, v, len);
}

static int parse_time_field(const char *v, size_t len, int64_t *t, int *tz)
{
	const char *sp = memchr(v, ' ', len);
	char num[24];
	size_t nl;
	int neg, h, m;
	uint64_t u;

	if (!sp)
		return -1;
	nl = (size_t)(sp - v);
	neg = v[0] == '-';
	if (nl - (size_t)neg == 0 || nl - (size_t)neg > 20 ||
	    (nl - (size_t)neg > 1 && v[neg] == '0'))
		return -1;
	memcpy(num, v + neg, nl - (size_t)neg);
	num[nl - (size_t)neg] = '\0';
	if (parse_u64(num, &u) < 0 || u >= (uint64_t)SNAPSHOT_TIME_LIMIT || (neg && !u))
		return -1;
	*t = neg ? -(int64_t)u : (int64_t)u;
	v = sp + 1;
	len -= nl + 1;
	if (len != 5 || (v[0] != '+' && v[0] != '-'))
		return -1;
	if (!isdigit((unsigned char)v[1]) || !isdigit((unsigned char)v[2]) ||
	    !isdigit((unsigned char)v[3]) || !isdigit((unsigned char)v[4]))
		return -1;
	h = (v[1] - '0') * 10 + (v[2] - '0');
	m = (v[3] - '0') * 10 + (v[4] - '0');
	if (h > 23 || m > 59 || (v[0] == '-' && h == 0 && m == 0))
		return -1;
	*tz = (v[0] == '-' ? -1 : 1) * (h * 60 + m);
	return 0;
}

int snapshot_parse(struct snapshot *s, const char *buf, size_t len,
		   struct strbuf *err)
{
	const char *p = buf, *end = buf + len;
	enum { TREE, BUNDLES, PARENTS, TIME, HOST, INCOMPLETE, PROBLEMS, META } state = TREE;
	size_t lineno = 0;
	const char *why = NULL;

	memset(s, 0, sizeof(*s));
	if (memchr(buf, '\0', len)) {
		why = "NUL byte";
		goto bad;
	}
	for (;;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *v;
		size_t ll;

		lineno++;
		if (!nl) {
			why = "header not ended by a blank line";
			goto bad;
		}
		ll = (size_t)(nl - p);
		if (ll == 0) {
			if (state == PROBLEMS && !s->nr_problems) {
				why = "no problem line after incomplete";
				goto bad;
			}
			if (state < INCOMPLETE) {
				why = state == HOST ? "no host line" : "missing header lines";
				goto bad;
			}
			p = nl + 1;
			break;
		}
		why = "unexpected header line";
		if ((state == TREE || state == BUNDLES) && (v = keyword(p, ll, "bundle"))) {
			struct snap_oid oid;
			if (parse_oid_field(v, (size_t)(nl - v), &oid) < 0 ||
			    s->nr_bundles >= SNAPSHOT_BUNDLES_MAX) {
				why = "bad bundle line";
				goto bad;
			}
			snapshot_add_bundle(s, &oid);
			state = BUNDLES;
		} else if (state == TREE) {
			if (!(v = keyword(p, ll, "tree")) ||
			    parse_oid_field(v, (size_t)(nl - v), &s->tree) < 0)
				goto bad;
			state = PARENTS;
		} else if ((state == PARENTS || state == BUNDLES) &&
			   (v = keyword(p, ll, "parent"))) {
			struct snap_oid oid;
			if (parse_oid_field(v, (size_t)(nl - v), &oid) < 0) {
				why = "bad parent id";
				goto bad;
			}
			snapshot_add_parent(s, &oid);
			state = PARENTS;
		} else if (state == PARENTS || state == BUNDLES) {
			if (!(v = keyword(p, ll, "time")) ||
			    parse_time_field(v, (size_t)(nl - v), &s->time, &s->tz) < 0) {
				why = "bad or missing time line";
				goto bad;
			}
			state = TIME;
		} else if (state == TIME) {
			if (!(v = keyword(p, ll, "host")) || v == nl ||
			    !text_ok(v, (size_t)(nl - v))) {
				why = "bad or missing host line";
				goto bad;
			}
			s->host = xstrndup(v, (size_t)(nl - v));
			state = INCOMPLETE;
		} else if (state == INCOMPLETE && (v = keyword(p, ll, "incomplete"))) {
			char num[24];
			size_t n = (size_t)(nl - v);
			if (!n || n > 20 || v[0] == '0' || strspn(v, "0123456789") < n) {
				why = "bad incomplete line";
				goto bad;
			}
			memcpy(num, v, n);
			num[n] = '\0';
			if (parse_u64(num, &s->incomplete) < 0) {
				why = "bad incomplete line";
				goto bad;
			}
			state = PROBLEMS;
		} else if (state == PROBLEMS && (v = keyword(p, ll, "problem"))) {
			const char *sp;
			if (!problem_ok(v, (size_t)(nl - v), &sp) ||
			    s->nr_problems >= SNAPSHOT_PROBLEMS_MAX ||
			    s->nr_problems >= s->incomplete) {
				why = "bad problem line";
				goto bad;
			}
			ALLOC_GROW(s->problems, s->nr_problems + 1, s->alloc_problems);
			s->problems[s->nr_problems].reason = xstrndup(v, (size_t)(sp - v));
			s->problems[s->nr_problems].path = xstrndup(sp + 1, (size_t)(nl - sp - 1));
			s->nr_problems++;
			s->problems_bytes += ll + 1;
		} else {
			const char *eq;
			if (state == PROBLEMS && !s->nr_problems) {
				why = "no problem line after incomplete";
				goto bad;
			}
			state = META;
			if (!(v = keyword(p, ll, "meta")) ||
			    !(eq = memchr(v, '=', (size_t)(nl - v))) ||
			    !key_ok(v, (size_t)(eq - v)) || !text_ok(v, (size_t)(nl - v))) {
				why = "bad meta line";
				goto bad;
			}
			ALLOC_GROW(s->meta, s->nr_meta + 1, s->alloc_meta);
			s->meta[s->nr_meta++] = xstrndup(v, (size_t)(nl - v));
		}
		p = nl + 1;
	}
	s->message = xstrndup(p, (size_t)(end - p));
	return 0;
bad:
	snapshot_release(s);
	return snap_error(err, SNAP_EINVAL, "malformed snapshot: line %zu: %s",
			  lineno, why);
}

int snapshot_check_link(struct odb *odb, const struct snap_oid *oid,
			enum object_type want, const char *name, struct strbuf *err)
{
	struct strbuf buf = STRBUF_INIT;
	struct snapshot s = SNAPSHOT_INIT;
	struct tree t = TREE_INIT;
	enum object_type type;
	uint64_t size;
	int ret;

	ret = odb_read_header(odb, oid, &type, &size, err);
	if (ret < 0)
		return ret;
	if (type != want)
		return snap_error(err, SNAP_EINVAL, "'%s' is a %s, not a %s", name,
				  type_name(type), type_name(want));
	ret = odb_read(odb, oid, NULL, &buf,
		       want == OBJ_TREE ? TREE_MAX_SIZE : SNAPSHOT_MAX_SIZE, err);
	if (ret == 0 && want == OBJ_TREE)
		ret = tree_parse(&t, buf.buf, buf.len, err);
	else if (ret == 0)
		ret = snapshot_parse(&s, buf.buf, buf.len, err);
	if (ret < 0)
		strbuf_addf(err, " (%s '%s')", type_name(want), oid_to_hex(oid));
	tree_release(&t);
	snapshot_release(&s);
	strbuf_release(&buf);
	return ret;
}

int snapshot_read(struct odb *odb, const struct snap_oid *oid, struct snapshot *s,
		  struct strbuf *err)
{
	struct strbuf buf = STRBUF_INIT;
	enum object_type type;
	int ret;

	ret = odb_read(odb, oid, &type, &buf, SNAPSHOT_MAX_SIZE, err);
	if (ret == SNAP_ETOOBIG || (ret == 0 && type != OBJ_SNAPSHOT)) {
		strbuf_reset(err);
		ret = snap_error(err, SNAP_EINVAL, "object '%s' is not a snapshot",
				 oid_to_hex(oid));
	}
	if (ret == 0)
		ret = snapshot_parse(s, buf.buf, buf.len, err);
	strbuf_release(&buf);
	return ret;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static int digits(const char *s, int n, int *out)
{
	int i, v = 0;

	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

int parse_time(const char *s, int64_t *t, int *tz, struct strbuf *err)
{
	int y, mo, d, h = 0, mi = 0, sec = 0, zh, zm;
	const char *p;

	*tz = 0;
	if (*s == '@')
		s++;
	p = s + (*s == '-');
	if (isdigit((unsigned char)*p) &&
	    (strspn(p, "0123456789") == strlen(p) || p[strspn(p, "0123456789")] == ' ')) {
		char num[24];
		size_t n = strspn(p, "0123456789");
		uint64_t u;

		if (n > 20)
			goto bad;
		memcpy(num, p, n);
		num[n] = '\0';
		if (parse_u64(num, &u) < 0 || u >= (uint64_t)SNAPSHOT_TIME_LIMIT)
			goto bad;
		*t = *s == '-' ? -(int64_t)u : (int64_t)u;
		p += n;
		if (*p == ' ') {
			p++;
			if ((*p != '+' && *p != '-') || strlen(p) != 5 ||
			    digits(p + 1, 2, &zh) || digits(p + 3, 2, &zm) || zh > 23 || zm > 59)
				goto bad;
			*tz = (*p == '-' ? -1 : 1) * (zh * 60 + zm);
		}
		return 0;
	}
	/* YYYY-MM-DD[(T| )HH:MM[:SS]][Z|+-HH:MM] */
	if (strlen(s) < 10 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) ||
	    s[7] != '-' || digits(s + 8, 2, &d) || mo < 1 || mo > 12 || d < 1 || d > 31)
		goto bad;
	{
		static const int mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
		int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

		if (d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap))
			goto bad;	/* 2026-02-30 is no day */
	}
	p = s + 10;
	/* YYYY-MM-DD_HH-MM-SS[-ffffff]: the form of file names made from
	 * times; the fraction of a second is dropped. */
	if (*p == '_') {
		if (digits(p + 1, 2, &h) || p[3] != '-' || digits(p + 4, 2, &mi) ||
		    p[6] != '-' || digits(p + 7, 2, &sec) || h > 23 || mi > 59 || sec > 60)
			goto bad;
		p += 9;
		if (*p == '-' && p[1] && strspn(p + 1, "0123456789") == strlen(p + 1) &&
		    strlen(p + 1) <= 9)
			p += strlen(p);
		if (*p)
			goto bad;
		goto done;
	}
	if (*p == 'T' || *p == ' ') {
		if (digits(p + 1, 2, &h) || p[3] != ':' || digits(p + 4, 2, &mi) ||
		    h > 23 || mi > 59)
			goto bad;
		p += 6;
		if (*p == ':') {
			if (digits(p + 1, 2, &sec) || sec > 60)
				goto bad;
			p += 3;
		}
	}
	if (*p == 'Z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		if (digits(p + 1, 2, &zh) || p[3] != ':' || digits(p + 4, 2, &zm) ||
		    zh > 23 || zm > 59)
			goto bad;
		*tz = (*p == '-' ? -1 : 1) * (zh * 60 + zm);
		p += 6;
	}
	if (*p)
		goto bad;
done:
	*t = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 +
	     h * 3600 + mi * 60 + sec - (int64_t)*tz * 60;
	return 0;
bad:
	return snap_error(err, SNAP_EINVAL,
			  "bad time '%s' (want SECONDS [+hhmm], @SECONDS, YYYY-MM-DD[THH:MM[:SS]][Z|+HH:MM] or YYYY-MM-DD_HH-MM-SS[-FRACTION])",
			  s);
}

int snapshot_set_origin(struct snapshot *s, const char *time_arg, const char *host_arg,
			enum snapshot_origin dflt, struct strbuf *err)
{
	char name[256];

	if (!time_arg || !*time_arg)
		time_arg = getenv("SNAP_TIME");
	if (time_arg && *time_arg) {
		int ret = parse_time(time_arg, &s->time, &s->tz, err);
		if (ret < 0)
			return ret;
	} else if (dflt == SNAPSHOT_ORIGIN_NOW) {
		s->time = (int64_t)time(NULL);
		s->tz = local_tz(s->time);
	} else {
		s->time = 0;
		s->tz = 0;
	}
	if (!host_arg || !*host_arg)
		host_arg = getenv("SNAP_HOST");
	if ((!host_arg || !*host_arg) && dflt == SNAPSHOT_ORIGIN_NOW) {
		memset(name, 0, sizeof(name));
		if (gethostname(name, sizeof(name) - 1) < 0)
			return snap_error(err, SNAP_EIO, "cannot get the host name: %s",
					  strerror(errno));
		host_arg = name;
	}
	free(s->host);
	s->host = xstrdup(host_arg && *host_arg ? host_arg : "-");
	return 0;
}

int local_tz(int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!localtime_r(&tt, &tm))
		return 0;
	return (int)(tm.tm_gmtoff / 60);
}

void format_time(struct strbuf *out, int64_t t, int tz)
{
	time_t tt = (time_t)(t + (int64_t)tz * 60);
	struct tm tm;

	if (!gmtime_r(&tt, &tm)) {
		strbuf_addf(out, "@%lld", (long long)t);
		return;
	}
	strbuf_addf(out, "%04d-%02d-%02d %02d:%02d:%02d ", tm.tm_year + 1900,
		    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	add_tz(out, tz);
}
