#!/usr/bin/env bats
# 8: robustness — a power cut at any sync boundary of a snapshot or a gc
# leaves a store that snap-fsck accepts, every ref at its old or its new
# value, and every earlier snapshot restoring byte-identical.
#
# t/powerloss.py does the work (docs/RELIABILITY.md, "Power loss").  Here
# every second sync boundary is tried (the first and the last always);
# SNAP_POWERLOSS_ALL=1 tries every one, with more states per boundary.

load test_helper

# powerloss STATUS SCENARIO: runs the check of one scenario.
powerloss() {
	local every=2
	[ "${SNAP_POWERLOSS_ALL:-}" != 1 ] || every=1
	run "-$1" --separate-stderr env TMPDIR="$BATS_TEST_TMPDIR" \
		python3 "$BATS_TEST_DIRNAME/powerloss.py" --every "$every" "$2"
}

# sound SCENARIO: no state of it is bad.
sound() {
	powerloss 0 "$1"
	assert_equal "$stderr" ""
	assert_line --index 0 --regexp "^power-loss: $1 [0-9]+ boundaries, [0-9]+ states, 0 bad$"
	refute_line --partial "bad:"
	# The sync calls were found and stopped at: at least three
	# boundaries (one after exit) and more states than boundaries.
	[[ "${lines[0]}" =~ ([0-9]+)\ boundaries,\ ([0-9]+)\ states ]]
	[ "${BASH_REMATCH[1]}" -ge 3 ]
	[ "${BASH_REMATCH[2]}" -gt "${BASH_REMATCH[1]}" ]
}

@test "power loss: the check finds a ref renamed into place before its data is synced" {
	powerloss 1 selftest-unsynced-ref
	assert_equal "$stderr" ""
	assert_line --index 0 --regexp '^power-loss: selftest-unsynced-ref [0-9]+ boundaries, [0-9]+ states, [1-9][0-9]* bad$'
	assert_line --regexp '^  bad: after exit, state data$'
	assert_line --regexp "^    problem: snap-fsck exit 4: error bad-ref refs/snapshots/main "
}

@test "power loss during a first snapshot leaves a sound store" {
	sound snapshot-first
}

@test "power loss during a snapshot that moves its ref leaves a sound store" {
	sound snapshot-second
}

@test "power loss during gc --prune=now with repack leaves a sound store" {
	sound gc
}

@test "power loss during gc after a ref was deleted leaves a sound store" {
	sound gc-deleted-ref
}
