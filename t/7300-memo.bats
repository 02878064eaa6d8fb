#!/usr/bin/env bats
# 7: snap-memo, the keyed result cache with single-flight runs

load test_helper

local_setup() {
	init_store
}

@test "the first call runs the command, the second prints what it printed" {
	run -0 snap-memo -- sh -c 'echo computed; echo run >> runs'
	assert_output computed
	run -0 snap-memo -- sh -c 'echo computed; echo run >> runs'
	assert_output computed
	assert_equal "$(wc -l < runs)" 1
}

@test "the default key covers the arguments and the --key-from files' contents" {
	echo one > in
	run -0 snap-memo --key-from in -- sh -c 'cat in; echo x >> runs'
	assert_output one
	echo two > in
	run -0 snap-memo --key-from in -- sh -c 'cat in; echo x >> runs'
	assert_output two
	run -0 snap-memo -- sh -c 'cat in; echo y >> runs'
	assert_equal "$(wc -l < runs)" 3
}

@test "a failing command is not kept, unless --cache-failures; its status comes back" {
	run -3 snap-memo --key f -- sh -c 'echo out; echo r >> runs; exit 3'
	assert_output out
	run -3 snap-memo --key f -- sh -c 'echo out; echo r >> runs; exit 3'
	assert_equal "$(wc -l < runs)" 2
	run -1 snap-memo --has f
	run -3 snap-memo --key g --cache-failures -- sh -c 'echo out; echo r >> runs; exit 3'
	run -3 snap-memo --key g --cache-failures -- sh -c 'echo out; echo r >> runs; exit 3'
	assert_output out
	assert_equal "$(wc -l < runs)" 3
}

@test "a command killed by a signal is never kept" {
	run -137 snap-memo --key k --cache-failures -- sh -c 'kill -9 $$'
	run -1 snap-memo --has k
}

@test "8 concurrent callers of one key run it once and print the same bytes" {
	local i
	for i in 1 2 3 4 5 6 7 8; do
		snap-memo --key conc -- sh -c 'echo run >> runs; sleep 1; echo "result $$"' > "out.$i" &
	done
	wait
	assert_equal "$(wc -l < runs)" 1
	assert_equal "$(cat out.* | sort -u | wc -l)" 1
	run -0 grep -c result out.1
	assert_output 1
	run -0 snap-memo --stats
	assert_line 'key conc 7 1 '"$(snap-memo --stats | awk '$2 == "conc" {print $5}')"
}

@test "a killed claimant is taken over at once" {
	snap-memo --key dead -- sh -c 'echo $$ > cmd.pid; echo run >> runs; exec sleep 30' &
	local pid=$! i
	for i in $(seq 100); do [ -s runs ] && break; sleep 0.05; done
	kill -9 "$pid"
	# The command dies with the claimant that ran it.
	for i in $(seq 100); do kill -0 "$(cat cmd.pid)" 2>/dev/null || break; sleep 0.05; done
	run -1 kill -0 "$(cat cmd.pid)"
	run -0 timeout 5 snap-memo --key dead -- sh -c 'echo run >> runs; echo second'
	assert_output second
	assert_equal "$(wc -l < runs)" 2
}

@test "a live claimant is waited for up to --timeout, then one line naming it" {
	snap-memo --key slow -- sh -c 'echo run >> runs; sleep 3; echo slow' > /dev/null &
	local i
	for i in $(seq 100); do [ -s runs ] && break; sleep 0.05; done
	run -128 --separate-stderr snap-memo --key slow --timeout 0.3 -- echo fast
	[[ "$stderr" == "snap-memo: fatal: memo key 'slow' is being computed by pid "*" on host '"*"' since "*" s; gave up after 0.3 s" ]]
	assert_output ''
	wait
}

@test "--get, --has, --put, --delete" {
	echo stored | snap-memo --put p
	run -0 snap-memo --get p
	assert_output stored
	run -0 snap-memo --has p
	run -0 snap-memo --delete p
	run -1 snap-memo --delete p
	run -1 snap-memo --get p
	assert_output ''
	run -1 snap-memo --has p
}

@test "hits and misses are counted exactly" {
	snap-memo --key a -- echo 1 >/dev/null
	snap-memo --key a -- echo 1 >/dev/null
	snap-memo --key a -- echo 1 >/dev/null
	snap-memo --key b -- echo 2 >/dev/null
	snap-memo --get b >/dev/null
	run -1 snap-memo --get c
	run -0 snap-memo --stats
	assert_line --index 0 'entries 2'
	assert_line --index 1 'bytes 4'
	assert_line --index 2 'hits 3'
	assert_line --index 3 'misses 2'
	assert_line --index 4 'hit-rate 0.6000'
	run -0 sh -c "snap-memo --stats --json | head -n1"
	assert_output '{"entries":2,"bytes":4,"hits":3,"misses":2,"hit_rate":0.6000}'
}

@test "--list, --list --json" {
	snap-memo --key a -- echo 1 >/dev/null
	snap-memo --key b --cache-failures -- sh -c 'echo 22; exit 4' >/dev/null || :
	run -0 snap-memo --list
	assert_line --index 0 --regexp '^a 0 2 [0-9]+$'
	assert_line --index 1 --regexp '^b 4 3 [0-9]+$'
	run -0 sh -c "snap-memo --list --json | python3 -c 'import json,sys; print([(r[\"key\"], r[\"status\"], r[\"size\"]) for r in map(json.loads, sys.stdin)])'"
	assert_output "[('a', 0, 2), ('b', 4, 3)]"
}

@test "--batch gets and puts many keys" {
	printf 'put x 3\nabcput y 0\nget x\nget y\nget z\n' > batch
	run -0 snap-memo --batch < batch
	assert_output "$(printf 'x stored\ny stored\nx 3 0\nabc\ny 0 0\n\nz missing')"
}

@test "entries are snapshots that fsck checks and gc keeps" {
	snap-memo --key kept -- echo value >/dev/null
	age_objects
	run -0 snap-gc --prune=now
	run -0 snap-fsck
	run -0 snap-memo --get kept
	assert_output value
	run -0 snap-rev-parse refs/memo/kept:stdout
}

@test "bad keys and bad calls are refused before anything changes" {
	local before
	before=$(store_listing)
	run -129 --separate-stderr snap-memo --key 'a/b' -- echo x
	assert_equal "${stderr_lines[0]}" "snap-memo: error: bad memo key 'a/b' (1 to 128 of A-Z a-z 0-9 . _ -, not starting with '.')"
	run -129 --separate-stderr snap-memo --key x
	assert_equal "${stderr_lines[0]}" 'snap-memo: error: no command given (snap-memo [OPTIONS] -- CMD [ARGS...])'
	run -129 --separate-stderr snap-memo --get a --has b
	run -129 --separate-stderr snap-memo --timeout -1 -- echo
	run -128 --separate-stderr snap-memo --key-from /nonexistent -- echo
	assert_equal "$stderr" "snap-memo: fatal: cannot read '/nonexistent': No such file or directory"
	assert_equal "$(store_listing)" "$before"
}

@test "--timeout is decimal seconds only: no hexadecimal, exponent, sign or infinity" {
	local before n
	before=$(store_listing)
	for n in 0x10 1e3 +1 ' 1' inf nan 1. .5 ''; do
		run -129 --separate-stderr snap-memo --key t --timeout "$n" -- echo x
		assert_equal "${stderr_lines[0]}" "snap-memo: error: --timeout takes seconds, not '$n'"
	done
	assert_equal "$(store_listing)" "$before"
	run -0 snap-memo --key t --timeout 0.25 -- echo x
	assert_output x
	run -0 snap-memo --key u --timeout 30 -- echo y
	assert_output y
}

@test "a command that cannot be run: 127, nothing kept" {
	run -127 --separate-stderr snap-memo --key nx -- /nonexistent/cmd
	assert_equal "$stderr" "snap-memo: fatal: cannot run '/nonexistent/cmd': No such file or directory"
	run -1 snap-memo --has nx
}

@test "--batch refuses a NUL in a line and a SIZE with a leading zero" {
	run -128 --separate-stderr sh -c "printf 'get b1\\0x\\n' | snap-memo --batch"
	assert_equal "$stderr" "snap-memo: fatal: batch line 1: holds a NUL byte"
	run -128 --separate-stderr sh -c "printf 'put b4 01\\nx' | snap-memo --batch"
	assert_equal "$stderr" "snap-memo: fatal: batch line 1: want 'put KEY SIZE' (SIZE up to 1 GiB)"
	run -1 snap-memo --has b4
}

# Refs, object counts and every file of the store: equal before and after
# a refusal that changed nothing.
store_state() {
	snap-for-each-ref
	snap-count-objects
	store_listing
}

# A claim of pid 4242 on another host since $1 (seconds), as that host's
# snap-memo writes it on a shared store; no flock of this host holds it.
far_claim() {
	mkdir -p "$SNAP_DIR/memo/claims"
	echo "4242 $1 other-host.invalid" > "$SNAP_DIR/memo/claims/$2"
}

@test "a fresh claim of another host is waited for: its holder's entry is printed" {
	far_claim "$(date +%s)" far
	snap-memo --key far --timeout 30 -- sh -c 'echo run >> runs; echo mine' > out 2> err &
	local pid=$! rc=0
	sleep 1
	assert_file_not_exists runs
	# The other host's holder stores its result and lets go.
	echo theirs | snap-memo --put far
	rm "$SNAP_DIR/memo/claims/far"
	wait "$pid" || rc=$?
	assert_equal "$rc" 0
	assert_equal "$(cat out)" theirs
	assert_equal "$(cat err)" ''
	assert_file_not_exists runs
}

@test "a fresh claim of another host is taken over once older than --timeout, not before" {
	local t0 t1
	far_claim "$(date +%s)" far
	t0=$(date +%s%N)
	run -0 --separate-stderr snap-memo --key far --timeout 2 -- sh -c 'echo run >> runs; echo mine'
	t1=$(date +%s%N)
	assert_output mine
	assert_equal "$stderr" ''
	assert_equal "$(wc -l < runs)" 1
	# The claim was at most 1 s old when the caller came.
	(( t1 - t0 >= 1000000000 ))
}

@test "a claim of another host older than --timeout is taken over at once" {
	far_claim "$(($(date +%s) - 100))" far
	run -0 --separate-stderr timeout 5 snap-memo --key far --timeout 10 -- sh -c 'echo run >> runs; echo mine'
	assert_output mine
	assert_equal "$stderr" ''
	run -0 snap-memo --get far
	assert_output mine
}

@test "a key that is no ref name ('..') is refused before any object is written" {
	local before
	before=$(store_state)
	run -129 --separate-stderr sh -c "echo x | snap-memo --put 'a..b'"
	assert_equal "${stderr_lines[0]}" "snap-memo: error: bad memo key 'a..b': invalid ref name 'refs/memo/a..b': contains '..'"
	assert_equal "$output" ''
	assert_equal "$(store_state)" "$before"
	run -129 --separate-stderr snap-memo --key 'x..' -- sh -c 'echo run >> runs'
	assert_equal "${stderr_lines[0]}" "snap-memo: error: bad memo key 'x..': invalid ref name 'refs/memo/x..': contains '..'"
	assert_file_not_exists runs
	assert_equal "$(store_state)" "$before"
	run -128 --separate-stderr sh -c "printf 'put a..b 1\nx' | snap-memo --batch"
	assert_equal "$stderr" "snap-memo: fatal: batch line 1: bad memo key 'a..b': invalid ref name 'refs/memo/a..b': contains '..'"
	assert_equal "$output" ''
	assert_equal "$(store_state)" "$before"
}

@test "--batch is all or nothing: a bad line after good puts changes nothing" {
	local before
	echo old | snap-memo --put x
	before=$(store_state)
	run -128 --separate-stderr sh -c "printf 'put x 3\nnewput y 3\nabcget x\nbogus line\n' | snap-memo --batch"
	assert_equal "$stderr" "snap-memo: fatal: batch line 4: unknown command 'bogus'"
	assert_equal "$output" ''
	assert_equal "$(store_state)" "$before"
	run -128 --separate-stderr sh -c "printf 'put y 3\nabcput z 9\nshort' | snap-memo --batch"
	assert_equal "$stderr" "snap-memo: fatal: batch line 2: standard input ended inside 9 bytes of 'z'"
	assert_equal "$(store_state)" "$before"
	run -128 --separate-stderr sh -c "printf 'put y 3\nabcget .bad\n' | snap-memo --batch"
	assert_equal "$stderr" "snap-memo: fatal: batch line 2: bad memo key '.bad' (1 to 128 of A-Z a-z 0-9 . _ -, not starting with '.')"
	assert_equal "$(store_state)" "$before"
	run -0 snap-memo --get x
	assert_output old
	run -1 snap-memo --has y
}

@test "--batch: a get sees the puts before it in the batch; of two puts of a key the last is kept" {
	echo old | snap-memo --put x
	printf 'get x\nput x 3\nnewget x\nput x 4\nlastget x\n' > batch
	run -0 snap-memo --batch < batch
	assert_output "$(printf 'x 4 0\nold\n\nx stored\nx 3 0\nnew\nx stored\nx 4 0\nlast')"
	run -0 snap-memo --get x
	assert_output last
	run -0 snap-fsck --no-dangling
	assert_output ''
}

@test "a claim file that is a symlink is never written through" {
	mkdir -p "$SNAP_DIR/memo/claims"
	echo victim > victim
	ln -s "$PWD/victim" "$SNAP_DIR/memo/claims/k"
	ln -s "$PWD/absent" "$SNAP_DIR/memo/claims/k2"
	run -128 --separate-stderr snap-memo --key k -- echo hello
	assert_equal "$stderr" "snap-memo: fatal: cannot open '$SNAP_DIR/memo/claims/k': Too many levels of symbolic links"
	run -128 --separate-stderr snap-memo --key k2 -- echo hello
	assert_equal "$(cat victim)" victim
	[ ! -e absent ]
}

@test "a claim of another host dated ahead of this host's clock: the refusal says so, not a negative age" {
	far_claim "$(($(date +%s) + 100))" far
	run -128 --separate-stderr timeout 20 snap-memo --key far --timeout 1 -- echo mine
	assert_regex "$stderr" "^snap-memo: fatal: memo key 'far' is being computed by pid 4242 on host 'other-host.invalid', claimed (99|100|101) s ahead of this host's clock; gave up after 1 s$"
}
