#!/usr/bin/env bats
# 0: the worker pool (lib/workqueue), through t/unit/test-workqueue

load test_helper

@test "a pool runs the jobs asked for, else one per processor, at most 16" {
	run -0 test-workqueue threads
	assert_output '1 3 16'
}

@test "the first failure's code and message are kept, not the later ones" {
	run -0 test-workqueue first 1 0
	assert_output "finish SNAP_ECORRUPT job 3 is corrupt
ran 8 released 8"
}

@test "with stop_on_failure nothing runs after a failure, and submit says so" {
	run -0 test-workqueue first 1 1
	assert_output "submit SNAP_ECORRUPT job 3 is corrupt
finish SNAP_ECORRUPT job 3 is corrupt
ran 4 released 5"
}

@test "on many threads the failure returned is one a job met, code and message together" {
	for stop in 0 1; do
		run -0 test-workqueue first 4 "$stop"
		[[ "${lines[-2]}" == "finish SNAP_ECORRUPT job 3 is corrupt" ||
		   "${lines[-2]}" == "finish SNAP_EIO job 5 failed to write" ]]
	done
}

@test "submit waits while the cost in flight would pass the bound" {
	run -0 test-workqueue bound 4
	assert_output '0 most within'
}

@test "a range of items runs each item once" {
	run -0 test-workqueue items 4
	assert_output '0 each once'
	run -0 test-workqueue items 1
	assert_output '0 each once'
}
