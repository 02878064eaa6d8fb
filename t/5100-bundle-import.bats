#!/usr/bin/env bats
# snap-bundle-import and snap-bundle-export with JSON bundles.

load test_helper

local_setup() {
	init_store
	unset SNAP_HOST
}

# The bundle ids a bundle snapshot lists, in order.
bundle_ids() {
	snap-cat-file -p "$(snap-rev-parse "$1")" | sed -n 's/^bundle //p'
}

@test "JSON Lines in any order: one snapshot listing the bundles by sequence, the ref moved" {
	json_bundles 1 3 | tac > in.jsonl
	run -0 --separate-stderr snap-bundle-import in.jsonl
	id=${output%% *}
	assert_output "$id refs/snapshots/bundles"
	assert_equal "$stderr" ''
	assert_equal "$(snap-rev-parse bundles)" "$id"
	json_bundles 1 3 > want
	for b in $(bundle_ids bundles); do snap-cat-file bundle "$b"; echo; done > got
	run -0 diff want got
	run -0 snap-cat-file -p "$id"
	assert_line --index 3 'time 0 +0000'
	assert_line --index 4 'host -'
	assert_equal "$(snap-cat-file -t "$(bundle_ids bundles | head -1)")" bundle
}

@test "a JSON array, a single object and standard input are read too" {
	printf '[{"sequence":1,"operations":[]},\n {"sequence":2,"operations":[1]}]' > a.json
	run -0 snap-bundle-import -r arr a.json
	printf '{"sequence": 3, "operations": []}' > one.json
	run -0 snap-bundle-import -r arr --format json one.json
	printf '{"sequence":4,"operations":[]}\n' | snap-bundle-import -r arr > out
	run -0 snap-bundle-export arr
	assert_output '{"operations":[],"sequence":1}
{"operations":[1],"sequence":2}
{"operations":[],"sequence":3}
{"operations":[],"sequence":4}'
}

@test "two spellings of one bundle get one id; other members are kept" {
	printf '{"sequence":7,"operations":[{"b":1,"a":"A"}],"x":{"z":1.50,"y":[true,null]}}\n' > a.jsonl
	printf '{ "x" : { "y" : [ true , null ] , "z" : 15e-1 },\n\t"operations":[{"a":"\\u0041","b":1.0}], "sequence":7 }' > b.json
	snap-bundle-import -r a a.jsonl
	snap-bundle-import -r b b.json
	assert_equal "$(bundle_ids a)" "$(bundle_ids b)"
	assert_equal "$(snap-rev-parse a)" "$(snap-rev-parse b)"
	run -0 snap-bundle-export a
	assert_output '{"operations":[{"a":"A","b":1}],"sequence":7,"x":{"y":[true,null],"z":1.5}}'
}

@test "a second import extends the ref: parent is the old value, sequences go on" {
	json_bundles 1 2 > a.jsonl
	json_bundles 3 5 > b.jsonl
	first=$(snap-bundle-import a.jsonl | cut -d' ' -f1)
	second=$(snap-bundle-import -m "more rows" b.jsonl | cut -d' ' -f1)
	run -0 snap-cat-file -p "$second"
	assert_line --index 3 "parent $first"
	assert_line --index 6 'more rows'
	run -0 snap-rev-parse bundles~1
	assert_output "$first"
	run -0 snap-bundle-export bundles
	assert_output "$(json_bundles 1 5)"
	run -0 snap-bundle-export --since "$first" bundles
	assert_output "$(json_bundles 3 5)"
	run -0 snap-bundle-export --format json --since bundles bundles
	assert_output '[]'
}

@test "the reflog records the import" {
	json_bundles 1 1 | snap-bundle-import > /dev/null
	run -0 cat "$SNAP_DIR/logs/refs/snapshots/bundles"
	assert_output --partial 'bundle-import: 1 bundle'
}

@test "--no-ref stores and prints the snapshot id only; --parent sets the parent" {
	json_bundles 1 2 > a.jsonl
	json_bundles 3 3 > b.jsonl
	run -0 snap-bundle-import --no-ref a.jsonl
	first=$output
	[[ $first =~ ^[0-9a-f]{64}$ ]]
	run -1 snap-rev-parse --verify -q bundles
	run -0 snap-bundle-import --no-ref --parent "$first" b.jsonl
	assert_equal "$(snap-cat-file -p "$output" | sed -n 's/^parent //p')" "$first"
	run -0 snap-bundle-export "$output"
	assert_output "$(json_bundles 1 3)"
}

@test "snapshot ids are deterministic: same bundles, parent, time and host give one id" {
	json_bundles 1 50 > in.jsonl
	a=$(snap-bundle-import in.jsonl | cut -d' ' -f1)
	snap-init -q other
	b=$(snap-bundle-import --store other in.jsonl | cut -d' ' -f1)
	assert_equal "$a" "$b"
	c=$(SNAP_TIME=@1700000000 snap-bundle-import --store other --no-ref --host h in.jsonl)
	[ "$c" != "$a" ]
	run -0 snap-cat-file --store other -p "$c"
	assert_line --index 50 'time 1700000000 +0000'
	assert_line --index 51 'host h'
}

@test "import, export, import into a new store gives the same ids (jsonl and json)" {
	json_bundles 1 20 > in.jsonl
	a=$(snap-bundle-import in.jsonl | cut -d' ' -f1)
	snap-bundle-export bundles > out.jsonl
	snap-bundle-export --format json bundles > out.json
	snap-init -q s2
	snap-init -q s3
	assert_equal "$(snap-bundle-import --store s2 out.jsonl | cut -d' ' -f1)" "$a"
	assert_equal "$(snap-bundle-import --store s3 out.json | cut -d' ' -f1)" "$a"
	run -0 diff in.jsonl out.jsonl
}

@test "several files are one import, checked together" {
	json_bundles 4 6 > b.jsonl
	json_bundles 1 3 > a.jsonl
	snap-bundle-import b.jsonl a.jsonl > /dev/null
	run -0 snap-bundle-export bundles
	assert_output "$(json_bundles 1 6)"
}

@test "-o FILE writes the export atomically" {
	json_bundles 1 3 | snap-bundle-import > /dev/null
	snap-bundle-export -o out.jsonl bundles
	run -0 diff <(json_bundles 1 3) out.jsonl
	run -0 ls -A
	assert_output 'out.jsonl
store'
}

@test "10,000 bundles in one import: a pack, fsck clean, export equal" {
	json_bundles 1 10000 > in.jsonl
	run -0 snap-bundle-import in.jsonl
	run -0 snap-count-objects
	assert_line --regexp '^packed    10001 objects in 1 packs, '
	run -0 snap-fsck --no-dangling
	assert_output ''
	snap-bundle-export bundles > out.jsonl
	run -0 cmp in.jsonl out.jsonl
}

@test "1,000 imports of one bundle each onto one ref; the export is their concatenation" {
	json_bundles 1 1000 > all.jsonl
	while IFS= read -r line; do
		printf '%s\n' "$line" | snap-bundle-import > /dev/null || exit 1
	done < all.jsonl
	run -0 snap-rev-parse bundles~999
	snap-bundle-export bundles > out.jsonl
	run -0 cmp all.jsonl out.jsonl
	run -0 snap-fsck --no-dangling
	assert_output ''
}

@test "gc keeps the bundles of a ref and drops those no ref reaches" {
	json_bundles 1 5 | snap-bundle-import > /dev/null
	json_bundles 100 102 | snap-bundle-import --no-ref > /dev/null
	find "$SNAP_DIR/objects" -type f -exec touch -d '3 weeks ago' {} +
	run -0 snap-gc --prune=now
	run -0 snap-count-objects
	assert_line --partial 'bundle    5 objects'
	run -0 snap-bundle-export bundles
	assert_output "$(json_bundles 1 5)"
	run -0 snap-fsck
	assert_output ''
}

@test "a bundle snapshot is not a tree: checkout and prune refuse it" {
	json_bundles 1 2 | snap-bundle-import > /dev/null
	id=$(snap-rev-parse bundles)
	run -128 --separate-stderr snap-checkout "$id" out
	assert_equal "$stderr" "snap-checkout: fatal: snapshot '$id' holds sync bundles, not a tree"
	run -128 --separate-stderr snap-prune -r bundles --keep-last 1
	assert_equal "$stderr" "snap-prune: fatal: ref 'refs/snapshots/bundles' holds sync bundles; prune keeps every snapshot of a bundle chain"
}

@test "export of a tree snapshot, or --since off the chain, is refused" {
	mkdir d && echo x > d/f
	snap-snapshot d > /dev/null
	json_bundles 1 2 | snap-bundle-import > /dev/null
	tree_snap=$(snap-rev-parse main)
	run -128 --separate-stderr snap-bundle-export main
	assert_equal "$stderr" "snap-bundle-export: fatal: snapshot '$tree_snap' is not a bundle snapshot"
	run -128 --separate-stderr snap-bundle-export --since main bundles
	assert_equal "$stderr" "snap-bundle-export: fatal: '$tree_snap' is not on the chain of '$(snap-rev-parse bundles)'"
}

@test "--help and usage errors" {
	run -0 snap-bundle-import --help
	assert_line --index 0 --partial 'usage: snap-bundle-import'
	run -0 snap-bundle-export --help
	assert_line --index 0 --partial 'usage: snap-bundle-export'
	run -129 --separate-stderr snap-bundle-import --format xml in
	assert_equal "${stderr_lines[0]}" "snap-bundle-import: error: unknown format 'xml' (json, jsonl or sqlite)"
	run -129 --separate-stderr snap-bundle-export
	run -129 --separate-stderr snap-bundle-export --format sqlite bundles
	assert_equal "${stderr_lines[0]}" 'snap-bundle-export: error: --format sqlite needs -o DIR'
}

@test "snap-log shows how many bundles each bundle snapshot holds" {
	json_bundles 1 3 | snap-bundle-import -m first > /dev/null
	json_bundles 4 4 | snap-bundle-import > /dev/null
	run -0 snap-log bundles
	assert_output "snapshot $(snap-rev-parse bundles)
Date:   1970-01-01 00:00:00 +0000
Host:   -
Bundles: 1

snapshot $(snap-rev-parse bundles~1)
Date:   1970-01-01 00:00:00 +0000
Host:   -
Bundles: 3

    first"
}

@test "--meta KEY=VALUE: metadata lines of the bundle snapshot, in order; a bad key changes nothing" {
	json_bundles 1 2 > in.jsonl
	run -0 snap-bundle-import -r m --meta device=phone --meta batch=7 in.jsonl
	run -0 snap-cat-file -p "$(snap-rev-parse m)"
	assert_line 'meta device=phone'
	assert_equal "$(snap-cat-file -p "$(snap-rev-parse m)" | grep '^meta')" 'meta device=phone
meta batch=7'
	refused "snap-bundle-import: fatal: bad metadata 'bad key=1': want KEY=VALUE, KEY of letters, digits, '.', '_', '-'" \
		snap-bundle-import -r n --meta 'bad key=1' in.jsonl
}
