#!/usr/bin/env bats
# 6: performance-sensitive paths — incremental snapshots with the stat cache

load test_helper

local_setup() {
	init_store
	export SNAP_HOST=testhost
	CACHE=$SNAP_DIR/cache/refs/snapshots/main
}

# A tree of ten small files in two directories, older than the next snapshot.
make_src() {
	mkdir -p src/a src/b
	for i in 1 2 3 4 5; do
		printf 'a%s\n' "$i" > "src/a/f$i"
		printf 'b%s\n' "$i" > "src/b/f$i"
	done
	next_second
}

wt() {
	snap-write-tree --stats --cache refs/snapshots/main "$@" src
}

@test "an unchanged re-snapshot reads no file" {
	make_src
	run -0 --separate-stderr wt
	first=$output
	assert_equal "$stderr" "snap-write-tree: 10 files read, 0 reused"
	run -0 --separate-stderr wt
	assert_equal "$output" "$first"
	assert_equal "$stderr" "snap-write-tree: 0 files read, 10 reused"
}

@test "the tree id is the same with and without the cache" {
	make_rich_tree src
	next_second
	plain=$(snap-write-tree src)
	run -0 --separate-stderr wt
	assert_equal "$output" "$plain"
	run -0 --separate-stderr wt
	assert_equal "$output" "$plain"
	[[ "$stderr" == "snap-write-tree: 0 files read, "* ]]
	printf 'changed' > src/regular
	plain=$(snap-write-tree src)
	run -0 --separate-stderr wt
	assert_equal "$output" "$plain"
	[[ "$stderr" == "snap-write-tree: 1 files read, "* ]]
}

@test "a file of a new size is read again" {
	make_src
	wt >/dev/null 2>&1
	printf 'longer content\n' > src/a/f3
	run -0 --separate-stderr wt
	assert_equal "$stderr" "snap-write-tree: 1 files read, 9 reused"
	assert_equal "$output" "$(snap-write-tree src)"
}

@test "new content of the same size with the old mtime is caught by the ctime" {
	make_src
	wt >/dev/null 2>&1
	old=$(stat -c %y src/b/f2)
	printf 'XY\n' > src/b/f2
	touch -d "$old" src/b/f2
	assert_equal "$(stat -c %y src/b/f2)" "$old"
	run -0 --separate-stderr wt
	assert_equal "$stderr" "snap-write-tree: 1 files read, 9 reused"
	assert_equal "$output" "$(snap-write-tree src)"
	blob=$(snap-cat-file -p "$output" | awk '$NF == "b" {print $7}')
	run -0 sh -c "snap-cat-file -p $blob | awk '\$NF == \"f2\" {print \$7}'"
	assert_output "$(b3_blob_id src/b/f2)"
}

@test "a file changed in the second of the snapshot is not cached and is read again" {
	make_src
	# An mtime at or after the snapshot's start second is racily clean,
	# whatever the clock does while the test runs.
	touch -d '+1 hour' src/a/f1
	run -0 --separate-stderr wt
	assert_equal "$stderr" "snap-write-tree: 10 files read, 0 reused"
	run -0 test-statcache "$CACHE" src
	refute_output --partial "a/f1 "
	# start, the other nine files and the two directories
	assert_equal "${#lines[@]}" 12
	assert_equal "$(grep -c ' dir ' <<< "$output")" 2
	# The same size and mtime, new content: read, not taken from the cache.
	when=$(stat -c %y src/a/f1)
	printf 'zz\n' > src/a/f1
	touch -d "$when" src/a/f1
	run -0 --separate-stderr wt
	assert_equal "$stderr" "snap-write-tree: 1 files read, 9 reused"
	assert_equal "$output" "$(snap-write-tree src)"
}

@test "the cache holds exactly the files whose mtime and ctime are before its start" {
	make_src
	# Files made just now: their ctime is racy when the snapshot starts
	# in the same second, and fine when it starts in a later one.
	printf 'new\n' > src/a/new1
	printf 'new\n' > src/b/new2
	wt >/dev/null 2>&1
	run -0 test-statcache "$CACHE" src
	start=$(echo "$output" | awk '$1 == "start" {print $2}')
	while read -r path type size mtime ctime id; do
		[ "$path" != start ] || continue
		(( mtime < start )) || fail "'$path' has mtime $mtime, start $start"
		(( ctime < start )) || fail "'$path' has ctime $ctime, start $start"
		assert_equal "$size" "$(stat -c %s "src/$path")"
		[ "$type" = file ] || continue
		assert_equal "$id" "$(b3_blob_id "src/$path")"
	done <<< "$output"
	for f in a/new1 b/new2; do
		if [ "$(stat -c %Z "src/$f")" -ge "$start" ]; then
			refute_output --partial "$f "
		fi
	done
	# Racy files are read again until a later snapshot may cache them.
	next_second
	run -0 --separate-stderr wt
	[[ "$stderr" == "snap-write-tree: "[0-2]" files read, "* ]]
	run -0 --separate-stderr wt
	assert_equal "$stderr" "snap-write-tree: 0 files read, 12 reused"
}

@test "--force-read reads every file and rebuilds the cache" {
	make_src
	first=$(wt 2>/dev/null)
	run -0 --separate-stderr wt --force-read
	assert_equal "$output" "$first"
	assert_equal "$stderr" "snap-write-tree: 10 files read, 0 reused"
	run -0 --separate-stderr wt
	assert_equal "$stderr" "snap-write-tree: 0 files read, 10 reused"
}

@test "a corrupt cache is ignored, then rebuilt; the tree is the same" {
	make_src
	first=$(wt 2>/dev/null)
	chmod u+w "$CACHE"
	size=$(stat -c %s "$CACHE")
	printf '\377' | dd of="$CACHE" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
	run -1 test-statcache "$CACHE" src
	run -0 --separate-stderr wt
	assert_equal "$output" "$first"
	assert_equal "$stderr" "snap-write-tree: 10 files read, 0 reused"
	run -0 --separate-stderr wt
	assert_equal "$stderr" "snap-write-tree: 0 files read, 10 reused"
}

@test "a truncated cache is ignored, then rebuilt" {
	make_src
	first=$(wt 2>/dev/null)
	chmod u+w "$CACHE"
	truncate -s 100 "$CACHE"
	run -0 --separate-stderr wt
	assert_equal "$output" "$first"
	assert_equal "$stderr" "snap-write-tree: 10 files read, 0 reused"
	run -0 test-statcache "$CACHE" src
}

@test "a deleted cache is rebuilt" {
	make_src
	first=$(wt 2>/dev/null)
	rm -rf "$SNAP_DIR/cache"
	run -0 --separate-stderr wt
	assert_equal "$output" "$first"
	assert_equal "$stderr" "snap-write-tree: 10 files read, 0 reused"
	assert_file_exists "$CACHE"
}

@test "a cache of another version, with a valid checksum, is ignored" {
	make_src
	wt >/dev/null 2>&1
	size=$(stat -c %s "$CACHE")
	# Version 5 in the header, and the checksum made right again.
	{ head -c 11 "$CACHE"; printf '\005'; tail -c +13 "$CACHE" | head -c $((size - 12 - 32)); } > body
	{ cat body; b3sum --raw body; } > "$CACHE.new"
	mv -f "$CACHE.new" "$CACHE"
	assert_equal "$(stat -c %s "$CACHE")" "$size"
	run -1 test-statcache "$CACHE" src
	run -0 --separate-stderr wt
	assert_equal "$stderr" "snap-write-tree: 10 files read, 0 reused"
}

@test "a cache made for another directory is ignored" {
	make_src
	wt >/dev/null 2>&1
	# The same files (inodes, times) under a new root directory.
	mv src old
	mkdir src
	mv old/a old/b src/
	run -0 --separate-stderr wt
	assert_equal "$stderr" "snap-write-tree: 10 files read, 0 reused"
}

@test "a file replaced by a rename is read again" {
	make_src
	wt >/dev/null 2>&1
	printf 'a9\n' > new
	touch -r src/a/f4 new
	mv new src/a/f4
	run -0 --separate-stderr wt
	assert_equal "$stderr" "snap-write-tree: 1 files read, 9 reused"
	assert_equal "$output" "$(snap-write-tree src)"
}

@test "after gc removed the cached blobs, a snapshot reads the files again" {
	make_src
	snap-snapshot -m one src >/dev/null
	snap-update-ref -d refs/snapshots/main
	age_objects
	snap-gc --prune=now >/dev/null
	run -0 snap-count-objects
	assert_line --partial "total     0 objects"
	run -0 --separate-stderr snap-snapshot --stats -m two src
	assert_equal "$stderr" "snap-snapshot: 10 files read, 0 reused"
	run -0 snap-fsck
	run -0 snap-restore main out
	run -0 diff -r src out
}

@test "snapshot uses the ref's cache; --force-read reads everything" {
	make_src
	run -0 --separate-stderr snap-snapshot --stats src
	assert_equal "$stderr" "snap-snapshot: 10 files read, 0 reused"
	assert_file_exists "$CACHE"
	run -0 --separate-stderr snap-snapshot --stats src
	assert_equal "$stderr" "snap-snapshot: 0 files read, 10 reused"
	run -0 --separate-stderr snap-snapshot --stats -r other src
	assert_equal "$stderr" "snap-snapshot: 10 files read, 0 reused"
	assert_file_exists "$SNAP_DIR/cache/refs/snapshots/other"
	run -0 --separate-stderr snap-snapshot --stats --force-read src
	assert_equal "$stderr" "snap-snapshot: 10 files read, 0 reused"
	a=$(snap-rev-parse main~1:)
	b=$(snap-rev-parse main:)
	assert_equal "$a" "$b"
}

@test "snapshot --stdin keeps no cache" {
	printf 'data' | snap-snapshot --stdin f >/dev/null
	assert_not_exist "$SNAP_DIR/cache"
}

@test "write-tree --cache with an invalid name fails with 128" {
	mkdir src
	run -128 --separate-stderr snap-write-tree --cache 'refs/../x' src
	[[ "$stderr" == "snap-write-tree: fatal: invalid ref name 'refs/../x'"* ]]
	assert_not_exist "$SNAP_DIR/cache"
}

@test "a cache that cannot be written is a warning; the tree is stored" {
	make_src
	mkdir -p "$CACHE/in-the-way"
	run -0 --separate-stderr wt
	t=$output
	[[ "$stderr" == *"snap-write-tree: warning: cannot write stat cache "*"Is a directory; the next snapshot reads every file"* ]]
	run -0 snap-cat-file -t "$t"
	assert_output tree
	run -0 find "$SNAP_DIR/objects/tmp" -type f
	assert_output ""
}

@test "directories and symlinks have cache entries; a change to either is read again" {
	command -v setfattr > /dev/null || skip "needs setfattr (attr)"
	make_src
	ln -s a/f1 src/l
	setfattr -n user.v -v 1 src/a 2> /dev/null || skip "no user attributes here"
	next_second
	run -0 --separate-stderr wt
	first=$output
	run -0 test-statcache "$CACHE" src
	assert_line --regexp "^a dir 4096 [0-9]+ [0-9]+ 0{64}$"
	assert_line --regexp "^b dir "
	printf 'a/f1' > target
	assert_line --regexp "^l symlink 4 [0-9]+ [0-9]+ $(b3_blob_id target)$"
	# Unchanged: the same tree, from the cache, and the file not rewritten.
	before=$(stat -c %i "$CACHE")
	run -0 --separate-stderr wt
	assert_equal "$output" "$first"
	assert_equal "$stderr" "snap-write-tree: 0 files read, 10 reused"
	assert_equal "$(stat -c %i "$CACHE")" "$before"
	# A directory's attribute, mode or flags change its ctime.
	setfattr -n user.v -v 2 src/a
	run -0 --separate-stderr wt
	assert_equal "$output" "$(snap-write-tree src)"
	[ "$output" != "$first" ]
	run -0 snap-ls-tree -l "$output"
	assert_line --regexp "^dir 0755 .* xattrs=[0-9a-f]{64} a$"
	chmod 0700 src/b
	run -0 --separate-stderr wt
	assert_equal "$output" "$(snap-write-tree src)"
	run -0 snap-ls-tree -l "$output"
	assert_line --regexp "^dir 0700 .* b$"
	# A symlink made again with a target of the same length: a new inode.
	ln -sfn a/f2 src/l
	touch -h -r src/a/f1 src/l
	run -0 --separate-stderr wt
	assert_equal "$output" "$(snap-write-tree src)"
	assert_equal "$(snap-cat-file blob "$(snap-rev-parse "$output":l)")" "a/f2"
}

# The cache rewritten as version 3: the same entries under a new header
# byte and checksum.
as_version_3() {
	size=$(stat -c %s "$CACHE")
	{ head -c 11 "$CACHE"; printf '\003'; tail -c +13 "$CACHE" | head -c $((size - 12 - 32)); } > body
	{ cat body; b3sum --raw body; } > "$CACHE.new"
	mv -f "$CACHE.new" "$CACHE"
}

@test "a version 3 cache (regular files only) is used, then kept" {
	mkdir src
	for i in 1 2 3 4 5 6 7 8 9 10; do printf '%s\n' "$i" > "src/f$i"; done
	next_second
	wt >/dev/null 2>&1
	# Version 3, as an earlier snap wrote it: the same entries.
	as_version_3
	run -0 test-statcache "$CACHE" src
	assert_equal "${#lines[@]}" 11
	run -0 --separate-stderr wt
	assert_equal "$stderr" "snap-write-tree: 0 files read, 10 reused"
	assert_equal "$(head -c 12 "$CACHE" | tail -c 1 | od -An -tu1 | tr -d ' ')" 3
	# A directory entry in a version 3 cache is refused: the file is ignored.
	mkdir src/d
	next_second
	wt >/dev/null 2>&1
	as_version_3
	run -1 test-statcache "$CACHE" src
	run -0 --separate-stderr wt
	assert_equal "$stderr" "snap-write-tree: 10 files read, 0 reused"
}
