#!/usr/bin/env bats
# 0: basics and build

load test_helper

@test "snap --version prints the version" {
	run -0 snap --version
	assert_output --regexp '^snap version [0-9]+\.[0-9]+\.[0-9]+$'
}

@test "snap --help lists the commands" {
	run -0 snap --help
	assert_line --partial 'usage: snap'
	assert_line '   hash-object'
	assert_line '   cat-file'
	assert_line '   init'
}

@test "snap COMMAND runs snap-COMMAND" {
	run -0 snap hash-object /dev/null
	assert_output "$(snap-hash-object /dev/null)"
}

@test "snap with an unknown command is a usage error" {
	run -129 --separate-stderr snap no-such-command
	assert_output ''
	[[ "$stderr" == *"'no-such-command' is not a snap command"* ]]
}
