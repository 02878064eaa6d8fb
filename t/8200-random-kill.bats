#!/usr/bin/env bats
# 8: robustness — kill -9 at random moments of snapshot, gc and bundle-import
#
# Each trial kills one command at a call picked at random (the kill action
# of SNAP_FAULT, so the moment is exact and the seed replays it) and checks
# what t/crash-points.sh checks after every crash.  SNAP_KILL_TRIALS sets
# the number of trials (make check: 50 from seed 1; make stress: 10,000
# from a seed of the clock, SNAP_CRASH_SEED to replay one).

load test_helper

random_kills() {
	local trials=${SNAP_KILL_TRIALS:-50} seed=${SNAP_CRASH_SEED:-1}
	run -0 --separate-stderr "$BATS_TEST_DIRNAME/crash-points.sh" -n "${SNAP_CRASH_FILES:-100}" \
		-R "$trials" -S "$seed" -w "$BATS_TEST_TMPDIR/work" "$@"
	echo "$output" >&3
	[ -z "$stderr" ] || { echo "$stderr"; false; }
	assert_output --regexp "^random-kill: $trials trials \(.*\), seed $seed, 0 failures"
}

@test "random kills of snapshots and bundle imports leave a sound store every time" {
	random_kills snapshot bundle-import
}

@test "random kills of gc, snapshots and bundle imports leave a sound store every time" {
	random_kills snapshot gc bundle-import
}
