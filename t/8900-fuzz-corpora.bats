#!/usr/bin/env bats
# The fuzz corpora (t/fuzz/README.md) replayed through their targets,
# built without libFuzzer (and with the sanitizers when the compiler
# has them) by make check: every seed and every input that once crashed
# a parser must run cleanly, and hold the target's properties.

load test_helper

REPLAY=$SNAP_BUILD/build/replay/bin
CORPUS=$BATS_TEST_DIRNAME/fuzz/corpus

# replayed TARGET: every file of the target's corpus runs, exit 0, and
# nothing is said on stderr.
replayed() {
	local n
	[ -x "$REPLAY/replay-$1" ] || fail "no $REPLAY/replay-$1: build it with make check or make fuzz-replay"
	n=$(find "$CORPUS/$1" -type f | wc -l)
	[ "$n" -gt 0 ] || fail "no corpus for $1"
	run -0 --separate-stderr "$REPLAY/replay-$1" "$CORPUS/$1"
	assert_output "replayed $n inputs"
	assert_equal "$stderr" ""
}

@test "every fuzz target has a corpus and a test here" {
	local f t
	for f in "$BATS_TEST_DIRNAME"/fuzz/fuzz-*.c; do
		t=${f##*/fuzz-}
		t=${t%.c}
		[ -d "$CORPUS/$t" ] || fail "no corpus for target $t"
		grep -q "^@test \"the $t corpus replays cleanly\"" "$BATS_TEST_FILENAME" ||
			fail "no test for target $t"
	done
}

@test "the replayer runs an empty input and fails on an unreadable one" {
	[ -x "$REPLAY/replay-tree" ] || fail "no $REPLAY/replay-tree"
	run -0 "$REPLAY/replay-tree" /dev/null
	assert_output "replayed 1 inputs"
	run -1 --separate-stderr "$REPLAY/replay-tree" no-such-file
	assert_equal "$stderr" "replay: cannot read 'no-such-file'"
}

@test "the object corpus replays cleanly" { replayed object; }
@test "the tree corpus replays cleanly" { replayed tree; }
@test "the snapshot corpus replays cleanly" { replayed snapshot; }
@test "the refs corpus replays cleanly" { replayed refs; }
@test "the packidx corpus replays cleanly" { replayed packidx; }
@test "the midx corpus replays cleanly" { replayed midx; }
@test "the statcache corpus replays cleanly" { replayed statcache; }
@test "the config corpus replays cleanly" { replayed config; }
@test "the session corpus replays cleanly" { replayed session; }
@test "the json corpus replays cleanly" { replayed json; }
@test "the sqlbundle corpus replays cleanly" { replayed sqlbundle; }
@test "the bundle corpus replays cleanly" { replayed bundle; }
@test "the restore corpus replays cleanly" { replayed restore; }
@test "the xattrs corpus replays cleanly" { replayed xattrs; }
