#!/usr/bin/env bats
# 2: refs — snap-update-ref --stdin transactions

load test_helper

ZERO=0000000000000000000000000000000000000000000000000000000000000000

local_setup() {
	init_store
	mkdir src
	printf 1 > src/f
	T=$(snap-write-tree src)
	S1=$(snap-mksnapshot --time 1000 --host h -m one "$T")
	S2=$(snap-mksnapshot --time 2000 --host h -m two "$T")
}

@test "a transaction applies every command" {
	snap-update-ref old "$S1"
	run -0 sh -c "printf 'create refs/snapshots/a %s\nupdate refs/snapshots/old %s %s\ncreate refs/tags/t %s\n' '$S1' '$S2' '$S1' '$T' | snap-update-ref --stdin"
	assert_equal "$(snap-rev-parse a)" "$S1"
	assert_equal "$(snap-rev-parse old)" "$S2"
	assert_equal "$(snap-rev-parse refs/tags/t)" "$T"
}

@test "one failing command changes nothing" {
	snap-update-ref old "$S1"
	before=$(store_listing)
	run -1 --separate-stderr sh -c "printf 'create refs/snapshots/a %s\nupdate refs/snapshots/old %s %s\n' '$S1' '$S2' '$S2' | snap-update-ref --stdin"
	assert_equal "$stderr" "snap-update-ref: fatal: ref 'refs/snapshots/old' moved: expected $S2, found $S1"
	assert_equal "$(store_listing)" "$before"
}

@test "a bad command is refused with its line number" {
	run -128 --separate-stderr sh -c "printf 'create refs/snapshots/a %s\nfrobnicate x\n' '$S1' | snap-update-ref --stdin"
	assert_equal "$stderr" "snap-update-ref: fatal: line 2: bad command 'frobnicate x'"
	run -1 snap-rev-parse --verify -q a
}

@test "start, prepare, commit answer ok" {
	run -0 sh -c "printf 'start\ncreate refs/snapshots/a %s\nprepare\ncommit\n' '$S1' | snap-update-ref --stdin"
	assert_output "start: ok
prepare: ok
commit: ok"
	assert_equal "$(snap-rev-parse a)" "$S1"
}

@test "abort drops the transaction" {
	run -0 sh -c "printf 'start\ncreate refs/snapshots/a %s\nabort\n' '$S1' | snap-update-ref --stdin"
	assert_output "start: ok
abort: ok"
	run -1 snap-rev-parse --verify -q a
}

@test "input ending inside an explicit transaction changes nothing" {
	run -128 --separate-stderr sh -c "printf 'start\ncreate refs/snapshots/a %s\n' '$S1' | snap-update-ref --stdin"
	[[ "$stderr" == *"input ended inside a transaction"* ]]
	run -1 snap-rev-parse --verify -q a
}

@test "verify and delete" {
	snap-update-ref a "$S1"
	run -1 --separate-stderr sh -c "printf 'verify refs/snapshots/a %s\ncreate refs/snapshots/b %s\n' '$S2' '$S1' | snap-update-ref --stdin"
	assert_equal "$stderr" "snap-update-ref: fatal: ref 'refs/snapshots/a' moved: expected $S2, found $S1"
	run -1 snap-rev-parse --verify -q b
	run -0 sh -c "printf 'verify refs/snapshots/a %s\ncreate refs/snapshots/b %s\n' '$S1' '$S1' | snap-update-ref --stdin"
	run -0 sh -c "printf 'delete refs/snapshots/a %s\n' '$S1' | snap-update-ref --stdin"
	run -1 snap-rev-parse --verify -q a
}

@test "-z takes NUL-terminated fields" {
	run -0 sh -c "printf 'create refs/snapshots/z\0%s\0' '$S1' | snap-update-ref --stdin -z"
	assert_equal "$(snap-rev-parse z)" "$S1"
	run -0 sh -c "printf 'update refs/snapshots/z\0%s\0%s\0' '$S2' '$S1' | snap-update-ref --stdin -z"
	assert_equal "$(snap-rev-parse z)" "$S2"
}

@test "the same ref twice in one transaction is refused" {
	run -128 --separate-stderr sh -c "printf 'create refs/snapshots/a %s\ncreate refs/snapshots/a %s\n' '$S1' '$S2' | snap-update-ref --stdin"
	assert_equal "$stderr" "snap-update-ref: fatal: line 2: ref 'refs/snapshots/a' appears twice in one transaction"
}

# after_failure: the failed run left no lock and changed nothing, and the
# next update of the ref goes through.
after_failure() {
	assert_equal "$(store_listing)" "$before"
	run -0 find "$SNAP_DIR/refs" -name '*.lock'
	assert_output ''
	run -0 snap-update-ref a "$S2" "$S1"
	assert_equal "$(snap-rev-parse a)" "$S2"
}

@test "input ending after prepare, without commit, leaves no lock" {
	snap-update-ref a "$S1"
	before=$(store_listing)
	run -128 --separate-stderr sh -c "printf 'start\nupdate refs/snapshots/a %s %s\nprepare\n' '$S2' '$S1' | snap-update-ref --stdin"
	assert_equal "$stderr" "snap-update-ref: fatal: input ended inside a transaction (no 'commit' or 'abort'); nothing changed"
	assert_output "start: ok
prepare: ok"
	after_failure
}

@test "a bad command after prepare leaves no lock" {
	snap-update-ref a "$S1"
	before=$(store_listing)
	run -128 --separate-stderr sh -c "printf 'start\nupdate refs/snapshots/a %s %s\nprepare\nfrobnicate\n' '$S2' '$S1' | snap-update-ref --stdin"
	assert_equal "$stderr" "snap-update-ref: fatal: line 4: 'frobnicate' after 'prepare'"
	after_failure
}

@test "a bad command after an update leaves no lock" {
	snap-update-ref a "$S1"
	before=$(store_listing)
	run -128 --separate-stderr sh -c "printf 'update refs/snapshots/a %s %s\nprepare\nupdate refs/snapshots/b %s\n' '$S2' '$S1' '$S1' | snap-update-ref --stdin"
	assert_equal "$stderr" "snap-update-ref: fatal: line 3: 'update' after 'prepare'"
	after_failure
	before=$(store_listing)
	run -128 --separate-stderr sh -c "printf 'update refs/snapshots/a %s %s\nupdate refs/snapshots/c nosuch\n' '$S1' '$S2' | snap-update-ref --stdin"
	assert_equal "$stderr" "snap-update-ref: fatal: line 2: unknown revision 'nosuch'"
	assert_equal "$(store_listing)" "$before"
	run -0 find "$SNAP_DIR/refs" -name '*.lock'
	assert_output ''
}

@test "a command line holding a NUL byte is refused, nothing changed" {
	local before
	before=$(store_listing)
	run -128 --separate-stderr sh -c "printf 'update refs/snapshots/zx %s\\0junk\\n' '$S1' | snap-update-ref --stdin"
	assert_equal "$stderr" "snap-update-ref: fatal: line 1: holds a NUL byte (use -z for NUL-separated input)"
	assert_equal "$(store_listing)" "$before"
}
