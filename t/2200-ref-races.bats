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
			[ "$sb" -eq 1 ] || { echo "round $i: both won"; false; }
			grep -Eq "moved|locked" err.b
			assert_equal "$(snap-rev-parse main)" "$a"
		else
			[ "$sa" -eq 1 ] && [ "$sb" -eq 0 ] || { echo "round $i: $sa $sb"; false; }
			grep -Eq "moved|locked" err.a
			assert_equal "$(snap-rev-parse main)" "$b"
		fi
		# The ref file is never torn: one id and a newline.
		[ "$(stat -c %s "$SNAP_DIR/refs/snapshots/main")" -eq 65 ]
		base=$(snap-rev-parse main)
	done
	assert_file_not_exist "$SNAP_DIR/refs/snapshots/main.lock"
}

@test "racing --stdin transactions that share a ref: one wins whole, none leaves a lock" {
	init_store
	mkdir src
	printf 1 > src/f
	T=$(snap-write-tree src)
	base=$(snap-mksnapshot --time 1 --host h "$T")
	for r in a b c; do snap-update-ref "$r" "$base"; done
	for i in $(seq 1 20); do
		x=$(snap-mksnapshot --time "$((i * 2))" --host x -p "$base" "$T")
		y=$(snap-mksnapshot --time "$((i * 2 + 1))" --host y -p "$base" "$T")
		printf 'update refs/snapshots/a %s %s\nupdate refs/snapshots/b %s %s\n' "$x" "$base" "$x" "$base" > in.x
		printf 'update refs/snapshots/b %s %s\nupdate refs/snapshots/c %s %s\n' "$y" "$base" "$y" "$base" > in.y
		snap-update-ref --stdin < in.x 2>err.x &
		px=$!
		snap-update-ref --stdin < in.y 2>err.y &
		py=$!
		sx=0; sy=0
		wait "$px" || sx=$?
		wait "$py" || sy=$?
		[ "$sx" -eq 0 ] || [ "$sx" -eq 1 ] || { echo "round $i: x $sx"; false; }
		[ "$sy" -eq 0 ] || [ "$sy" -eq 1 ] || { echo "round $i: y $sy"; false; }
		[ "$sx" -ne 0 ] || [ "$sy" -ne 0 ] || { echo "round $i: both won"; false; }
		if [ "$sx" -eq 0 ]; then
			assert_equal "$(snap-rev-parse a b c)" "$x
$x
$base"
		elif [ "$sy" -eq 0 ]; then
			assert_equal "$(snap-rev-parse a b c)" "$base
$y
$y"
		else
			grep -q locked err.x && grep -q locked err.y
			assert_equal "$(snap-rev-parse a b c)" "$base
$base
$base"
		fi
		run -0 find "$SNAP_DIR/refs" -name '*.lock'
		assert_output ''
		base=$(snap-rev-parse b)
		for r in a b c; do snap-update-ref "$r" "$base"; done
	done
}
