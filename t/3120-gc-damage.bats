#!/usr/bin/env bats
# 3: gc — never deletes the only good copy of a live object; keeps and
# names every file holding a damaged one that has no good copy elsewhere

load test_helper

local_setup() {
	init_store
	mkdir src other
	make_file 200000 src/big	# a frame of its own in a pack
	make_file 3000 src/small	# a member of a block
	snap-snapshot src >/dev/null
	printf other > other/o
	snap-snapshot -r other other >/dev/null
	big=$(b3_blob_id src/big)
	pack=$(pack_of "$big")
}

# The pack file holding id.
pack_of() {
	local idx
	for idx in "$SNAP_DIR"/objects/pack/*.idx; do
		if idx_records "$idx" | grep -q "^$1 "; then
			echo "${idx%.idx}.pack"
			return
		fi
	done
	return 1
}

# The position of id's record in the index idx.
record_pos() {
	idx_records "$1" | awk -v id="$2" '$1 == id { print NR - 1 }'
}

# The record of id in the index idx: offset length size type shared inner.
record_of() {
	idx_records "$1" | awk -v id="$2" '$1 == id { print $2, $3, $4, $5, $6, $7 }'
}

@test "gc never copies through an index that sends a live object to a wrong frame" {
	idx=${pack%.pack}.idx
	n=$(idx_records "$idx" | wc -l)
	pos=$(record_pos "$idx" "$big")
	read -r off len size type shared inner <<< "$(record_of "$idx" "$big")"
	# The frame offset one byte off, and the index resealed.  Where that
	# runs past the pack's end (the frame is the pack's last: the order
	# of frames depends on the compression threads), the index is refused
	# and the pack scanned, and gc copies the good frame; elsewhere gc's
	# check of what it copies finds the wrong bytes, keeps the pack as it
	# is and says so.  Either way the good frame is never lost.
	poke "$idx" $((16 + 1024 + n * 32 + pos * 32)) "$(printf '%016x' $((off + 1)))"
	reseal_idx "$idx"
	sum=$(b3sum --no-names "$pack")
	age_objects
	run --separate-stderr snap-gc --prune=now
	if [ "$status" -eq 0 ]; then
		assert_equal "${stderr_lines[0]}" "snap-gc: warning: pack index '$idx' is corrupt: record $pos is out of bounds; its pack is read by a scan"
		run -0 snap-fsck --no-dangling
		run -0 snap-restore main out
		run -0 diff -r src out
	else
		assert_equal "$status" 3
		assert_equal "$stderr" "snap-gc: warning: object '$big' in '$pack' has no good copy; the file is kept (see snap-fsck)"
		assert_equal "$(b3sum --no-names "$pack")" "$sum"
	fi
}

@test "gc keeps the good loose copy of an object whose packed copy is corrupt" {
	read -r off len size type shared inner <<< "$(record_of "${pack%.pack}.idx" "$big")"
	poke "$pack" $((off + len / 2)) 00ff00ff00ff00ff
	# The natural repair: write it again.
	run -0 snap-hash-object -w src/big
	assert_file_exist "$(object_path "$big")"
	age_objects
	run -0 --separate-stderr snap-gc --prune=now
	assert_equal "$stderr" ''
	run -0 snap-restore main out
	run -0 diff -r src out
	run -0 snap-fsck --no-dangling
}

@test "gc keeps a corrupt reachable loose blob and says so" {
	mkdir more
	make_file 7000 more/m
	m=$(snap-hash-object -w more/m)
	snap-snapshot -r more more >/dev/null
	# The snapshot reused the loose copy: it is the only one.
	assert_file_exist "$(object_path "$m")"
	corrupt_flip_byte "$m"
	sum=$(b3sum --no-names "$(object_path "$m")")
	age_objects
	run -3 --separate-stderr snap-gc --prune=now
	assert_equal "$stderr" "snap-gc: warning: object '$m' in '$(object_path "$m")' has no good copy; the file is kept (see snap-fsck)"
	assert_equal "$(b3sum --no-names "$(object_path "$m")")" "$sum"
	run -0 snap-restore main out
	run -0 diff -r src out
}

@test "gc keeps a pack whose block of live members is corrupt, and says so" {
	small=$(b3_blob_id src/small)
	spack=$(pack_of "$small")
	read -r off len size type shared inner <<< "$(record_of "${spack%.pack}.idx" "$small")"
	[ "$shared" = 1 ]
	poke "$spack" $((off + len / 2)) 00ff00ff
	sum=$(b3sum --no-names "$spack")
	age_objects
	run -3 --separate-stderr snap-gc --prune=now
	[[ "$stderr" == *"snap-gc: warning: object '$small' in '$spack' has no good copy; the file is kept (see snap-fsck)"* ]]
	assert_equal "$(b3sum --no-names "$spack")" "$sum"
}

@test "gc copies the sound copy from another pack when its own copy is corrupt" {
	# A second pack holding src/big too: a store of its own, its pack
	# copied over.
	mkdir again
	cp src/big again/big
	init_store "$BATS_TEST_TMPDIR/second"
	snap-snapshot again >/dev/null
	second=$(ls "$BATS_TEST_TMPDIR"/second/objects/pack/pack-*)
	init_store "$BATS_TEST_TMPDIR/store"
	cp $second "$SNAP_DIR/objects/pack/"
	read -r off len size type shared inner <<< "$(record_of "${pack%.pack}.idx" "$big")"
	poke "$pack" $((off + len / 2)) 00ff00ff00ff00ff
	age_objects
	run -0 --separate-stderr snap-gc --prune=now
	assert_equal "$stderr" ''
	assert_file_not_exist "$pack"
	run -0 snap-fsck --no-dangling
	run -0 snap-restore main out
	run -0 diff -r src out
}
