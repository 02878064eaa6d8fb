#!/usr/bin/env bats
# 7: snap-snapshot's compare-and-swap: a "no" from update-ref (exit 1) is
# retried on top of what the ref holds; any other failure is not, whatever
# its message says

load test_helper

local_setup() {
	init_store
	mkdir src
	printf 1 > src/f
	# update-ref behind a wrapper that counts its calls and can answer
	# the first FAIL_TIMES of them with FAKE_STATUS and FAKE_MSG.
	mkdir fake
	export CALLS=$PWD/calls REAL=$SNAP_BUILD/bin/snap-update-ref FAIL_TIMES=0 \
		FAKE_STATUS=1 FAKE_MSG=
	cat > fake/snap-update-ref <<'SH'
#!/bin/sh
echo call >> "$CALLS"
if [ "$(wc -l < "$CALLS")" -le "$FAIL_TIMES" ]; then
	printf '%s\n' "$FAKE_MSG" >&2
	exit "$FAKE_STATUS"
fi
exec "$REAL" "$@"
SH
	chmod +x fake/snap-update-ref
	PATH=$PWD/fake:$PATH
}

calls() {
	wc -l < "$CALLS" | tr -d ' '
}

@test "an exit 1 from update-ref is retried, whatever its message" {
	FAIL_TIMES=1 FAKE_MSG='something else entirely' run -0 --separate-stderr snap-snapshot -m one src
	assert_equal "$stderr" ''
	assert_equal "$(calls)" 2
	assert_equal "$(snap-rev-parse main)" "$output"
}

@test "an update-ref failure other than exit 1 is not retried, though worded as a lost swap" {
	local msg="snap-update-ref: fatal: ref 'refs/snapshots/main' moved: expected $(printf '%064d' 1), found none"
	FAIL_TIMES=1 FAKE_STATUS=128 FAKE_MSG=$msg run -128 --separate-stderr snap-snapshot -m one src
	assert_equal "$stderr" "$msg"
	assert_equal "$output" ''
	assert_equal "$(calls)" 1
	run -1 snap-rev-parse --verify -q main
}

@test "a ref locked by a live process is retried ten times, then refused with the lock named" {
	local before lock=$SNAP_DIR/refs/snapshots/main.lock
	snap-snapshot -m one src > /dev/null
	before=$(snap-rev-parse main)
	: > "$CALLS"
	printf '%s %s %s -\n' "$$" "$(hostname)" "$(date +%s)" > "$lock"
	printf 2 > src/f
	run -128 --separate-stderr snap-snapshot -m two src
	assert_equal "$output" ''
	[[ "$stderr" =~ ^snap-snapshot:\ fatal:\ ref\ \'refs/snapshots/main\'\ is\ locked:\ \'$lock\'\ is\ held\ by\ pid\ $$\ on\ host ]]
	assert_equal "$(calls)" 10
	assert_equal "$(snap-rev-parse main)" "$before"
	assert_file_exist "$lock"
}
