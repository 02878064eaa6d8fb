#!/usr/bin/env bats
# 1: object database — damaged objects are errors, never silent

load test_helper

local_setup() {
	init_store
	make_file 5000 f
	ID=$(snap-hash-object -w f)
	P=$(object_path "$ID")
	chmod u+w "$P"
	make_file 700 g
	OTHER=$(snap-hash-object -w g)
}

# cat-file must fail naming the object, and change nothing in the store.
expect_corrupt() {
	local before
	before=$(store_listing)
	run -128 --separate-stderr snap-cat-file blob "$ID"
	[[ "$stderr" == "snap-cat-file: fatal: object '$ID' is corrupt ($P): $1" ]] ||
		{ echo "stderr: $stderr"; false; }
	assert_equal "$(store_listing)" "$before"
}

@test "an object file replaced by another valid object is a hash mismatch" {
	cp "$(object_path "$OTHER")" "$P"
	expect_corrupt "hash mismatch"
}

@test "a truncated object file is refused" {
	truncate -s -10 "$P"
	expect_corrupt "truncated"
}

@test "trailing garbage after the frame is refused" {
	printf 'garbage' >> "$P"
	expect_corrupt "trailing bytes after the compressed frame"
}

@test "a header claiming more bytes than the frame holds is refused" {
	{ printf 'blob 9000\0'; cat f; } | zstd -q -c > "$P"
	expect_corrupt "truncated"
}

@test "a header claiming fewer bytes than the frame holds is refused" {
	{ printf 'blob 10\0'; cat f; } | zstd -q -c > "$P"
	expect_corrupt "longer than its header says"
}

@test "a frame that is not zstd at all is refused" {
	printf 'not zstd data at all' > "$P"
	expect_corrupt "Unknown frame descriptor"
}

@test "a malformed header is refused" {
	{ printf 'blob 05\0'; printf 'hello'; } | zstd -q -c > "$P"
	expect_corrupt "bad object header"
}

@test "a flipped byte in a large streamed object is caught at the end" {
	truncate -s 20000000 big
	printf 'x' | dd of=big bs=1 seek=10000000 conv=notrunc 2>/dev/null
	B=$(snap-hash-object -w big)
	BP=$(object_path "$B")
	chmod u+w "$BP"
	{ printf 'blob 20000000\0'; head -c 20000000 /dev/zero; } | zstd -q -c > "$BP"
	run -128 --separate-stderr sh -c "snap-cat-file blob $B > /dev/null"
	[[ "$stderr" == *"object '$B' is corrupt"*"hash mismatch" ]]
}

@test "a decompression bomb stops at the declared size" {
	# 1 GiB of zeros compresses to ~32 KiB; the header claims 10 bytes.
	{ printf 'blob 10\0'; head -c 1073741824 /dev/zero; } | zstd -q -c > "$P"
	run -128 --separate-stderr /usr/bin/time -f '%M' -o rss snap-cat-file blob "$ID"
	[[ "$stderr" == *"longer than its header says"* ]]
	[ "$(tail -1 rss)" -lt 65536 ]
}
