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
#include "oidset.h"
#include "refs.h"
#include "snapshot.h"
#include "strbuf.h"

struct pruned;

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

/*
 * A ref's history as prune sees it: newest first along first parents,
 * passing over what the pruned record lists (pruned.h).  bundles is set
 * when some snapshot lists sync bundles (such a chain is never pruned).
 */
struct prune_chain {
	struct snap_oid *ids;
	struct snapshot **snaps;
	size_t nr, alloc, alloc2;
	int bundles;
};

/*
 * Reads the chain from tip into c (empty, zeroed).  A snapshot that cannot
 * be read is snapshot_read()'s code and message; c then holds what was
 * read before it, for prune_chain_release().
 */
int prune_chain_read(struct odb *odb, const struct pruned *pruned, const struct snap_oid *tip,
		     struct prune_chain *c, struct strbuf *err);
void prune_chain_release(struct prune_chain *c);

/*
 * What pruning one ref must leave alone, each id with the first ref (by
 * name) that keeps it, for messages: refs.v[ref] names it itself (named)
 * or has it in its history.
 */
struct prune_keeper {
	struct snap_oid oid;
	size_t ref;
	int named;
};
struct prune_protect {
	struct oidmap map;		/* struct prune_keeper */
	struct ref_names refs;
};
#define PRUNE_PROTECT_INIT { OIDMAP_INIT(struct prune_keeper), REF_NAMES_INIT }
void prune_protect_release(struct prune_protect *p);

/*
 * What pruning the ref self must leave alone, added to set: every snapshot
 * another ref names, and the whole history of every other ref under
 * refs/snapshots/ (all parents, through the pruned record), so that
 * pruning one branch never takes a snapshot out of another's history.  A
 * tag keeps only what it names.  An unreadable ref is SNAP_ECORRUPT "ref
 * '<name>' is unreadable; nothing was pruned (see snap-fsck)"; an
 * unreadable snapshot, snapshot_read()'s code.
 */
int prune_protected(struct odb *odb, const struct pruned *pruned, const char *self,
		    struct prune_protect *set, struct strbuf *err);

/* A snapshot given to --drop: the REV as given and what it names. */
struct prune_drop {
	const char *rev;
	struct snap_oid oid;
};

/*
 * The plan for one ref: keep[i] for each snapshot of c (as prune_decide
 * sets it), from policy, or with nr_drops > 0 (--drop) exactly the
 * snapshots drops name, each checked in turn (SNAP_EINVAL, one line, at
 * the first that fails): on c ("--drop 'REV': <id> is not on the
 * first-parent history of '<ref>'"), not the tip ("'<ref>' names <id>:
 * the tip of a ref is not dropped"), not kept by another ref ("--drop
 * 'REV': <id> is named by another ref, '<name>': it is not dropped", or
 * "is in the history of another ref, '<name>': ...").  Then
 * PRUNE_REASON_REF for every snapshot in protect, and PRUNE_REASON_TIP for
 * a tip no policy kept: the ref never moves.  A chain holding sync bundles
 * is SNAP_EINVAL "ref '<ref>' holds sync bundles; prune keeps every
 * snapshot of a bundle chain".
 */
int prune_plan(const struct prune_policy *policy, const struct prune_drop *drops,
	       size_t nr_drops, const struct prune_chain *c,
	       const struct prune_protect *protect, const char *ref, unsigned *keep,
	       struct strbuf *err);

#endif
