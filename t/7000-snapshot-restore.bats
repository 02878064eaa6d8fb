#!/usr/bin/env bats
# 7: porcelain workflows — snap-snapshot, snap-restore, snap-log, snap-diff

load test_helper

local_setup() {
	init_store
	export SNAP_HOST=testhost
}

meta_list() {
	(cd "$1" && find . -mindepth 1 -printf '%p %y %m %s %T@ %l\n' | LC_ALL=C sort)
}

@test "snapshot prints a snapshot id and moves refs/snapshots/main" {
	mkdir src
	printf 'one' > src/f
	run -0 --separate-stderr snap-snapshot -m first src
	[[ "$output" =~ ^[0-9a-f]{64}$ ]]
	id=$output
	run -0 snap-rev-parse main
	assert_output "$id"
	run -0 snap-cat-file -t "$id"
	assert_output snapshot
}

@test "snapshot records tree, parent, time, host, meta and message" {
	mkdir src
	printf 'one' > src/f
	SNAP_TIME='1700000000 +0100' snap-snapshot -m first src >/dev/null
	first=$(snap-rev-parse main)
	printf 'two' > src/f
	SNAP_TIME='1700000100 +0100' snap-snapshot -m second --meta k=v --meta a=b src >/dev/null
	run -0 snap-cat-file -p "$(snap-rev-parse main)"
	assert_output "tree $(snap-write-tree src)
parent $first
time 1700000100 +0100
host testhost
meta k=v
meta a=b

second"
}

@test "snapshot then restore round trip is identical" {
	mkdir -p src/sub
	printf 'hello' > src/a
	ln -s a src/link
	make_file 200000 src/sub/b
	touch -d '2022-02-02 02:02:02.222222222' src/a
	snap-snapshot -m x src >/dev/null
	run -0 snap-restore main out
	run -0 diff -r --no-dereference src out
	assert_equal "$(meta_list out)" "$(meta_list src)"
}

@test "restore into a non-empty directory needs --force" {
	mkdir src out
	printf 'new' > src/f
	printf 'old' > out/keep
	snap-snapshot src >/dev/null
	run -128 --separate-stderr snap-restore main out
	assert_equal "$stderr" "snap-restore: fatal: directory 'out' is not empty (use --force to replace its content)"
	assert_equal "$(cat out/keep)" old
	run -0 snap-restore --force main out
	assert_equal "$(cat out/f)" new
	assert_not_exist out/keep
}

@test "a failed restore leaves the target as it was" {
	mkdir src out
	make_file 5000 src/f
	printf 'old' > out/keep
	snap-hash-object -w src/f >/dev/null
	snap-snapshot src >/dev/null
	p=$(object_path "$(b3_blob_id src/f)")
	chmod u+w "$p"
	printf 'garbage' > "$p"
	run -128 --separate-stderr snap-restore --force main out
	[[ "$stderr" == *"is corrupt"* ]]
	assert_equal "$(ls -A out)" keep
	assert_equal "$(cat out/keep)" old
	run ls -A .
	refute_output --partial .snap-restore
}

@test "restore of an unknown revision fails with 128" {
	run -128 --separate-stderr snap-restore nosuch out
	[[ "$stderr" == *"unknown revision 'nosuch'"* ]]
	assert_not_exist out
}

@test "restore of selected paths" {
	mkdir -p src/a src/b
	printf 1 > src/a/x
	printf 2 > src/b/y
	snap-snapshot src >/dev/null
	snap-restore main out b
	assert_not_exist out/a
	assert_equal "$(cat out/b/y)" 2
}

@test "snapshot -r NAME uses refs/snapshots/NAME and chains parents" {
	mkdir src
	printf 1 > src/f
	a=$(snap-snapshot -r nightly src)
	printf 2 > src/f
	b=$(snap-snapshot -r nightly src)
	run -0 snap-rev-parse nightly^
	assert_output "$a"
	run -0 snap-rev-parse refs/snapshots/nightly
	assert_output "$b"
	run -1 snap-rev-parse --verify -q main
}

@test "snapshot --stdin stores standard input as one file" {
	printf 'streamed data' | snap-snapshot --stdin dump.sql >/dev/null
	run -0 snap-cat-file blob "$(snap-rev-parse main:dump.sql)"
	assert_output 'streamed data'
}

@test "snapshot --stdin refuses empty input, store unchanged" {
	printf 'x' | snap-snapshot -m first --stdin dump.sql >/dev/null
	refused "snap-snapshot: fatal: standard input is empty; no snapshot taken (--allow-empty stores it)" \
		snap-snapshot -m second --stdin dump.sql < /dev/null
	run -0 snap-log --format=%s
	assert_output first
}

@test "snapshot --stdin --allow-empty stores an empty file" {
	run -0 snap-snapshot --stdin dump.sql --allow-empty < /dev/null
	run -0 snap-ls-tree -l main
	assert_output --regexp '^file 0[0-7]{3} [0-9]+ [0-9]+ [0-9.]+ 0 [0-9a-f]{64} - dump.sql$'
}

@test "snapshot --allow-empty without --stdin is a usage error" {
	mkdir src
	run -129 --separate-stderr snap-snapshot --allow-empty src
	assert_equal "${stderr%%$'\n'*}" "snap-snapshot: error: --allow-empty goes with --stdin"
	run -1 snap-rev-parse --verify -q main
}

@test "a bad --meta or stream name is refused before anything is stored" {
	before=$(store_listing)
	run -128 --separate-stderr sh -c 'echo x | snap-snapshot --meta "bad key=v" --stdin f'
	assert_equal "$stderr" "snap-snapshot: fatal: bad metadata 'bad key=v': want KEY=VALUE, KEY of letters, digits, '.', '_', '-'"
	run -128 --separate-stderr sh -c 'echo x | snap-snapshot --meta "$(printf "k\001=v\nz")" --stdin f'
	assert_equal "$stderr" "snap-snapshot: fatal: bad metadata 'k?=v?z': want KEY=VALUE, KEY of letters, digits, '.', '_', '-'"
	run -128 --separate-stderr sh -c 'echo x | snap-snapshot --meta "$(printf "k=v\nz")" --stdin f'
	assert_equal "$stderr" "snap-snapshot: fatal: bad metadata 'k': control characters in the value"
	run -128 --separate-stderr snap-snapshot --meta uname.0=someone src
	assert_equal "$stderr" "snap-snapshot: fatal: bad metadata 'uname.0': uname.* and gname.* keys are recorded by snap-snapshot itself"
	run -128 --separate-stderr snap-snapshot --meta nokv src
	assert_equal "$stderr" "snap-snapshot: fatal: bad metadata 'nokv': want KEY=VALUE, KEY of letters, digits, '.', '_', '-'"
	for n in . ..; do
		run -128 --separate-stderr sh -c 'echo x | snap-snapshot --stdin "$1"' sh "$n"
		assert_equal "$stderr" "snap-snapshot: fatal: bad file name '$n' (not empty, '.' or '..')"
	done
	run -128 --separate-stderr sh -c 'echo x | snap-snapshot --stdin a/b'
	assert_equal "$stderr" "snap-snapshot: fatal: bad file name 'a/b' (one name, no '/')"
	assert_equal "$(store_listing)" "$before"
}

@test "snapshot --from-command stores the command's output" {
	snap-snapshot --from-command out.txt -- printf 'from %s' cmd >/dev/null
	run -0 snap-cat-file blob "$(snap-rev-parse main:out.txt)"
	assert_output 'from cmd'
}

# The stream is stored as it comes, so what a failed command wrote stays
# as unreferenced objects, for snap-gc; refs, reflogs and caches do not move.
@test "snapshot --from-command takes no snapshot when the command fails, and says how it ended" {
	before=$(store_listing | grep -v -E '(^| )\./objects/[0-9a-f]{2}')
	run -128 --separate-stderr snap-snapshot --from-command out.txt -- sh -c 'echo partial; exit 3'
	assert_equal "$stderr" "snap-snapshot: fatal: command 'sh' exited with status 3; no snapshot taken"
	run -1 snap-rev-parse --verify -q main
	# The command's own messages pass; the shell adds no "Killed" line.
	run -128 --separate-stderr snap-snapshot --from-command out.txt -- sh -c 'echo partial; echo mine >&2; kill -9 $$'
	assert_equal "$stderr" "mine
snap-snapshot: fatal: command 'sh' was killed by signal 9; no snapshot taken"
	run -128 --separate-stderr snap-snapshot --from-command out.txt -- ./no-such-command
	assert_equal "$stderr" "snap-snapshot: fatal: command './no-such-command' not found; no snapshot taken"
	touch not-executable
	run -128 --separate-stderr snap-snapshot --from-command out.txt -- ./not-executable
	assert_equal "$stderr" "snap-snapshot: fatal: command './not-executable' is not an executable file; no snapshot taken"
	run -128 --separate-stderr snap-snapshot --from-command out.txt -- no-such-command-in-path
	assert_equal "$stderr" "snap-snapshot: fatal: command 'no-such-command-in-path' not found; no snapshot taken"
	run -128 --separate-stderr snap-snapshot --from-command out.txt -- sh -c 'exit 127'
	assert_equal "$stderr" "snap-snapshot: fatal: command 'sh' exited with status 127; no snapshot taken"
	run -1 snap-rev-parse --verify -q main
	assert_equal "$(store_listing | grep -v -E '(^| )\./objects/[0-9a-f]{2}')" "$before"
	assert_equal "$(ls "$SNAP_DIR/objects/tmp")" ''
}

# Waits up to 20 s for FILE to exist.
wait_for() {
	local i=0
	while [ ! -e "$1" ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
	[ -e "$1" ]
}

# no_copy_when SENT GO PID NAME: once SENT exists (half the stream is
# sent), no copy of it exists; then GO lets the rest come, and when PID
# ends, main:NAME holds the stream (data twice).
no_copy_when() {
	wait_for "$1"
	assert_equal "$(ls tmpdir)" ''
	assert_equal "$(find "$SNAP_DIR/objects/tmp" -path '*/snap-snapshot.*' -type f -size +1k)" ''
	echo > "$2"
	wait "$3"
	snap-cat-file -p "main:$4" | cmp - <(cat data data)
}

# While a 6 MB stream is being stored, nothing holds a copy of it: no
# file of snap-snapshot's own in objects/tmp and nothing in $TMPDIR (the
# pack being written there is the store's own).
@test "a stream is stored as it comes: no copy of it in TMPDIR or in the store" {
	mkdir tmpdir && mkfifo go1 go2
	head -c 6000000 /dev/urandom > data
	TMPDIR=$PWD/tmpdir snap-snapshot -q --from-command big -- \
		sh -c 'cat data; touch sent1; cat go1 >/dev/null; cat data' > id1 &
	local pid=$!
	no_copy_when sent1 go1 $pid big
	{ cat data; touch sent2; cat go2 >/dev/null; cat data; } |
		TMPDIR=$PWD/tmpdir snap-snapshot -q --stdin big2 > id2 &
	pid=$!
	no_copy_when sent2 go2 $pid big2
	# the same bytes as a file have the same id, and fsck finds all sound
	cat data data > whole
	assert_equal "$(snap-rev-parse main:big2)" "$(snap-hash-object whole)"
	run -0 snap-fsck
}

@test "snapshot with a bad ref name fails before any work" {
	mkdir src
	before=$(store_listing)
	run -128 --separate-stderr snap-snapshot -r 'bad..name' src
	[[ "$stderr" == *"bad..name"* ]]
	assert_equal "$(store_listing)" "$before"
}

@test "snapshot --sqlite copies a live database consistently" {
	sqlite3 live.db 'create table t(i integer primary key, v text); pragma journal_mode=wal;' >/dev/null
	# A writer that keeps inserting while the snapshot runs.
	( for i in $(seq 1 400); do
		sqlite3 live.db "begin; insert into t(v) values (hex(randomblob(500))); insert into t(v) values ('x'); commit;" 2>/dev/null
	done ) &
	writer=$!
	sleep 0.2
	run -0 snap-snapshot --sqlite live.db
	wait "$writer"
	snap-restore main out
	run -0 sqlite3 out/live.db 'pragma integrity_check'
	assert_output ok
	# Transactions are whole: rows come in pairs.
	run -0 sqlite3 out/live.db 'select count(*) % 2 from t'
	assert_output 0
}

@test "two snapshots racing on one ref both land" {
	mkdir a b
	printf A > a/f
	printf B > b/f
	for i in $(seq 10); do
		snap-snapshot -m "a$i" a >/dev/null &
		p1=$!
		snap-snapshot -m "b$i" b >/dev/null &
		p2=$!
		wait "$p1"
		wait "$p2"
	done
	run -0 sh -c 'snap-log --format=%s | wc -l'
	assert_output 20
}

@test "log lists snapshots newest first" {
	mkdir src
	printf 1 > src/f
	SNAP_TIME='1700000000 +0000' snap-snapshot -m first src >/dev/null
	printf 2 > src/f
	SNAP_TIME='1700003600 -0230' snap-snapshot -m 'second
body line' src >/dev/null
	id=$(snap-rev-parse main)
	run -0 snap-log
	assert_output "snapshot $id
Date:   2023-11-14 20:43:20 -0230
Host:   testhost

    second
    body line

snapshot $(snap-rev-parse main^)
Date:   2023-11-14 22:13:20 +0000
Host:   testhost

    first"
	run -0 snap-log --format='%h %t %s'
	assert_output "$(printf '%.12s' "$id") 1700003600 second
$(snap-rev-parse --short main^) 1700000000 first"
	run -0 snap-log -n 1 --oneline
	assert_output "$(printf '%.12s' "$id") 2023-11-14 20:43:20 -0230 testhost second"
}

@test "rev-parse NAME@{TIME} finds the snapshot at or before a time" {
	mkdir src
	for t in 1000 2000 3000; do
		printf "$t" > src/f
		SNAP_TIME="$t" snap-snapshot src >/dev/null
	done
	run -0 snap-rev-parse 'main@{2500}'
	assert_output "$(snap-rev-parse main~1)"
	run -0 snap-rev-parse 'main@{3000}'
	assert_output "$(snap-rev-parse main)"
	run -128 --separate-stderr snap-rev-parse 'main@{999}'
	[[ "$stderr" == *"no snapshot at or before that time"* ]]
	run -0 snap-rev-parse 'main@{1970-01-01T00:16:40Z}'
	assert_output "$(snap-rev-parse main~2)"
}

@test "rev-parse NAME@{~TIME} finds the nearest snapshot either way; the file-name time form is a TIME" {
	mkdir src
	for t in 1000 2000 3000; do
		printf "$t" > src/f
		SNAP_TIME="$t" snap-snapshot src >/dev/null
	done
	run -0 snap-rev-parse 'main@{~2600}'
	assert_output "$(snap-rev-parse main)"
	run -0 snap-rev-parse 'main@{~2400}'
	assert_output "$(snap-rev-parse main~1)"
	# A tie goes to the one before, as @{TIME} would choose.
	run -0 snap-rev-parse 'main@{~2500}'
	assert_output "$(snap-rev-parse main~1)"
	run -0 snap-rev-parse 'main@{~5}'
	assert_output "$(snap-rev-parse main~2)"
	run -0 snap-rev-parse 'main@{~99999}'
	assert_output "$(snap-rev-parse main)"
	# YYYY-MM-DD_HH-MM-SS[-FRACTION], UTC; the fraction is dropped.
	run -0 snap-rev-parse 'main@{1970-01-01_00-33-20-000000}'
	assert_output "$(snap-rev-parse main~1)"
	run -0 snap-rev-parse 'main@{~1970-01-01_00-49-00}'
	assert_output "$(snap-rev-parse main)"
	run -128 --separate-stderr snap-rev-parse 'main@{1970-01-01_00-33}'
	[[ "$stderr" == "snap-rev-parse: fatal: 'main@{1970-01-01_00-33}': bad time '1970-01-01_00-33' "* ]]
	run -128 --separate-stderr snap-rev-parse 'main@{1970-01-01_00-33-20-12x}'
	[[ "$stderr" == *"bad time '1970-01-01_00-33-20-12x'"* ]]
}

@test "diff lists added, removed and modified paths" {
	mkdir -p src/d
	printf 1 > src/keep
	printf 2 > src/gone
	printf 3 > src/d/change
	snap-snapshot src >/dev/null
	rm src/gone
	printf 4 > src/d/change
	printf 5 > src/added
	snap-snapshot src >/dev/null
	run -0 snap-diff main^ main
	assert_output "$(printf 'A\tadded\nM\td/change\nD\tgone')"
}

@test "snapshot -j and restore -j pass the thread count on" {
	mkdir src
	make_file 100000 src/a
	run -0 snap-snapshot -j 1 src
	run -0 snap-restore -j 2 main out
	run -0 diff -r src out
	run -129 snap-restore -j x main out2
}

@test "restore names itself in the plumbing's errors, and takes --store=DIR" {
	mkdir src && echo x > src/f
	snap-snapshot src >/dev/null
	run -128 --separate-stderr snap-restore nosuch out
	assert_equal "$stderr" "snap-restore: fatal: unknown revision 'nosuch'"
	local s=$SNAP_DIR
	unset SNAP_DIR
	run -0 snap-restore --store="$s" main out
	run -0 diff -r src out
}

@test "snapshot of the directory that holds the default store leaves .snap out" {
	unset SNAP_DIR
	mkdir work
	cd work
	snap init -q
	printf 'one' > f
	run -0 --separate-stderr snap snapshot -m first .
	assert_equal "$stderr" "snap-snapshot: warning: leaving out the store '.snap'"
	# The store changed under the first snapshot; the second must not read it.
	printf 'two' > f
	run -0 --separate-stderr snap snapshot -m second .
	assert_equal "$stderr" "snap-snapshot: warning: leaving out the store '.snap'"
	run -0 snap ls-tree -r --name-only main
	assert_output f
}

@test "snapshot leaves out a store given with --store below the source" {
	mkdir -p src/deep/er
	printf 'one' > src/f
	snap-init -q src/deep/er/backups
	run -0 --separate-stderr snap-snapshot --store src/deep/er/backups -m first src
	assert_equal "$stderr" "snap-snapshot: warning: leaving out the store 'deep/er/backups'"
	run -0 --separate-stderr snap-snapshot --store src/deep/er/backups -m second src
	run -0 snap-ls-tree --store src/deep/er/backups -r -d --name-only main
	assert_output "deep
deep/er
f"
}

@test "write-tree leaves out the store however it is named, and -q says nothing" {
	mkdir src
	printf 'one' > src/f
	snap-init -q src/s
	ln -s "$PWD/src/s" link
	run -0 --separate-stderr snap-write-tree --store link -q src
	assert_equal "$stderr" ''
	run -0 snap-ls-tree --store link --name-only "$output"
	assert_output f
}

@test "snapshot names itself in the plumbing's messages, not in its command's" {
	mkdir src && echo x > src/f
	run -128 --separate-stderr snap-snapshot -r 'bad..name' src
	assert_equal "$stderr" "snap-snapshot: fatal: invalid ref name 'refs/snapshots/bad..name': contains '..'"
	run -128 --separate-stderr snap-snapshot --from-command out -- sh -c 'echo "${SNAP_PROGRAM:-unset}" >&2; exit 1'
	assert_equal "$stderr" "unset
snap-snapshot: fatal: command 'sh' exited with status 1; no snapshot taken"
	local s=$SNAP_DIR
	unset SNAP_DIR
	run -0 snap-snapshot --store="$s" src
}

@test "restore into a DIR that starts with '-', and an empty DIR is a usage error" {
	mkdir src && echo x > src/f
	snap-snapshot src >/dev/null
	run -0 --separate-stderr snap-restore main -x
	assert_equal "$stderr" ''
	run -0 diff -r src ./-x
	run -129 --separate-stderr snap-restore main ''
	assert_equal "${stderr_lines[0]}" 'snap-restore: error: empty DIR'
}

@test "a TIME naming a day that does not exist is refused" {
	mkdir src && echo a > src/a
	snap-snapshot src > /dev/null
	run -128 --separate-stderr snap-rev-parse 'main@{2026-02-30}'
	[[ "$stderr" == "snap-rev-parse: fatal: 'main@{2026-02-30}': bad time '2026-02-30' "* ]]
	run -128 snap-rev-parse 'main@{2023-02-29}'
	run -0 snap-rev-parse 'main@{~2024-02-29}'
	run -128 snap-rev-parse 'main@{2026-04-31}'
}

@test "snapshot -q prints nothing, --json one object" {
	mkdir src && echo a > src/a
	run -0 --separate-stderr snap-snapshot -q src
	assert_equal "$output" ""
	assert_equal "$stderr" ""
	run -0 snap-snapshot --json -m two src
	assert_output "{\"snapshot\":\"$(snap-rev-parse main)\",\"ref\":\"refs/snapshots/main\",\"tree\":\"$(snap-rev-parse main:)\",\"status\":0}"
	run -0 python3 -m json.tool <<< "$output"
	run -129 --separate-stderr snap-snapshot -q --json src
	assert_equal "${stderr%%$'\n'*}" "snap-snapshot: error: -q and --json do not go together"
}

@test "a stream is copied into the store's objects/tmp, not TMPDIR, and the copy removed" {
	run -0 sh -c 'seq 1 20000 | TMPDIR=/nonexistent snap-snapshot -r s --stdin nums.txt'
	run -0 snap-cat-file -p s:nums.txt
	assert_equal "$(printf '%s\n' "$output" | wc -l)" 20000
	run -0 find "$SNAP_DIR/objects/tmp" -mindepth 1
	assert_output ''
}

@test "snapshot --stdin refuses a NAME no filesystem could restore (over 255 bytes)" {
	long=$(printf 'x%.0s' $(seq 1 256))
	before=$(store_listing)
	run -128 --separate-stderr sh -c "echo data | snap-snapshot --stdin $long"
	assert_equal "$stderr" "snap-snapshot: fatal: file name '$long' is longer than 255 bytes"
	assert_equal "$(store_listing)" "$before"
	run -0 sh -c "echo data | snap-snapshot -q --stdin ${long%x}"
	run -0 snap-restore main out
	assert_equal "$(cat "out/${long%x}")" data
}

@test "-jN and --jobs=N are -j N, for snapshot and restore" {
	mkdir src && echo x > src/f
	run -0 snap-snapshot -q -j1 src
	run -0 snap-snapshot -q --jobs=2 src
	run -0 snap-restore -j2 main out
	diff -r src out
	run -129 --separate-stderr snap-restore --jobs=0 main out2
	assert_equal "${stderr_lines[0]}" "snap-restore: error: -j takes 1 to 64, not '0'"
}

@test "snapshot --stdin that cannot be read says why" {
	run -128 --separate-stderr snap-snapshot --stdin f < /
	assert_equal "$stderr" "snap-snapshot: fatal: cannot read standard input: Is a directory"
	run -128 --separate-stderr sh -c 'snap-snapshot --stdin f <&-'
	assert_equal "$stderr" "snap-snapshot: fatal: cannot read standard input: Bad file descriptor"
}

@test "snapshot whose standard output cannot be written: 128 and one line with the id it took" {
	mkdir src && echo x > src/f
	run -128 --separate-stderr sh -c 'snap-snapshot src > /dev/full'
	id=$(snap-rev-parse main)
	assert_equal "$stderr" "snap-snapshot: fatal: snapshot $id taken (ref refs/snapshots/main moved), but standard output cannot be written"
}
