#!/usr/bin/env bats
# 2: refs whose files cannot be written where they go: a name beside the
# refs below it, a reflog that is not a regular file.  Refused before a
# transaction's journal is written, so that nothing moves and no journal
# is left that every later ref command would stop at.

load test_helper

@test "a ref whose name holds other refs below it is refused before anything moves; the store stays usable" {
	init_store
	echo 1 | snap-snapshot -q -r a/b --stdin f
	before=$(store_listing)
	run -128 --separate-stderr sh -c 'echo 2 | snap-snapshot -q -r a --stdin f'
	assert_equal "$stderr" "snap-snapshot: fatal: ref 'refs/snapshots/a' cannot be written: 'refs/snapshots/a/' holds other refs"
	assert_equal "$(store_listing | grep -v -E '(^| )\./objects/[0-9a-f]{2}')" \
		"$(echo "$before" | grep -v -E '(^| )\./objects/[0-9a-f]{2}')"
	run -128 --separate-stderr snap-update-ref refs/snapshots/a "$(snap-rev-parse a/b)"
	assert_equal "$stderr" "snap-update-ref: fatal: ref 'refs/snapshots/a' cannot be written: 'refs/snapshots/a/' holds other refs"
	run -0 sh -c 'echo 3 | snap-snapshot -q --stdin f'
	run -0 snap-fsck
	assert_equal "$(ls "$SNAP_DIR/journal")" ''
}

@test "a directory snapshot to a clashing ref: one line before any work, no stat cache, nothing moves" {
	init_store
	mkdir d && echo x > d/f
	snap-snapshot -q -r a/b d
	snap-snapshot -q -r main d
	before=$(store_listing)
	run -128 --separate-stderr snap-snapshot -q -r a d
	assert_equal "$stderr" "snap-snapshot: fatal: ref 'refs/snapshots/a' cannot be written: 'refs/snapshots/a/' holds other refs"
	run -128 --separate-stderr snap-snapshot -q -r main/x d
	assert_equal "$stderr" "snap-snapshot: fatal: ref 'refs/snapshots/main/x' cannot be written: 'refs/snapshots/main' is a ref"
	run -128 --separate-stderr snap-update-ref refs/snapshots/main/x/y "$(snap-rev-parse main)"
	assert_equal "$stderr" "snap-update-ref: fatal: ref 'refs/snapshots/main/x/y' cannot be written: 'refs/snapshots/main' is a ref"
	assert_equal "$(store_listing)" "$before"
	assert_equal "$(ls "$SNAP_DIR/journal")" ''
}

@test "a push of a ref whose name holds refs on the remote: refused, the remote stays usable" {
	init_store
	snap-init -q remote
	echo 1 | SNAP_DIR=$PWD/remote snap-snapshot -q -r a/b --stdin f
	echo 2 | snap-snapshot -q -r a --stdin f
	run -128 snap-push -q remote refs/snapshots/a
	assert_output --partial "ref 'refs/snapshots/a' cannot be written: 'refs/snapshots/a/' holds other refs"
	assert_equal "$(SNAP_DIR=$PWD/remote snap-for-each-ref --format='%(refname)')" 'refs/snapshots/a/b'
	echo 3 | snap-snapshot -q --stdin f
	run -0 snap-push -q remote main
	run -0 env SNAP_DIR=$PWD/remote snap-fsck
}

@test "a reflog that is a symlink is never written through: the ref does not move, nothing outside changes" {
	init_store
	echo 1 | snap-snapshot -q --stdin f
	id=$(snap-rev-parse main)
	echo victim > victim
	rm "$SNAP_DIR/logs/refs/snapshots/main"
	ln -s "$PWD/victim" "$SNAP_DIR/logs/refs/snapshots/main"
	run -128 --separate-stderr sh -c 'echo 2 | snap-snapshot -q --stdin f'
	assert_equal "$stderr" "snap-snapshot: fatal: ref 'refs/snapshots/main' cannot be written: its reflog '$SNAP_DIR/logs/refs/snapshots/main' is not a regular file"
	assert_equal "$(cat victim)" victim
	assert_equal "$(snap-rev-parse main)" "$id"
	assert_equal "$(ls "$SNAP_DIR/journal")" ''
	rm "$SNAP_DIR/logs/refs/snapshots/main"
	run -0 sh -c 'echo 3 | snap-snapshot -q --stdin f'
}

@test "refs deleted below a name leave it free: their empty directories go when the name is written" {
	init_store
	echo 1 | snap-snapshot -q -r a/b/c --stdin f
	snap-update-ref -d refs/snapshots/a/b/c
	run -0 sh -c 'echo 2 | snap-snapshot -q -r a --stdin f'
	run -0 snap-rev-parse --verify -q a
	[ -f "$SNAP_DIR/refs/snapshots/a" ]
	[ -f "$SNAP_DIR/logs/refs/snapshots/a" ]
	run -0 snap-fsck
}

@test "a deleted ref's stat cache goes with it, so a ref below its name can be written" {
	init_store
	mkdir d && echo x > d/f
	snap-snapshot -q -r a d
	snap-snapshot -q -r c d
	[ -f "$SNAP_DIR/cache/refs/snapshots/a" ]
	snap-update-ref -d refs/snapshots/a
	[ ! -e "$SNAP_DIR/cache/refs/snapshots/a" ]
	run -0 --separate-stderr snap-snapshot -q -r a/b d
	assert_equal "$stderr" ''
	printf 'delete refs/snapshots/c\n' | snap-update-ref --stdin
	[ ! -e "$SNAP_DIR/cache/refs/snapshots/c" ]
	# An aborted transaction leaves the cache.
	snap-snapshot -q -r e d
	printf 'start\ndelete refs/snapshots/e\nabort\n' | snap-update-ref --stdin > /dev/null
	[ -f "$SNAP_DIR/cache/refs/snapshots/e" ]
}
