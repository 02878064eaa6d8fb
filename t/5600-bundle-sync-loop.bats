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

# clocked FILE CREATED_AT DEVICE CLOCK [SEED]: a one-operation bundle of
# device DEVICE (op ids from SEED, default DEVICE) whose operation's
# vector clock is CLOCK (JSON).
clocked() {
	make_native_bundle "$1" "$2" 1 "${5:-$3}"
	sqlite3 "$1" "UPDATE bundle_operations SET vector_clock = '$4', device_id = X'$(printf %032x "$3")';
		UPDATE bundle_metadata SET source_device_id = X'$(printf %032x "$3")'"
}

D1=00000000000000000000000000000001
D2=00000000000000000000000000000002

# The bundles of REF in order, as "source_device_id:sequence".
chain() {
	snap-bundle-export "$1" | jq -r '"\(.source_device_id[30:]):\(.sequence)"' | tr '\n' ' '
}

@test "a device whose clock went back: its next bundle follows by its vector clock" {
	clocked a.db 2000 1 "{\"$D1\": 1}"
	clocked b.db 1000 1 "{\"$D1\": 2}" 11
	snap-bundle-import -r phone a.db > /dev/null
	run -0 --separate-stderr snap-bundle-import -r phone b.db
	assert_equal "$stderr" ''
	assert_equal "$(chain phone)" '01:2000 01:1000 '
	run -0 snap-fsck
}

@test "two devices' bundles of the same created_at, in one import and in two" {
	clocked a.db 5000 1 "{\"$D1\": 1}"
	clocked b.db 5000 2 "{\"$D2\": 1}"
	run -0 --separate-stderr snap-bundle-import -r both a.db b.db
	assert_equal "$stderr" ''
	run -0 snap-bundle-import -r ab a.db
	run -0 snap-bundle-import -r ab b.db
	run -0 snap-bundle-import -r ba b.db
	run -0 snap-bundle-import -r ba a.db
	assert_equal "$(chain ab)" '01:5000 02:5000 '
	assert_equal "$(chain ba)" '02:5000 01:5000 '
	run -0 snap-fsck
	run -0 snap-bundle-export --format sqlite -o out both
	run -0 ls out
	assert_output '0000000000005000-1.bundle.db
0000000000005000.bundle.db'
}

@test "a bundle that saw another comes after it, whatever the wall clocks say" {
	clocked a.db 2000 1 "{\"$D1\": 1}"
	clocked b.db 1000 2 "{\"$D1\": 1, \"$D2\": 1}"
	# In one import: a first, though its created_at is the later.
	run -0 snap-bundle-import -r one b.db a.db
	assert_equal "$(chain one)" '01:2000 02:1000 '
	# In two imports.
	run -0 snap-bundle-import -r two a.db
	run -0 snap-bundle-import -r two b.db
	assert_equal "$(chain two)" '01:2000 02:1000 '
	run -0 snap-fsck
}

@test "a bundle that happened before the ref's last is refused, naming it" {
	clocked a.db 3000 1 "{\"$D1\": 1}"
	clocked b.db 1000 2 "{\"$D1\": 1, \"$D2\": 1}"
	snap-bundle-import -r r b.db > /dev/null
	last=$(snap-cat-file -p "$(snap-rev-parse r)" | sed -n 's/^bundle //p')
	refused "snap-bundle-import: fatal: a.db: bundle 1: happened before bundle '$last', the last of parent '$(snap-rev-parse r)' (by their vector clocks)" \
		snap-bundle-import -r r a.db
}

@test "concurrent bundles, the later behind in created_at, on one ref: refused, one ref per device advised" {
	clocked a.db 2000 1 "{\"$D1\": 1}"
	clocked b.db 1000 2 "{\"$D2\": 1}"
	snap-bundle-import -r r a.db > /dev/null
	refused "snap-bundle-import: fatal: b.db: bundle 1: sequence 1000 is not above 2000, the last of parent '$(snap-rev-parse r)', and the vector clocks do not put it after that one (keep one ref per source device)" \
		snap-bundle-import -r r b.db
	run -0 snap-bundle-import -r device-2 b.db
}

@test "fsck: a stored chain against the vector clocks is bundle-order" {
	clocked a.db 3000 1 "{\"$D1\": 1}"
	clocked b.db 1000 2 "{\"$D1\": 1, \"$D2\": 1}"
	pb=$(snap-bundle-import --no-ref b.db)
	a=$(snap-bundle-import --no-ref a.db | xargs snap-cat-file -p | sed -n 's/^bundle //p')
	s=$(printf 'bundle %s\nparent %s\ntime 0 +0000\nhost -\n\n' "$a" "$pb" | snap-hash-object -t snapshot -w --stdin)
	snap-update-ref refs/snapshots/bad "$s"
	run -1 snap-fsck --no-dangling
	assert_output "error bundle-order $s bundle 1 ($a) happened before $(snap-cat-file -p "$pb" | sed -n 's/^bundle //p'), the one before it (by their vector clocks)"
	# Concurrent, and behind in created_at.
	clocked c.db 500 3 "{\"00000000000000000000000000000003\": 1}"
	c=$(snap-bundle-import --no-ref c.db | xargs snap-cat-file -p | sed -n 's/^bundle //p')
	s=$(printf 'bundle %s\nparent %s\ntime 0 +0000\nhost -\n\n' "$c" "$pb" | snap-hash-object -t snapshot -w --stdin)
	snap-update-ref -d refs/snapshots/bad
	snap-update-ref refs/snapshots/bad "$s"
	run -1 snap-fsck --no-dangling
	assert_output "error bundle-order $s bundle 1 ($c) has sequence 500, not above 1000, and the vector clocks do not put it after that one"
}
