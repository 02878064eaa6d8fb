#!/usr/bin/env bats
# 3: fsck — hard links that lie about their bytes, journals and session
# files that stop other commands

load test_helper

local_setup() {
	init_store
}

blob() {
	printf '%s' "$1" | snap-hash-object -w --stdin
}

tree_of() {
	snap-hash-object -t tree -w --stdin
}

# Puts tree T on refs/snapshots/main.
snapshot_of() {
	local s
	s=$(snap-mksnapshot --time 1000 --host h -m x "$1")
	snap-update-ref refs/snapshots/main "$s"
}

@test "a hard link holding another blob than its target: bad-hard-link, bit 1" {
	a=$(blob aaaa)
	b=$(blob bbbb)
	sub=$(printf 'file 0644 0 0 0.000000000 4 %s link=a b\n' "$b" | tree_of)
	t=$(printf 'file 0644 0 0 0.000000000 4 %s - a\ndir 0755 0 0 0.000000000 0 %s - d\n' "$a" "$sub" | tree_of)
	snapshot_of "$t"
	run -1 snap-fsck --no-dangling
	assert_output "error bad-hard-link $t hard link 'd/b' holds blob '$b', its target 'a' blob '$a'"
}

@test "a hard link to a path not in the tree: bad-hard-link" {
	a=$(blob aaaa)
	t=$(printf 'file 0644 0 0 0.000000000 4 %s link=nope a\n' "$a" | tree_of)
	snapshot_of "$t"
	run -1 snap-fsck --no-dangling
	assert_output "error bad-hard-link $t hard link 'a' names 'nope', which is not in the tree"
}

@test "sound hard links in many snapshots: exit 0" {
	mkdir src
	echo x > src/f
	ln src/f src/g
	local i
	for i in 1 2 3; do echo "$i" > src/n; snap-snapshot src >/dev/null; done
	run -0 snap-fsck --no-dangling
	assert_output ''
}

@test "a journal that cannot be finished: bad-journal, bit 4" {
	mkdir src && echo x > src/f && snap-snapshot src >/dev/null
	mkdir -p "$SNAP_DIR/journal"
	printf 'snap-ref-journal 1\nholder 999999 elsewhere 1 -\nbogus\n' > "$SNAP_DIR/journal/tx-1-999999"
	run -4 --separate-stderr snap-fsck --no-dangling
	assert_output "error bad-journal journal/ transaction journal '$SNAP_DIR/journal/tx-1-999999' is malformed; its refs may be half-moved"
}

@test "a session file gc cannot parse: a bad-session warning" {
	mkdir src && echo x > src/f && snap-snapshot src >/dev/null
	echo garbage > "$SNAP_DIR/sessions/vm-1-deadbeef"
	run -0 --separate-stderr snap-fsck --no-dangling
	assert_output "warning bad-session sessions/ bad line 1 in session '$SNAP_DIR/sessions/vm-1-deadbeef'"
}
