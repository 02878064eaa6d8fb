#!/usr/bin/env bats
# 4: the input a careless script sends: every mistake is one line on
# stderr, the documented status, and nothing changed; a killed restore's
# leftovers are swept; fsck beside a running gc sees no false damage.

load test_helper

local_setup() {
	init_store
	mkdir -p src/d
	echo a > src/a
	echo b > src/d/b
	echo r > src/-rf
	snap-snapshot -m s src > /dev/null
}

@test "restore -j 0 is a usage error of snap-restore in one line, not snap-checkout's usage" {
	run -129 --separate-stderr snap-restore -j 0 main out
	assert_equal "${stderr%%$'\n'*}" "snap-restore: error: -j takes 1 to 64, not '0'"
	[[ "$stderr" != *snap-checkout* ]]
	run -129 --separate-stderr snap-restore -j 65 main out
	assert_equal "${stderr%%$'\n'*}" "snap-restore: error: -j takes 1 to 64, not '65'"
	assert_not_exist out
}

@test "plumbing run by porcelain gives its usage error as one line" {
	run -129 --separate-stderr snap-log -n 99999999999999999999
	assert_equal "$stderr" "snap-log: error: bad count '99999999999999999999'"
	run -129 --separate-stderr snap-rev-list -n x
	assert_equal "${stderr%%$'\n'*}" "snap-rev-list: error: bad count 'x'"
	[[ "$stderr" == *"usage: snap-rev-list"* ]]
}

@test "restore REV DIR -- PATH takes what follows -- as paths" {
	run -0 snap-restore main out -- -rf
	run -0 ls -A out
	assert_output -- '-rf'
}

@test "REV:PATH with a slash after a file is not a directory; after a directory it is found" {
	run -128 --separate-stderr snap-rev-parse main:a/
	assert_equal "$stderr" "snap-rev-parse: fatal: 'main:a/': 'a' is not a directory"
	run -128 --separate-stderr snap-rev-parse main:d/b//
	assert_equal "$stderr" "snap-rev-parse: fatal: 'main:d/b//': 'd/b' is not a directory"
	run -0 snap-rev-parse main:d/
	assert_output "$(snap-rev-parse main:d)"
}

@test "a name holding a newline or control bytes is escaped: the message stays one line" {
	run -128 --separate-stderr snap-rev-parse "$(printf 'ma\nin\t\033')"
	assert_equal "$stderr" "snap-rev-parse: fatal: unknown revision 'ma\\nin\\t\\x1b'"
}

@test "a bad time in REV@{...} names the revision" {
	run -128 --separate-stderr snap-rev-parse 'main@{}'
	[[ "$stderr" == "snap-rev-parse: fatal: 'main@{}': bad time ''"* ]]
	[ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ]
}

@test "restore into DIR/.. is the directory it names, and a missing one is one line" {
	mkdir -p t/x
	echo old > t/old
	run -0 snap-restore --force main t/x/..
	assert_exist t/a t/d/b
	assert_not_exist t/old
	run -128 --separate-stderr snap-restore main nothere/..
	assert_equal "$stderr" "snap-restore: fatal: cannot find directory 'nothere/..'"
}

@test "a DIR whose parent cannot hold a temporary directory is one line, not mktemp's noise" {
	run -128 --separate-stderr snap-restore main /proc/1/x
	assert_equal "$stderr" "snap-restore: fatal: cannot create a temporary directory in '/proc/1'"
}

@test "a restore killed with SIGKILL leaves a temporary directory the next restore removes" {
	mkdir -p dst
	echo keep > dst/mine
	# What a killed restore leaves: its temporary directory, its pid gone.
	sh -c 'exit 0' & dead=$!
	wait "$dead"
	mkdir -m 700 "dst/.snap-restore.$dead.AbCdEf" "dst/.snap-restore.$$.KeepMe"
	echo partial > "dst/.snap-restore.$dead.AbCdEf/f"
	run -0 snap-restore --force main dst a
	assert_not_exist "dst/.snap-restore.$dead.AbCdEf"
	# One whose restore still runs (this shell) is left alone.
	assert_exist "dst/.snap-restore.$$.KeepMe"
	assert_file_exist dst/mine
	assert_file_exist dst/a
}

@test "checkout --in-place refuses a TMP that is not empty" {
	mkdir -p dst
	mkdir -m 700 tmp
	echo x > tmp/leftover
	run -128 --separate-stderr snap-checkout --in-place tmp main dst
	assert_equal "$stderr" "snap-checkout: fatal: 'tmp' is not empty"
	assert_file_exist tmp/leftover
	run -0 ls -A dst
	assert_output ''
}

@test "fsck --read-data-subset given twice is a usage error" {
	run -129 --separate-stderr snap-fsck --read-data-subset=1/2 --read-data-subset=2/2
	assert_equal "${stderr%%$'\n'*}" "snap-fsck: error: --read-data-subset given twice"
}

@test "gc names a corrupt object once, with its file" {
	local id f
	id=$(snap-rev-parse main)
	f=$(object_path "$id")
	[ -f "$f" ]
	chmod u+w "$f"
	printf 'X' | dd of="$f" bs=1 seek=20 conv=notrunc 2>/dev/null
	run -128 --separate-stderr snap-gc --prune=now
	assert_equal "$stderr" "snap-gc: fatal: object '$id' is corrupt ($f): Data corruption detected; nothing was deleted (see snap-fsck)"
}

@test "fsck beside a gc that packs loose objects reports no missing object" {
	command -v strace >/dev/null || skip "strace is not installed"
	echo c > src/c
	snap-snapshot -m t src > /dev/null
	# fsck stops for two seconds before it reads the ref; gc runs then.
	strace -o /dev/null -P "$SNAP_DIR/refs/snapshots/main" -e trace=openat \
		-e inject=openat:delay_enter=2000000 snap-fsck > fsck.out 2>&1 &
	local pid=$!
	sleep 0.5
	run -0 snap-gc --prune=now
	assert_line --partial 'loose objects packed'
	local rc=0
	wait "$pid" || rc=$?
	run -0 cat fsck.out
	assert_equal "$rc" 0
	assert_output ''
}

@test "a restore killed with SIGKILL takes its snap-checkout with it; the next restore succeeds" {
	for i in $(seq 5000); do echo "$i" > "src/d/f$i"; done
	snap-snapshot -m many src > /dev/null
	snap-restore -j 1 main out &
	local pid=$! n=0 tmp=
	# Until the checkout has begun writing.
	while [ -z "$tmp" ] && [ "$n" -lt 400 ]; do
		tmp=$(ls -d .snap-restore."$pid".*/new/d 2>/dev/null | head -n 1)
		n=$((n + 1)); sleep 0.01
	done
	[ -n "$tmp" ] || skip "the restore finished before it could be killed"
	tmp=${tmp%/new/d}
	kill -9 "$pid"
	wait "$pid" 2>/dev/null || :
	sleep 0.2
	# Gone with its parent, not still writing.
	run -1 pgrep -f "snap-checkout .*$tmp"
	run -0 --separate-stderr snap-restore main out
	assert_equal "$stderr" ""
	run -0 diff -r src out
	run -0 find . -maxdepth 1 -name '.snap-restore.*'
	assert_output ''
}

@test "fsck beside a gc that replaces a pack reports no damage" {
	command -v strace >/dev/null || skip "strace is not installed"
	snap-gc --prune=now > /dev/null
	echo other > src/other
	snap-snapshot -r other -m other src > /dev/null
	snap-gc --prune=now > /dev/null
	snap-update-ref -d refs/snapshots/other
	local idx
	idx=$(ls "$SNAP_DIR"/objects/pack/*.idx | head -n 1)
	# fsck stops for two seconds at its second open of that index (its
	# pack check, after the store was opened); gc replaces it then.
	strace -o /dev/null -P "$idx" -e trace=openat \
		-e inject=openat:delay_enter=2000000:when=2 snap-fsck --no-dangling > fsck.out 2>&1 &
	local pid=$! rc=0
	sleep 0.5
	find "$SNAP_DIR/objects" -type f -exec touch -d '3 days ago' {} +
	run -0 snap-gc --prune=now
	wait "$pid" || rc=$?
	run -0 cat fsck.out
	assert_output ''
	assert_equal "$rc" 0
}
