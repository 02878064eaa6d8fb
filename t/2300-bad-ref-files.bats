#!/usr/bin/env bats
# 2: refs — damaged ref and reflog files are reported, never a crash

load test_helper

local_setup() {
	init_store
	mkdir src
	printf 1 > src/f
	T=$(snap-write-tree src)
	S1=$(snap-mksnapshot --time 1000 --host h -m one "$T")
	snap-update-ref main "$S1"
	R="$SNAP_DIR/refs/snapshots/bad"
}

# bad_ref: fsck reports refs/snapshots/bad as a bad ref (bit 4) and
# nothing else; rev-parse and show-ref name it without a crash.
bad_ref() {
	run -4 --separate-stderr snap-fsck --no-dangling
	assert_equal "$output" "error bad-ref refs/snapshots/bad ref 'refs/snapshots/bad' is malformed ('$R')"
	assert_equal "$stderr" ''
	run -128 --separate-stderr snap-rev-parse bad
	assert_equal "$stderr" "snap-rev-parse: fatal: ref 'refs/snapshots/bad' is malformed ('$R')"
	assert_equal "$output" ''
	run -0 snap-show-ref main
	assert_output "$S1 refs/snapshots/main"
}

@test "a non-hex byte after a valid prefix is a bad ref, not a crash" {
	printf '%sg\n' "${S1:0:63}" > "$R"
	bad_ref
}

@test "an empty ref file is a bad ref" {
	: > "$R"
	bad_ref
}

@test "a ref file of 100 KB is a bad ref" {
	head -c 102400 /dev/zero | tr '\0' a > "$R"
	bad_ref
}

@test "a ref with NUL bytes is a bad ref" {
	{ printf '%s' "${S1:0:32}"; printf '\0\0'; printf '%s\n' "${S1:34}"; } > "$R"
	bad_ref
}

@test "a symbolic or garbled ref is a bad ref" {
	printf 'ref: refs/snapshots/main\n' > "$R"
	bad_ref
	printf '%s\n' "$(printf '%s' "$S1" | tr a-f A-F)" > "$R"
	bad_ref
	printf '%s' "$S1" > "$R"
	bad_ref
}

@test "a reflog line with garbage is a bad reflog" {
	L="$SNAP_DIR/logs/refs/snapshots/main"
	printf 'garbage \001\377 line\n' >> "$L"
	run -4 --separate-stderr snap-fsck --no-dangling
	assert_equal "$output" "error bad-reflog refs/snapshots/main reflog '$L' line 2 is malformed"
	printf '%s %sX 12 +0000\tx\n' "$S1" "${S1:0:63}" > "$L"
	run -4 --separate-stderr snap-fsck --no-dangling
	assert_equal "$output" "error bad-reflog refs/snapshots/main reflog '$L' line 1 is malformed"
	assert_equal "$stderr" ''
}
