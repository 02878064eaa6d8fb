#!/usr/bin/env bats
# 7: porcelain workflows — inode flags (chattr's S D i a d A) kept by
# snapshots and set back by restores; --exclude-nodump, --no-flags

load test_helper

local_setup() {
	[ "$(id -u)" = 0 ] || skip "needs root (chattr +i)"
	command -v chattr > /dev/null && command -v lsattr > /dev/null ||
		skip "needs chattr and lsattr (e2fsprogs)"
	mkdir probe
	chattr +d probe 2> /dev/null || skip "no inode flags on this filesystem"
	init_store
}

# Immutable and append-only entries cannot be removed: clear them first.
teardown() {
	chattr -R -ia "$BATS_TEST_TMPDIR" 2> /dev/null || :
	[ -z "${PERM:-}" ] || { chattr -R -ia "$PERM" 2> /dev/null; rm -rf "$PERM"; }
}

# The kept flags of each entry below DIR, "LETTERS PATH", as lsattr shows
# them (the filesystem's own, e and I, left out).
flags_of() {
	(cd "$1" && find . -mindepth 1 \( -type f -o -type d \) -print0 | LC_ALL=C sort -z |
		xargs -0 lsattr -d | awk '{ f = $1; gsub(/[^SDiadA]/, "", f); print (f == "" ? "-" : f), $2 }')
}

# A source with every kept flag on a file and on a directory; the
# immutable and append-only directories hold a file.
flagged_src() {
	mkdir -p src/dirs
	for f in S i a d A; do
		echo "$f" > "src/f$f"
		touch -d '2020-01-01 00:00:00' "src/f$f"
		chattr "+$f" "src/f$f"
	done
	for f in S D i a d A; do
		mkdir "src/dirs/d$f"
		echo "in $f" > "src/dirs/d$f/file"
		chattr "+$f" "src/dirs/d$f"
	done
	echo plain > src/plain
	echo two > src/plain2
	chattr +iA src/plain2
}

@test "every kept flag of files and directories is stored and restored, content and times too" {
	flagged_src
	t=$(snap-write-tree src)
	run -0 snap-ls-tree -l "$t"
	assert_line --regexp "^file 0644 .* - flags=i fi$"
	assert_line --regexp "^file 0644 .* - flags=iA plain2$"
	# (e, the extents ext4 gives every file, is never stored)
	assert_line --regexp "^file 0644 .* - plain$"
	run -0 snap-ls-tree -l "$t" dirs
	assert_line --regexp "^dir 0755 .* - flags=D dirs/dD$"
	snap-snapshot -q -m x src
	run -0 snap-restore main out
	assert_equal "$(flags_of out)" "$(flags_of src)"
	assert_equal "$(cat out/fi out/dirs/di/file out/dirs/da/file)" "i
in i
in a"
	assert_equal "$(stat -c %Y out/fi)" "$(stat -c %Y src/fi)"
	assert_equal "$(stat -c %Y out/dirs/di)" "$(stat -c %Y src/dirs/di)"
	# snap-checkout too, and snap-ls shows them.
	run -0 snap-checkout main co
	assert_equal "$(flags_of co)" "$(flags_of src)"
	run -0 snap-ls --json main
	assert_output --partial '"flags":"iA"'
}

@test "an immutable file with hard links: the links are made, then the flag" {
	mkdir src
	echo x > src/a
	ln src/a src/b
	chattr +i src/a
	snap-snapshot -q -m x src
	run -0 snap-restore main out
	assert_equal "$(stat -c %i out/a)" "$(stat -c %i out/b)"
	assert_equal "$(flags_of out)" "i ./a
i ./b"
}

@test "a re-snapshot with the stat cache sees a flag changed by chattr" {
	mkdir src
	echo x > src/a
	next_second
	snap-snapshot -q -m one src
	next_second
	run -0 snap-snapshot --stats -m two src
	assert_output --partial "0 files read"
	one=$(snap-rev-parse main:)
	chattr +A src/a
	next_second
	snap-snapshot -q -m three src
	refute [ "$(snap-rev-parse main:)" = "$one" ]
	run -0 snap-ls-tree -l main
	assert_output --regexp " flags=A a$"
	# And the cache keeps it: a fourth reads nothing and gives the same tree.
	next_second
	three=$(snap-rev-parse main:)
	run -0 snap-snapshot --stats -m four src
	assert_output --partial "0 files read"
	assert_equal "$(snap-rev-parse main:)" "$three"
}

@test "--exclude-nodump leaves out files and whole directories with d, with or without the cache" {
	mkdir -p src/keep src/skip/deep
	echo a > src/keep/a
	echo b > src/nodump
	echo c > src/skip/deep/c
	chattr +d src/nodump src/skip
	run -0 snap-write-tree -n --exclude-nodump src
	assert_output "read keep/a
skip nodump
skip skip"
	t=$(snap-write-tree --exclude-nodump src)
	run -0 snap-ls-tree -r "$t"
	assert_output "file 0644 $(b3_blob_id src/keep/a)	keep/a"
	next_second
	snap-snapshot -q --exclude-nodump -m one src
	next_second
	snap-snapshot -q --exclude-nodump -m two src
	run -0 snap-ls-tree -r --name-only main
	assert_output "keep/a"
	# Without it they are stored, flag and all.
	run -0 snap-ls-tree -l "$(snap-write-tree src)"
	assert_line --regexp " flags=d nodump$"
	assert_line --regexp " flags=d skip$"
}

@test "--no-flags stores none, and restores none" {
	mkdir src
	echo a > src/a
	chattr +A src/a
	run -0 snap-ls-tree -l "$(snap-write-tree --no-flags src)"
	refute_output --partial flags=
	snap-snapshot -q --no-flags -m x src
	run -0 snap-ls-tree -l main
	refute_output --partial flags=
	snap-snapshot -q -m y src
	run -0 snap-ls-tree -l main
	assert_output --partial flags=A
	run -0 snap-restore --no-flags main out
	assert_equal "$(flags_of out)" "- ./a"
	run -0 snap-checkout --no-flags main co
	assert_equal "$(flags_of co)" "- ./a"
	run -0 snap-restore main out2
	assert_equal "$(flags_of out2)" "A ./a"
}

@test "an unprivileged restore of an immutable file: one line, the rest restored, exit 3" {
	command -v setpriv > /dev/null || skip "no setpriv"
	mkdir src
	echo a > src/a
	echo b > src/b
	chattr +i src/a
	chattr +A src/b
	snap-snapshot -q -m x src
	store_for_nobody
	run -3 --separate-stderr setpriv --reuid=nobody --regid=nogroup --clear-groups \
		snap-restore main mine/out
	assert_equal "$stderr" "snap-restore: warning: cannot set the inode flags 'i' of 'a': Operation not permitted"
	assert_equal "$output" ""
	assert_equal "$(cat mine/out/a mine/out/b)" "a
b"
	assert_equal "$(flags_of mine/out)" "- ./a
A ./b"
}

@test "restore --force and --overwrite over immutable files: nothing is lost, one line each" {
	mkdir src
	echo new > src/a
	snap-snapshot -q -m x src
	mkdir target
	echo old > target/a
	chattr +i target/a
	# --overwrite cannot replace it: it stays, one line, exit 3.
	run -3 --separate-stderr snap-restore --overwrite main target
	assert_equal "$stderr" "snap-restore: warning: cannot overwrite 'target/a': Operation not permitted; left as it is"
	assert_equal "$(cat target/a)" old
	assert_equal "$(ls -A target)" a
	# --force replaces the content; the old immutable file is removed.
	run -0 --separate-stderr snap-restore --force main target
	assert_equal "$stderr" ""
	assert_equal "$(cat target/a)" new
	assert_equal "$(find . -maxdepth 1 -name '.snap-restore*')" ""
}

@test "a malformed flags field is refused by every reader of trees" {
	b=$(printf x | snap-hash-object -w --stdin)
	l=$(printf x | snap-hash-object -w --stdin)
	for f in flags= flags=x flags=e flags=ii flags=ai flags=Ai; do
		t=$(printf 'file 0644 0 0 0.000000000 1 %s - %s a\n' "$b" "$f" | snap-hash-object -t tree -w --stdin)
		run -128 --separate-stderr snap-ls-tree "$t"
		assert_equal "$stderr" "snap-ls-tree: fatal: malformed tree: line 1: bad field before the name (tree '$t')"
		run -128 --separate-stderr snap-checkout "$t" out
		[[ "$stderr" == *"malformed tree: line 1: bad field before the name"* ]]
		assert_not_exist out
		run -128 --separate-stderr snap-mktree --missing <<< "file 0644 0 0 0.000000000 1 $b - $f a"
		assert_equal "$stderr" "snap-mktree: fatal: line 1: bad field before the name"
	done
	# The field twice; flags on a symlink; flags before the attributes.
	local line why
	while IFS='|' read -r line why; do
		run -128 --separate-stderr snap-mktree --missing <<< "$line"
		assert_equal "$stderr" "snap-mktree: fatal: line 1: $why"
	done <<-EOF
		file 0644 0 0 0.000000000 1 $b - flags=i flags=a a|bad name
		symlink 0777 0 0 0.000000000 1 $l - flags=i s|flags on an entry that is not a file or directory for entry 's'
		file 0644 0 0 0.000000000 1 $b - flags=i xattrs=$b a|bad name
	EOF
	# fsck names it.
	t=$(printf 'file 0644 0 0 0.000000000 1 %s - flags=ai a\n' "$b" | snap-hash-object -t tree -w --stdin)
	run -1 snap-fsck
	assert_line "error malformed-tree $t malformed tree: line 1: bad field before the name"
}

@test "a store of tree format 2 (attributes, sparse files) reads, checks and restores as then" {
	command -v getfattr > /dev/null || skip "needs getfattr (attr)"
	fixture_store_checks store-tree2
	snap-restore main out
	assert_equal "$(cd out && find . -printf '%P %y %m %U %G %T@ %s %l\n' | LC_ALL=C sort | grep -v '^ d')" \
		"$(cat "$FIXTURES/store-tree2/restore.list")"
	assert_equal "$(getfattr --only-values -n user.note out/a.txt)" kept
	assert_equal "$(getfattr --only-values -n user.dir out/sub)" 1
	[ "$(stat -c %b out/sparse)" -lt 100 ]
	assert_equal "$(flags_of out)" "- ./a.txt
- ./sparse
- ./sub
- ./sub/b.txt"
	tree=$(snap-rev-parse main:)
	assert_equal "$(snap-ls-tree -l main | snap-mktree)" "$tree"
}

@test "diff-tree reports a change of flags alone" {
	mkdir src
	echo a > src/a
	a=$(snap-write-tree src)
	chattr +A src/a
	b=$(snap-write-tree src)
	run -0 snap-diff-tree --stat "$a" "$b"
	assert_output "M	a	flags none -> A
1 paths changed: 0 added, 0 deleted, 1 modified, 0 changed type; 0 bytes added, 0 bytes removed"
	run -0 snap-diff-tree --json "$a" "$b"
	assert_output --partial '"changed":["flags"]'
}

@test "a restore in place of immutable and append-only entries: placed first, flagged last, as a new restore" {
	flagged_src
	mkdir src/links
	echo l > src/links/a
	ln src/links/a src/links/b
	chattr +i src/links/a
	snap-snapshot -q -m x src
	snap-restore main fresh
	want=$(flags_of fresh)
	assert_equal "$want" "$(flags_of src)"
	# Whole, into a DIR it cannot rename (its parent another user's).
	mkdir -p theirs/target
	echo old > theirs/target/old
	chown nobody theirs
	run -0 --separate-stderr snap-restore --force main theirs/target
	assert_equal "$stderr" ""
	assert_equal "$(flags_of theirs/target)" "$want"
	assert_equal "$(stat -c %i theirs/target/links/a)" "$(stat -c %i theirs/target/links/b)"
	assert_equal "$(ls -A theirs/target | grep -c snap-restore)" 0
	# PATHs into a non-empty DIR.
	mkdir target
	echo mine > target/mine
	run -0 --separate-stderr snap-restore --force main target fi fa dirs links
	assert_equal "$stderr" ""
	assert_equal "$(flags_of target | grep -v ' ./mine$')" "$(flags_of fresh | grep -E ' ./(fi|fa|dirs|links)(/|$)')"
	assert_equal "$(cat target/mine target/dirs/di/file)" "mine
in i"
	# Merged into it with --overwrite, which adds what it lacks.
	mkdir over
	echo mine > over/mine
	run -0 --separate-stderr snap-restore --overwrite main over
	assert_equal "$stderr" ""
	assert_equal "$(flags_of over | grep -v ' ./mine$')" "$want"
	# snap-checkout --in-place itself.
	mkdir co
	run -0 --separate-stderr snap-checkout --in-place co/.tmp main co
	assert_equal "$stderr" ""
	assert_equal "$(flags_of co | grep -v '^- ./.tmp')" "$want"
}

@test "an unprivileged restore in place of an immutable file: one line (its hard link too), the rest in place, exit 3" {
	command -v setpriv > /dev/null || skip "no setpriv"
	mkdir src
	echo a > src/a
	echo b > src/b
	ln src/a src/c
	chattr +i src/a
	chattr +A src/b
	snap-snapshot -q -m x src
	store_for_nobody
	echo mine > mine/mine
	chown nobody:nogroup mine/mine
	run -3 --separate-stderr setpriv --reuid=nobody --regid=nogroup --clear-groups \
		snap-restore --overwrite main mine
	assert_equal "$stderr" "snap-restore: warning: cannot set the inode flags 'i' of 'a': Operation not permitted"
	assert_equal "$output" ""
	assert_equal "$(cat mine/a mine/b mine/c mine/mine)" "a
b
a
mine"
	assert_equal "$(stat -c %i mine/a)" "$(stat -c %i mine/c)"
	assert_equal "$(flags_of mine)" "- ./a
A ./b
- ./c
- ./mine"
}

@test "--force in place over a DIR with an immutable entry: refused whole, one line, DIR as it was" {
	mkdir src
	echo new > src/a
	echo new > src/b
	snap-snapshot -q -m x src
	# DIR's parent is another user's: the restore is made in place.
	mkdir -p theirs/t
	echo old > theirs/t/a
	echo old > theirs/t/old1
	echo old > theirs/t/zz
	chattr +i theirs/t/zz
	chown nobody theirs
	run -128 --separate-stderr snap-restore --force main theirs/t
	assert_equal "$stderr" "snap-restore: fatal: cannot move 'theirs/t/zz' aside: Operation not permitted"
	assert_equal "$(ls -A theirs/t)" "a
old1
zz"
	assert_equal "$(cat theirs/t/a theirs/t/old1)" "old
old"
	# One the snapshot has too: the entries put in place before it go back.
	chattr -i theirs/t/zz
	rm theirs/t/old1
	echo new > src/zz
	snap-snapshot -q -m y src
	chattr +i theirs/t/zz
	run -128 --separate-stderr snap-restore --force main theirs/t
	assert_equal "$stderr" "snap-restore: fatal: cannot put 'zz' in place in 'theirs/t': Operation not permitted"
	assert_equal "$(ls -A theirs/t)" "a
zz"
	assert_equal "$(cat theirs/t/a theirs/t/zz)" "old
old"
}

@test "a PATH restored in place: a directory made on the way gets its flags too, after" {
	mkdir -p src/top/sub
	echo f > src/top/sub/f
	chattr +a src/top/sub
	chattr +i src/top
	snap-snapshot -q -m x src
	snap-restore main fresh top/sub/f
	mkdir target
	echo mine > target/mine
	run -0 --separate-stderr snap-restore --force main target top/sub/f
	assert_equal "$stderr" ""
	assert_equal "$(flags_of target)" "- ./mine
$(flags_of fresh)"
	assert_equal "$(flags_of fresh)" "i ./top
a ./top/sub
- ./top/sub/f"
	# A directory of DIR that is there already keeps its own flags.
	chattr -R -ia target
	rm -rf target/top/sub
	run -0 --separate-stderr snap-restore --force main target top/sub/f
	assert_equal "$(flags_of target)" "- ./mine
- ./top
a ./top/sub
- ./top/sub/f"
}

@test "--overwrite of one file whose target is immutable: one line, exit 3, both sides as they were" {
	mkdir src
	echo new > src/a
	echo new > src/b
	chattr +i src/b
	snap-snapshot -q -m x src
	mkdir target
	echo old > target/a
	echo old > target/b
	chattr +i target/a
	run -3 --separate-stderr snap-restore --overwrite main target a
	assert_equal "$output" ""
	assert_equal "$stderr" "snap-restore: warning: cannot overwrite 'target/a': Operation not permitted; left as it is"
	assert_equal "$(cat target/a target/b)" "old
old"
	assert_equal "$(flags_of target)" "i ./a
- ./b"
	assert_equal "$(ls -A target)" "a
b"
	# The snapshot's own immutable file replaces a plain one, and is flagged.
	run -0 --separate-stderr snap-restore --overwrite main target b
	assert_equal "$stderr" ""
	assert_equal "$(cat target/b)" new
	assert_equal "$(flags_of target)" "i ./a
i ./b"
	assert_equal "$(ls -A target)" "a
b"
}

@test "inode flags that cannot be read: the entry stored without them, one line, exit 3; --strict fatal" {
	mkdir -p src/d
	echo a > src/a
	echo b > src/d/b
	chattr +A src/a src/d/b
	chattr +d src/d
	SNAP_FAULT='getflags@a:*:EIO' run -3 --separate-stderr snap-snapshot -m x src
	assert_equal "$stderr" "snap-snapshot: warning: a: inode flags: Input/output error, left out"
	run -0 snap-cat-file -p main
	assert_line --index 3 'incomplete 1'
	assert_line --index 4 'problem metadata a'
	run -0 snap-ls-tree -l -r -d main
	assert_line --regexp "^file 0644 .* - a$"
	assert_line --regexp " flags=d d$"
	assert_line --regexp " flags=A d/b$"
	# A directory's too; write-tree lists the problem.
	SNAP_FAULT='getflags@d:1:EACCES' run -3 --separate-stderr snap-write-tree --problems probs src
	assert_equal "$stderr" "snap-write-tree: warning: d: inode flags: Permission denied, left out"
	assert_equal "$(cat probs)" "metadata d"
	run -0 snap-ls-tree -l "$output"
	assert_line --regexp "^dir 0755 .* - d$"
	# No stat cache entry: the next snapshot reads them again.
	next_second
	run -0 --separate-stderr snap-snapshot -m y src
	assert_equal "$stderr" ""
	run -0 snap-ls-tree -l main
	assert_line --regexp " flags=A a$"
	before=$(snap-rev-parse main)
	SNAP_FAULT='getflags@d/b:*:EIO' run -128 --separate-stderr snap-snapshot --strict --force-read -m z src
	assert_equal "$stderr" "snap-snapshot: fatal: cannot read the inode flags of 'd/b': Input/output error"
	assert_equal "$(snap-rev-parse main)" "$before"
}

@test "flags a directory passes on to new entries: kept where the tree stores none, the stored ones exactly" {
	mkdir probe2
	chattr +A probe2
	touch probe2/f
	[[ "$(lsattr -d probe2/f)" == *A* ]] || skip "this filesystem does not pass A on to new files"
	mkdir -p src/sub
	echo a > src/a
	echo b > src/b
	echo c > src/sub/c
	chattr +d src/b
	snap-snapshot -q -m x src
	# Into a new DIR: made beside it, its entries get what its parent passes on.
	mkdir par
	chattr +A par
	run -0 --separate-stderr snap-restore main par/out
	assert_equal "$stderr" ""
	want="A ./a
d ./b
A ./sub
A ./sub/c"
	assert_equal "$(flags_of par/out)" "$want"
	# In place: made inside DIR, they get what DIR passes on.
	mkdir tgt
	chattr +A tgt
	run -0 snap-restore --overwrite main tgt
	assert_equal "$(flags_of tgt)" "$want"
	# --no-flags sets and clears none: b keeps what it was given.
	run -0 snap-restore --no-flags main par/none
	assert_equal "$(flags_of par/none)" "A ./a
A ./b
A ./sub
A ./sub/c"
	# --force renames a new DIR into place: its mode is the old one's, its
	# flags those its parent gave it.
	mkdir old
	chattr +A old
	echo x > old/x
	run -0 snap-restore --force main old
	assert_equal "$(lsattr -d old | awk '{ print $1 }' | tr -cd 'SDiadA')" ""
	assert_equal "$(flags_of old)" "- ./a
d ./b
- ./sub
- ./sub/c"
}

@test "a symlink, fifo or device after a flagged file gets no flags of its own" {
	# The entries in name order: a flagged file, then one of each kind
	# that has no inode flags.  Each took the file's flags, and
	# write-tree refused its own tree.
	mkdir src
	echo x > src/a
	chattr +A src/a
	ln -s a src/b
	mkfifo src/c
	mknod src/d c 1 3
	run -0 snap-snapshot -q -m x src
	run -0 snap-ls-tree -l main
	assert_line --regexp "^file 0644 .* - flags=A a$"
	assert_line --regexp "^symlink 0777 .* - b$"
	assert_line --regexp "^fifo 0644 .* - c$"
	assert_line --regexp "^chr 0644 .* rdev=1:3 d$"
	run -0 --separate-stderr snap-restore main out
	assert_equal "$stderr" "snap-restore: warning: skipping device 'd'"
	assert_equal "$(lsattr -d out/a | cut -c1-20 | tr -cd 'A')" A
	assert_equal "$(readlink out/b)" a
	assert [ -p out/c ]
}
