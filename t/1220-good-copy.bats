#!/usr/bin/env bats
# 1: object database — a copy that fails verification is not the end:
# readers use another good copy, writers write a bad one again, and fsck
# reports the bad copy, saying where the good one is.

load test_helper

local_setup() {
	init_store
	mkdir src
	make_file 200000 src/big	# a frame of its own
	echo small > src/small		# a member of a block
	snap-snapshot -m s src > /dev/null
	IDX=$(echo "$SNAP_DIR"/objects/pack/*.idx)
	PACK=${IDX%.idx}.pack
	BIG=$(b3_blob_id src/big)
	SMALL=$(b3_blob_id src/small)
}

# Damages the packed frame of blob $1 in its middle.
damage_packed() {
	local off len
	read -r off len < <(idx_records "$IDX" | awk -v id="$1" '$1 == id {print $2, $3}')
	poke "$PACK" $((off + len / 2)) ffff
}

@test "a corrupt packed copy and a good loose one: every reader uses the good one" {
	damage_packed "$BIG"
	run -128 --separate-stderr snap-cat-file -p "$BIG"
	snap-hash-object -w src/big > /dev/null
	[ -f "$(object_path "$BIG")" ]
	run -0 --separate-stderr snap-cat-file -p "$BIG"
	assert_equal "$stderr" ""
	snap-cat-file -p "$BIG" | cmp - src/big
	snap-cat-file blob "$BIG" | cmp - src/big
	# checkout streams it.
	snap-restore main out
	diff -r src out
	run -9 --separate-stderr snap-fsck
	assert_line --regexp "^error (hash-mismatch|corrupt-object) $BIG object '$BIG' is corrupt \($PACK at offset [0-9]+\): .*; a good copy is in $(object_path "$BIG")$"
}

@test "a corrupt block and good loose copies: readers use them, fsck names both" {
	damage_packed "$SMALL"
	snap-hash-object -w src/small > /dev/null
	snap-cat-file -p "$SMALL" | cmp - src/small
	snap-restore main out
	diff -r src out
	run -9 --separate-stderr snap-fsck
	assert_line --regexp "^error (hash-mismatch|corrupt-object) $SMALL object '$SMALL' is corrupt \($PACK at offset [0-9]+\): .*; a good copy is in $(object_path "$SMALL")$"
}

@test "no good copy: the corrupt one is reported, and fsck has no good copy to name" {
	damage_packed "$BIG"
	run -128 --separate-stderr snap-cat-file -p "$BIG"
	[[ "$stderr" == "snap-cat-file: fatal: object '$BIG' is corrupt ($PACK at offset "* ]]
	run -9 --separate-stderr snap-fsck --no-dangling
	assert_line --regexp "^error (hash-mismatch|corrupt-object) $BIG object '$BIG' is corrupt \($PACK at offset [0-9]+\): [^;]*$"
}

@test "hash-object -w of content whose loose copy is corrupt writes it again" {
	echo loose > f
	id=$(snap-hash-object -w f)
	corrupt_flip_byte "$id"
	run -128 --separate-stderr snap-cat-file -p "$id"
	run -0 snap-hash-object -w f
	assert_output "$id"
	run -0 snap-cat-file -p "$id"
	assert_output "loose"
	run -0 snap-fsck --no-dangling
	assert_output ""
}

@test "hash-object -w of a chunked file whose packed chunk is corrupt writes the chunk again" {
	make_file 3000000 huge
	id=$(snap-hash-object -w huge)
	idx=$(echo "$SNAP_DIR"/objects/pack/*.idx)
	[ "$(echo "$idx" | wc -w)" -eq 2 ]
	idx=$(ls -t "$SNAP_DIR"/objects/pack/*.idx | head -1)
	IDX=$idx PACK=${idx%.idx}.pack
	chunk=$(idx_records "$IDX" | awk 'NR == 3 {print $1}')
	damage_packed "$chunk"
	run -128 --separate-stderr sh -c "snap-cat-file -p $id > /dev/null"
	run -0 snap-hash-object -w huge
	assert_output "$id"
	snap-cat-file -p "$id" | cmp - huge
	run -9 --separate-stderr snap-fsck --no-dangling
	# The damage may spare some members of the chunk's block; those it
	# hits are reported, each with the new copy.
	assert_line --regexp "^error (hash-mismatch|corrupt-object) [0-9a-f]{64} .*; a good copy is in $SNAP_DIR/objects/pack/pack-[0-9a-f]{64}.pack at offset [0-9]+$"
}

@test "a file whose only stored copy is corrupt, written twice by one process, is stored again once" {
	damage_packed "$BIG"
	# The first write reads the bad copy and writes a new one; the
	# second finds the new one good.
	printf '%s\n' src/big src/big | snap-hash-object -w --stdin-paths > ids
	assert_equal "$(sort -u ids)" "$BIG"
	[ -f "$(object_path "$BIG")" ]
	snap-restore main out
	diff -r src out
}

@test "a snapshot taken after fsck found the only copy corrupt stores it again" {
	damage_packed "$BIG"
	run -9 --separate-stderr snap-fsck --no-dangling
	run -0 cat "$SNAP_DIR/bad-objects"
	assert_output "$BIG"
	# The stat cache says nothing changed; the file is read again anyway.
	snap-snapshot -m again src > /dev/null
	snap-restore main out
	diff -r src out
	run -0 snap-gc --prune=now
	assert_file_not_exists "$SNAP_DIR/bad-objects"
	run -0 snap-fsck --no-dangling
	assert_output ""
	rm -r out
	snap-restore main~1 out
	diff -r src out
}

@test "a snapshot taken after fsck found a chunk of a big file corrupt stores the chunk again" {
	make_file 3000000 src/huge
	snap-snapshot -m huge src > /dev/null
	idx=$(ls -t "$SNAP_DIR"/objects/pack/*.idx | head -1)
	IDX=$idx PACK=${idx%.idx}.pack
	chunk=$(idx_records "$IDX" | awk 'NR == 3 {print $1}')
	damage_packed "$chunk"
	run -9 --separate-stderr snap-fsck --no-dangling
	run -0 grep -c . "$SNAP_DIR/bad-objects"
	snap-snapshot -m again src > /dev/null
	snap-restore main out
	diff -r src out
	run -0 snap-gc --prune=now
	assert_file_not_exists "$SNAP_DIR/bad-objects"
	run -0 snap-fsck --no-dangling
	assert_output ""
}

@test "a damaged bad-object list is advice: ignored where it does not parse" {
	damage_packed "$BIG"
	snap-fsck --no-dangling > /dev/null || true
	{ echo garbage; printf '%s' "${SMALL:0:20}"; } >> "$SNAP_DIR/bad-objects"
	snap-snapshot -m again src > /dev/null
	snap-restore main out
	diff -r src out
	run -0 snap-gc --prune=now
	assert_file_not_exists "$SNAP_DIR/bad-objects"
	head -c 100 /dev/urandom > "$SNAP_DIR/bad-objects"
	run -0 snap-fsck --no-dangling
	assert_output ""
	snap-snapshot -m third src > /dev/null
	run -0 snap-gc --prune=now
	assert_file_not_exists "$SNAP_DIR/bad-objects"
}

@test "fsck of a store it may not write still reports, and records nothing" {
	[ "$(id -u)" = 0 ] || skip "needs root to run fsck as another user"
	damage_packed "$BIG"
	RO=$(mktemp -d /tmp/snap-ro.XXXXXX)
	chmod 755 "$RO"
	cp -a "$SNAP_DIR" "$RO/store"
	chown -R 65534:65534 "$RO/store"
	chmod -R a-w "$RO/store"
	run -9 --separate-stderr setpriv --reuid=65534 --regid=65534 --clear-groups \
		env SNAP_DIR="$RO/store" PATH="$PATH" snap-fsck --no-dangling
	assert_line --regexp "^error (hash-mismatch|corrupt-object) $BIG "
	assert_equal "$stderr" ""
	assert_file_not_exists "$RO/store/bad-objects"
	chmod -R u+w "$RO"
	rm -rf "$RO"
}

@test "a bad-object list that is a fifo or a directory is not waited on, and a failed record is a warning" {
	damage_packed "$BIG"
	mkfifo "$SNAP_DIR/bad-objects"
	run -0 timeout 60 snap-snapshot -m again src
	rm "$SNAP_DIR/bad-objects"
	mkdir "$SNAP_DIR/bad-objects"
	run -9 --separate-stderr timeout 60 snap-fsck --no-dangling
	assert_line --regexp "^warning bad-objects-unrecorded bad-objects cannot replace '.*/bad-objects': Is a directory$"
}
