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
	# A stand-in for ssh that runs the remote command here, its input
	# copied to "wire".
	cat > fakessh <<'EOF'
#!/bin/bash
while [ $# -gt 1 ]; do case $1 in -p) shift 2;; *) shift;; esac; done
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

