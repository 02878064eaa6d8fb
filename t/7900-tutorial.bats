#!/usr/bin/env bats
# 7: porcelain — docs/TUTORIAL.md, run as a reader would: every command of
# its sh blocks, in order, in an empty home, printing what it says.

load test_helper

@test "every command of the tutorial runs and prints what the tutorial shows" {
	[ ! -e /etc/snap/backup.conf ] || skip "/etc/snap/backup.conf exists on this machine"
	mkdir home work
	run -0 env -u SNAP_DIR -u XDG_CONFIG_HOME HOME="$BATS_TEST_TMPDIR/home" \
		python3 "$BATS_TEST_DIRNAME/tutorial.py" "$SNAP_BUILD/docs/TUTORIAL.md" "$BATS_TEST_TMPDIR/work"
	assert_output --regexp '^[0-9]+ commands ran as the tutorial says$'
}
