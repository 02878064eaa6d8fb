#!/usr/bin/env bats
# 3: gc — what goes, what stays, and never a broken snapshot

load test_helper

local_setup() {
	init_store
	mkdir keep drop
	make_file 3000 keep/k
	make_file 5000 drop/only-here
	printf shared > keep/shared
	cp keep/shared drop/shared
	snap-snapshot -r keep keep >/dev/null
	snap-snapshot -r drop drop >/dev/null
}

@test "gc after deleting a ref removes exactly what only it reached" {
	only=$(b3_blob_id drop/only-here)
	dtree=$(snap-rev-parse drop:)
	dsnap=$(snap-rev-parse drop)
	snap-update-ref -d drop
	age_objects
	run -0 snap-gc --dry-run --prune=now
	assert_equal "$(sort <<< "$output")" "$(sort <<EOT
$dsnap snapshot $(snap-cat-file -s "$dsnap")
$dtree tree $(snap-cat-file -s "$dtree")
$only blob 5000
total 3 objects, $((5000 + $(snap-cat-file -s "$dsnap") + $(snap-cat-file -s "$dtree"))) bytes
EOT
)"
	bytes=$((5000 + $(snap-cat-file -s "$dsnap") + $(snap-cat-file -s "$dtree")))
	run -0 snap-gc --prune=now
	assert_line --index 0 --regexp "^removed 3 objects, $bytes bytes \([0-9]+ on disk\)$"
	run -1 snap-cat-file -e "$only"
	run -1 snap-cat-file -e "$dsnap"
	run -0 snap-cat-file -e "$(b3_blob_id keep/shared)"
	run -0 snap-fsck --no-dangling
	run -0 snap-restore keep out
	run -0 diff -r keep out
}

@test "gc keeps young unreachable objects unless --prune=now" {
	d=$(printf 'young' | snap-hash-object -w --stdin)
	run -0 snap-gc
	run -0 snap-cat-file -e "$d"
	touch -d '-2 days' "$(object_path "$d")"
	run -0 snap-gc
	run -1 snap-cat-file -e "$d"
}

@test "gc --prune=never keeps every unreachable object" {
	d=$(printf 'old' | snap-hash-object -w --stdin)
	age_objects
	run -0 snap-gc --prune=never
	run -0 snap-cat-file -e "$d"
}

@test "gc keeps reflog-reachable objects" {
	first=$(snap-rev-parse keep)
	printf changed > keep/k
	snap-snapshot -r keep keep >/dev/null
	# The old snapshot is still named by the reflog, not by any ref.
	age_objects
	snap-gc --prune=now >/dev/null
	run -0 snap-restore "$first" out
}

@test "gc refuses to delete anything when a reachable object is missing" {
	mkdir x
	printf lost > x/lost
	lost=$(snap-hash-object -w x/lost)
	snap-snapshot -r x x >/dev/null
	rm "$(object_path "$lost")"
	d=$(printf 'garbage' | snap-hash-object -w --stdin)
	age_objects
	run -128 --separate-stderr snap-gc --prune=now
	assert_equal "$stderr" "snap-gc: fatal: object '$lost' is missing (referenced by $(snap-rev-parse x:)); nothing was deleted (see snap-fsck)"
	run -0 snap-cat-file -e "$d"
}

@test "one gc at a time; a dead gc's lock is taken over" {
	echo "$$ $(hostname) $(date +%s)" > "$SNAP_DIR/gc.lock"
	run -128 --separate-stderr snap-gc
	[[ "$stderr" == "snap-gc: fatal: another gc holds '$SNAP_DIR/gc.lock' (pid $$ on host '$(hostname)', for "*" s); if it is not running, remove the file" ]]
	sh -c 'exit 0' &
	dead=$!
	wait "$dead"
	echo "$dead $(hostname) $(date +%s)" > "$SNAP_DIR/gc.lock"
	run -0 snap-gc
	assert_file_not_exist "$SNAP_DIR/gc.lock"
}

@test "gc repacks small packs and loose objects into one pack" {
	printf 'loose' | snap-hash-object -w --stdin > /dev/null
	snap-rev-parse keep > /dev/null
	before=$(ls "$SNAP_DIR"/objects/pack/*.pack | wc -l)
	[ "$before" -ge 2 ]
	run -0 snap-gc
	assert_equal "$(ls "$SNAP_DIR"/objects/pack/*.pack | wc -l)" 1
	run -0 snap-fsck --no-dangling
	run -0 snap-restore keep out
}

@test "gc removes old temporary files and dead sessions" {
	touch -d '-3 days' "$SNAP_DIR/objects/tmp/obj-crashed"
	printf 'host %s\npid 999999\nstart 0\n' "$(hostname)" > "$SNAP_DIR/sessions/dead-session"
	run -0 snap-gc
	assert_line "removed 1 temporary files and 1 stale sessions"
	assert_file_not_exist "$SNAP_DIR/objects/tmp/obj-crashed"
}

@test "a live session keeps a temporary file made since it began, however old its mtime (a download keeps the remote's)" {
	s=$(snap-session begin --pid $$)
	printf 'downloading' > "$SNAP_DIR/objects/tmp/pack-download"
	touch -d '-30 days' "$SNAP_DIR/objects/tmp/pack-download"
	run -0 snap-gc --prune=now
	assert_line "removed 0 temporary files and 0 stale sessions"
	assert_file_exists "$SNAP_DIR/objects/tmp/pack-download"
	snap-session end "$s"
	run -0 snap-gc --prune=now
	assert_line "removed 1 temporary files and 0 stale sessions"
	assert_file_not_exists "$SNAP_DIR/objects/tmp/pack-download"
}

@test "a live session protects its base and what it writes" {
	s=$(snap-session begin --pid $$ --base drop)
	base=$(snap-rev-parse drop)
	snap-update-ref -d drop
	age_objects
	new=$(printf 'written in session' | SNAP_SESSION=$s snap-hash-object -w --stdin)
	run -0 snap-gc --prune=now
	run -0 snap-restore "$base" out
	run -0 snap-cat-file -e "$new"
	run -0 snap-session list
	assert_output --regexp "^$s $(hostname) $$ [0-9]+ live$"
	snap-session end "$s"
	run -0 snap-session list
	assert_output ''
}

@test "gc --json prints the counts" {
	run -0 snap-gc --json
	assert_output --regexp '^\{"dry_run":false,"objects_removed":[0-9]+,.*"sessions_cleaned":[0-9]+\}$'
}

# An age too large to subtract from now keeps every unreachable object:
# nothing is older than the epoch.
prune_age_saturates() {
	d=$(printf 'old garbage' | snap-hash-object -w --stdin)
	age_objects
	run -0 --separate-stderr snap-gc --prune="$1"
	assert_equal "$stderr" ''
	assert_line "removed 0 objects, 0 bytes (0 on disk)"
	run -0 snap-cat-file -e "$d"
	run -0 snap-restore keep out
}

@test "gc --prune=365000d prunes nothing" {
	prune_age_saturates 365000d
}

@test "gc --prune=20000w prunes nothing" {
	prune_age_saturates 20000w
}

@test "gc --prune=18446744074s prunes nothing" {
	prune_age_saturates 18446744074s
}

@test "an empty or garbled gc.lock older than 10 seconds is taken over" {
	: > "$SNAP_DIR/gc.lock"
	touch -d '-11 seconds' "$SNAP_DIR/gc.lock"
	run -0 snap-gc
	assert_file_not_exist "$SNAP_DIR/gc.lock"
	printf 'garbage\n' > "$SNAP_DIR/gc.lock"
	touch -d '-1 minute' "$SNAP_DIR/gc.lock"
	run -0 snap-gc
	assert_file_not_exist "$SNAP_DIR/gc.lock"
}

@test "an empty gc.lock younger than 10 seconds is respected" {
	: > "$SNAP_DIR/gc.lock"
	before=$(store_listing)
	run -128 --separate-stderr snap-gc
	[[ "$stderr" == "snap-gc: fatal: another gc is taking '$SNAP_DIR/gc.lock' (the file is empty or unreadable, "[0-9]" s old); it is taken over once 10 s old" ]]
	assert_equal "$output" ''
	assert_equal "$(store_listing)" "$before"
}

# damaged_session SED: a live session wrote an object, then its file was
# damaged by SED; gc refuses, naming the file, and changes nothing.
damaged_session() {
	s=$(snap-session begin --pid $$ --base drop)
	new=$(printf 'written in session' | SNAP_SESSION=$s snap-hash-object -w --stdin)
	snap-update-ref -d drop
	f="$SNAP_DIR/sessions/$s"
	chmod u+w "$f"
	eval "$1"
	before=$(store_listing)
	run -128 --separate-stderr snap-gc --prune=now
	assert_equal "$stderr" "snap-gc: fatal: $2 in session '$f'; nothing was deleted (if its writer has ended, remove the file)"
	assert_equal "$output" ''
	assert_equal "$(store_listing)" "$before"
	run -0 snap-cat-file -e "$new"
}

@test "gc refuses to run past a truncated session file" {
	damaged_session 'sed -i "3,\$d" "$f"' "missing host, pid or start line"
}

@test "gc refuses to run past a garbled field in a session file" {
	damaged_session 'sed -i "s/^pid .*/pid 12x/" "$f"' "bad line 2"
}

@test "gc refuses to run past a garbled base in a session file" {
	damaged_session 'sed -i "s/^base \(.\{10\}\).*/base \1/" "$f"' "bad line 4"
}

@test "snap-session list names a session file it cannot parse" {
	s=$(snap-session begin --pid $$)
	f="$SNAP_DIR/sessions/$s"
	chmod u+w "$f"
	sed -i "s/^start .*/start soon/" "$f"
	run -128 --separate-stderr snap-session list
	assert_equal "$stderr" "snap-session: fatal: bad line 3 in session '$f'"
	assert_equal "$output" ''
}

@test "gc -q prints no counts" {
	mkdir -p src && echo a > src/a
	snap-snapshot src > /dev/null
	run -0 --separate-stderr snap-gc -q --prune=now
	assert_equal "$output" ""
	assert_equal "$stderr" ""
}
