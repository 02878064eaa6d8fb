#!/usr/bin/env bats
# 8: robustness — killed writers, SQLite copies, closed pipes

load test_helper

@test "a write-tree killed mid-write leaves a store fsck accepts, and no ref moves" {
	init_store
	mkdir src
	for i in $(seq 1 200); do make_file 50000 "src/f$i"; done
	snap-snapshot -m first src >/dev/null
	cp -a src state1
	local first i
	first=$(snap-rev-parse main)
	# make_file's bytes depend on the size alone: 100 sizes, 100 new blobs.
	for i in $(seq 1 100); do make_file $((60000 + i)) "src/f$i"; done
	# SIGKILL at the 4th of the new pack's writes (it takes about 8): the
	# writer dies with a pack half written, before any ref can move.
	SNAP_FAULT='write@objects/tmp/pack-:4:kill' run snap-snapshot -q -m second src
	[ "$status" -ne 0 ]
	ls "$SNAP_DIR"/objects/tmp/pack-* >/dev/null
	run -0 snap-rev-parse main
	assert_output "$first"
	run -0 snap-fsck --no-dangling
	refute_output --partial error
	snap-restore main out
	diff -r state1 out
}

@test "gc cleans what a killed writer left" {
	init_store
	mkdir src
	for i in $(seq 1 100); do make_file 50000 "src/f$i"; done
	# SIGKILL mid-way through the pack being written, as the proof below
	# (a partial pack in objects/tmp) shows.
	SNAP_FAULT='write@objects/tmp/pack-:2:kill' run -137 snap-write-tree src
	ls "$SNAP_DIR"/objects/tmp/pack-* >/dev/null
	find "$SNAP_DIR" -type f -newer "$SNAP_DIR/config" -exec touch -d '-2 days' {} +
	run -0 snap-gc
	run ls -A "$SNAP_DIR/objects/tmp" "$SNAP_DIR/sessions"
	assert_output "$SNAP_DIR/objects/tmp:

$SNAP_DIR/sessions:"
	run -0 snap-fsck
}

@test "snap-sqlite-backup copies a database consistently" {
	sqlite3 db 'create table t(x); insert into t values (1), (2);'
	run -0 snap-sqlite-backup db copy
	run -0 sqlite3 copy 'select sum(x) from t; pragma integrity_check;'
	assert_output "3
ok"
}

@test "snap-sqlite-backup refuses a missing database and an existing copy" {
	run -128 --separate-stderr snap-sqlite-backup nope copy
	assert_equal "$stderr" "snap-sqlite-backup: fatal: no database 'nope'"
	sqlite3 db 'create table t(x);'
	touch copy
	run -128 --separate-stderr snap-sqlite-backup db copy
	assert_equal "$stderr" "snap-sqlite-backup: fatal: 'copy' exists already"
}

@test "a closed output pipe is an error, not a silent success" {
	init_store
	make_file 30000000 big
	id=$(snap-hash-object -w big)
	run -0 --separate-stderr bash -c "trap '' PIPE; snap-cat-file blob $id | head -c 10 >/dev/null; echo \${PIPESTATUS[0]}"
	assert_output 128
	[[ "$stderr" == *"Broken pipe"* ]]
}
