#!/usr/bin/env bats
# 3: retention — snap-prune

load test_helper

local_setup() {
	init_store
}

@test "two years of daily snapshots: --keep-daily 7 --keep-weekly 4 --keep-monthly 12 keeps the golden set" {
	mkdir src
	printf x > src/f
	t=$(snap-write-tree src)
	p=
	start=$(date -u -d '2024-01-01 12:00:00' +%s)
	for d in $(seq 0 729); do
		p=$(snap-mksnapshot --host h --time "$((start + d * 86400))" ${p:+-p "$p"} "$t")
	done
	snap-update-ref main "$p"
	run -0 snap-prune --keep-daily 7 --keep-weekly 4 --keep-monthly 12
	assert_equal "$(grep -c '^drop ' <<< "$output")" 710
	assert_equal "$(awk '$1 == "keep" {print $3, $6}' <<< "$output")" "$(grep -v '^#' "$FIXTURES/prune-golden.txt")"
	assert_line --regexp "^refs/snapshots/main: $p -> [0-9a-f]{64} \(kept 20 of 730\)$"
	run -0 sh -c 'snap-log --format=%t | wc -l'
	assert_output 20
}

@test "kept snapshots restore byte-identical and gc frees what only the dropped held" {
	mkdir src
	for i in 1 2 3 4 5; do
		make_file $((1000 + i)) "src/only$i"
		SNAP_TIME=$((1000000 + i * 3600)) snap-snapshot -m "s$i" src >/dev/null
		cp -a src "state$i"
		rm "src/only$i"
	done
	ids=$(snap-log --format='%H %s')
	snap-restore main before5
	run -0 snap-prune --keep-last 2 --gc
	# Not yet: the dropped objects are younger than gc's slack.
	age_objects
	run -0 snap-gc --prune=now
	run -0 snap-restore main after5
	run -0 diff -r before5 after5
	run -0 snap-restore main~1 after4
	run -0 diff -r state4 after4
	run -1 snap-rev-parse --verify -q main~2
	for i in 1 2 3; do
		run -1 snap-cat-file -e "$(b3_blob_id "state$i/only$i")"
	done
	run -0 snap-cat-file -e "$(b3_blob_id state4/only4)"
	run -0 snap-fsck --no-dangling
	refute_output --partial error
}

@test "the reflog after prune names only the new chain" {
	mkdir src
	printf 1 > src/f
	for i in 1 2 3; do SNAP_TIME=$i snap-snapshot src >/dev/null; done
	snap-prune --keep-last 1 >/dev/null
	run -0 wc -l < "$SNAP_DIR/logs/refs/snapshots/main"
	assert_output 1
	run -0 awk '{print $1, $2}' "$SNAP_DIR/logs/refs/snapshots/main"
	assert_output "0000000000000000000000000000000000000000000000000000000000000000 $(snap-rev-parse main)"
}

@test "--dry-run changes nothing" {
	mkdir src
	printf 1 > src/f
	for i in 1 2 3; do SNAP_TIME=$i snap-snapshot src >/dev/null; done
	before=$(store_listing)
	run -0 snap-prune --keep-last 1 --dry-run
	assert_equal "$(grep -c '^drop' <<< "$output")" 2
	assert_equal "$(store_listing)" "$before"
}

@test "--keep-within and --keep-tag" {
	mkdir src
	printf 1 > src/f
	SNAP_TIME=1000 snap-snapshot --meta tag=release src >/dev/null
	SNAP_TIME=2000 snap-snapshot src >/dev/null
	SNAP_TIME=90000 snap-snapshot src >/dev/null
	SNAP_TIME=100000 snap-snapshot src >/dev/null
	run -0 snap-prune --keep-within 1d --keep-tag release --dry-run
	assert_equal "$(awk '{print $1}' <<< "$output" | tr '\n' ' ')" "keep keep drop keep "
	assert_line --index 3 --regexp '^keep [0-9a-f]{64} 1970-01-01 00:16:40 \+0000 tag$'
}

@test "--all prunes every ref on its own" {
	mkdir src
	printf 1 > src/f
	for i in 1 2 3; do SNAP_TIME=$i snap-snapshot -r a src >/dev/null; SNAP_TIME=$i snap-snapshot -r b src >/dev/null; done
	run -0 snap-prune --all --keep-last 1
	assert_line --regexp '^refs/snapshots/a: .* \(kept 1 of 3\)$'
	assert_line --regexp '^refs/snapshots/b: .* \(kept 1 of 3\)$'
}

@test "prune without a policy is a usage error; a policy keeping nothing is refused" {
	run -129 snap-prune
	mkdir src
	printf 1 > src/f
	snap-snapshot --meta x=y src >/dev/null
	run -128 --separate-stderr snap-prune --keep-tag none
	assert_equal "$stderr" "snap-prune: fatal: the policy keeps no snapshot of 'refs/snapshots/main'; delete the ref instead"
}
