#!/usr/bin/env bats
# 7: snap-log and the snap-rev-list plumbing under it

load test_helper

local_setup() {
	init_store
	mkdir src
	local i
	for i in 1 2 3; do
		echo "$i" > src/f
		SNAP_TIME="$((1700000000 + i * 3600)) +0530" snap-snapshot -m "subject $i" --meta "n=$i" src >/dev/null
	done
}

@test "rev-list prints ids newest first along first parents" {
	run -0 snap-rev-list
	assert_equal "${#lines[@]}" 3
	assert_equal "${lines[0]}" "$(snap-rev-parse main)"
	assert_equal "${lines[1]}" "$(snap-rev-parse main~1)"
	assert_equal "${lines[2]}" "$(snap-rev-parse main~2)"
}

@test "log -n N, -nN and --max-count N agree" {
	run -0 snap-log -n 2 --format=%s
	assert_output "$(printf 'subject 3\nsubject 2')"
	run -0 snap-log -n2 --format=%s
	assert_output "$(printf 'subject 3\nsubject 2')"
	run -0 snap-log --max-count 1 --format=%s
	assert_output 'subject 3'
}

@test "log --json: one object a line with every field" {
	run -0 snap-log --json
	assert_equal "${#lines[@]}" 3
	run -0 python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin]
r = rows[0]
print(r["type"], r["time"], r["zone"], r["meta"], r["message"], len(r["parents"]), len(rows[2]["parents"]))
' < <(snap-log --json)
	assert_output "tree 1700010800 +0530 ['n=3'] subject 3 1 0"
	run -0 sh -c "snap-log --json | head -n1 | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r[\"id\"], r[\"tree\"])'"
	assert_output "$(snap-rev-parse main) $(snap-rev-parse main:)"
}

@test "log --json keeps a message that is not UTF-8 byte for byte" {
	snap-snapshot -m "$(printf 'caf\351 \001 "q" \\ end')" src >/dev/null
	run -0 sh -c "snap-log --json -n1 | python3 -c '
import json, sys
m = json.load(sys.stdin)[\"message\"].encode(\"utf-8\", \"surrogateescape\")
sys.stdout.buffer.write(m)' | od -An -c"
	assert_output "$(printf 'caf\351 \001 "q" \\ end' | od -An -c)"
}

@test "log of an empty store says so, exit 1" {
	init_store "$BATS_TEST_TMPDIR/empty"
	run -1 --separate-stderr snap-log
	assert_equal "$stderr" 'snap-log: no snapshots'
	assert_output ''
}

@test "log of an unknown rev is fatal" {
	run -128 --separate-stderr snap-log nosuch
	assert_equal "$stderr" "snap-log: fatal: unknown revision 'nosuch'"
}

@test "log of a tree is refused" {
	run -128 --separate-stderr snap-log "$(snap-rev-parse main:)"
	assert_output ''
	assert_equal "$stderr" "snap-log: fatal: object '$(snap-rev-parse main:)' is not a snapshot"
}

@test "log --json with --format is a usage error" {
	run -129 --separate-stderr snap-log --json --oneline
	assert_equal "${stderr_lines[0]}" 'snap-log: error: --json and --format/--oneline cannot be combined'
}

@test "log --store=DIR and --store DIR" {
	local s=$SNAP_DIR
	unset SNAP_DIR
	run -0 snap-log --store="$s" --format=%s -n1
	assert_output 'subject 3'
	run -0 snap-log --store "$s" --format=%s -n1
	assert_output 'subject 3'
}

@test "rev-list --pretty is the log's layout" {
	run -0 snap-rev-list --pretty -n 1
	assert_output "$(printf 'snapshot %s\nDate:   2023-11-15 06:43:20 +0530\nHost:   %s\nMeta:   n=3\n\n    subject 3' "$(snap-rev-parse main)" "$(snap-cat-file -p "$(snap-rev-parse main)" | sed -n 's/^host //p')")"
}

@test "diff names itself in the plumbing's errors" {
	run -128 --separate-stderr snap-diff main nosuch
	assert_equal "$stderr" "snap-diff: fatal: unknown revision 'nosuch'"
}

@test "SNAP_PROGRAM is used only when it is a snap command's name" {
	SNAP_PROGRAM='snap-x; rm' run -128 --separate-stderr snap-rev-parse nosuch
	assert_equal "$stderr" "snap-rev-parse: fatal: unknown revision 'nosuch'"
	SNAP_PROGRAM=snap-backup run -128 --separate-stderr snap-rev-parse nosuch
	assert_equal "$stderr" "snap-backup: fatal: unknown revision 'nosuch'"
}

@test "log of a store whose ref is damaged is fatal, not 'no snapshots'" {
	chmod u+w "$SNAP_DIR/refs/snapshots/main"
	echo garbage > "$SNAP_DIR/refs/snapshots/main"
	run -128 --separate-stderr snap-log
	assert_equal "${#stderr_lines[@]}" 1
	[[ "$stderr" == "snap-log: fatal: "* ]]
	run -128 --separate-stderr snap --store "$BATS_TEST_TMPDIR/nonexistent" log
	assert_equal "$stderr" "snap-log: fatal: store '$BATS_TEST_TMPDIR/nonexistent' does not exist"
}
