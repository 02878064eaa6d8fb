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
	assert_output "$(printf 'A\tadded\nM\tchanged\nM\td/e/deep\nD\tgone\nM\tmode\nD\tolddir/f\nT\ttype\nA\ttype/inside')"
	# And the other way: what the directory held is deleted.
	run -0 snap-diff-tree -r "$B" "$A"
	assert_output "$(printf 'D\tadded\nM\tchanged\nM\td/e/deep\nA\tgone\nM\tmode\nA\tolddir/f\nT\ttype\nD\ttype/inside')"
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

# A pair of trees made for --stat: mtimes and owners set by hand.
stat_pair() {
	rm -rf p q && mkdir -p p/d q/d
	printf abc > p/grow; printf abcdefgh > q/grow
	printf same > p/touched; cp p/touched q/touched
	printf x > p/gone
	printf yy > q/added
	printf m > p/d/mode; cp p/d/mode q/d/mode; chmod 755 q/d/mode
	touch -d @1000000000 p/grow p/touched p/d/mode q/d/mode
	touch -d @1000000000.5 q/grow
	touch -d @2000000000 q/touched
	if [ "$(id -u)" = 0 ]; then
		printf o > p/owned; cp p/owned q/owned; chown 1:2 q/owned
		touch -d @1000000000 p/owned q/owned
	fi
	P=$(snap-write-tree p)
	Q=$(snap-write-tree q)
}

@test "diff-tree --stat says what changed on each line and ends with a summary" {
	stat_pair
	run -0 snap-diff-tree -r --stat "$P" "$Q"
	local want
	want=$(printf 'A\tadded\t+2 bytes\nM\td/mode\tmode 0644 -> 0755\nD\tgone\t-1 bytes\nM\tgrow\tsize 3 -> 8\tmtime 1000000000.000000000 -> 1000000000.500000000')
	if [ "$(id -u)" = 0 ]; then
		want+=$(printf '\nM\towned\towner 0:0 -> 1:2')
		want+=$(printf '\nM\ttouched\tmtime 1000000000.000000000 -> 2000000000.000000000')
		want+=$'\n6 paths changed: 1 added, 1 deleted, 4 modified, 0 changed type; 7 bytes added, 1 bytes removed'
	else
		want+=$(printf '\nM\ttouched\tmtime 1000000000.000000000 -> 2000000000.000000000')
		want+=$'\n5 paths changed: 1 added, 1 deleted, 3 modified, 0 changed type; 7 bytes added, 1 bytes removed'
	fi
	assert_output "$want"
	# Without --metadata a change of mtime or owner alone is no change.
	run -0 snap-diff-tree -r "$P" "$Q"
	assert_output "$(printf 'A\tadded\nM\td/mode\nD\tgone\nM\tgrow')"
	run -0 snap-diff-tree -r --metadata "$P" "$Q"
	assert_line "$(printf 'M\ttouched')"
}

@test "diff-tree --json gives what changed and the entry on each side" {
	stat_pair
	run -0 snap-diff-tree -r --json "$P" "$Q"
	assert_line "{\"status\":\"A\",\"path\":\"added\",\"changed\":[],\"old\":null,\"new\":{\"type\":\"file\",\"mode\":\"0644\",\"uid\":$(id -u),\"gid\":$(id -g),\"size\":2,\"mtime\":$(stat -c %Y q/added),\"mtime_ns\":$(stat -c %y q/added | sed 's/.*\.\([0-9]*\) .*/\1/;s/^0*\([0-9]\)/\1/'),\"id\":\"$(snap-hash-object q/added)\"}}"
	assert_line --regexp '^\{"status":"M","path":"grow","changed":\["content","mtime"\],"old":\{"type":"file","mode":"0644",.*"size":3,"mtime":1000000000,"mtime_ns":0,.*\},"new":\{.*"size":8,"mtime":1000000000,"mtime_ns":500000000,.*\}\}$'
	assert_line --regexp '^\{"status":"D","path":"gone","changed":\[\],"old":\{.*\},"new":null\}$'
	run -129 --separate-stderr snap-diff-tree -r -z --json "$P" "$Q"
	assert_equal "${stderr%%$'\n'*}" "snap-diff-tree: error: -z goes with neither --stat nor --json"
}

@test "snap-diff passes --stat and --json through, with --store=DIR" {
	stat_pair
	snap-mksnapshot "$P" -m p > /dev/null
	local s1 s2
	s1=$(snap-mksnapshot "$P" -m p)
	s2=$(snap-mksnapshot "$Q" -m q)
	run -0 snap-diff --store="$SNAP_DIR" --stat "$s1" "$s2"
	assert_line --partial 'paths changed: 1 added, 1 deleted'
	run -0 snap-diff --json "$s1" "$s2"
	assert_line --regexp '^\{"status":"A","path":"added",'
}

@test "diff-tree reports a change of extended attributes alone, and --stat and --json name it" {
	command -v setfattr > /dev/null || skip "setfattr (attr) is not installed"
	rm -rf p q && mkdir p q
	printf x > p/f; cp -p p/f q/f
	setfattr -n user.colour -v blue q/f || skip "no user xattrs on this filesystem"
	P=$(snap-write-tree p)
	Q=$(snap-write-tree q)
	id=$(snap-ls-tree "$Q" | sed -n 's/.*xattrs=\([0-9a-f]*\) .*/\1/p')
	[ -n "$id" ] || id=$(snap-ls-tree -l "$Q" | grep -o 'xattrs=[0-9a-f]*' | cut -d= -f2)
	run -0 snap-diff-tree -r "$P" "$Q"
	assert_output "$(printf 'M\tf')"
	run -0 snap-diff-tree -r --stat "$P" "$Q"
	assert_line "$(printf 'M\tf\txattrs none -> %.12s' "$id")"
	run -0 snap-diff-tree -r --json "$P" "$Q"
	assert_output --regexp "^\{\"status\":\"M\",\"path\":\"f\",\"changed\":\[\"xattrs\"\],\"old\":\{[^}]*\},\"new\":\{[^}]*,\"xattrs\":\"$id\"\}\}$"
}

@test "diff-tree --stat names a device's new numbers; --stat and --json do not go together" {
	[ "$(id -u)" = 0 ] || skip "needs root (mknod)"
	rm -rf p q && mkdir p q
	mknod p/dev c 1 3 && mknod q/dev c 1 5
	touch -d @1000000000 p/dev q/dev
	P=$(snap-write-tree p)
	Q=$(snap-write-tree q)
	run -0 snap-diff-tree -r --stat "$P" "$Q"
	assert_line "$(printf 'M\tdev\tdevice 1:3 -> 1:5')"
	run -0 snap-diff-tree -r --json "$P" "$Q"
	assert_output --regexp '"changed":\["device"\],"old":\{"type":"chr",.*"rdev":\[1,3\]\},"new":\{.*"rdev":\[1,5\]\}\}$'
	run -129 --separate-stderr snap-diff-tree -r --json --stat "$P" "$Q"
	assert_equal "${stderr%%$'\n'*}" "snap-diff-tree: error: --stat and --json do not go together"
}
