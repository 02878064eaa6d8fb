#!/usr/bin/env bats
# 2: refs — a transaction killed at any moment lands whole or not at all

load test_helper

local_setup() {
	init_store
	mkdir src
	printf 1 > src/f
	T=$(snap-write-tree src)
	for i in 1 2 3 4 5 6; do
		A[i]=$(snap-mksnapshot --time "$i" --host a "$T")
		B[i]=$(snap-mksnapshot --time "$((i + 100))" --host b "$T")
		snap-update-ref -m setup "r$i" "${A[i]}"
	done
}

# tx FROM TO: the 6-ref transaction moving every rI from FROM[I] to TO[I].
tx() {
	local -n from=$1 to=$2
	local i
	for i in 1 2 3 4 5 6; do
		printf 'update refs/snapshots/r%d %s %s\n' "$i" "${to[i]}" "${from[i]}"
	done
}

# state: "old", "new" or "mixed", from the ref files as they are.
state() {
	local i o=0 n=0 v
	for i in 1 2 3 4 5 6; do
		v=$(cat "$SNAP_DIR/refs/snapshots/r$i")
		[ "$v" = "${A[i]}" ] && o=$((o + 1))
		[ "$v" = "${B[i]}" ] && n=$((n + 1))
	done
	if [ "$o" -eq 6 ]; then echo old; elif [ "$n" -eq 6 ]; then echo new; else echo mixed; fi
}

# Every reflog line names a value its ref held, and the last one the value
# it holds.
check_reflogs() {
	local i v last
	for i in 1 2 3 4 5 6; do
		while read -r _ v _; do
			[ "$v" = "${A[i]}" ] || [ "$v" = "${B[i]}" ] ||
				{ echo "r$i: reflog names $v"; return 1; }
			last=$v
		done < "$SNAP_DIR/logs/refs/snapshots/r$i"
		assert_equal "$last" "$(cat "$SNAP_DIR/refs/snapshots/r$i")"
	done
}

@test "kill -9 at every step of a 6-ref transaction: all old or all new after the next ref command" {
	local n mixed=0 olds=0 news=0 cur=old
	for n in $(seq 1 40); do
		if [ "$cur" = old ]; then tx A B; else tx B A; fi > in
		run sh -c "SNAP_TEST_KILL_AT=$n exec snap-update-ref --stdin < in"
		[ "$status" -eq 137 ] || [ "$status" -eq 0 ] || { echo "step $n: exit $status: $output"; false; }
		[ "$(state)" != mixed ] || mixed=$((mixed + 1))
		# A reader that is itself killed while finishing the transaction.
		if [ $((n % 3)) -eq 0 ]; then
			run sh -c "SNAP_TEST_KILL_AT=2 exec snap-show-ref"
		fi
		run -0 snap-show-ref r1
		s=$(state)
		[ "$s" != mixed ] || { echo "step $n: half-applied after show-ref"; false; }
		[ "$s" = old ] && olds=$((olds + 1)) || news=$((news + 1))
		check_reflogs
		cur=$s
	done
	# The kills landed inside the transaction, on both sides of its commit.
	[ "$mixed" -gt 5 ]
	[ "$olds" -gt 5 ]
	[ "$news" -gt 5 ]
	# No lock is left in the way of the next update, and the store is sound.
	if [ "$cur" = old ]; then tx A B; else tx B A; fi > in
	run -0 sh -c "snap-update-ref --stdin < in"
	run -0 find "$SNAP_DIR/refs" "$SNAP_DIR/journal" -name '*.lock' -o -name 'tx-*'
	assert_output ''
	check_reflogs
	run -0 snap-fsck --no-dangling
}

@test "a transaction killed after its journal is finished by the next update of any ref" {
	tx A B > in
	run -137 sh -c "SNAP_TEST_KILL_AT=9 exec snap-update-ref --stdin < in"
	assert_equal "$(state)" mixed
	run -0 snap-update-ref -m other refs/tags/other "$T"
	assert_equal "$(state)" new
	check_reflogs
	run -0 find "$SNAP_DIR/refs" -name '*.lock'
	assert_output ''
}

@test "a transaction killed before its journal changes nothing, and leaves no lock in the way" {
	tx A B > in
	run -137 sh -c "SNAP_TEST_KILL_AT=6 exec snap-update-ref --stdin < in"
	assert_equal "$(state)" old
	run -0 sh -c "snap-update-ref --stdin < in"
	assert_equal "$(state)" new
	check_reflogs
}

@test "fsck and gc finish a dead transaction first" {
	tx A B > in
	run -137 sh -c "SNAP_TEST_KILL_AT=12 exec snap-update-ref --stdin < in"
	assert_equal "$(state)" mixed
	run -0 snap-fsck --no-dangling
	assert_equal "$(state)" new
	tx B A > in
	run -137 sh -c "SNAP_TEST_KILL_AT=12 exec snap-update-ref --stdin < in"
	assert_equal "$(state)" mixed
	run -0 snap-gc
	assert_equal "$(state)" old
	check_reflogs
}

@test "killed at random moments, no transaction is left half-applied" {
	local i cur=old
	for i in $(seq 1 30); do
		if [ "$cur" = old ]; then tx A B; else tx B A; fi > in
		snap-update-ref --stdin < in &
		pid=$!
		sleep "0.00$((RANDOM % 10))"
		kill -9 "$pid" 2>/dev/null || :
		wait "$pid" || :
		run -0 snap-show-ref r1
		cur=$(state)
		[ "$cur" != mixed ] || { echo "round $i: half-applied"; false; }
		check_reflogs
	done
}

@test "a malformed journal stops updates with a clear error and is never acted on" {
	mkdir -p "$SNAP_DIR/journal"
	printf 'snap-ref-journal 1\nholder 1 h 1 -\ngarbage\n' > "$SNAP_DIR/journal/tx-1-1"
	run -128 --separate-stderr snap-update-ref r1 "${B[1]}" "${A[1]}"
	assert_equal "$stderr" "snap-update-ref: fatal: transaction journal '$SNAP_DIR/journal/tx-1-1' is malformed; its refs may be half-moved"
	run -128 --separate-stderr snap-gc
	assert_equal "$stderr" "snap-gc: fatal: transaction journal '$SNAP_DIR/journal/tx-1-1' is malformed; its refs may be half-moved"
	run -0 snap-show-ref r1
	assert_output "${A[1]} refs/snapshots/r1"
}
