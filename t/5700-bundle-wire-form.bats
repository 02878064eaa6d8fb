#!/usr/bin/env bats
# sqlite-sync-core's JSON wire form ({"device_id": ..., "operations": [...]},
# blobs and the HLC as hex, no is_local or applied_at) imports as a native
# bundle; hash-object -t bundle checks a bundle as import stores it.

load test_helper

local_setup() {
	init_store
}

# to_wire < NATIVE-JSON: the wire form of a stored native bundle.
WIRE='def hex: explode | map("0123456789abcdef"[(./16|floor):(./16|floor)+1] + "0123456789abcdef"[(.%16):(.%16)+1]) | join("");
      {device_id: .source_device_id,
       operations: [.operations[] | del(.is_local, .applied_at) | .hlc |= hex]}'

# native_json FILE: the stored form of .bundle.db FILE, without storing it.
native_json() {
	local id
	snap-init -q "$BATS_TEST_TMPDIR/scratch" 2>/dev/null || true
	id=$(snap-bundle-import --store "$BATS_TEST_TMPDIR/scratch" --no-ref "$1" |
		xargs snap-cat-file --store "$BATS_TEST_TMPDIR/scratch" -p | sed -n 's/^bundle //p')
	snap-cat-file --store "$BATS_TEST_TMPDIR/scratch" bundle "$id"
}

@test "the wire form imports as the native bundle of its operations, received" {
	make_native_bundle a.db 1770000000000000 3 7
	native_json a.db > native.json
	jq -c "$WIRE" native.json > wire.json
	run -0 --separate-stderr snap-bundle-import -r w wire.json
	assert_equal "$stderr" ''
	b=$(snap-cat-file -p "$(snap-rev-parse w)" | sed -n 's/^bundle //p')
	hash=$(jq -r .content_hash native.json)
	# The same, but for what the wire does not carry.
	# (jq -cS writes these ASCII-only values as RFC 8785 does.)
	assert_equal "$(snap-cat-file bundle "$b")" "$(jq -cS --arg h "$hash" '.bundle_id = $h[0:32] |
		.operations |= map(.is_local = 0 | .applied_at = null) |
		.sequence = (.operations | map(.created_at) | max)' native.json)"
	# It exports as a .bundle.db that passes sqlite-sync-core's checks.
	run -0 snap-bundle-export --format sqlite -o out w
	f=out/$(printf %016d "$(jq '.operations | map(.created_at) | max' native.json)").bundle.db
	assert_equal "$(sqlite3 "$f" 'PRAGMA integrity_check')" ok
	assert_equal "$(native_content_hash "$f")" "$hash"
	assert_equal "$(sqlite3 "$f" 'SELECT hlc FROM bundle_operations ORDER BY op_id' | tr '\n' ' ')" \
		"$(sqlite3 a.db 'SELECT hlc FROM bundle_operations ORDER BY op_id' | tr '\n' ' ')"
}

@test "wire operations in any order give the same bundle; JSON Lines and arrays of them too" {
	make_native_bundle a.db 1770000000000000 3 7
	native_json a.db | jq -c "$WIRE" > wire.json
	jq -c '.operations |= reverse' wire.json > reversed.json
	a=$(snap-bundle-import --no-ref wire.json)
	assert_equal "$(snap-bundle-import --no-ref reversed.json)" "$a"
	make_native_bundle b.db 1770000000500000 2 8
	native_json b.db | jq -c "$WIRE" >> wire.json
	run -0 snap-bundle-import -r two wire.json
	assert_equal "$(snap-bundle-export two | wc -l)" 2
}

@test "a wire form that cannot be a bundle is refused, naming the path" {
	make_native_bundle a.db 10 3 1
	native_json a.db | jq -c "$WIRE" > wire.json
	check() {
		jq -c "$1" wire.json > bad.json
		refused "snap-bundle-import: fatal: bad.json: bundle 1 (line 1): $2" snap-bundle-import bad.json
	}
	check '.operations[1].hlc = null' '$.operations[1].hlc: not lowercase hex of the HLC text'
	check '.operations[1].hlc = "ABCD"' '$.operations[1].hlc: not lowercase hex of the HLC text'
	check '.operations[1].hlc = "ff"' '$.operations[1].hlc: not UTF-8 text'
	check 'del(.operations[0].hlc)' '$.operations[0].hlc: missing'
	check '.operations[0].is_local = 1' '$.operations[0].is_local: not a member of a native bundle'
	check '.status = "ok"' '$.status: not a member of a native bundle'
	check '.operations = []' '$.operations: empty (a bundle holds at least one operation)'
	check '.device_id = "x"' '$.device_id: not lowercase hex of a 16-byte blob'
	check '.operations[2].schema_version = 2' '$.operations[2].schema_version: 2, not 1 as the operations before (one bundle has one)'
	check '.operations[0].created_at = -1' '$.operations[0].created_at: not an integer >= 0'
	check '.operations[0].op_id = "00"' '$.operations[0].op_id: not lowercase hex of a 16-byte blob'
	check '.operations[0].table_name = "a b"' '$.operations[0]: table_name: "a b" is not a plain identifier ([A-Za-z_][A-Za-z0-9_]*, at most 128 bytes)'
	check '.operations[1].op_id = .operations[0].op_id' '$.operations[1].op_id: duplicate op_id (that of the operation before)'
}

@test "hash-object -t bundle checks the bundle as import stores it; --literally does not" {
	make_native_bundle a.db 10 2 1
	b=$(snap-bundle-import --no-ref a.db | xargs snap-cat-file -p | sed -n 's/^bundle //p')
	snap-cat-file bundle "$b" > stored.json
	run -0 snap-hash-object -t bundle stored.json
	assert_output "$b"
	printf '{"operations":[],"sequence":3}' > plain.json
	run -0 snap-hash-object -t bundle -w plain.json
	assert_output "$(snap-bundle-import --no-ref plain.json | xargs snap-cat-file -p | sed -n 's/^bundle //p')"
	printf '{"sequence": 3, "operations": []}' > spaced.json
	refused "snap-hash-object: fatal: 'spaced.json' is not a bundle as snap-bundle-import stores it: not in canonical form" \
		snap-hash-object -t bundle -w spaced.json
	printf '{"sequence":3}' > bad.json
	refused "snap-hash-object: fatal: 'bad.json' is not a bundle as snap-bundle-import stores it: \$.operations: missing" \
		snap-hash-object -t bundle -w bad.json
	jq -c '.operations[0].vector_clock = "{}x"' stored.json > vc.json
	refused "snap-hash-object: fatal: 'standard input' is not a bundle as snap-bundle-import stores it: \$.operations[0]: vector_clock: not JSON (byte 2: text after the value)" \
		sh -c 'snap-hash-object -t bundle -w --stdin < vc.json'
	run -0 snap-hash-object -t bundle --literally bad.json
	assert_output "$(printf 'bundle 14\0{"sequence":3}' | b3sum --no-names)"
}

@test "export --format wire writes the wire form sqlite-sync-core pushes; it imports as the same bundles" {
	make_native_bundle a.db 1770000000000000 3 7
	make_native_bundle b.db 1770000000000500 2 8
	native_json a.db > a.json
	snap-bundle-import -q -r n a.db b.db > /dev/null
	run -0 --separate-stderr snap-bundle-export --format wire n
	assert_equal "$stderr" ""
	assert_equal "$(printf '%s\n' "$output" | wc -l)" 2
	# Line one is what the WIRE filter makes of a.db's stored form, in
	# canonical JSON (jq -cS writes these ASCII-only values as RFC 8785 does).
	assert_equal "$(printf '%s\n' "$output" | sed -n 1p)" "$(jq -cS "$WIRE" a.json)"
	printf '%s\n' "$output" > wire.jsonl
	# Imported again it is the native bundles of the same operations,
	# received; exported again, the same wire form, byte for byte.
	run -0 snap-bundle-import -q -r w wire.jsonl
	run -0 snap-bundle-export --format wire -o again.jsonl w
	cmp wire.jsonl again.jsonl
}

@test "export --format wire refuses a bundle that is not native before writing anything" {
	printf '{"sequence":1,"operations":[]}\n' | snap-bundle-import -q -r j > /dev/null
	run -128 --separate-stderr snap-bundle-export --format wire -o out.jsonl j
	[[ "$stderr" =~ ^snap-bundle-export:\ fatal:\ bundle\ \'[0-9a-f]{64}\'\ \(sequence\ 1\)\ is\ not\ a\ native\ sqlite-sync-core\ bundle\;\ export\ it\ as\ json\ or\ jsonl$ ]]
	[ ! -e out.jsonl ]
	run -129 --separate-stderr snap-bundle-export --format yaml j
	assert_equal "${stderr%%$'\n'*}" "snap-bundle-export: error: unknown format 'yaml' (jsonl, json, wire or sqlite)"
}
