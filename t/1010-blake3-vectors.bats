#!/usr/bin/env bats
# 1: object database — BLAKE3's published test vectors through lib/hash

load test_helper

@test "the hash API reproduces every published BLAKE3 vector" {
	run -0 test-blake3 "$FIXTURES/blake3-vectors.txt"
	assert_equal "$(grep -c '^ok ' <<< "$output")" 17
	refute_output --partial FAIL
}

@test "snap-hash-object agrees with b3sum on the vector inputs" {
	for n in 0 1 1023 1024 1025 2048 3073 7169; do
		python3 -c "import sys; sys.stdout.buffer.write(bytes(i % 251 for i in range($n)))" > "in$n"
		run -0 snap-hash-object "in$n"
		assert_output "$(b3_blob_id "in$n")"
	done
}
