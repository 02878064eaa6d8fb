#!/usr/bin/env bats
# 0: basics — snap-init and finding the store

load test_helper

@test "init creates a store with config, objects and refs" {
	run -0 snap-init store
	assert_output "Initialized empty snap store in $BATS_TEST_TMPDIR/store"
	assert_file_exist store/config
	assert_dir_exist store/objects/pack
	assert_dir_exist store/objects/tmp
	assert_dir_exist store/refs/snapshots
	assert_dir_exist store/sessions
	run -0 cat store/config
	assert_output "# snap store
format = 1
hash = blake3
compression = 3"
}

@test "init without DIR makes ./.snap" {
	run -0 snap-init -q
	assert_output ''
	assert_file_exist .snap/config
}

@test "init honours SNAP_DIR and --compression-level" {
	SNAP_DIR=$BATS_TEST_TMPDIR/env snap-init -q --compression-level 9
	run -0 grep compression env/config
	assert_output 'compression = 9'
}

@test "init twice is harmless" {
	snap-init -q store
	run -0 snap-init store
	assert_output "Reinitialized existing snap store in $BATS_TEST_TMPDIR/store"
}

@test "init into a non-empty directory that is not a store fails" {
	mkdir d
	touch d/file
	run -128 --separate-stderr snap-init d
	assert_equal "$stderr" "snap-init: fatal: 'd' exists and is not an empty directory"
	assert_equal "$(ls d)" file
}

@test "init leaves no temporary file outside the store" {
	mkdir work
	cd work
	snap-init -q ../store
	run ls -A .
	assert_output ''
	run ls -A ../store/objects/tmp
	assert_output ''
}

@test "init rejects a bad compression level" {
	run -129 --separate-stderr snap-init --compression-level 42 store
	[[ "$stderr" == "snap-init: error: --compression-level takes 1 to 19, not '42'"* ]]
	assert_not_exist store
}

@test "commands find .snap in a parent directory" {
	snap-init -q
	mkdir -p a/b/c
	id=$(cd a/b/c && echo hi | snap-hash-object -w --stdin)
	assert_file_exist "$(object_path "$id" .snap)"
}

@test "--store wins over SNAP_DIR, which wins over .snap" {
	snap-init -q
	snap-init -q env
	snap-init -q opt
	id=$(echo x | SNAP_DIR=$PWD/env snap-hash-object -w --store opt --stdin)
	assert_file_exist "$(object_path "$id" opt)"
	assert_file_not_exist "$(object_path "$id" env)"
	id=$(echo y | SNAP_DIR=$PWD/env snap-hash-object -w --stdin)
	assert_file_exist "$(object_path "$id" env)"
	assert_file_not_exist "$(object_path "$id" .snap)"
}

@test "no store is a clear error" {
	run -128 --separate-stderr snap-cat-file -t abcd
	[[ "$stderr" == "snap-cat-file: fatal: no snap store: no .snap directory here or above '$BATS_TEST_TMPDIR'"*"run snap-init)" ]]
}

@test "a store with an unsupported format is refused" {
	snap-init -q store
	chmod u+w store/config
	sed -i 's/format = 1/format = 99/' store/config
	run -128 --separate-stderr snap-cat-file --store store -t abcd
	assert_equal "$stderr" "snap-cat-file: fatal: unsupported store format '99' in 'store/config' (this snap reads format 1)"
}

@test "every command answers --help on stdout with status 0" {
	for cmd in "$SNAP_BUILD"/bin/snap-*; do
		run -0 --separate-stderr "$cmd" --help
		[[ "$output" == *"usage: $(basename "$cmd")"* ]] || { echo "$cmd: $output"; false; }
		assert_equal "$stderr" ''
	done
}

@test "every command rejects an unknown option with status 129" {
	for cmd in "$SNAP_BUILD"/bin/snap-*; do
		run --separate-stderr "$cmd" --no-such-option
		[ "$status" -eq 129 ] || { echo "$cmd exited $status"; false; }
	done
}

@test "a new store is private (0700, config 0400) whatever the umask" {
	umask 000
	run -0 snap-init -q store
	assert_equal "$(stat -c %a store)" 700
	assert_equal "$(stat -c %a store/config)" 400
	run -1 grep '^shared' store/config
}

@test "nobody else can read a private store's objects" {
	umask 022
	snap-init -q store
	mkdir src && printf 'secret\n' > src/shadow
	SNAP_DIR=$PWD/store snap-snapshot src >/dev/null
	chmod 755 "$BATS_TEST_TMPDIR"
	run -1 setpriv --reuid=nobody --regid=nogroup --clear-groups -- \
		sh -c 'find store/objects -type f -exec cat {} + >/dev/null'
}

@test "init --shared=group: 2770 directories, group-readable objects under umask 077" {
	umask 077
	run -0 snap-init -q --shared=group store
	assert_equal "$(stat -c %a store)" 2770
	assert_equal "$(stat -c %a store/objects/pack)" 2770
	assert_equal "$(stat -c %a store/config)" 440
	run -0 grep -x 'shared = group' store/config
	mkdir src && printf 'x\n' > src/f
	SNAP_DIR=$PWD/store snap-snapshot src >/dev/null
	run -0 find store/objects store/refs -type f ! -perm -g=r
	assert_output ''
	run -0 find store -type d ! -perm -g=rwx
	assert_output ''
}

@test "init --shared takes group or private, nothing else" {
	run -129 --separate-stderr snap-init --shared=world store
	assert_equal "${stderr_lines[0]}" "snap-init: error: --shared takes 'group' or 'private', not 'world'"
	assert_not_exist store
}

@test "a config with a bad 'shared' value is refused" {
	snap-init -q store
	chmod u+w store/config
	printf 'shared = everyone\n' >> store/config
	run -128 --separate-stderr snap-rev-parse --store store main
	assert_equal "$stderr" "snap-rev-parse: fatal: bad value 'everyone' of 'shared' in 'store/config' (group or private)"
}

@test "init --shared on an existing store of another sharing is refused" {
	snap-init -q store
	run -128 --separate-stderr snap-init --shared=group store
	assert_equal "$stderr" "snap-init: fatal: '$PWD/store' is a store already, shared private: --shared applies to a new store"
	assert_equal "$(stat -c %a store)" 700
	run -0 snap-init -q --shared=private store
}
