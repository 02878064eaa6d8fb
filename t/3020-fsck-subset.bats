#!/usr/bin/env bats
# 3: fsck — --read-data-subset reads a part of the blobs' content, so
# that a week of nightly runs reads every blob once.

load test_helper

local_setup() {
	init_store
	mkdir src
	for i in $(seq 1 60); do echo "file $i" > "src/f$i"; done
	snap-snapshot src > /dev/null
	# Big enough that a byte flipped in its middle spares the header:
	# only a read of the content finds it.
	make_file 400000 lone
	BAD=$(snap-hash-object -w lone)
	corrupt_flip_byte "$BAD"
}

@test "--read-data-subset=K/N: of N runs exactly one reads a given blob" {
	hits=0
	for k in 1 2 3 4 5 6 7; do
		run --separate-stderr snap-fsck --no-dangling --read-data-subset="$k/7"
		case $status in
		0) assert_output '' ;;
		1) hits=$((hits + 1)); assert_output --partial "$BAD" ;;
		*) fail "status $status" ;;
		esac
	done
	assert_equal "$hits" 1
}

@test "--read-data-subset=1/1 and 100% read every blob" {
	run -1 snap-fsck --no-dangling --read-data-subset=1/1
	assert_output --partial "$BAD"
	run -1 snap-fsck --no-dangling --read-data-subset=100%
	assert_output --partial "$BAD"
}

@test "a small percentage reads about that share of the blobs" {
	run -0 snap-fsck --no-dangling --read-data-subset=0.0001%
	# Almost surely misses the one bad blob of 62.
	assert_output ''
}

@test "bad --read-data-subset values are usage errors" {
	for bad in 0/7 8/7 7 /7 7/ 1/1000001 0% 101% abc% 5.12345% % -1/3; do
		run -129 --separate-stderr snap-fsck --read-data-subset="$bad"
		assert_equal "${stderr%%$'\n'*}" "snap-fsck: error: bad --read-data-subset '$bad' $( [[ $bad == */* ]] && echo '(K/N with 1 <= K <= N <= 1000000)' || echo '(K/N, or P% with 0 < P <= 100)')"
	done
	run -129 --separate-stderr snap-fsck --connectivity-only --read-data-subset=1/2
	assert_equal "${stderr%%$'\n'*}" "snap-fsck: error: --read-data-subset and --connectivity-only do not go together"
	run -129 --separate-stderr snap-fsck --read-data-subset=1/2 "$BAD"
	assert_equal "${stderr%%$'\n'*}" "snap-fsck: error: --read-data-subset is for the whole store, not with OBJECTs"
}
