#!/usr/bin/env bats
# 4: trees and restore — snap-write-tree

load test_helper

local_setup() {
	init_store
}


@test "write-tree prints one tree id and stores it" {
	make_rich_tree src
	run -0 --separate-stderr snap-write-tree src
	[[ "$output" =~ ^[0-9a-f]{64}$ ]]
	run -0 snap-cat-file -t "$output"
	assert_output tree
}

@test "write-tree is deterministic across runs and stores" {
	make_rich_tree src
	a=$(snap-write-tree src)
	b=$(snap-write-tree src)
	snap-init -q other
	c=$(snap-write-tree --store other src)
	assert_equal "$a" "$b"
	assert_equal "$a" "$c"
}

@test "write-tree records entries sorted by name bytes with escaped names" {
	mkdir src
	printf 'a' > src/b
	printf 'a' > src/a
	printf 'a' > "src/c d"
	t=$(snap-write-tree src)
	run -0 sh -c "snap-cat-file -p $t | awk '{print \$1, \$NF}'"
	assert_output "file a
file b
file c\\040d"
}

@test "write-tree stores file contents as blobs with b3sum-checked ids" {
	mkdir src
	make_file 100000 src/data
	t=$(snap-write-tree src)
	run -0 sh -c "snap-cat-file -p $t | awk '{print \$7}'"
	assert_output "$(b3_blob_id src/data)"
}

@test "write-tree records symlinks without following them" {
	mkdir src
	ln -s /nonexistent/target src/l
	t=$(snap-write-tree src)
	line=$(snap-cat-file -p "$t")
	[[ "$line" == "symlink 0777 "* ]]
	id=$(echo "$line" | awk '{print $7}')
	run -0 snap-cat-file blob "$id"
	assert_output /nonexistent/target
}

@test "write-tree records hard links to the first path in walk order" {
	mkdir -p src/a src/b
	printf 'data' > src/a/one
	ln src/a/one src/b/two
	t=$(snap-write-tree src)
	sub=$(snap-cat-file -p "$t" | awk '$NF == "b" {print $7}')
	run -0 sh -c "snap-cat-file -p $sub | awk '{print \$8}'"
	assert_output 'link=a/one'
}

@test "write-tree --exclude leaves out names and paths" {
	mkdir -p src/keep src/skip
	printf 1 > src/keep/a.o
	printf 2 > src/keep/a.c
	printf 3 > src/skip/x
	t=$(snap-write-tree --exclude '*.o' --exclude 'skip' src)
	run -0 sh -c "snap-cat-file -p $t | awk '{print \$NF}'"
	assert_output keep
	k=$(snap-cat-file -p "$t" | awk '{print $7}')
	run -0 sh -c "snap-cat-file -p $k | awk '{print \$NF}'"
	assert_output a.c
	t2=$(snap-write-tree --exclude 'keep/a.c' src)
	k2=$(snap-cat-file -p "$t2" | awk '$NF == "keep" {print $7}')
	run -0 sh -c "snap-cat-file -p $k2 | awk '{print \$NF}'"
	assert_output a.o
}

@test "write-tree skips sockets with a warning" {
	mkdir src
	printf 1 > src/file
	python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' src/sock
	run -0 --separate-stderr snap-write-tree src
	assert_equal "$stderr" "snap-write-tree: warning: skipping socket 'sock'"
	run -0 sh -c "snap-cat-file -p $output | awk '{print \$NF}'"
	assert_output file
}

@test "write-tree records fifos" {
	mkdir src
	mkfifo src/fifo
	t=$(snap-write-tree src)
	run -0 snap-cat-file -p "$t"
	assert_output --regexp '^fifo 0[0-7]{3} [0-9]+ [0-9]+ [0-9]+\.[0-9]{9} 0 - - fifo$'
}

@test "write-tree of a missing directory fails with 128" {
	run -128 --separate-stderr snap-write-tree nope
	assert_equal "$stderr" "snap-write-tree: fatal: cannot open directory 'nope': No such file or directory"
}

@test "write-tree handles a directory 2000 levels deep" {
	p=src
	for i in $(seq 2000); do p=$p/d; done
	mkdir -p "$p"
	printf 'bottom' > "$p/f"
	run -0 snap-write-tree src
}

# write_tree_fails SPEC MESSAGE: write-tree of a one-file tree under
# SNAP_FAULT=SPEC exits 128 with "snap-write-tree: fatal: MESSAGE" (a
# regex; STORE stands for the store's path), prints nothing, and leaves
# the store as it was.
write_tree_fails() {
	local before re
	mkdir src
	printf 'content' > src/f
	before=$(store_listing)
	re="^snap-write-tree: fatal: ${2//STORE/$SNAP_DIR}\$"
	SNAP_FAULT=$1 run -128 --separate-stderr snap-write-tree src
	[[ "$stderr" =~ $re ]] || { echo "stderr: $stderr"; echo "want: $re"; false; }
	assert_output ''
	assert_equal "$(store_listing)" "$before"
}

TMPPACK="'STORE/objects/tmp/pack-[A-Za-z0-9]{8}'"

@test "write-tree with a write fault on the pack leaves no object and no temp file" {
	write_tree_fails 'write@objects/tmp/pack-:1:ENOSPC' "cannot write $TMPPACK: No space left on device"
}

@test "write-tree with a short write on the pack leaves no object and no temp file" {
	write_tree_fails 'write@objects/tmp/pack-:1:short' "cannot write $TMPPACK: No space left on device"
}

@test "write-tree with a failing sync of the pack publishes no object" {
	write_tree_fails 'fsync@objects/tmp/pack-:1:EIO' "cannot write $TMPPACK: Input/output error"
}

@test "write-tree with a failing sync of the pack index publishes no object" {
	write_tree_fails 'fsync@objects/tmp/idx-:1:EIO' "cannot write a pack index in 'STORE/objects/pack': Input/output error"
}

@test "write-tree that cannot create its pack says where" {
	write_tree_fails 'open@objects/tmp/pack-:1:EROFS' "cannot create a temporary pack in 'STORE/objects/tmp': Read-only file system"
}

@test "write-tree that cannot move its pack into place publishes no object" {
	write_tree_fails 'rename@objects/pack/:1:EIO' "cannot create 'STORE/objects/pack/pack-[0-9a-f]{64}\.pack': Input/output error"
}

@test "write-tree usage errors exit 129" {
	run -129 snap-write-tree
	run -129 snap-write-tree a b
	run -129 snap-write-tree --bogus x
	run -0 snap-write-tree --help
	assert_line --index 0 --partial 'usage: snap-write-tree'
}

@test "write-tree of the store itself is refused" {
	before=$(store_listing)
	run -128 --separate-stderr snap-write-tree "$SNAP_DIR"
	assert_equal "$stderr" "snap-write-tree: fatal: '$SNAP_DIR' is the store itself"
	assert_equal "$output" ''
	assert_equal "$(store_listing)" "$before"
}
