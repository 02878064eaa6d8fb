#!/usr/bin/env bats
# 4: trees — snap-ls-tree and snap-mktree

load test_helper

local_setup() {
	init_store
	mkdir -p src/sub
	printf a > src/a
	printf bb > "src/with space"
	printf c > "src/new
line"
	printf d > "src/tab$(printf '\t')name"
	printf e > "src/caf$(printf '\303\251')"
	printf f > "src/bad$(printf '\377')"
	printf g > src/sub/g
	ln -s a src/link
	T=$(snap-write-tree src)
}

@test "ls-tree lists type, mode, id and escaped name" {
	run -0 snap-ls-tree "$T"
	assert_line --index 0 "file 0644 $(b3_blob_id src/a)	a"
	assert_line "file 0644 $(b3_blob_id 'src/with space')	with\\040space"
	assert_line "file 0644 $(b3_blob_id "src/new
line")	new\\012line"
	assert_line "dir 0755 $(snap-rev-parse "$T:sub")	sub"
	assert_line "symlink 0777 $(printf a | snap-hash-object --stdin)	link"
}

@test "ls-tree -r lists files below directories; -d adds directories" {
	run -0 snap-ls-tree -r --name-only "$T"
	assert_line sub/g
	refute_line sub
	run -0 snap-ls-tree -r -d --name-only "$T"
	assert_line sub
	assert_line sub/g
}

@test "ls-tree TREE PATH lists a subdirectory with full paths" {
	run -0 snap-ls-tree "$T" sub
	assert_output "file 0644 $(b3_blob_id src/sub/g)	sub/g"
}

@test "ls-tree -l prints the tree format itself" {
	run -0 snap-ls-tree -l "$T"
	assert_equal "$output" "$(snap-cat-file tree "$T")"
}

@test "ls-tree -l | mktree gives the same tree, in any order" {
	run -0 sh -c "snap-ls-tree -l '$T' | tac | snap-mktree"
	assert_output "$T"
}

@test "ls-tree -l -z | mktree -z round trips raw names" {
	run -0 sh -c "snap-ls-tree -l -z '$T' | snap-mktree -z"
	assert_output "$T"
	run -0 sh -c "snap-ls-tree -z --name-only '$T' | tr '\0' '\n' | grep -c ."
}

@test "mktree refuses invalid names, unsorted duplicates, bad fields" {
	b=$(b3_blob_id src/a)
	for line in "file 0644 0 0 0.000000000 1 $b - a/b" "file 0644 0 0 0.000000000 1 $b - .." \
		"file 0644 0 0 0.000000000 1 $b - ." "file 644 0 0 0.000000000 1 $b - x" \
		"file 0644 0 0 0.5 1 $b - x" "blob 0644 0 0 0.000000000 1 $b - x" \
		"file 0644 0 0 0.000000000 1 ${b^^} - x"; do
		before=$(store_listing)
		run -128 --separate-stderr snap-mktree <<< "$line"
		[[ "$stderr" == "snap-mktree: fatal: line 1: "* ]] || { echo "$line: $stderr"; false; }
		assert_equal "$(store_listing)" "$before"
	done
	run -128 --separate-stderr snap-mktree <<< "file 0644 0 0 0.000000000 1 $b - x
file 0644 0 0 0.000000000 1 $b - x"
	[[ "$stderr" == *"not sorted or duplicated"* ]]
}

@test "mktree checks that the objects exist, with the right type and size" {
	b=$(b3_blob_id src/a)
	run -128 --separate-stderr snap-mktree <<< "dir 0755 0 0 0.000000000 0 $b - d"
	assert_equal "$stderr" "snap-mktree: fatal: entry 'd': object '$b' is a blob, not a tree"
	run -128 --separate-stderr snap-mktree <<< "file 0644 0 0 0.000000000 7 $b - x"
	assert_equal "$stderr" "snap-mktree: fatal: entry 'x': size 7 does not match object '$b' (1 bytes)"
	run -128 --separate-stderr snap-mktree <<< "file 0644 0 0 0.000000000 1 1111111111111111111111111111111111111111111111111111111111111111 - x"
	[[ "$stderr" == *"not found"* ]]
	run -0 snap-mktree --missing <<< "file 0644 0 0 0.000000000 1 1111111111111111111111111111111111111111111111111111111111111111 - x"
}

@test "a malformed tree object is refused by ls-tree, naming the line" {
	bad=$(printf 'file 0644 0 0 0.000000000 1 %s - b\nfile 0644 0 0 0.000000000 1 %s - a\n' \
		"$(b3_blob_id src/a)" "$(b3_blob_id src/a)" | snap-hash-object -t tree -w --stdin)
	run -128 --separate-stderr snap-ls-tree "$bad"
	assert_equal "$stderr" "snap-ls-tree: fatal: malformed tree: line 2: entries not sorted or duplicated (tree '$bad')"
}

@test "ls-tree of a blob is refused" {
	run -128 --separate-stderr snap-ls-tree "$(b3_blob_id src/a)"
	[[ "$stderr" == *"is a blob, not a tree or snapshot" ]]
}
