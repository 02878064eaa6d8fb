#!/usr/bin/env bats
# 1: the id map and set (lib/oidset), through t/unit/test-oidmap

load test_helper

# passes WHAT N OUTPUT: test-oidmap WHAT N finds nothing wrong and prints OUTPUT.
passes() {
	run -0 --separate-stderr test-oidmap "$1" "$2"
	assert_equal "$output" "$3"
	assert_equal "$stderr" ''
}

@test "an oidmap finds each id with its value through thirteen resizes" {
	passes map 300000 'ok 300000 entries, 13 resizes'
}

@test "an oidmap keeps pointers as values" {
	passes pointers 5000 'ok 5000 pointers'
}

@test "ids that share one home slot at the table's end are all found" {
	passes collide 3000 'ok 3000 entries, 6 resizes'
}

@test "an oidset, and a zeroed one, hold each id once" {
	passes set 100000 'ok 100000 ids'
}
