#include "prune.h"
#include "util.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

void prune_policy_init(struct prune_policy *p)
{
	int i;

	memset(p, 0, sizeof(*p));
	p->keep_last = -1;
	p->keep_within = -1;
	for (i = 0; i < PRUNE_NR_BUCKETS; i++)
		p->keep[i] = -1;
}

int prune_policy_empty(const struct prune_policy *p)
{
	int i;

	if (p->keep_last >= 0 || p->keep_within >= 0 || p->nr_tags)
		return 0;
	for (i = 0; i < PRUNE_NR_BUCKETS; i++)
		if (p->keep[i] >= 0)
			return 0;
	return 1;
}

/* The bucket of a snapshot's time, seen in its own zone. */
static int64_t bucket_of(const struct snapshot *s, enum prune_bucket b)
{
	time_t t = (time_t)(s->time + (int64_t)s->tz * 60);
	struct tm tm;

	if (!gmtime_r(&t, &tm))
		return 0;
	switch (b) {
	case PRUNE_HOURLY:
		return ((int64_t)(tm.tm_year) * 400 + tm.tm_yday) * 24 + tm.tm_hour;
	case PRUNE_DAILY:
		return (int64_t)tm.tm_year * 400 + tm.tm_yday;
	case PRUNE_WEEKLY: {
		char buf[16];
		int64_t y = 0, w = 0;
		/* ISO 8601 week-based year and week number. */
		strftime(buf, sizeof(buf), "%G %V", &tm);
		if (sscanf(buf, "%lld %lld", (long long *)&y, (long long *)&w) != 2)
			return 0;
		return y * 100 + w;
	}
	case PRUNE_MONTHLY:
		return (int64_t)tm.tm_year * 12 + tm.tm_mon;
	case PRUNE_YEARLY:
		return tm.tm_year;
	default:
		return 0;
	}
}

static int has_tag(const struct snapshot *s, const struct prune_policy *p)
{
	size_t i, j;

	for (i = 0; i < s->nr_meta; i++) {
		if (strncmp(s->meta[i], "tag=", 4))
			continue;
		for (j = 0; j < p->nr_tags; j++)
			if (!strcmp(s->meta[i] + 4, p->tags[j]))
				return 1;
	}
	return 0;
}

void prune_decide(const struct prune_policy *p, struct snapshot *const *chain,
		  size_t nr, unsigned *keep)
{
	int64_t last_bucket[PRUNE_NR_BUCKETS];
	int64_t count[PRUNE_NR_BUCKETS] = { 0 };
	size_t i;
	int b;

	for (b = 0; b < PRUNE_NR_BUCKETS; b++)
		last_bucket[b] = INT64_MIN;
	for (i = 0; i < nr; i++) {
		const struct snapshot *s = chain[i];

		keep[i] = 0;
		if (prune_policy_empty(p)) {
			keep[i] = PRUNE_REASON_LAST;
			continue;
		}
		if (p->keep_last >= 0 && (int64_t)i < p->keep_last)
			keep[i] |= PRUNE_REASON_LAST;
		for (b = 0; b < PRUNE_NR_BUCKETS; b++) {
			int64_t k;

			if (p->keep[b] < 0 || count[b] >= p->keep[b])
				continue;
			k = bucket_of(s, (enum prune_bucket)b);
			if (k == last_bucket[b])
				continue;
			last_bucket[b] = k;
			count[b]++;
			keep[i] |= PRUNE_REASON_HOURLY << b;
		}
		if (p->keep_within >= 0 && chain[0]->time - s->time <= p->keep_within)
			keep[i] |= PRUNE_REASON_WITHIN;
		if (p->nr_tags && has_tag(s, p))
			keep[i] |= PRUNE_REASON_TAG;
	}
}

void prune_reasons(struct strbuf *out, unsigned mask)
{
	static const char *const words[] = {
		"last", "hourly", "daily", "weekly", "monthly", "yearly", "within", "tag",
		"ref", "tip", "not-named",
	};
	size_t i;
	int first = 1;

	for (i = 0; i < ARRAY_SIZE(words); i++) {
		if (!(mask & (1u << i)))
			continue;
		if (!first)
			strbuf_addch(out, ',');
		strbuf_addstr(out, words[i]);
		first = 0;
	}
}
