#!/usr/bin/env bats
# 9: off the machine — snap-push, snap-fetch and snap-serve, to a local
# path (a child snap-serve), through a stand-in for ssh that runs the
# command here (to tamper with the stream), and through a real OpenSSH
# server on 127.0.0.1.

load test_helper

ZERO=0000000000000000000000000000000000000000000000000000000000000000

local_setup() {
	init_store "$BATS_TEST_TMPDIR/local"
	snap-init -q "$BATS_TEST_TMPDIR/remote"
	R="$BATS_TEST_TMPDIR/remote"
	mkdir -p src/sub
	echo hello > src/a
	echo world > src/sub/b
	make_file 3000000 src/big
}

# The ids of the remote's refs, one "ID NAME" a line.
remote_refs() {
	SNAP_DIR=$R snap-show-ref || true
}

# A stand-in for ssh: drops ssh's options and host, runs the remote
# command here with its input through FILTER and its output through
# OUTFILTER (default cat).  It becomes
# the remote command (exec), so that its end is the connection's end, as
# with ssh.  With FORCED set, it runs that instead, as sshd runs a forced
# command, with the command asked for in SSH_ORIGINAL_COMMAND.
fake_ssh() {
	cat > fakessh <<'EOF'
#!/bin/bash
while [ $# -gt 1 ]; do case $1 in -p) shift 2;; *) shift;; esac; done
if [ -n "$FORCED" ]; then
	export SSH_ORIGINAL_COMMAND=$1
	exec sh -c "$FORCED"
fi
exec sh -c "$1" < <(${FILTER:-cat} 2>/dev/null) > >(${OUTFILTER:-cat} 2>/dev/null)
EOF
	chmod +x fakessh
	export SNAP_SSH_COMMAND="$BATS_TEST_TMPDIR/fakessh"
}

# kill_trial_tree: a snapshot of src with 40 more files and a large one,
# for kill trials; sets id, total (objects) and bytes of the store.
kill_trial_tree() {
	for i in $(seq 1 40); do echo "file $i" > src/f$i; done
	make_file 600000 src/big2
	snap-snapshot -r main src >/dev/null
	id=$(snap-rev-parse main)
	total=$(snap-count-objects --json | jfield objects)
	bytes=$(snap-count-objects --json | jfield bytes)
}

# after_cut_push URL: after a push was cut, nothing is visible on the
# remote $R and it is sound; a push to URL then sends only what it lacks
# and leaves it whole, with no lock.
after_cut_push() {
	assert_equal "$(remote_refs)" ''
	run -0 env SNAP_DIR=$R snap-fsck
	have=$(SNAP_DIR=$R snap-count-objects --json | jfield objects)
	run -0 snap-push --json "$1"
	assert_equal "$(echo "$output" | jfield objects_sent)" $((total - have))
	assert_equal "$(remote_refs)" "$id refs/snapshots/main"
	run -0 env SNAP_DIR=$R snap-fsck
	assert_equal "$(find "$R" -name '*.lock')" ''
}

# cutter: passes the first $CUT bytes, then kills -9 the nearest process
# above it named $TARGET (snap-push by default; as FILTER of the fake ssh
# its parent is snap-serve, as OUTFILTER of a fetch it is below
# snap-serve, below snap-fetch).
make_cutter() {
	cat > cutter <<'EOF'
#!/bin/sh
python3 -c '
import os, sys
n = int(sys.argv[1])
while n > 0:
    b = os.read(0, min(65536, n))
    if not b:
        break
    os.write(1, b)
    n -= len(b)
' "$CUT"
p=$PPID
while [ "$p" -gt 1 ]; do
	if [ "$(cat /proc/$p/comm 2>/dev/null)" = "${TARGET:-snap-push}" ]; then kill -9 "$p"; break; fi
	p=$(awk '{print $4}' /proc/$p/stat 2>/dev/null || echo 1)
done
EOF
	chmod +x cutter
}

# flip.py: passes its input through, with the byte after the first
# CORRUPT-ME-MARKER flipped.
make_flipper() {
	cat > flip.py <<'EOF'
import os, sys
m = b'CORRUPT-ME-MARKER'
pending, done = b'', False
while True:
    b = os.read(0, 65536)
    if not b:
        break
    pending += b
    if not done:
        i = pending.find(m)
        if i >= 0 and i + len(m) < len(pending):
            j = i + len(m)
            pending = pending[:j] + bytes([pending[j] ^ 1]) + pending[j + 1:]
            done = True
    keep = 0
    if not done:
        for k in range(len(m) - 1, 0, -1):
            if pending.endswith(m[:k]):
                keep = k
                break
    out, pending = pending[:len(pending) - keep], pending[len(pending) - keep:]
    os.write(1, out)
os.write(1, pending)
EOF
}

@test "a first push copies everything; a fetch into an empty store restores identical" {
	snap-snapshot -r main src >/dev/null
	run -0 --separate-stderr snap-push --json "$R"
	assert_equal "$stderr" ''
	id=$(snap-rev-parse main)
	assert_equal "$(remote_refs)" "$id refs/snapshots/main"
	total=$(snap-count-objects --json | jfield objects)
	assert_equal "$(echo "$output" | jfield objects_sent)" "$total"
	run -0 env SNAP_DIR=$R snap-fsck
	snap-init -q third
	run -0 env SNAP_DIR=$PWD/third snap-fetch -q "$R"
	assert_output ''
	assert_equal "$(SNAP_DIR=$PWD/third snap-rev-parse main)" "$id"
	SNAP_DIR=$PWD/third snap-restore main "$PWD/out"
	run -0 diff -r src out
	run -0 env SNAP_DIR=$PWD/third snap-fsck
}

@test "the text report: one line per ref and a count" {
	snap-snapshot -r main src >/dev/null
	id=$(snap-rev-parse main)
	run -0 --separate-stderr snap-push "$R"
	assert_line -n 0 "created refs/snapshots/main $ZERO $id"
	assert_line -n 1 --regexp '^sent [0-9]+ objects, [0-9]+ bytes$'
}

@test "an unchanged push sends no object and no byte" {
	snap-snapshot -r main src >/dev/null
	snap-push -q "$R"
	before=$(store_listing "$R")
	run -0 snap-push --json "$R"
	id=$(snap-rev-parse main)
	assert_output "{\"refs\":[{\"name\":\"refs/snapshots/main\",\"status\":\"up-to-date\",\"old\":\"$id\",\"new\":\"$id\"}],\"objects_sent\":0,\"bytes_sent\":0}"
	assert_equal "$(store_listing "$R")" "$before"
}

@test "a push after a small change sends only the new objects" {
	snap-snapshot -r main src >/dev/null
	snap-push -q "$R"
	echo changed >> src/a
	snap-snapshot -r main src >/dev/null
	run -0 snap-push --json "$R"
	# The changed blob, the root tree and the snapshot; not the 3 MB file.
	assert_equal "$(echo "$output" | jfield objects_sent)" 3
	bytes=$(echo "$output" | jfield bytes_sent)
	[ "$bytes" -lt 2000 ]
	assert_equal "$(remote_refs)" "$(snap-rev-parse main) refs/snapshots/main"
	run -0 env SNAP_DIR=$R snap-fsck
}

@test "content back to what an older remote snapshot held: its blob is not sent again" {
	snap-snapshot -r main src >/dev/null
	cp src/big big.orig
	echo 1 > src/big
	snap-snapshot -r main src >/dev/null
	echo 2 > src/big
	snap-snapshot -r main src >/dev/null
	snap-push -q "$R"
	cp big.orig src/big
	snap-snapshot -r main src >/dev/null
	run -0 snap-push --json "$R"
	# The root tree and the snapshot; the 3 MB blob is on the remote.
	assert_equal "$(echo "$output" | jfield objects_sent)" 2
	run -0 env SNAP_DIR=$R snap-fsck
}

@test "a fetch sends only what the fetching store lacks" {
	snap-snapshot -r main src >/dev/null
	snap-push -q "$R"
	snap-init -q third
	SNAP_DIR=$PWD/third snap-fetch -q "$R"
	echo more >> src/sub/b
	snap-snapshot -r main src >/dev/null
	snap-push -q "$R"
	run -0 env SNAP_DIR=$PWD/third snap-fetch --json "$R"
	assert_equal "$(echo "$output" | jfield objects_received)" 4
	assert_equal "$(SNAP_DIR=$PWD/third snap-rev-parse main)" "$(snap-rev-parse main)"
	id=$(snap-rev-parse main)
	run -0 env SNAP_DIR=$PWD/third snap-fetch "$R"
	assert_output "up-to-date refs/snapshots/main $id $id
received 0 objects, 0 bytes"
}

@test "named refs: only those are pushed; a missing one is refused" {
	snap-snapshot -r main src >/dev/null
	snap-snapshot -r other src >/dev/null
	run -0 snap-push -q "$R" other
	assert_equal "$(remote_refs)" "$(snap-rev-parse other) refs/snapshots/other"
	refused "snap-push: fatal: ref 'refs/snapshots/nope' not found" snap-push "$R" nope
}

@test "a push that is not a fast-forward is refused, the remote unchanged" {
	snap-snapshot -r main src >/dev/null
	snap-push -q "$R"
	theirs=$(snap-rev-parse main)
	snap-update-ref -d main
	echo other > src/a
	snap-snapshot -r main src >/dev/null
	before=$(store_listing "$R")
	run -1 --separate-stderr snap-push "$R"
	assert_equal "$stderr" "snap-push: fatal: ref 'refs/snapshots/main' not pushed: not a fast-forward of the remote's $theirs (fetch first, or --force-with-lease)"
	assert_output ''
	assert_equal "$(store_listing "$R")" "$before"
}

@test "--force-with-lease: refused when the remote moved, accepted when it holds what we expect" {
	snap-snapshot -r main src >/dev/null
	snap-push -q "$R"
	theirs=$(snap-rev-parse main)
	snap-update-ref -d main
	echo other > src/a
	snap-snapshot -r main src >/dev/null
	ours=$(snap-rev-parse main)
	run -1 --separate-stderr snap-push --force-with-lease=main:$ZERO "$R"
	assert_equal "$stderr" "snap-push: fatal: ref 'refs/snapshots/main' not pushed: the remote holds $theirs, not the $ZERO the lease expects"
	assert_equal "$(remote_refs)" "$theirs refs/snapshots/main"
	run -0 snap-push --force-with-lease=main:$theirs "$R"
	assert_line -n 0 "forced refs/snapshots/main $theirs $ours"
	assert_equal "$(remote_refs)" "$ours refs/snapshots/main"
	run -0 env SNAP_DIR=$R snap-fsck
}

@test "bare --force-with-lease forces from the value the remote advertised" {
	snap-snapshot -r main src >/dev/null
	snap-push -q "$R"
	theirs=$(snap-rev-parse main)
	snap-update-ref -d main
	echo other > src/a
	snap-snapshot -r main src >/dev/null
	run -0 snap-push --force-with-lease "$R"
	assert_line -n 0 "forced refs/snapshots/main $theirs $(snap-rev-parse main)"
	run -0 env SNAP_DIR=$R snap-fsck
}

@test "a ref that moves on the remote during the push: refused by its compare-and-swap" {
	snap-snapshot -r main src >/dev/null
	snap-push -q "$R"
	first=$(snap-rev-parse main)
	echo two >> src/a
	snap-snapshot -r main src >/dev/null
	fake_ssh
	# Deletes the remote's ref after the advertisement, before the push.
	cat > mover <<EOF
#!/bin/sh
# The client writes only after it read the advertisement.
head -c 4
SNAP_DIR=$R snap-update-ref -d main $first
exec cat
EOF
	chmod +x mover
	run -1 --separate-stderr env FILTER="$PWD/mover" snap-push localhost:"$R"
	assert_equal "$stderr" "snap-push: fatal: remote: ref 'refs/snapshots/main' moved: expected $first, found $ZERO"
	assert_output ''
	assert_equal "$(remote_refs)" ''
}

@test "--delete removes a ref on the remote" {
	snap-snapshot -r main src >/dev/null
	snap-push -q "$R"
	id=$(snap-rev-parse main)
	run -0 snap-push --delete "$R" main
	assert_line -n 0 "deleted refs/snapshots/main $id $ZERO"
	assert_equal "$(remote_refs)" ''
}

@test "append-only: deletion and forced updates refused, fast-forwards accepted" {
	snap-snapshot -r main src >/dev/null
	snap-push -q --serve-path="snap-serve --append-only" "$R"
	theirs=$(snap-rev-parse main)
	fake_ssh
	run -1 --separate-stderr snap-push --serve-path="snap-serve --append-only" --delete localhost:"$R" main
	assert_equal "$stderr" "snap-push: fatal: remote: ref 'refs/snapshots/main' not deleted: the store is append-only"
	assert_equal "$(remote_refs)" "$theirs refs/snapshots/main"
	snap-update-ref -d main
	echo other > src/a
	snap-snapshot -r main src >/dev/null
	run -1 --separate-stderr snap-push --serve-path="snap-serve --append-only" --force-with-lease=main:$theirs localhost:"$R"
	assert_equal "$stderr" "snap-push: fatal: remote: ref 'refs/snapshots/main' not updated: not a fast-forward, and the store is append-only"
	assert_equal "$(remote_refs)" "$theirs refs/snapshots/main"
	run -0 env SNAP_DIR=$R snap-fsck
	snap-update-ref main "$theirs" "$(snap-rev-parse main)"
	echo more >> src/a
	snap-snapshot -r main src >/dev/null
	run -0 snap-push -q --serve-path="snap-serve --append-only" localhost:"$R"
	assert_equal "$(remote_refs)" "$(snap-rev-parse main) refs/snapshots/main"
}

@test "append-only in the store's config: snap-serve refuses deletion; gc and prune refuse to run" {
	snap-snapshot -r main src >/dev/null
	snap-push -q "$R"
	chmod u+w "$R/config"
	echo 'append-only = true' >> "$R/config"
	chmod u-w "$R/config"
	run -1 --separate-stderr snap-push --delete "$R" main
	assert_equal "$stderr" "snap-push: fatal: remote: ref 'refs/snapshots/main' not deleted: the store is append-only"
	SNAP_DIR=$R refused "snap-gc: fatal: store '$R' is append-only: nothing is deleted from it" snap-gc
	SNAP_DIR=$R refused "snap-prune: fatal: store '$R' is append-only: nothing is deleted from it" snap-prune --keep-last 1 --all
	run -0 env SNAP_DIR=$R snap-gc --dry-run
}

@test "a bad append-only value in config is refused" {
	chmod u+w "$R/config"
	echo 'append-only = maybe' >> "$R/config"
	run -128 --separate-stderr env SNAP_DIR=$R snap-show-ref
	assert_equal "$stderr" "snap-show-ref: fatal: bad value 'maybe' of 'append-only' in '$R/config' (true or false)"
}

@test "a byte flipped in transit: refused, no ref moves, the remote fscks clean" {
	printf 'CORRUPT-ME-MARKER and then some more bytes\n' > src/victim
	snap-snapshot -r main src >/dev/null
	make_flipper
	fake_ssh
	victim=$(snap-hash-object src/victim)
	run -128 --separate-stderr env FILTER="python3 $PWD/flip.py" snap-push localhost:"$R"
	assert_output ''
	assert_regex "$stderr" "^snap-push: fatal: remote: object $victim arrived damaged: its bytes hash to [0-9a-f]{64}$"
	assert_equal "$(remote_refs)" ''
	run -1 env SNAP_DIR=$R snap-cat-file -e "$victim"
	run -0 env SNAP_DIR=$R snap-fsck
	# Without the tampering the same push goes through.
	run -0 snap-push -q localhost:"$R"
	assert_equal "$(remote_refs)" "$(snap-rev-parse main) refs/snapshots/main"
}

@test "a byte flipped in transit of a fetch: refused, no local ref moves" {
	printf 'CORRUPT-ME-MARKER and then some more bytes\n' > src/victim
	snap-snapshot -r main src >/dev/null
	snap-push -q "$R"
	make_flipper
	fake_ssh
	snap-init -q third
	victim=$(snap-hash-object src/victim)
	run -128 --separate-stderr env SNAP_DIR=$PWD/third OUTFILTER="python3 $PWD/flip.py" snap-fetch localhost:"$R"
	assert_output ''
	assert_regex "$stderr" "^snap-fetch: fatal: object $victim arrived damaged: its bytes hash to [0-9a-f]{64}$"
	assert_equal "$(SNAP_DIR=$PWD/third snap-show-ref)" ''
	run -1 env SNAP_DIR=$PWD/third snap-cat-file -e "$victim"
	run -0 env SNAP_DIR=$PWD/third snap-fsck
	run -0 env SNAP_DIR=$PWD/third snap-fetch -q localhost:"$R"
	assert_equal "$(SNAP_DIR=$PWD/third snap-rev-parse main)" "$(snap-rev-parse main)"
}

@test "the pushing side killed mid-transfer: nothing visible; the next push sends only what is missing" {
	kill_trial_tree
	make_cutter
	fake_ssh
	# Cuts spread over the whole transfer; make stress runs more.
	local trials=${SNAP_PUSH_TRIALS:-50}
	for trial in $(seq 1 "$trials"); do
		rm -rf "$R" && snap-init -q "$R"
		cut=$((bytes * trial / (trials + 1) + 100))
		# run returns once every holder of its stderr has exited: the
		# far side too, which has then kept what it verified.  The
		# push dies by the kill or by the write that met the cut.
		run env FILTER="$PWD/cutter" CUT=$cut snap-push -q localhost:"$R"
		[ "$status" -eq 137 ] || [ "$status" -eq 128 ]
		after_cut_push "$R"
	done
}

@test "the serving side killed mid-transfer: nothing visible, no lock left; the next push sends only what is missing" {
	kill_trial_tree
	make_cutter
	fake_ssh
	local trials=${SNAP_PUSH_TRIALS:-50}
	trials=$(((trials + 1) / 2))
	for trial in $(seq 1 "$trials"); do
		rm -rf "$R" && snap-init -q "$R"
		cut=$((bytes * trial / (trials + 1) + 100))
		run env FILTER="$PWD/cutter" CUT=$cut TARGET=snap-serve snap-push -q localhost:"$R"
		assert_equal "$status" 128
		after_cut_push localhost:"$R"
	done
}

@test "a fetch killed mid-transfer: nothing visible here, no lock left; the next fetch completes it" {
	kill_trial_tree
	snap-push -q "$R"
	make_cutter
	fake_ssh
	local trials=${SNAP_PUSH_TRIALS:-50} here=$PWD/here
	trials=$(((trials + 1) / 2))
	for trial in $(seq 1 "$trials"); do
		rm -rf "$here" && snap-init -q "$here"
		cut=$((bytes * trial / (trials + 1) + 100))
		run env SNAP_DIR=$here OUTFILTER="$PWD/cutter" CUT=$cut TARGET=snap-fetch \
			snap-fetch -q localhost:"$R"
		[ "$status" -eq 137 ] || [ "$status" -eq 128 ]
		run -1 env SNAP_DIR=$here snap-show-ref
		assert_output ''
		run -0 env SNAP_DIR=$here snap-fsck
		run -0 env SNAP_DIR=$here snap-fetch -q localhost:"$R"
		assert_equal "$(SNAP_DIR=$here snap-rev-parse main)" "$id"
		run -0 env SNAP_DIR=$here snap-fsck
		assert_equal "$(find "$here" -name '*.lock')" ''
	done
}

@test "a client that sends a snapshot without its tree: refused as incomplete, no ref moves" {
	snap-snapshot -r main src >/dev/null
	id=$(snap-rev-parse main)
	tree=$(snap-rev-parse main:)
	snap-cat-file snapshot "$id" > payload
	export PYTHONPATH=$BATS_TEST_DIRNAME
	cat > client.py <<'EOF'
import sys
import pushclient
store, oid, payload = sys.argv[1], sys.argv[2], open(sys.argv[3], 'rb').read()
c = pushclient.Push(store, oid)
c.frame(b'pack 1\n')
c.frame(b'object %s snapshot %d\n' % (oid.encode(), len(payload)))
c.frame(payload)
c.flush()
c.finish()
EOF
	run -128 --separate-stderr python3 client.py "$R" "$id" payload
	assert_output "error incomplete transfer: object $tree is missing"
	assert_equal "$stderr" ''
	assert_equal "$(remote_refs)" ''
	run -0 env SNAP_DIR=$R snap-fsck
}

@test "a gc --prune=now on the remote in the middle of a push takes nothing the push needs" {
	snap-snapshot -r main src >/dev/null
	cat > gcer <<EOF
#!/bin/sh
# Passes half the push, runs gc on the remote, then the rest.
python3 -c '
import os
n = 1500000
while n > 0:
    b = os.read(0, min(65536, n))
    if not b:
        break
    os.write(1, b)
    n -= len(b)
'
SNAP_DIR=$R snap-gc --prune=now >/dev/null
exec cat
EOF
	chmod +x gcer
	fake_ssh
	run -0 env FILTER="$PWD/gcer" snap-push -q localhost:"$R"
	assert_equal "$(remote_refs)" "$(snap-rev-parse main) refs/snapshots/main"
	run -0 env SNAP_DIR=$R snap-fsck
	SNAP_DIR=$R snap-restore main "$PWD/out"
	run -0 diff -r src out
}

@test "bad remotes: a host starting with '-', an empty path, a bad port" {
	refused "snap-push: fatal: remote '-oProxyCommand=x:store': bad host '-oProxyCommand=x'" snap-push -- -oProxyCommand=x:store
	refused "snap-push: fatal: remote 'host:': no path after the host" snap-push host:
	refused "snap-push: fatal: remote 'ssh://host:22x/s': bad port '22x'" snap-push ssh://host:22x/s
	refused "snap-fetch: fatal: remote 'ssh://host': expected ssh://[USER@]HOST[:PORT]/PATH" snap-fetch ssh://host
}

@test "a remote path that is not a store: one line, 128" {
	snap-snapshot -r main src >/dev/null
	run -128 --separate-stderr snap-push "$PWD/nothing"
	assert_equal "$stderr" "snap-push: fatal: remote '$PWD/nothing' is not a snap store"
	mkdir empty
	run -128 --separate-stderr snap-fetch "$PWD/empty"
	assert_equal "$stderr" "snap-fetch: fatal: remote '$PWD/empty' is not a snap store"
	# Through ssh (or another serve command) the far side says it.
	fake_ssh
	run -128 --separate-stderr snap-push localhost:"$PWD/nothing"
	assert_equal "${stderr_lines[0]}" "snap-serve: fatal: store '$PWD/nothing' does not exist"
}

@test "fetch: not a fast-forward refused unless --force" {
	snap-snapshot -r main src >/dev/null
	snap-push -q "$R"
	remote=$(snap-rev-parse main)
	snap-update-ref -d main
	echo mine > src/a
	snap-snapshot -r main src >/dev/null
	mine=$(snap-rev-parse main)
	run -1 --separate-stderr snap-fetch "$R"
	assert_equal "$stderr" "snap-fetch: fatal: ref 'refs/snapshots/main' not updated: not a fast-forward of this store's $mine (--force)"
	assert_equal "$(snap-rev-parse main)" "$mine"
	run -0 snap-fetch -q --force "$R"
	assert_equal "$(snap-rev-parse main)" "$remote"
	refused "snap-fetch: fatal: ref 'refs/snapshots/nope' is not on the remote" snap-fetch "$R" nope
}

@test "--restrict: the path asked for must be the store served" {
	snap-snapshot -r main src >/dev/null
	snap-init -q elsewhere
	fake_ssh
	export FORCED="snap-serve --restrict $R"
	run -0 snap-push -q localhost:"$R"
	assert_equal "$(remote_refs)" "$(snap-rev-parse main) refs/snapshots/main"
	run -128 --separate-stderr snap-push localhost:"$PWD/elsewhere"
	assert_equal "${stderr_lines[0]}" "snap-serve: fatal: access denied: '$PWD/elsewhere' is not the store served here"
	run -128 --separate-stderr snap-push --serve-path="sh -c id" localhost:"$R"
	assert_equal "${stderr_lines[0]}" "snap-serve: fatal: access denied: only 'snap-serve PATH' is allowed here"
	run -128 --separate-stderr snap-push --serve-path="snap-serve --append-only" localhost:"$R"
	assert_equal "${stderr_lines[0]}" "snap-serve: fatal: access denied: only 'snap-serve PATH' is allowed here"
	assert_equal "$(SNAP_DIR=$PWD/elsewhere snap-show-ref)" ''
}

@test "a truncated or garbled greeting is one line, 128" {
	fake_ssh
	cat > garble <<'EOF'
#!/bin/sh
printf 'zzzzversion 1\n'
EOF
	chmod +x garble
	export SNAP_SSH_COMMAND="$PWD/garble"
	refused "snap-fetch: fatal: malformed frame length 'zzzz'" snap-fetch localhost:/x
	printf '#!/bin/sh\nprintf "000eversion 9\\n0000"\n' > garble
	refused "snap-fetch: fatal: remote speaks protocol version 9, not 1 or 2" snap-fetch localhost:/x
	printf '#!/bin/sh\nprintf "0010version 9\\n0000"\n' > garble
	refused "snap-fetch: fatal: protocol error: control character in a control frame" snap-fetch localhost:/x
	printf '#!/bin/sh\nprintf "000eversion 1\\n0048ref "\n' > garble
	refused "snap-fetch: fatal: remote 'localhost:/x' closed the connection in its greeting" snap-fetch localhost:/x
}

# ---- a real OpenSSH server on 127.0.0.1 ----

start_sshd() {
	[ -x /usr/sbin/sshd ] || skip "no /usr/sbin/sshd"
	. "$BATS_TEST_DIRNAME/sshd.sh"
	sshd_start "$BATS_TEST_TMPDIR/ssh" || return 1
	PORT=$SSHD_PORT
	export SNAP_SSH_COMMAND="$SSHD_SSH"
}

teardown() {
	if [ -n "${SSHD_PID:-}" ]; then
		kill "$SSHD_PID" 2>/dev/null || true
		wait "$SSHD_PID" 2>/dev/null || true
	fi
}

@test "over OpenSSH: push, unchanged push, fetch into an empty store, restore identical" {
	start_sshd
	snap-snapshot -r main src >/dev/null
	id=$(snap-rev-parse main)
	run -0 --separate-stderr snap-push --json --serve-path="$SNAP_BUILD/bin/snap-serve" 127.0.0.1:"$R"
	assert_equal "$stderr" ''
	assert_equal "$(remote_refs)" "$id refs/snapshots/main"
	run -0 snap-push --json --serve-path="$SNAP_BUILD/bin/snap-serve" "ssh://root@127.0.0.1:$PORT$R"
	assert_equal "$(echo "$output" | jfield objects_sent)" 0
	snap-init -q third
	run -0 env SNAP_DIR=$PWD/third snap-fetch -q --serve-path="$SNAP_BUILD/bin/snap-serve" 127.0.0.1:"$R"
	SNAP_DIR=$PWD/third snap-restore main "$PWD/out"
	run -0 diff -r src out
	run -0 env SNAP_DIR=$R snap-fsck
}

@test "over OpenSSH: a forced command with --restrict serves its store only" {
	start_sshd
	snap-init -q elsewhere
	d=$BATS_TEST_TMPDIR/ssh
	echo "command=\"$SNAP_BUILD/bin/snap-serve --restrict $R\" $(cat "$d/client.pub")" > "$d/authorized_keys"
	snap-snapshot -r main src >/dev/null
	run -0 snap-push -q 127.0.0.1:"$R"
	assert_equal "$(remote_refs)" "$(snap-rev-parse main) refs/snapshots/main"
	run -128 --separate-stderr snap-push -q 127.0.0.1:"$PWD/elsewhere"
	assert_equal "${stderr_lines[0]}" "snap-serve: fatal: access denied: '$PWD/elsewhere' is not the store served here"
	assert_equal "$(SNAP_DIR=$PWD/elsewhere snap-show-ref)" ''
}

@test "prune, gc, then push and fetch: no force needed, ids stable, the pruned record travels" {
	local i ids
	for i in 1 2 3 4 5; do
		echo "$i" > "src/n$i"
		SNAP_TIME=$((1000000 + i * 86400)) snap-snapshot -m "s$i" src > /dev/null
	done
	run -0 snap-push "$R"
	snap-prune --keep-last 2 > /dev/null
	find "$SNAP_DIR/objects" -type f -exec touch -d '3 days ago' {} +
	snap-gc --prune=now > /dev/null
	ids=$(snap-rev-list main)
	echo 6 > src/n6
	snap-snapshot -m s6 src > /dev/null
	# To the remote that has the whole old history: a fast-forward.
	run -0 snap-push "$R"
	run -0 env SNAP_DIR="$R" snap-fsck
	# To an empty store: what was pruned is not asked for, the record comes along.
	snap-init -q fresh
	run -0 snap-push "$BATS_TEST_TMPDIR/fresh"
	run -0 env SNAP_DIR="$BATS_TEST_TMPDIR/fresh" snap-fsck
	assert_output ''
	run -0 env SNAP_DIR="$BATS_TEST_TMPDIR/fresh" snap-rev-list main
	assert_output "$(snap-rev-list main)"
	[[ "$output" == *"$ids"* ]]
	run -0 cmp "$SNAP_DIR/pruned" "$BATS_TEST_TMPDIR/fresh/pruned"
	# And a fetch into an empty store, then a restore.
	snap-init -q fetched
	run -0 env SNAP_DIR="$BATS_TEST_TMPDIR/fetched" snap-fetch "$SNAP_DIR"
	run -0 env SNAP_DIR="$BATS_TEST_TMPDIR/fetched" snap-fsck
	assert_output ''
	run -0 env SNAP_DIR="$BATS_TEST_TMPDIR/fetched" snap-restore main out
	run -0 diff -r src out
}

@test "named remotes: add, list, get-url, push and fetch by name, remove; bad names refused" {
	run -0 snap-remote add far "$R"
	run -0 snap-remote add --ssh 'ssh -p 2222' other host:/srv/snap
	run -0 snap-remote
	assert_output "far
other"
	run -0 snap-remote -v
	assert_output "$(printf 'far\t%s\nother\thost:/srv/snap' "$R")"
	run -0 snap-remote get-url other
	assert_output "host:/srv/snap"
	snap-snapshot src > /dev/null
	run -0 snap-push far
	run -0 env SNAP_DIR="$R" snap-rev-parse main
	assert_output "$(snap-rev-parse main)"
	snap-init -q back
	run -0 env SNAP_DIR="$BATS_TEST_TMPDIR/back" snap-remote add origin "$SNAP_DIR"
	run -0 env SNAP_DIR="$BATS_TEST_TMPDIR/back" snap-fetch origin
	run -0 env SNAP_DIR="$BATS_TEST_TMPDIR/back" snap-rev-parse main
	assert_output "$(snap-rev-parse main)"
	local before
	before=$(store_listing)
	refused "snap-remote: fatal: remote 'far' exists (snap-remote remove far first)" snap-remote add far /x
	refused "snap-remote: fatal: bad remote name '-x' (letters, digits and ._-, not first . or -)" snap-remote add -- -x /x
	refused "snap-remote: fatal: bad remote name 'a/b' (letters, digits and ._-, not first . or -)" snap-remote add a/b /x
	refused "snap-remote: fatal: no remote 'nope'" snap-remote remove nope
	refused "snap-remote: fatal: a URL is one line" snap-remote add two "$(printf 'a\nb')"
	run -0 snap-remote remove other
	run -0 snap-remote
	assert_output far
	# A remote file without a url is one line naming it.
	printf 'ssh = ssh\n' > "$SNAP_DIR/remotes/broken"
	run -128 --separate-stderr snap-push broken
	assert_equal "$stderr" "snap-push: fatal: remote 'broken': no url in '$SNAP_DIR/remotes/broken'"
}

# A chain of N snapshots on main of the store $1 (default the local one).
chain() {
	local store=${2:-$SNAP_DIR} i
	for i in $(seq 1 "$1"); do
		echo "$store $i" > src/c
		SNAP_DIR=$store snap-snapshot -m "c$i" src > /dev/null
	done
}

@test "a fetch takes none of the remote's pruned record for history this store holds" {
	chain 4
	run -0 snap-push -q "$R"
	SNAP_DIR=$R snap-prune --keep-last 1 > /dev/null
	echo z > src/z
	SNAP_DIR=$R snap-snapshot -r other src > /dev/null
	local before
	before=$(snap-rev-list main)
	run -0 snap-fetch -q "$R" other
	run -0 snap-rev-list main
	assert_output "$before"
	assert_file_not_exist "$SNAP_DIR/pruned"
	find "$SNAP_DIR/objects" -type f -exec touch -d '3 days ago' {} +
	snap-gc --prune=now > /dev/null
	run -0 snap-rev-list main
	assert_output "$before"
	run -0 snap-fsck --no-dangling
	assert_output ''
}

@test "after a prune, push and fetch are fast-forwards, to an append-only remote too; a refused one changes nothing" {
	echo 'append-only = true' >> "$R/config"
	chain 3
	run -0 snap-push -q "$R"
	chain 2
	snap-prune --keep-last 1 > /dev/null
	# Before gc here: the pruned snapshots are still present.
	run -0 snap-push -q "$R"
	assert_equal "$(SNAP_DIR=$R snap-rev-parse main)" "$(snap-rev-parse main)"
	chain 2
	snap-prune --keep-last 1 > /dev/null
	find "$SNAP_DIR/objects" -type f -exec touch -d '3 days ago' {} +
	snap-gc --prune=now > /dev/null
	# After gc: gone here, passed over by both sides' checks.
	run -0 snap-push -q "$R"
	assert_equal "$(SNAP_DIR=$R snap-rev-parse main)" "$(snap-rev-parse main)"
	# The remote keeps all it had: 3 + 1 + 1 snapshots, none taken as pruned.
	run -0 env SNAP_DIR="$R" snap-rev-list main
	assert_equal "${#lines[@]}" 5
	run -0 env SNAP_DIR="$R" snap-fsck --no-dangling
	assert_output ''
	# A fetch whose tip the remote pruned is a fast-forward too.
	snap-init -q mirror
	run -0 env SNAP_DIR="$BATS_TEST_TMPDIR/mirror" snap-fetch -q "$R"
	local m=$BATS_TEST_TMPDIR/mirror
	echo x > src/x
	SNAP_DIR=$R snap-snapshot src > /dev/null 2>&1 || :
	# A refused push (not a fast-forward) leaves the remote as it was.
	snap-init -q other
	SNAP_DIR=$BATS_TEST_TMPDIR/other snap-snapshot src > /dev/null
	local before record
	before=$(remote_refs)
	record=$(cat "$R/pruned" 2>/dev/null || :)
	run -1 env SNAP_DIR="$BATS_TEST_TMPDIR/other" snap-push -q --force-with-lease "$R"
	# Refs and record as they were (what arrived verified is kept, unreferenced).
	assert_equal "$(remote_refs)" "$before"
	assert_equal "$(cat "$R/pruned" 2>/dev/null || :)" "$record"
}

@test "a hostile client's pruned frames cannot hide or free what an append-only server holds" {
	chain 3
	run -0 snap-push -q "$R"
	local tip mid old
	tip=$(SNAP_DIR=$R snap-rev-parse main)
	mid=$(SNAP_DIR=$R snap-rev-parse main~1)
	old=$(SNAP_DIR=$R snap-rev-parse main~2)
	local new
	# A good new snapshot the server lacks only the object of: the tip's tree.
	new=$(snap-mksnapshot "$(snap-rev-parse main:)" -p "$tip" -m evil)
	# Sent by hand: the new snapshot, and entries naming the server's own.
	cat > evil.py <<'PY'
import subprocess, sys
store, new, mid, old, tip = sys.argv[1:6]
snap = subprocess.run(['snap-cat-file', 'snapshot', new], capture_output=True, check=True).stdout
p = subprocess.Popen(['snap-serve', '--append-only', store], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
def frame(b): p.stdin.write(b'%04x' % (len(b) + 4) + b)
def flush(): p.stdin.write(b'0000'); p.stdin.flush()
def read_until_flush():
    while True:
        n = int(p.stdout.read(4), 16)
        if n == 0: return
        p.stdout.read(n - 4)
read_until_flush()
frame(b'push\n')
frame(('update %s %s refs/snapshots/main\n' % (tip, new)).encode()); flush()
read_until_flush()
ids = sorted([mid, old])
for i in ids:
    frame(('pruned %s\n' % i).encode())
frame(b'pack 1\n')
frame(('object %s snapshot %d\n' % (new, len(snap))).encode())
frame(snap)
flush()
read_until_flush()
p.stdin.close(); p.wait()
PY
	run -0 python3 evil.py "$R" "$new" "$mid" "$old" "$tip"
	# The push itself is a good one: it lands.
	assert_equal "$(SNAP_DIR=$R snap-rev-parse main)" "$new"
	run -0 env SNAP_DIR="$R" snap-rev-list main
	[[ "$output" == *"$mid"* && "$output" == *"$old"* ]]
	if [ -f "$R/pruned" ]; then
		run -1 grep -e "$mid" -e "$old" "$R/pruned"
	fi
}

@test "a push whose own pruned record cannot be read fails at once with one line" {
	chain 1
	mkdir "$SNAP_DIR/pruned"
	run -128 --separate-stderr timeout 20 snap-push "$R"
	[[ "$stderr" == "snap-push: fatal: "*"pruned record"* ]]
	[ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ]
}

@test "restore --from REMOTE: a ref of a remote restored with no store here; the temporary store goes" {
	snap-snapshot -r main src >/dev/null
	echo more > src/c
	snap-snapshot -r main src >/dev/null
	snap-push -q "$R"
	mkdir elsewhere && cd elsewhere
	run -0 env -u SNAP_DIR snap restore --from "$R" main out
	diff -r ../src out
	run -0 env -u SNAP_DIR snap restore --from "$R" main~1 old
	assert_equal "$(ls old)" 'a
big
sub'
	assert_equal "$(ls -A)" 'old
out'
	# A remote's name is looked up in the store at hand, its ssh command too.
	cd .. && fake_ssh
	snap remote add --ssh "$SNAP_SSH_COMMAND" bk "localhost:$R"
	before=$(store_listing)
	run -0 env -u SNAP_SSH_COMMAND snap restore -q --from bk main named
	diff -r src named
	assert_equal "$(store_listing)" "$before"
	assert_equal "$(ls -A | grep snap-restore)" ''
}

@test "restore --from into a DIR whose parent it may not write: the temporary store goes to TMPDIR" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to run as nobody"
	snap-snapshot -r main src >/dev/null
	snap-push -q "$R"
	chmod -R a+rX "$R" src
	d=$BATS_TEST_TMPDIR
	while [ "$d" != / ]; do chmod a+x "$d"; [ "$d" != "$BATS_RUN_TMPDIR" ] || break; d=${d%/*}; done
	mkdir -m 755 top && mkdir top/mnt && chown 65534:65534 top/mnt
	mkdir -m 777 scratch
	run -0 setpriv --reuid=65534 --regid=65534 --clear-groups env -u SNAP_DIR PATH="$PATH" \
		TMPDIR="$PWD/scratch" snap restore -q --from "$R" main top/mnt
	diff -r src top/mnt
	assert_equal "$(stat -c %u top/mnt/a)" 65534
	assert_equal "$(ls -A scratch top)" 'scratch:

top:
mnt'
}

@test "restore --from REMOTE refuses a ref the remote lacks and a REV that names no ref; nothing is left" {
	snap-snapshot -r main src >/dev/null
	snap-push -q "$R"
	run -128 --separate-stderr snap restore --from "$R" nosuch out
	assert_equal "$stderr" "snap-restore: fatal: ref 'refs/snapshots/nosuch' is not on the remote"
	run -129 --separate-stderr snap restore --from "$R" '~1' out
	assert_equal "${stderr_lines[0]}" "snap-restore: error: --from needs REV to begin with a ref name, not '~1'"
	run -128 --separate-stderr snap restore --from "$BATS_TEST_TMPDIR/none" main out
	assert_equal "$stderr" "snap-restore: fatal: remote '$BATS_TEST_TMPDIR/none' is not a snap store"
	[ ! -e out ]
	assert_equal "$(ls -A | grep snap-restore)" ''
}

@test "restore --from never replaces nor writes into a store: the remote's, nor the one at hand" {
	snap-snapshot -r main src >/dev/null
	snap-push -q "$R"
	mkdir -p P && mv "$R" P/backup && R=$PWD/P/backup && echo keep > P/notes
	run -128 --separate-stderr env -u SNAP_DIR snap restore --from "$R" --force main P
	assert_equal "$stderr" "snap-restore: fatal: 'P' holds the store; a restore never replaces it"
	assert_equal "$(ls P)" 'backup
notes'
	run -128 --separate-stderr env -u SNAP_DIR snap restore --from "$R" main "$R/refs/snapshots/evil"
	assert_equal "$stderr" "snap-restore: fatal: '$R/refs/snapshots/evil' is inside the store"
	run -0 env SNAP_DIR=$R snap-fsck
	# the store at hand ($SNAP_DIR): neither replaced nor written into
	run -128 --separate-stderr snap restore --from "$R" --force main "$SNAP_DIR/.."
	assert_equal "$stderr" "snap-restore: fatal: '$(cd "$SNAP_DIR/.." && pwd -P)' holds the store; a restore never replaces it"
	run -128 --separate-stderr snap restore --from "$R" main "$SNAP_DIR/refs/snapshots/x"
	assert_equal "$stderr" "snap-restore: fatal: '$SNAP_DIR/refs/snapshots/x' is inside the store"
	run -0 snap-fsck
	assert_equal "$(ls -A P | grep -c snap-restore)" 0
}

@test "--progress: one meter of the objects sent or received, on the client's stderr only; -q wins" {
	snap-snapshot -r main src >/dev/null
	run -0 --separate-stderr snap-push --progress --json "$R"
	n=$(echo "$output" | jfield objects_sent)
	[[ "$stderr" =~ snap-push:\ objects\ $n/$n\ \(100%\) ]]
	[[ "$stderr" != *snap-serve* ]]
	# The meter ends its line: the last line is its own.
	assert_equal "$(printf '%s' "$stderr" | tr '\r' '\n' | grep -c .)" "$(printf '%s' "$stderr" | tr '\r' '\n' | grep -c 'snap-push: objects')"
	snap-init -q back
	run -0 --separate-stderr env SNAP_DIR=$PWD/back snap-fetch --progress --json "$R"
	assert_equal "$(echo "$output" | jfield objects_received)" "$n"
	[[ "$stderr" =~ snap-fetch:\ objects\ $n/$n\ \(100%\) ]]
	[[ "$stderr" != *snap-serve* ]]
	echo more > src/more
	snap-snapshot -r main src >/dev/null
	run -0 --separate-stderr snap-push --progress -q "$R"
	assert_equal "$stderr" ''
	assert_output ''
	# SNAP_PROGRESS=1 (a terminal's default) is no different.
	rm -rf back2 && snap-init -q back2
	run -0 --separate-stderr env SNAP_PROGRESS=1 SNAP_DIR=$PWD/back2 snap-fetch -q "$R"
	assert_equal "$stderr" ''
	run -0 --separate-stderr env SNAP_PROGRESS=1 SNAP_DIR=$PWD/back2 snap-fetch "$R"
	[[ "$stderr" != *snap-serve* ]]
}

@test "a fetch that fails writing (a full disk) says so once: the server it hung up on adds nothing" {
	local i
	for i in 1 2 3 4 5 6; do make_file $((3000000 + i)) "src/f$i"; done
	SNAP_DIR=$R snap-snapshot src > /dev/null
	run -128 --separate-stderr env SNAP_FAULT='write@objects/tmp/pack-:1:ENOSPC' snap-fetch -q "$R"
	[[ "$stderr" =~ ^"snap-fetch: fatal: cannot write '$SNAP_DIR/objects/tmp/pack-"[^\']+"': No space left on device"$ ]]
	run -0 snap-fetch -q "$R"
	assert_equal "$(snap-rev-parse main)" "$(SNAP_DIR=$R snap-rev-parse main)"
}
