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
	sweep snapshot
}

@test "update-ref --stdin with several refs: every crash point and failed call is all or nothing" {
	sweep update-ref
}

@test "gc with repack: every crash point and failed call leaves a sound store" {
	sweep gc
}

@test "bundle-import: every crash point and failed call leaves a sound store" {
	sweep bundle-import
}

@test "prune: every crash point and failed call leaves a sound store" {
	sweep prune
}

# The defects the sweeps set aside or skip, each at the one call that shows it.

@test "a ref lock left by a killed update-ref does not block the next one" {
	init_store
	mkdir src
	printf 1 > src/f
	a=$(snap-snapshot src)
	printf 2 > src/f
	b=$(snap-mksnapshot -p "$a" "$(snap-write-tree src)")
	# Killed while it holds the lock, its new value not yet in place.
	SNAP_FAULT='fsync@refs/snapshots/.main.new:1:kill' run -137 snap-update-ref main "$b" "$a"
	assert_file_exist "$SNAP_DIR/refs/snapshots/main.lock"
	# The ref holds its old or its new value, and the next update of it
	# goes through: the dead holder's lock is taken over.
	cur=$(snap-rev-parse main)
	[ "$cur" = "$a" ] || [ "$cur" = "$b" ]
	printf 3 > src/f
	c=$(snap-mksnapshot -p "$cur" "$(snap-write-tree src)")
	run -0 snap-update-ref main "$c" "$cur"
	assert_equal "$(snap-rev-parse main)" "$c"
	assert_file_not_exist "$SNAP_DIR/refs/snapshots/main.lock"
}

@test "update-ref --stdin that fails on its second ref's reflog: the next ref command moves both" {
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
	[[ "$stderr" == "snap-update-ref: fatal: cannot write reflog '$SNAP_DIR/logs/refs/snapshots/y': Input/output error; the transaction in '$SNAP_DIR/journal/tx-"*"' is finished by the next ref command" ]]
	# The journal was durable before the first ref moved: all or nothing
	# is kept by rolling forward, so the next ref command finishes it.
	run -0 snap-rev-parse refs/snapshots/x
	assert_output "$b"
	run -0 snap-rev-parse refs/snapshots/y
	assert_output "$b"
	assert_equal "$(tail -n1 "$SNAP_DIR/logs/refs/snapshots/y" | cut -d' ' -f1,2)" "$a $b"
}

@test "the gc after a gc that failed once its new pack was in place keeps every object" {
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
	init_store
	mkdir src
	printf 1 > src/f
	snap-snapshot src >/dev/null
	printf 2 > src/f
	SNAP_FAULT='write@logs/refs/snapshots/main:1:short' run -128 --separate-stderr snap-snapshot src
	assert_equal "${stderr%%; the transaction in *}" "snap-snapshot: fatal: cannot write reflog '$SNAP_DIR/logs/refs/snapshots/main': No space left on device"
	# The half line was taken back at once.
	run -0 tail -c 1 "$SNAP_DIR/logs/refs/snapshots/main"
	assert_output ''
	printf 3 > src/f
	run -0 snap-snapshot src
	run -0 snap-fsck --no-dangling
	assert_output ''
	run -0 snap-gc --prune=now
}

@test "a torn reflog line that was never taken back is cut before the next append" {
	init_store
	mkdir src
	printf 1 > src/f
	snap-snapshot src >/dev/null
	# What a crash between the half write and its repair leaves.
	printf '0000000000' >> "$SNAP_DIR/logs/refs/snapshots/main"
	printf 2 > src/f
	run -0 snap-snapshot src
	run -0 wc -l < "$SNAP_DIR/logs/refs/snapshots/main"
	assert_output 2
	run -0 snap-fsck --no-dangling
	assert_output ''
	run -0 snap-gc --prune=now
}

@test "a failed cut of a torn reflog line fails the append and loses nothing" {
	init_store
	mkdir src
	printf 1 > src/f
	snap-snapshot src >/dev/null
	printf '0000000000' >> "$SNAP_DIR/logs/refs/snapshots/main"
	printf 2 > src/f
	SNAP_FAULT='truncate@logs/refs/snapshots/main:1:EIO' run -128 --separate-stderr snap-snapshot src
	assert_equal "${stderr%%; the transaction in *}" "snap-snapshot: fatal: cannot write reflog '$SNAP_DIR/logs/refs/snapshots/main': Input/output error"
	# The journal finishes the failed move's line, then the new one.
	run -0 snap-snapshot src
	run -0 wc -l < "$SNAP_DIR/logs/refs/snapshots/main"
	assert_output 3
	run -0 snap-fsck --no-dangling
	assert_output ''
}

@test "a gc killed before it wrote its lock's content does not block the next gc" {
	init_store
	mkdir src
	printf 1 > src/f
	snap-snapshot src >/dev/null
	SNAP_FAULT='write@gc.lock:1:kill' run -137 snap-gc --prune=now
	# A young empty lock may be a gc that is just starting: it is
	# respected; once 10 seconds old it is taken over.
	run -128 snap-gc --prune=now
	touch -d '-1 minute' "$SNAP_DIR/gc.lock"
	run -0 snap-gc --prune=now
	assert_file_not_exist "$SNAP_DIR/gc.lock"
}
