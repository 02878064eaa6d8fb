#!/usr/bin/env bats
# 2: refs — racing compare-and-swap

load test_helper

@test "two racing compare-and-swaps from one old value: exactly one wins" {
	init_store
	mkdir src
	printf 1 > src/f
	T=$(snap-write-tree src)
	base=$(snap-mksnapshot --time 1 --host h "$T")
	snap-update-ref main "$base"
	for i in $(seq 1 50); do
		a=$(snap-mksnapshot --time "$((i * 2))" --host a -p "$base" "$T")
		b=$(snap-mksnapshot --time "$((i * 2 + 1))" --host b -p "$base" "$T")
		old=$(snap-rev-parse main)
		snap-update-ref main "$a" "$old" 2>err.a &
		pa=$!
		snap-update-ref main "$b" "$old" 2>err.b &
		pb=$!
		sa=0; sb=0
		wait "$pa" || sa=$?
		wait "$pb" || sb=$?
		if [ "$sa" -eq 0 ]; then
			[ "$sb" -eq 128 ] || { echo "round $i: both won"; false; }
			grep -Eq "moved|locked" err.b
			assert_equal "$(snap-rev-parse main)" "$a"
		else
			[ "$sa" -eq 128 ] && [ "$sb" -eq 0 ] || { echo "round $i: $sa $sb"; false; }
			grep -Eq "moved|locked" err.a
			assert_equal "$(snap-rev-parse main)" "$b"
		fi
		# The ref file is never torn: one id and a newline.
		[ "$(stat -c %s "$SNAP_DIR/refs/snapshots/main")" -eq 65 ]
		base=$(snap-rev-parse main)
	done
	assert_file_not_exist "$SNAP_DIR/refs/snapshots/main.lock"
}
