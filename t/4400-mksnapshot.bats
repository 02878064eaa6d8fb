#!/usr/bin/env bats
# 4: trees — snap-mksnapshot

load test_helper

local_setup() {
	init_store
	mkdir src
	printf 1 > src/f
	T=$(snap-write-tree src)
}

@test "mksnapshot writes the documented text format" {
	P=$(snap-mksnapshot --time '1700000000 +0100' --host h1 -m parent "$T")
	S=$(snap-mksnapshot --time '1700000100 -0230' --host box -p "$P" --meta a=b --meta k=v -m 'hello' "$T")
	run -0 snap-cat-file snapshot "$S"
	assert_output "tree $T
parent $P
time 1700000100 -0230
host box
meta a=b
meta k=v

hello"
}

@test "mksnapshot is deterministic across runs and stores" {
	a=$(snap-mksnapshot --time 5 --host h -m m "$T")
	b=$(snap-mksnapshot --time 5 --host h -m m "$T")
	snap-init -q other
	snap-write-tree --store other src >/dev/null
	c=$(snap-mksnapshot --store other --time 5 --host h -m m "$T")
	assert_equal "$a" "$b"
	assert_equal "$a" "$c"
}

@test "mksnapshot takes SNAP_TIME and SNAP_HOST, and ISO times" {
	a=$(SNAP_TIME=1700000000 SNAP_HOST=env snap-mksnapshot "$T")
	run -0 snap-cat-file snapshot "$a"
	assert_line 'time 1700000000 +0000'
	assert_line 'host env'
	b=$(snap-mksnapshot --host h --time 2023-11-14T22:13:20Z "$T")
	run -0 snap-cat-file snapshot "$b"
	assert_line 'time 1700000000 +0000'
	c=$(snap-mksnapshot --host h --time '2023-11-14T23:13:20+01:00' "$T")
	run -0 snap-cat-file snapshot "$c"
	assert_line 'time 1700000000 +0100'
}

@test "mksnapshot -F reads the message from a file" {
	printf 'line one\nline two' > msg
	s=$(snap-mksnapshot --time 1 --host h -F msg "$T")
	run -0 sh -c "snap-cat-file snapshot $s | tail -2"
	assert_output "line one
line two"
}

@test "mksnapshot refuses a non-tree, a non-snapshot parent, bad meta and time" {
	b=$(b3_blob_id src/f)
	run -128 --separate-stderr snap-mksnapshot --time 1 --host h "$b"
	assert_equal "$stderr" "snap-mksnapshot: fatal: '$b' is a blob, not a tree"
	run -128 --separate-stderr snap-mksnapshot --time 1 --host h -p "$T" "$T"
	assert_equal "$stderr" "snap-mksnapshot: fatal: '$T' is a tree, not a snapshot"
	run -128 --separate-stderr snap-mksnapshot --time 1 --host h --meta 'bad key=v' "$T"
	[[ "$stderr" == *"bad metadata 'bad key=v'"* ]]
	run -128 --separate-stderr snap-mksnapshot --time yesterday --host h "$T"
	[[ "$stderr" == *"bad time 'yesterday'"* ]]
}

@test "a malformed snapshot object is refused where a snapshot is read" {
	bad=$(printf 'tree %s\nhost h\ntime 1 +0000\n\n' "$T" | snap-hash-object -t snapshot -w --stdin)
	run -128 --separate-stderr snap-checkout "$bad" out
	assert_equal "$stderr" "snap-checkout: fatal: malformed snapshot: line 2: bad or missing time line"
	assert_not_exist out
}

@test "mksnapshot refuses a malformed tree, naming it" {
	b=$(b3_blob_id src/f)
	bad=$(malformed_tree "$b")
	refused "snap-mksnapshot: fatal: malformed tree: line 2: entries not sorted or duplicated (tree '$bad')" \
		snap-mksnapshot --time 1 --host h "$bad"
}

@test "mksnapshot refuses a malformed parent snapshot, naming it" {
	bad=$(printf 'tree %s\nhost h\ntime 1 +0000\n\n' "$T" | snap-hash-object -t snapshot -w --stdin)
	refused "snap-mksnapshot: fatal: malformed snapshot: line 2: bad or missing time line (snapshot '$bad')" \
		snap-mksnapshot --time 1 --host h -p "$bad" "$T"
}
