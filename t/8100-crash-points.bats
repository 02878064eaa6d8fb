#!/usr/bin/env bats
# 8: robustness — every crash point of the commands that change a store
#
# t/crash-points.sh counts a command's store-mutating calls, then kills
# it or fails it at each one and checks the store (fsck, refs old or new,
# byte-identical restores, the next run, gc of the leftovers).  make check
# runs a sample: a smaller tree, every 7th call, one action per call in
# turn.  SNAP_CRASH_FULL=1 (make stress) runs every call with every
# action on a 1,000-file tree.

load test_helper

sweep() {
	local args
	if [ -n "${SNAP_CRASH_FULL:-}" ]; then
		args=(-n 1000 -s 1)
	else
		args=(-n "${SNAP_CRASH_FILES:-120}" -s 7 -r)
	fi
	run -0 --separate-stderr "$BATS_TEST_DIRNAME/crash-points.sh" "${args[@]}" -w "$BATS_TEST_TMPDIR/work" "$@"
	# The summary lines are the figures to quote.
	echo "$output" >&3
	[ -z "$stderr" ] || { echo "$stderr"; false; }
	assert_output --regexp '^crash-points: .*, 0 failures'
}

@test "snapshot of a tree: every crash point and failed call leaves a sound store" {
	sweep -x ref-lock snapshot
}

@test "update-ref --stdin with several refs: every crash point and failed call is all or nothing" {
	skip "known defect: a failed reflog or ref write in update-ref --stdin leaves the transaction half applied"
	sweep update-ref
}

@test "gc with repack: every crash point and failed call leaves a sound store" {
	skip "known defect: the gc after a failed repack deletes the pack it writes again, byte-identical to the leftover"
	sweep gc
}

@test "bundle-import: every crash point and failed call leaves a sound store" {
	sweep -x ref-lock bundle-import
}

@test "prune: every crash point and failed call leaves a sound store" {
	sweep -x ref-lock prune
}

# The defects the sweeps set aside or skip, each at the one call that shows it.

@test "a ref lock left by a killed update-ref does not block the next one" {
	skip "known defect: a killed update-ref leaves REF.lock and the next update of REF is refused"
	init_store
	mkdir src
	printf 1 > src/f
	a=$(snap-snapshot src)
	printf 2 > src/f
	b=$(snap-mksnapshot -p "$a" "$(snap-write-tree src)")
	SNAP_FAULT='fsync@refs/snapshots/main.lock:1:kill' run -137 snap-update-ref main "$b" "$a"
	run -0 snap-update-ref main "$b" "$a"
	assert_equal "$(snap-rev-parse main)" "$b"
}

@test "update-ref --stdin that fails on its second ref's reflog moves no ref" {
	skip "known defect: a failed reflog or ref write in update-ref --stdin leaves the transaction half applied"
	init_store
	mkdir src
	printf 1 > src/f
	t=$(snap-write-tree src)
	a=$(snap-mksnapshot --time 1 "$t")
	b=$(snap-mksnapshot --time 2 "$t")
	snap-update-ref refs/snapshots/x "$a"
	snap-update-ref refs/snapshots/y "$a"
	before=$(snap-for-each-ref)
	printf 'update refs/snapshots/x %s %s\nupdate refs/snapshots/y %s %s\n' "$b" "$a" "$b" "$a" > cmds
	SNAP_FAULT='write@logs/refs/snapshots/y:1:EIO' run -128 --separate-stderr snap-update-ref --stdin < cmds
	assert_equal "$stderr" "snap-update-ref: fatal: cannot write reflog '$SNAP_DIR/logs/refs/snapshots/y': Input/output error"
	assert_equal "$(snap-for-each-ref)" "$before"
}

@test "the gc after a gc that failed once its new pack was in place keeps every object" {
	skip "known defect: the gc after a failed repack deletes the pack it writes again, byte-identical to the leftover"
	init_store
	mkdir src
	for i in 1 2 3; do printf "$i" > "src/f$i"; snap-snapshot src >/dev/null; done
	age_objects
	SNAP_FAULT='fsync@objects/pack:1:EIO' run -128 --separate-stderr snap-gc --prune=now
	assert_equal "$stderr" "snap-gc: fatal: cannot sync '$SNAP_DIR/objects/pack': Input/output error"
	run -0 snap-gc --prune=now
	run -0 snap-fsck --no-dangling
	assert_output ''
	snap-restore main out
	diff -r src out
}

@test "a reflog append cut short by a full disk does not spoil the next entry" {
	skip "known defect: a short write to a reflog leaves a torn line that the next append joins, and gc then refuses the store"
	init_store
	mkdir src
	printf 1 > src/f
	snap-snapshot src >/dev/null
	printf 2 > src/f
	SNAP_FAULT='write@logs/refs/snapshots/main:1:short' run -128 --separate-stderr snap-snapshot src
	assert_equal "$stderr" "snap-update-ref: fatal: cannot write reflog '$SNAP_DIR/logs/refs/snapshots/main': No space left on device"
	run -0 snap-snapshot src
	run -0 snap-fsck --no-dangling
	assert_output ''
	run -0 snap-gc --prune=now
}

@test "a gc killed before it wrote its lock's content does not block the next gc" {
	skip "known defect: a gc killed between creating gc.lock and writing it leaves an empty lock that every later gc refuses"
	init_store
	mkdir src
	printf 1 > src/f
	snap-snapshot src >/dev/null
	SNAP_FAULT='write@gc.lock:1:kill' run -137 snap-gc --prune=now
	run -0 snap-gc --prune=now
	assert_file_not_exist "$SNAP_DIR/gc.lock"
}
