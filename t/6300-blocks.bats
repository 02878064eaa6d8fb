#!/usr/bin/env bats
# Blocks: small blobs compressed together in one shared frame of a pack,
# read through one decompression, verified, and repacked by gc.

load test_helper

local_setup() {
	init_store
}

IDX() { ls "$SNAP_DIR"/objects/pack/*.idx; }

# N small files sharing 8 KiB of random bytes, one line each their own.
similar_files() {
	local dir=$1 n=$2 i
	mkdir -p "$dir"
	make_file 8192 base
	for ((i = 1; i <= n; i++)); do
		{ cat base; echo "file $i of $dir"; } > "$dir/f$i"
	done
	rm base
}

@test "small files share frames and compress together" {
	similar_files src 64
	snap-snapshot -m s src > /dev/null
	idx=$(IDX)
	idx_records "$idx" > recs
	# 64 members in at most 3 frames; each file's id names it.
	assert_equal "$(awk '$6 == 1' recs | wc -l)" 64
	[ "$(awk '$6 == 1 {print $2}' recs | sort -u | wc -l)" -le 3 ]
	for f in src/*; do
		grep -q "^$(b3_blob_id "$f") .* 1 1 [0-9]*$" recs
	done
	# 64 x 8 KiB of random bytes stored as a few copies, not 64.
	[ "$(stat -c %s "${idx%.idx}.pack")" -lt 100000 ]
	run -0 snap-fsck
	assert_output ""
	snap-restore main out
	diff -r src out
	snap-cat-file -p "$(b3_blob_id src/f33)" | cmp - src/f33
}

@test "files of 128 KiB and more have frames of their own" {
	mkdir src
	make_file 131072 src/big
	make_file 131071 src/small
	snap-snapshot -m s src > /dev/null
	idx_records "$(IDX)" > recs
	run grep "^$(b3_blob_id src/big) " recs
	assert_output --regexp " 131072 1 0 0$"
	run grep "^$(b3_blob_id src/small) " recs
	assert_output --regexp " 131071 1 1 0$"
}

@test "a damaged block: fsck names each of its members and nothing else" {
	similar_files src 5
	make_file 200000 src/big
	snap-snapshot -m s src > /dev/null
	idx=$(IDX)
	pack=${idx%.idx}.pack
	idx_records "$idx" > recs
	read -r off len < <(awk '$6 == 1 {print $2, $3; exit}' recs)
	poke "$pack" $((off + len / 2)) 00ff00ff
	run snap-fsck
	[ $((status & 1)) -eq 1 ]
	[ $((status & 8)) -eq 8 ]
	for i in 1 2 3 4 5; do
		assert_line --regexp "^error (corrupt-object|hash-mismatch) $(b3_blob_id src/f$i) "
	done
	refute_output --partial "$(b3_blob_id src/big)"
	run -128 --separate-stderr snap-cat-file -p "$(b3_blob_id src/f2)"
	[[ "$stderr" == "snap-cat-file: fatal: object '$(b3_blob_id src/f2)' is corrupt ($pack at offset $off): "* ]]
}

@test "a member record outside its block, or off its header, is corrupt" {
	similar_files src 3
	snap-snapshot -m s src > /dev/null
	idx=$(IDX)
	pack=${idx%.idx}.pack
	id=$(b3_blob_id src/f2)
	idx_records "$idx" > recs
	pos=$(awk -v id="$id" '$1 == id {print NR - 1}' recs)
	off=$(awk -v id="$id" '$1 == id {print $2}' recs)
	n=$(wc -l < recs)
	rec=$((16 + 1024 + n * 32 + pos * 32))
	# Under a right checksum the index is believed; the reader's own
	# checks of the member catch the lie.
	poke "$idx" $((rec + 26)) 000ffff0
	reseal_idx "$idx"
	run -128 --separate-stderr snap-cat-file -p "$id"
	assert_equal "$stderr" "snap-cat-file: fatal: object '$id' is corrupt ($pack at offset $off): outside its shared frame"
	poke "$idx" $((rec + 26)) 00000001
	reseal_idx "$idx"
	before=$(store_listing)
	run -128 --separate-stderr snap-cat-file -p "$id"
	assert_equal "$stderr" "snap-cat-file: fatal: object '$id' is corrupt ($pack at offset $off): bad object header"
	assert_equal "$(store_listing)" "$before"
	run -1 --separate-stderr snap-fsck
	assert_line --regexp "^error corrupt-object $id .*: bad object header$"
	# Under a wrong checksum the index is not used: the pack is scanned.
	poke "$idx" $((rec + 27)) 01
	run -0 --separate-stderr snap-cat-file -t "$id"
	assert_equal "$stderr" "snap-cat-file: warning: pack index '$idx' is corrupt: checksum mismatch; its pack is read by a scan"
	snap-cat-file -p "$id" 2> /dev/null | cmp - src/f2
	run -8 --separate-stderr snap-fsck
	assert_output "error pack-corrupt $idx pack index '$idx' is corrupt: checksum mismatch"
}

@test "unknown record flags are a corrupt index, even under a right checksum" {
	similar_files src 3
	snap-snapshot -m s src > /dev/null
	idx=$(IDX)
	n=$(idx_records "$idx" | wc -l)
	poke "$idx" $((16 + 1024 + n * 32 + 25)) 02
	reseal_idx "$idx"
	run snap-fsck
	[ $((status & 8)) -eq 8 ]
	assert_line --regexp "^error pack-corrupt $idx .*record 0 is out of bounds$"
}

@test "gc keeps the live members of a partly dead block and drops the rest" {
	similar_files a 8
	snap-write-tree a > /dev/null
	mkdir b
	cp a/f1 a/f3 a/f5 a/f7 b/
	snap-snapshot -m s b > /dev/null
	age_objects
	run -0 snap-gc --prune=now
	assert_line --regexp "^removed 5 objects, "
	for i in 2 4 6 8; do
		run -1 snap-cat-file -e "$(b3_blob_id a/f$i)"
	done
	for i in 1 3 5 7; do
		snap-cat-file -p "$(b3_blob_id a/f$i)" | cmp - a/f$i
	done
	idx_records "$(IDX)" > recs
	assert_equal "$(awk '$6 == 1' recs | wc -l)" 4
	assert_equal "$(awk '$6 == 1 {print $2}' recs | sort -u | wc -l)" 1
	run -0 snap-fsck
	assert_output ""
	snap-restore main out
	diff -r b out
}

@test "gc copies a wholly live block as it is" {
	similar_files a 4
	similar_files b 4
	snap-snapshot -m a a > /dev/null
	snap-snapshot -m b b > /dev/null
	for i in $(IDX); do idx_records "$i"; done | awk '$6 == 1 {print $3}' | sort > lengths.before
	assert_equal "$(wc -l < lengths.before)" 8
	run -0 snap-gc --prune=now
	assert_line "packs: 1 written, 2 removed; 2 loose objects packed"
	idx_records "$(IDX)" | awk '$6 == 1 {print $3}' | sort > lengths.after
	assert_equal "$(cat lengths.after)" "$(cat lengths.before)"
	run -0 snap-fsck
	assert_output ""
	snap-restore main~1 out-a
	diff -r a out-a
	snap-restore main out-b
	diff -r b out-b
}

@test "a store written before blocks (index version 1) reads, checks and repacks" {
	tar -xf "$FIXTURES/store-v1.tar"
	export SNAP_DIR=$PWD/store
	mkdir -p want/sub
	printf 'hello\n' > want/a.txt
	seq 1 1000 > want/sub/b.txt
	seq 1 40000 > want/big
	ln -s a.txt want/link
	assert_equal "$(od -An -tx1 -j8 -N4 "$(IDX)" | tr -d ' ')" 00000001
	run -0 snap-fsck
	assert_output ""
	snap-restore main out
	diff -r want out
	# A second snapshot adds a pack of the new kind; gc merges the two.
	echo new > want/new
	snap-snapshot -m v2 want > /dev/null
	run -0 snap-gc --prune=now
	assert_line "packs: 1 written, 2 removed; 2 loose objects packed"
	assert_equal "$(od -An -tx1 -j8 -N4 "$(IDX)" | tr -d ' ')" 00000002
	run -0 snap-fsck
	assert_output ""
	snap-restore main out2
	diff -r want out2
	rm want/new
	snap-restore main~1 out1
	diff -r want out1
}

@test "random damage to a pack or its index never crashes a reader nor yields wrong bytes" {
	# make fuzz-pack runs many more rounds, from a seed of the clock.
	similar_files src 40
	make_file 200000 src/big
	mkdir src/d
	echo x > src/d/y
	snap-write-tree src > /dev/null
	assert_equal "$(ls "$SNAP_DIR"/objects/pack/*.idx | wc -l)" 1
	seed=${SNAP_FUZZ_SEED:-1}
	echo "seed $seed"
	run -0 test-fuzz-pack "$SNAP_DIR" "${SNAP_FUZZ_ROUNDS:-1000}" "$seed"
	assert_output --regexp "^${SNAP_FUZZ_ROUNDS:-1000} rounds: [0-9]+ objects read, [0-9]+ refused$"
}
