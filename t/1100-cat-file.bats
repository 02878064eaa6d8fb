#!/usr/bin/env bats
# 1: object database — snap-cat-file

load test_helper

local_setup() {
	init_store
	printf 'hello world\n' > f
	ID=$(snap-hash-object -w f)
}

@test "cat-file -t, -s and -p" {
	run -0 snap-cat-file -t "$ID"
	assert_output blob
	run -0 snap-cat-file -s "$ID"
	assert_output 12
	run -0 snap-cat-file -p "$ID"
	assert_output 'hello world'
}

@test "cat-file TYPE OBJECT prints the content of that type" {
	run -0 snap-cat-file blob "$ID"
	assert_output 'hello world'
}

@test "cat-file TYPE OBJECT of another type fails" {
	run -128 --separate-stderr snap-cat-file tree "$ID"
	assert_equal "$stderr" "snap-cat-file: fatal: object '$ID' is a blob, not a tree"
}

@test "cat-file -e: 0 when present, 1 when absent, silently" {
	run -0 snap-cat-file -e "$ID"
	assert_output ''
	run -1 --separate-stderr snap-cat-file -e 0000000000000000000000000000000000000000000000000000000000000000
	assert_output ''
	assert_equal "$stderr" ''
}

@test "cat-file accepts unique prefixes of 4 or more hex digits, any case" {
	run -0 snap-cat-file -t "${ID:0:4}"
	assert_output blob
	run -0 snap-cat-file -t "$(tr a-f A-F <<< "${ID:0:10}")"
	assert_output blob
}

@test "cat-file refuses a too-short or non-hex name that is no ref" {
	run -128 --separate-stderr snap-cat-file -t abc
	assert_equal "$stderr" "snap-cat-file: fatal: unknown revision 'abc'"
	run -128 --separate-stderr snap-cat-file -t xyz123
	assert_equal "$stderr" "snap-cat-file: fatal: unknown revision 'xyz123'"
}

@test "cat-file, checkout and fsck take any REV where an id goes" {
	mkdir src
	echo one > src/f
	snap-snapshot src > /dev/null
	echo two > src/f
	snap-snapshot src > /dev/null
	run -0 snap-cat-file -t main
	assert_output snapshot
	run -0 snap-cat-file -p main~1:f
	assert_output one
	run -0 snap-cat-file -e main:f
	run -1 snap-cat-file -e main:nothing
	snap-checkout main~1 out
	assert_equal "$(cat out/f)" one
	run -0 snap-fsck main~1
	assert_output ''
	first=$(snap-rev-parse main~1)
	run -128 --separate-stderr snap-fsck main~5
	assert_equal "$stderr" "snap-fsck: fatal: 'main~5': snapshot '$first' has no parent 1"
}

@test "cat-file of an unknown id fails naming it" {
	run -128 --separate-stderr snap-cat-file -p 1234
	assert_equal "$stderr" "snap-cat-file: fatal: no object matches '1234'"
}

# Writes blobs until two ids share their first 4 hex digits; prints the prefix.
ambiguous_prefix() {
	local i id
	declare -A seen
	for i in $(seq 1 5000); do
		id=$(printf '%s' "$i" | snap-hash-object -w --stdin)
		if [ -n "${seen[${id:0:4}]:-}" ]; then
			echo "${id:0:4}"
			return 0
		fi
		seen[${id:0:4}]=1
	done
	return 1
}

@test "cat-file reports an ambiguous prefix" {
	p=$(ambiguous_prefix)
	run -128 --separate-stderr snap-cat-file -t "$p"
	assert_equal "$stderr" "snap-cat-file: fatal: short object name '$p' is ambiguous (2 objects match)"
	run -0 sh -c "printf '%s\n' '$p' | snap-cat-file --batch-check"
	assert_output "$p ambiguous"
}

@test "cat-file --batch-check prints the default format, missing in-band" {
	printf 'tree data' > t
	T=$(snap-hash-object -t tree -w t)
	run -0 sh -c "printf '%s\n%s\nffff\nnot-hex\n' '$ID' '$T' | snap-cat-file --batch-check"
	assert_output "$ID blob 12
$T tree 9
ffff missing
not-hex missing"
}

@test "cat-file --batch prints each object's header line and content" {
	printf 'two\n' > g
	G=$(snap-hash-object -w g)
	run -0 sh -c "printf '%s\n%s\n' '$ID' '$G' | snap-cat-file --batch"
	assert_output "$ID blob 12
hello world

$G blob 4
two"
}

@test "cat-file --batch-check with a custom format and %(rest)" {
	run -0 sh -c "printf '%s some rest\n' '${ID:0:8}' | snap-cat-file --batch-check='%(objecttype):%(objectsize):%(rest):%(objectname)'"
	assert_output "blob:12:some rest:$ID"
}

@test "cat-file -Z uses NUL-terminated input and output" {
	run -0 sh -c "printf '%s\0ffff\0' '$ID' | snap-cat-file --batch-check -Z | tr '\0' '|'"
	assert_output "$ID blob 12|ffff missing|"
}

@test "cat-file --batch-all-objects lists every object in id order" {
	printf 'x' | snap-hash-object -w --stdin > /dev/null
	run -0 snap-cat-file --batch-check='%(objectname)' --batch-all-objects
	assert_output "$(find "$SNAP_DIR/objects" -type f -path '*/objects/??/*' | awk -F/ '{print $(NF-1) $NF}' | sort)"
}

@test "cat-file reads packed objects too" {
	mkdir d
	printf 'packed content' > d/file
	snap-write-tree d > /dev/null
	run -0 snap-cat-file blob "$(b3_blob_id d/file)"
	assert_output 'packed content'
	assert_file_not_exist "$(object_path "$(b3_blob_id d/file)")"
}

@test "cat-file usage errors exit 129" {
	run -129 snap-cat-file
	run -129 snap-cat-file -t
	run -129 snap-cat-file -t -s "$ID"
	run -129 snap-cat-file commit "$ID"
	run -129 snap-cat-file -Z -t "$ID"
}
