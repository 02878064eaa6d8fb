#include "progress.h"
#include "strbuf.h"
#include "util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct progress {
	char *what;
	uint64_t total, count, bytes;
	struct timespec start, last;
	size_t drawn;		/* the length of the line on screen */
};

int progress_wanted(void)
{
	const char *env = getenv("SNAP_PROGRESS");

	if (env && !strcmp(env, "1"))
		return 1;
	if (env && !strcmp(env, "0"))
		return 0;
	return isatty(2);
}

static double since(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

struct progress *progress_start(const char *what, uint64_t total)
{
	struct progress *p;

	if (!progress_wanted())
		return NULL;
	p = xcalloc(1, sizeof(*p));
	p->what = xstrdup(what);
	p->total = total;
	clock_gettime(CLOCK_MONOTONIC, &p->start);
	p->last.tv_sec = p->start.tv_sec - 1;	/* the first update draws */
	p->last.tv_nsec = p->start.tv_nsec;
	return p;
}

static void add_bytes(struct strbuf *sb, double b)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	size_t u = 0;

	while (b >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		b /= 1024;
		u++;
	}
	strbuf_addf(sb, u ? "%.1f %s" : "%.0f %s", b, units[u]);
}

static void draw(struct progress *p, const struct timespec *now, int final)
{
	struct strbuf line = STRBUF_INIT;
	double secs = since(&p->start, now);
	size_t len;

	strbuf_addf(&line, "\r%s: %s %" PRIu64, snap_progname, p->what, p->count);
	if (p->total)
		strbuf_addf(&line, "/%" PRIu64 " (%u%%)", p->total,
			    (unsigned)(p->count >= p->total ? 100 : p->count * 100 / p->total));
	if (p->bytes) {
		strbuf_addstr(&line, ", ");
		add_bytes(&line, (double)p->bytes);
		if (secs > 0.5) {
			strbuf_addstr(&line, ", ");
			add_bytes(&line, (double)p->bytes / secs);
			strbuf_addstr(&line, "/s");
		}
	}
	if (!final && p->total && p->count && p->count < p->total && secs > 1)
		strbuf_addf(&line, ", ETA %.0f s",
			    secs * (double)(p->total - p->count) / (double)p->count);
	if (final)
		strbuf_addf(&line, ", done in %.1f s", secs);
	len = line.len - 1;
	/* Spaces over what a longer line left behind. */
	while (line.len - 1 < p->drawn)
		strbuf_addch(&line, ' ');
	if (final)
		strbuf_addch(&line, '\n');
	fwrite(line.buf, 1, line.len, stderr);
	fflush(stderr);
	p->drawn = final ? 0 : len;
	strbuf_release(&line);
}

void progress_update(struct progress *p, uint64_t count, uint64_t bytes)
{
	struct timespec now;

	if (!p)
		return;
	p->count = count;
	p->bytes = bytes;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (since(&p->last, &now) < 0.25)
		return;
	p->last = now;
	draw(p, &now, 0);
}

void progress_clear(struct progress *p)
{
	if (!p || !p->drawn)
		return;
	fprintf(stderr, "\r%*s\r", (int)p->drawn, "");
	fflush(stderr);
	p->drawn = 0;
	/* Drawn again at the next update, whatever the time. */
	p->last.tv_sec -= 1;
}

void progress_done(struct progress *p)
{
	struct timespec now;

	if (!p)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	draw(p, &now, 1);
	free(p->what);
	free(p);
}
