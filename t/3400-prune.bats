#!/usr/bin/env bats
# 3: retention — snap-prune: kept snapshots keep their ids

load test_helper

local_setup() {
	init_store
}

# Snapshots s1..sN of src on main, a day apart, each with a file of its own.
daily() {
	mkdir -p src
	for i in $(seq 1 "$1"); do
		make_file $((1000 + i)) "src/only$i"
		SNAP_TIME=$((1000000 + i * 86400)) snap-snapshot -m "s$i" src >/dev/null
		cp -a src "state$i"
		rm "src/only$i"
	done
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
	assert_line "refs/snapshots/main: $p (kept 20 of 730)"
	kept=$(awk '$1 == "keep" {print $2}' <<< "$output")
	assert_equal "$(snap-rev-parse main)" "$p"
	# The history is the kept snapshots, under the ids they had.
	assert_equal "$(snap-rev-list main)" "$kept"
	run -0 sh -c 'snap-log --format=%t | wc -l'
	assert_output 20
}

@test "--keep-daily 7 --keep-weekly 4: every kept snapshot keeps its id and restores" {
	daily 40
	before=$(snap-rev-list main)
	run -0 snap-prune --keep-daily 7 --keep-weekly 4
	kept=$(awk '$1 == "keep" {print $2}' <<< "$output")
	assert_equal "$(wc -l <<< "$kept")" 9
	# Every id the policy keeps is one the history had, in the same order.
	assert_equal "$(grep -Fx -f <(echo "$kept") <<< "$before")" "$kept"
	age_objects
	run -0 snap-gc --prune=now
	assert_equal "$(snap-rev-list main)" "$kept"
	for id in $kept; do
		n=$(snap-rev-list --format=%s -n 1 "$id")
		rm -rf out
		snap-restore "$id" out
		diff -r "state${n#s}" out
	done
}

@test "kept snapshots restore byte-identical and gc frees what only the dropped held" {
	daily 5
	tip=$(snap-rev-parse main)
	prev=$(snap-rev-parse main~1)
	snap-restore main before5
	run -0 snap-prune --keep-last 2 --gc
	# Not yet: the dropped objects are younger than gc's slack.
	age_objects
	run -0 snap-gc --prune=now
	assert_equal "$(snap-rev-parse main)" "$tip"
	assert_equal "$(snap-rev-parse main~1)" "$prev"
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
	assert_output ''
}

@test "the reflog is kept; the pruned snapshots it names do not keep their data" {
	daily 3
	snap-prune --keep-last 1 >/dev/null
	run -0 wc -l < "$SNAP_DIR/logs/refs/snapshots/main"
	assert_output 3
	age_objects
	snap-gc --prune=now >/dev/null
	run -1 snap-cat-file -e "$(b3_blob_id state1/only1)"
	run -1 snap-cat-file -e "$(b3_blob_id state2/only2)"
	run -0 snap-fsck --no-dangling
	assert_output ''
}

@test "--dry-run lists what would be pruned and changes nothing" {
	daily 3
	before=$(store_listing)
	run -0 snap-prune --keep-last 1 --dry-run
	assert_equal "$(grep -c '^drop' <<< "$output")" 2
	assert_equal "$(grep -c '^keep' <<< "$output")" 1
	refute_line --partial 'refs/snapshots/main:'
	assert_equal "$(store_listing)" "$before"
	assert_file_not_exist "$SNAP_DIR/pruned"
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
	for i in 1 2 3; do SNAP_TIME=$i snap-snapshot -m a -r a src >/dev/null; SNAP_TIME=$i snap-snapshot -m b -r b src >/dev/null; done
	run -0 snap-prune --all --keep-last 1
	assert_line --regexp '^refs/snapshots/a: [0-9a-f]{64} \(kept 1 of 3\)$'
	assert_line --regexp '^refs/snapshots/b: [0-9a-f]{64} \(kept 1 of 3\)$'
}

@test "prune without a policy is a usage error; the tip is kept whatever the policy" {
	run -129 snap-prune
	daily 3
	tip=$(snap-rev-parse main)
	run -0 snap-prune --keep-tag none
	assert_line --index 0 "keep $tip 1970-01-15 13:46:40 +0000 tip"
	assert_line "refs/snapshots/main: $tip (kept 1 of 3)"
	assert_equal "$(snap-rev-parse main)" "$tip"
}

@test "a second prune goes through what the first pruned, before and after gc" {
	daily 6
	ids=$(snap-rev-list main)
	snap-prune --keep-last 1 --keep-tag none --keep-within 2d >/dev/null
	assert_equal "$(snap-rev-list main)" "$(head -n 3 <<< "$ids")"
	run -0 snap-prune --keep-last 2
	assert_equal "$(grep -c '^drop' <<< "$output")" 1
	assert_equal "$(snap-rev-list main)" "$(head -n 2 <<< "$ids")"
	age_objects
	snap-gc --prune=now >/dev/null
	run -0 snap-prune --keep-last 2
	assert_equal "$(grep -c '^' <<< "$output")" 2
	run -0 snap-fsck --no-dangling
	assert_output ''
}

@test "pruning one branch leaves another's history whole" {
	daily 4
	snap-update-ref refs/snapshots/other "$(snap-rev-parse main~1)"
	other=$(snap-rev-list other)
	run -0 snap-prune --keep-last 1
	assert_equal "$(awk '{print $1, $NF}' <<< "$output" | head -n 4)" "keep last
keep ref
keep ref
keep ref"
	age_objects
	snap-gc --prune=now >/dev/null
	assert_equal "$(snap-rev-list other)" "$other"
	rm -rf out
	snap-restore other~2 out
	diff -r state1 out
}

@test "prune --json: one object a line per snapshot" {
	mkdir -p src
	local i
	for i in 1 2 3; do
		echo "$i" > src/f
		SNAP_TIME=$((1000000 + i * 86400)) snap-snapshot src > /dev/null
	done
	run -0 snap-prune --json --keep-last 1
	assert_line "{\"ref\":\"refs/snapshots/main\",\"action\":\"keep\",\"id\":\"$(snap-rev-parse main)\",\"time\":1259200,\"reasons\":[\"last\"]}"
	assert_line --regexp '^\{"ref":"refs/snapshots/main","action":"drop","id":"[0-9a-f]{64}","time":1172800,"reasons":\[\]\}$'
	[ "${#lines[@]}" -eq 3 ]
	local l
	for l in "${lines[@]}"; do python3 -m json.tool <<< "$l" > /dev/null; done
}
