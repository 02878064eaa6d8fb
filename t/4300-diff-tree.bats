#!/usr/bin/env bats
# 4: trees — snap-diff-tree

load test_helper

local_setup() {
	init_store
	mkdir -p a/d/e b/d/e
	printf same > a/same; cp a/same b/same
	printf old > a/changed; printf new > b/changed
	printf x > a/gone
	printf y > b/added
	printf z > a/d/e/deep; printf Z > b/d/e/deep
	printf m > a/mode; cp a/mode b/mode; chmod 755 b/mode
	printf t > a/type; mkdir b/type; printf u > b/type/inside
	mkdir a/olddir; printf o > a/olddir/f
	A=$(snap-write-tree a)
	B=$(snap-write-tree b)
}

@test "diff-tree -r lists every changed file in path order" {
	run -0 snap-diff-tree -r "$A" "$B"
	assert_output "$(printf 'A\tadded\nM\tchanged\nM\td/e/deep\nD\tgone\nM\tmode\nD\tolddir/f\nT\ttype')"
}

@test "diff-tree without -r reports directories as entries" {
	run -0 snap-diff-tree "$A" "$B"
	assert_output "$(printf 'A\tadded\nM\tchanged\nM\td\nD\tgone\nM\tmode\nD\tolddir\nT\ttype')"
}

@test "diff-tree of a tree with itself prints nothing" {
	run -0 snap-diff-tree -r "$A" "$A"
	assert_output ''
	run -0 snap-diff-tree --exit-code "$A" "$A"
}

@test "diff-tree --exit-code exits 1 on differences" {
	run -1 snap-diff-tree --exit-code "$A" "$B"
}

@test "diff-tree -z prints raw paths ended by NUL" {
	mkdir c
	cp -a a/. c/
	printf q > "c/new
name"
	C=$(snap-write-tree c)
	run -0 sh -c "snap-diff-tree -z '$A' '$C' | od -c | head -1"
	assert_output --partial 'A  \t   n   e   w  \n   n   a   m   e  \0'
}

@test "diff-tree of unknown trees fails" {
	run -128 snap-diff-tree "$A" 0000
}
