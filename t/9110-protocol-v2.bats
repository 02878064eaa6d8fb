#!/usr/bin/env bats
# 9: transfer protocol version 2 — asked for by the client through
# SNAP_PROTOCOL, greeted only when asked, objects crossing compressed in
# zbatch records; version 1 peers still served; hostile zbatches refused.

load test_helper

local_setup() {
	init_store "$BATS_TEST_TMPDIR/local"
	snap-init -q "$BATS_TEST_TMPDIR/remote"
	R="$BATS_TEST_TMPDIR/remote"
	mkdir -p src
	# Text that compresses well, in objects below the chunking threshold.
	seq 1 100000 > src/numbers
	echo hello > src/a
	# A stand-in for ssh that runs the remote command here (or $FORCED,
	# as sshd runs a forced command), its input copied to "wire".
	cat > fakessh <<'EOF'
#!/bin/bash
while [ $# -gt 1 ]; do case $1 in -p) shift 2;; *) shift;; esac; done
if [ -n "$FORCED" ]; then
	export SSH_ORIGINAL_COMMAND=$1
	exec sh -c "$FORCED" < <(tee -a "$WIRE")
fi
exec sh -c "$1" < <(tee -a "$WIRE")
EOF
	chmod +x fakessh
	export SNAP_SSH_COMMAND="$BATS_TEST_TMPDIR/fakessh" WIRE="$BATS_TEST_TMPDIR/wire"
	# A serve program that records the SNAP_PROTOCOL it was run with.
	printf '#!/bin/sh\necho "${SNAP_PROTOCOL-unset}" >> "%s/seen"\nexec snap-serve "$@"\n' \
		"$BATS_TEST_TMPDIR" > serve-seen
	# One that runs snap-serve as an old one would behave: without it.
	printf '#!/bin/sh\nexec env -u SNAP_PROTOCOL snap-serve "$@"\n' > serve-v1
	chmod +x serve-seen serve-v1
}

remote_refs() {
	SNAP_DIR=$R snap-show-ref || true
}

# greeting [ENV...]: the first frame snap-serve sends, run with ENV.
greeting() {
	env "$@" snap-serve "$R" < /dev/null | head -c 14 | tail -c 10
}

@test "serve greets with version 2 only when SNAP_PROTOCOL is exactly 2" {
	assert_equal "$(greeting -u SNAP_PROTOCOL)" 'version 1'
	assert_equal "$(greeting SNAP_PROTOCOL=2)" 'version 2'
	assert_equal "$(greeting SNAP_PROTOCOL=1)" 'version 1'
	assert_equal "$(greeting SNAP_PROTOCOL=3)" 'version 1'
	assert_equal "$(greeting SNAP_PROTOCOL=2x)" 'version 1'
	assert_equal "$(greeting SNAP_PROTOCOL=)" 'version 1'
}

@test "a local-path remote runs serve with SNAP_PROTOCOL=2" {
	snap-snapshot -r main src >/dev/null
	run -0 snap-push -q --serve-path="$PWD/serve-seen" "$R"
	run -0 snap-fetch -q --serve-path="$PWD/serve-seen" "$R"
	assert_equal "$(cat seen)" "$(printf '2\n2')"
}

# A hostile client pushing main's snapshot in one zbatch record: the file
# "batch" holds what the frame should decompress to (the snapshot's record
# line and payload), ZFILE what it sends as the frame; N, SIZE and CSIZE
# in the environment what the record announces (default 1, batch's and
# ZFILE's lengths).
hostile() {
	export PYTHONPATH=$BATS_TEST_DIRNAME
	cat > client.py <<'EOF'
import os, sys
import pushclient
store, oid, zfile = sys.argv[1:4]
z = open(zfile, 'rb').read()
n = int(os.environ.get('N', '1'))
size = int(os.environ.get('SIZE', os.path.getsize('batch')))
csize = int(os.environ.get('CSIZE', len(z)))
c = pushclient.Push(store, oid)
c.frame(b'pack %d\n' % max(n, 1))
c.frame(b'zbatch %d %d %d\n' % (n, size, csize))
for i in range(0, len(z), 1000):
    c.frame(z[i:i + 1000])
c.flush()
c.finish()
EOF
	snap-snapshot -r main src >/dev/null
	id=$(snap-rev-parse main)
	tree=$(snap-rev-parse main:)
	snap-cat-file snapshot "$id" > payload
	n=$(stat -c %s payload)
	{ echo "$id snapshot $n"; cat payload; } > batch
	zstd -q -c batch > batch.zst
	before=$(store_listing "$R")
}

# refused_push MESSAGE ZFILE [VAR=VALUE...]: the push is refused with
# exactly "error MESSAGE" to the client, serve exits 128, the remote
# unchanged.
refused_push() {
	local msg=$1 z=$2
	shift 2
	run -128 --separate-stderr env SNAP_PROTOCOL=2 "$@" python3 client.py "$R" "$id" "$z"
	assert_output "error $msg"
	assert_equal "$stderr" ''
	assert_equal "$(store_listing "$R")" "$before"
}

@test "a sound zbatch from a hostile client is taken and verified as an object would be" {
	hostile
	run -128 --separate-stderr env SNAP_PROTOCOL=2 python3 client.py "$R" "$id" batch.zst
	assert_output "error incomplete transfer: object $tree is missing"
	assert_equal "$(remote_refs)" ''
}

@test "a zbatch whose frame holds more or less than its size is refused as damaged" {
	hostile
	{ cat batch; echo more; } | zstd -q -c > more.zst
	m=$(stat -c %s batch)
	refused_push "a zbatch of 1 object arrived damaged: its zstd frame holds more than $m bytes" more.zst
	head -c -1 batch | zstd -q -c > less.zst
	refused_push "a zbatch of 1 object arrived damaged: its zstd frame holds $((m - 1)) bytes, not $m" less.zst
}

@test "a zbatch whose bytes are not a zstd frame, or whose frame is followed by more, is refused as damaged" {
	hostile
	printf 'these bytes are no zstd frame at all' > bad.zst
	refused_push "a zbatch of 1 object arrived damaged: its zstd frame is bad: Unknown frame descriptor" bad.zst
	{ cat batch.zst; printf 'junk'; } > trailing.zst
	refused_push "a zbatch of 1 object arrived damaged: bytes follow its zstd frame" trailing.zst
}

@test "a zbatch whose record gives more bytes than its frame is refused, not waited for" {
	hostile
	c=$(( $(stat -c %s batch.zst) + 5000 ))
	refused_push "a zbatch of 1 object arrived damaged: its zstd frame ends before the $c bytes its record gives" \
		batch.zst CSIZE=$c
	refused_push "a zbatch of 1 object arrived damaged: its data runs past the 10 bytes its record gives" \
		batch.zst CSIZE=10
}

@test "an object in a zbatch that does not hash to its id, or does not fit it, is refused as damaged" {
	hostile
	other=$(echo x | snap-hash-object --stdin)
	{ echo "$other snapshot $n"; cat payload; } | zstd -q -c > wrong.zst
	refused_push "object $other arrived damaged: its bytes hash to $id" wrong.zst
	{ cat batch; printf 'x'; } > more && zstd -q -c more > more.zst
	refused_push "a zbatch of 1 object arrived damaged: 1 bytes follow its last object" more.zst SIZE=$(stat -c %s more)
	{ echo "$id snapshot $((n + 1))"; cat payload; } > long && zstd -q -c long > long.zst
	refused_push "a zbatch of 1 object arrived damaged: object $id runs past its end" long.zst SIZE=$(stat -c %s long)
	{ echo "$id snapshot x$n"; cat payload; } > bad && zstd -q -c bad > bad.zst
	refused_push "a zbatch of 1 object arrived damaged: object 1 has a malformed record line" bad.zst SIZE=$(stat -c %s bad)
	{ cat batch; cat batch; } > two && zstd -q -c two > two.zst
	refused_push "a zbatch of 3 objects arrived damaged: object 3 has no record line" two.zst N=3 SIZE=$(stat -c %s two)
}

@test "a malformed or oversized zbatch record is refused; version 1 knows no zbatch" {
	hostile
	local m c
	m=$(stat -c %s batch)
	c=$(stat -c %s batch.zst)
	refused_push "protocol error: malformed zbatch record, got 'zbatch 1 $m 0'" batch.zst CSIZE=0
	refused_push "protocol error: malformed zbatch record, got 'zbatch 0 $m $c'" batch.zst N=0
	refused_push "protocol error: malformed zbatch record, got 'zbatch 9 100 $c'" batch.zst N=9 SIZE=100
	refused_push "a zbatch of 9000000 bytes is too big" batch.zst SIZE=9000000
	run -128 --separate-stderr env -u SNAP_PROTOCOL python3 client.py "$R" "$id" batch.zst
	assert_output --partial "error protocol error: expected an object record"
	assert_equal "$(store_listing "$R")" "$before"
}

# wire_push SERVE: a push of src to R through fakessh with serve program
# SERVE; prints the bytes the client sent.
wire_push() {
	rm -f "$WIRE"
	snap-push -q --serve-path="$1" localhost:"$R" >&2
	stat -c %s "$WIRE"
}

@test "over ssh: version 2 sends objects compressed; a version 1 server is still served" {
	snap-snapshot -r main src >/dev/null
	v2=$(wire_push "$SNAP_BUILD/bin/snap-serve")
	grep -q zbatch "$WIRE"
	run -0 env SNAP_DIR=$R snap-fsck
	snap-init -q v1
	R=$BATS_TEST_TMPDIR/v1
	v1=$(wire_push "$PWD/serve-v1")
	! grep -q zbatch "$WIRE"
	assert_equal "$(remote_refs)" "$(snap-rev-parse main) refs/snapshots/main"
	run -0 env SNAP_DIR=$R snap-fsck
	# The numbers compress about 4x: version 2 sends well under half.
	[ $((v2 * 2)) -lt "$v1" ]
	# Fetched back through each, into empty stores, restored identical.
	for serve in "$SNAP_BUILD/bin/snap-serve" "$PWD/serve-v1"; do
		rm -rf back out
		snap-init -q back
		run -0 env SNAP_DIR=$PWD/back snap-fetch -q --serve-path="$serve" localhost:"$R"
		SNAP_DIR=$PWD/back snap-restore -q main out
		run -0 diff -r src out
	done
}

@test "version 2: many objects, large and chunked ones among them, cross in several zbatches and come back identical" {
	mkdir -p src/many
	for i in $(seq 1 300); do seq 1 $((i * 20)) > "src/many/f$i"; done
	make_file 3000000 src/big
	head -c 5000000 /dev/urandom > src/noise
	snap-snapshot -r main src >/dev/null
	rm -f "$WIRE"
	run -0 snap-push --json localhost:"$R"
	[ "$(grep -c zbatch "$WIRE")" -ge 2 ]
	run -0 env SNAP_DIR=$R snap-fsck
	assert_output ''
	snap-init -q back
	run -0 env SNAP_DIR=$PWD/back snap-fetch -q localhost:"$R"
	SNAP_DIR=$PWD/back snap-restore -q main out
	run -0 diff -r src out
	# Unchanged: nothing crosses.
	run -0 snap-push --json localhost:"$R"
	assert_equal "$(echo "$output" | jfield objects_sent)" 0
}

@test "--restrict: 'env SNAP_PROTOCOL=2' ahead of snap-serve PATH asks for version 2, and nothing else is let through" {
	snap-snapshot -r main src >/dev/null
	export FORCED="snap-serve --restrict $R"
	run -0 snap-push -q localhost:"$R"
	grep -q zbatch "$WIRE"
	assert_equal "$(remote_refs)" "$(snap-rev-parse main) refs/snapshots/main"
	local cmd
	for cmd in "env SNAP_PROTOCOL=2 sh -c id $R" "env FOO=1 snap-serve $R" "env SNAP_PROTOCOL=2" \
		"SNAP_PROTOCOL=2 snap-serve $R" "env SNAP_PROTOCOL=2 snap-serve --append-only $R"; do
		run -128 --separate-stderr env SSH_ORIGINAL_COMMAND="$cmd" snap-serve --restrict "$R"
		assert_equal "$stderr" "snap-serve: fatal: access denied: only 'snap-serve PATH' is allowed here"
	done
	run -128 --separate-stderr env SSH_ORIGINAL_COMMAND="env SNAP_PROTOCOL=2 snap-serve /tmp" snap-serve --restrict "$R"
	assert_equal "$stderr" "snap-serve: fatal: access denied: '/tmp' is not the store served here"
	# A forced command greets with 1 unless the request asked for 2.
	assert_equal "$(env SSH_ORIGINAL_COMMAND="snap-serve $R" snap-serve --restrict "$R" </dev/null | head -c 14 | tail -c 10)" 'version 1'
	assert_equal "$(env SSH_ORIGINAL_COMMAND="env SNAP_PROTOCOL=2 snap-serve $R" snap-serve --restrict "$R" </dev/null | head -c 14 | tail -c 10)" 'version 2'
}

teardown() {
	if [ -n "${SSHD_PID:-}" ]; then
		kill "$SSHD_PID" 2>/dev/null || true
		wait "$SSHD_PID" 2>/dev/null || true
	fi
}

@test "over OpenSSH: a forced command with --restrict speaks version 2; without it the login shell runs env(1)" {
	[ -x /usr/sbin/sshd ] || skip "no /usr/sbin/sshd"
	. "$BATS_TEST_DIRNAME/sshd.sh"
	sshd_start "$BATS_TEST_TMPDIR/ssh"
	d=$BATS_TEST_TMPDIR/ssh
	echo "command=\"$SNAP_BUILD/bin/snap-serve --restrict $R\" $(cat "$d/client.pub")" > "$d/authorized_keys"
	printf '#!/bin/bash\nexec %s "$@" < <(tee -a "$WIRE")\n' "$SSHD_SSH" > realssh
	chmod +x realssh
	export SNAP_SSH_COMMAND="$PWD/realssh"
	snap-snapshot -r main src >/dev/null
	run -0 snap-push -q 127.0.0.1:"$R"
	grep -q zbatch "$WIRE"
	assert_equal "$(remote_refs)" "$(snap-rev-parse main) refs/snapshots/main"
	snap-init -q back
	run -0 env SNAP_DIR=$PWD/back snap-fetch -q 127.0.0.1:"$R"
	run -0 env SNAP_DIR=$PWD/back snap-fsck
	# Without the forced command, the login shell runs the request.
	cp "$d/client.pub" "$d/authorized_keys"
	rm -rf back && snap-init -q back
	run -0 env SNAP_DIR=$PWD/back snap-fetch -q --serve-path="$SNAP_BUILD/bin/snap-serve" 127.0.0.1:"$R"
	SNAP_DIR=$PWD/back snap-restore -q main out
	run -0 diff -r src out
}
