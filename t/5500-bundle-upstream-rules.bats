#!/usr/bin/env bats
# What sqlite-sync-core's import needs of a bundle, beyond its validator:
# vector clocks, values for the operation, well-formed MessagePack, unique
# op_ids, plain table names, its schema version.  Every rule has a refused
# case (one line, exit 128, the store unchanged) and an accepted one.

load test_helper

local_setup() {
	init_store
	json_bundles 1 1 | snap-bundle-import > /dev/null
}

# bad ROW SQL MESSAGE: b.db (3 operations: INSERT, INSERT, UPDATE) with
# "UPDATE bundle_operations SQL WHERE rowid = ROW" applied is refused with
# MESSAGE, naming the file, the row and its op_id.
bad() {
	make_native_bundle b.db 10 3 1
	sqlite3 b.db "UPDATE bundle_operations SET $2 WHERE rowid = $1"
	refused "snap-bundle-import: fatal: b.db: bundle_operations row $1 (op_id 0000000000000001000000000000000$1): $3" \
		snap-bundle-import -r n b.db
}

# good ROW SQL: the same change is accepted.
good() {
	make_native_bundle b.db 10 3 1
	sqlite3 b.db "UPDATE bundle_operations SET $2 WHERE rowid = $1"
	run -0 --separate-stderr snap-bundle-import -r n b.db
	assert_equal "$stderr" ''
	assert_output "$(snap-rev-parse n) refs/snapshots/n"
	snap-update-ref -d refs/snapshots/n
}

D1=00000000000000000000000000000001
D2=0123456789abcdef0123456789abcdef

@test "vector_clock: JSON, an object, device ids as keys, counters integers >= 0" {
	bad 2 "vector_clock = '{'" 'vector_clock: not JSON (byte 0: unexpected end of input)'
	bad 2 "vector_clock = '[1]'" 'vector_clock: not a JSON object'
	bad 2 "vector_clock = '{\"d7\": 1}'" 'vector_clock: key "d7" is not a device id (32 lowercase hex digits)'
	bad 2 "vector_clock = '{\"0123456789ABCDEF0123456789ABCDEF\": 1}'" 'vector_clock: key "0123456789ABCDEF0123456789ABCDEF" is not a device id (32 lowercase hex digits)'
	bad 2 "vector_clock = '{\"${D1}0\": 1}'" "vector_clock: key \"${D1}0\" is not a device id (32 lowercase hex digits)"
	bad 1 "vector_clock = '{\"$D1\": -1}'" "vector_clock: the counter of \"$D1\" is not an integer >= 0"
	bad 1 "vector_clock = '{\"$D1\": 1.5}'" "vector_clock: the counter of \"$D1\" is not an integer >= 0"
	bad 1 "vector_clock = '{\"$D1\": \"2\"}'" "vector_clock: the counter of \"$D1\" is not an integer >= 0"
	bad 1 "vector_clock = '{\"$D1\": true}'" "vector_clock: the counter of \"$D1\" is not an integer >= 0"
}

@test "vector_clock: several devices, a zero counter and the empty clock are accepted" {
	good 2 "vector_clock = '{\"$D1\": 0, \"$D2\": 9007199254740991}'"
	good 1 "vector_clock = '{}'"
}

@test "table_name: a plain identifier of at most 128 bytes" {
	bad 1 "table_name = 'users; DROP TABLE users'" 'table_name: "users; DROP TABLE users" is not a plain identifier ([A-Za-z_][A-Za-z0-9_]*, at most 128 bytes)'
	bad 1 "table_name = '1users'" 'table_name: "1users" is not a plain identifier ([A-Za-z_][A-Za-z0-9_]*, at most 128 bytes)'
	bad 1 "table_name = ''" 'table_name: "" is not a plain identifier ([A-Za-z_][A-Za-z0-9_]*, at most 128 bytes)'
	bad 1 "table_name = '\"users\"'" 'table_name: "\"users\"" is not a plain identifier ([A-Za-z_][A-Za-z0-9_]*, at most 128 bytes)'
	bad 1 "table_name = 'us' || char(10) || 'ers'" 'table_name: "us\ners" is not a plain identifier ([A-Za-z_][A-Za-z0-9_]*, at most 128 bytes)'
	long=$(printf 'a%.0s' $(seq 129))
	bad 1 "table_name = '$long'" "table_name: \"$long\" is not a plain identifier ([A-Za-z_][A-Za-z0-9_]*, at most 128 bytes)"
	good 1 "table_name = '_Users_2'"
	good 1 "table_name = '${long:1}'"
}

@test "op_type: INSERT, UPDATE or DELETE, in upper case" {
	loose=$(native_schema | sed 's/ CHECK(.*)//; s/ STRICT//')
	for t in insert MERGE ''; do
		SCHEMA_SQL=$loose make_native_bundle b.db 10 3 1
		sqlite3 b.db "UPDATE bundle_operations SET op_type = '$t' WHERE rowid = 2"
		refused "snap-bundle-import: fatal: b.db: bundle_operations row 2 (op_id 00000000000000010000000000000002): op_type is not 'INSERT', 'UPDATE' or 'DELETE'" \
			snap-bundle-import -r n b.db
	done
}

@test "values: INSERT and UPDATE have new_values (a map, not empty), DELETE has old_values (a map)" {
	bad 1 "new_values = NULL" 'new_values: null in an INSERT'
	bad 3 "new_values = NULL" 'new_values: null in an UPDATE'
	bad 2 "op_type = 'DELETE', old_values = NULL" 'old_values: null in a DELETE'
	bad 1 "new_values = X'80'" 'new_values: an empty map'
	bad 1 "new_values = X'01'" 'new_values: not a MessagePack map'
	bad 3 "old_values = X'92c0c0'" 'old_values: not a MessagePack map'
	good 2 "op_type = 'DELETE', old_values = X'81a176d200000001', new_values = NULL"
	good 2 "op_type = 'DELETE', old_values = X'80'"
	good 3 "old_values = NULL"
}

@test "row_pk, old_values, new_values: well-formed MessagePack" {
	bad 1 "row_pk = X''" 'row_pk: not well-formed MessagePack (truncated at byte 0)'
	bad 1 "row_pk = X'c1'" 'row_pk: not well-formed MessagePack (byte 0: 0xc1 is not a MessagePack type)'
	bad 1 "row_pk = X'cd00'" 'row_pk: not well-formed MessagePack (truncated at byte 2)'
	bad 1 "row_pk = X'0101'" 'row_pk: not well-formed MessagePack (byte 1: bytes after the value)'
	bad 1 "row_pk = X'dbffffffff41'" 'row_pk: not well-formed MessagePack (truncated at byte 6)'
	bad 1 "row_pk = X'ddffffffff'" 'row_pk: not well-formed MessagePack (truncated at byte 5)'
	bad 1 "row_pk = X'a2c328'" 'row_pk: not well-formed MessagePack (byte 0: a str that is not UTF-8)'
	bad 1 "row_pk = X'a3eda080'" 'row_pk: not well-formed MessagePack (byte 0: a str that is not UTF-8)'
	bad 1 "row_pk = X'd6ff0000'" 'row_pk: not well-formed MessagePack (truncated at byte 4)'
	bad 1 "row_pk = X'd5ff0000'" 'row_pk: not well-formed MessagePack (byte 0: a timestamp of 2 bytes (4, 8 or 12))'
	bad 1 "new_values = X'81a176'" 'new_values: not well-formed MessagePack (truncated at byte 3)'
	bad 1 "new_values = X'810101'" 'new_values: not well-formed MessagePack (byte 1: a map key that is not a str or bin)'
	bad 3 "old_values = X'8191c001'" 'old_values: not well-formed MessagePack (byte 1: a map key that is not a str or bin)'
	deep=$(printf '91%.0s' $(seq 129))
	bad 1 "row_pk = X'${deep}00'" 'row_pk: not well-formed MessagePack (byte 128: nested deeper than 128 levels)'
	good 1 "row_pk = X'${deep:2}00'"
	# Every type of the specification, in one array.
	all=(00 7f ff e0 c0 c2 c3 cc01 cd0001 ce00000001 cf0000000000000001 d0ff d1ffff
	     d2ffffffff d3ffffffffffffffff ca3f800000 cb3ff0000000000000 a0 a161 d90162
	     da000163 db0000000164 c400 c40101 c5000102 c600000001ff d40100 d5010000
	     d60100000000 d7010000000000000000 d80100000000000000000000000000000000
	     c70001 c8000101ff c9000000010100 d6ff00000000 d7ff0000000000000000
	     c70cff000000000000000000000000 90 80 dc0001c0 dd00000001c0 de0001a0c0
	     df00000001c400c0 8fa0c0a0c0a0c0a0c0a0c0a0c0a0c0a0c0a0c0a0c0a0c0a0c0a0c0a0c0a0c0)
	all=dc$(printf '%04x' ${#all[@]})$(printf '%s' "${all[@]}")
	good 1 "row_pk = X'$all'"
	good 1 "row_pk = X'de0001c40178d7ff0000000000000000'"
	good 1 "new_values = X'82a2c3a9c0c401ffc70005'"
	good 1 "new_values = X'81a176c70cff000000000000000000000000'"
}

@test "a duplicate op_id is refused, in a database and in JSON" {
	SCHEMA_SQL=$(native_schema | sed 's/op_id BLOB PRIMARY KEY/op_id BLOB/') make_native_bundle b.db 10 3 1
	sqlite3 b.db "UPDATE bundle_operations SET op_id = X'00000000000000010000000000000001' WHERE rowid = 2"
	refused 'snap-bundle-import: fatal: b.db: bundle_operations row 2 (op_id 00000000000000010000000000000001): duplicate op_id' \
		snap-bundle-import -r n b.db
	make_native_bundle a.db 10 2 1
	b=$(snap-bundle-import --no-ref a.db | xargs snap-cat-file -p | sed -n 's/^bundle //p')
	snap-cat-file bundle "$b" | jq -c '.operations[1] = .operations[0]' > dup.json
	refused 'snap-bundle-import: fatal: dup.json: bundle 1 (line 1): $.operations[1].op_id: duplicate op_id (that of the operation before)' \
		snap-bundle-import -r n dup.json
}

@test "a JSON bundle of the native shape is held to the same rules, named by its path" {
	make_native_bundle a.db 10 2 1
	b=$(snap-bundle-import --no-ref a.db | xargs snap-cat-file -p | sed -n 's/^bundle //p')
	snap-cat-file bundle "$b" > good.json
	run -0 snap-bundle-import -r n good.json
	snap-update-ref -d refs/snapshots/n
	jq -c '.operations[1].vector_clock = "{\"x\": 1}"' good.json > bad.json
	refused 'snap-bundle-import: fatal: bad.json: bundle 1 (line 1): $.operations[1]: vector_clock: key "x" is not a device id (32 lowercase hex digits)' \
		snap-bundle-import -r n bad.json
	jq -c '.operations[0].table_name = "a-b"' good.json > bad.json
	refused 'snap-bundle-import: fatal: bad.json: bundle 1 (line 1): $.operations[0]: table_name: "a-b" is not a plain identifier ([A-Za-z_][A-Za-z0-9_]*, at most 128 bytes)' \
		snap-bundle-import -r n bad.json
	jq -c '.operations[0].new_values = "c1"' good.json > bad.json
	refused 'snap-bundle-import: fatal: bad.json: bundle 1 (line 1): $.operations[0]: new_values: not well-formed MessagePack (byte 0: 0xc1 is not a MessagePack type)' \
		snap-bundle-import -r n bad.json
	jq -c '.operations[0].new_values = null' good.json > bad.json
	refused 'snap-bundle-import: fatal: bad.json: bundle 1 (line 1): $.operations[0]: new_values: null in an INSERT' \
		snap-bundle-import -r n bad.json
}

@test "schema_version other than 1: a warning, refused with --strict, expected another with --schema-version" {
	make_native_bundle a.db 10 1 1
	make_native_bundle b.db 20 1 2
	sqlite3 b.db "UPDATE bundle_metadata SET schema_version = 2"
	refused 'snap-bundle-import: fatal: b.db: bundle 1: schema_version 2 is not 1 (--strict)' \
		snap-bundle-import --strict -r n a.db b.db
	refused 'snap-bundle-import: fatal: a.db: bundle 1: schema_version 1 is not 2 (--strict)' \
		snap-bundle-import --strict --schema-version 2 -r n a.db b.db
	run -0 --separate-stderr snap-bundle-import --strict -r n a.db
	assert_equal "$stderr" ''
	run -0 --separate-stderr snap-bundle-import -r n b.db
	assert_equal "$stderr" "snap-bundle-import: warning: b.db: bundle 1: schema_version 2 is not 1, which sqlite-sync-core's import refuses"
	assert_output "$(snap-rev-parse n) refs/snapshots/n"
	run -0 --separate-stderr snap-bundle-import --strict --schema-version 2 -r m b.db
	assert_equal "$stderr" ''
	run -129 --separate-stderr snap-bundle-import --schema-version x a.db
	assert_equal "${stderr%%$'\n'*}" "snap-bundle-import: error: --schema-version: 'x' is not an integer >= 0"
}

@test "sqlite-sync-core's own bundles pass every rule" {
	# The project's ../shared/fixtures, or SNAP_UPSTREAM_FIXTURES.
	f=${SNAP_UPSTREAM_FIXTURES:-$BATS_TEST_DIRNAME/../../shared/fixtures/sqlite-sync-core}
	[ -e "$f/init.bundle" ] || skip "no sqlite-sync-core fixtures beside the project"
	run -0 --separate-stderr snap-bundle-import --strict -r n "$f/init.bundle" "$f/a.bundle"
	assert_equal "$stderr" ''
}
