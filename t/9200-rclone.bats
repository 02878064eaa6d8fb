#!/usr/bin/env bats
# 9: off the machine — snap-push and snap-fetch to object storage through
# rclone (rclone:REMOTE:PATH), with rclone's local backend and a crypt
# remote over it, configured by environment variables only.

load test_helper

ZERO=0000000000000000000000000000000000000000000000000000000000000000

local_setup() {
	command -v rclone >/dev/null || skip "rclone is not installed (apt-get install rclone)"
	export RCLONE_CONFIG=/dev/null RCLONE_CONFIG_BK_TYPE=local
	init_store "$BATS_TEST_TMPDIR/local"
	B="$BATS_TEST_TMPDIR/backend"
	R="rclone:bk:$B"
	mkdir -p src/sub
	echo hello > src/a
	echo "the quick brown rclone fox" > src/sub/b
	make_file 3000000 src/big
}

# Every file of the backend with its size and hash.
backend_listing() {
	(cd "$B" && find . -type f -printf '%p %s\n' | LC_ALL=C sort &&
		find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r b3sum)
}

backend_bytes() {
	find "$B" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }'
}

# fetch_check DIR: fetches every ref into a new store DIR and checks it whole.
fetch_check() {
	snap-init -q "$1"
	run -0 env SNAP_DIR="$1" snap-fetch -q "$R"
	run -0 env SNAP_DIR="$1" snap-fsck
}

@test "a first push stores packs, refs and snap-remote; a fetch into an empty store restores identical" {
	snap-snapshot -r main src >/dev/null
	id=$(snap-rev-parse main)
	run -0 --separate-stderr snap-push "$R"
	assert_equal "$stderr" ''
	assert_line -n 0 "created refs/snapshots/main $ZERO $id"
	assert_line -n 1 --regexp '^sent [0-9]+ objects, [0-9]+ bytes$'
	assert_equal "$(cat "$B/snap-remote")" "format = 1"
	assert_equal "$(cat "$B/refs/snapshots/main")" "$id"
	ls "$B"/packs/pack-*.pack "$B"/packs/pack-*.idx
	assert_file_not_exists "$B/lease"
	snap-init -q third
	run -0 --separate-stderr env SNAP_DIR=$PWD/third snap-fetch "$R"
	assert_line -n 0 "created refs/snapshots/main $ZERO $id"
	assert_equal "$(SNAP_DIR=$PWD/third snap-rev-parse main)" "$id"
	SNAP_DIR=$PWD/third snap-restore main "$PWD/out"
	run -0 diff -r src out
	run -0 env SNAP_DIR=$PWD/third snap-fsck
	# Nothing downloaded is left behind.
	assert_equal "$(ls third/objects/tmp)" ''
}

@test "an unchanged push uploads nothing" {
	snap-snapshot -r main src >/dev/null
	snap-push -q "$R"
	before=$(backend_listing)
	run -0 snap-push --json "$R"
	id=$(snap-rev-parse main)
	assert_output "{\"refs\":[{\"name\":\"refs/snapshots/main\",\"status\":\"up-to-date\",\"old\":\"$id\",\"new\":\"$id\"}],\"objects_sent\":0,\"bytes_sent\":0}"
	assert_equal "$(backend_listing)" "$before"
	# A second snapshot of the same tree: the snapshot object only.
	snap-snapshot -r main src >/dev/null
	n=$(find "$B/packs" -type f | wc -l)
	run -0 snap-push --json "$R"
	assert_equal "$(echo "$output" | jfield objects_sent)" 1
	assert_equal "$(find "$B/packs" -type f | wc -l)" $((n + 2))
}

@test "a 1% change of a large file uploads about the new data" {
	make_file 8000000 src/big
	snap-snapshot -r main src >/dev/null
	snap-push -q "$R"
	before=$(backend_bytes)
	# 80 KB rewritten in the middle: 1%.
	head -c 80000 /dev/urandom | dd of=src/big bs=1 seek=4000000 conv=notrunc status=none
	snap-snapshot -r main src >/dev/null
	run -0 snap-push "$R"
	grown=$(( $(backend_bytes) - before ))
	echo "grown by $grown bytes" >&3
	[ "$grown" -gt 80000 ]
	[ "$grown" -lt 800000 ]
	fetch_check "$PWD/third"
	SNAP_DIR=$PWD/third snap-restore main "$PWD/out"
	run -0 cmp src/big out/big
}

@test "after a local gc nothing is sent again: the remote is known by object id" {
	snap-snapshot -r main src >/dev/null
	echo two > src/a
	snap-snapshot -r main src >/dev/null
	snap-push -q "$R"
	snap-gc -q --prune=now
	ls "$SNAP_DIR"/objects/pack
	before=$(backend_listing)
	run -0 snap-push --json "$R"
	assert_equal "$(echo "$output" | jfield objects_sent)" 0
	assert_equal "$(backend_listing)" "$before"
	rm -rf "$SNAP_DIR/cache/rclone"
	run -0 snap-push --json "$R"
	assert_equal "$(echo "$output" | jfield objects_sent)" 0
}

@test "a push that is not a fast-forward is refused (1); --force-with-lease forces it" {
	snap-snapshot -r main src >/dev/null
	snap-push -q "$R"
	theirs=$(snap-rev-parse main)
	snap-update-ref -d main
	echo other > src/a
	snap-snapshot -r main src >/dev/null
	ours=$(snap-rev-parse main)
	before=$(backend_listing)
	run -1 --separate-stderr snap-push "$R"
	assert_equal "$stderr" "snap-push: fatal: ref 'refs/snapshots/main' not pushed: not a fast-forward of the remote's $theirs (fetch first, or --force-with-lease)"
	assert_output ''
	assert_equal "$(backend_listing)" "$before"
	run -1 --separate-stderr snap-push --force-with-lease=main:$ZERO "$R"
	assert_equal "$stderr" "snap-push: fatal: ref 'refs/snapshots/main' not pushed: the remote holds $theirs, not the $ZERO the lease expects"
	assert_equal "$(backend_listing)" "$before"
	run -0 snap-push --force-with-lease=main:$theirs "$R"
	assert_line -n 0 "forced refs/snapshots/main $theirs $ours"
	assert_equal "$(cat "$B/refs/snapshots/main")" "$ours"
	fetch_check "$PWD/third"
}

@test "a fetch that is not a fast-forward here is refused; named refs and --delete" {
	snap-snapshot -r main src >/dev/null
	snap-snapshot -r other src >/dev/null
	snap-push -q "$R"
	snap-init -q third
	SNAP_DIR=$PWD/third snap-fetch -q "$R" other
	assert_equal "$(SNAP_DIR=$PWD/third snap-show-ref | cut -d' ' -f2)" refs/snapshots/other
	run -128 --separate-stderr env SNAP_DIR=$PWD/third snap-fetch "$R" nope
	assert_equal "$stderr" "snap-fetch: fatal: ref 'refs/snapshots/nope' is not on the remote"
	run -0 snap-push -d "$R" other
	assert_line -n 0 --regexp "^deleted refs/snapshots/other "
	assert_file_not_exists "$B/refs/snapshots/other"
	assert_file_exists "$B/refs/snapshots/main"
}

@test "through a crypt remote: no name nor content in clear on the backend, and the round trip works" {
	export RCLONE_CONFIG_SEC_TYPE=crypt RCLONE_CONFIG_SEC_REMOTE="bk:$B"
	RCLONE_CONFIG_SEC_PASSWORD=$(rclone obscure pw)
	export RCLONE_CONFIG_SEC_PASSWORD
	R="rclone:sec:snap/host1"
	snap-snapshot -r main src >/dev/null
	id=$(snap-rev-parse main)
	run -0 snap-push "$R"
	[ -n "$(find "$B" -type f)" ]
	run -1 grep -r -a -l -e "quick brown rclone fox" -e "format = 1" -e "$id" -e SNAPPACK "$B"
	# Names below the backend's root, by whole component: a random
	# encrypted name, or the test's own directory, may hold "pack".
	run -1 bash -c "find '$B' -mindepth 1 -printf '%P\n' | grep -E '(^|/)(snap|host1|snap-remote|packs|refs|snapshots|main|lease)(/|\$)|(^|/)pack-'"
	snap-init -q third
	run -0 env SNAP_DIR=$PWD/third snap-fetch -q "$R"
	SNAP_DIR=$PWD/third snap-restore main "$PWD/out"
	run -0 diff -r src out
	run -0 env SNAP_DIR=$PWD/third snap-fsck
}

@test "a corrupted byte in a pack on the backend: fetch fails in one line (128) and no ref moves" {
	snap-snapshot -r main src >/dev/null
	snap-push -q "$R"
	snap-init -q third
	SNAP_DIR=$PWD/third snap-fetch -q "$R"
	old=$(SNAP_DIR=$PWD/third snap-rev-parse main)
	echo changed > src/a
	snap-snapshot -r main src >/dev/null
	snap-push -q "$R"
	pack=$(ls -t "$B"/packs/*.pack | head -1)
	python3 -c 'import sys; f = open(sys.argv[1], "r+b"); f.seek(20); b = f.read(1); f.seek(20); f.write(bytes([b[0] ^ 1]))' "$pack"
	run -128 --separate-stderr env SNAP_DIR=$PWD/third snap-fetch "$R"
	assert_output ''
	assert_equal "$(echo "$stderr" | wc -l)" 1
	assert_regex "$stderr" "^snap-fetch: fatal: 'packs/pack-[0-9a-f]{64}\\.pack' of '$R' is damaged"
	assert_equal "$(SNAP_DIR=$PWD/third snap-rev-parse main)" "$old"
	assert_equal "$(ls third/objects/tmp)" ''
	snap-init -q fourth
	run -128 env SNAP_DIR=$PWD/fourth snap-fetch "$R"
	assert_equal "$(SNAP_DIR=$PWD/fourth snap-show-ref)" ''
}

@test "a held lease refuses a second pusher (1); an expired one is taken over" {
	snap-snapshot -r main src >/dev/null
	snap-push -q "$R"
	echo more >> src/a
	snap-snapshot -r main src >/dev/null
	printf 'token = %s\nhost = otherhost\npid = 4242\nexpires = 4102444800\n' \
		0123456789abcdef0123456789abcdef > "$B/lease"
	before=$(backend_listing)
	run -1 --separate-stderr snap-push "$R"
	assert_equal "$stderr" "snap-push: fatal: not pushed: the remote's lease is held by otherhost pid 4242 until 2100-01-01T00:00:00Z"
	assert_output ''
	assert_equal "$(backend_listing)" "$before"
	# A fetch does not need the lease.
	fetch_check "$PWD/third"
	sed -i 's/^expires = .*/expires = 1000/' "$B/lease"
	run -0 snap-push "$R"
	assert_line -n 0 --regexp '^updated refs/snapshots/main '
	assert_file_not_exists "$B/lease"
	assert_equal "$(cat "$B/refs/snapshots/main")" "$(snap-rev-parse main)"
}

@test "prune, gc, then push: the pruned record goes to the remote and comes back with a fetch" {
	local i
	for i in 1 2 3 4 5; do
		echo "$i" > "src/n$i"
		SNAP_TIME=$((1000000 + i * 86400)) snap-snapshot -m "s$i" src > /dev/null
	done
	snap-prune --keep-last 2 > /dev/null
	find "$SNAP_DIR/objects" -type f -exec touch -d '3 days ago' {} +
	snap-gc --prune=now > /dev/null
	run -0 snap-push "$R"
	run -0 cmp "$SNAP_DIR/pruned" "$B/pruned"
	snap-init -q third
	run -0 env SNAP_DIR=$PWD/third snap-fetch -q "$R"
	run -0 env SNAP_DIR=$PWD/third snap-fsck
	assert_output ''
	run -0 cmp "$SNAP_DIR/pruned" third/pruned
	assert_equal "$(SNAP_DIR=$PWD/third snap-rev-list main)" "$(snap-rev-list main)"
	# A push that brings nothing new of the record leaves it as it is.
	echo 6 > src/n6
	snap-snapshot -m s6 src > /dev/null
	before=$(b3sum < "$B/pruned")
	run -0 snap-push "$R"
	assert_equal "$(b3sum < "$B/pruned")" "$before"
}

@test "a snapshot kept behind a pruned one comes with a fetch (the walk goes through the record)" {
	local i
	for i in 1 2 3; do
		echo "$i" > "src/n$i"
		snap-snapshot -m "s$i" src > /dev/null
	done
	snap-prune --drop main~1 --gc > /dev/null
	run -0 snap-push -q "$R"
	snap-init -q third
	run -0 env SNAP_DIR=$PWD/third snap-fetch -q "$R"
	run -0 env SNAP_DIR=$PWD/third snap-fsck
	assert_output ''
	assert_equal "$(SNAP_DIR=$PWD/third snap-log --format=%s)" "s3
s1"
	first=$(SNAP_DIR=$PWD/third snap-log --format=%H | tail -n 1)
	run -0 env SNAP_DIR=$PWD/third snap-restore "$first" old
	assert_equal "$(ls old)" 'a
big
n1
sub'
}

@test "two pushers racing: each is updated or refused, and the remote ref is always whole" {
	snap-init -q other
	mkdir -p src2
	echo "other tree" > src2/x
	for trial in 1 2 3 4; do
		rm -rf "$B"
		snap-snapshot -r main src >/dev/null
		SNAP_DIR=$PWD/other snap-snapshot -r main src2 >/dev/null
		snap-push -q "$R" 2>err1 & p1=$!
		SNAP_DIR=$PWD/other snap-push -q "$R" 2>err2 & p2=$!
		s1=0 s2=0
		wait $p1 || s1=$?
		wait $p2 || s2=$?
		echo "trial $trial: $s1 $s2 $(cat err1 err2)" >&3
		[ "$s1" -le 1 ] && [ "$s2" -le 1 ]
		[ "$s1" = 0 ] || grep -q lease err1
		[ "$s2" = 0 ] || grep -q lease err2
		# Both may lose the race for the lease: then no ref is written.
		[ "$s1" = 0 ] || [ "$s2" = 0 ] || { [ ! -e "$B/refs/snapshots/main" ] && continue; }
		id=$(cat "$B/refs/snapshots/main")
		[ "$id" = "$(snap-rev-parse main)" ] || [ "$id" = "$(SNAP_DIR=$PWD/other snap-rev-parse main)" ]
		rm -rf "third$trial"
		fetch_check "$PWD/third$trial"
		assert_equal "$(SNAP_DIR=$PWD/third$trial snap-rev-parse main)" "$id"
	done
}

# A stand-in for rclone that runs it, but kills its caller (the push) at
# its Nth run whose arguments match PATTERN.
kill_rclone() {
	cat > killer <<EOF
#!/bin/bash
n=\$(cat "$BATS_TEST_TMPDIR/count" 2>/dev/null || echo 0)
case "\$*" in
$1) n=\$((n + 1)); echo \$n > "$BATS_TEST_TMPDIR/count"
	if [ \$n = $2 ]; then kill -9 \$PPID; exit 1; fi;;
esac
exec rclone "\$@"
EOF
	chmod +x killer
	rm -f count
}

@test "a push killed at any of several points: the next push completes, the remote whole" {
	snap-snapshot -r main src >/dev/null
	snap-push -q "$R"
	points=("copyto*objects/tmp/*.pack*:1" "copyto*objects/tmp/*.idx*:1" "lsf*.idx:1"
		"rcat*tmp/*:2" "moveto*refs/snapshots/main:1" "rcat*tmp/*:1" "moveto*lease:1"
		"copyto*objects/tmp/*.idx*tmp/*:1" "moveto*packs/*.idx:1" "deletefile*lease:1")
	for p in "${points[@]}"; do
		echo "$p $RANDOM" >> src/a
		snap-snapshot -r main src >/dev/null
		kill_rclone "${p%:*}" "${p##*:}"
		run -137 env SNAP_RCLONE=$PWD/killer snap-push -q "$R"
		run -0 snap-push -q "$R"
		assert_equal "$(cat "$B/refs/snapshots/main")" "$(snap-rev-parse main)"
		assert_file_not_exists "$B/lease"
		rm -rf third
		fetch_check "$PWD/third"
	done
	# And one killed by a fault of its own, while it writes its pack.
	echo fault >> src/a
	snap-snapshot -r main src >/dev/null
	run -137 env SNAP_FAULT='rename@objects/tmp/pack-:1:kill' snap-push -q "$R"
	run -0 snap-push -q "$R"
	rm -rf third
	fetch_check "$PWD/third"
	assert_equal "$(SNAP_DIR=$PWD/third snap-rev-parse main)" "$(snap-rev-parse main)"
}

# A stand-in for rclone that runs it, but at its Nth run whose arguments
# match PATTERN writes only the first few bytes of an upload (rcat, copyto)
# to its destination and fails, as a backend on a full disk does.
cut_rclone() {
	cat > cutter <<EOF
#!/bin/bash
n=\$(cat "$BATS_TEST_TMPDIR/count" 2>/dev/null || echo 0)
case "\$*" in
$1) n=\$((n + 1)); echo \$n > "$BATS_TEST_TMPDIR/count"
	if [ \$n = $2 ]; then
		case \$1 in rcat) dest=\${2#bk:}; head -c 10;; copyto) dest=\${3#bk:}; head -c 100 "\$2";; esac > part
		mkdir -p "\${dest%/*}" && mv part "\$dest"
		echo "Failed to copy: write \$dest: no space left on device" >&2; exit 1
	fi;;
esac
exec rclone "\$@"
EOF
	chmod +x cutter
	rm -f count
}

@test "an upload cut short (a full disk) leaves no short ref, index or lease: the remote as it was, the next push completes" {
	snap-snapshot -r main src >/dev/null
	snap-push -q "$R"
	old=$(snap-rev-parse main)
	# The pusher's uploads in order: lease, packs (.pack, then .idx), the ref.
	for p in "rcat*:2" "copyto*.idx*:1" "rcat*:1"; do
		echo "$p $RANDOM" >> src/a
		snap-snapshot -r main src >/dev/null
		cut_rclone "${p%:*}" "${p##*:}"
		run -128 --separate-stderr env SNAP_RCLONE=$PWD/cutter snap-push -q "$R"
		assert_equal "$(cat "$B/refs/snapshots/main")" "$old"
		assert_equal "$(ls -A "$B/tmp" 2>/dev/null)" ''
		rm -f "$B/lease"
		rm -rf third
		fetch_check "$PWD/third"
		assert_equal "$(SNAP_DIR=$PWD/third snap-rev-parse main)" "$old"
		run -0 snap-push -q "$R"
		old=$(snap-rev-parse main)
		assert_equal "$(cat "$B/refs/snapshots/main")" "$old"
	done
	# What a killed writer left in tmp/ goes with the next gc --remote.
	mkdir -p "$B/tmp" && printf 'cut' > "$B/tmp/0123456789abcdef0123456789abcdef"
	run -0 snap-gc --remote "$R" -v
	assert_line --index 0 "tmp/0123456789abcdef0123456789abcdef 3"
	assert_line --index 1 "removed 0 packs (1 files, 3 bytes); kept 4 packs"
	assert_equal "$(ls -A "$B/tmp")" ''
}

# Names and sizes of the backend's pack files, one per line, sorted.
pack_files() {
	(cd "$B/packs" && find . -type f -printf '%P %s\n' | LC_ALL=C sort)
}

@test "gc --remote removes the packs no remote ref needs, and only those; a fetch after it is whole" {
	snap-snapshot -r main src >/dev/null
	snap-push -q "$R"
	mkdir side && make_file 400000 side/only
	snap-snapshot -r side side >/dev/null
	before=$(pack_files)
	snap-push -q "$R" side
	side_pack=$(comm -13 <(echo "$before") <(pack_files) | sed 's/^/packs\//')
	assert_equal "$(echo "$side_pack" | wc -l)" 2
	# While side is there, nothing goes.
	run -0 snap-gc --remote "$R"
	assert_output "removed 0 packs (0 files, 0 bytes); kept 2 packs"
	run -0 snap-push -q -d "$R" side
	listing=$(backend_listing)
	run -0 snap-gc --remote "$R" --dry-run
	assert_output "$(echo "$side_pack" | grep '\.idx ')
$(echo "$side_pack" | grep '\.pack ')
would remove 1 packs (2 files, $(echo "$side_pack" | awk '{ s += $2 } END { print s }') bytes); kept 1 packs"
	assert_equal "$(backend_listing)" "$listing"
	run -0 snap-gc --remote "$R" --json
	assert_output "{\"dry_run\":false,\"packs_kept\":1,\"packs_removed\":1,\"files_removed\":2,\"bytes_removed\":$(echo "$side_pack" | awk '{ s += $2 } END { print s }')}"
	assert_equal "$(pack_files)" "$before"
	assert_file_not_exists "$B/lease"
	fetch_check "$PWD/third"
	run -0 env SNAP_DIR=$PWD/third snap-restore main out
	diff -r src out
	# The store gc ran from is as it was.
	run -0 snap-fsck
	run -0 snap-rev-parse --verify side
}

@test "gc --remote keeps what a snapshot behind a pruned one needs, and removes what a killed push left" {
	local i
	for i in 1 2 3; do
		make_file $((100000 + i)) "src/n$i"
		snap-snapshot -m "s$i" src > /dev/null
		snap-push -q "$R"
	done
	snap-prune --drop main~1 --gc > /dev/null
	echo 4 > src/n4
	snap-snapshot -m s4 src > /dev/null
	snap-push -q "$R"
	# A pack uploaded by a push killed before its index.
	echo killed >> src/a
	snap-snapshot -m s5 src > /dev/null
	kill_rclone "copyto*objects/tmp/*.idx*" 1
	before=$(pack_files)
	run -137 env SNAP_RCLONE=$PWD/killer snap-push -q "$R"
	orphan=$(comm -13 <(echo "$before") <(pack_files))
	assert_equal "$(echo "$orphan" | grep -c '\.pack ')" 1
	assert_equal "$(echo "$orphan" | grep -c '\.idx ')" 0
	run -0 snap-gc --remote "$R" -v
	assert_line --index 0 "packs/$orphan"
	assert_line --index 1 --regexp '^removed 1 packs \(1 files, [0-9]+ bytes\); kept [0-9]+ packs$'
	assert_equal "$(pack_files)" "$before"
	rm -f "$B/lease"
	fetch_check "$PWD/third"
	assert_equal "$(SNAP_DIR=$PWD/third snap-log --format=%s main)" "s4
s3
s2
s1"
	run -0 env SNAP_DIR=$PWD/third snap-restore "$(SNAP_DIR=$PWD/third snap-log --format=%H | tail -n 1)" old
	cmp src/n1 old/n1
	# Killed while it removes: the next gc finishes, the remote whole.
	snap-push -q "$R"
	snap-snapshot -r side src > /dev/null
	make_file 200000 src/gone && snap-snapshot -r side src > /dev/null
	snap-push -q "$R" side && snap-push -q -d "$R" side
	kill_rclone "deletefile*packs/*.pack" 1
	run -137 env SNAP_RCLONE=$PWD/killer snap-gc --remote "$R"
	run -0 snap-gc --remote "$R"
	assert_output --regexp '^removed 1 packs \(1 files, [0-9]+ bytes\); kept [0-9]+ packs$'
	rm -rf third
	fetch_check "$PWD/third"
}

@test "gc --remote refuses and removes nothing: a held lease (1), an incomplete remote, a remote that is not rclone, --prune" {
	snap-snapshot -r main src >/dev/null
	snap-push -q "$R"
	printf 'token = %s\nhost = otherhost\npid = 4242\nexpires = 4102444800\n' \
		0123456789abcdef0123456789abcdef > "$B/lease"
	before=$(backend_listing)
	run -1 --separate-stderr snap-gc --remote "$R"
	assert_equal "$stderr" "snap-gc: fatal: not pushed: the remote's lease is held by otherhost pid 4242 until 2100-01-01T00:00:00Z"
	assert_equal "$(backend_listing)" "$before"
	rm "$B/lease"
	# A pack a ref needs, gone by hand: the walk fails, nothing is removed.
	mkdir side && make_file 300000 side/x
	snap-snapshot -r side side >/dev/null
	snap-push -q "$R" side && snap-push -q -d "$R" side
	idx=$(cd "$B/packs" && ls -t ./*.idx | tail -n 1)
	rm "$B/packs/$idx" "$B/packs/${idx%.idx}.pack"
	before=$(backend_listing)
	run -128 --separate-stderr snap-gc --remote "$R"
	[[ "$stderr" == "snap-gc: fatal: incomplete remote: object "*" is missing from '$R'" ]]
	assert_equal "$(backend_listing)" "$before"
	# A remote that is not there is not made one: no snap-remote, no lease.
	run -128 --separate-stderr snap-gc --remote "rclone:bk:$PWD/typo"
	assert_equal "$stderr" "snap-gc: fatal: remote 'rclone:bk:$PWD/typo' is not a snap remote (no snap-remote file)"
	assert_file_not_exists "$PWD/typo"
	snap-init -q other
	run -128 --separate-stderr snap-gc --remote "$PWD/other"
	assert_equal "$stderr" "snap-gc: fatal: --remote takes an rclone remote; '$PWD/other' is a store snap-serve serves: run snap-gc there"
	run -129 --separate-stderr snap-gc --remote "$R" --prune=now
	assert_equal "${stderr_lines[0]}" "snap-gc: error: --prune does not go with --remote: a remote's packs have no age"
}

@test "bad remotes: not a snap remote, no rclone, a malformed name" {
	mkdir "$B"
	snap-init -q third
	run -128 --separate-stderr env SNAP_DIR=$PWD/third snap-fetch "$R"
	assert_equal "$stderr" "snap-fetch: fatal: remote '$R' is not a snap remote (no snap-remote file)"
	snap-snapshot -r main src >/dev/null
	run -128 --separate-stderr env SNAP_RCLONE=/nonexistent/rclone snap-push "$R"
	assert_equal "$stderr" "snap-push: fatal: cannot run '/nonexistent/rclone' (is rclone installed?)"
	run -128 --separate-stderr snap-push rclone:-x:y
	assert_equal "$stderr" "snap-push: fatal: remote 'rclone:-x:y': expected rclone:RCLONE_REMOTE:PATH"
	run -128 --separate-stderr snap-push rclone:nocolon
	assert_equal "$stderr" "snap-push: fatal: remote 'rclone:nocolon': expected rclone:RCLONE_REMOTE:PATH"
}

@test "a named remote may be an rclone remote" {
	snap-snapshot -r main src >/dev/null
	mkdir -p "$SNAP_DIR/remotes"
	echo "url = $R" > "$SNAP_DIR/remotes/offsite"
	run -0 snap-push -q offsite
	assert_equal "$(cat "$B/refs/snapshots/main")" "$(snap-rev-parse main)"
}

@test "a push of a ref whose name holds the remote's refs below it, or lies below one: refused before any upload" {
	snap-init -q other
	echo 1 | SNAP_DIR=$PWD/other snap-snapshot -q -r a/b --stdin f
	SNAP_DIR=$PWD/other snap-push -q "$R"
	before=$(cd "$B" && find . | LC_ALL=C sort)
	echo 2 | snap-snapshot -q -r a --stdin f
	run -128 --separate-stderr snap-push "$R" a
	assert_equal "$stderr" "snap-push: fatal: ref 'refs/snapshots/a' cannot be written: 'refs/snapshots/a/' holds other refs"
	snap-init -q third
	echo 3 | SNAP_DIR=$PWD/third snap-snapshot -q -r a/b/c --stdin f
	run -128 --separate-stderr env SNAP_DIR=$PWD/third snap-push "$R" a/b/c
	assert_equal "$stderr" "snap-push: fatal: ref 'refs/snapshots/a/b/c' cannot be written: 'refs/snapshots/a/b' is a ref"
	assert_equal "$(cd "$B" && find . | LC_ALL=C sort)" "$before"
}

@test "--progress: the objects packed and the packs uploaded on a push, the objects stored on a fetch; -q wins" {
	snap-snapshot -r main src >/dev/null
	run -0 --separate-stderr snap-push --progress "$R"
	[[ "$stderr" =~ snap-push:\ objects\ ([0-9]+)/([0-9]+)\ \(100%\) ]]
	[[ "$stderr" =~ snap-push:\ packs\ uploaded\ 1/1\ \(100%\) ]]
	snap-init -q back
	run -0 --separate-stderr env SNAP_DIR=$PWD/back snap-fetch --progress "$R"
	[[ "$stderr" =~ snap-fetch:\ objects\ ([0-9]+)/([0-9]+)\ \(100%\) ]]
	echo more > src/more
	snap-snapshot -r main src >/dev/null
	run -0 --separate-stderr snap-push -q --progress "$R"
	assert_equal "$stderr" ''
}

@test "a gc beside a fetch keeps what the fetch downloaded, however old the remote's files; a lease left by a done push is a warning, not a failure" {
	snap-snapshot -r main src >/dev/null
	snap-push -q "$R"
	find "$B" -type f -exec touch -d '-30 days' {} +
	# A gc runs while each pack is being downloaded.
	cat > gcbeside <<EOF
#!/bin/bash
rclone "\$@" || exit
case "\$1 \$2" in "copyto bk:"*.pack) SNAP_DIR="$BATS_TEST_TMPDIR/third" snap-gc --prune=now -q;; esac
EOF
	chmod +x gcbeside
	snap-init -q third
	run -0 env SNAP_DIR=$PWD/third SNAP_RCLONE=$PWD/gcbeside snap-fetch -q "$R"
	run -0 env SNAP_DIR=$PWD/third snap-fsck
	SNAP_DIR=$PWD/third snap-restore main out && diff -r src out
	# The refs moved; only the lease could not be removed.
	echo more >> src/a && snap-snapshot -r main src >/dev/null
	cat > nolease <<EOF
#!/bin/bash
case "\$*" in deletefile*lease) echo "Failed to delete: 503 Service Unavailable" >&2; exit 1;; esac
exec rclone "\$@"
EOF
	chmod +x nolease
	run -0 --separate-stderr env SNAP_RCLONE=$PWD/nolease snap-push "$R"
	assert_equal "$(cat "$B/refs/snapshots/main")" "$(snap-rev-parse main)"
	assert_line --regexp '^updated refs/snapshots/main '
	[[ "$stderr" == "snap-push: warning: the push is complete, but the remote's lease stays until it expires (a push from this host takes it over at once): "* ]]
	assert_file_exists "$B/lease"
	run -0 snap-push -q "$R"
	assert_file_not_exists "$B/lease"
}
