/*
 * snap-fsck: checks that a store is sound (lib/fsck.h, docs/snap-fsck.md).
 */
#include "error.h"
#include "fsck.h"
#include "odb.h"
#include "progress.h"
#include "store.h"
#include "usage.h"
#include "util.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char usage_str[] =
"usage: snap-fsck [--connectivity-only | --read-data-subset=K/N|P%] [--unreachable]\n"
"                 [--no-dangling] [--json] [--progress] [-q] [-j N] [OBJECT...]\n"
"\n"
"Checks every object, pack, ref and reflog of the store; with OBJECTs,\n"
"only those and what they reach.  One finding a line:\n"
"  <severity> <check-id> <object-or-ref> <detail>\n"
"\n"
"  --connectivity-only  do not read blob contents (trees and snapshots are\n"
"                       still read, verified and parsed)\n"
"  --read-data-subset=K/N  read the content of the K-th of N parts of the\n"
"                       blobs only (N runs with K = 1..N read all once)\n"
"  --read-data-subset=P%   read a random P percent of the blobs only\n"
"  --unreachable        list every unreachable object (not only dangling)\n"
"  --no-dangling        do not list dangling objects\n"
"  --json               one JSON object a line\n"
"  --progress           progress on standard error (default: when a tty)\n"
"  -q, --quiet          no progress\n"
"  -j, --jobs N         verifying threads (default: one per processor)\n"
"  --store DIR          the store (default $SNAP_DIR, else .snap above)\n"
"\n"
"Exit status: 0 when sound; else the sum of 1 (corrupt object), 2 (missing\n"
"or wrong-type object), 4 (bad ref or reflog), 8 (bad pack); 128 on a fatal\n"
"error.\n";

static int json;

static void report(const struct fsck_finding *f, void *data)
{
	(void)data;
	if (json) {
		json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "severity",
				      fsck_severity_name(f->severity), "check", f->check,
				      "object", f->subject, "detail", f->detail);
		char *s = o ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;

		if (!s)
			die("cannot encode a finding as JSON");
		printf("%s\n", s);
		free(s);
		json_decref(o);
	} else {
		printf("%s %s %s %s\n", fsck_severity_name(f->severity), f->check,
		       f->subject, f->detail);
	}
}

/* The object check's progress line (progress.h); the walk before it has none. */
static struct progress *meter;

static void progress(const char *phase, uint64_t done, uint64_t total, void *data)
{
	(void)data;
	if (strcmp(phase, "checking objects"))
		return;
	if (!meter)
		meter = progress_start("objects", total);
	progress_update(meter, done, 0);
}

/* K/N (1 <= K <= N <= 1000000) or P% (0 < P <= 100, up to 4 decimals). */
static void parse_subset(const char *arg, struct fsck_opts *fo)
{
	const char *slash = strchr(arg, '/');
	size_t len = strlen(arg);
	uint64_t k, n, whole, frac = 0, scale = 10000;
	char *tmp;

	if (slash) {
		tmp = xstrndup(arg, (size_t)(slash - arg));
		if (parse_u64(tmp, &k) < 0 || parse_u64(slash + 1, &n) < 0 ||
		    k < 1 || n > 1000000 || k > n)
			usage_error(usage_str, "bad --read-data-subset '%s' (K/N with 1 <= K <= N <= 1000000)", arg);
		free(tmp);
		fo->subset_k = (uint32_t)k;
		fo->subset_n = (uint32_t)n;
		return;
	}
	if (len < 2 || arg[len - 1] != '%')
		goto bad;
	tmp = xstrndup(arg, len - 1);
	{
		char *dot = strchr(tmp, '.');
		if (dot) {
			size_t d = strlen(dot + 1);
			*dot = '\0';
			if (d < 1 || d > 4 || parse_u64(dot + 1, &frac) < 0)
				goto bad_free;
			while (d++ < 4)
				frac *= 10;
		}
		if (parse_u64(tmp, &whole) < 0 || whole > 100)
			goto bad_free;
	}
	free(tmp);
	whole = whole * scale + frac;	/* in ten-thousandths of a percent */
	if (whole == 0 || whole > 100 * scale)
		goto bad;
	fo->subset_ppm = (uint32_t)whole;
	fo->subset_salt = (uint64_t)time(NULL) * 0x2545f4914f6cdd1dULL ^ (uint64_t)getpid();
	return;
bad_free:
	free(tmp);
bad:
	usage_error(usage_str, "bad --read-data-subset '%s' (K/N, or P%% with 0 < P <= 100)", arg);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "connectivity-only", no_argument, NULL, 'c' },
		{ "read-data-subset", required_argument, NULL, 'R' },
		{ "unreachable", no_argument, NULL, 'u' },
		{ "no-dangling", no_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'J' },
		{ "progress", no_argument, NULL, 'P' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "jobs", required_argument, NULL, 'j' },
		{ "store", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct fsck_opts fo = { 0 };
	struct strbuf err = STRBUF_INIT;
	struct snap_store store;
	struct odb *odb;
	const char *dir = NULL;
	int c, bits;
	uint64_t v;

	usage_setup(argv[0]);
	while ((c = getopt_long(argc, argv, "j:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'c': fo.connectivity_only = 1; break;
		case 'R':
			if (fo.subset_n || fo.subset_ppm)
				usage_error(usage_str, "--read-data-subset given twice");
			parse_subset(optarg, &fo);
			break;
		case 'u': fo.unreachable = 1; break;
		case 'n': fo.no_dangling = 1; break;
		case 'J': json = 1; break;
		case 'P':
			if (!getenv("SNAP_PROGRESS") || strcmp(getenv("SNAP_PROGRESS"), "0"))
				setenv("SNAP_PROGRESS", "1", 1);
			break;
		case 'q': setenv("SNAP_PROGRESS", "0", 1); break;
		case 'j':
			if (parse_u64(optarg, &v) < 0 || v < 1 || v > 64)
				usage_error(usage_str, "-j takes 1 to 64, not '%s'", optarg);
			fo.jobs = (int)v;
			break;
		case 'S': dir = optarg; break;
		case 'h': usage_help(usage_str);
		default: usage_error(usage_str, "bad option");
		}
	}
	if (fo.connectivity_only && (fo.subset_n || fo.subset_ppm))
		usage_error(usage_str, "--read-data-subset and --connectivity-only do not go together");
	if ((fo.subset_n || fo.subset_ppm) && optind < argc)
		usage_error(usage_str, "--read-data-subset is for the whole store, not with OBJECTs");
	fo.objects = (const char *const *)argv + optind;
	fo.nr_objects = (size_t)(argc - optind);
	fo.report = report;
	fo.progress = progress_wanted() ? progress : NULL;

	open_store_or_die(dir, &store, &odb);
	bits = fsck_store(odb, &fo, &err);
	if (bits < 0)
		die_err(&err);
	progress_done(meter);
	odb_close(odb);
	store_release(&store);
	return finish_stdout(bits);
}
