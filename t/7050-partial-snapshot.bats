#!/usr/bin/env bats
# 7: a snapshot of a live tree with entries that cannot be read whole:
# left out or kept as read, listed in the snapshot, exit status 3

load test_helper

local_setup() {
	init_store
	mkdir -p src/sub
	printf 'a\n' > src/a
	printf 'b\n' > src/b
	printf 'c\n' > src/sub/c
	export SNAP_TIME='1700000000 +0000' SNAP_HOST=h
}

teardown() {
	[ -z "${PERM:-}" ] || rm -rf "$PERM"
}

# Moves the store and src into a directory of nobody's own and runs the
# rest of the test there: root reads every file whatever its mode, so an
# unreadable entry needs a user the mode applies to.
nobody_setup() {
	command -v setpriv > /dev/null || skip "no setpriv to run as nobody"
	[ "$(id -u)" = 0 ] || skip "not root: cannot become nobody"
	PERM=$(mktemp -d /tmp/snap-partial.XXXXXX)
	chmod 755 "$PERM"
	mv "$SNAP_DIR" "$PERM/store"
	mv src "$PERM/src"
	export SNAP_DIR=$PERM/store
	chown -R 65534:65534 "$PERM"
	cd "$PERM"
}

as_nobody() {
	setpriv --reuid=nobody --regid=nogroup --clear-groups \
		env SNAP_DIR="$SNAP_DIR" PATH="$PATH" SNAP_TIME="$SNAP_TIME" SNAP_HOST=h "$@"
}

# The reflog and the value of every ref: equal when no ref moved.
refs_state() {
	snap-for-each-ref --format='%(objectname) %(refname)'
	cat "$SNAP_DIR"/logs/refs/snapshots/* 2>/dev/null || :
}

@test "an unreadable file is left out: one warning, exit 3, listed in the snapshot" {
	nobody_setup
	printf 'secret\n' > src/secret
	chmod 000 src/secret
	chown 65534:65534 src/secret
	run -3 --separate-stderr as_nobody snap-snapshot -m nightly src
	assert_equal "$stderr" "snap-snapshot: warning: secret: Permission denied, left out"
	assert_equal "$output" "$(snap-rev-parse main)"
	run -0 snap-cat-file -p main
	assert_line --index 3 'incomplete 1'
	assert_line --index 4 'problem unreadable secret'
	run -0 snap-ls-tree --name-only main
	assert_output "$(printf 'a\nb\nsub')"
	as_nobody snap-restore main out
	diff -r <(cd src && printf 'a\nb\n' | xargs cat; cat sub/c) <(cd out && cat a b sub/c)
	test ! -e out/secret
}

@test "an unreadable directory is left out, with everything beside it" {
	nobody_setup
	mkdir src/locked
	printf 'x\n' > src/locked/x
	chown -R 65534:65534 src/locked
	chmod 000 src/locked
	run -3 --separate-stderr as_nobody snap-snapshot src
	assert_equal "$stderr" "snap-snapshot: warning: locked: Permission denied, left out"
	run -0 snap-cat-file -p main
	assert_line 'problem unreadable locked'
	as_nobody snap-restore main out
	chmod 700 src/locked
	rm -r src/locked
	diff -r src out
}

@test "a directory that cannot be searched: each entry in it is listed" {
	nobody_setup
	chmod 644 src/sub
	run -3 --separate-stderr as_nobody snap-snapshot src
	assert_equal "$stderr" "snap-snapshot: warning: sub/c: Permission denied, left out"
	run -0 snap-cat-file -p main
	assert_line 'incomplete 1'
	assert_line 'problem unreadable sub/c'
	run -0 snap-ls-tree --name-only main
	assert_output "$(printf 'a\nb\nsub')"
	run -0 snap-ls-tree --name-only main sub
	assert_output ''
}

@test "root reads a file and a directory of mode 000: the snapshot is complete" {
	[ "$(id -u)" = 0 ] || skip "not root"
	chmod 000 src/a src/sub
	run -0 --separate-stderr snap-snapshot src
	assert_equal "$stderr" ''
	run -1 grep -c '^incomplete\|^problem' <(snap-cat-file -p main)
	snap-restore main out
	diff -r src out
	assert_equal "$(stat -c %a out/sub)" 0
}

@test "--strict: an unreadable file is fatal, no snapshot, refs unchanged" {
	nobody_setup
	as_nobody snap-snapshot -m first src > /dev/null
	printf 'secret\n' > src/secret
	chown 65534:65534 src/secret
	chmod 000 src/secret
	before=$(refs_state)
	run -128 --separate-stderr as_nobody snap-snapshot --strict -m second src
	assert_equal "$stderr" "snap-snapshot: fatal: cannot open 'secret': Permission denied"
	assert_output ''
	assert_equal "$(refs_state)" "$before"
	assert_equal "$(snap-log --format=%s)" first
}

@test "a file that vanishes after its directory was read is left out, exit 3" {
	SNAP_TEST_HOOK_PATH=b SNAP_TEST_HOOK_AT=listed SNAP_TEST_HOOK_CMD='rm src/b' \
		run -3 --separate-stderr snap-snapshot -m v src
	assert_equal "$stderr" "snap-snapshot: warning: b: vanished, left out"
	run -0 snap-cat-file -p main
	assert_line 'incomplete 1'
	assert_line 'problem vanished b'
	snap-restore main out
	diff -r src out
}

@test "--strict: a vanished file is fatal, refs unchanged" {
	snap-snapshot -m first src > /dev/null
	before=$(refs_state)
	SNAP_TEST_HOOK_PATH=b SNAP_TEST_HOOK_AT=listed SNAP_TEST_HOOK_CMD='rm src/b' \
		run -128 --separate-stderr snap-snapshot --strict src
	assert_equal "$stderr" "snap-snapshot: fatal: cannot stat 'b': No such file or directory"
	assert_output ''
	assert_equal "$(refs_state)" "$before"
}

@test "a file that changes on every read is kept as read the second time, flagged" {
	SNAP_TEST_HOOK_PATH=a SNAP_TEST_HOOK_AT=read SNAP_TEST_HOOK_CMD='echo more >> src/a' \
		run -3 --separate-stderr snap-snapshot src
	assert_equal "$stderr" "snap-snapshot: warning: a: changed while read, kept as read"
	run -0 snap-cat-file -p main
	assert_line 'incomplete 1'
	assert_line 'problem changed a'
	# The second read saw one append, the first; the second came after it.
	run -0 snap-cat-file -p main:a
	assert_output "$(printf 'a\nmore')"
	# The next snapshot reads it again, whole.
	run -0 --separate-stderr snap-snapshot src
	assert_equal "$stderr" ''
	run -0 snap-cat-file -p main:a
	assert_output "$(printf 'a\nmore\nmore')"
}

@test "a file that changes once is read again and the snapshot is complete" {
	SNAP_TEST_HOOK_PATH=sub/c SNAP_TEST_HOOK_AT=read \
	SNAP_TEST_HOOK_CMD='[ -e flag ] || { echo more >> src/sub/c; touch flag; }' \
		run -0 --separate-stderr snap-snapshot src
	assert_equal "$stderr" ''
	run -1 grep -c '^incomplete' <(snap-cat-file -p main)
	run -0 snap-cat-file -p main:sub/c
	assert_output "$(printf 'c\nmore')"
}

@test "a file that shrinks on every read is left out as unstable" {
	printf 'long content\n' > src/a
	# Shorter before each read than when it was stat'ed: no read ends.
	SNAP_TEST_HOOK_PATH=a SNAP_TEST_HOOK_AT=opened \
	SNAP_TEST_HOOK_CMD='truncate -s -1 src/a' \
		run -3 --separate-stderr snap-snapshot src
	assert_equal "$stderr" "snap-snapshot: warning: a: changed while read, left out"
	run -0 snap-cat-file -p main
	assert_line 'problem unstable a'
	run -0 snap-ls-tree --name-only main
	assert_output "$(printf 'b\nsub')"
}

@test "--strict: a file that changes while read is fatal" {
	before=$(refs_state)
	SNAP_TEST_HOOK_PATH=a SNAP_TEST_HOOK_AT=read SNAP_TEST_HOOK_CMD='echo more >> src/a' \
		run -128 --separate-stderr snap-snapshot --strict src
	assert_equal "$stderr" "snap-snapshot: fatal: 'a' changed while it was read"
	assert_equal "$(refs_state)" "$before"
	run -1 snap-rev-parse --verify -q main
}

@test "log and rev-list show an incomplete snapshot and its list" {
	printf 'x\n' > 'src/two words'
	SNAP_TEST_HOOK_PATH='two words' SNAP_TEST_HOOK_AT=listed SNAP_TEST_HOOK_CMD='rm "src/two words"' \
		run -3 --separate-stderr snap-snapshot -m partial src
	assert_equal "$stderr" 'snap-snapshot: warning: two\040words: vanished, left out'
	run -0 snap-log
	assert_output "$(printf 'snapshot %s\nDate:   2023-11-14 22:13:20 +0000\nHost:   h\nIncomplete: 1 problem\nProblem: vanished two\\040words\n\n    partial' "$(snap-rev-parse main)")"
	run -0 snap-log --format='%I %s'
	assert_output '1 partial'
	run -0 sh -c 'snap-log --json | python3 -c "import json,sys; r=json.load(sys.stdin); print(r[\"incomplete\"], r[\"problems\"])"'
	assert_output "1 [{'reason': 'vanished', 'path': 'two\\\\040words'}]"
}

@test "a complete snapshot shows no marker: incomplete 0, no problems" {
	snap-snapshot -m whole src > /dev/null
	run -0 snap-log --format='%I'
	assert_output 0
	run -0 snap-log
	refute_output --partial Incomplete
	run -0 sh -c 'snap-log --json | python3 -c "import json,sys; r=json.load(sys.stdin); print(r[\"incomplete\"], r[\"problems\"])"'
	assert_output '0 []'
}

@test "write-tree: exit 3, the tree printed, the --problems file" {
	SNAP_TEST_HOOK_PATH=b SNAP_TEST_HOOK_AT=listed SNAP_TEST_HOOK_CMD='rm src/b' \
		run -3 --separate-stderr snap-write-tree --problems list src
	assert_equal "$stderr" "snap-write-tree: warning: b: vanished, left out"
	assert_equal "$output" "$(snap-write-tree src)"
	assert_equal "$(cat list)" 'vanished b'
	run -0 snap-mksnapshot --problems list "$output"
	run -0 snap-cat-file -p "$output"
	assert_line 'problem vanished b'
}

@test "write-tree -q still warns of each problem" {
	SNAP_TEST_HOOK_PATH=b SNAP_TEST_HOOK_AT=listed SNAP_TEST_HOOK_CMD='rm src/b' \
		run -3 --separate-stderr snap-write-tree -q src
	assert_equal "$stderr" "snap-write-tree: warning: b: vanished, left out"
}

@test "write-tree --strict with --problems is a usage error" {
	run -129 --separate-stderr snap-write-tree --strict --problems list src
	assert_equal "${stderr%%$'\n'*}" "snap-write-tree: error: --strict and --problems cannot be combined"
	test ! -e list
}

@test "mksnapshot --problems: an empty list is a complete snapshot" {
	: > list
	tree=$(snap-write-tree src)
	run -0 snap-mksnapshot --problems list "$tree"
	assert_equal "$output" "$(snap-mksnapshot "$tree")"
}

@test "mksnapshot --problems refuses a bad line, store unchanged" {
	tree=$(snap-write-tree src)
	printf 'vanished b\nlost c\n' > list
	refused "snap-mksnapshot: fatal: 'list' line 2: bad problem line 'lost c': want REASON PATH, REASON one of unreadable, vanished, changed, unstable, PATH relative and escaped" \
		snap-mksnapshot --problems list "$tree"
	printf 'vanished ../b\n' > list
	refused "snap-mksnapshot: fatal: 'list' line 1: bad problem line 'vanished ../b': want REASON PATH, REASON one of unreadable, vanished, changed, unstable, PATH relative and escaped" \
		snap-mksnapshot --problems list "$tree"
	printf 'vanished two words\n' > list
	refused "snap-mksnapshot: fatal: 'list' line 1: bad problem line 'vanished two words': want REASON PATH, REASON one of unreadable, vanished, changed, unstable, PATH relative and escaped" \
		snap-mksnapshot --problems list "$tree"
	printf 'vanished b' > list
	refused "snap-mksnapshot: fatal: 'list' line 1: not a whole line of at most 65536 bytes" \
		snap-mksnapshot --problems list "$tree"
}

@test "more problems than a snapshot lists: all counted, the first 1000 listed" {
	tree=$(snap-write-tree src)
	seq 1 1500 | sed 's/^/vanished f/' > list
	snap=$(snap-mksnapshot --problems list "$tree")
	run -0 snap-cat-file -p "$snap"
	assert_line 'incomplete 1500'
	assert_line 'problem vanished f1000'
	refute_line 'problem vanished f1001'
	snap-update-ref refs/snapshots/main "$snap"
	run -0 snap-log
	assert_line 'Incomplete: 1500 problems, 500 not listed'
	run -0 snap-fsck
}

@test "malformed incomplete lines are refused by every reader" {
	for header in 'incomplete 0\nproblem vanished b\n' 'incomplete 2\n' 'incomplete 01\nproblem vanished b\n' \
		'incomplete 1\nproblem vanished b\nproblem vanished c\n' 'problem vanished b\n' \
		'meta k=v\nincomplete 1\nproblem vanished b\n' 'incomplete 1\nproblem gone b\n'; do
		printf "tree %s\ntime 1700000000 +0000\nhost h\n$header\nmsg\n" "$(snap-write-tree src)" > obj
		id=$(snap-hash-object -t snapshot -w obj)
		run -128 --separate-stderr snap-log "$id"
		[[ "$stderr" == "snap-log: fatal: malformed snapshot: line "* ]] || { echo "$header: $stderr"; false; }
		run -128 --separate-stderr snap-mksnapshot -p "$id" "$(snap-write-tree src)"
		[[ "$stderr" == "snap-mksnapshot: fatal: malformed snapshot: line "* ]]
	done
}

@test "a snapshot of the format before incompleteness (store-v1 fixture) reads as complete" {
	tar -xf "$FIXTURES/store-v1.tar"
	export SNAP_DIR=$PWD/store
	run -0 snap-cat-file -p main
	refute_line --partial incomplete
	run -0 snap-log --format='%I %s'
	assert_output --regexp '^0 '
	run -0 snap-fsck
	assert_output ''
}

@test "prune keeps an incomplete snapshot's marker and list when it rewrites it" {
	snap-snapshot -m one src > /dev/null
	SNAP_TEST_HOOK_PATH=b SNAP_TEST_HOOK_AT=listed SNAP_TEST_HOOK_CMD='rm src/b' \
		run -3 snap-snapshot -m two src
	printf 'b\n' > src/b
	SNAP_TIME='1700000100 +0000' snap-snapshot -m three src > /dev/null
	run -0 snap-prune --keep-last 2
	run -0 snap-log --format='%I %s'
	assert_output "$(printf '0 three\n1 two')"
	run -0 snap-cat-file -p main~1
	assert_line 'problem vanished b'
	run -0 snap-fsck
}

@test "the stat cache is kept for what was read whole beside a problem" {
	nobody_setup
	printf 'secret\n' > src/secret
	chown 65534:65534 src/secret
	chmod 000 src/secret
	# Files changed in the second the cache is made are never cached
	# (lib/statcache.h): wait for the next one, as t/6000 does.
	local t
	t=$(date +%s)
	while [ "$(date +%s)" = "$t" ]; do sleep 0.05; done
	run -3 as_nobody snap-snapshot src
	run -3 --separate-stderr as_nobody snap-snapshot --stats src
	assert_equal "$stderr" "$(printf 'snap-snapshot: warning: secret: Permission denied, left out\nsnap-snapshot: 0 files read, 3 reused')"
}

@test "a chunked file that grows on every read is kept as read, whole chunks and all" {
	make_file 3000000 src/big
	cp src/big want
	echo more >> want
	SNAP_TEST_HOOK_PATH=big SNAP_TEST_HOOK_AT=read SNAP_TEST_HOOK_CMD='echo more >> src/big' \
		run -3 --separate-stderr snap-snapshot src
	assert_equal "$stderr" "snap-snapshot: warning: big: changed while read, kept as read"
	snap-restore main out
	cmp want out/big
	run -0 snap-fsck
}

@test "a chunked file that shrinks before every read is left out" {
	make_file 3000000 src/big
	SNAP_TEST_HOOK_PATH=big SNAP_TEST_HOOK_AT=opened SNAP_TEST_HOOK_CMD='truncate -s -1000 src/big' \
		run -3 --separate-stderr snap-snapshot src
	assert_equal "$stderr" "snap-snapshot: warning: big: changed while read, left out"
	run -0 snap-ls-tree --name-only main
	assert_output "$(printf 'a\nb\nsub')"
}

@test "a name with a newline is one warning line, escaped as in trees" {
	printf 'x\n' > "src/$(printf 'new\nline')"
	SNAP_TEST_HOOK_PATH="$(printf 'new\nline')" SNAP_TEST_HOOK_AT=listed \
	SNAP_TEST_HOOK_CMD='rm src/new?line' \
		run -3 --separate-stderr snap-snapshot src
	assert_equal "$stderr" 'snap-snapshot: warning: new\012line: vanished, left out'
	run -0 snap-cat-file -p main
	assert_line 'problem vanished new\012line'
}
