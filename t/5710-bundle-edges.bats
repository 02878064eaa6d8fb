#!/usr/bin/env bats
# Edges of bundle input and export: NUL bytes, identifiers and counters
# checked over their whole length and range, native and wire import
# agreeing on what a bundle is, files that are not regular files, and
# an export that creates no directory above the one it is given.  Every
# refusal: exit 128, one line naming the file and the place, nothing
# on stdout, the store as it was.

load test_helper

local_setup() {
	init_store
	json_bundles 1 1 | snap-bundle-import > /dev/null
}

OP1=00000000000000010000000000000001

# The wire form of a stored native bundle (as in 5700).
WIRE='def hex: explode | map("0123456789abcdef"[(./16|floor):(./16|floor)+1] + "0123456789abcdef"[(.%16):(.%16)+1]) | join("");
      {device_id: .source_device_id,
       operations: [.operations[] | del(.is_local, .applied_at) | .hlc |= hex]}'

# native_json FILE: the stored form of .bundle.db FILE, from a scratch store.
native_json() {
	local s=$BATS_TEST_TMPDIR/scratch id
	[ -d "$s" ] || snap-init -q "$s"
	id=$(snap-bundle-import --store "$s" --no-ref -q "$1" |
		xargs snap-cat-file --store "$s" -p | sed -n 's/^bundle //p')
	snap-cat-file --store "$s" bundle "$id"
}

@test "a NUL byte outside a JSON string is refused, naming the file and its offset" {
	{ printf '{"sequence":2,"operations":[]}\n'; head -c 16 /dev/zero; } > tail.jsonl
	refused 'snap-bundle-import: fatal: tail.jsonl: offset 31 (line 2, column 1): a NUL byte, which JSON text cannot hold (its white space is space, tab, LF and CR)' \
		snap-bundle-import tail.jsonl
	{ printf '[{"sequence":2,"operations":[]}]'; head -c 4 /dev/zero; } > tail.json
	refused 'snap-bundle-import: fatal: tail.json: offset 32 (line 1, column 33): a NUL byte, which JSON text cannot hold (its white space is space, tab, LF and CR)' \
		snap-bundle-import tail.json
	printf '[{"sequence":2,"operations":[]}\0,{"sequence":3,"operations":[]}]' > between.json
	refused 'snap-bundle-import: fatal: between.json: offset 31 (line 1, column 32): a NUL byte, which JSON text cannot hold (its white space is space, tab, LF and CR)' \
		snap-bundle-import between.json
	printf '{"sequence":2,\n\0"operations":[]}' > inside.json
	refused 'snap-bundle-import: fatal: inside.json: offset 15 (line 2, column 1): a NUL byte, which JSON text cannot hold (its white space is space, tab, LF and CR)' \
		snap-bundle-import --format json inside.json
	# In a vector_clock's JSON text too.
	make_native_bundle b.db 10 1 1
	native_json b.db | jq -c '.operations[0].vector_clock += "\u0000"' > vc.json
	refused 'snap-bundle-import: fatal: vc.json: bundle 1 (line 1): $.operations[0]: vector_clock: not JSON (byte 39: a NUL byte, which JSON text cannot hold (its white space is space, tab, LF and CR))' \
		snap-bundle-import vc.json
}

# edge FILTER SQL DB-MESSAGE JSON-MESSAGE: a bundle made bad by SQL in its
# .bundle.db, and by FILTER in its native JSON and its wire form, is refused
# by all three: the database with DB-MESSAGE (after "FILE: "), both JSON
# forms with JSON-MESSAGE (after "FILE: bundle 1 (line 1): ").
edge() {
	make_native_bundle e.db 10 2 1
	native_json e.db > good.json
	jq -c "$1" good.json > native.json
	jq -c "$WIRE" good.json | jq -c "$1" > wire.json
	sqlite3 e.db "$2"
	refused "snap-bundle-import: fatal: e.db: $3" snap-bundle-import e.db
	refused "snap-bundle-import: fatal: native.json: bundle 1 (line 1): $4" snap-bundle-import native.json
	refused "snap-bundle-import: fatal: wire.json: bundle 1 (line 1): $4" snap-bundle-import wire.json
}

@test "a NUL in table_name is not a plain identifier, in a .bundle.db, native JSON or the wire form" {
	edge '.operations[0].table_name = "users\u0000xx"' \
		"UPDATE bundle_operations SET table_name = CAST(X'7573657273007878' AS TEXT) WHERE rowid = 1" \
		"bundle_operations row 1 (op_id $OP1): table_name: \"users\\u0000xx\" is not a plain identifier ([A-Za-z_][A-Za-z0-9_]*, at most 128 bytes)" \
		'$.operations[0]: table_name: "users\u0000xx" is not a plain identifier ([A-Za-z_][A-Za-z0-9_]*, at most 128 bytes)'
}

@test "a vector-clock counter of 2^53 or more is refused; 2^53 - 1 is kept" {
	dev=00000000000000000000000000000001
	edge ".operations[0].vector_clock = \"{\\\"$dev\\\": 9223372036854775807}\"" \
		"UPDATE bundle_operations SET vector_clock = '{\"$dev\": 9007199254740992}' WHERE rowid = 1" \
		"bundle_operations row 1 (op_id $OP1): vector_clock: the counter of \"$dev\" is larger than 2^53 - 1" \
		"\$.operations[0]: vector_clock: the counter of \"$dev\" is larger than 2^53 - 1"
	sqlite3 e.db "UPDATE bundle_operations SET vector_clock = '{\"$dev\": 9007199254740991}'"
	run -0 --separate-stderr snap-bundle-import -r max e.db
	assert_equal "$stderr" ''
}

@test "native and wire import agree: an empty hlc, a NUL in hlc and no operations are refused by both" {
	edge '.operations[0].hlc = ""' "UPDATE bundle_operations SET hlc = '' WHERE rowid = 1" \
		"bundle_operations row 1 (op_id $OP1): hlc: empty" '$.operations[0]: hlc: empty'
	edge '.operations[0].hlc = (if .format then "1\u00002" else "310032" end)' \
		"UPDATE bundle_operations SET hlc = CAST(X'310032' AS TEXT) WHERE rowid = 1" \
		"bundle_operations row 1 (op_id $OP1): hlc: holds a NUL byte" '$.operations[0]: hlc: holds a NUL byte'
	empty=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
	edge ".operations = [] | if .format then .content_hash = \"$empty\" else . end" \
		"DELETE FROM bundle_operations; UPDATE bundle_metadata SET op_count = 0, content_hash = X'$empty'" \
		'bundle_operations has no row (a bundle holds at least one operation)' \
		'$.operations: empty (a bundle holds at least one operation)'
	jq -c "$WIRE | .operations = 5" good.json > wire.json
	refused 'snap-bundle-import: fatal: wire.json: bundle 1 (line 1): $.operations: not an array of operations' \
		snap-bundle-import wire.json
}

@test "the edges that are kept go round: native, export --format wire, import, the same bundles" {
	make_native_bundle a.db 10 1 1
	sqlite3 a.db "UPDATE bundle_operations SET hlc = '0'"
	make_native_bundle b.db 20 2 2
	sqlite3 b.db "UPDATE bundle_operations SET hlc = CAST(X'01e282ac0a7f' AS TEXT) WHERE rowid = 2"
	make_native_bundle c.db 30 1 3
	sqlite3 c.db "UPDATE bundle_operations SET vector_clock = '{\"00000000000000000000000000000003\": 9007199254740991}'"
	run -0 snap-bundle-import -q -r n a.db b.db c.db
	run -0 snap-bundle-export --format wire -o wire.jsonl n
	run -0 snap-bundle-import -q -r w wire.jsonl
	run -0 snap-bundle-export --format wire -o again.jsonl w
	cmp wire.jsonl again.jsonl
	# The operations are the same, as received (is_local 0, not applied).
	assert_equal "$(snap-bundle-export w | jq -c '.operations[] | del(.is_local, .applied_at)')" \
		"$(snap-bundle-export n | jq -c '.operations[] | del(.is_local, .applied_at)')"
	assert_equal "$(snap-bundle-export w | sed -n 2p | jq -j '.operations[1].hlc' | od -An -tx1 | tr -d ' \n')" 01e282ac0a7f
}

@test "a FILE that is a FIFO or a pipe is read as standard input is; a directory is refused" {
	make_native_bundle a.db 10 2 1
	run -0 snap-bundle-import -q -r s - < a.db
	local want=${output%% *}
	mkfifo f.db
	# The writer is waiting in its open first: a reader that opened and
	# closed the FIFO before reading would cut it off.
	(cat a.db > f.db &)
	sleep 0.5
	run -0 timeout 20 snap-bundle-import -q -r f f.db
	assert_output "$want refs/snapshots/f"
	run -0 timeout 20 bash -c 'snap-bundle-import -q -r p <(cat a.db)'
	assert_output "$want refs/snapshots/p"
	snap-bundle-export --format jsonl s > a.jsonl
	run -0 timeout 20 bash -c 'snap-bundle-import -q -r j /dev/stdin < a.jsonl'
	mkdir d
	refused "snap-bundle-import: fatal: cannot read 'd': Is a directory" snap-bundle-import d
}

@test "a FIFO beside a .bundle.db as its -wal or -journal is refused, never waited on" {
	make_native_bundle a.db 10 2 1
	mkfifo a.db-wal
	refused "snap-bundle-import: fatal: 'a.db-wal': not a regular file" timeout 20 snap-bundle-import a.db
	rm a.db-wal
	mkfifo a.db-journal
	refused "snap-bundle-import: fatal: 'a.db-journal': not a regular file" timeout 20 snap-bundle-import a.db
}

@test "export -o refuses a missing parent directory and creates nothing" {
	make_native_bundle a.db 10 2 1
	snap-bundle-import -q -r n a.db > /dev/null
	for f in jsonl json wire; do
		refused "snap-bundle-export: fatal: cannot write 'no/dir/out.jsonl': no directory 'no/dir'" \
			snap-bundle-export --format "$f" -o no/dir/out.jsonl n
		[ ! -e no ]
	done
	refused "snap-bundle-export: fatal: cannot create 'no/dir': no directory 'no'" \
		snap-bundle-export --format sqlite -o no/dir n
	[ ! -e no ]
	touch file
	refused "snap-bundle-export: fatal: cannot write 'file/out.jsonl': no directory 'file'" \
		snap-bundle-export -o file/out.jsonl n
	# The directory -o names itself is made, as documented.
	mkdir there
	run -0 snap-bundle-export --format sqlite -o there/out n
	[ -f there/out/0000000000000010.bundle.db ]
	run -0 snap-bundle-export -o there/out.jsonl n
	[ -f there/out.jsonl ]
}

@test "a wire created_at beyond 2^53 - 1 names its own path" {
	make_native_bundle a.db 10 2 1
	native_json a.db | jq -c "$WIRE" | sed 's/"created_at":[0-9]*/"created_at":9007199254740992/2' > wire.json
	refused 'snap-bundle-import: fatal: wire.json: bundle 1 (line 1): $.operations[1].created_at: larger than 2^53 - 1' \
		snap-bundle-import wire.json
}

@test "over 200,000 bundles in one import: the refusal names the first one over" {
	seq 2 200002 | awk '{ printf "{\"operations\":[],\"sequence\":%d}\n", $1 }' > big.jsonl
	refused 'snap-bundle-import: fatal: big.jsonl: bundle 200001 (line 200001): over 200000 bundles in one import (200001 to store)' \
		snap-bundle-import -q big.jsonl
}

@test "--schema-version beyond 2^53 - 1 says so; only decimal digits are a number" {
	make_native_bundle a.db 10 1 1
	for n in 9007199254740992 99999999999999999999999; do
		run -129 --separate-stderr snap-bundle-import --schema-version "$n" a.db
		assert_equal "${stderr%%$'\n'*}" "snap-bundle-import: error: --schema-version: '$n' is larger than 2^53 - 1"
	done
	for n in ' 1' +1 0x1 1e0 -1 ''; do
		run -129 --separate-stderr snap-bundle-import --schema-version "$n" a.db
		assert_equal "${stderr%%$'\n'*}" "snap-bundle-import: error: --schema-version: '$n' is not an integer >= 0"
	done
	run -0 --separate-stderr snap-bundle-import --schema-version 9007199254740991 -r ok a.db
	assert_equal "$stderr" "snap-bundle-import: warning: a.db: bundle 1: schema_version 1 is not 9007199254740991, which sqlite-sync-core's import refuses"
}

@test "a trigger or a view inside a .bundle.db is refused, naming it" {
	make_native_bundle b.db 10 2 1
	sqlite3 b.db "CREATE TRIGGER t AFTER INSERT ON bundle_operations BEGIN SELECT 1; END"
	refused "snap-bundle-import: fatal: b.db: unexpected trigger 't' (a bundle holds the tables bundle_metadata and bundle_operations only)" \
		snap-bundle-import b.db
	make_native_bundle b.db 10 2 1
	sqlite3 b.db "CREATE VIEW v AS SELECT op_id FROM bundle_operations"
	refused "snap-bundle-import: fatal: b.db: unexpected view 'v' (a bundle holds the tables bundle_metadata and bundle_operations only)" \
		snap-bundle-import b.db
	# An index holds no data of its own: kept out of the bundle, not refused.
	make_native_bundle b.db 10 2 1
	sqlite3 b.db "CREATE INDEX i ON bundle_operations(table_name)"
	run -0 snap-bundle-import -q -r ix b.db
}
