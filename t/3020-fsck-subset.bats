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

@test "a subset run that finds a corrupt chunk through its file records the chunk too" {
	make_file 3000000 src/big
	snap-snapshot src > /dev/null
	big=$(b3_blob_id src/big)
	rm -f "$SNAP_DIR/bad-objects"
	# Damage the pack in the middle of the big file's data.
	pack=$(ls -S "$SNAP_DIR"/objects/pack/*.pack | head -1)
	chmod u+w "$pack"
	printf '\377\377' | dd of="$pack" bs=1 seek=$(($(stat -c %s "$pack") / 2)) conv=notrunc 2>/dev/null
	for k in 1 2 3 4 5; do
		rm -f "$SNAP_DIR/bad-objects"
		snap-fsck --no-dangling --read-data-subset="$k/5" > out || :
		if grep -q "corrupt-chunk $big" out; then break; fi
	done
	run -0 grep -c . "$SNAP_DIR/bad-objects"
	[ "$output" -ge 2 ]
	snap-snapshot src > /dev/null
	snap-restore main out2
	cmp src/big out2/big
}
