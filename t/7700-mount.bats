#!/usr/bin/env bats
# 7: porcelain workflows -- snap-mount, the read-only FUSE view.
#
# Each test mounts at ./mnt in its own directory and the teardown always
# unmounts (fusermount3 -u, else umount -l), so no mount outlives a test.

load test_helper

# Whether a FUSE mount works here, tried once per file with a real mount;
# the reason it does not, in fuse-skip.
setup_file() {
	local d=$BATS_FILE_TMPDIR/probe i
	export SNAP_BUILD
	: > "$BATS_FILE_TMPDIR/fuse-skip"
	if [ ! -x "$SNAP_BUILD/bin/snap-mount" ]; then
		echo "snap-mount is not built (./configure found no libfuse3)" > "$BATS_FILE_TMPDIR/fuse-skip"
		return 0
	fi
	if ! command -v fusermount3 >/dev/null 2>&1; then
		echo "fusermount3 is missing (apt-get install fuse3)" > "$BATS_FILE_TMPDIR/fuse-skip"
		return 0
	fi
	mkdir -p "$d/mnt"
	"$SNAP_BUILD/bin/snap-init" -q "$d/store"
	"$SNAP_BUILD/bin/snap-mount" --store "$d/store" "$d/mnt" 2> "$d/err" > /dev/null 3>&- &
	local pid=$!
	for i in $(seq 100); do
		mountpoint -q "$d/mnt" && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if mountpoint -q "$d/mnt"; then
		fusermount3 -u "$d/mnt" 2>/dev/null || umount -l "$d/mnt"
	else
		echo "cannot mount FUSE here: $(head -n 1 "$d/err")" > "$BATS_FILE_TMPDIR/fuse-skip"
		kill "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null || true
}

local_setup() {
	local why
	why=$(cat "$BATS_FILE_TMPDIR/fuse-skip")
	[ -z "$why" ] || skip "$why"
	init_store
	mkdir mnt
}

teardown() {
	local m=$BATS_TEST_TMPDIR/mnt
	[ -z "${PERM:-}" ] || rm -rf "$PERM"
	if mountpoint -q "$m" 2>/dev/null; then
		fusermount3 -u "$m" 2>/dev/null || umount -l "$m"
	fi
	if [ -n "${MOUNT_PID:-}" ]; then
		kill "$MOUNT_PID" 2>/dev/null || true
		wait "$MOUNT_PID" 2>/dev/null || true
	fi
}

# mount_view [ARGS...]: snap-mount ARGS ./mnt in the background (stderr in
# mount.err), returning once the mount is there.
mount_view() {
	local i
	snap-mount "$@" mnt 2> mount.err > /dev/null 3>&- &
	MOUNT_PID=$!
	for i in $(seq 100); do
		mountpoint -q mnt && return 0
		kill -0 "$MOUNT_PID" 2>/dev/null || break
		sleep 0.1
	done
	cat mount.err >&2
	return 1
}

# The directory name of a snapshot: its time in UTC.
snap_name() {
	date -u -d "@$(snap-rev-list --format=%t -n 1 "$1")" +%Y-%m-%dT%H:%M:%S
}

make_src() {
	mkdir -p src/sub/deeper src/empty
	printf 'hello\n' > src/regular
	printf '#!/bin/sh\n' > src/script
	chmod 751 src/script
	printf 'x' > "src/with space"
	printf 'y' > "src/new
line"
	printf 'w' > "src/bad$(printf '\377\376')utf8"
	mkfifo src/sub/fifo
	ln -s regular src/rel-link
	ln -s /does/not/exist src/dangling
	ln src/regular src/sub/hardlink
	printf 'deep' > src/sub/deeper/file
	make_file 5000000 src/sub/big
	touch -d '2021-03-04 05:06:07.123456789' src/regular
}

@test "a snapshot's view holds what was snapshotted" {
	make_src
	snap-snapshot src >/dev/null
	mount_view
	name=$(snap_name main)
	run -0 diff -r --no-dereference -x fifo src "mnt/main/$name"
	assert_output ''
	run -0 diff -r --no-dereference -x fifo src mnt/main/latest/
	assert_equal "$(stat -c '%F %a' "mnt/main/$name/sub/fifo")" "$(stat -c '%F %a' src/sub/fifo)"
	assert_equal "$(cat "mnt/main/$name/new
line")" y
	assert_equal "$(stat -c '%s %a %Y %u %g' "mnt/main/$name/regular")" "$(stat -c '%s %a %Y %u %g' src/regular)"
	assert_equal "$(stat -c '%s %a %Y' "mnt/main/$name/script")" "$(stat -c '%s %a %Y' src/script)"
	assert_equal "$(stat -c '%y' "mnt/main/$name/regular")" "$(stat -c '%y' src/regular)"
	assert_equal "$(stat -c '%F %a' "mnt/main/$name/sub/deeper")" "$(stat -c '%F %a' src/sub/deeper)"
	assert_equal "$(readlink "mnt/main/$name/dangling")" /does/not/exist
	assert_equal "$(readlink "mnt/main/$name/rel-link")" regular
	assert_equal "$(cat "mnt/main/$name/rel-link")" hello
}

@test "the layout: a directory per ref, a snapshot per time, latest, ids" {
	mkdir src && echo one > src/f
	SNAP_TIME='1700000000 +0100' snap-snapshot src >/dev/null
	echo two > src/f
	SNAP_TIME='1700000100 +0000' snap-snapshot src >/dev/null
	SNAP_TIME='1700000200 +0000' snap-snapshot -r nightly src >/dev/null
	mount_view
	run -0 ls mnt
	assert_output "$(printf 'ids\nmain\nnightly')"
	run -0 ls mnt/main
	assert_output "$(printf '2023-11-14T22:13:20\n2023-11-14T22:15:00\nlatest')"
	assert_equal "$(readlink mnt/main/latest)" 2023-11-14T22:15:00
	assert_equal "$(cat mnt/main/2023-11-14T22:13:20/f)" one
	assert_equal "$(cat mnt/main/latest/f)" two
	assert_equal "$(readlink mnt/nightly/latest)" 2023-11-14T22:16:40
	run -0 ls mnt/ids
	assert_output "$({ snap-rev-list main; snap-rev-list nightly; } | sort -u)"
	run -0 diff -r mnt/main/latest "mnt/ids/$(snap-rev-parse main)"
	assert_equal "$(stat -c %Y mnt/main/2023-11-14T22:13:20)" 1700000000
}

@test "two snapshots of a ref in the same second: the later gets -1" {
	mkdir src && echo one > src/f
	SNAP_TIME='1700000000 +0000' snap-snapshot src >/dev/null
	echo two > src/f
	SNAP_TIME='1700000000 +0000' snap-snapshot src >/dev/null
	echo three > src/f
	SNAP_TIME='1700000000 +0000' snap-snapshot src >/dev/null
	mount_view
	run -0 ls mnt/main
	assert_output "$(printf '2023-11-14T22:13:20\n2023-11-14T22:13:20-1\n2023-11-14T22:13:20-2\nlatest')"
	assert_equal "$(cat mnt/main/2023-11-14T22:13:20/f)" one
	assert_equal "$(cat mnt/main/2023-11-14T22:13:20-1/f)" two
	assert_equal "$(readlink mnt/main/latest)" 2023-11-14T22:13:20-2
}

@test "-r shows the refs named, nested when the name holds a slash" {
	mkdir src && echo x > src/f
	snap-snapshot src >/dev/null
	snap-snapshot -r team/db src >/dev/null
	mount_view -r team/db
	run -0 ls mnt
	assert_output "$(printf 'ids\nteam')"
	run -0 ls mnt/team
	assert_output db
	assert_equal "$(cat mnt/team/db/latest/f)" x
	run -2 ls mnt/main
}

@test "hard links recorded in the tree share an inode number" {
	make_src
	snap-snapshot src >/dev/null
	mount_view
	assert_equal "$(stat -c %i mnt/main/latest/sub/hardlink)" "$(stat -c %i mnt/main/latest/regular)"
	[ "$(stat -c %i mnt/main/latest/regular)" != "$(stat -c %i mnt/main/latest/script)" ]
}

@test "a read at any offset of a chunked file gives the source's bytes" {
	mkdir src
	make_file 6000000 src/big
	snap-snapshot src >/dev/null
	id=$(b3_blob_id src/big)
	[ "$(zstd -dc "$(object_path "$id")" | head -c 6)" = chunks ]
	mount_view
	for skip in 0 1 777 2999 5859; do
		assert_equal "$(dd if=mnt/main/latest/big bs=1024 skip=$skip count=3 2>/dev/null | b3sum --no-names)" \
			"$(dd if=src/big bs=1024 skip=$skip count=3 2>/dev/null | b3sum --no-names)"
	done
	cmp src/big mnt/main/latest/big
}

@test "a read far into a chunked file reads only the chunks it needs" {
	mkdir src
	make_file 6000000 src/big
	snap-snapshot src >/dev/null
	id=$(b3_blob_id src/big)
	# Damage the block holding the first chunk: a read from the whole
	# file's start would fail; one near its end must not.
	read -r cid _ < <(zstd -dc "$(object_path "$id")" | tr '\0' '\n' | sed -n 2p)
	for idx in "$SNAP_DIR"/objects/pack/*.idx; do
		read -r off len < <(idx_records "$idx" | awk -v id="$cid" '$1 == id {print $2, $3}')
		[ -z "$off" ] || break
	done
	poke "${idx%.idx}.pack" $((off + len / 2)) 00ff00ff
	mount_view
	assert_equal "$(dd if=mnt/main/latest/big bs=4096 skip=1460 count=4 2>/dev/null | b3sum --no-names)" \
		"$(dd if=src/big bs=4096 skip=1460 count=4 2>/dev/null | b3sum --no-names)"
	run ! dd if=mnt/main/latest/big of=/dev/null bs=4096 count=1
	assert_output --partial 'Input/output error'
}

@test "a chunk list naming other intact chunks fails a full read at its end" {
	mkdir src
	make_file 3000000 src/a
	cp src/a src/b
	# A byte far before the first cut: b's chunks have a's sizes, its
	# first chunk another id.
	printf 'Z' | dd of=src/b bs=1 seek=100 conv=notrunc 2>/dev/null
	snap-snapshot src >/dev/null
	a=$(b3_blob_id src/a) b=$(b3_blob_id src/b)
	assert_equal "$(zstd -dc "$(object_path "$a")" | tr '\0' '\n' | sed 1d | cut -d' ' -f2)" \
		"$(zstd -dc "$(object_path "$b")" | tr '\0' '\n' | sed 1d | cut -d' ' -f2)"
	chmod u+w "$(object_path "$a")"
	cp "$(object_path "$b")" "$(object_path "$a")"
	mount_view
	run ! cp mnt/main/latest/a copy
	assert_output --partial 'Input/output error'
	run -0 cat mount.err
	assert_output "snap-mount: error: '/main/$(snap_name main)/a': object '$a' is corrupt: its chunks, each intact, hash to '$b'"
}

@test "a corrupt tree is an I/O error on listing, with a line naming it" {
	mkdir -p src/sub && echo x > src/sub/f && echo y > src/g
	snap-snapshot src >/dev/null
	t=$(snap-rev-parse main:sub)
	for idx in "$SNAP_DIR"/objects/pack/*.idx; do
		read -r off len < <(idx_records "$idx" | awk -v id="$t" '$1 == id {print $2, $3}')
		[ -z "$off" ] || break
	done
	poke "${idx%.idx}.pack" $((off + len / 2)) 00ff00ff
	mount_view
	run ! ls mnt/main/latest/sub
	assert_output --partial 'Input/output error'
	run -0 cat mount.err
	assert_line --regexp "^snap-mount: error: '/main/[^']*': object '[0-9a-f]{64}' is corrupt"
}

@test "a missing tree is an I/O error with a line, not an absent directory" {
	mkdir -p src/sub && echo x > src/sub/f
	snap-snapshot src >/dev/null
	# A tree of its own, loose, under a snapshot made by the plumbing.
	sub=$(snap-ls-tree -l main:sub | sed 's/ [0-9]*\.[0-9]* / 1700000000.000000000 /' | snap-mktree)
	root=$(printf 'dir 0755 0 0 1700000000.000000000 0 %s - sub\n' "$sub" | snap-mktree)
	snap-update-ref refs/snapshots/plumbed "$(snap-mksnapshot --time 1700000000 --host h "$root")"
	corrupt_delete "$sub"
	mount_view -r plumbed
	run -0 stat -c %F mnt/plumbed/latest/sub
	assert_output directory
	run ! ls mnt/plumbed/latest/sub
	assert_output --partial 'Input/output error'
	run -0 cat mount.err
	assert_line --regexp "^snap-mount: error: '/plumbed/2023-11-14T22:13:20/sub': object '$sub' not found$"
}

@test "a ref named ids is left out of the view; the others are shown" {
	mkdir src && echo x > src/f
	snap-snapshot src >/dev/null
	snap-update-ref refs/snapshots/ids "$(snap-rev-parse main)"
	mount_view
	run -0 ls mnt
	assert_output "$(printf 'ids\nmain')"
	run -0 ls mnt/ids
	assert_output "$(snap-rev-parse main)"
}

@test "gc and repacking while mounted: old and new snapshots still read" {
	mkdir src && echo one > src/f
	SNAP_TIME='1700000000 +0000' snap-snapshot src >/dev/null
	mount_view
	assert_equal "$(cat mnt/main/latest/f)" one
	echo two > src/f
	SNAP_TIME='1700000060 +0000' snap-snapshot src >/dev/null
	snap-gc --prune=now >/dev/null
	run -0 ls mnt/main
	assert_output "$(printf '2023-11-14T22:13:20\n2023-11-14T22:14:20\nlatest')"
	assert_equal "$(cat mnt/main/2023-11-14T22:14:20/f)" two
	run -0 cat mnt/ids/"$(snap-rev-parse main~1)"/f
	assert_output one
	assert_equal "$(cat mount.err)" ''
}

@test "a corrupt snapshot on a ref's history: the newer ones shown, one warning" {
	mkdir src && echo 1 > src/f
	SNAP_TIME='1700000000 +0000' snap-snapshot src >/dev/null
	SNAP_TIME='1700000060 +0000' snap-snapshot src >/dev/null
	echo 3 > src/f
	SNAP_TIME='1700000120 +0000' snap-snapshot src >/dev/null
	mid=$(snap-rev-parse main~1)
	corrupt_truncate "$mid"
	mount_view
	run -0 ls mnt/main
	assert_output "$(printf '2023-11-14T22:15:20\nlatest')"
	run -0 ls mnt/main
	assert_equal "$(cat mnt/main/latest/f)" 3
	run -0 cat mount.err
	assert_equal "${#lines[@]}" 1
	assert_output --regexp "^snap-mount: warning: object '$mid' is .*\(on the history of 'refs/snapshots/main'; older snapshots not shown\)$"
}

@test "a malformed ref: an empty directory and one warning" {
	mkdir src && echo 1 > src/f
	snap-snapshot src >/dev/null
	snap-snapshot -r other src >/dev/null
	mount_view
	assert_equal "$(cat mnt/other/latest/f)" 1
	printf 'bad\n' > "$SNAP_DIR/refs/snapshots/other"
	run -0 ls mnt/other
	assert_output ''
	run -0 ls mnt/other
	assert_equal "$(cat mnt/main/latest/f)" 1
	run -0 cat mount.err
	assert_output "snap-mount: warning: ref 'refs/snapshots/other' is malformed ('$SNAP_DIR/refs/snapshots/other') (its directory is empty)"
}

@test "every change is refused with EROFS" {
	mkdir src && echo x > src/f
	snap-snapshot src >/dev/null
	before=$(store_listing)
	mount_view
	run ! touch mnt/main/latest/f
	assert_output --partial 'Read-only file system'
	run ! touch mnt/main/latest/new
	assert_output --partial 'Read-only file system'
	run ! mkdir mnt/main/latest/d
	assert_output --partial 'Read-only file system'
	run ! rm mnt/main/latest/f
	assert_output --partial 'Read-only file system'
	run ! sh -c 'echo y >> mnt/main/latest/f'
	assert_output --partial 'Read-only file system'
	run ! mv mnt/main/latest/f mnt/main/latest/g
	assert_output --partial 'Read-only file system'
	assert_equal "$(cat mnt/main/latest/f)" x
	fusermount3 -u mnt
	wait "$MOUNT_PID"
	assert_equal "$(store_listing)" "$before"
}

@test "a corrupt object is an I/O error on read and one line on stderr, never wrong bytes" {
	mkdir src && printf 'secret\n' > src/f && printf 'fine\n' > src/g
	id=$(snap-hash-object -w src/f)
	snap-snapshot src >/dev/null
	p=$(object_path "$id")
	chmod u+w "$p"
	printf 'garbage' > "$p"
	mount_view
	name=$(snap_name main)
	run -1 --separate-stderr cat mnt/main/latest/f
	assert_output ''
	assert_equal "$stderr" 'cat: mnt/main/latest/f: Input/output error'
	assert_equal "$(cat mnt/main/latest/g)" fine
	run -0 cat mount.err
	assert_equal "${#lines[@]}" 1
	assert_output --regexp "^snap-mount: error: '/main/$name/f': object '$id' is corrupt \(.*\): .*$"
}

@test "a snapshot taken while mounted appears when its ref is listed" {
	mkdir src && echo one > src/f
	SNAP_TIME='1700000000 +0000' snap-snapshot src >/dev/null
	mount_view
	run -0 ls mnt/main
	assert_output "$(printf '2023-11-14T22:13:20\nlatest')"
	echo two > src/f
	SNAP_TIME='1700000060 +0000' snap-snapshot src >/dev/null
	SNAP_TIME='1700000120 +0000' snap-snapshot -r other src >/dev/null
	run -0 ls mnt/main
	assert_output "$(printf '2023-11-14T22:13:20\n2023-11-14T22:14:20\nlatest')"
	assert_equal "$(readlink mnt/main/latest)" 2023-11-14T22:14:20
	assert_equal "$(cat mnt/main/latest/f)" two
	assert_equal "$(cat mnt/main/2023-11-14T22:13:20/f)" one
	run -0 ls mnt
	assert_output "$(printf 'ids\nmain\nother')"
	run -0 ls mnt/ids
	assert_equal "${#lines[@]}" 3
}

@test "fusermount3 -u ends snap-mount with status 0" {
	mkdir src && echo x > src/f
	snap-snapshot src >/dev/null
	mount_view
	fusermount3 -u mnt
	rc=0
	wait "$MOUNT_PID" || rc=$?
	assert_equal "$rc" 0
	MOUNT_PID=
	run -32 mountpoint -q mnt
	assert_equal "$(cat mount.err)" ''
}

@test "SIGTERM unmounts and ends snap-mount with status 0" {
	mkdir src && echo x > src/f
	snap-snapshot src >/dev/null
	mount_view
	kill -TERM "$MOUNT_PID"
	rc=0
	wait "$MOUNT_PID" || rc=$?
	assert_equal "$rc" 0
	MOUNT_PID=
	run -32 mountpoint -q mnt
	assert_equal "$(cat mount.err)" ''
}

@test "snap mount runs through the dispatcher" {
	mkdir src && echo x > src/f
	snap-snapshot src >/dev/null
	snap mount mnt 2> mount.err > /dev/null 3>&- &
	MOUNT_PID=$!
	for i in $(seq 100); do mountpoint -q mnt && break; sleep 0.1; done
	assert_equal "$(cat mnt/main/latest/f)" x
	run -0 snap mount --help
	assert_line --index 0 'usage: snap-mount [--store DIR] [-r REF]... MOUNTPOINT'
}

@test "bad input: one line, the documented status, nothing mounted" {
	mkdir src && echo x > src/f
	snap-snapshot src >/dev/null
	refused "snap-mount: fatal: ref 'nosuch' not found" snap-mount -r nosuch mnt
	refused "snap-mount: fatal: mount point 'src/f' is not a directory" snap-mount src/f
	refused "snap-mount: fatal: cannot use mount point 'none': No such file or directory" snap-mount none
	snap-update-ref refs/snapshots/ids "$(snap-rev-parse main)"
	refused "snap-mount: fatal: ref 'refs/snapshots/ids' cannot be shown: 'ids' is the directory of ids" \
		snap-mount -r ids mnt
	run -129 --separate-stderr snap-mount
	assert_equal "${stderr_lines[0]}" 'snap-mount: error: give one MOUNTPOINT'
	run -129 --separate-stderr snap-mount a b
	run -129 --separate-stderr snap-mount --bogus mnt
	run -32 mountpoint -q mnt
}

@test "a mount that fails (no access to /dev/fuse) is one fatal line and 128" {
	[ "$(id -u)" = 0 ] && command -v setpriv >/dev/null || skip "needs root and setpriv"
	[ "$(stat -c %a /dev/fuse)" = 600 ] || skip "/dev/fuse is open to other users here"
	PERM=$(mktemp -d /tmp/snap-mount-perm.XXXXXX)
	chmod 755 "$PERM"
	snap-init -q "$PERM/store"
	mkdir "$PERM/mnt"
	chown -R 65534:65534 "$PERM"
	cd "$PERM"
	run -128 --separate-stderr setpriv --reuid=65534 --regid=65534 --clear-groups \
		env PATH="$PATH" snap-mount --store store mnt
	assert_equal "$stderr" "snap-mount: fatal: cannot mount on 'mnt': fuse: failed to open /dev/fuse: Permission denied"
	assert_output ''
	run -32 mountpoint -q mnt
}

@test "snapshots pruned on purpose are passed over, before and after gc, as snap-log shows them" {
	mkdir src
	local t
	for t in 1700000000 1700000100 1700000200 1700000300; do
		echo "$t" > src/f
		SNAP_TIME="$t +0000" snap-snapshot src > /dev/null
	done
	snap-update-ref refs/tags/first main~3
	snap-prune --keep-last 1 > /dev/null
	mount_view
	run -0 ls mnt/main
	assert_output "$(printf '2023-11-14T22:13:20\n2023-11-14T22:18:20\nlatest')"
	assert_equal "$(cat mnt/main/2023-11-14T22:13:20/f)" 1700000000
	fusermount3 -u mnt 2>/dev/null || umount -l mnt
	wait "$MOUNT_PID" 2>/dev/null || :
	MOUNT_PID=
	find "$SNAP_DIR/objects" -type f -exec touch -d '3 days ago' {} +
	snap-gc --prune=now > /dev/null
	mount_view
	run -0 ls mnt/main
	assert_output "$(printf '2023-11-14T22:13:20\n2023-11-14T22:18:20\nlatest')"
}
