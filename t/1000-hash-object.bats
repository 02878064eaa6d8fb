#!/usr/bin/env bats
# 1: object database — snap-hash-object

load test_helper

@test "hash-object matches b3sum of header and content for small sizes" {
	for n in 0 1 1023 1024 1025 1048576; do
		make_file "$n" "f$n"
		run -0 snap-hash-object "f$n"
		assert_output "$(b3_blob_id "f$n")"
	done
}

@test "hash-object matches b3sum for 1 GiB + 1 byte" {
	truncate -s 1073741825 big
	printf 'start' | dd of=big conv=notrunc 2>/dev/null
	printf 'end' | dd of=big bs=1 seek=1073741822 conv=notrunc 2>/dev/null
	run -0 snap-hash-object big
	assert_output "$(b3_blob_id big)"
}

@test "hash-object needs no store without -w" {
	printf 'x' > f
	run -0 snap-hash-object f
	assert_output "$(b3_blob_id f)"
}

@test "hash-object -t gives each type its own id" {
	printf 'payload' > f
	for t in blob tree snapshot bundle; do
		# A bundle is checked unless taken --literally.
		run -0 snap-hash-object -t "$t" $([ "$t" != bundle ] || echo --literally) f
		assert_output "$({ printf '%s 7\0payload' "$t"; } | b3sum --no-names)"
	done
}

@test "hash-object --stdin reads standard input, also from a pipe" {
	run -0 sh -c 'printf hello | snap-hash-object --stdin'
	assert_output "$({ printf 'blob 5\0hello'; } | b3sum --no-names)"
}

@test "hash-object --stdin-paths hashes each path on standard input" {
	printf a > a
	printf bb > b
	run -0 sh -c 'printf "a\nb\n" | snap-hash-object --stdin-paths'
	assert_output "$(b3_blob_id a)
$(b3_blob_id b)"
}

@test "hash-object prints each id as soon as it is computed (coprocess)" {
	printf a > a
	coproc snap-hash-object --stdin-paths
	echo a >&"${COPROC[1]}"
	read -r -t 10 line <&"${COPROC[0]}"
	assert_equal "$line" "$(b3_blob_id a)"
	exec {COPROC[1]}>&-
	wait
}

@test "hash-object -w writes a loose object that zstd -d reads as header + content" {
	init_store
	printf 'some content' > f
	id=$(snap-hash-object -w f)
	run -0 sh -c "zstd -dc '$(object_path "$id")' | od -c | head -2"
	assert_equal "$(zstd -dc "$(object_path "$id")" | b3sum --no-names)" "$id"
	assert_equal "$(zstd -dc "$(object_path "$id")" | tr '\0' '|')" 'blob 12|some content'
}

@test "hash-object -w then cat-file returns identical bytes" {
	init_store
	for n in 0 1 1023 1024 1025 1048576; do
		make_file "$n" "f$n"
		id=$(snap-hash-object -w "f$n")
		snap-cat-file blob "$id" > "out$n"
		cmp "f$n" "out$n"
	done
}

@test "hash-object -w round trip of 1 GiB + 1 byte in bounded memory" {
	init_store
	truncate -s 1073741825 big
	printf 'middle' | dd of=big bs=1 seek=536870912 conv=notrunc 2>/dev/null
	id=$(/usr/bin/time -f '%M' -o rss snap-hash-object -w big)
	assert_equal "$id" "$(b3_blob_id big)"
	[ "$(cat rss)" -lt 65536 ]
	assert_equal "$(snap-cat-file blob "$id" | b3sum --no-names)" "$(b3sum --no-names big)"
}

@test "writing an object again keeps one file and refreshes its mtime" {
	init_store
	printf 'same' > f
	id=$(snap-hash-object -w f)
	p=$(object_path "$id")
	touch -d '2000-01-01' "$p"
	snap-hash-object -w f >/dev/null
	[ "$(stat -c %Y "$p")" -gt 946684800 ]
	run -0 find "$SNAP_DIR/objects" -type f
	assert_output "$p"
}

@test "hash-object of a missing file fails with 128" {
	run -128 --separate-stderr snap-hash-object nope
	assert_equal "$stderr" "snap-hash-object: fatal: cannot open 'nope': No such file or directory"
	assert_output ''
}

@test "hash-object of a directory fails with 128" {
	mkdir d
	run -128 --separate-stderr snap-hash-object d
	assert_equal "$stderr" "snap-hash-object: fatal: cannot read 'd': Is a directory"
}

@test "hash-object with an unknown type is a usage error" {
	printf x > f
	run -129 --separate-stderr snap-hash-object -t commit f
	[[ "$stderr" == "snap-hash-object: error: unknown object type 'commit'"* ]]
}

@test "hash-object with nothing to hash is a usage error" {
	run -129 snap-hash-object
	run -129 snap-hash-object --stdin --stdin-paths
}

@test "hash-object -w without a store fails and names the way out" {
	printf x > f
	run -128 --separate-stderr snap-hash-object -w f
	[[ "$stderr" == *"no snap store"*"snap-init"* ]]
}

@test "hash-object -w --stdin stores a pipe of any size as it comes, under the id the same bytes have as a file" {
	snap-init -q s && export SNAP_DIR=$PWD/s
	head -c 3000000 /dev/urandom > big
	head -c 1048576 /dev/urandom > edge
	for f in big edge; do
		run -0 sh -c "cat $f | snap-hash-object -w --stdin"
		assert_output "$(snap-hash-object $f)"
		snap-cat-file -p "$output" | cmp - $f
	done
	run -0 sh -c 'cat big big | snap-hash-object -w --stdin'
	snap-cat-file -p "$output" | cmp - <(cat big big)
	run -0 snap-fsck
	assert_equal "$(ls s/objects/tmp)" ''
}

@test "a closed standard input reads as empty, never as a file the command opened in its place" {
	snap-init -q s && export SNAP_DIR=$PWD/s
	head -c 2000000 /dev/urandom > big && snap-hash-object -w big > /dev/null
	run -0 sh -c 'snap-hash-object -w --stdin <&-'
	assert_output "$(snap-hash-object --stdin < /dev/null)"
	run -0 sh -c 'snap-memo --put k <&-'
	run -0 snap-memo --get k
	assert_output ''
}

@test "a closed standard output fails what writes to it (128, one line), never silently exit 0" {
	snap-init -q s && export SNAP_DIR=$PWD/s
	mkdir src && echo a > src/a
	run -128 --separate-stderr sh -c 'snap-hash-object src/a >&-'
	assert_equal "$stderr" "snap-hash-object: fatal: cannot write to standard output: Bad file descriptor"
	run -128 --separate-stderr sh -c 'snap-snapshot src >&-'
	id=$(snap-rev-parse main)
	assert_equal "$stderr" "snap-snapshot: fatal: snapshot $id taken (ref refs/snapshots/main moved), but standard output cannot be written"
	# What changed the store says so.
	run -128 --separate-stderr sh -c 'snap-gc --prune=now >&-'
	assert_equal "$stderr" "snap-gc: fatal: gc is done, but standard output cannot be written: Bad file descriptor"
	snap-init -q far
	run -128 --separate-stderr sh -c 'snap-push "$PWD/far" > /dev/full'
	assert_equal "$stderr" "snap-push: fatal: the push is done (refs moved on the remote), but standard output cannot be written: No space left on device"
	assert_equal "$(SNAP_DIR=$PWD/far snap-rev-parse main)" "$id"
	snap-remote add far "$PWD/far"
	run -128 --separate-stderr sh -c 'snap-remote -v >&-'
	assert_equal "$stderr" "snap-remote: fatal: cannot write to standard output"
	run -128 --separate-stderr sh -c 'snap-remote get-url far > /dev/full'
	assert_equal "$stderr" "snap-remote: fatal: cannot write to standard output"
	# What writes nothing to it does not fail.
	run -0 --separate-stderr sh -c 'snap-update-ref refs/snapshots/copy main >&-'
	assert_equal "$stderr" ''
	assert_equal "$(snap-rev-parse copy)" "$id"
}
