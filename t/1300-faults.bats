#!/usr/bin/env bats
# 1: object database — failed writes leave the store as it was

load test_helper

local_setup() {
	init_store
	printf 'content' > f
}

expect_unchanged_after() {
	local before
	before=$(store_listing)
	SNAP_FAULT=$1 run -128 --separate-stderr snap-hash-object -w f
	[[ "$stderr" == "snap-hash-object: fatal: "*"$2" ]] || { echo "stderr: $stderr"; false; }
	assert_output ''
	assert_equal "$(store_listing)" "$before"
}

@test "a read-only store (EROFS on create) is a clear error, nothing written" {
	expect_unchanged_after open:1:EROFS "Read-only file system"
}

@test "a full disk on write leaves no temporary file" {
	expect_unchanged_after write:1:ENOSPC "No space left on device"
}

@test "a failing fsync publishes nothing" {
	expect_unchanged_after fsync:1:EIO "Input/output error"
}

@test "a failing link publishes nothing" {
	expect_unchanged_after link:1:EIO "Input/output error"
}

@test "a failing directory creation publishes nothing" {
	expect_unchanged_after mkdir:1:ENOSPC "No space left on device"
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
	expect_unchanged_after rename:1:EIO "Input/output error"
}

@test "a failed write leaves no session file behind" {
	SNAP_FAULT=link:1:EIO run -128 snap-hash-object -w f
	run ls -A "$SNAP_DIR/sessions"
	assert_output ''
}
