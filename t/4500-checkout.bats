#!/usr/bin/env bats
# 4: trees and restore — snap-checkout, and restore safety

load test_helper

local_setup() {
	init_store
}

# Lists every entry below a directory with type, mode, size, mtime and
# link target: two trees restore identically when their lists match.
meta_list() {
	(cd "$1" && find . -mindepth 1 -printf '%p %y %m %s %T@ %l %U %G\n' | LC_ALL=C sort)
}


# Writes a tree object from lines given on stdin, bypassing every check.
raw_tree() {
	snap-hash-object -t tree -w --stdin
}

blob() {
	printf '%s' "$1" | snap-hash-object -w --stdin
}

@test "checkout restores every kind of entry identically" {
	make_rich_tree src
	t=$(snap-write-tree src)
	run -0 snap-checkout "$t" out
	run -0 diff -r --no-dereference --exclude=fifo src out
	assert_equal "$(meta_list out)" "$(meta_list src)"
}

@test "checkout keeps hard links as hard links" {
	make_rich_tree src
	t=$(snap-write-tree src)
	snap-checkout "$t" out
	assert_equal "$(stat -c %i out/regular)" "$(stat -c %i out/sub/hardlink)"
}

@test "a restored tree writes back to the same root id" {
	make_rich_tree src
	t=$(snap-write-tree src)
	snap-checkout "$t" out
	run -0 snap-write-tree out
	assert_output "$t"
}

@test "checkout of PATHs restores only those" {
	make_rich_tree src
	t=$(snap-write-tree src)
	run -0 snap-checkout "$t" out sub/deeper regular
	run -0 sh -c 'cd out && find . | LC_ALL=C sort'
	assert_output ".
./regular
./sub
./sub/deeper
./sub/deeper/file"
}

@test "checkout of a PATH not in the tree fails before writing" {
	make_rich_tree src
	t=$(snap-write-tree src)
	run -128 --separate-stderr snap-checkout "$t" out nothing/here
	assert_equal "$stderr" "snap-checkout: fatal: path 'nothing/here' is not in the tree"
	assert_not_exist out
}

@test "checkout into a non-empty directory is refused" {
	mkdir src out
	printf 1 > src/f
	printf 2 > out/keep
	t=$(snap-write-tree src)
	run -128 --separate-stderr snap-checkout "$t" out
	assert_equal "$stderr" "snap-checkout: fatal: directory 'out' is not empty"
	assert_equal "$(cat out/keep)" 2
}

@test "checkout names every missing object and writes nothing" {
	mkdir -p src/d
	printf 'one' > src/a
	printf 'two' > src/d/b
	# Stored loose first, so that the test can delete their files.
	snap-hash-object -w src/a src/d/b >/dev/null
	t=$(snap-write-tree src)
	a=$(b3_blob_id src/a)
	b=$(b3_blob_id src/d/b)
	rm "$(object_path "$a")" "$(object_path "$b")"
	run -128 --separate-stderr snap-checkout "$t" out
	[[ "$stderr" == "snap-checkout: fatal: cannot restore: 2 missing objects: "* ]]
	[[ "$stderr" == *"$a"* ]]
	[[ "$stderr" == *"$b"* ]]
	assert_not_exist out
}

@test "checkout refuses entry names '..', '.', empty or with '/' before writing" {
	b=$(blob data)
	for name in '..' '.' 'a/b' '../escape'; do
		t=$(printf 'file 0644 0 0 0.000000000 4 %s - %s\n' "$b" "$name" | raw_tree)
		run -128 --separate-stderr snap-checkout "$t" "out"
		[[ "$stderr" == *"malformed tree"* ]]
		assert_not_exist out
	done
	t=$(printf 'file 0644 0 0 0.000000000 4 %s - \n' "$b" | raw_tree)
	run -128 --separate-stderr snap-checkout "$t" out
	[[ "$stderr" == *"malformed tree"* ]]
}

@test "checkout never writes through a symlink in the tree" {
	mkdir elsewhere
	b=$(blob data)
	target=$(blob "$BATS_TEST_TMPDIR/elsewhere")
	len=$(printf '%s' "$BATS_TEST_TMPDIR/elsewhere" | wc -c)
	sub=$(printf 'file 0644 0 0 0.000000000 4 %s - x\n' "$b" | raw_tree)
	# The same name twice (a symlink, then a directory through it).
	t=$(printf 'symlink 0777 0 0 0.000000000 %d %s - link\ndir 0755 0 0 0.000000000 0 %s - link\n' \
		"$len" "$target" "$sub" | raw_tree)
	run -128 --separate-stderr snap-checkout "$t" out
	[[ "$stderr" == *"malformed tree"*"not sorted or duplicated"* ]]
	assert_not_exist out
	run ls -A elsewhere
	assert_output ''
}

@test "checkout never writes through a hard link outside the target" {
	printf 'secret' > outside
	b=$(blob data)
	for link in '../outside' "$BATS_TEST_TMPDIR/outside" 'a/../../outside'; do
		esc=$(printf '%s' "$link")
		t=$(printf 'file 0644 0 0 0.000000000 4 %s link=%s x\n' "$b" "$esc" | raw_tree)
		run -128 --separate-stderr snap-checkout "$t" out
		[[ "$stderr" == *"malformed tree"* ]]
		assert_not_exist out
	done
	# A link to a path this restore did not write becomes a plain file.
	t=$(printf 'file 0644 0 0 0.000000000 4 %s link=elsewhere x\n' "$b" | raw_tree)
	run -0 snap-checkout "$t" out
	assert_equal "$(cat out/x)" data
	assert_equal "$(stat -c %h out/x)" 1
	assert_equal "$(cat outside)" secret
}

@test "checkout clears setuid bits unless --keep-setuid" {
	mkdir src
	printf 'x' > src/suid
	chmod 4755 src/suid
	t=$(snap-write-tree src)
	snap-checkout "$t" out
	assert_equal "$(stat -c %a out/suid)" 755
	snap-checkout --keep-setuid "$t" out2
	assert_equal "$(stat -c %a out2/suid)" 4755
}

@test "checkout skips device nodes unless --devices" {
	b=$(blob data)
	t=$(printf 'chr 0600 0 0 0.000000000 0 - rdev=1:3 null\n' | raw_tree)
	run -0 --separate-stderr snap-checkout "$t" out
	assert_equal "$stderr" "snap-checkout: warning: skipping device 'null'"
	assert_not_exist out/null
}

@test "checkout of a corrupt blob fails naming the object" {
	mkdir src
	make_file 5000 src/f
	id=$(snap-hash-object -w src/f)
	t=$(snap-write-tree src)
	p=$(object_path "$id")
	chmod u+w "$p"
	{ printf 'blob 5000\0'; head -c 5000 /dev/zero; } | zstd -q -c > "$p"
	run -128 --separate-stderr snap-checkout "$t" out
	[[ "$stderr" == *"object '$id' is corrupt"*"hash mismatch"* ]]
}

# Flips four bytes in the middle of the one pack of the store.
corrupt_pack() {
	local p size
	p=$(ls "$SNAP_DIR"/objects/pack/*.pack)
	chmod u+w "$p"
	size=$(stat -c %s "$p")
	printf '\377\377\377\377' | dd of="$p" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
}

@test "a corrupt blob in a pack fails the restore as corrupt, not as an I/O error" {
	mkdir src
	make_file 300000 src/big
	printf small > src/f
	t=$(snap-write-tree src)
	corrupt_pack
	for j in 1 4; do
		run -0 --separate-stderr test-checkout-code "$SNAP_DIR" "$t" "$j" "out$j"
		assert_output SNAP_ECORRUPT
		[[ "$stderr" == *"object '$(b3_blob_id src/big)' is corrupt"*"hash mismatch" ]]
	done
	mkdir place
	chmod 700 place
	run -0 --separate-stderr test-checkout-code "$SNAP_DIR" "$t" 2 place place/.tmp
	assert_output SNAP_ECORRUPT
	run -128 --separate-stderr snap-checkout "$t" out
	[[ "$stderr" == "snap-checkout: fatal: object '$(b3_blob_id src/big)' is corrupt"*"hash mismatch" ]]
}

@test "a corrupt loose blob fails the restore as corrupt" {
	mkdir src
	printf aaaa > src/f
	id=$(snap-hash-object -w src/f)
	t=$(snap-write-tree src)
	corrupt_swap "$id" "$(blob bbbb)"
	run -0 --separate-stderr test-checkout-code "$SNAP_DIR" "$t" 2 out
	assert_output SNAP_ECORRUPT
	[[ "$stderr" == "test-checkout-code: object '$id' is corrupt"*"hash mismatch"* ]]
}

@test "checkout of a snapshot restores its tree" {
	mkdir src
	printf 1 > src/f
	t=$(snap-write-tree src)
	s=$(printf 'tree %s\ntime 0 +0000\nhost h\n\nmsg\n' "$t" | snap-hash-object -t snapshot -w --stdin)
	run -0 snap-checkout "$s" out
	assert_equal "$(cat out/f)" 1
}

@test "checkout of a blob is refused" {
	b=$(blob data)
	run -128 --separate-stderr snap-checkout "$b" out
	assert_equal "$stderr" "snap-checkout: fatal: object '$b' is a blob, not a tree or snapshot"
}

@test "checkout usage errors exit 129" {
	run -129 snap-checkout
	run -129 snap-checkout onlyone
	run -0 snap-checkout --help
}

@test "-j sets the number of threads; the result is the same with one" {
	make_rich_tree src
	t=$(snap-write-tree -j 1 src)
	assert_equal "$t" "$(snap-write-tree -j 4 src)"
	run -0 snap-checkout -j 1 "$t" one
	run -0 snap-checkout -j 3 "$t" three
	run -0 diff -r --no-dereference --exclude=fifo one three
	run -129 snap-checkout -j 0 "$t" x
	run -129 snap-write-tree -j many src
}

@test "checkout gives files their exact modes whatever the umask" {
	mkdir src
	for m in 444 600 640 755 777 1755; do
		printf '%s' "$m" > "src/m$m"
		chmod "$m" "src/m$m"
	done
	t=$(snap-write-tree src)
	(umask 077 && snap-checkout "$t" out)
	(umask 000 && snap-checkout "$t" out2)
	for m in 444 600 640 755 777 1755; do
		assert_equal "$(stat -c %a "out/m$m")" "$m"
		assert_equal "$(stat -c %a "out2/m$m")" "$m"
	done
}

@test "as root, checkout restores other owners, also into a set-group-ID directory" {
	[ "$(id -u)" -eq 0 ] || skip "needs root"
	mkdir src
	echo a > src/theirs
	echo b > src/mine
	echo c > src/group
	chown 1234:5678 src/theirs
	chown 0:5678 src/group
	t=$(snap-write-tree src)
	snap-checkout "$t" out
	assert_equal "$(stat -c %u:%g out/theirs out/mine out/group | tr '\n' ' ')" "1234:5678 0:0 0:5678 "
	# New files in a set-group-ID directory take its group: set back.
	mkdir sgid
	chgrp 4321 sgid
	chmod 2775 sgid
	snap-checkout "$t" sgid/out
	assert_equal "$(stat -c %u:%g sgid/out/theirs sgid/out/mine sgid/out/group | tr '\n' ' ')" "1234:5678 0:0 0:5678 "
	run -0 snap-checkout --no-same-owner "$t" out3
	assert_equal "$(stat -c %u:%g out3/theirs out3/mine | tr '\n' ' ')" "0:0 0:0 "
}
