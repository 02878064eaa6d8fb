#ifndef SNAP_PRUNE_H
#define SNAP_PRUNE_H

/*
 * Retention (snap-prune, docs/snap-prune.md): which snapshots of a chain
 * to keep, in the manner of restic's forget.  The dropped ones go into
 * the store's pruned record (pruned.h); no kept one changes.
 *
 * Policies look at the chain newest first.  keep_last keeps the N newest;
 * each bucket policy (hourly, daily, weekly, monthly, yearly) keeps the
 * newest snapshot of each of the N newest buckets that have one, a bucket
 * being the hour, day, ISO week, month or year of the snapshot's time in
 * its own recorded zone; keep_within keeps every snapshot not older than
 * the newest by more than the duration; keep_tag keeps snapshots with a
 * metadata line tag=TAG.  A snapshot is kept if any policy keeps it.  With
 * no policy at all nothing is dropped.
 */

#include <stdint.h>
#include "odb.h"
#include "snapshot.h"
#include "strbuf.h"

enum prune_bucket { PRUNE_HOURLY, PRUNE_DAILY, PRUNE_WEEKLY, PRUNE_MONTHLY,
		    PRUNE_YEARLY, PRUNE_NR_BUCKETS };

struct prune_policy {
	int64_t keep_last;			/* -1: not set */
	int64_t keep[PRUNE_NR_BUCKETS];		/* -1: not set */
	int64_t keep_within;			/* seconds; -1: not set */
	const char *const *tags;
	size_t nr_tags;
};

void prune_policy_init(struct prune_policy *p);
int prune_policy_empty(const struct prune_policy *p);

/*
 * Decides for chain[0..nr) (newest first) which to keep: keep[i] set to a
 * bit mask of the reasons (1 << PRUNE_REASON_*), 0 to drop.
 */
enum { PRUNE_REASON_LAST = 1, PRUNE_REASON_HOURLY = 2, PRUNE_REASON_DAILY = 4,
       PRUNE_REASON_WEEKLY = 8, PRUNE_REASON_MONTHLY = 16, PRUNE_REASON_YEARLY = 32,
       PRUNE_REASON_WITHIN = 64, PRUNE_REASON_TAG = 128,
       /* Set by the caller, not by prune_decide: another ref needs it;
	* the ref's tip, which no policy kept. */
       PRUNE_REASON_REF = 256, PRUNE_REASON_TIP = 512,
       /* Set by the caller: with --drop, every snapshot not named. */
       PRUNE_REASON_NOT_NAMED = 1024 };
void prune_decide(const struct prune_policy *p, struct snapshot *const *chain,
		  size_t nr, unsigned *keep);
/* Appends the reasons of a mask as words ("last,daily"). */
void prune_reasons(struct strbuf *out, unsigned mask);

#endif
