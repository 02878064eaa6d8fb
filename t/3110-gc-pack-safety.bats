#!/usr/bin/env bats
# 3: gc — never deletes a pack it has just written or kept, whatever the
# sequence of snapshots, deleted refs, gcs and killed gcs

load test_helper

@test "gc never deletes a pack it has just written, even one named as an old one" {
	init_store
	mkdir src t
	make_file 5000 src/a
	printf hi > src/b
	snap-snapshot src >/dev/null
	snap-snapshot src >/dev/null
	run -0 snap-gc --prune=now
	# Twice: the first round leaves one pack, and in the second the pack
	# gc writes is the very pack it replaces, byte for byte.
	for round in 1 2; do
		printf "round $round" > t/x
		snap-snapshot -r old t >/dev/null
		snap-update-ref -d refs/snapshots/old
		sleep 3
		run -0 --separate-stderr snap-gc --prune=now
		assert_equal "$stderr" ''
		[ -n "$(ls "$SNAP_DIR"/objects/pack/*.pack)" ]
		run -0 snap-fsck --no-dangling
		rm -rf out
		run -0 snap-restore main out
		run -0 diff -r src out
	done
}

@test "a plain gc a day after a ref was deleted keeps the pack it rewrote" {
	init_store
	mkdir src t
	make_file 5000 src/a
	snap-snapshot src >/dev/null
	printf b > src/b
	snap-snapshot src >/dev/null
	snap-gc --prune=now >/dev/null
	snap-gc --prune=now >/dev/null
	printf t > t/x
	snap-snapshot -r old t >/dev/null
	snap-update-ref -d refs/snapshots/old
	find "$SNAP_DIR/objects" -type f -exec touch -d '-2 days' {} +
	run -0 --separate-stderr snap-gc
	assert_equal "$stderr" ''
	assert_line --regexp '^removed 3 objects, '
	run -0 snap-fsck --no-dangling
	run -0 snap-restore main out
	run -0 diff -r src out
}

@test "gc after one killed before removing the old packs keeps every object" {
	init_store
	mkdir src
	make_file 5000 src/a
	snap-snapshot src >/dev/null
	printf b > src/b
	snap-snapshot src >/dev/null
	# What a gc killed after writing its new pack leaves: the old packs,
	# and beside them the new pack holding all they hold.
	cp -a "$SNAP_DIR" copy
	SNAP_DIR=$PWD/copy snap-gc --prune=now >/dev/null
	cp copy/objects/pack/pack-* "$SNAP_DIR/objects/pack/"
	assert_equal "$(ls "$SNAP_DIR"/objects/pack/*.pack | wc -l)" 3
	age_objects
	run -0 --separate-stderr snap-gc --prune=now
	assert_equal "$stderr" ''
	assert_equal "$(ls "$SNAP_DIR"/objects/pack/*.pack | wc -l)" 1
	run -0 snap-fsck --no-dangling
	run -0 snap-restore main out
	run -0 diff -r src out
}

# check_refs: every live ref restores byte-identical to the tree it saved.
check_refs() {
	local r
	for r in $(ls states); do
		rm -rf out
		snap-restore "$r" out || { echo "ref $r does not restore after step $1" >&2; return 1; }
		diff -r --no-dereference "states/$r" out ||
			{ echo "ref $r restores changed after step $1" >&2; return 1; }
	done
	rm -rf out
}

# Random sequences of snapshots, ref deletions and gcs, some of them
# killed (SIGKILL) at a random moment: after each gc every live ref
# restores as it was saved.  SNAP_GC_RANDOM_STEPS sets the length
# (default 30), SNAP_GC_RANDOM_SEED the sequence (default 5).
@test "random snapshots, deleted refs and gcs (some killed) never lose a live ref" {
	init_store
	local steps=${SNAP_GC_RANDOM_STEPS:-30} seed=${SNAP_GC_RANDOM_SEED:-5} i op r pid last=
	echo "seed $seed, $steps steps" >&3
	RANDOM=$seed
	mkdir -p src/d states
	for i in 1 2 3 4 5; do make_file $((i * 1500)) "src/d/f$i"; done
	for ((i = 1; i <= steps; i++)); do
		op=$((RANDOM % 8))
		# An old ref or a new one.
		r=r$((RANDOM % 3))
		[ $((RANDOM % 2)) = 0 ] || r=s$i
		case $op in
		0|1|2)
			# Some files change, one is new, one goes; equal content
			# in another ref shares its objects.
			make_file $((RANDOM % 4000 + 1)) "src/d/f$((RANDOM % 5 + 1))"
			printf "step $i" > "src/n$i"
			rm -f "src/n$((i - RANDOM % 4 - 1))"
			snap-snapshot -r "$r" src >/dev/null
			rm -rf "states/$r"
			cp -a src "states/$r"
			last=$r
			;;
		3|4)
			# Most often the ref just written: all it alone holds dies.
			[ -z "$last" ] || [ $((RANDOM % 2)) = 1 ] || r=$last
			if [ -d "states/$r" ]; then
				snap-update-ref -d "refs/snapshots/$r"
				rm -rf "states/$r"
			fi
			;;
		5)
			age_objects
			snap-gc --prune=now >/dev/null
			check_refs "$i"
			;;
		6)
			snap-gc >/dev/null
			check_refs "$i"
			;;
		7)
			age_objects
			snap-gc --prune=now >/dev/null 2>&1 &
			pid=$!
			sleep "0.0$((RANDOM % 10))$((RANDOM % 10))"
			kill -9 "$pid" 2>/dev/null || :
			wait "$pid" || :
			# A gc killed before it wrote its lock leaves it empty;
			# that lock is another test's business.
			[ -s "$SNAP_DIR/gc.lock" ] || rm -f "$SNAP_DIR/gc.lock"
			check_refs "$i"
			age_objects
			snap-gc --prune=now >/dev/null
			check_refs "$i"
			;;
		esac
	done
	snap-gc --prune=now >/dev/null
	check_refs end
	run -0 snap-fsck --no-dangling
}

@test "gc gives an hour-old pack without an index the index its frames give, and loses nothing" {
	init_store
	mkdir orphan-src
	make_file 300000 orphan-src/big
	printf 'small\n' > orphan-src/small
	snap-snapshot -r orphan orphan-src >/dev/null
	local idx
	idx=$(ls "$SNAP_DIR"/objects/pack/*.idx | head -n1)
	# What a writer killed between renaming its pack and its index leaves.
	rm -f "$SNAP_DIR"/objects/pack/multi-pack-index "$idx"
	age_objects
	touch -d '-2 hours' "${idx%.idx}.pack"
	run -0 snap-gc --prune=now
	run -0 snap-fsck --no-dangling
	run -0 snap-restore orphan out
	run -0 diff -r orphan-src out
}
