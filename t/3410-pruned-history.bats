#!/usr/bin/env bats
# 3: the pruned record — walks, REV~N, fsck and gc across pruned snapshots

load test_helper

local_setup() {
	init_store
}

# s1..s6 on main, a day apart, each with a file of its own; the states in
# state1..state6; ids in $s1..$s6.
six() {
	mkdir -p src
	for i in 1 2 3 4 5 6; do
		make_file $((1000 + i)) "src/only$i"
		SNAP_TIME=$((1000000 + i * 86400)) snap-snapshot -m "s$i" src >/dev/null
		cp -a src "state$i"
		rm "src/only$i"
		eval "s$i=\$(snap-rev-parse main)"
	done
}

# Prunes s4, s2 and s1: keeps s6, s5 (last) and s3 (tagged).
prune_around_s3() {
	snap-update-ref refs/tags/t3 "$s3"
	snap-prune --keep-last 2 > prune.out
	age_objects
	snap-gc --prune=now > /dev/null
}

# The record's bytes for entries on stdin ("<id> [parent]" lines, sorted).
record() {
	local body
	body=$(printf 'snap-pruned 1\n'; cat)
	printf '%s\nend %d %s\n' "$body" "$(($(wc -l <<< "$body") - 1))" \
		"$(printf '%s\n' "$body" | b3sum --no-names)"
}

@test "log and rev-list pass over pruned snapshots and show where history was cut" {
	six
	prune_around_s3
	run -0 snap-rev-list main
	assert_output "$s6
$s5
$s3"
	run -0 snap-log --format='%s %P'
	assert_output "s6 $s5
s5 $s4
s3 $s2"
	run -0 snap-log
	assert_output "snapshot $s6
Date:   1970-01-18 13:46:40 +0000
Host:   $(hostname)

    s6

snapshot $s5
Date:   1970-01-17 13:46:40 +0000
Host:   $(hostname)
Pruned: $s4

    s5

snapshot $s3
Date:   1970-01-15 13:46:40 +0000
Host:   $(hostname)
Pruned: $s2

    s3"
	run -0 sh -c 'snap-log --json | python3 -c "import json,sys; [print(r[\"message\"], r.get(\"pruned\", \"-\")) for r in map(json.loads, sys.stdin)]"'
	assert_output "s6 -
s5 $s4
s3 $s2"
}

@test "the history is the same before gc removes the pruned objects" {
	six
	snap-prune --keep-last 2 --keep-tag none > /dev/null
	run -0 snap-cat-file -e "$s4"
	run -0 snap-log --format=%s
	assert_output "s6
s5"
}

@test "main~N past a pruned snapshot is an error naming it; main@{time} passes over it" {
	six
	prune_around_s3
	refused "snap-rev-parse: fatal: 'main~2': snapshot '$s4' was pruned (parent 1 of '$s5')" \
		snap-rev-parse main~2
	refused "snap-rev-parse: fatal: 'main^^': snapshot '$s4' was pruned (parent 1 of '$s5')" \
		snap-rev-parse 'main^^'
	refused "snap-restore: fatal: 'main~3': snapshot '$s4' was pruned (parent 1 of '$s5')" \
		snap-restore main~3 out
	run -1 --separate-stderr snap-rev-parse --verify -q main~2
	assert_equal "$stderr" ''
	assert_output ''
	run -0 snap-rev-parse main~1
	assert_output "$s5"
	# s4's day: the newest kept snapshot at or before it is s3.
	run -0 snap-rev-parse "main@{$((1000000 + 4 * 86400))}"
	assert_output "$s3"
	run -128 --separate-stderr snap-rev-parse "main@{$((1000000 + 2 * 86400))}"
	assert_equal "$stderr" "snap-rev-parse: fatal: 'main@{$((1000000 + 2 * 86400))}': no snapshot at or before that time"
}

@test "fsck after prune and gc is clean, exit 0" {
	six
	prune_around_s3
	run -0 snap-fsck
	assert_output ''
}

@test "fsck still reports a missing parent the record does not list" {
	six
	prune_around_s3
	t=$(snap-rev-parse main:)
	x=$(snap-mksnapshot --time 5 -m x "$t")
	y=$(snap-mksnapshot --time 6 -m y -p "$x" "$t")
	snap-update-ref refs/snapshots/other "$y"
	rm "$(object_path "$x")"
	run -2 snap-fsck --no-dangling
	assert_output "error missing-object $x snapshot, referenced by $y"
}

@test "a tag keeps the snapshot it names, not its pruned ancestors" {
	six
	prune_around_s3
	run -0 grep -c '^keep .* ref$' prune.out
	assert_output 1
	rm -rf out
	snap-restore t3 out
	diff -r state3 out
	for i in 1 2 4; do
		run -1 snap-cat-file -e "$(eval echo "\$s$i")"
		run -1 snap-cat-file -e "$(b3_blob_id "state$i/only$i")"
	done
	for i in 3 5 6; do
		run -0 snap-cat-file -e "$(b3_blob_id "state$i/only$i")"
	done
	assert_equal "$(snap-rev-parse main)" "$s6"
	assert_equal "$(snap-rev-parse main~1)" "$s5"
	rm -rf out && snap-restore main~1 out && diff -r state5 out
	rm -rf out && snap-restore main out && diff -r state6 out
	# From the tag, its history is cut too.
	run -0 snap-log --format=%s t3
	assert_output s3
}

@test "a tag made on a snapshot already pruned keeps that snapshot alone" {
	six
	snap-prune --keep-last 1 --keep-tag none > /dev/null
	snap-update-ref refs/tags/late "$s3"
	age_objects
	snap-gc --prune=now > /dev/null
	rm -rf out
	snap-restore late out
	diff -r state3 out
	run -1 snap-cat-file -e "$s2"
	run -1 snap-cat-file -e "$(b3_blob_id state2/only2)"
	run -0 snap-log --format=%s
	assert_output s6
	run -0 snap-fsck
	assert_output ''
}

@test "prune killed at any of its calls leaves a sound store: record old or new, every ref restores" {
	six
	snap-update-ref refs/tags/t3 "$s3"
	cp -a "$SNAP_DIR" base
	SNAP_FAULT_LOG=$PWD/calls snap-prune --keep-last 2 > /dev/null
	n=$(wc -l < calls)
	[ "$n" -ge 4 ]
	for k in $(seq 1 "$n"); do
		rm -rf "$SNAP_DIR" && cp -a base "$SNAP_DIR"
		SNAP_FAULT_LOG=$PWD/log.$k SNAP_FAULT="seq:$k:kill" run -137 snap-prune --keep-last 2
		run -0 snap-fsck --no-dangling
		assert_output ''
		if [ -e "$SNAP_DIR/pruned" ]; then want="s6 s5 s3"; else want="s6 s5 s4 s3 s2 s1"; fi
		assert_equal "$(snap-log --format=%s | tr '\n' ' ')" "$want "
		rm -rf out && snap-restore main out && diff -r state6 out
		rm -rf out && snap-restore t3 out && diff -r state3 out
		# The next prune finishes the work: no lock is left behind.
		run -0 snap-prune --keep-last 2
		age_objects
		run -0 snap-gc --prune=now
		run -0 snap-fsck
		assert_output ''
		assert_equal "$(snap-rev-list main)" "$s6
$s5
$s3"
	done
}

@test "a damaged pruned record: one clear error, nothing deleted, fsck reports it" {
	six
	prune_around_s3
	good=$(cat "$SNAP_DIR/pruned")
	f=$SNAP_DIR/pruned
	chmod u+w "$f"
	head -c 30 <<< "$good" > "$f"
	refused "snap-gc: fatal: pruned record '$f' is damaged: cut short (no 'end' line), line 2; nothing was deleted (see snap-fsck)" \
		snap-gc --prune=now
	refused "snap-log: fatal: pruned record '$f' is damaged: cut short (no 'end' line), line 2" \
		snap-log
	refused "snap-prune: fatal: pruned record '$f' is damaged: cut short (no 'end' line), line 2" \
		snap-prune --keep-last 1
	refused "snap-rev-parse: fatal: pruned record '$f' is damaged: cut short (no 'end' line), line 2" \
		snap-rev-parse main~1
	for cmd in "snap-find only1" "snap-stats main" "snap-count-objects" "snap-rev-list main"; do
		refused "${cmd%% *}: fatal: pruned record '$f' is damaged: cut short (no 'end' line), line 2" $cmd
	done
	# What does not walk a history does not need the record.
	rm -rf out && snap-restore main out && diff -r state6 out
	rm -rf out && snap-restore t3 out && diff -r state3 out
	# fsck says so first, and then cannot tell the cuts from losses.
	run -6 snap-fsck --no-dangling
	assert_line --index 0 "error bad-pruned-record pruned pruned record '$f' is damaged: cut short (no 'end' line), line 2"
	assert_line "error missing-object $s4 snapshot, referenced by $s5"
	# A changed digit in the last entry (the largest id, so still in order).
	last=$(sed -n 4p <<< "$good")
	flipped=${last%?}$(printf '%s' "${last: -1}" | tr '0-9a-f' '1-9a-f0')
	sed "4s/.*/$flipped/" <<< "$good" > "$f"
	refused "snap-gc: fatal: pruned record '$f' is damaged: checksum mismatch, line 5; nothing was deleted (see snap-fsck)" \
		snap-gc --prune=now
	# Put back, all is as before.
	printf '%s\n' "$good" > "$f"
	run -0 snap-fsck
	assert_output ''
}

@test "a pruned record out of order, with a wrong count or trailing bytes is damaged" {
	six
	f=$SNAP_DIR/pruned
	printf '%s\n%s\n' "$s2" "$s1" | sort -r | record > "$f"
	refused "snap-log: fatal: pruned record '$f' is damaged: ids not in ascending order, line 3" snap-log
	{ printf '%s\n' "$s1" | record; echo x; } > "$f"
	refused "snap-log: fatal: pruned record '$f' is damaged: bytes after the 'end' line, line 4" snap-log
	printf '%s %s\n' "$s2" "$s1" | record | sed 's/^end 1 /end 2 /' > "$f"
	refused "snap-log: fatal: pruned record '$f' is damaged: the count on the 'end' line does not match, line 3" snap-log
	printf '%s %s\n' "$s2" "${s1:0:60}" | record > "$f"
	refused "snap-log: fatal: pruned record '$f' is damaged: bad parent, line 2" snap-log
	# A well-formed record written by hand is read: s2 and s1 pruned.
	printf '%s\n%s %s\n' "$s1" "$s2" "$s1" | sort | record > "$f"
	run -0 snap-log --format=%s
	assert_output "s6
s5
s4
s3"
}

@test "a store without a pruned record (written before it existed) reads, prunes and collects" {
	tar -xf "$FIXTURES/store-v1.tar"
	export SNAP_DIR=$PWD/store
	assert_file_not_exist "$SNAP_DIR/pruned"
	run -0 snap-log --format=%s
	run -0 snap-fsck
	assert_output ''
	mkdir -p v2 && echo two > v2/f
	snap-snapshot -m v2 v2 > /dev/null
	tip=$(snap-rev-parse main)
	run -0 snap-prune --keep-last 1
	assert_file_exist "$SNAP_DIR/pruned"
	age_objects
	run -0 snap-gc --prune=now
	assert_equal "$(snap-rev-parse main)" "$tip"
	run -0 snap-fsck
	assert_output ''
}

@test "find and stats pass over pruned snapshots, before and after gc" {
	six
	snap-update-ref refs/tags/t3 "$s3"
	snap-prune --keep-last 2 > /dev/null
	for when in before after; do
		run -0 snap-find 'only*'
		assert_equal "$(awk '{print $NF}' <<< "$output" | tr '\n' ' ')" "only6 only5 only3 "
		run -0 sh -c "snap-stats --json main~1 | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"parent\"])'"
		assert_output "$s3"
		age_objects
		snap-gc --prune=now > /dev/null
	done
}

@test "a pruned record that loops ends the history, it does not hang a walk" {
	six
	printf '%s %s\n%s %s\n' "$s4" "$s3" "$s3" "$s4" | sort | record > "$SNAP_DIR/pruned"
	run -0 snap-log --format=%s
	assert_output "s6
s5"
	run -0 snap-fsck --no-dangling
	assert_output ''
	run -0 snap-gc --prune=now
}

@test "the record's API: parse and encode agree byte for byte; add merges, first entry wins" {
	a=$(printf a | b3sum --no-names)
	b=$(printf b | b3sum --no-names)
	c=$(printf c | b3sum --no-names)
	printf '%s\n%s %s\n' "$a" "$b" "$a" | sort | record > r
	run -0 test-pruned parse < r
	assert_output "$(printf '%s\n%s %s\n' "$a" "$b" "$a" | sort)"
	run -0 test-pruned add "$SNAP_DIR" < <(printf '%s %s\n%s\n' "$b" "$c" "$a")
	assert_output 2
	run -0 test-pruned add "$SNAP_DIR" < <(printf '%s\n%s %s\n' "$c" "$b" "$a")
	assert_output 1
	run -0 test-pruned parse < "$SNAP_DIR/pruned"
	assert_output "$(printf '%s\n%s %s\n%s\n' "$a" "$b" "$c" "$c" | sort)"
	# b goes on to c, which has no parent recorded: the history ends.
	run -0 test-pruned first "$SNAP_DIR" "$b"
	assert_output end
	d=$(printf d | b3sum --no-names)
	run -0 test-pruned first "$SNAP_DIR" "$d"
	assert_output "$d"
	printf '%s %s
' "$d" "$b" | test-pruned add "$SNAP_DIR" > /dev/null
	printf '%s %s
' "$(printf e | b3sum --no-names)" "$d" | test-pruned add "$SNAP_DIR" > /dev/null
	run -0 test-pruned first "$SNAP_DIR" "$(printf e | b3sum --no-names)"
	assert_output end
	# Through listed ones to the first that is not.
	h=$(printf h | b3sum --no-names)
	printf '%s %s\n' "$(printf g | b3sum --no-names)" "$h" | test-pruned add "$SNAP_DIR" > /dev/null
	printf '%s %s\n' "$(printf f | b3sum --no-names)" "$(printf g | b3sum --no-names)" | test-pruned add "$SNAP_DIR" > /dev/null
	run -0 test-pruned first "$SNAP_DIR" "$(printf f | b3sum --no-names)"
	assert_output "$h"
	run -1 --separate-stderr test-pruned parse < <(head -c -2 r)
	assert_equal "$stderr" "test-pruned: cut short (no 'end' line), line 4"
}

@test "adds racing from many processes lose none" {
	for w in 1 2 3 4; do
		(for i in $(seq 1 15); do
			printf '%s\n' "$(printf '%s-%s' "$w" "$i" | b3sum --no-names)" | test-pruned add "$SNAP_DIR" > /dev/null || exit 1
		done) &
	done
	wait
	run -0 sh -c "test-pruned parse < '$SNAP_DIR/pruned' | wc -l"
	assert_output 60
}

@test "REV@{~TIME} passes over pruned snapshots to the nearest kept one" {
	six
	prune_around_s3
	# s4 (pruned) was at 1000000 + 4 days; nearest kept: s5 or s3.
	run -0 snap-rev-parse "main@{~$((1000000 + 4 * 86400 - 3600))}"
	assert_output "$s3"
	run -0 snap-rev-parse "main@{~$((1000000 + 4 * 86400 + 3600))}"
	assert_output "$s5"
	# Older than every kept snapshot: the oldest kept one.
	run -0 snap-rev-parse "main@{~5}"
	assert_output "$s3"
}

@test "prune --drop REV drops exactly the snapshots named; the others keep their ids" {
	six
	run -0 snap-prune --drop main~2 --drop "$s2"
	assert_line --partial "drop $s4 "
	assert_line --partial "drop $s2 "
	assert_line --partial "keep $s6 "
	run -0 snap-rev-list main
	assert_output "$s6
$s5
$s3
$s1"
	age_objects
	snap-gc --prune=now > /dev/null
	run -0 snap-fsck --no-dangling
	assert_output ''
	run -0 snap-restore "$s3" out
	run -0 diff -r state3 out
	# The tip, one not on the history, one another ref names: refused, nothing changes.
	local before
	before=$(store_listing)
	refused "snap-prune: fatal: 'refs/snapshots/main' names $s6: the tip of a ref is not dropped" snap-prune --drop main
	snap-update-ref refs/tags/t5 "$s5"
	before=$(store_listing)
	refused "snap-prune: fatal: --drop '$s5': $s5 is named by another ref, 'refs/tags/t5': it is not dropped" snap-prune --drop "$s5"
	run -129 --separate-stderr snap-prune --drop "$s3" --keep-last 1
	assert_equal "${stderr%%$'\n'*}" "snap-prune: error: --drop goes with neither a policy nor --all"
}

@test "prune --drop refusals name the REV, its snapshot and the ref; one REV per --drop" {
	six
	snap-update-ref refs/tags/t5 "$s5"
	snap-update-ref refs/snapshots/side "$s3"
	mkdir other
	echo other > other/f
	snap-snapshot -r other other >/dev/null
	local o
	o=$(snap-rev-parse other)
	refused "snap-prune: fatal: --drop 'main~1': $s5 is named by another ref, 'refs/tags/t5': it is not dropped" \
		snap-prune --drop main~2 --drop main~1
	refused "snap-prune: fatal: --drop 'main~4': $s2 is in the history of another ref, 'refs/snapshots/side': it is not dropped" \
		snap-prune --drop main~4
	refused "snap-prune: fatal: --drop 'other': $o is not on the first-parent history of 'refs/snapshots/main'" \
		snap-prune --drop main~2 --drop other
	local before
	before=$(store_listing)
	run -129 --separate-stderr snap-prune --drop main~2 main~3
	assert_equal "${stderr_lines[0]}" "snap-prune: error: unexpected argument 'main~3' (each REV takes its own --drop)"
	assert_equal "$output" ''
	run -129 --separate-stderr snap-prune --keep-last 1 main
	assert_equal "${stderr_lines[0]}" "snap-prune: error: unexpected argument 'main'"
	assert_equal "$(store_listing)" "$before"
}
