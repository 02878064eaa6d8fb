#!/usr/bin/env bats
# A directory below the store's root that is a symbolic link (planted by
# whoever can write the store) is never followed: a command that would
# write or delete there fails naming the path and touches nothing where
# the link points; snap-fsck reports it (docs/FORMAT.md, "Store layout").

load test_helper

local_setup() {
	init_store
	mkdir -p work
	echo one >work/a
	snap-snapshot -q work >/dev/null 2>&1 || snap-snapshot work >/dev/null
	mkdir decoy
}

# plant DIR: moves the store's DIR into ./decoy and puts a link there.
plant() {
	cp -a "$SNAP_DIR/$1/." decoy/
	rm -rf "${SNAP_DIR:?}/$1"
	ln -s "$BATS_TEST_TMPDIR/decoy" "$SNAP_DIR/$1"
}

decoy_listing() {
	(cd decoy && find . -printf '%p %y %s %T@\n' | LC_ALL=C sort &&
		find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r b3sum)
}

# untouched STATUS CMD...: CMD fails with STATUS and one line on stderr
# naming the linked path; the decoy and the store are as they were.
untouched() {
	local status=$1 decoy store
	shift
	decoy=$(decoy_listing)
	store=$(store_listing)
	run "-$status" --separate-stderr "$@"
	assert_equal "$(decoy_listing)" "$decoy"
	assert_equal "$(store_listing)" "$store"
	assert_equal "$(printf '%s\n' "$stderr" | wc -l)" 1
	[[ $stderr == *"$SNAP_DIR/"* ]]
}

fsck_reports() {
	run -4 --separate-stderr snap-fsck
	assert_output "error symlinked-directory $SNAP_DIR/$1 a directory of the store is a symbolic link"
}

@test "update-ref -d does not delete through a linked refs/snapshots" {
	plant refs/snapshots
	assert_file_exists decoy/main
	untouched 128 snap-update-ref -d refs/snapshots/main
	assert_file_exists decoy/main
	fsck_reports refs/snapshots
}

@test "update-ref does not create a ref through a linked refs/snapshots" {
	plant refs/snapshots
	oid=$(cat decoy/main)
	untouched 128 snap-update-ref refs/snapshots/other "$oid"
	assert_file_not_exists decoy/other
}

@test "reading a ref through a linked refs/snapshots is refused" {
	plant refs/snapshots
	run -128 --separate-stderr snap-rev-parse refs/snapshots/main
	assert_output ''
	[[ $stderr == *"$SNAP_DIR/refs/snapshots/main"* ]]
}

@test "update-ref -d does not delete a reflog through a linked logs/refs/snapshots" {
	plant logs/refs/snapshots
	assert_file_exists decoy/main
	before=$(decoy_listing)
	# The ref transaction stays journalled for the next ref command.
	run -128 --separate-stderr snap-update-ref -d refs/snapshots/main
	assert_equal "$(decoy_listing)" "$before"
	[[ $stderr == *"$SNAP_DIR/logs/refs/snapshots/main"* ]]
	fsck_reports logs/refs/snapshots
}

@test "gc does not remove old temporary files through a linked objects/tmp" {
	echo canary >decoy/gc-lock-00000000
	touch -d '-2 hours' decoy/gc-lock-00000000
	plant objects/tmp
	untouched 128 snap-gc
	assert_file_exists decoy/gc-lock-00000000
	fsck_reports objects/tmp
}

@test "gc does not write packs through a linked objects/pack" {
	plant objects/pack
	untouched 128 snap-gc
}

@test "prune does not delete refs through a linked refs/snapshots" {
	plant refs/snapshots
	untouched 128 snap-prune --drop refs/snapshots/main
	assert_file_exists decoy/main
}

@test "memo does not write a result through a linked refs/memo" {
	snap-memo --key k -- true
	plant refs/memo
	assert_file_exists decoy/k
	untouched 128 snap-memo --delete k
	assert_file_exists decoy/k
	fsck_reports refs/memo
}

@test "memo does not take claims through a linked memo/claims" {
	snap-memo --key k -- true
	plant memo/claims
	echo canary >decoy/j
	untouched 128 snap-memo --key j -- true
	assert_equal "$(cat decoy/j)" canary
	fsck_reports memo/claims
}

@test "snapshot does not rewrite its stat cache through a linked cache" {
	assert_file_exists "$SNAP_DIR/cache/refs/snapshots/main"
	plant cache
	echo two >work/b
	run --separate-stderr snap-snapshot work
	assert_equal "$(decoy_listing)" "$(cd decoy && find . -printf '%p %y %s %T@\n' | LC_ALL=C sort &&
		find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r b3sum)"
	fsck_reports cache
}

@test "session begin does not create a session file through a linked sessions" {
	plant sessions
	untouched 128 snap-session begin
	fsck_reports sessions
}

# as_owner CMD...: CMD as the unprivileged owner (uid 65534) of a store.
as_owner() {
	setpriv --reuid=65534 --regid=65534 --clear-groups env SNAP_DIR="$U" PATH="$PATH" "$@"
}

@test "root writing a store another user owns hands that user what it makes: the owner's next runs work" {
	[ "$(id -u)" = 0 ] || skip "needs root"
	command -v setpriv > /dev/null || skip "needs setpriv"
	OWNED=$(mktemp -d /tmp/snap-owned.XXXXXX)
	chmod 755 "$OWNED" && chown 65534:65534 "$OWNED"
	U=$OWNED/s
	cd "$OWNED"
	mkdir -p pub && echo one > pub/a && chown -R 65534:65534 pub
	as_owner snap-init -q "$U"
	as_owner snap-snapshot pub > /dev/null
	# root snapshots what only root reads, through every writer it has.
	mkdir -p secret/d && head -c 300000 /dev/urandom > secret/d/big && echo s > secret/f
	chmod 700 secret
	SNAP_DIR=$U snap-snapshot -r root secret > /dev/null
	SNAP_DIR=$U snap-update-ref refs/snapshots/copy root
	SNAP_DIR=$U snap-gc --prune=now -q
	SNAP_DIR=$U snap-memo --put k <<< v
	SNAP_DIR=$U snap-remote add far "$OWNED/far"
	run -0 find "$U" -uid 0
	assert_output ''
	run -0 find "$U" -gid 0
	assert_output ''
	# The owner goes on: new objects, refs, logs, cache, a gc.
	echo two > pub/b
	run -0 as_owner snap-snapshot pub
	run -0 as_owner snap-update-ref -d refs/snapshots/copy
	run -0 as_owner snap-gc --prune=now -q
	run -0 as_owner snap-fsck
	run -0 as_owner snap-remote -v
	assert_output "far	$OWNED/far"
	# A planted hard link to a file of root's is never handed over.
	echo mine > rootfile && chmod 600 rootfile
	ln rootfile "$U/logs/refs/snapshots/planted"
	SNAP_DIR=$U snap-update-ref refs/snapshots/planted root
	assert_equal "$(stat -c %u:%g rootfile)" 0:0
	run -0 find "$U" -uid 0
	assert_output "$U/logs/refs/snapshots/planted"
	rm "$U/logs/refs/snapshots/planted"
	run -0 as_owner snap-update-ref -d refs/snapshots/planted
}

teardown() {
	[ -z "${OWNED:-}" ] || rm -rf "$OWNED"
}
