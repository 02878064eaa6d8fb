#!/usr/bin/env bats
# snap-fsck on bundle snapshots: every bundle present, verified, canonical,
# and sequences rising along the chain.

load test_helper

local_setup() {
	init_store
}

# snapshot_of BUNDLE-ID... [-p PARENT]: writes a bundle snapshot by hand.
snapshot_of() {
	local parent=
	{
		while [ $# -gt 0 ]; do
			case $1 in
			-p) parent=$2; shift 2 ;;
			*) printf 'bundle %s\n' "$1"; shift ;;
			esac
		done
		[ -z "$parent" ] || printf 'parent %s\n' "$parent"
		printf 'time 0 +0000\nhost -\n\n'
	} | snap-hash-object -t snapshot -w --stdin
}

bundle_obj() {
	printf '%s' "$1" | snap-hash-object -t bundle -w --literally --stdin
}

@test "a sound bundle chain checks clean" {
	json_bundles 1 3 | snap-bundle-import > /dev/null
	json_bundles 4 4 | snap-bundle-import > /dev/null
	run -0 snap-fsck
	assert_output ''
}

@test "a missing bundle is reported with its snapshot; exit bit 2" {
	json_bundles 1 3 | snap-bundle-import > /dev/null
	snap=$(snap-rev-parse bundles)
	b=$(snap-cat-file -p "$snap" | sed -n '2s/^bundle //p')
	rm "$(object_path "$b")"
	run -2 snap-fsck --no-dangling
	assert_output "error missing-object $b bundle, referenced by $snap"
	run -128 --separate-stderr snap-bundle-export bundles
	assert_equal "$stderr" "snap-bundle-export: fatal: object '$b' not found"
}

@test "a damaged bundle is a hash mismatch; exit bit 1" {
	json_bundles 1 2 | snap-bundle-import > /dev/null
	b=$(snap-cat-file -p "$(snap-rev-parse bundles)" | sed -n '1s/^bundle //p')
	corrupt_flip_byte "$b"
	run -1 snap-fsck --no-dangling
	assert_line --partial "error hash-mismatch $b"
}

@test "a bundle not in canonical form is malformed" {
	b=$(bundle_obj '{"sequence": 1, "operations": []}')
	s=$(snapshot_of "$b")
	snap-update-ref refs/snapshots/x "$s"
	run -1 snap-fsck --no-dangling
	assert_output "error malformed-bundle $b not in canonical form"
	b2=$(bundle_obj '{"sequence":1}')
	run -1 snap-fsck "$b2"
	assert_output "error malformed-object $b2 \$.operations: missing"
}

@test "sequences that do not rise, in a snapshot or over its parent" {
	b1=$(bundle_obj '{"operations":[],"sequence":1}')
	b2=$(bundle_obj '{"operations":[],"sequence":2}')
	s=$(snapshot_of "$b2" "$b1")
	snap-update-ref refs/snapshots/x "$s"
	run -1 snap-fsck --no-dangling
	assert_output "error bundle-order $s bundle 2 ($b1) has sequence 1, not above 2"
	init_store "$BATS_TEST_TMPDIR/s2"
	b1=$(bundle_obj '{"operations":[],"sequence":1}')
	b2=$(bundle_obj '{"operations":[],"sequence":2}')
	ok=$(snapshot_of "$b1" "$b2")
	child=$(snapshot_of "$b2" -p "$ok")
	snap-update-ref refs/snapshots/x "$child"
	run -1 snap-fsck --no-dangling
	assert_output "error bundle-order $child bundle 1 ($b2) has sequence 2, not above 2"
}

@test "a snapshot listing a blob as a bundle: wrong type" {
	blob=$(echo data | snap-hash-object -w --stdin)
	s=$(snapshot_of "$blob")
	snap-update-ref refs/snapshots/x "$s"
	run -2 snap-fsck --no-dangling
	assert_output "error wrong-type $blob is a blob, expected a bundle, referenced by $s"
}

@test "gc refuses to collect when a bundle is missing, and deletes nothing" {
	json_bundles 1 2 | snap-bundle-import > /dev/null
	b=$(snap-cat-file -p "$(snap-rev-parse bundles)" | sed -n '1s/^bundle //p')
	rm "$(object_path "$b")"
	before=$(store_listing)
	run -128 snap-gc --prune=now
	assert_equal "$(store_listing)" "$before"
}
