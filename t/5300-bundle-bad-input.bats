#!/usr/bin/env bats
# Every kind of bad bundle input: one line on stderr that says where,
# exit 128, and the store exactly as it was (the ref has not moved).

load test_helper

local_setup() {
	init_store
	json_bundles 1 1 | snap-bundle-import > /dev/null
}

# import_line JSON: a file with a good bundle, then JSON as line 2.
bad_line() {
	{ printf '{"sequence":2,"operations":[]}\n'; printf '%s\n' "$1"; } > in.jsonl
}

@test "JSON syntax error" {
	bad_line '{"sequence":3,"operations":[}'
	refused "snap-bundle-import: fatal: in.jsonl: bundle 2 (line 2, column 29): invalid JSON: unexpected token near '}'" \
		snap-bundle-import in.jsonl
}

@test "duplicate keys" {
	bad_line '{"sequence":3,"operations":[{"a":1,"a":1}]}'
	refused "snap-bundle-import: fatal: in.jsonl: bundle 2 (line 2, column 38): duplicate object key" \
		snap-bundle-import in.jsonl
}

@test "invalid UTF-8" {
	bad_line "$(printf '{"sequence":3,"operations":["\xc3\x28"]}')"
	refused "snap-bundle-import: fatal: in.jsonl: bundle 2 (line 2, column 30): invalid UTF-8" \
		snap-bundle-import in.jsonl
}

@test "a lone surrogate" {
	bad_line '{"sequence":3,"operations":["\udc00"]}'
	refused 'snap-bundle-import: fatal: in.jsonl: bundle 2 (line 2, column 36): lone or invalid UTF-16 surrogate in a \u escape' \
		snap-bundle-import in.jsonl
}

@test "nesting deeper than 128 levels" {
	bad_line "{\"sequence\":3,\"operations\":$(printf '%.0s[' $(seq 128))$(printf '%.0s]' $(seq 128))}"
	refused "snap-bundle-import: fatal: in.jsonl: bundle 2 (line 2, column 155): nested deeper than 128 levels" \
		snap-bundle-import in.jsonl
}

@test "a bundle over 256 MiB as given: JSON text, JSON Lines, a database file" {
	# Sparse files: the bytes are never on disk.
	printf '{"sequence":3,"operations":["' > in.jsonl
	truncate -s $(((256 << 20) + 1)) in.jsonl
	printf '"]}\n' >> in.jsonl
	refused "snap-bundle-import: fatal: in.jsonl: bundle 1 (line 1): larger than 256 MiB" \
		snap-bundle-import in.jsonl
	{ printf '['; cat in.jsonl; printf ']'; } > in.json
	refused "snap-bundle-import: fatal: in.json: bundle 1 (line 1): larger than 256 MiB" \
		snap-bundle-import in.json
	make_native_bundle b.db 10 1
	truncate -s $(((256 << 20) + 1)) b.db
	refused "snap-bundle-import: fatal: b.db: larger than 256 MiB" snap-bundle-import b.db
	rm -f in.jsonl in.json b.db
}

@test "an input over 1 GiB is refused before it is read" {
	truncate -s 1025M big.jsonl
	refused "snap-bundle-import: fatal: big.jsonl: the input of one import is limited to 1024 MiB" \
		snap-bundle-import big.jsonl
}

@test "sequence: missing, not a number, fraction, exponent, negative, too large, overflowing" {
	bad_line '{"operations":[]}'
	refused 'snap-bundle-import: fatal: in.jsonl: bundle 2 (line 2): $.sequence: missing' snap-bundle-import in.jsonl
	bad_line '{"sequence":"3","operations":[]}'
	refused 'snap-bundle-import: fatal: in.jsonl: bundle 2 (line 2): $.sequence: not an integer' snap-bundle-import in.jsonl
	for s in 3.5 3.0 3e0; do
		bad_line "{\"sequence\":$s,\"operations\":[]}"
		refused 'snap-bundle-import: fatal: in.jsonl: bundle 2 (line 2): $.sequence: not an integer (no fraction or exponent allowed)' \
			snap-bundle-import in.jsonl
	done
	bad_line '{"sequence":-3,"operations":[]}'
	refused 'snap-bundle-import: fatal: in.jsonl: bundle 2 (line 2): $.sequence: negative' snap-bundle-import in.jsonl
	bad_line '{"sequence":9007199254740992,"operations":[]}'
	refused 'snap-bundle-import: fatal: in.jsonl: bundle 2 (line 2): $.sequence: larger than 2^53 - 1' snap-bundle-import in.jsonl
	bad_line '{"sequence":18446744073709551616,"operations":[]}'
	refused 'snap-bundle-import: fatal: in.jsonl: bundle 2 (line 2, column 32): number out of range' snap-bundle-import in.jsonl
}

@test "operations missing or not an array; a bundle that is not an object" {
	bad_line '{"sequence":3}'
	refused 'snap-bundle-import: fatal: in.jsonl: bundle 2 (line 2): $.operations: missing' snap-bundle-import in.jsonl
	bad_line '{"sequence":3,"operations":{}}'
	refused 'snap-bundle-import: fatal: in.jsonl: bundle 2 (line 2): $.operations: not an array' snap-bundle-import in.jsonl
	printf '[{"sequence":3,"operations":[]},\n 4]' > in.json
	refused 'snap-bundle-import: fatal: in.json: bundle 2 (line 2): $: a bundle is a JSON object' snap-bundle-import in.json
}

@test "an integer that JSON numbers cannot hold exactly names its path" {
	bad_line '{"sequence":3,"operations":[{"row":{"id":9007199254740993}}]}'
	refused 'snap-bundle-import: fatal: in.jsonl: bundle 2 (line 2): $.operations[0].row.id: integer 9007199254740993 is beyond +-(2^53 - 1), which JSON numbers cannot keep exactly' \
		snap-bundle-import in.jsonl
}

@test "a number whose canonical form is an integer beyond 2^53 - 1 names its path" {
	bad_line '{"sequence":3,"operations":[{"row":{"v":1e20}}]}'
	refused 'snap-bundle-import: fatal: in.jsonl: bundle 2 (line 2): $.operations[0].row.v: number 100000000000000000000 is an integer beyond +-(2^53 - 1), which JSON numbers cannot keep exactly' \
		snap-bundle-import in.jsonl
}

@test "a sequence given twice, across files" {
	json_bundles 2 4 > a.jsonl
	json_bundles 4 5 | sed '1s/"r4"/"other"/' > b.jsonl
	refused 'snap-bundle-import: fatal: b.jsonl: bundle 1 (line 1): sequence 4 repeats that of a.jsonl: bundle 3 (line 3)' \
		snap-bundle-import a.jsonl b.jsonl
}

@test "a sequence not above the parent's last" {
	json_bundles 1 3 | sed '1s/"r1"/"other"/' > in.jsonl
	refused "snap-bundle-import: fatal: in.jsonl: bundle 1 (line 1): sequence 1 is not above 1, the last of parent '$(snap-rev-parse bundles)'" \
		snap-bundle-import in.jsonl
}

@test "JSON array framing: text after it, no closing bracket, a trailing comma" {
	printf '[{"sequence":3,"operations":[]}] x' > in.json
	refused 'snap-bundle-import: fatal: in.json: line 1, column 34: text after the JSON value' snap-bundle-import in.json
	printf '[{"sequence":3,"operations":[]},\n' > in.json
	refused 'snap-bundle-import: fatal: in.json: line 2: the array ends without '"']'"' after bundle 1' snap-bundle-import in.json
	printf '[{"sequence":3,"operations":[]},]' > in.json
	refused "snap-bundle-import: fatal: in.json: line 1, column 33: expected ',' and a bundle, or ']', after bundle 1" snap-bundle-import in.json
}

@test "JSON Lines: two bundles on one line" {
	bad_line '{"sequence":3,"operations":[]} {"sequence":4,"operations":[]}'
	refused 'snap-bundle-import: fatal: in.jsonl: bundle 2 (line 2, column 32): text after the bundle (one bundle a line)' \
		snap-bundle-import in.jsonl
}

@test "no bundles at all; a file that cannot be read" {
	: > empty.jsonl
	refused 'snap-bundle-import: fatal: no bundles in the input' snap-bundle-import empty.jsonl
	refused "snap-bundle-import: fatal: cannot read 'nope.jsonl': No such file or directory" snap-bundle-import nope.jsonl
}

@test "a JSON bundle claiming the native format must have its shape and hash" {
	bad_line '{"format":"sqlite-sync-core","sequence":3,"operations":[]}'
	refused 'snap-bundle-import: fatal: in.jsonl: bundle 2 (line 2): $.bundle_id: missing' snap-bundle-import in.jsonl
	empty=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
	bad_line "{\"format\":\"sqlite-sync-core\",\"sequence\":3,\"operations\":[],\"bundle_id\":\"$(printf '%032d' 1)\",\"source_device_id\":\"$(printf '%032d' 2)\",\"schema_version\":1,\"content_hash\":\"$(printf '%064d' 0)\"}"
	refused 'snap-bundle-import: fatal: in.jsonl: bundle 2 (line 2): $.content_hash: not the SHA-256 of the op_ids in order' snap-bundle-import in.jsonl
	bad_line "{\"format\":\"sqlite-sync-core\",\"sequence\":3,\"operations\":[],\"bundle_id\":\"$(printf '%032d' 1)\",\"source_device_id\":\"$(printf '%032d' 2)\",\"schema_version\":1,\"content_hash\":\"$empty\",\"extra\":1}"
	refused 'snap-bundle-import: fatal: in.jsonl: bundle 2 (line 2): $.extra: not a member of a native bundle' snap-bundle-import in.jsonl
	bad_line "{\"format\":\"sqlite-sync-core\",\"sequence\":3,\"operations\":[],\"bundle_id\":\"$(printf '%031d' 1)X\",\"source_device_id\":\"$(printf '%032d' 2)\",\"schema_version\":1,\"content_hash\":\"$empty\"}"
	refused 'snap-bundle-import: fatal: in.jsonl: bundle 2 (line 2): $.bundle_id: not lowercase hex of a 16-byte blob' snap-bundle-import in.jsonl
}

@test "a parent that is not a bundle snapshot; a bad ref name" {
	mkdir d && echo x > d/f
	snap-snapshot d > /dev/null
	json_bundles 5 5 > in.jsonl
	refused "snap-bundle-import: fatal: snapshot '$(snap-rev-parse main)' is not a bundle snapshot" \
		snap-bundle-import --parent main in.jsonl
	refused "snap-bundle-import: fatal: snapshot '$(snap-rev-parse main)' is not a bundle snapshot" \
		snap-bundle-import -r main in.jsonl
	refused "snap-bundle-import: fatal: invalid ref name 'refs/snapshots/a..b': contains '..'" \
		snap-bundle-import -r a..b in.jsonl
}

# ---- native bundles ----

@test "not an SQLite database" {
	json_bundles 5 5 > in.jsonl
	refused 'snap-bundle-import: fatal: in.jsonl: not an SQLite database' snap-bundle-import --format sqlite in.jsonl
}

@test "a database that fails PRAGMA integrity_check, or is cut short" {
	make_native_bundle b.db 10 5
	sqlite3 b.db "CREATE INDEX i ON bundle_operations(table_name)"
	sqlite3 b.db "PRAGMA writable_schema = ON; UPDATE sqlite_schema SET sql = 'CREATE INDEX i ON bundle_operations(hlc)' WHERE name = 'i'"
	refused 'snap-bundle-import: fatal: b.db: PRAGMA integrity_check failed: row 1 missing from index i' \
		snap-bundle-import b.db
	make_native_bundle c.db 10 50
	head -c 8192 c.db > cut.db
	refused 'snap-bundle-import: fatal: cut.db: not a valid SQLite database: database disk image is malformed' \
		snap-bundle-import cut.db
}

@test "tables and columns other than the published ones" {
	make_native_bundle b.db 10 2
	sqlite3 b.db "CREATE TABLE extra (x)"
	refused "snap-bundle-import: fatal: b.db: unexpected table 'extra' (a bundle holds bundle_metadata and bundle_operations only)" \
		snap-bundle-import b.db
	make_native_bundle b.db 10 2
	sqlite3 b.db "ALTER TABLE bundle_operations ADD COLUMN note TEXT"
	refused "snap-bundle-import: fatal: b.db: unexpected column 'note' in bundle_operations (snap keeps the published columns only)" \
		snap-bundle-import b.db
	make_native_bundle b.db 10 2
	sqlite3 b.db "ALTER TABLE bundle_operations ADD COLUMN g TEXT GENERATED ALWAYS AS (hlc) VIRTUAL"
	refused "snap-bundle-import: fatal: b.db: unexpected column 'g' in bundle_operations (snap keeps the published columns only)" \
		snap-bundle-import b.db
	make_native_bundle b.db 10 2
	sqlite3 b.db "ALTER TABLE bundle_operations DROP COLUMN applied_at"
	refused "snap-bundle-import: fatal: b.db: no column 'applied_at' in bundle_operations" snap-bundle-import b.db
	make_native_bundle b.db 10 2
	sqlite3 b.db "DROP TABLE bundle_metadata"
	refused "snap-bundle-import: fatal: b.db: no table 'bundle_metadata'" snap-bundle-import b.db
}

@test "op_count and content_hash that do not match the operations" {
	make_native_bundle b.db 10 3
	sqlite3 b.db "UPDATE bundle_metadata SET op_count = 4"
	refused 'snap-bundle-import: fatal: b.db: bundle_metadata: op_count is 4 but bundle_operations has 3 rows' snap-bundle-import b.db
	make_native_bundle b.db 10 3
	sqlite3 b.db "DELETE FROM bundle_operations WHERE rowid = 2; UPDATE bundle_metadata SET op_count = 2"
	refused 'snap-bundle-import: fatal: b.db: bundle_metadata: content_hash is not the SHA-256 of the op_ids in order' snap-bundle-import b.db
}

@test "no metadata row, or two" {
	make_native_bundle b.db 10 1
	sqlite3 b.db "DELETE FROM bundle_metadata"
	refused 'snap-bundle-import: fatal: b.db: bundle_metadata has no row' snap-bundle-import b.db
	make_native_bundle b.db 10 1
	sqlite3 b.db "INSERT INTO bundle_metadata SELECT X'00000000000000000000000000000009', source_device_id, created_at, schema_version, op_count, content_hash FROM bundle_metadata"
	refused 'snap-bundle-import: fatal: b.db: bundle_metadata has more than one row' snap-bundle-import b.db
}

@test "a value breaking a CHECK of the schema fails PRAGMA integrity_check" {
	make_native_bundle b.db 10 3 1
	sqlite3 b.db "PRAGMA ignore_check_constraints = ON; UPDATE bundle_operations SET op_type = 'MERGE' WHERE rowid = 3"
	refused 'snap-bundle-import: fatal: b.db: PRAGMA integrity_check failed: CHECK constraint failed in bundle_operations' \
		snap-bundle-import b.db
}

@test "in a file without STRICT and CHECKs, values of the wrong kind name the row" {
	loose=$(native_schema | sed 's/ CHECK(.*)//; s/ STRICT//')
	check() {
		SCHEMA_SQL=$loose make_native_bundle b.db 10 3 1
		sqlite3 b.db "$1"
		refused "snap-bundle-import: fatal: b.db: bundle_operations row $2 (op_id 0000000000000001000000000000000$2): $3" \
			snap-bundle-import b.db
	}
	check "UPDATE bundle_operations SET hlc = X'3432' WHERE rowid = 2" 2 'hlc is not text'
	check "UPDATE bundle_operations SET op_type = 'MERGE' WHERE rowid = 3" 3 "op_type is not 'INSERT', 'UPDATE' or 'DELETE'"
	check "UPDATE bundle_operations SET is_local = 2 WHERE rowid = 1" 1 'is_local is not 0 or 1'
	check "UPDATE bundle_operations SET device_id = X'00' WHERE rowid = 1" 1 'device_id is not a 16-byte blob'
	check "UPDATE bundle_operations SET row_pk = 'pk' WHERE rowid = 1" 1 'row_pk is not a blob'
	check "UPDATE bundle_operations SET parent_op_id = 'x' WHERE rowid = 2" 2 'parent_op_id is not a 16-byte blob or NULL'
	check "UPDATE bundle_operations SET schema_version = 1.5 WHERE rowid = 1" 1 'schema_version is not an integer'
	check "UPDATE bundle_operations SET table_name = CAST(X'ff' AS TEXT) WHERE rowid = 1" 1 'table_name is not valid UTF-8'
	check "UPDATE bundle_operations SET created_at = 9007199254740992 WHERE rowid = 1" 1 'created_at 9007199254740992 is beyond +-(2^53 - 1)'
}

@test "an op_id that is not a 16-byte blob is named by its row" {
	SCHEMA_SQL=$(native_schema | sed 's/ CHECK(.*)//; s/ STRICT//') make_native_bundle b.db 10 2 1
	sqlite3 b.db "UPDATE bundle_operations SET op_id = X'01' WHERE rowid = 2"
	refused 'snap-bundle-import: fatal: b.db: bundle_operations row 2: op_id is not a 16-byte blob' snap-bundle-import b.db
}

@test "a negative created_at cannot be a sequence" {
	make_native_bundle b.db -5 1
	refused 'snap-bundle-import: fatal: b.db: bundle_metadata: created_at is negative (snap takes it as the sequence)' \
		snap-bundle-import b.db
}

@test "one bad file among good ones: nothing is stored" {
	make_native_bundle a.db 10 2 1
	make_native_bundle b.db 20 2 2
	make_native_bundle c.db 30 2 3
	sqlite3 b.db "UPDATE bundle_metadata SET op_count = 3"
	refused 'snap-bundle-import: fatal: b.db: bundle_metadata: op_count is 3 but bundle_operations has 2 rows' \
		snap-bundle-import a.db b.db c.db
}
