#!/usr/bin/env bats
# 1: the id map and set (lib/oidset), through t/unit/test-oidmap

load test_helper

@test "an oidmap finds each id with its value through thirteen resizes" {
	run -0 --separate-stderr test-oidmap map 300000
	assert_equal "$output" 'ok 300000 entries, 13 resizes'
	assert_equal "$stderr" ''
}

@test "an oidmap keeps pointers as values" {
	run -0 --separate-stderr test-oidmap pointers 5000
	assert_equal "$output" 'ok 5000 pointers'
	assert_equal "$stderr" ''
}

@test "ids that share one home slot at the table's end are all found" {
	run -0 --separate-stderr test-oidmap collide 3000
	assert_equal "$output" 'ok 3000 entries, 6 resizes'
	assert_equal "$stderr" ''
}

@test "an oidset, and a zeroed one, hold each id once" {
	run -0 --separate-stderr test-oidmap set 100000
	assert_equal "$output" 'ok 100000 ids'
	assert_equal "$stderr" ''
}
