#!/usr/bin/env bats
# 4: restore safety — races in the target, links, the store, depth

load test_helper

local_setup() {
	init_store
}

raw_tree() {
	snap-hash-object -t tree -w --stdin
}

blob() {
	printf '%s' "$1" | snap-hash-object -w --stdin
}

@test "a directory swapped for a symlink before a hard link is made is not followed" {
	mkdir outside
	printf 'data' > outside/f
	b=$(blob data)
	sub=$(printf 'file 0644 0 0 0.000000000 4 %s - f\n' "$b" | raw_tree)
	t=$(printf 'dir 0777 0 0 0.000000000 0 %s - a\nfile 0644 0 0 0.000000000 4 %s link=a/f b\n' \
		"$sub" "$b" | raw_tree)
	run -1 --separate-stderr test-checkout-race "$SNAP_DIR" "$t" out link a "$BATS_TEST_TMPDIR/outside"
	[[ "$stderr" == "test-checkout-race: cannot open directory 'a': "* ]]
	assert_equal "$(stat -c %h outside/f)" 1
	assert_not_exist out/b
}

@test "a fifo swapped for a symlink is not followed when its mode is set" {
	printf 'secret' > outside
	chmod 600 outside
	t=$(printf 'fifo 0666 0 0 0.000000000 0 - - p\n' | raw_tree)
	run -1 --separate-stderr test-checkout-race "$SNAP_DIR" "$t" out node p "$BATS_TEST_TMPDIR/outside"
	assert_equal "$stderr" "test-checkout-race: 'p' was replaced during the restore"
	assert_equal "$(stat -c %a outside)" 600
}

@test "checkout into a symlink to a directory is refused" {
	mkdir elsewhere src
	printf 1 > src/f
	t=$(snap-write-tree src)
	ln -s elsewhere out
	run -128 --separate-stderr snap-checkout "$t" out
	assert_equal "$stderr" "snap-checkout: fatal: 'out' is a symbolic link"
	assert_output ''
	run ls -A elsewhere
	assert_output ''
	run -128 --separate-stderr snap-checkout "$t" out/
	assert_equal "$stderr" "snap-checkout: fatal: 'out/' is a symbolic link"
}

@test "a hard link whose blob is not its target's is refused before writing" {
	a=$(blob aaaa)
	b=$(blob bbbb)
	t=$(printf 'file 0644 0 0 0.000000000 4 %s - a\nfile 0644 0 0 0.000000000 4 %s link=a b\n' \
		"$a" "$b" | raw_tree)
	run -128 --separate-stderr snap-checkout "$t" out
	assert_equal "$stderr" "snap-checkout: fatal: malformed tree: hard link 'b' holds blob '$b', its target 'a' blob '$a'"
	assert_output ''
	assert_not_exist out
	# Also when the target is in another directory.
	sub=$(printf 'file 0644 0 0 0.000000000 4 %s link=a b\n' "$b" | raw_tree)
	t=$(printf 'file 0644 0 0 0.000000000 4 %s - a\ndir 0755 0 0 0.000000000 0 %s - d\n' \
		"$a" "$sub" | raw_tree)
	run -128 --separate-stderr snap-checkout "$t" out
	assert_equal "$stderr" "snap-checkout: fatal: malformed tree: hard link 'd/b' holds blob '$b', its target 'a' blob '$a'"
	assert_not_exist out
	# A link whose blob is its target's is made.
	t=$(printf 'file 0644 0 0 0.000000000 4 %s - a\nfile 0644 0 0 0.000000000 4 %s link=a b\n' \
		"$a" "$a" | raw_tree)
	run -0 snap-checkout "$t" out
	assert_equal "$(stat -c %i out/a)" "$(stat -c %i out/b)"
}

@test "a tree with a read-only directory holding a hard link restores as a plain user" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to become nobody"
	# Everything where nobody can read but not write, but for its target.
	base=$(mktemp -d /tmp/snap-4510.XXXXXX)
	chmod 755 "$base"
	mkdir "$base/src" "$base/src/ro" "$base/w"
	printf 'x' > "$base/src/a"
	ln "$base/src/a" "$base/src/ro/b"
	chmod 555 "$base/src/ro"
	init_store "$base/store"
	t=$(snap-write-tree "$base/src")
	chmod -R a+rX "$base/store"
	chown nobody "$base/w"
	run -0 --separate-stderr setpriv --reuid=nobody --regid=nogroup --clear-groups \
		env PATH="$PATH" SNAP_DIR="$SNAP_DIR" snap-checkout "$t" "$base/w/out"
	assert_equal "$stderr" ''
	assert_equal "$(stat -c %i "$base/w/out/a")" "$(stat -c %i "$base/w/out/ro/b")"
	assert_equal "$(stat -c %a "$base/w/out/ro")" 555
	chmod -R u+w "$base"
	rm -rf "$base"
}

@test "checkout refuses a target inside the store, and the store itself" {
	mkdir src
	printf 1 > src/f
	t=$(snap-write-tree src)
	before=$(store_listing)
	run -128 --separate-stderr snap-checkout "$t" "$SNAP_DIR/objects/x"
	assert_equal "$stderr" "snap-checkout: fatal: '$SNAP_DIR/objects/x' is inside the store"
	assert_equal "$(store_listing)" "$before"
	run -128 --separate-stderr snap-checkout "$t" "$SNAP_DIR"
	assert_equal "$stderr" "snap-checkout: fatal: '$SNAP_DIR' is inside the store"
	assert_equal "$(store_listing)" "$before"
}

@test "restore --force never replaces a directory that holds the store" {
	mkdir -p work src
	init_store "$BATS_TEST_TMPDIR/work/.snap"
	printf 1 > src/f
	printf 2 > work/f
	snap-snapshot -m one src >/dev/null
	before=$(store_listing)
	cd work
	run -128 --separate-stderr snap-restore --force main .
	assert_equal "$stderr" "snap-restore: fatal: '.' holds the store; a restore never replaces it"
	assert_output ''
	assert_equal "$(store_listing)" "$before"
	cd ..
	run -128 --separate-stderr snap-restore --force main "$BATS_TEST_TMPDIR"
	assert_equal "$stderr" "snap-restore: fatal: '$BATS_TEST_TMPDIR' holds the store; a restore never replaces it"
	assert_equal "$(store_listing)" "$before"
	run -128 --separate-stderr snap-restore main work/.snap/refs/x
	assert_equal "$stderr" "snap-restore: fatal: 'work/.snap/refs/x' is inside the store"
	assert_equal "$(store_listing)" "$before"
}

@test "checkout of a tree 20,000 directories deep" {
	t=$(test-deep-tree "$SNAP_DIR" 20000)
	run -0 --separate-stderr snap-checkout "$t" out
	assert_equal "$stderr" ''
	# find walks paths this long one directory at a time.
	run -0 find out -name g -links 2 -execdir cat {} +
	assert_output deep
	run -0 sh -c 'find out -type d | wc -l'
	assert_output 20001
}
