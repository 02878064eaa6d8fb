#!/usr/bin/env bats
# 3: fsck — each kind of damage gives its check id, object and exit bits

load test_helper

local_setup() {
	init_store
	mkdir -p src/d
	make_file 3000 src/a
	make_file 4000 src/d/b
	# Loose copies, so that the tests can damage single files.
	A=$(snap-hash-object -w src/a)
	B=$(snap-hash-object -w src/d/b)
	snap-snapshot -m one src >/dev/null
	printf more > src/c
	snap-snapshot -m two src >/dev/null
}

@test "a sound store: exit 0, nothing but information" {
	run -0 snap-fsck
	refute_output --partial error
}

@test "a flipped byte: corrupt-object or hash-mismatch, bit 1" {
	corrupt_flip_byte "$A"
	run -1 snap-fsck
	assert_output --regexp "^error (hash-mismatch|corrupt-object) $A "
}

@test "a swapped object file: hash-mismatch, bit 1" {
	corrupt_swap "$A" "$B"
	run -1 snap-fsck
	assert_line --regexp "^error hash-mismatch $A object '$A' is corrupt \(.*\): hash mismatch$"
}

@test "a truncated object: corrupt-object, bit 1" {
	corrupt_truncate "$B"
	run -1 snap-fsck
	assert_line --regexp "^error corrupt-object $B "
}

@test "a deleted object deep in an old snapshot: missing-object, bit 2" {
	corrupt_delete "$B"
	run -2 snap-fsck
	assert_line --regexp "^error missing-object $B blob, referenced by [0-9a-f]{64}$"
}

@test "a malformed tree: malformed-tree, bit 1" {
	bad=$(malformed_tree "$A")
	run -1 snap-fsck
	assert_line "error malformed-tree $bad malformed tree: line 2: entries not sorted or duplicated"
}

@test "a tree where a blob belongs: wrong-type, bit 2" {
	t=$(snap-rev-parse main:d)
	tree=$(printf 'file 0644 0 0 0.000000000 1 %s - x\n' "$t" | snap-hash-object -t tree -w --stdin)
	s=$(snap-mksnapshot --time 1 --host h "$tree")
	snap-update-ref refs/snapshots/bad "$s"
	run -2 snap-fsck
	assert_line "error wrong-type $t is a tree, expected a blob, referenced by $tree"
}

@test "a ref pointing at nothing: ref-missing-object, bit 4" {
	printf '%s\n' 1111111111111111111111111111111111111111111111111111111111111111 > "$SNAP_DIR/refs/snapshots/lost"
	run -4 snap-fsck
	assert_line "error ref-missing-object refs/snapshots/lost points at missing object 1111111111111111111111111111111111111111111111111111111111111111"
}

@test "a malformed ref file: bad-ref, bit 4" {
	printf 'garbage\n' > "$SNAP_DIR/refs/snapshots/junk"
	run -4 snap-fsck
	assert_line --regexp "^error bad-ref refs/snapshots/junk ref 'refs/snapshots/junk' is malformed"
}

@test "a ref to a non-snapshot: ref-not-snapshot, bit 4" {
	snap-rev-parse main: | sed 's/$//' > "$SNAP_DIR/refs/snapshots/tree"
	run -4 snap-fsck
	assert_line --regexp "^error ref-not-snapshot refs/snapshots/tree points at [0-9a-f]{64}, a tree$"
}

@test "a malformed reflog: bad-reflog, bit 4" {
	printf 'not a reflog line\n' >> "$SNAP_DIR/logs/refs/snapshots/main"
	run -4 snap-fsck
	assert_line --regexp "^error bad-reflog refs/snapshots/main reflog '.*' line 3 is malformed$"
}

@test "damage of several kinds adds up the bits" {
	corrupt_flip_byte "$A"
	printf 'garbage\n' > "$SNAP_DIR/refs/snapshots/junk"
	run -5 snap-fsck
}

@test "a corrupt pack: pack-corrupt, bit 8 (and the objects in it)" {
	p=$(ls "$SNAP_DIR"/objects/pack/*.pack | head -1)
	chmod u+w "$p"
	printf 'X' | dd of="$p" bs=1 seek=20 conv=notrunc 2>/dev/null
	run snap-fsck
	[ $((status & 8)) -eq 8 ]
	assert_line --regexp "^error pack-corrupt .*checksum mismatch$"
}

@test "a dangling object is information; --unreachable lists them all" {
	d=$(printf 'lonely' | snap-hash-object -w --stdin)
	run -0 snap-fsck
	assert_line "info dangling $d blob"
	run -0 snap-fsck --no-dangling
	refute_output --partial "$d"
	run -0 snap-fsck --unreachable
	assert_line "info unreachable $d blob"
}

@test "stray files, old temp files and stale locks are warnings" {
	touch "$SNAP_DIR/objects/stray"
	touch -d '-2 hours' "$SNAP_DIR/objects/tmp/obj-old"
	touch "$SNAP_DIR/refs/snapshots/main.lock"
	run -0 snap-fsck
	assert_line "warning stray-file $SNAP_DIR/objects/stray not an object directory"
	assert_line --regexp "^warning old-temp-file $SNAP_DIR/objects/tmp/obj-old temporary file [0-9]+ s old"
	assert_line --regexp "^warning lock-file $SNAP_DIR/refs/snapshots/main.lock lock file [0-9]+ s old"
}

@test "--json gives one JSON object per finding" {
	corrupt_delete "$B"
	run -2 snap-fsck --json
	assert_line --regexp "^\{\"severity\":\"error\",\"check\":\"missing-object\",\"object\":\"$B\",\"detail\":\"blob, referenced by [0-9a-f]{64}\"\}$"
}

@test "--connectivity-only does not read blob contents" {
	corrupt_flip_byte "$A"
	run -0 snap-fsck --connectivity-only
	corrupt_delete "$A"
	run -2 snap-fsck --connectivity-only
}

@test "fsck OBJECT checks only what it reaches" {
	corrupt_flip_byte "$A"
	run -0 snap-fsck "$(snap-rev-parse main:d)"
	run -1 snap-fsck "$(snap-rev-parse main)"
}

@test "a chain of 300 snapshots and a tree 3000 levels deep are walked" {
	t=$(snap-rev-parse main:)
	p=$(snap-rev-parse main)
	for i in $(seq 1 300); do
		p=$(snap-mksnapshot --time "$i" --host h -p "$p" "$t")
	done
	snap-update-ref main "$p"
	# A deep directory, built bottom-up with mktree.
	d=$(snap-mktree < /dev/null)
	for i in $(seq 1 3000); do
		d=$(printf 'dir 0755 0 0 0.000000000 0 %s - d\n' "$d" | snap-mktree)
	done
	s=$(snap-mksnapshot --time 1 --host h "$d")
	snap-update-ref deep "$s"
	run -0 snap-fsck
}

@test "the reachability walk handles 100,000 snapshots and 10,000 levels (make stress: a million)" {
	n=${SNAP_DEEP_CHAIN:-100000}
	run -0 test-deep-walk "$BATS_TEST_TMPDIR/deep" "$n" 10000
	assert_line --index 0 "walked $((n + 10001)) objects: $n snapshots, 10000 levels"
	snap-update-ref --store "$BATS_TEST_TMPDIR/deep" main "${lines[1]}"
	run -0 snap-fsck --store "$BATS_TEST_TMPDIR/deep"
	assert_output ''
}
