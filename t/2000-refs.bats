#!/usr/bin/env bats
# 2: refs — snap-update-ref, snap-show-ref, snap-for-each-ref, reflogs

load test_helper

ZERO=0000000000000000000000000000000000000000000000000000000000000000

local_setup() {
	init_store
	mkdir src
	printf 1 > src/f
	T=$(snap-write-tree src)
	S1=$(snap-mksnapshot --time 1000 --host h -m one "$T")
	S2=$(snap-mksnapshot --time 2000 --host h -p "$S1" -m two "$T")
}

@test "update-ref creates a ref file with the id and a newline" {
	run -0 snap-update-ref -m create main "$S1" "$ZERO"
	assert_output ''
	assert_equal "$(cat "$SNAP_DIR/refs/snapshots/main")" "$S1"
	assert_equal "$(stat -c %s "$SNAP_DIR/refs/snapshots/main")" 65
}

@test "update-ref moves a ref when OLD matches" {
	snap-update-ref main "$S1"
	run -0 snap-update-ref main "$S2" "$S1"
	assert_equal "$(snap-rev-parse main)" "$S2"
}

@test "update-ref refuses when OLD does not match, and says the ref moved" {
	snap-update-ref main "$S2"
	run -1 --separate-stderr snap-update-ref main "$S1" "$S1"
	assert_equal "$stderr" "snap-update-ref: fatal: ref 'refs/snapshots/main' moved: expected $S1, found $S2"
	assert_equal "$(snap-rev-parse main)" "$S2"
}

@test "update-ref with OLD of zeros refuses an existing ref" {
	snap-update-ref main "$S1"
	run -1 --separate-stderr snap-update-ref main "$S2" "$ZERO"
	assert_equal "$stderr" "snap-update-ref: fatal: ref 'refs/snapshots/main' already exists (at $S1)"
}

@test "update-ref appends one reflog line per change" {
	snap-update-ref -m "first one" main "$S1"
	snap-update-ref -m "second	tab" main "$S2"
	run -0 awk '{print $1, $2}' "$SNAP_DIR/logs/refs/snapshots/main"
	assert_output "$ZERO $S1
$S1 $S2"
	run -0 sh -c "cut -f2 '$SNAP_DIR/logs/refs/snapshots/main'"
	assert_output "first one
second tab"
	run -0 grep -cE '^[0-9a-f]{64} [0-9a-f]{64} [0-9]+ [+-][0-9]{4}	' "$SNAP_DIR/logs/refs/snapshots/main"
	assert_output 2
}

@test "update-ref -d deletes the ref and its reflog" {
	snap-update-ref main "$S1"
	run -0 snap-update-ref -d main "$S1"
	assert_file_not_exist "$SNAP_DIR/refs/snapshots/main"
	assert_file_not_exist "$SNAP_DIR/logs/refs/snapshots/main"
	run -1 snap-rev-parse --verify -q main
}

@test "update-ref refuses a missing object" {
	before=$(store_listing)
	run -128 --separate-stderr snap-update-ref main 1111111111111111111111111111111111111111111111111111111111111111
	assert_equal "$stderr" "snap-update-ref: fatal: cannot point ref 'refs/snapshots/main' at '1111111111111111111111111111111111111111111111111111111111111111': no such object"
	assert_equal "$(store_listing)" "$before"
}

@test "update-ref refuses a non-snapshot under refs/snapshots but allows it as a tag" {
	run -128 --separate-stderr snap-update-ref main "$T"
	assert_equal "$stderr" "snap-update-ref: fatal: cannot point ref 'refs/snapshots/main' at '$T': a tree, not a snapshot"
	run -0 snap-update-ref refs/tags/t "$T"
}

@test "invalid ref names are refused before any file is touched" {
	before=$(store_listing)
	for name in 'refs/snapshots/a..b' 'refs/snapshots/a//b' 'refs/snapshots/x.lock' \
		'refs/snapshots/.hidden' 'refs/snapshots/a b' 'refs/snapshots/a~1' \
		'refs/snapshots/a:b' 'refs/snapshots/a@{1}' 'refs/snapshots/' "refs/snapshots/$(printf 'a\tb')" \
		'refs/../../etc/passwd' 'refs/snapshots/a*'; do
		run -128 --separate-stderr snap-update-ref "$name" "$S1"
		[[ "$stderr" == "snap-update-ref: fatal: invalid ref name "* ]] || { echo "$name: $stderr"; false; }
	done
	assert_equal "$(store_listing)" "$before"
}

@test "a lock is reported with its age and how to clear it; an empty one past 10 s is stale" {
	snap-update-ref main "$S1"
	touch "$SNAP_DIR/refs/snapshots/main.lock"
	run -1 --separate-stderr snap-update-ref main "$S2" "$S1"
	assert_equal "$stderr" "snap-update-ref: fatal: ref 'refs/snapshots/main' is locked: '$SNAP_DIR/refs/snapshots/main.lock' exists (age 0 s, no holder recorded); if no snap process is using the store, remove it"
	assert_equal "$(snap-rev-parse main)" "$S1"
	touch -d '-90 seconds' "$SNAP_DIR/refs/snapshots/main.lock"
	run -0 snap-update-ref main "$S2" "$S1"
	assert_equal "$(snap-rev-parse main)" "$S2"
	assert_file_not_exist "$SNAP_DIR/refs/snapshots/main.lock"
}

@test "a failed rename leaves the old ref and no lock file" {
	snap-update-ref main "$S1"
	SNAP_FAULT=rename:1:EIO run -128 --separate-stderr snap-update-ref main "$S2" "$S1"
	[[ "$stderr" == *"Input/output error" ]]
	assert_equal "$(snap-rev-parse main)" "$S1"
	assert_file_not_exist "$SNAP_DIR/refs/snapshots/main.lock"
}

@test "show-ref lists refs sorted, and filters by tail" {
	snap-update-ref main "$S2"
	snap-update-ref nightly "$S1"
	snap-update-ref refs/tags/v1 "$T"
	run -0 snap-show-ref
	assert_output "$S2 refs/snapshots/main
$S1 refs/snapshots/nightly
$T refs/tags/v1"
	run -0 snap-show-ref nightly
	assert_output "$S1 refs/snapshots/nightly"
	run -1 snap-show-ref nothing
	run -0 snap-show-ref -s --verify refs/tags/v1
	assert_output "$T"
	run -128 snap-show-ref --verify refs/tags/none
}

@test "for-each-ref formats every ref" {
	snap-update-ref main "$S2"
	snap-update-ref refs/tags/v1 "$T"
	run -0 snap-for-each-ref
	assert_output "$S2 snapshot	refs/snapshots/main
$T tree	refs/tags/v1"
	run -0 snap-for-each-ref --format='%(refname:short)=%(objecttype)' refs/tags/
	assert_output "v1=tree"
	run -0 sh -c "snap-for-each-ref -z --format='%(refname)' | tr '\0' '|'"
	assert_output "refs/snapshots/main|refs/tags/v1|"
}

@test "rev-parse resolves refs, prefixes, parents and paths" {
	snap-update-ref main "$S2"
	run -0 snap-rev-parse main refs/snapshots/main "${S2:0:10}" main^ main~1 'main^0' 'main:' main:f
	assert_output "$S2
$S2
$S2
$S1
$S1
$S2
$T
$(b3_blob_id src/f)"
	run -0 snap-rev-parse --short main
	assert_output "${S2:0:12}"
}

@test "rev-parse errors: unknown name, no parent, bad path" {
	snap-update-ref main "$S1"
	run -128 --separate-stderr snap-rev-parse nosuch
	assert_equal "$stderr" "snap-rev-parse: fatal: unknown revision 'nosuch'"
	run -128 --separate-stderr snap-rev-parse main^
	assert_equal "$stderr" "snap-rev-parse: fatal: 'main^': snapshot '$S1' has no parent 1"
	run -128 --separate-stderr snap-rev-parse main:nope
	assert_equal "$stderr" "snap-rev-parse: fatal: 'main:nope': path 'nope' not found"
	run -1 --separate-stderr snap-rev-parse --verify -q nosuch
	assert_equal "$stderr" ''
}

@test "rev-parse --check-ref-name" {
	run -0 snap-rev-parse --check-ref-name refs/snapshots/ok
	assert_output refs/snapshots/ok
	run -128 --separate-stderr snap-rev-parse --check-ref-name refs/snapshots/bad..name
	assert_equal "$stderr" "snap-rev-parse: fatal: invalid ref name 'refs/snapshots/bad..name': contains '..'"
}

@test "rev-parse --full-ref-name: NAME is refs/snapshots/NAME, refs/... as it is" {
	run -0 snap-rev-parse --full-ref-name main
	assert_output refs/snapshots/main
	run -0 snap-rev-parse --full-ref-name refs/tags/v1
	assert_output refs/tags/v1
	run -0 snap-rev-parse --full-ref-name -- -x
	assert_output refs/snapshots/-x
	run -128 --separate-stderr snap-rev-parse --full-ref-name bad..name
	assert_equal "$stderr" "snap-rev-parse: fatal: invalid ref name 'refs/snapshots/bad..name': contains '..'"
	run -129 --separate-stderr snap-rev-parse --full-ref-name
	run -129 --separate-stderr snap-rev-parse --check-ref-name --full-ref-name main
}

@test "a reflog line cut short by a crash is ignored, not an error" {
	snap-update-ref main "$S1"
	printf '%s %s 12' "$S1" "$S2" >> "$SNAP_DIR/logs/refs/snapshots/main"
	run -0 snap-fsck --no-dangling
	refute_output --partial bad-reflog
	run -0 snap-gc
}
