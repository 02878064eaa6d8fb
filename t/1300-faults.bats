#!/usr/bin/env bats
# 1: object database — failed writes leave the store as it was

load test_helper

local_setup() {
	init_store
	printf 'content' > f
}

# expect_unchanged_after SPEC REGEX: hash-object -w under SNAP_FAULT=SPEC
# fails with 128, one stderr line matching REGEX (anchored; STORE stands
# for the store's path), no output, and the store as it was.
expect_unchanged_after() {
	local before re
	before=$(store_listing)
	re="^snap-hash-object: fatal: ${2//STORE/$SNAP_DIR}\$"
	SNAP_FAULT=$1 run -128 --separate-stderr snap-hash-object -w f
	[[ "$stderr" =~ $re ]] || { echo "stderr: $stderr"; echo "want: $re"; false; }
	assert_output ''
	assert_equal "$(store_listing)" "$before"
}

TMPOBJ="'STORE/objects/tmp/obj-[A-Za-z0-9]{8}'"
LOOSE="'STORE/objects/[0-9a-f]{2}/[0-9a-f]{62}'"

@test "a read-only store (EROFS on creating the object) is a clear error, nothing written" {
	expect_unchanged_after 'open@objects/tmp/obj-:1:EROFS' \
		"cannot create a temporary file in 'STORE/objects/tmp': Read-only file system"
}

@test "a full disk on writing the object leaves no temporary file" {
	expect_unchanged_after 'write@objects/tmp/obj-:1:ENOSPC' "cannot write $TMPOBJ: No space left on device"
}

@test "a disk that fills in the middle of a write (short write) leaves no temporary file" {
	expect_unchanged_after 'write@objects/tmp/obj-:1:short' "cannot write $TMPOBJ: No space left on device"
}

@test "a failing fsync of the object publishes nothing" {
	expect_unchanged_after 'fsync@objects/tmp/obj-:1:EIO' "cannot sync $TMPOBJ: Input/output error"
}

@test "a failing close of the object publishes nothing" {
	expect_unchanged_after 'close@objects/tmp/obj-:1:EIO' "cannot write $TMPOBJ: Input/output error"
}

@test "a failing link publishes nothing" {
	expect_unchanged_after 'link@objects/:1:EIO' "cannot create $LOOSE: Input/output error"
}

@test "a failing shard directory creation publishes nothing" {
	expect_unchanged_after 'mkdir@objects/:1:ENOSPC' "cannot create 'STORE/objects/[0-9a-f]{2}': No space left on device"
}

@test "the old OP:N:ERRNO form still works (the first open is the session's clock)" {
	expect_unchanged_after 'open:1:EIO' ".*Input/output error"
}

@test "a fault item that does not parse is ignored with a warning" {
	SNAP_FAULT='bogus:1:EIO,open:x:EIO,open:1:ENOTANERRNO' run -0 --separate-stderr snap-hash-object -w f
	assert_output "$(b3_blob_id f)"
	assert_equal "$stderr" "snap: warning: SNAP_FAULT item 'bogus:1:EIO' ignored: unknown operation
snap: warning: SNAP_FAULT item 'open:x:EIO' ignored: bad call number
snap: warning: SNAP_FAULT item 'open:1:ENOTANERRNO' ignored: unknown action"
}

@test "SNAP_FAULT_LOG numbers every store-mutating call across processes" {
	SNAP_FAULT_LOG=$PWD/log run -0 snap-hash-object -w f
	n=$(wc -l < log)
	[ "$n" -gt 5 ]
	run -0 awk '{print $1}' log
	assert_output "$(seq "$n")"
	grep -q "^[0-9]* link $SNAP_DIR/objects/[0-9a-f][0-9a-f]/" log
	grep -q "^[0-9]* write $SNAP_DIR/objects/tmp/obj-" log
	printf 'other' > g
	SNAP_FAULT_LOG=$PWD/log run -0 snap-hash-object -w g
	run -0 awk '{print $1}' log
	assert_output "$(seq $((2 * n)))"
}

@test "seq:K aims at call K of the log's numbering" {
	SNAP_FAULT_LOG=$PWD/count run -0 snap-hash-object -w f
	k=$(awk '$2 == "link" {print $1; exit}' count)
	rm -r "$SNAP_DIR/objects/${output:0:2}"
	before=$(store_listing)
	SNAP_FAULT_LOG=$PWD/log SNAP_FAULT="seq:$k:EIO" run -128 --separate-stderr snap-hash-object -w f
	[[ "$stderr" =~ ^snap-hash-object:\ fatal:\ cannot\ create\ \'$SNAP_DIR/objects/ ]]
	assert_equal "$(store_listing)" "$before"
	assert_equal "$(sed -n "${k}p" log | cut -d' ' -f2)" link
}

@test "the kill action stops the process with SIGKILL at the call it names" {
	SNAP_FAULT='link@objects/:1:kill' run -137 snap-hash-object -w f
	run -0 snap-fsck
	[ ! -e "$(object_path "$(b3_blob_id f)")" ]
	run -0 snap-hash-object -w f
}

@test "a real read-only store is refused (as a non-root user)" {
	if [ "$(id -u)" = 0 ]; then
		skip "root ignores directory permissions"
	fi
	chmod -R a-w "$SNAP_DIR"
	run -128 --separate-stderr snap-hash-object -w f
	[[ "$stderr" == *"Permission denied"* ]]
	chmod -R u+w "$SNAP_DIR"
}

@test "a write session that cannot be registered stops the write" {
	expect_unchanged_after 'rename@sessions/:1:EIO' "cannot create 'STORE/sessions/[^']+': Input/output error"
}

@test "a failed write leaves no session file behind" {
	SNAP_FAULT='link@objects/:1:EIO' run -128 snap-hash-object -w f
	run ls -A "$SNAP_DIR/sessions"
	assert_output ''
}
