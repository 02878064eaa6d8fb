#!/usr/bin/env bats
# 3: statistics — snap-count-objects

load test_helper

@test "count-objects counts by type, garbage and deduplication" {
	init_store
	mkdir src
	make_file 10000 src/a
	cp src/a src/copy
	snap-snapshot --store "$SNAP_DIR" -m one src >/dev/null
	snap-snapshot -m two src >/dev/null
	printf 'junk' | snap-hash-object -w --stdin >/dev/null
	run -0 snap-count-objects
	assert_line "blob      2 objects, 10004 bytes"
	assert_line --regexp "^tree      1 objects, [0-9]+ bytes$"
	assert_line --regexp "^snapshot  2 objects, [0-9]+ bytes$"
	assert_line "garbage   1 unreachable objects, 4 bytes"
	# Two snapshots of two 10000-byte files: 40000 bytes referenced,
	# 10004 stored.
	assert_line "snapshots 2, referencing 40000 bytes of files"
	assert_line --regexp "^compression ratio [0-9.]+, deduplication ratio 4.00$"
}

@test "count-objects --json" {
	init_store
	printf x | snap-hash-object -w --stdin >/dev/null
	run -0 snap-count-objects --json
	assert_output --regexp '^\{"blob":\{"count":1,"bytes":1\},.*"loose":\{"count":1,"disk_bytes":[0-9]+\},.*"dedup_ratio":0.000\}$'
}

@test "count-objects refuses a directory entry that names a blob, even one that parses as a tree" {
	init_store
	# The empty blob's bytes are an empty tree's: read without a type
	# check, this damaged directory was counted as an empty one.
	empty=$(printf '' | snap-hash-object -w --stdin)
	bad=$(printf 'dir 0755 0 0 0.000000000 0 %s - d\n' "$empty" | snap-hash-object -t tree -w --stdin)
	snap-update-ref main "$(snap-mksnapshot --time 1000 --host h -m one "$bad")"
	refused "snap-count-objects: fatal: object '$empty' is a blob, not a tree (see snap-fsck)" \
		snap-count-objects
}

@test "count-objects refuses a store whose history it cannot walk whole: a missing blob is named" {
	init_store
	local blob tree
	blob=$(printf 'a\n' | snap-hash-object -w --stdin)
	tree=$(printf 'file 0644 0 0 0.000000000 2 %s - a\n' "$blob" | snap-hash-object -t tree -w --stdin)
	snap-update-ref main "$(snap-mksnapshot --time 1000 --host h -m one "$tree")"
	run -0 snap-count-objects
	rm "$SNAP_DIR/objects/${blob:0:2}/${blob:2}"
	refused "snap-count-objects: fatal: object '$blob' is missing (referenced by $tree) (see snap-fsck)" \
		snap-count-objects
}
