#!/usr/bin/env bats
# 9: transfer protocol version 2 — asked for by the client through
# SNAP_PROTOCOL, greeted only when asked, objects crossing compressed as
# zobject records; version 1 peers still served; hostile zobjects refused.

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

# A hostile client pushing a snapshot as one zobject record: ZFILE holds
# what it sends as the frame, CSIZE (default its length) what it
# announces.
hostile() {
	cat > client.py <<'EOF'
import subprocess, sys
store, oid, payload, zfile = sys.argv[1:5]
size = len(open(payload, 'rb').read())
z = open(zfile, 'rb').read()
csize = int(sys.argv[5]) if len(sys.argv) > 5 else len(z)
p = subprocess.Popen(['snap-serve', store], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
def frame(b):
    p.stdin.write(b'%04x' % (len(b) + 4) + b)
def flush():
    p.stdin.write(b'0000')
    p.stdin.flush()
def read():
    n = int(p.stdout.read(4), 16)
    return p.stdout.read(n - 4) if n else None
while read() is not None:
    pass
frame(b'push\n')
frame(b'update ' + b'0' * 64 + b' ' + oid.encode() + b' refs/snapshots/main\n')
flush()
assert read() == b'ready\n' and read() is None
frame(b'pack 1\n')
frame(b'zobject %s snapshot %d %d\n' % (oid.encode(), size, csize))
for i in range(0, len(z), 1000):
    frame(z[i:i + 1000])
flush()
sys.stdout.write(read().decode())
p.stdin.close()
sys.exit(p.wait())
EOF
	snap-snapshot -r main src >/dev/null
	id=$(snap-rev-parse main)
	tree=$(snap-rev-parse main:)
	snap-cat-file snapshot "$id" > payload
	before=$(store_listing "$R")
}

# refused_push MESSAGE ZFILE [CSIZE]: the push is refused with exactly
# "error MESSAGE" to the client, serve exits 128, the remote unchanged.
refused_push() {
	run -128 --separate-stderr env SNAP_PROTOCOL=2 python3 client.py "$R" "$id" payload "$2" $3
	assert_output "error $1"
	assert_equal "$stderr" ''
	assert_equal "$(store_listing "$R")" "$before"
}

@test "a sound zobject from a hostile client is taken and verified as an object would be" {
	hostile
	zstd -q -c payload > good.zst
	run -128 --separate-stderr env SNAP_PROTOCOL=2 python3 client.py "$R" "$id" payload good.zst
	assert_output "error incomplete transfer: object $tree is missing"
	assert_equal "$(remote_refs)" ''
}

@test "a zobject whose frame holds more than its size is refused as damaged" {
	hostile
	{ cat payload; echo more; } | zstd -q -c > more.zst
	refused_push "object $id arrived damaged: its zstd frame holds more than $(stat -c %s payload) bytes" more.zst
}

@test "a zobject whose frame holds less than its size is refused as damaged" {
	hostile
	head -c -1 payload | zstd -q -c > less.zst
	n=$(stat -c %s payload)
	refused_push "object $id arrived damaged: its zstd frame holds $((n - 1)) bytes, not $n" less.zst
}

@test "a zobject whose bytes are not a zstd frame is refused as damaged" {
	hostile
	printf 'these bytes are no zstd frame at all' > bad.zst
	refused_push "object $id arrived damaged: its zstd frame is bad: Unknown frame descriptor" bad.zst
}

@test "a zobject whose frame is followed by more bytes is refused as damaged" {
	hostile
	{ zstd -q -c payload; printf 'junk'; } > trailing.zst
	refused_push "object $id arrived damaged: bytes follow its zstd frame" trailing.zst
}


@test "a zobject whose record gives more bytes than its frame is refused, not waited for" {
	hostile
	zstd -q -c payload > good.zst
	n=$(( $(stat -c %s good.zst) + 5000 ))
	refused_push "object $id arrived damaged: its zstd frame ends before the $n bytes its record gives" good.zst $n
}

@test "a zobject whose data runs past what its record gives is refused as damaged" {
	hostile
	zstd -q -c payload > good.zst
	refused_push "object $id arrived damaged: its data runs past the 10 bytes its record gives" good.zst 10
}

@test "a zobject record is a protocol error in version 1, and a zero csize in version 2" {
	hostile
	zstd -q -c payload > good.zst
	run -128 --separate-stderr env -u SNAP_PROTOCOL python3 client.py "$R" "$id" payload good.zst
	assert_output --partial "error protocol error: "
	run -128 --separate-stderr env SNAP_PROTOCOL=2 python3 client.py "$R" "$id" payload good.zst 0
	assert_output --partial "error protocol error: malformed zobject record"
	assert_equal "$(store_listing "$R")" "$before"
}

# wire_push SERVE: a push of src to R through fakessh with serve program
# SERVE; prints the bytes the client sent.
wire_push() {
	rm -f "$WIRE"
	snap-push -q --serve-path="$1" localhost:"$R" >&2
	stat -c %s "$WIRE"
}

@test "over ssh: version 2 sends compressible objects compressed; a version 1 server is still served" {
	snap-snapshot -r main src >/dev/null
	v2=$(wire_push "$SNAP_BUILD/bin/snap-serve")
	grep -q zobject "$WIRE"
	run -0 env SNAP_DIR=$R snap-fsck
	snap-init -q v1
	R=$BATS_TEST_TMPDIR/v1
	v1=$(wire_push "$PWD/serve-v1")
	! grep -q zobject "$WIRE"
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

@test "--restrict: 'env SNAP_PROTOCOL=2' ahead of snap-serve PATH asks for version 2, and nothing else is let through" {
	snap-snapshot -r main src >/dev/null
	export FORCED="snap-serve --restrict $R"
	run -0 snap-push -q localhost:"$R"
	grep -q zobject "$WIRE"
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
	grep -q zobject "$WIRE"
	assert_equal "$(remote_refs)" "$(snap-rev-parse main) refs/snapshots/main"
	snap-init -q back
	run -0 env SNAP_DIR=$PWD/back snap-fetch -q 127.0.0.1:"$R"
	run -0 env SNAP_DIR=$PWD/back snap-fsck
	# Without the forced command, the login shell runs the request; env(1)
	# works in any shell's syntax.
	cp "$d/client.pub" "$d/authorized_keys"
	rm -rf back && snap-init -q back
	run -0 env SNAP_DIR=$PWD/back snap-fetch -q --serve-path="$SNAP_BUILD/bin/snap-serve" 127.0.0.1:"$R"
	SNAP_DIR=$PWD/back snap-restore -q main out
	run -0 diff -r src out
}
