#!/usr/bin/env bats
# 4: trees and restore — restore --force of some PATHs into a directory
# that holds other things replaces those paths only; a mount point is
# restored into in place; nothing on the way is ever followed.

load test_helper

local_setup() {
	init_store
	mkdir -p src/sub/deep src/other
	echo a > src/sub/f
	echo d > src/sub/deep/g
	echo b > src/other/g
	echo c > src/top
	chmod 750 src/sub
	touch -d 2001-01-01 src/sub/deep src/sub
	snap-snapshot -m s src > /dev/null
	mkdir dst
	echo keep > dst/mine
	mkdir dst/sub
	echo old > dst/sub/f
	echo extra > dst/sub/extra
}

teardown() {
	if [ -n "${MNT:-}" ]; then umount "$MNT" 2>/dev/null || :; fi
}

@test "restore --force REV DIR PATH replaces that path and touches nothing else" {
	run -0 --separate-stderr snap-restore --force main dst sub
	assert_equal "$stderr" ""
	assert_equal "$(cat dst/mine)" keep
	diff -r src/sub dst/sub
	assert_file_not_exists dst/sub/extra
	assert_file_not_exists dst/top
	assert_equal "$(ls -A dst)" "$(printf 'mine\nsub')"
}

@test "restore --force of a nested path makes the directories on the way as the snapshot has them" {
	rm -r dst/sub
	run -0 snap-restore --force main dst sub/deep/g
	assert_equal "$(cat dst/sub/deep/g)" d
	assert_equal "$(stat -c '%a %Y' dst/sub)" "$(stat -c '%a %Y' src/sub)"
	assert_equal "$(stat -c '%Y' dst/sub/deep)" "$(stat -c '%Y' src/sub/deep)"
	assert_file_not_exists dst/sub/f
	assert_equal "$(cat dst/mine)" keep
}

@test "restore --force of a path into an existing directory keeps that directory's other entries" {
	run -0 snap-restore --force main dst sub/f
	assert_equal "$(cat dst/sub/f)" a
	assert_equal "$(cat dst/sub/extra)" extra
	assert_equal "$(cat dst/mine)" keep
}

@test "a symlink on the way to a path is never followed" {
	mkdir outside
	rm -r dst/sub
	ln -s "$PWD/outside" dst/sub
	before=$(cd dst && find . -printf '%p %y %s\n' | sort)
	run -128 --separate-stderr snap-restore --force main dst sub/f
	assert_equal "$stderr" "snap-restore: fatal: 'dst/sub' is not a directory (a restore never follows a symlink or replaces a file on the way to a path)"
	assert_equal "$(ls -A outside)" ""
	assert_equal "$(cd dst && find . -printf '%p %y %s\n' | sort)" "$before"
}

@test "a file on the way to a path is not replaced" {
	rm -r dst/sub
	echo file > dst/sub
	run -128 --separate-stderr snap-restore --force main dst sub/f
	assert_equal "$stderr" "snap-restore: fatal: 'dst/sub' is not a directory (a restore never follows a symlink or replaces a file on the way to a path)"
	assert_equal "$(cat dst/sub)" file
}

@test "a path that is a symlink in DIR is replaced, not followed" {
	mkdir outside
	echo precious > outside/f
	rm -r dst/sub
	ln -s "$PWD/outside" dst/sub
	run -0 snap-restore --force main dst sub
	assert [ ! -L dst/sub ]
	diff -r src/sub dst/sub
	assert_equal "$(cat outside/f)" precious
}

@test "a bad object fails restore --force PATH before DIR changes" {
	rm -r "$SNAP_DIR"/objects/pack
	# (DIR's own mtime moves: the temporary directory was made in it.)
	before=$(cd dst && find . -mindepth 1 -printf '%p %y %s %T@\n' | sort)
	run -128 --separate-stderr snap-restore --force main dst sub
	assert_equal "$(cd dst && find . -mindepth 1 -printf '%p %y %s %T@\n' | sort)" "$before"
	assert_equal "$(ls -A dst)" "$(printf 'mine\nsub')"
}

@test "restore --force PATH without --force refuses a non-empty DIR as before" {
	run -128 --separate-stderr snap-restore main dst sub
	assert_equal "$stderr" "snap-restore: fatal: directory 'dst' is not empty (use --force to replace its content)"
}

@test "a missing parent of DIR is made" {
	run -0 snap-restore main a/b/c
	diff -r src a/b/c
}

@test "restore into an empty mount point, and --force into a full one, in place" {
	[ "$(id -u)" = 0 ] || skip "mounting a tmpfs needs root"
	mkdir mnt
	mount -t tmpfs -o size=8m tmpfs mnt 2>/dev/null || skip "cannot mount a tmpfs here"
	MNT=$PWD/mnt
	run -0 --separate-stderr snap-restore main mnt
	assert_equal "$stderr" ""
	diff -r src mnt
	echo stray > mnt/stray
	echo changed > mnt/top
	run -0 --separate-stderr snap-restore --force main mnt
	diff -r src mnt
	mountpoint -q mnt
	assert_equal "$(ls -A mnt | grep -c snap-restore)" 0
}

@test "overlapping or repeated PATHs are refused before anything is written" {
	refused "snap-checkout: fatal: paths 'sub/f' and 'sub' overlap" snap-checkout main x1 sub/f sub
	refused "snap-checkout: fatal: paths 'sub' and 'sub' overlap" snap-checkout main x2 sub sub/
	run -128 --separate-stderr snap-restore --force main dst sub/f sub
	assert_equal "$stderr" "snap-restore: fatal: paths 'sub/f' and 'sub' overlap"
	assert_equal "$(cat dst/sub/f)" old
	assert_file_not_exists x1
}

@test "PATHs with a trailing or leading slash are the same paths" {
	run -0 snap-restore --force main dst sub/ /other
	diff -r src/sub dst/sub
	diff -r src/other dst/other
	assert_equal "$(cat dst/mine)" keep
}

@test "--in-place refuses a TMP that is a symlink, not its user's alone, or deep inside DIR" {
	mkdir t elsewhere
	chmod 700 t
	ln -s "$PWD/elsewhere" tl
	run -128 --separate-stderr snap-checkout --in-place tl main dst sub
	assert_equal "$stderr" "snap-checkout: fatal: cannot open 'tl': Not a directory"
	assert_equal "$(ls -A elsewhere)" ""
	chmod 755 t
	run -128 --separate-stderr snap-checkout --in-place t main dst sub
	assert_equal "$stderr" "snap-checkout: fatal: 't' is not a directory of this user's alone (mode 0700)"
	mkdir -m 700 dst/sub/deep
	run -128 --separate-stderr snap-checkout --in-place dst/sub/deep main dst
	assert_equal "$stderr" "snap-checkout: fatal: 'dst/sub/deep' must be outside 'dst' or directly in it"
	chmod 700 dst
	run -128 --separate-stderr snap-checkout --in-place dst main dst
	assert_equal "$stderr" "snap-checkout: fatal: 'dst' must be outside 'dst' or directly in it"
	assert_equal "$(cat dst/mine)" keep
}

@test "a restore into a directory another user owns is made in place, beside nothing they control" {
	[ "$(id -u)" = 0 ] || skip "needs root and another user"
	mkdir -p up
	chown 65534:65534 up
	run -0 --separate-stderr snap-restore main up/new
	diff -r src up/new
	assert_equal "$(ls -A up)" new
	run -0 --separate-stderr snap-restore --force main up/new
	diff -r src up/new
	assert_equal "$(ls -A up)" new
}

@test "a parent others may write without the sticky bit (0777, 2775) gets nothing beside DIR; 1777 does" {
	mkdir -p pub grp tmpish bin
	chmod 0777 pub
	chmod 2775 grp
	chmod 1777 tmpish
	# A snap-checkout that first lists what lies beside DIR while it runs.
	printf '#!/bin/sh\nls -A "$SEEN_IN" > "$SEEN"\nexec "%s" "$@"\n' "$(command -v snap-checkout)" > bin/snap-checkout
	chmod +x bin/snap-checkout
	for d in pub grp; do
		run -0 --separate-stderr env PATH="$PWD/bin:$PATH" SEEN_IN=$d SEEN=seen snap-restore main $d/new
		diff -r src $d/new
		assert_equal "$(cat seen)" new
		assert_equal "$(ls -A $d)" new
		run -0 --separate-stderr env PATH="$PWD/bin:$PATH" SEEN_IN=$d SEEN=seen snap-restore --force main $d/new
		diff -r src $d/new
		assert_equal "$(cat seen)" new
		assert_equal "$(ls -A $d)" new
		# --from's temporary store goes to $TMPDIR, not beside DIR.
		mkdir -p "$BATS_TEST_TMPDIR/tmpdir"
		run -0 --separate-stderr env TMPDIR="$BATS_TEST_TMPDIR/tmpdir" \
			snap-restore --from "$SNAP_DIR" main $d/other
		diff -r src $d/other
		assert_equal "$(ls -A $d | LC_ALL=C sort | tr '\n' ' ')" "new other "
		rm -rf $d/other
	done
	# A sticky directory: a restore beside DIR, as usual (DIR renamed in).
	run -0 --separate-stderr env PATH="$PWD/bin:$PATH" SEEN_IN=tmpish SEEN=seen snap-restore main tmpish/new
	diff -r src tmpish/new
	[[ "$(cat seen)" == .snap-restore.* ]]
}

@test "another user racing a temporary directory of a restore in a 0777 parent never gets the tree elsewhere" {
	command -v setpriv > /dev/null || skip "setpriv is not installed"
	[ "$(id -u)" = 0 ] || skip "needs root (restores into a directory others may write)"
	chmod 755 "$BATS_TEST_TMPDIR"
	mkdir pub victim
	chmod 777 pub victim
	for i in $(seq 200); do echo "$i" > "src/sub/f$i"; done
	snap-snapshot -m many src > /dev/null
	cat > swap.py <<'PY'
import os, sys, time
os.chdir(sys.argv[1])
end = time.time() + float(sys.argv[3])
n = 0
while time.time() < end:
    for name in os.listdir("."):
        if name.startswith(".snap-restore"):
            try:
                os.rename(name, "gone%d" % n)
                os.symlink(sys.argv[2], name)
                n += 1
            except OSError:
                pass
PY
	setpriv --reuid=nobody --regid=nogroup --clear-groups \
		python3 swap.py "$BATS_TEST_TMPDIR/pub" "$BATS_TEST_TMPDIR/victim" 4 &
	local racer=$! i
	sleep 0.3
	for i in $(seq 15); do
		snap-restore --force main "$BATS_TEST_TMPDIR/pub/t" > /dev/null 2>&1 || :
		snap-restore --from "$SNAP_DIR" main "$BATS_TEST_TMPDIR/pub/u$i" > /dev/null 2>&1 || :
	done
	wait "$racer" || :
	run -0 find victim -mindepth 1
	assert_output ''
	diff -r src pub/t
}

@test "checkout --in-place into a DIR that is a symlink refuses, and makes nothing where it points" {
	mkdir victim
	ln -s victim link
	run -128 --separate-stderr snap-checkout --in-place link/.snap-restore.1.abcdef main link
	assert_equal "$stderr" "snap-checkout: fatal: 'link' is not a directory"
	run -0 ls -A victim
	assert_output ''
}

@test "a DIR another user swaps for a symlink while restores run never gets the tree elsewhere" {
	command -v setpriv > /dev/null || skip "setpriv is not installed"
	[ "$(id -u)" = 0 ] || skip "needs root (restores into another user's directory)"
	chmod 755 "$BATS_TEST_TMPDIR"
	mkdir theirs victim
	chown nobody theirs
	chmod 777 victim
	for i in $(seq 200); do echo "$i" > "src/sub/f$i"; done
	snap-snapshot -m many src > /dev/null
	cat > swap.py <<'PY'
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
os.chdir(sys.argv[1])
os.mkdir("t")
os.symlink(sys.argv[2], "evil")
end = time.time() + float(sys.argv[3])
while time.time() < end:
    libc.renameat2(-100, b"t", -100, b"evil", 2)   # RENAME_EXCHANGE
PY
	setpriv --reuid=nobody --regid=nogroup --clear-groups \
		python3 swap.py "$BATS_TEST_TMPDIR/theirs" "$BATS_TEST_TMPDIR/victim" 4 &
	local racer=$! i
	sleep 0.3
	for i in $(seq 15); do
		snap-restore --force main "$BATS_TEST_TMPDIR/theirs/t" > /dev/null 2>&1 || :
	done
	wait "$racer" || :
	run -0 find victim -mindepth 1
	assert_output ''
}

@test "restore --exclude leaves out what matches: names, paths, directories" {
	echo log > src/top.log
	mkdir -p "src/with space"
	echo s > "src/with space/x.log"
	snap-snapshot -m logs src > /dev/null
	run -0 snap-restore --exclude '*.log' --exclude 'sub/deep/' main r1
	run -0 sh -c 'cd r1 && find . | LC_ALL=C sort'
	assert_output ".
./other
./other/g
./sub
./sub/f
./top
./with space"
	# A PATH and an exclude together; a pattern with a space.
	run -0 snap-restore --exclude 'with space/x.log' main r2 'with space'
	run -0 find r2 -mindepth 1
	assert_output "r2/with space"
	# Into an existing directory, in place.
	run -0 snap-restore --force --exclude 'f' main dst sub
	assert_file_not_exist dst/sub/f
	assert_file_exist dst/sub/deep/g
	assert_file_exist dst/mine
}
