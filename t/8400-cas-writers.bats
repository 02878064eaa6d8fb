#!/usr/bin/env bats
# 8: robustness — many compare-and-swap writers on one ref, and gc beside
# snapshot writers
#
# t/2200-ref-races.bats races two update-refs from one old value, and
# t/3200-gc-concurrency.bats one snapshot writer beside gc.  Here:
# SNAP_CAS_WRITERS writers x SNAP_CAS_ROUNDS increments each (make check
# 8 x 25, make stress 8 x 1000), and SNAP_GC_WRITERS snapshot writers on
# one ref beside a gc loop for SNAP_GC_SECONDS (make check 4 for 15 s).

load test_helper

teardown() {
	touch "$BATS_TEST_TMPDIR/stop"
	local p
	for p in ${pids:-}; do wait "$p" 2>/dev/null || :; done
}

# writer W ROUNDS TREE: ROUNDS increments of main: read it, make a
# snapshot whose parent is that value, swap; on a lost race read again.
# Records each winning id in won.W, and anything but a lost race in err.W.
writer() {
	local w=$1 rounds=$2 tree=$3 n=0 try=0 old new
	while [ "$n" -lt "$rounds" ]; do
		try=$((try + 1))
		old=$(snap-rev-parse main) || { echo "rev-parse failed" >> "err.$w"; return 1; }
		new=$(snap-mksnapshot --time "$((1700000000 + try))" --host "w$w" -m "w$w try $try" -p "$old" "$tree") ||
			{ echo "mksnapshot failed" >> "err.$w"; return 1; }
		if snap-update-ref -m "w$w $n" main "$new" "$old" 2> "last.$w"; then
			echo "$new" >> "won.$w"
			n=$((n + 1))
		elif ! grep -Eq "moved|is locked" "last.$w"; then
			cat "last.$w" >> "err.$w"
			return 1
		fi
	done
}

@test "compare-and-swap writers on one ref lose no update" {
	local writers=${SNAP_CAS_WRITERS:-8} rounds=${SNAP_CAS_ROUNDS:-25} w
	init_store
	mkdir src
	printf 1 > src/f
	tree=$(snap-write-tree src)
	root=$(snap-mksnapshot --time 1 --host root "$tree")
	snap-update-ref main "$root"
	pids=
	for ((w = 1; w <= writers; w++)); do
		: > "err.$w"
		: > "won.$w"
		writer "$w" "$rounds" "$tree" &
		pids="$pids $!"
	done
	# A writer that failed says why in its err file: shown with the failure.
	for p in $pids; do wait "$p" || { head -n 5 err.* >&2; false; }; done
	pids=
	run cat err.*
	assert_output ''
	total=$((writers * rounds))
	assert_equal "$(cat won.* | wc -l)" "$total"
	assert_equal "$(cat won.* | sort -u | wc -l)" "$total"
	# The chain from main has every winner, once: total + the root.
	assert_equal "$(snap-rev-parse "main~$total")" "$root"
	run -128 snap-rev-parse "main~$((total + 1))"
	# The reflog accounts for every winner, each line's old the line
	# before's new.
	log=$SNAP_DIR/logs/refs/snapshots/main
	assert_equal "$(wc -l < "$log")" "$((total + 1))"
	run -0 awk 'NR > 1 && $1 != prev { print "line " NR ": " $1 " after " prev } { prev = $2 }' "$log"
	assert_output ''
	assert_equal "$(awk 'NR > 1 {print $2}' "$log" | sort)" "$(cat won.* | sort)"
	assert_equal "$(tail -1 "$log" | cut -d' ' -f2)" "$(snap-rev-parse main)"
	run -0 snap-fsck --no-dangling
	assert_output ''
	echo "cas-writers: $writers writers x $rounds increments, $total updates, a chain of $total above the root, $total reflog lines" >&3
}

@test "gc --prune=now in a loop beside snapshot writers: every reported snapshot restores" {
	local writers=${SNAP_GC_WRITERS:-4} seconds=${SNAP_GC_SECONDS:-15} w
	init_store
	for i in $(seq 1 10); do printf "garbage $i" | snap-hash-object -w --stdin >/dev/null; done
	age_objects
	pids=
	( while [ ! -e stop ]; do snap-gc --prune=now >>gc.out 2>>gc.err || echo "gc failed" >>gc.err; done ) &
	pids="$pids $!"
	end=$(($(date +%s) + seconds))
	for ((w = 1; w <= writers; w++)); do
		(
			mkdir -p "w$w/src" "w$w/states"
			i=0
			while [ "$(date +%s)" -lt "$end" ]; do
				i=$((i + 1))
				make_file $((i * 731 + w)) "w$w/src/f$((i % 7))"
				printf '%s %s\n' "$w" "$i" > "w$w/src/n"
				if id=$(snap-snapshot -m "w$w $i" "w$w/src" 2>> "w$w/err"); then
					cp -a "w$w/src" "w$w/states/$id"
				else
					echo "snapshot $i failed" >> "w$w/err"
				fi
			done
		) &
		pids="$pids $!"
	done
	set -- $pids
	shift
	for p in "$@"; do wait "$p"; done
	touch stop
	wait "$1" 2>/dev/null || :
	pids=
	cat w*/err > writers.err
	run cat writers.err
	assert_output ''
	if [ -s gc.err ]; then
		run grep -v "another gc holds" gc.err
		assert_output ''
	fi
	[ "$(grep -c '^removed' gc.out)" -ge 2 ]
	n=0
	for d in w*/states/*; do
		id=${d##*/}
		snap-restore "$id" "out.$id"
		diff -r --no-dereference "$d" "out.$id"
		rm -rf "out.$id"
		n=$((n + 1))
	done
	[ "$n" -ge "$writers" ]
	run -0 snap-fsck --no-dangling
	assert_output ''
	echo "gc-beside-writers: $writers writers for $seconds s, $n snapshots restored, $(grep -c '^removed' gc.out) gc runs" >&3
}
