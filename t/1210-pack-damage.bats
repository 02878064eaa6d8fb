#!/usr/bin/env bats
# 1: object database — a damaged pack, index or multi-pack index costs
# only the objects in it: every other object reads, fsck finishes and
# names the file.

load test_helper

local_setup() {
	init_store
	# Snapshot one in the first pack, snapshot two (all new content, its
	# parent the first) in a second.
	mkdir one two
	make_file 3000 one/a
	echo first > one/b
	snap-snapshot -m one one > /dev/null
	OLD=$(echo "$SNAP_DIR"/objects/pack/*.idx)
	make_file 5000 two/c
	echo second > two/d
	snap-snapshot -m two two > /dev/null
	NEW=$(ls "$SNAP_DIR"/objects/pack/*.idx | grep -vxF "$OLD")
	OLDPACK=${OLD%.idx}.pack
}

# restore's two commands each warned once, with this message.
warned() {
	assert_equal "$(cat restore.err)" "snap-restore: warning: $1"
}

# Snapshot two still restores byte for byte.
second_restores() {
	rm -rf out
	snap-restore main out 2> restore.err
	diff -r two out
}

@test "the two snapshots are in two packs" {
	[ -f "$OLD" ] && [ -f "$NEW" ]
	idx_records "$NEW" | grep -q "^$(b3_blob_id two/c) "
	idx_records "$OLD" | grep -q "^$(b3_blob_id one/a) "
}

@test "a missing pack (its index kept): the other pack reads, fsck says missing" {
	mv "$OLDPACK" lost.pack
	second_restores
	warned "cannot open pack '$OLDPACK': No such file or directory; its objects are unavailable"
	run -0 --separate-stderr snap-rev-parse main
	run -128 --separate-stderr snap-cat-file -p "$(b3_blob_id one/a)"
	assert_equal "${stderr_lines[1]}" "snap-cat-file: fatal: object '$(b3_blob_id one/a)' not found"
	run -10 --separate-stderr snap-fsck
	assert_output --regexp "^error missing-object [0-9a-f]{64} tree, referenced by [0-9a-f]{64}
error index-without-pack $OLD the pack it indexes is gone$"
}

@test "a truncated pack: the other pack reads, fsck says pack-corrupt" {
	chmod u+w "$OLDPACK"
	truncate -s 40 "$OLDPACK"
	second_restores
	warned "pack '$OLDPACK' is truncated (40 bytes, its index says $(od -An -tu8 --endian=big -j$(( $(stat -c %s "$OLD") - 72 )) -N8 "$OLD" | tr -d ' '))"
	run -9 --separate-stderr snap-fsck
	assert_line --regexp "^error pack-corrupt $OLD pack '$OLDPACK' has the wrong size "
}

@test "bytes appended to an index: its pack is read by a scan" {
	chmod u+w "$OLD"
	printf 'junk' >> "$OLD"
	second_restores
	warned "pack index '$OLD' is corrupt: size does not match the object count; its pack is read by a scan"
	rm -rf out
	snap-restore main~1 out 2> /dev/null
	diff -r one out
	run -8 --separate-stderr snap-fsck
	assert_output "error pack-corrupt $OLD pack index '$OLD' is corrupt: size does not match the object count"
}

@test "a garbled index header: its pack is read by a scan" {
	poke "$OLD" 0 00000000
	second_restores
	warned "pack index '$OLD' is corrupt: bad magic or version; its pack is read by a scan"
	snap-cat-file -p "$(b3_blob_id one/a)" 2> /dev/null | cmp - one/a
	run -8 --separate-stderr snap-fsck
	assert_output "error pack-corrupt $OLD pack index '$OLD' is corrupt: bad magic or version"
}

@test "a garbled multi-pack index: not used, fsck warns" {
	snap-gc --prune=now > /dev/null
	mkdir three
	echo third > three/e
	snap-snapshot -m three three > /dev/null
	MIDX=$SNAP_DIR/objects/pack/multi-pack-index
	[ -f "$MIDX" ]
	poke "$MIDX" 8 ffffffff
	rm -rf out
	snap-restore main out
	diff -r three out
	rm -rf out
	snap-restore main~1 out
	diff -r two out
	run -0 --separate-stderr snap-fsck
	assert_output "warning bad-multi-pack-index $MIDX multi-pack index '$MIDX' is corrupt: bad magic or version"
}

# Runs a command as nobody (root reads every file whatever its mode).
as_nobody() {
	setpriv --reuid=65534 --regid=65534 --clear-groups env SNAP_DIR="$SNAP_DIR" PATH="$PATH" "$@"
}

# A store in a directory nobody may use, for the unreadable-file tests.
nobody_store() {
	[ "$(id -u)" = 0 ] || return 0
	command -v setpriv > /dev/null || skip "running as root without setpriv: root reads unreadable files"
	PERM=$(mktemp -d /tmp/snap-perm.XXXXXX)
	chmod 755 "$PERM"
	mv "$SNAP_DIR" "$PERM/store"
	cp -r two "$PERM/two"
	export SNAP_DIR=$PERM/store
	OLD=$PERM/store/${OLD#"$BATS_TEST_TMPDIR"/store/}
	OLDPACK=${OLD%.idx}.pack
	chown -R 65534:65534 "$PERM"
	cd "$PERM"
}

teardown() {
	[ -z "${PERM:-}" ] || rm -rf "$PERM"
}

run_maybe_nobody() {
	if [ -n "${PERM:-}" ]; then as_nobody "$@"; else "$@"; fi
}

@test "an unreadable index: its pack is read by a scan" {
	nobody_store
	chmod 000 "$OLD"
	run_maybe_nobody snap-restore main out 2> restore.err || { cat restore.err; false; }
	diff -r two out
	warned "cannot open '$OLD': Permission denied; its pack is read by a scan"
	run -8 --separate-stderr run_maybe_nobody snap-fsck
	assert_output "error pack-corrupt $OLD cannot open '$OLD': Permission denied"
}

@test "an unreadable pack: the other pack reads, fsck says missing" {
	nobody_store
	chmod 000 "$OLDPACK"
	run_maybe_nobody snap-restore main out 2> restore.err || { cat restore.err; false; }
	diff -r two out
	warned "cannot open pack '$OLDPACK': Permission denied; its objects are unavailable"
	run -10 --separate-stderr run_maybe_nobody snap-fsck
	assert_line "error pack-corrupt $OLD cannot open pack '$OLDPACK': Permission denied"
	assert_line --regexp "^error missing-object [0-9a-f]{64} tree, referenced by "
}
