#!/usr/bin/env bats
# 4: trees — entries of a live directory that vanish while write-tree runs

load test_helper

local_setup() {
	init_store
	mkdir -p src/empty src/sub
	printf a > src/a
	printf b > src/b
	printf c > src/sub/c
	ln -s target src/link
}

# vanished NAME [CACHE]: write-tree of src with NAME removed after it was
# stat'ed and before it was opened gives the tree of src without NAME.
vanished() {
	run -0 --separate-stderr test-vanish "$SNAP_DIR" src "$@"
	assert_equal "$stderr" ''
	test ! -e "src/$1" && test ! -L "src/$1"
	assert_equal "$output" "$(snap-write-tree src)"
}

@test "a directory removed after write-tree stat'ed it is left out" {
	vanished empty
}

@test "a symlink removed after write-tree stat'ed it is left out" {
	vanished link
}

@test "a file removed after write-tree stat'ed it is left out (with a stat cache)" {
	snap-write-tree --cache refs/snapshots/main src > /dev/null
	# Changed, so the cache does not stand for it and it must be opened.
	printf bb > src/b
	touch -d '-1 hour' src/b
	vanished b refs/snapshots/main
}
