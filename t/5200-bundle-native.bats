#!/usr/bin/env bats
# Native sqlite-sync-core bundles (.bundle.db): import, canonical form,
# export back to files that pass the same checks.

load test_helper

local_setup() {
	init_store
}

OPS_Q="SELECT hex(op_id), hex(device_id), quote(parent_op_id), vector_clock, hlc, table_name, op_type, hex(row_pk), quote(old_values), quote(new_values), schema_version, created_at, is_local, quote(applied_at) FROM bundle_operations ORDER BY op_id"
META_Q="SELECT hex(bundle_id), hex(source_device_id), created_at, schema_version, op_count, hex(content_hash) FROM bundle_metadata"

@test "a native bundle imports as canonical JSON of the documented shape" {
	make_native_bundle b.db 1770000000000000 3 7
	run -0 snap-bundle-import -r n b.db
	b=$(snap-cat-file -p "$(snap-rev-parse n)" | sed -n 's/^bundle //p')
	run -0 snap-cat-file bundle "$b"
	hash=$(native_content_hash b.db)
	assert_output "{\"bundle_id\":\"00000000000000070000000000000000\",\"content_hash\":\"$hash\",\"format\":\"sqlite-sync-core\",\"operations\":[{\"applied_at\":null,\"created_at\":1769999999999998,\"device_id\":\"00000000000000000000000000000007\",\"hlc\":\"1770000000001:0:d7\",\"is_local\":1,\"new_values\":\"81a176d200001eef\",\"old_values\":null,\"op_id\":\"00000000000000070000000000000001\",\"op_type\":\"INSERT\",\"parent_op_id\":null,\"row_pk\":\"cd0001\",\"schema_version\":1,\"table_name\":\"users\",\"vector_clock\":\"{\\\"00000000000000000000000000000007\\\": 1}\"},{\"applied_at\":1770000000000002,\"created_at\":1769999999999999,\"device_id\":\"00000000000000000000000000000007\",\"hlc\":\"1770000000002:0:d7\",\"is_local\":0,\"new_values\":\"81a176d200003dde\",\"old_values\":null,\"op_id\":\"00000000000000070000000000000002\",\"op_type\":\"INSERT\",\"parent_op_id\":\"00000000000000070000000000000001\",\"row_pk\":\"cd0002\",\"schema_version\":1,\"table_name\":\"users\",\"vector_clock\":\"{\\\"00000000000000000000000000000007\\\": 2}\"},{\"applied_at\":null,\"created_at\":1770000000000000,\"device_id\":\"00000000000000000000000000000007\",\"hlc\":\"1770000000003:0:d7\",\"is_local\":1,\"new_values\":\"81a176d200005ccd\",\"old_values\":\"81a176d200000003\",\"op_id\":\"00000000000000070000000000000003\",\"op_type\":\"UPDATE\",\"parent_op_id\":\"00000000000000070000000000000002\",\"row_pk\":\"cd0003\",\"schema_version\":1,\"table_name\":\"users\",\"vector_clock\":\"{\\\"00000000000000000000000000000007\\\": 3}\"}],\"schema_version\":1,\"sequence\":1770000000000000,\"source_device_id\":\"00000000000000000000000000000007\"}"
}

@test "the same rows in another file layout give the same bundle id" {
	make_native_bundle a.db 1770000000000000 20 2
	# Same rows, inserted in reverse order, then vacuumed with another page size.
	{ native_schema; echo "BEGIN;"
	  sqlite3 a.db ".mode insert bundle_operations" "SELECT * FROM bundle_operations ORDER BY op_id DESC"
	  sqlite3 a.db ".mode insert bundle_metadata" "SELECT * FROM bundle_metadata"
	  echo "COMMIT;"; } | sqlite3 b.db
	sqlite3 b.db "PRAGMA page_size = 1024; VACUUM"
	run -1 cmp -s a.db b.db
	a=$(snap-bundle-import --no-ref a.db)
	b=$(snap-bundle-import --no-ref b.db)
	assert_equal "$a" "$b"
}

@test "export --format sqlite writes .bundle.db files that hold the same rows and pass the checks" {
	make_native_bundle a.db 1770000000000000 4 1
	make_native_bundle b.db 1770000000500000 2 2
	native_schema | sqlite3 ref.db
	snap-bundle-import a.db b.db > /dev/null
	run -0 snap-bundle-export --format sqlite -o out bundles
	assert_output ''
	run -0 ls out
	assert_output '1770000000000000.bundle.db
1770000000500000.bundle.db'
	for pair in "a.db out/1770000000000000.bundle.db" "b.db out/1770000000500000.bundle.db"; do
		set -- $pair
		assert_equal "$(sqlite3 "$2" 'PRAGMA integrity_check')" ok
		assert_equal "$(sqlite3 "$2" "$OPS_Q")" "$(sqlite3 "$1" "$OPS_Q")"
		assert_equal "$(sqlite3 "$2" "$META_Q")" "$(sqlite3 "$1" "$META_Q")"
		assert_equal "$(sqlite3 "$2" .schema)" "$(sqlite3 ref.db .schema)"
		assert_equal "$(native_content_hash "$2")" "$(sqlite3 "$2" 'SELECT lower(hex(content_hash)) FROM bundle_metadata')"
	done
	# Import of the exported files gives back the same snapshot.
	snap-init -q s2
	run -0 snap-bundle-import --store s2 out/*.bundle.db
	assert_output "$(snap-rev-parse bundles) refs/snapshots/bundles"
}

@test "export --format sqlite refuses a JSON bundle before writing any file" {
	make_native_bundle a.db 10 1 1
	snap-bundle-import a.db > /dev/null
	printf '{"sequence":20,"operations":[]}\n' | snap-bundle-import > /dev/null
	run -128 --separate-stderr snap-bundle-export --format sqlite -o out bundles
	assert_equal "$stderr" "snap-bundle-export: fatal: bundle '$(snap-cat-file -p "$(snap-rev-parse bundles)" | sed -n 's/^bundle //p')' (sequence 20) is not a native sqlite-sync-core bundle; export it as json or jsonl"
	run -1 test -e out
}

@test "export --format sqlite does not overwrite a file" {
	make_native_bundle a.db 10 1 1
	snap-bundle-import a.db > /dev/null
	mkdir out && echo keep > out/0000000000000010.bundle.db
	run -128 --separate-stderr snap-bundle-export --format sqlite -o out bundles
	assert_equal "$stderr" "snap-bundle-export: fatal: 'out/0000000000000010.bundle.db' exists already"
	assert_equal "$(cat out/0000000000000010.bundle.db)" keep
	run -0 ls -A out
	assert_output '0000000000000010.bundle.db'
}

@test "native and JSON bundles of the same shape are one bundle" {
	make_native_bundle a.db 1770000000000000 2 3
	snap-bundle-import -r n a.db > /dev/null
	snap-bundle-export n > n.jsonl
	snap-bundle-import -r j n.jsonl > /dev/null
	assert_equal "$(snap-rev-parse n)" "$(snap-rev-parse j)"
	run -0 snap-bundle-export --format sqlite -o out j
	assert_equal "$(sqlite3 out/1770000000000000.bundle.db "$OPS_Q")" "$(sqlite3 a.db "$OPS_Q")"
}

@test "a WAL-mode bundle file and standard input are read" {
	make_native_bundle a.db 5 3 4
	sqlite3 a.db 'PRAGMA journal_mode = WAL' > /dev/null
	id=$(snap-bundle-import --no-ref a.db)
	sqlite3 a.db 'PRAGMA journal_mode = DELETE' > /dev/null
	assert_equal "$(snap-bundle-import --no-ref --format sqlite < a.db)" "$id"
}

@test "the sequence of a native bundle is its created_at, and must rise unless the vector clocks say it came after" {
	make_native_bundle a.db 2000 1 1
	make_native_bundle b.db 1000 1 2
	snap-bundle-import a.db > /dev/null
	before=$(store_listing)
	run -128 --separate-stderr snap-bundle-import b.db
	assert_equal "$stderr" "snap-bundle-import: fatal: b.db: bundle 1: sequence 1000 is not above 2000, the last of parent '$(snap-rev-parse bundles)', and the vector clocks do not put it after that one (keep one ref per source device)"
	assert_equal "$(store_listing)" "$before"
}

@test "sqlite-sync-core's own bundles import and export unchanged" {
	fx=$BATS_TEST_DIRNAME/../../shared/fixtures/sqlite-sync-core
	[ -f "$fx/init.bundle" ] || skip "the shared fixtures are not beside this checkout"
	run -0 snap-bundle-import "$fx/init.bundle" "$fx/a.bundle"
	run -0 snap-bundle-export --format sqlite -o out bundles
	run -0 ls out
	assert_output '1770485507765162.bundle.db
1770485507862478.bundle.db'
	assert_equal "$(sqlite3 out/1770485507765162.bundle.db "$OPS_Q")" "$(sqlite3 "$fx/init.bundle" "$OPS_Q")"
	assert_equal "$(sqlite3 out/1770485507862478.bundle.db "$META_Q")" "$(sqlite3 "$fx/a.bundle" "$META_Q")"
	assert_equal "$(sqlite3 out/1770485507862478.bundle.db .schema)" "$(sqlite3 "$fx/a.bundle" .schema)"
	run -0 snap-fsck
	assert_output ''
}

# wal_bundle DIR: DIR/x.bundle.db and DIR/x.bundle.db-wal, copied while a
# writer held them open: the last commit (the 6 operations of big.db, in
# place of the 3 of the file) is in the log only, not in the main file.
wal_bundle() {
	make_native_bundle a.db 5 3 4
	make_native_bundle big.db 5 6 4
	sqlite3 a.db 'PRAGMA journal_mode = WAL' > /dev/null
	mkdir "$1"
	sqlite3 a.db <<SQL
PRAGMA wal_autocheckpoint = 0;
ATTACH 'big.db' AS big;
BEGIN;
DELETE FROM bundle_operations;
INSERT INTO bundle_operations SELECT * FROM big.bundle_operations;
DELETE FROM bundle_metadata;
INSERT INTO bundle_metadata SELECT * FROM big.bundle_metadata;
COMMIT;
.shell cp a.db $1/x.bundle.db && cp a.db-wal $1/x.bundle.db-wal
SQL
	test -s "$1/x.bundle.db-wal"
}

@test "a bundle whose last commit is in its write-ahead log is stored as SQLite reads it" {
	wal_bundle w
	# The main file alone still holds the old rows.
	assert_equal "$(sqlite3 -readonly "file:w/x.bundle.db?immutable=1" 'SELECT count(*) FROM bundle_operations')" 3
	sums=$(b3sum w/*)
	id=$(snap-bundle-import --no-ref w/x.bundle.db)
	assert_equal "$(b3sum w/*)" "$sums"
	run -0 ls w
	assert_output 'x.bundle.db
x.bundle.db-wal'
	assert_equal "$id" "$(snap-bundle-import --no-ref big.db)"
	snap-update-ref refs/snapshots/w "$id"
	run -0 snap-bundle-export --format sqlite -o out w
	# What sqlite3 reads from the pair (it may checkpoint it: last).
	assert_equal "$(sqlite3 out/0000000000000005.bundle.db "$OPS_Q")" "$(sqlite3 w/x.bundle.db "$OPS_Q")"
	assert_equal "$(sqlite3 out/0000000000000005.bundle.db "$META_Q")" "$(sqlite3 w/x.bundle.db "$META_Q")"
	assert_equal "$(sqlite3 w/x.bundle.db 'SELECT count(*) FROM bundle_operations')" 6
}

@test "a torn tail of the write-ahead log is left out, as SQLite does" {
	wal_bundle w
	head -c 1000 /dev/urandom >> w/x.bundle.db-wal
	assert_equal "$(snap-bundle-import --no-ref w/x.bundle.db)" "$(snap-bundle-import --no-ref big.db)"
}

@test "a write-ahead log of another database (other salts) is ignored, as SQLite does" {
	wal_bundle w
	wal_bundle v
	# v's log frames carry v's salts; under w's log header they do not count.
	{ head -c 32 w/x.bundle.db-wal; tail -c +33 v/x.bundle.db-wal; } > log
	mv log w/x.bundle.db-wal
	cp w/x.bundle.db plain.db
	assert_equal "$(snap-bundle-import --no-ref w/x.bundle.db)" "$(snap-bundle-import --no-ref plain.db)"
}

@test "a bundle with a hot rollback journal beside it is refused, naming the journal" {
	make_native_bundle a.db 5 3 4
	make_native_bundle big.db 5 6 4
	mkdir j
	# The journal as a crash after the main file was written leaves it.
	sqlite3 a.db <<SQL
ATTACH 'big.db' AS big;
BEGIN;
DELETE FROM bundle_operations;
INSERT INTO bundle_operations SELECT * FROM big.bundle_operations;
DELETE FROM bundle_metadata;
INSERT INTO bundle_metadata SELECT * FROM big.bundle_metadata;
.shell cp a.db-journal j/x.bundle.db-journal
COMMIT;
SQL
	cp a.db j/x.bundle.db
	# Copied before COMMIT synced it: finish the header as the sync does,
	# with the magic and the number of page records.
	be32() { od -An -tu1 -j"$2" -N4 "$1" | awk '{ print $1 * 16777216 + $2 * 65536 + $3 * 256 + $4 }'; }
	sector=$(be32 j/x.bundle.db-journal 20)
	page=$(be32 j/x.bundle.db-journal 24)
	n=$(( ($(stat -c %s j/x.bundle.db-journal) - sector) / (page + 8) ))
	[ "$n" -gt 0 ] && [ "$n" -lt 256 ]
	printf "\xd9\xd5\x05\xf9\x20\xa1\x63\xd7\x00\x00\x00\x$(printf %02x "$n")" |
		dd of=j/x.bundle.db-journal conv=notrunc status=none
	sums=$(b3sum j/*)
	before=$(store_listing)
	run -128 --separate-stderr snap-bundle-import --no-ref j/x.bundle.db
	assert_equal "$stderr" "snap-bundle-import: fatal: 'j/x.bundle.db': the hot journal 'j/x.bundle.db-journal' beside it holds a transaction cut short, which SQLite rolls back when it opens the file; open it with sqlite3 first"
	assert_equal "$output" ''
	assert_equal "$(store_listing)" "$before"
	assert_equal "$(b3sum j/*)" "$sums"
	# What SQLite reads is the rolled-back file: the old rows.
	assert_equal "$(sqlite3 j/x.bundle.db 'SELECT count(*) FROM bundle_operations')" 3
	run -1 test -e j/x.bundle.db-journal
	make_native_bundle old.db 5 3 4
	assert_equal "$(snap-bundle-import --no-ref j/x.bundle.db)" "$(snap-bundle-import --no-ref old.db)"
}

# big_bundle FILE N: a bundle of N operations, made by one recursive
# insert (ids are 16 ASCII bytes, values MessagePack str and maps).
big_bundle() {
	rm -f "$1"
	{ native_schema; cat <<SQL
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $2)
INSERT INTO bundle_operations
SELECT CAST(printf('op%014d', i) AS BLOB), CAST('device-000000009' AS BLOB),
       CASE WHEN i > 1 THEN CAST(printf('op%014d', i - 1) AS BLOB) END,
       printf('{"%032x": %d}', 9, i), printf('%d:0:d9', 1770000000000 + i), 'users',
       'INSERT', CAST(X'a8' || printf('%08d', i) AS BLOB), NULL,
       CAST(X'82a26964a8' || printf('%08d', i) || X'a46e616d65a6' || printf('u%05d', i % 100000) AS BLOB),
       1, 1770000000000000 + i, 1, NULL
FROM n;
INSERT INTO bundle_metadata VALUES (CAST('bundle-000000099' AS BLOB), CAST('device-000000009' AS BLOB),
       1770000000200000, 1, $2, zeroblob(32));
COMMIT;
SQL
	} | sqlite3 "$1"
	sqlite3 "$1" "UPDATE bundle_metadata SET content_hash = X'$(sqlite3 "$1" 'SELECT hex(op_id) FROM bundle_operations ORDER BY op_id' | tr -d '\n' | xxd -r -p | sha256sum | cut -c1-64)'"
}

@test "a bundle of 100,000 operations (a 21 MB file, 47 MB canonical) is imported whole" {
	big_bundle big.db 100000
	run -0 snap-bundle-import -r big big.db
	b=$(snap-cat-file -p "$(snap-rev-parse big)" | sed -n 's/^bundle //p')
	assert_equal "$(snap-cat-file bundle "$b" | jq '.operations | length, .[99999].op_id')" '100000
"6f703030303030303030313030303030"'
	rm -f big.db
}
