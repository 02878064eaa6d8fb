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

@test "make CFLAGS=... keeps the project's standard and warnings" {
	run -0 make -s -n -C "$SNAP_BUILD" -W lib/oid.c CFLAGS=-O0 lib/oid.o
	assert_output --partial '-O0'
	assert_output --partial '-std=c11 -Wall -Wextra'
}

@test "every header of lib/ compiles on its own" {
	run -0 make -s -C "$SNAP_BUILD" check-headers
}

@test "snap --store DIR COMMAND and snap --store=DIR COMMAND" {
	snap-init -q s1
	mkdir src && echo x > src/f
	run -0 snap --store s1 snapshot src
	run -0 snap --store=s1 rev-parse main
	assert_output "$(SNAP_DIR=s1 snap-rev-parse main)"
	run -129 --separate-stderr snap --store
	assert_equal "${stderr_lines[0]}" 'snap: error: --store needs DIR'
	run -129 --separate-stderr snap --store= log
	assert_equal "${stderr_lines[0]}" 'snap: error: --store needs DIR'
}
