#!/usr/bin/env bats
# 7: porcelain workflows — sparse files keep their holes through a snapshot
# and a restore

load test_helper

local_setup() {
	init_store
	export SNAP_HOST=testhost
}

# Allocated bytes of FILE.
allocated() {
	echo $(($(stat -c '%b * %B' "$1")))
}

@test "a 10 GiB file with 1 MiB of data restores with about 1 MiB allocated" {
	mkdir src
	truncate -s 10G src/big
	dd if=/dev/urandom of=src/big bs=1M count=1 seek=5000 conv=notrunc 2> /dev/null
	[ "$(allocated src/big)" -lt $((2 << 20)) ] || skip "the filesystem keeps no holes"
	snap-snapshot -m sparse src > /dev/null
	run -0 snap-ls-tree -l main
	assert_output --regexp "^file 0644 [0-9]+ [0-9]+ [0-9.]+ 10737418240 [0-9a-f]{64} - sparse big$"
	run -0 snap-restore main out
	assert_equal "$(stat -c %s out/big)" "$(stat -c %s src/big)"
	assert_equal "$(stat -c %b out/big)" "$(stat -c %b src/big)"
	assert_equal "$(dd if=out/big bs=1M skip=5000 count=1 2> /dev/null | b3sum --no-names)" \
		"$(dd if=src/big bs=1M skip=5000 count=1 2> /dev/null | b3sum --no-names)"
}

@test "holes and data at odd offsets: the same bytes, the same id as a plain copy" {
	mkdir src plain
	truncate -s 3000000 src/f
	printf 'x' | dd of=src/f bs=1 seek=12345 conv=notrunc 2> /dev/null
	printf 'middle' | dd of=src/f bs=1 seek=1500000 conv=notrunc 2> /dev/null
	printf 'tail' >> src/f
	# The same bytes written out: no holes, no mark, the same blob.
	cat src/f > plain/f
	touch -r src/f plain/f
	run -0 snap-ls-tree -l "$(snap-write-tree src)"
	assert_output --partial " - sparse f"
	sparse_id=$(echo "$output" | awk '{print $7}')
	run -0 snap-ls-tree -l "$(snap-write-tree plain)"
	refute_output --partial sparse
	assert_equal "$(echo "$output" | awk '{print $7}')" "$sparse_id"
	assert_equal "$sparse_id" "$(b3_blob_id src/f)"
	snap-snapshot -m s src > /dev/null
	snap-restore main out
	cmp src/f out/f
	[ "$(allocated out/f)" -lt 100000 ]
	# A file without holes comes back whole, zeros allocated.
	head -c 200000 /dev/zero > src/zeros
	snap-snapshot -m z src > /dev/null
	run -0 snap-ls-tree -l main
	assert_line --regexp " - zeros$"
	snap-restore main out2
	[ "$(allocated out2/zeros)" -ge 200000 ]
}

@test "a file ending in a hole and one that is all hole" {
	mkdir src
	printf 'head' > src/a
	truncate -s 5000000 src/a
	truncate -s 2000000 src/b
	snap-snapshot -m s src > /dev/null
	snap-restore main out
	cmp src/a out/a
	cmp src/b out/b
	assert_equal "$(stat -c %s out/a) $(stat -c %s out/b)" "5000000 2000000"
	[ "$(allocated out/b)" -eq 0 ]
	run -0 snap-fsck
}

@test "the sparse field is checked: on files only, in its place" {
	mkdir src
	echo x > src/a
	t=$(snap-write-tree src)
	b=$(snap-rev-parse "$t":a)
	run -0 snap-mktree <<< "file 0644 0 0 0.000000000 2 $b - sparse a"
	assert_equal "$(snap-ls-tree -l "$output")" "file 0644 0 0 0.000000000 2 $b - sparse a"
	run -128 --separate-stderr snap-mktree --missing <<< "dir 0755 0 0 0.000000000 0 $t - sparse d"
	assert_equal "$stderr" "snap-mktree: fatal: line 1: sparse on an entry that is not a file for entry 'd'"
	run -128 --separate-stderr snap-mktree --missing <<< "file 0644 0 0 0.000000000 2 $b - sparse sparse a"
	assert_equal "$stderr" "snap-mktree: fatal: line 1: bad field before the name"
}
