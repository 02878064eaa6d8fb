#!/usr/bin/env bats
# 3: gc — never breaks a snapshot being written at the same moment

load test_helper

# However a test ends, its gc loop stops: a snapshot that fails halfway
# must not leave the loop running and the suite waiting for it forever.
teardown() {
	touch "$BATS_TEST_TMPDIR/stop"
	[ -z "${gc:-}" ] || wait "$gc" 2>/dev/null || :
}

@test "gc --prune=now in a loop while 20 snapshots of a changing tree are taken" {
	init_store
	mkdir -p src/dir states
	for i in $(seq 1 30); do make_file $((i * 997)) "src/dir/f$i"; done
	# Garbage for gc to chew on, old enough to go.
	for i in $(seq 1 20); do printf "garbage $i" | snap-hash-object -w --stdin >/dev/null; done
	age_objects

	( while [ ! -e stop ]; do snap-gc --prune=now >>gc.out 2>>gc.err || echo "gc failed" >> gc.err; done ) &
	gc=$!
	for i in $(seq 1 20); do
		# Change part of the tree: new files, rewritten files, a removal.
		make_file $((i * 1013)) "src/new$i"
		make_file 2000 "src/dir/f$((i % 30 + 1))"
		rm -f "src/new$((i - 3))"
		snap-snapshot -m "snap $i" src > "states/$i.id"
		cp -a src "states/$i"
	done
	touch stop
	wait "$gc"
	# gc really ran, many times, and removed the old garbage.
	[ "$(grep -c "^removed .* objects" gc.out)" -ge 5 ]
	run -1 snap-cat-file -e "$(printf "garbage 1" | snap-hash-object --stdin)"
	# Only lock contention may show in gc's errors, never damage.
	if [ -s gc.err ]; then
		run grep -v "another gc holds" gc.err
		assert_output ''
	fi
	for i in $(seq 1 20); do
		snap-restore "$(cat "states/$i.id")" "out$i"
		diff -r --no-dereference "states/$i" "out$i"
	done
	run -0 snap-fsck --no-dangling
	refute_output --partial error
}
