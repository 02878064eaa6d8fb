#!/usr/bin/env bats
# 8: robustness — a real full disk and a real read-only store
#
# The store lives on a 2 MiB tmpfs, or behind a read-only bind mount, that
# the test mounts itself: that needs root and a kernel that lets us mount.
# Elsewhere the tests are skipped with the reason.

load test_helper

mounted=()

# mount_or_skip ARGS...: mount, remembering the mount point (the last
# argument) for teardown; skips the test when mounting is not allowed.
mount_or_skip() {
	[ "$(id -u)" = 0 ] || skip "mounting needs root"
	mount "$@" 2>mount.err || skip "mount $* is not allowed here: $(head -1 mount.err)"
	mounted=("${@: -1}" "${mounted[@]}")
}

teardown() {
	local m
	for m in "${mounted[@]}"; do umount "$m" 2>/dev/null || umount -l "$m"; done
}

@test "a full disk: snapshot fails with ENOSPC naming a path, the store keeps working" {
	mkdir mnt
	mount_or_skip -t tmpfs -o size=2m tmpfs "$PWD/mnt"
	init_store "$PWD/mnt/store"
	mkdir src
	printf 'hello\n' > src/a
	mkdir src/d
	printf 'x' > src/d/b
	chmod 750 src/d
	first=$(snap-snapshot -m first src)
	cp -a src state1
	refs=$(snap-for-each-ref)
	make_file 3000000 src/big
	run -128 --separate-stderr snap-snapshot -m second src
	assert_output ''
	[[ "$stderr" =~ ^snap-snapshot:\ fatal:\ cannot\ write\ \'$SNAP_DIR/objects/tmp/(pack|obj)-[A-Za-z0-9]{8}\':\ No\ space\ left\ on\ device$ ]] ||
		{ echo "stderr: $stderr"; false; }
	# Nothing but leftovers: the refs as they were, fsck clean, no
	# temporary file, the first snapshot restores.
	assert_equal "$(snap-for-each-ref)" "$refs"
	run -0 snap-fsck --no-dangling
	assert_output ''
	run ls -A "$SNAP_DIR/objects/tmp" "$SNAP_DIR/sessions"
	assert_output "$SNAP_DIR/objects/tmp:

$SNAP_DIR/sessions:"
	snap-restore "$first" out
	diff -r state1 out
	[ "$(stat -c %a out/d)" = 750 ]
	# With the space back, the same snapshot goes through.
	rm src/big
	make_file 500000 src/big
	run -0 snap-snapshot -m second src
	age_objects
	run -0 snap-gc --prune=now
	run -0 snap-fsck
	assert_output ''
}

@test "a full disk under a restore: one line naming the file on disk, the store untouched" {
	init_store
	mkdir -p src/sub
	printf 'hello\n' > src/sub/a
	make_file 3000000 src/sub/big
	snap-snapshot -q -m x src
	before=$(store_listing)
	mkdir mnt
	mount_or_skip -t tmpfs -o size=2m tmpfs "$PWD/mnt"
	run -128 --separate-stderr snap-checkout main mnt/co
	assert_output ''
	assert_equal "$stderr" "snap-checkout: fatal: cannot write 'mnt/co/sub/big': No space left on device"
	rm -rf mnt/co
	# snap-restore writes beside DIR first: that is the path named, and
	# DIR and the temporary directory are gone after.
	run -128 --separate-stderr snap-restore main mnt/out
	[[ "$stderr" =~ ^snap-restore:\ fatal:\ cannot\ write\ \'mnt/\.snap-restore\.[0-9]+\.[A-Za-z0-9]{6}/new/sub/big\':\ No\ space\ left\ on\ device$ ]] ||
		{ echo "stderr: $stderr"; false; }
	assert_equal "$(ls -A mnt)" ""
	# In place, inside DIR, which keeps what it held.
	mkdir mnt/dir
	echo mine > mnt/dir/mine
	run -128 --separate-stderr snap-restore --force main mnt/dir sub
	[[ "$stderr" =~ ^snap-restore:\ fatal:\ cannot\ write\ \'mnt/dir/\.snap-restore\.[0-9]+\.[A-Za-z0-9]{6}/new/sub/big\':\ No\ space\ left\ on\ device$ ]] ||
		{ echo "stderr: $stderr"; false; }
	assert_equal "$(ls -A mnt/dir)" mine
	assert_equal "$(store_listing)" "$before"
}

# write_refused CMD ARGS...: exit 128, one line "snap-X: fatal: ...:
# Read-only file system" on stderr, nothing on stdout (but for prune,
# which lists its decisions before it writes).
write_refused() {
	run -128 --separate-stderr "$@"
	[ "$1" = snap-prune ] || assert_output ''
	[[ "$stderr" =~ ^snap-[a-z-]+:\ fatal:\ [^$'\n']*Read-only\ file\ system$ ]] ||
		{ echo "$* -> $stderr"; false; }
}

@test "a read-only store: every write command fails with one clear line, reads work" {
	init_store "$PWD/rw"
	mkdir src
	printf 'hello\n' > src/a
	first=$(snap-snapshot -m first src)
	printf 'again\n' > src/a
	second=$(snap-snapshot -m second src)
	tree=$(snap-rev-parse "$second:")
	json_bundles 1 3 > b.jsonl
	mkdir ro
	mount_or_skip --bind "$PWD/rw" "$PWD/ro"
	mount -o remount,bind,ro "$PWD/ro" || skip "remounting a bind mount read-only is not allowed here"
	export SNAP_DIR=$PWD/ro
	before=$(store_listing "$PWD/rw")
	printf 'new\n' > src/new

	write_refused snap-hash-object -w src/new
	write_refused snap-write-tree src
	write_refused snap-snapshot -m third src
	write_refused snap-mksnapshot -p "$second" "$tree"
	write_refused snap-update-ref main "$first" "$second"
	write_refused snap-update-ref -d main
	write_refused snap-gc --prune=now
	write_refused snap-prune --keep-last 1
	write_refused snap-bundle-import b.jsonl
	assert_equal "$(store_listing "$PWD/rw")" "$before"

	run -0 snap-rev-parse main
	assert_output "$second"
	run -0 snap-cat-file -p "$(snap-rev-parse "$second:a")"
	assert_output again
	run -0 snap-fsck
	assert_output ''
	run -0 snap-for-each-ref
	run -0 snap-log main
	snap-restore "$first" out
	run -0 cat out/a
	assert_output hello
}
