#!/usr/bin/env bats
# 1: object database — every field of a pack index record is checked
# before it is used: a bad record is a corrupt index, never a crash.

load test_helper

local_setup() {
	init_store
	mkdir src
	echo one > src/a
	make_file 200000 src/b
	snap-write-tree src > /dev/null
	IDX=$(echo "$SNAP_DIR"/objects/pack/*.idx)
	ID=$(b3_blob_id src/b)
	POS=$(idx_records "$IDX" | awk -v id="$ID" '$1 == id {print NR - 1}')
	N=$(idx_records "$IDX" | wc -l)
	REC=$((16 + 1024 + N * 32 + POS * 32))
}

# Sets byte $2 of the record to $1 under a right checksum, then checks
# that readers answer from a scan of the pack and fsck names the index.
bad_record_byte() {
	poke "$IDX" $((REC + $2)) "$1"
	reseal_idx "$IDX"
	local why="pack index '$IDX' is corrupt: record $POS is out of bounds"
	run -0 --separate-stderr snap-cat-file --batch-check <<< "$ID"
	assert_output "$ID blob 200000"
	assert_equal "$stderr" "snap-cat-file: warning: $why; its pack is read by a scan"
	snap-cat-file -p "$ID" 2> /dev/null | cmp - src/b
	run -8 --separate-stderr snap-fsck --no-dangling
	assert_output "error pack-corrupt $IDX $why"
}

@test "a record of type 0 is a corrupt index" {
	bad_record_byte 00 24
}

@test "a record of type 9 is a corrupt index" {
	bad_record_byte 09 24
}

@test "a record of type 255 is a corrupt index" {
	bad_record_byte ff 24
}

@test "a record with flags 2 is a corrupt index" {
	bad_record_byte 02 25
}

@test "a record whose frame ends past the pack is a corrupt index" {
	bad_record_byte 7fffffffffffffff 8
}

@test "a record whose offset is inside the pack header is a corrupt index" {
	bad_record_byte 0000000000000004 0
}

@test "a record of an own frame with a member offset is a corrupt index" {
	bad_record_byte 00000010 26
}
