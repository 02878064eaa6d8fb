#!/usr/bin/env bats
# 6: large files are stored as content-defined chunks and a chunk list

load test_helper

# The lines "<chunk id> <size>" of the chunk list stored under blob $1.
chunk_list() {
	zstd -dc "$(object_path "$1" "${2:-$SNAP_DIR}")" | tr '\0' '\n' | sed 1d
}

# The bytes of file $1 from offset $2, $3 of them.
file_range() {
	tail -c +$(($2 + 1)) "$1" | head -c "$3"
}

# Bytes the store takes on disk.
store_bytes() {
	du -sb "${1:-$SNAP_DIR}" | cut -f1
}

# Overwrites $3 bytes of file $1 at offset $2 with other pseudo-random bytes.
scribble() {
	make_file "$3" patch
	dd if=patch of="$1" bs=4096 seek="$2" oflag=seek_bytes conv=notrunc status=none
}

@test "a chunked blob keeps the id b3sum gives, with and without -w" {
	init_store
	make_file 5000000 f
	cat f f > big
	id=$(b3_blob_id big)
	run -0 snap-hash-object big
	assert_output "$id"
	run -0 snap-hash-object -w big
	assert_output "$id"
	run -0 snap-cat-file -t "$id"
	assert_output blob
	run -0 snap-cat-file -s "$id"
	assert_output 10000000
	run -0 sh -c 'cat big | snap-hash-object -w --stdin'
	assert_output "$id"
}

@test "a large file is stored as a chunk list of blobs that add up to it" {
	init_store
	make_file 6000000 big
	id=$(snap-hash-object -w big)
	assert_equal "$(zstd -dc "$(object_path "$id")" | head -c 15 | tr '\0' '|')" 'chunks 6000000|'
	chunk_list "$id" > list
	[ "$(wc -l < list)" -gt 20 ]
	off=0 n=0
	while read -r cid size; do
		n=$((n + 1))
		[ "$size" -le 262144 ]
		if [ $((off + size)) -lt 6000000 ]; then [ "$size" -ge 16384 ]; fi
		# Every few chunks: it is the blob of exactly those bytes.
		if [ $((n % 7)) -eq 1 ]; then
			file_range big "$off" "$size" > chunk
			assert_equal "$cid" "$(b3_blob_id chunk)"
			run -0 snap-cat-file -s "$cid"
			assert_output "$size"
		fi
		off=$((off + size))
	done < list
	assert_equal "$off" 6000000
}

@test "files of up to 1 MiB stay single objects" {
	init_store
	make_file 1048576 f
	id=$(snap-hash-object -w f)
	assert_equal "$(zstd -dc "$(object_path "$id")" | head -c 13 | tr '\0' '|')" 'blob 1048576|'
	run -0 find "$SNAP_DIR/objects" -type f
	assert_output "$(object_path "$id")"
}

@test "cat-file -p of a chunked blob gives the bytes back" {
	init_store
	make_file 3000000 a
	{ cat a; head -c 4000000 /dev/zero; cat a; } > big
	id=$(snap-hash-object -w big)
	snap-cat-file -p "$id" > out
	cmp big out
	snap-cat-file blob "$id" > out2
	cmp big out2
}

@test "a multi-MiB file in a tree comes back byte-identical from checkout" {
	init_store
	mkdir src
	make_file 9000000 src/big
	printf small > src/small
	tree=$(snap-write-tree src)
	run -0 snap-checkout "$tree" out
	cmp src/big out/big
	cmp src/small out/small
	run -0 snap-fsck --no-dangling
}

@test "snapshot and restore of a chunked file" {
	init_store
	mkdir src
	make_file 12000000 src/db
	snap-snapshot -r main src >/dev/null
	run -0 snap-restore main out
	cmp src/db out/db
}

@test "editing 1% of a 64 MiB file stores only a few % new" {
	init_store
	make_file 67108864 big
	snap-hash-object -w big >/dev/null
	before=$(store_bytes)
	# Ten scattered 64 KiB ranges: 1% of the file.
	for i in 0 1 2 3 4 5 6 7 8 9; do
		scribble big $((i * 6700000 + 12345)) 65536
	done
	id=$(snap-hash-object -w big)
	assert_equal "$id" "$(b3_blob_id big)"
	grown=$(($(store_bytes) - before))
	echo "grown by $grown bytes"
	# About 2.6% expected; at most 5%.
	[ "$grown" -lt $((67108864 / 20)) ]
	snap-cat-file blob "$id" | cmp - big
}

@test "inserting bytes in the middle still deduplicates the rest" {
	init_store
	make_file 33554432 big
	snap-hash-object -w big >/dev/null
	before=$(store_bytes)
	{ head -c 16000000 big; printf 'inserted in the middle'; tail -c +16000001 big; } > big2
	id=$(snap-hash-object -w big2)
	assert_equal "$id" "$(b3_blob_id big2)"
	grown=$(($(store_bytes) - before))
	echo "grown by $grown bytes"
	[ "$grown" -lt $((33554432 / 50)) ]
	snap-cat-file blob "$id" | cmp - big2
}

@test "the same file gives the same chunks and ids in two stores" {
	make_file 7000000 big
	init_store "$BATS_TEST_TMPDIR/one"
	a=$(snap-hash-object -w big)
	init_store "$BATS_TEST_TMPDIR/two"
	b=$(snap-hash-object -w big)
	assert_equal "$a" "$b"
	assert_equal "$(chunk_list "$a" one)" "$(chunk_list "$b" two)"
	run -0 snap-cat-file --store one --batch-check --batch-all-objects
	first=$output
	run -0 snap-cat-file --store two --batch-check --batch-all-objects
	assert_equal "$output" "$first"
}

@test "writing a chunked file again stores nothing new" {
	init_store
	make_file 5000000 big
	id=$(snap-hash-object -w big)
	before=$(store_bytes)
	run -0 snap-hash-object -w big
	assert_output "$id"
	assert_equal "$(store_bytes)" "$before"
}

@test "fsck finds a missing chunk (exit bit 2)" {
	make_file 3000000 big
	init_store "$BATS_TEST_TMPDIR/full"
	id=$(snap-hash-object -w big)
	chunk_list "$id" > list
	# A store with the list and every chunk but the third.
	init_store
	mkdir -p "$(dirname "$(object_path "$id")")"
	cp "$(object_path "$id" full)" "$(object_path "$id")"
	off=0 n=0
	while read -r cid size; do
		n=$((n + 1))
		if [ "$n" -eq 3 ]; then gone=$cid; else file_range big "$off" "$size" | snap-hash-object -w --stdin >/dev/null; fi
		off=$((off + size))
	done < list
	run -2 snap-fsck --no-dangling
	assert_output "error missing-chunk $gone a chunk of blob $id"
	run -128 --separate-stderr snap-cat-file -p "$id"
	[[ "$stderr" == "snap-cat-file: fatal: object '$id' is corrupt ("*"): its chunk '$gone' is missing" ]]
}

@test "fsck finds a missing chunk of a reachable file once" {
	init_store
	mkdir src
	make_file 3000000 src/big
	snap-snapshot -r main src >/dev/null
	id=$(b3_blob_id src/big)
	# A copy of the store, object by object, without the second chunk.
	gone=$(chunk_list "$id" | sed -n 2p | cut -d' ' -f1)
	snap-cat-file --batch-check --batch-all-objects | cut -d' ' -f1 | grep -v "^$gone\$" > keep
	mkdir copy
	snap-init -q copy/store
	while read -r o; do
		t=$(snap-cat-file -t "$o")
		if [ "$o" = "$id" ]; then
			mkdir -p "$(dirname "$(object_path "$id" copy/store)")"
			cp "$(object_path "$id")" "$(object_path "$id" copy/store)"
		else
			snap-cat-file "$t" "$o" | snap-hash-object -t "$t" -w --store copy/store --stdin >/dev/null
		fi
	done < keep
	cp -r "$SNAP_DIR/refs" copy/store/
	run -2 snap-fsck --store copy/store --no-dangling
	assert_output "error missing-chunk $gone a chunk of blob $id"
	run -128 snap-gc --store copy/store --prune=now
	assert_output --partial "object '$gone' is missing"
}

@test "fsck finds a corrupt chunk (exit bit 1) and cat-file names it" {
	init_store
	make_file 3000000 big
	id=$(snap-hash-object -w big)
	read -r cid size < <(chunk_list "$id" | sed -n 4p)
	idx=$(ls "$SNAP_DIR"/objects/pack/*.idx)
	read -r off len < <(idx_records "$idx" | awk -v id="$cid" '$1 == id {print $2, $3}')
	poke "${idx%.idx}.pack" $((off + len / 2)) 00ff00ff
	# The chunk shares its block with others: the first damaged one of
	# the blob is named.
	idx_records "$idx" | awk -v o="$off" '$2 == o {print $1}' > members
	run snap-fsck --no-dangling
	[ "$status" -eq 9 ]	# 1, and 8 for the pack's checksum
	bad=$(printf '%s\n' "${lines[@]}" | sed -n "s/^error corrupt-chunk $id object '\([0-9a-f]*\)' is corrupt .*(a chunk of blob '$id')$/\1/p")
	grep -qx "$bad" members
	assert_line --regexp "^error (hash-mismatch|corrupt-object) $bad "
	run -128 --separate-stderr snap-cat-file -p "$id"
	[[ "$stderr" == "snap-cat-file: fatal: object '$bad' is corrupt ("*"(a chunk of blob '$id')" ]]
}

@test "a damaged loose copy of a packed chunk: fsck reports it, reads use the pack" {
	init_store
	make_file 3000000 big
	id=$(snap-hash-object -w big)
	read -r cid size < <(chunk_list "$id" | sed -n 4p)
	off=0
	while read -r c s; do [ "$c" = "$cid" ] && break; off=$((off + s)); done < <(chunk_list "$id")
	file_range big "$off" "$size" | snap-hash-object -w --stdin >/dev/null
	corrupt_flip_byte "$cid"
	run -1 snap-fsck --no-dangling
	assert_equal "${#lines[@]}" 1
	assert_line --regexp "^error hash-mismatch $cid object '$cid' is corrupt \($(object_path "$cid")\): hash mismatch; a good copy is in $SNAP_DIR/objects/pack/pack-[0-9a-f]{64}.pack at offset [0-9]+$"
	snap-cat-file -p "$id" | cmp - big
}

@test "fsck and cat-file refuse a chunk list whose sizes do not add up" {
	init_store
	make_file 2000000 big
	id=$(snap-hash-object -w big)
	p=$(object_path "$id")
	{ printf 'chunks 2000000\0'; chunk_list "$id" | sed '$d'; } | zstd -q -c > list
	chmod u+w "$p"
	cp list "$p"
	run -1 snap-fsck --no-dangling
	assert_output --regexp "^error bad-chunk-list $id .*chunk list ends before the blob's size$"
	run -128 --separate-stderr snap-cat-file -p "$id"
	[[ "$stderr" == *"chunk list ends before the blob's size" ]]
}

@test "fsck refuses a chunk list whose chunks are in the wrong order" {
	init_store
	make_file 2000000 big
	id=$(snap-hash-object -w big)
	p=$(object_path "$id")
	{ printf 'chunks 2000000\0'; chunk_list "$id" | awk 'NR == 1 { first = $0; next } { print } NR == 2 { print first }'; } | zstd -q -c > list
	chmod u+w "$p"
	cp list "$p"
	run -1 snap-fsck --no-dangling
	assert_output --regexp "^error bad-chunk-list $id .*hash mismatch$"
}

@test "gc keeps the chunks of a referenced file and drops those of an unreferenced one" {
	init_store
	mkdir keep drop
	make_file 3000000 keep/k
	make_file 4000000 drop/d
	snap-snapshot -r keep keep >/dev/null
	snap-snapshot -r drop drop >/dev/null
	kid=$(b3_blob_id keep/k)
	did=$(b3_blob_id drop/d)
	chunk_list "$kid" | cut -d' ' -f1 > kchunks
	chunk_list "$did" | cut -d' ' -f1 > dchunks
	snap-update-ref -d drop
	age_objects
	run -0 snap-gc --prune=now
	run -1 snap-cat-file -e "$did"
	while read -r c; do run -1 snap-cat-file -e "$c"; done < dchunks
	while read -r c; do run -0 snap-cat-file -e "$c"; done < kchunks
	run -0 snap-fsck --no-dangling
	assert_output ''
	run -0 snap-restore keep out
	cmp keep/k out/k
	# A second gc repacks and still keeps the list loose and whole.
	age_objects
	run -0 snap-gc --prune=now
	assert_file_exists "$(object_path "$kid")"
	snap-cat-file blob "$kid" | cmp - keep/k
}

@test "count-objects counts a chunked blob once, by its chunks" {
	init_store
	mkdir src
	make_file 3000000 src/big
	snap-snapshot -m one src >/dev/null
	id=$(b3_blob_id src/big)
	n=$(chunk_list "$id" | wc -l)
	run -0 snap-count-objects --json
	assert_output --partial "\"blob\":{\"count\":$n,\"bytes\":3000000}"
	assert_output --partial '"chunked":{"count":1,"bytes":3000000}'
	assert_output --partial '"dedup_ratio":1.000'
	run -0 snap-count-objects
	assert_line "chunked   1 blobs, 3000000 bytes, stored as the blobs above"
}

@test "a failed write of a chunked file leaves no chunk list" {
	init_store
	make_file 3000000 big
	id=$(b3_blob_id big)
	run -128 env SNAP_FAULT=fsync:*:EIO snap-hash-object -w big
	assert_file_not_exists "$(object_path "$id")"
	run -1 snap-cat-file -e "$id"
	run -0 snap-fsck
}

@test "hash-object -w of a 256 MiB file keeps its memory flat" {
	init_store
	# Under AddressSanitizer, freed chunk buffers wait in its quarantine
	# (256 MiB by default); keep it small so that the figure is snap's.
	export ASAN_OPTIONS=quarantine_size_mb=8
	make_file 268435456 big
	id=$(/usr/bin/time -f '%M' -o rss snap-hash-object -w big)
	assert_equal "$id" "$(b3_blob_id big)"
	echo "peak RSS $(cat rss) KiB"
	[ "$(cat rss)" -lt 65536 ]
	/usr/bin/time -f '%M' -o rss2 snap-cat-file blob "$id" | cmp - big
	[ "$(cat rss2)" -lt 65536 ]
}
