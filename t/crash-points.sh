#!/bin/bash
# crash-points.sh: stops a store-changing command at each of its calls in
# turn and checks that the store survives.
#
#   t/crash-points.sh [-n FILES] [-s STRIDE] [-r] [-a ACTIONS] [-k K]
#                     [-R TRIALS [-S SEED]] [-w DIR] SCENARIO...
#
# SCENARIO is snapshot, update-ref, gc, bundle-import or prune.  For each,
# the command runs once with SNAP_FAULT_LOG to count its store-mutating
# calls N (every process of the pipeline, lib/fsio.h), and then, for every
# k in 1..N (every STRIDE-th with -s, from 1), once per ACTION with
# SNAP_FAULT=seq:k:ACTION: "kill" (SIGKILL at call k), and the errors
# EIO ENOSPC EDQUOT EROFS EINTR and "short" (half a write, then ENOSPC).
# With -r each k gets one action only, the actions taken in turn (a
# sample that still meets every action).  After each trial:
#
#   * the command exited 0, 128 (one "fatal:" line) or was killed;
#   * snap-fsck is clean apart from dangling objects;
#   * the refs are all as before or all as after a clean run (a killed
#     transaction is all or nothing), and after 0 they are as after;
#   * the earlier snapshots restore byte for byte, modes included, and
#     the new one too when the ref moved;
#   * the command runs again cleanly (when the ref did not move);
#   * after aging every object, snap-gc --prune=now succeeds and leaves
#     no dangling object, temporary file, session or lock, and the
#     snapshots still restore.
#
# Prints one line per failure on stderr ("FAIL scenario k=K ACTION
# (op path): what broke"), and for each scenario a summary line:
#
#   crash-points: SCENARIO: N calls, P crash points tried, K kills, E errors injected, F failures, A set aside
#
# -R TRIALS: random kills instead of the sweep: each trial takes one of
# the scenarios and one of its calls at random (seed -S, default the
# process id; printed) and kills it there, with the same checks:
#
#   random-kill: T trials (gc G, snapshot S, ...), seed N, F failures
#
# -x DEFECT sets a known defect aside (see set_aside; the summary counts
# the trials that met it as "set aside"), so that the rest is still checked.
#
# -k K tries call K alone (to look at one failure; with -w the
# trial directory of the last action stays).
#
# Exit status: 0 when nothing failed, 1 otherwise.  -n sets the snapshot
# tree's size (default 1000 files).  -w keeps the work in DIR.
set -u

files=1000
stride=1
rotate=0
actions="kill EIO ENOSPC EDQUOT EROFS EINTR short"
work=
only=
known=
random=
seed=${SNAP_CRASH_SEED:-$$}
while getopts n:s:ra:w:k:R:S:x: opt; do
	case $opt in
	n) files=$OPTARG ;;
	s) stride=$OPTARG ;;
	r) rotate=1 ;;
	a) actions=$OPTARG ;;
	w) work=$OPTARG ;;
	k) only=$OPTARG ;;
	x) known="$known $OPTARG" ;;
	R) random=$OPTARG ;;
	S) seed=$OPTARG ;;
	*) echo "usage: crash-points.sh [-n FILES] [-s STRIDE] [-r] [-a ACTIONS] [-k K] [-R TRIALS [-S SEED]] [-w DIR] SCENARIO..." >&2; exit 129 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || { echo "crash-points.sh: no scenario" >&2; exit 129; }

if [ -z "$work" ]; then
	work=$(mktemp -d "${TMPDIR:-/tmp}/crash-points.XXXXXX")
	trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work"
work=$(cd "$work" && pwd)
unset SNAP_FAULT SNAP_FAULT_LOG SNAP_SESSION
export TZ=UTC LC_ALL=C SNAP_HOST=crash SNAP_TIME="1700000000 +0000"

# ---- helpers ----

# Deterministic content of about N bytes.
content() {
	head -c "$1" /dev/zero | openssl enc -aes-128-ctr -nosalt -pass pass:"cp$2" 2>/dev/null
}

# A tree of N files in DIR: sizes from empty to 200 KiB, subdirectories,
# executables, a symlink, an empty directory, fixed mtimes.
make_tree() {
	local dir=$1 n=$2 seed=$3 i d
	mkdir -p "$dir/empty"
	for ((i = 1; i <= n; i++)); do
		d=$dir/d$((i % 17))/e$((i % 5))
		mkdir -p "$d"
		case $((i % 97)) in
		0) content 200000 "$seed.$i" > "$d/f$i" ;;
		1) : > "$d/f$i" ;;
		*) content $((i * 37 % 3000 + 1)) "$seed.$i" > "$d/f$i" ;;
		esac
		[ $((i % 11)) -ne 0 ] || chmod 755 "$d/f$i"
	done
	ln -sf d1/e1/f1 "$dir/link"
	find "$dir" -exec touch -h -d '2024-01-02 03:04:05' {} +
}

# Changes part of a tree made by make_tree: rewrites, additions, removals.
change_tree() {
	local dir=$1 n=$2 seed=$3 i
	for ((i = 3; i <= n; i += 10)); do
		content $((i * 53 % 4000 + 1)) "$seed.x$i" > "$dir/d$((i % 17))/e$((i % 5))/f$i"
	done
	for ((i = 1; i <= n / 20 + 1; i++)); do
		content $((i * 101)) "$seed.n$i" > "$dir/d$((i % 17))/new$seed.$i"
	done
	for ((i = 7; i <= n; i += 50)); do rm -f "$dir/d$((i % 17))/e$((i % 5))/f$i"; done
	find "$dir" -exec touch -h -d '2024-02-03 04:05:06' {} +
}

# What a restore must reproduce: paths, types, modes, sizes, link targets.
shape() {
	(cd "$1" && find . -mindepth 1 -printf '%P %y %m %s %T@ %l\n' | LC_ALL=C sort)
}

# restores REV DIR: the snapshot REV restores into a new directory that
# equals DIR byte for byte, modes included.
restores() {
	local out=$T/restore.$RANDOM
	snap-restore "$1" "$out" >/dev/null 2>"$T/restore.err" || { echo "restore of $1 failed: $(head -1 "$T/restore.err")"; return 1; }
	diff -r --no-dereference "$2" "$out" >/dev/null || { echo "restore of $1 differs from $2"; rm -rf "$out"; return 1; }
	[ "$(shape "$2")" = "$(shape "$out")" ] || { echo "restore of $1 has other modes than $2"; rm -rf "$out"; return 1; }
	rm -rf "$out"
}

# exports REV FILE: bundle-export of REV equals FILE.
exports() {
	snap-bundle-export --format jsonl "$1" > "$T/export" 2>"$T/export.err" ||
		{ echo "bundle-export of $1 failed: $(head -1 "$T/export.err")"; return 1; }
	cmp -s "$T/export" "$2" || { echo "bundle-export of $1 differs"; return 1; }
}

refs_now() {
	snap-for-each-ref | awk '{print $3, $1}'
}

# fsck_clean WHEN ALLOWED: snap-fsck finds nothing but lines matching
# the regex ALLOWED (the leftovers a failure may leave).
fsck_clean() {
	local rc=0
	snap-fsck > "$T/fsck.out" 2>&1 || rc=$?
	if [ "$rc" -ne 0 ] || grep -Eqv "$2" "$T/fsck.out"; then
		echo "fsck $1 (exit $rc): $(grep -Ev "$2" "$T/fsck.out" | sed "s|$SNAP_DIR/||g" | head -2 | tr '\n' ' ')"
		return 1
	fi
}
# What an interrupted command may leave: unreferenced objects, temporary
# files, locks of a killed process, a pack whose index never came.
LEFTOVERS='^(info dangling|warning (old-temp-file|lock-file|pack-without-index)) '
# After gc --prune=now: only the locks a killed process left (a ref lock
# is the one leftover gc does not take: checked apart below).
CLEAN_AFTER_GC='^warning lock-file '


# ---- scenarios ----
# Each has prep_X (builds $B: store, inputs, expected states), op_X (the
# command under test, run in the trial directory) and check_X OUTCOME
# (the restores that must hold when the refs are "old" or "new").

prep_snapshot() {
	make_tree "$B/v1" "$files" 1
	snap-snapshot -m first "$B/v1" >/dev/null
	cp -a "$B/v1" "$B/v2"
	change_tree "$B/v2" "$files" 2
}
op_snapshot() { snap-snapshot -m second "$B/v2"; }
check_snapshot() {
	if [ "$1" = old ]; then
		restores main "$B/v1"
	else
		restores main "$B/v2" && restores main~1 "$B/v1"
	fi
}

prep_update_ref() {
	local i t
	mkdir "$B/v1"
	for i in 8 7 6 5 4 3 2 1; do
		printf 'state %s\n' "$i" > "$B/v1/f"
		touch -d '2024-01-02 03:04:05' "$B/v1/f" "$B/v1"
		t=$(snap-write-tree "$B/v1")
		SNAP_TIME="$((1700000000 + i)) +0000" snap-mksnapshot -m "s$i" "$t" > "$B/s$i"
	done
	for r in a b c d; do snap-update-ref "refs/snapshots/$r" "$(cat "$B/s1")"; done
	snap-update-ref refs/tags/keep "$(cat "$B/s1")"
}
op_update_ref() {
	printf 'update refs/snapshots/a %s %s\nupdate refs/snapshots/b %s %s\nupdate refs/snapshots/c %s\ncreate refs/snapshots/e %s\ndelete refs/snapshots/d %s\n' \
		"$(cat "$B/s2")" "$(cat "$B/s1")" "$(cat "$B/s3")" "$(cat "$B/s1")" "$(cat "$B/s4")" \
		"$(cat "$B/s5")" "$(cat "$B/s1")" | snap-update-ref -m crash --stdin
}
check_update_ref() { restores refs/tags/keep "$B/v1"; }

prep_gc() {
	local i
	make_tree "$B/v1" $((files / 4 + 10)) 1
	snap-snapshot -m one "$B/v1" >/dev/null
	cp -a "$B/v1" "$B/v2"
	change_tree "$B/v2" $((files / 4 + 10)) 2
	snap-snapshot -m two "$B/v2" >/dev/null
	# Garbage: a dropped snapshot's pack, loose blobs, and an old temp file.
	cp -a "$B/v2" "$B/v3"
	change_tree "$B/v3" $((files / 4 + 10)) 3
	snap-snapshot -r scratch -m three "$B/v3" >/dev/null
	snap-update-ref -d refs/snapshots/scratch
	for i in 1 2 3 4 5 6; do printf 'garbage %s\n' "$i" | snap-hash-object -w --stdin >/dev/null; done
	find "$SNAP_DIR/objects" -type f -exec touch -d '-2 hours' {} +
}
op_gc() { snap-gc --prune=now; }
check_gc() { restores main "$B/v2" && restores main~1 "$B/v1"; }

prep_bundle_import() {
	seq 1 30 | awk '{ printf "{\"operations\":[{\"op\":\"insert\",\"row\":{\"id\":%d,\"v\":\"r%d\"}}],\"sequence\":%d}\n", $1, $1, $1 }' > "$B/in1"
	seq 31 50 | awk '{ printf "{\"operations\":[{\"op\":\"insert\",\"row\":{\"id\":%d,\"v\":\"r%d\"}}],\"sequence\":%d}\n", $1, $1, $1 }' > "$B/in2"
	snap-bundle-import -m first "$B/in1" >/dev/null
	snap-bundle-export --format jsonl bundles > "$B/export1"
	cat "$B/in1" "$B/in2" > "$B/both"
}
op_bundle_import() { snap-bundle-import -m second "$B/in2"; }
# The export of a clean run's new tip, for the "new" check.
clean_bundle_import() { snap-bundle-export --format jsonl bundles > "$B/export2"; }
check_bundle_import() {
	if [ "$1" = old ]; then
		exports bundles "$B/export1"
	else
		exports bundles~1 "$B/export1" && exports bundles "$B/export2"
	fi
}

prep_prune() {
	local i
	make_tree "$B/v0" $((files / 10 + 10)) 1
	for i in 1 2 3 4 5 6; do
		cp -a "$B/v$((i - 1))" "$B/v$i"
		change_tree "$B/v$i" $((files / 10 + 10)) "p$i"
		SNAP_TIME="$((1700000000 + i * 86400)) +0000" snap-snapshot -m "day $i" "$B/v$i" >/dev/null
	done
}
op_prune() { snap-prune --keep-last 3; }
# prune moves no ref: what it changes is the pruned record, whole or not
# at all: the three oldest are all there (and restore) or all pruned.
check_prune() {
	restores main "$B/v6" && restores main~1 "$B/v5" && restores main~2 "$B/v4" || return 1
	if snap-rev-parse --verify -q main~3 >/dev/null; then
		restores main~5 "$B/v1" || return 1
	elif [ "$(snap-rev-list main | wc -l)" -ne 3 ]; then
		echo "main~3 is pruned but the history is not the three kept"
		return 1
	fi
}

# ---- the sweep ----

# set_aside SPEC: a known defect named with -x is cleared out of the way
# (and counted in $T/known) so that the sweep goes on checking the rest;
# its own test shows it.  ref-lock: a killed command leaves its ref lock,
# and the next writer of that ref is refused.
set_aside() {
	case " $known " in
	*" ref-lock "*)
		if [ "${1##*:}" = kill ] && [ -n "$(find "$SNAP_DIR/refs" -name '*.lock' | head -1)" ]; then
			find "$SNAP_DIR/refs" -name '*.lock' -delete
			echo ref-lock >> "$T/known"
		fi ;;
	esac
}

# One trial in $T: a copy of the base store, then the command under
# SNAP_FAULT=$1 (empty: none).  Echoes what broke, returns 1 if anything did.
trial() {
	local spec=$1 rc=0 outcome msg
	rm -rf "$T"
	mkdir -p "$T"
	cp -a "$B/store" "$T/store"
	export SNAP_DIR=$T/store
	(cd "$T" && SNAP_FAULT_LOG=$T/log SNAP_FAULT=$spec "op_$sc" > "$T/out" 2> "$T/err") || rc=$?
	case $rc in
	0) ;;
	137) ;;
	# A porcelain script whose command was killed fails with the
	# shell's "Killed" for its message.
	128) [ "${spec##*:}" = kill ] || grep -q 'fatal: ' "$T/err" || { echo "exit 128 without a fatal message: $(head -1 "$T/err")"; return 1; } ;;
	*) echo "exit $rc: $(head -1 "$T/err")"; return 1 ;;
	esac
	fsck_clean "after the command" "$LEFTOVERS" || return 1
	refs_now > "$T/refs"
	if [ -z "$spec" ] && [ ! -e "$B/refs.new" ]; then
		[ "$rc" -eq 0 ] || { echo "the clean run failed (exit $rc): $(head -1 "$T/err")"; return 1; }
		cp "$T/refs" "$B/refs.new"
		! declare -F "clean_$sc" >/dev/null || "clean_$sc"
	fi
	# (For gc, old and new are the same refs: "new", and the gc that
	# follows is its next run.)
	if cmp -s "$T/refs" "$B/refs.new"; then
		outcome=new
	elif cmp -s "$T/refs" "$B/refs.old"; then
		outcome=old
	else
		echo "refs neither all old nor all new: $(diff "$B/refs.old" "$T/refs" | grep '^[<>]' | head -3 | tr '\n' ' ')"
		return 1
	fi
	[ "$rc" -ne 0 ] || [ "$outcome" = new ] || { echo "exit 0 but the refs did not move"; return 1; }
	# A success may warn (a stat cache it could not write), nothing more.
	if [ "$rc" -eq 0 ] && grep -qv ': warning: ' "$T/err"; then
		echo "exit 0 with stderr: $(grep -v ': warning: ' "$T/err" | head -1)"
		return 1
	fi
	set_aside "$spec" || return 1
	msg=$("check_$sc" "$outcome") || { echo "$outcome refs: $msg"; return 1; }
	if [ "$outcome" = old ]; then
		(cd "$T" && "op_$sc" > "$T/out2" 2> "$T/err2") || { echo "the next run failed: $(head -1 "$T/err2")"; return 1; }
		cmp -s <(refs_now) "$B/refs.new" || { echo "the next run left other refs than a clean run"; return 1; }
		outcome=new
	fi
	find "$SNAP_DIR" -type f -exec touch -d '-2 hours' {} +
	snap-gc --prune=now > "$T/gc.out" 2> "$T/gc.err" || { echo "gc after it failed: $(head -1 "$T/gc.err")"; return 1; }
	fsck_clean "after gc --prune=now" "$CLEAN_AFTER_GC" || return 1
	if [ -n "$(ls -A "$SNAP_DIR/objects/tmp" "$SNAP_DIR/sessions" 2>/dev/null | grep -v ':$' | grep -v '^$')" ]; then
		echo "gc --prune=now left temporary files or sessions: $(ls -A "$SNAP_DIR/objects/tmp" "$SNAP_DIR/sessions" | grep -v ':$' | head -2 | tr '\n' ' ')"
		return 1
	fi
	if [ -n "$(find "$SNAP_DIR" -name '*.lock' | head -1)" ]; then
		echo "lock files left: $(find "$SNAP_DIR" -name '*.lock' | head -2 | sed "s|$SNAP_DIR/||" | tr '\n' ' ')"
		return 1
	fi
	msg=$("check_$sc" new) || { echo "after gc: $msg"; return 1; }
}

# Builds each scenario's base store and makes its clean run: the calls
# it makes (base/calls) and the refs it leaves.
prepare() {
	sc=$1
	B=$work/$sc/base
	T=$work/$sc/trial
	rm -rf "$work/$sc"
	mkdir -p "$B"
	snap-init -q "$B/store"
	export SNAP_DIR=$B/store
	"prep_$sc" || { echo "crash-points.sh: $sc: preparing failed" >&2; exit 1; }
	refs_now > "$B/refs.old"
	if ! msg=$(trial ""); then
		echo "FAIL ${sc//_/-} clean run: $msg" >&2
		return 1
	fi
	cp "$T/log" "$B/calls"
}

# A call's line of base/calls, without the trial's store path.
call_at() {
	local c
	c=$(sed -n "$1p" "$B/calls" | cut -d' ' -f2-)
	echo "${c//$T\/store\//}"
}

total_fail=0
scenarios=
for sc in "$@"; do
	sc=${sc//-/_}
	declare -F "op_$sc" >/dev/null || { echo "crash-points.sh: unknown scenario '$sc'" >&2; exit 129; }
	if prepare "$sc"; then
		scenarios="$scenarios $sc"
	else
		total_fail=$((total_fail + 1))
	fi
done

if [ -n "$random" ]; then
	# Random kills: each trial a scenario and a call at random.
	set -- $scenarios
	[ $# -gt 0 ] || exit 1
	RANDOM=$seed
	fails=0 counts= aside=0
	for ((t = 1; t <= random; t++)); do
		sc=$(echo $scenarios | tr ' ' '\n' | sed -n "$((RANDOM % $# + 1))p")
		B=$work/$sc/base
		T=$work/$sc/trial
		n=$(wc -l < "$B/calls")
		k=$((RANDOM % n + 1))
		counts="$counts $sc"
		if ! msg=$(trial "seq:$k:kill"); then
			fails=$((fails + 1))
			echo "FAIL ${sc//_/-} k=$k kill ($(call_at "$k")): $msg" >&2
		fi
		[ ! -e "$T/known" ] || aside=$((aside + 1))
	done
	per=$(echo $counts | tr ' ' '\n' | sort | uniq -c | awk '{ sep = NR > 1 ? ", " : ""; printf "%s%s %d", sep, $2, $1 }' | tr _ -)
	echo "random-kill: $random trials ($per), seed $seed, $fails failures, $aside set aside"
	[ "$fails" -eq 0 ] && [ "$total_fail" -eq 0 ]
	exit
fi

for sc in $scenarios; do
	B=$work/$sc/base
	T=$work/$sc/trial
	n=$(wc -l < "$B/calls")
	fails=0 tried=0 kills=0 errors=0 i=0 aside=0
	set -- $actions
	nact=$#
	for ((k = 1; k <= n; k += stride)); do
		[ -z "$only" ] || [ "$k" = "$only" ] || continue
		tried=$((tried + 1))
		call=$(call_at "$k")
		j=0
		for act in $actions; do
			j=$((j + 1))
			if [ "$rotate" = 1 ] && [ $(((i % nact) + 1)) -ne "$j" ]; then continue; fi
			if [ "$act" = kill ]; then kills=$((kills + 1)); else errors=$((errors + 1)); fi
			if ! msg=$(trial "seq:$k:$act"); then
				fails=$((fails + 1))
				echo "FAIL ${sc//_/-} k=$k $act ($call): $msg" >&2
			fi
			[ ! -e "$T/known" ] || aside=$((aside + 1))
		done
		i=$((i + 1))
	done
	echo "crash-points: ${sc//_/-}: $n calls, $tried crash points tried, $kills kills, $errors errors injected, $fails failures, $aside set aside"
	total_fail=$((total_fail + fails))
done
[ "$total_fail" -eq 0 ]
