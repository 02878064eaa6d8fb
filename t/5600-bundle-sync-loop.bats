#!/usr/bin/env bats
# Bundle imports in a sync loop: a bundle that is there already is skipped
# with a note (sqlite-sync-core's duplicate rule), not refused.

load test_helper

local_setup() {
	init_store
}

@test "importing the same .bundle.db again is skipped with a note, exit 0, nothing written" {
	make_native_bundle a.db 10 2 1
	first=$(snap-bundle-import -r phone a.db)
	b=$(snap-cat-file -p "$(snap-rev-parse phone)" | sed -n 's/^bundle //p')
	before=$(store_listing)
	run -0 --separate-stderr snap-bundle-import -r phone a.db
	assert_output "$first"
	assert_equal "$stderr" "snap-bundle-import: note: a.db: bundle 1: already on the chain of '$(snap-rev-parse phone)' (bundle '$b'); skipped"
	assert_equal "$(store_listing)" "$before"
	assert_equal "$(wc -l < "$SNAP_DIR/logs/refs/snapshots/phone")" 1
}

@test "a bundle of the same content_hash as one on the chain is skipped, whatever its metadata" {
	make_native_bundle a.db 10 2 1
	snap-bundle-import -r phone a.db > /dev/null
	b=$(snap-cat-file -p "$(snap-rev-parse phone)" | sed -n 's/^bundle //p')
	make_native_bundle c.db 10 2 1
	sqlite3 c.db "UPDATE bundle_metadata SET bundle_id = X'0000000000000000000000000000abcd'"
	hash=$(native_content_hash c.db)
	before=$(store_listing)
	run -0 --separate-stderr snap-bundle-import -r phone c.db
	assert_equal "$stderr" "snap-bundle-import: note: c.db: bundle 1: content_hash $hash is that of bundle '$b' on the chain of '$(snap-rev-parse phone)'; skipped"
	assert_equal "$(store_listing)" "$before"
}

@test "new bundles beside ones already there: those are skipped, the new ones stored" {
	json_bundles 1 3 | snap-bundle-import -r r > /dev/null
	old=$(snap-rev-parse r)
	json_bundles 2 5 > in.jsonl
	run -0 --separate-stderr snap-bundle-import -r r in.jsonl
	assert_equal "$stderr" "snap-bundle-import: note: in.jsonl: bundle 1 (line 1): already on the chain of '$old' (bundle '$(json_bundles 2 2 | tr -d '\n' | snap-hash-object -t bundle --stdin)'); skipped
snap-bundle-import: note: in.jsonl: bundle 2 (line 2): already on the chain of '$old' (bundle '$(json_bundles 3 3 | tr -d '\n' | snap-hash-object -t bundle --stdin)'); skipped"
	assert_output "$(snap-rev-parse r) refs/snapshots/r"
	assert_equal "$(snap-bundle-export r)" "$(json_bundles 1 5)"
}

@test "the same bundle twice in one import is stored once" {
	json_bundles 1 2 > a.jsonl
	run -0 --separate-stderr snap-bundle-import -r r a.jsonl a.jsonl
	assert_equal "$stderr" "snap-bundle-import: note: a.jsonl: bundle 1 (line 1): the same as a.jsonl: bundle 1 (line 1); skipped
snap-bundle-import: note: a.jsonl: bundle 2 (line 2): the same as a.jsonl: bundle 2 (line 2); skipped"
	assert_equal "$(snap-bundle-export r)" "$(json_bundles 1 2)"
}

@test "--no-ref: a repeat prints the parent" {
	json_bundles 1 1 | snap-bundle-import -r r > /dev/null
	json_bundles 1 1 > in.jsonl
	run -0 --separate-stderr snap-bundle-import --no-ref -r r in.jsonl
	assert_output "$(snap-rev-parse r)"
}

@test "a different bundle at or below the last sequence is still refused" {
	json_bundles 1 3 | snap-bundle-import -r r > /dev/null
	json_bundles 2 2 | sed 's/"r2"/"changed"/' > in.jsonl
	refused "snap-bundle-import: fatal: in.jsonl: bundle 1 (line 1): sequence 2 is not above 3, the last of parent '$(snap-rev-parse r)'" \
		snap-bundle-import -r r in.jsonl
}
