#!/usr/bin/env bats
# 0: the test runner itself (t/run-tests.sh): its closing line and exit
# status must tell the truth, or a red suite could pass CI.

load test_helper

# The runner in a clean environment: a bats inside bats would otherwise
# take the outer run's BATS_* variables, descriptor 3 and PATH (where
# "bats" names bats' internal script) for its own.
runner() { # called in a subshell only (run, &): it execs
	exec env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$HOME" TMPDIR="$BATS_TEST_TMPDIR" \
		BATS="${FAKE_BATS:-bats}" BATS_LIB="$BATS_LIB" sh "$SNAP_BUILD/t/run-tests.sh" "$@" 3>&-
}

local_setup() {
	mkdir -p cases
	# Written with printf: bats would take a test line here for its own.
	printf '@%s "one" { true; }\n@%s "two" { skip "not here"; }\n' test test > cases/pass.bats
	printf '@%s "one" { true; }\n@%s "two" { false; }\n' test test > cases/fail.bats
}

@test "a passing file: its counts and exit 0" {
	run -0 runner cases/pass.bats
	assert_line --index -1 '1 passed, 0 failed, 1 skipped'
}

@test "a failing test: its counts and exit 1" {
	run -1 runner cases/fail.bats
	assert_line --index -1 '1 passed, 1 failed, 0 skipped'
}

@test "bats failing without a 'not ok' line (a syntax error) fails the run" {
	cat > fake-bats <<'B'
#!/bin/sh
echo "1..1"
echo "ok 1 fine"
exit 1
B
	chmod +x fake-bats
	FAKE_BATS=$PWD/fake-bats run -1 runner cases/pass.bats
	assert_line --index -1 '1 passed, 0 failed, 0 skipped'
}

@test "a run that ran no test fails" {
	cat > fake-bats <<'B'
#!/bin/sh
echo "1..0"
B
	chmod +x fake-bats
	FAKE_BATS=$PWD/fake-bats run -1 runner cases/pass.bats
	assert_line --index -1 '0 passed, 0 failed, 0 skipped'
}

@test "a runner stopped by TERM prints no counts and fails" {
	cat > fake-bats <<'B'
#!/bin/sh
echo "1..2"
echo "ok 1 first"
sleep 3
echo "ok 2 second"
B
	chmod +x fake-bats
	FAKE_BATS=$PWD/fake-bats runner cases/pass.bats > out 2>&1 &
	local pid=$! i
	for i in $(seq 100); do grep -q '^ok 1' out && break; sleep 0.1; done
	kill -TERM "$pid"
	local rc=0
	wait "$pid" || rc=$?
	[ "$rc" -ne 0 ]
	run grep -c 'passed' out
	assert_output 0
}
