#!/usr/bin/env bats
# 2: refs — ref locks record their holder; a dead holder's lock is taken over

load test_helper

local_setup() {
	init_store
	mkdir src
	printf 1 > src/f
	T=$(snap-write-tree src)
	S1=$(snap-mksnapshot --time 1000 --host h -m one "$T")
	S2=$(snap-mksnapshot --time 2000 --host h -p "$S1" -m two "$T")
	snap-update-ref main "$S1"
	L="$SNAP_DIR/refs/snapshots/main.lock"
	HOST=$(hostname)
}

# A pid no process has: a child that has exited.
dead_pid() {
	sh -c 'echo $$'
}

# taken_over: the update goes through and leaves no lock.
taken_over() {
	run -0 --separate-stderr snap-update-ref main "$S2" "$S1"
	assert_equal "$stderr" ''
	assert_equal "$(snap-rev-parse main)" "$S2"
	assert_file_not_exist "$L"
}

# refused_locked MESSAGE [AGE]: the update is refused with exit 1, changing
# nothing; the lock's age in the message is AGE seconds, give or take one
# (the clock may tick between writing the lock and reading it).
refused_locked() {
	local before age
	before=$(store_listing)
	run -1 --separate-stderr snap-update-ref main "$S2" "$S1"
	age=$(printf '%s' "$stderr" | sed -n 's/.*(age \([0-9]*\) s.*/\1/p')
	[ -n "$age" ]
	[ "$age" -ge "${2:-0}" ]
	[ "$age" -le $(( ${2:-0} + 1 )) ]
	assert_equal "$(printf '%s' "$stderr" | sed 's/(age [0-9]* s/(age N s/')" "$1"
	assert_equal "$output" ''
	assert_equal "$(store_listing)" "$before"
}

@test "a ref lock records the pid and host of its holder" {
	mkfifo in
	snap-update-ref --stdin < in > out &
	pid=$!
	exec 7> in
	printf 'start\nupdate refs/snapshots/main %s %s\nprepare\n' "$S2" "$S1" >&7
	for i in $(seq 50); do grep -q 'prepare: ok' out && break; sleep 0.1; done
	run -0 cat "$L"
	exec 7>&-
	rc=0
	wait "$pid" || rc=$?
	assert_equal "$rc" 128
	[[ "$output" =~ ^$pid\ $HOST\ [0-9]+\ [-0-9a-f]+$ ]]
	assert_file_not_exist "$L"
}

@test "the lock of a dead process on this host is taken over" {
	echo "$(dead_pid) $HOST $(date +%s)" > "$L"
	taken_over
}

@test "the lock of a killed process not yet reaped (a zombie) is taken over at once" {
	python3 -c 'import os, time
pid = os.fork()
if pid == 0:
    os._exit(0)
print(pid, flush=True)
time.sleep(60)' > zpid 3>&- &
	parent=$!
	until [ -s zpid ] && grep -q '^[0-9]* ([^)]*) Z' "/proc/$(cat zpid)/stat"; do sleep 0.05; done
	kill -0 "$(cat zpid)"
	echo "$(cat zpid) $HOST $(date +%s) $(cat /proc/sys/kernel/random/boot_id 2>/dev/null || echo -)" > "$L"
	taken_over
	# And a write session it left is dead to gc.
	snap-session begin --pid "$(cat zpid)" > /dev/null
	run -0 snap-gc
	assert_line "removed 0 temporary files and 1 stale sessions"
	kill "$parent"
}

@test "the lock of a live process is refused with exit 1, naming the holder" {
	echo "$$ $HOST $(date +%s)" > "$L"
	refused_locked "snap-update-ref: fatal: ref 'refs/snapshots/main' is locked: '$L' is held by pid $$ on host '$HOST' (age N s); if that process is gone, remove it" 0
}

@test "the lock of a process on another host is never taken over" {
	echo "$(dead_pid) elsewhere.example $(( $(date +%s) - 3600 ))" > "$L"
	touch -d '-1 hour' "$L"
	refused_locked "snap-update-ref: fatal: ref 'refs/snapshots/main' is locked: '$L' is held by pid $(cut -d' ' -f1 "$L") on host 'elsewhere.example' (age N s); if that process is gone, remove it" 3600
}

@test "a lock from before the last boot is taken over, though its pid lives again" {
	[ -r /proc/sys/kernel/random/boot_id ] || skip "no boot id"
	echo "$$ $HOST $(date +%s) 00000000-0000-0000-0000-000000000000" > "$L"
	taken_over
}

@test "a lock with no holder recorded is stale once older than 10 s" {
	: > "$L"
	refused_locked "snap-update-ref: fatal: ref 'refs/snapshots/main' is locked: '$L' exists (age N s, no holder recorded); if no snap process is using the store, remove it" 0
	touch -d '-11 seconds' "$L"
	taken_over
}

@test "an old-style lock holding a ref value is stale once older than 10 s" {
	echo "$S2" > "$L"
	touch -d '-90 seconds' "$L"
	taken_over
}

@test "a lost compare-and-swap exits 1" {
	run -1 --separate-stderr snap-update-ref main "$S2" "$S2"
	assert_equal "$stderr" "snap-update-ref: fatal: ref 'refs/snapshots/main' moved: expected $S2, found $S1"
	run -1 --separate-stderr snap-update-ref main "$S2" 0000000000000000000000000000000000000000000000000000000000000000
	assert_equal "$stderr" "snap-update-ref: fatal: ref 'refs/snapshots/main' already exists (at $S1)"
	run -1 --separate-stderr sh -c "printf 'update refs/snapshots/main %s %s\n' '$S2' '$S2' | snap-update-ref --stdin"
	assert_equal "$stderr" "snap-update-ref: fatal: ref 'refs/snapshots/main' moved: expected $S2, found $S1"
	assert_equal "$(snap-rev-parse main)" "$S1"
}
