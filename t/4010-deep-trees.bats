#!/usr/bin/env bats
# 4: trees — directories far deeper than PATH_MAX allows to name at once

load test_helper

DEPTH=20000

# make_deep DIR [WORD]: DIR/d/d/.../d ($DEPTH levels) with the file f
# (content "bottom", or WORD) at the bottom, a file z (content "middle",
# or WORD) beside the d at level 100 and one ("top") in DIR itself.  The
# path is longer than PATH_MAX, so it is built one relative step at a time.
make_deep() {
	python3 - "$1" "$DEPTH" "${2:-}" <<'PY'
import os, sys
word = sys.argv[3]
os.mkdir(sys.argv[1]); os.chdir(sys.argv[1])
open('z', 'w').write('top')
for i in range(int(sys.argv[2])):
    if i == 100:
        open('z', 'w').write(word or 'middle')
    os.mkdir('d'); os.chdir('d')
open('f', 'w').write(word or 'bottom')
PY
}

# remove_deep DIR: what make_deep made, bottom-up (faster than rm -rf).
remove_deep() {
	python3 - "$1" <<'PY'
import os, sys
os.chdir(sys.argv[1])
n = 0
while os.path.isdir('d'):
    os.chdir('d'); n += 1
for i in range(n):
    for x in os.listdir('.'):
        os.unlink(x)
    os.chdir('..'); os.rmdir('d')
PY
}

# deep_path N: d/d/.../d, N levels.
deep_path() {
	python3 -c "import sys; print('/'.join(['d'] * int(sys.argv[1])))" "$1"
}

# A stack far smaller than the default, so that recursion per level fails
# even where 8 MiB would have held out.
small_stack() {
	(ulimit -s 1024 && "$@")
}

# Built once for the file: each costs seconds.
setup_file() {
	make_deep "$BATS_FILE_TMPDIR/src"
	make_deep "$BATS_FILE_TMPDIR/changed" changed
}

teardown_file() {
	remove_deep "$BATS_FILE_TMPDIR/src"
	remove_deep "$BATS_FILE_TMPDIR/changed"
}

local_setup() {
	init_store
	ln -s "$BATS_FILE_TMPDIR/src" src
	ln -s "$BATS_FILE_TMPDIR/changed" changed
}

@test "write-tree stores a directory $DEPTH levels deep" {
	run -0 --separate-stderr small_stack snap-write-tree src/
	t=$output
	assert_equal "$stderr" ''
	run -0 snap-ls-tree -r --name-only "$t"
	assert_output "$(deep_path $DEPTH)/f
$(deep_path 100)/z
z"
}

@test "ls-tree -r lists a tree $DEPTH levels deep" {
	t=$(snap-write-tree src/)
	# Into a file: Bats splits a long output into lines slowly.
	run -0 --separate-stderr small_stack sh -c 'snap-ls-tree -r -d "$1" > listing' - "$t"
	assert_equal "$stderr" ''
	assert_equal "$(wc -l < listing)" $((DEPTH + 3))
	printf bottom > bottom
	assert_equal "$(sed -n "$((DEPTH + 1))p" listing)" "file 0644 $(b3_blob_id bottom)	$(deep_path $DEPTH)/f"
	[[ "$(sed -n "${DEPTH}p" listing)" =~ ^dir\ 0755\ [0-9a-f]{64}$'\t'"$(deep_path $DEPTH)"$ ]]
}

@test "diff-tree -r compares two trees $DEPTH levels deep" {
	a=$(snap-write-tree src/)
	b=$(snap-write-tree changed)
	e=$(snap-mktree </dev/null)
	run -0 --separate-stderr small_stack snap-diff-tree -r "$a" "$b"
	assert_output "M	$(deep_path $DEPTH)/f
M	$(deep_path 100)/z"
	assert_equal "$stderr" ''
	run -0 --separate-stderr small_stack snap-diff-tree -r "$e" "$b"
	assert_output "A	$(deep_path $DEPTH)/f
A	$(deep_path 100)/z
A	z"
}
