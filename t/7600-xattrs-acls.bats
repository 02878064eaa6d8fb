#!/usr/bin/env bats
# 7: porcelain workflows — extended attributes, file capabilities and
# POSIX ACLs kept by snapshots and set back by restores

load test_helper

local_setup() {
	init_store
	export SNAP_HOST=testhost PATH="$PATH:/usr/sbin:/sbin"
	command -v setfattr > /dev/null && command -v setfacl > /dev/null ||
		skip "needs setfattr and setfacl (attr, acl)"
}

# Every attribute of every entry below DIR (paths relative to it, symlinks
# not followed), as getfattr dumps them.
dump_xattrs() {
	(cd "$1" && getfattr -R -h -d -m - --absolute-names . 2>/dev/null)
}

as_root() {
	[ "$(id -u)" = 0 ] || skip "needs root"
}

teardown() {
	[ -z "${PERM:-}" ] || rm -rf "$PERM"
}

# The blob of an extended attribute set, made by hand: NAME VALUE pairs.
xattr_blob() {
	{
		printf 'SNAPXAT1'
		while [ $# -ge 2 ]; do
			printf "$(printf '\\%03o\\%03o\\%03o\\%03o' 0 0 0 "${#1}")%s" "$1"
			printf "$(printf '\\%03o\\%03o\\%03o\\%03o' 0 0 0 "${#2}")%s" "$2"
			shift 2
		done
	}
}

@test "user.* and trusted.* attributes of files and directories come back" {
	as_root
	mkdir -p src/d
	echo one > src/a
	echo two > src/d/b
	setfattr -n user.color -v blue src/a
	setfattr -n user.empty src/a
	setfattr -n trusted.secret -v 's3cr3t' src/a
	setfattr -n user.dir -v yes src/d
	setfattr -n trusted.bin -v 0x00ff0a src/d/b
	snap-snapshot -m x src > /dev/null
	run -0 snap-fsck
	run -0 snap-restore main out
	assert_equal "$(dump_xattrs out)" "$(dump_xattrs src)"
	assert_equal "$(getfattr -h --only-values -n trusted.bin out/d/b | od -An -tx1)" " 00 ff 0a"
	diff -r src out
}

@test "a file capability (security.capability) comes back after the owner" {
	as_root
	command -v setcap > /dev/null || skip "no setcap"
	mkdir src
	printf '#!/bin/sh\n' > src/ping
	chmod 755 src/ping
	setcap cap_net_raw+ep src/ping
	chown 1234:1234 src/ping
	# chown cleared it: set it again on the file as it is now.
	setcap cap_net_raw+ep src/ping
	snap-snapshot -m x src > /dev/null
	run -0 snap-restore main out
	assert_equal "$(stat -c '%u:%g %a' out/ping)" "1234:1234 755"
	run -0 getcap out/ping
	assert_output "out/ping cap_net_raw=ep"
}

@test "access and default ACLs come back, as getfacl -R shows them" {
	command -v setfacl > /dev/null || skip "no setfacl"
	mkdir -p src/shared/sub src/plain
	echo x > src/shared/file
	echo y > src/plain/f
	setfacl -m u:nobody:rx,g:nogroup:r src/shared
	setfacl -d -m u:nobody:rwx,m::rwx src/shared
	setfacl -m u:nobody:rw src/shared/file
	setfacl -d -m g:nogroup:rx src/shared/sub
	snap-snapshot -m x src > /dev/null
	run -0 snap-restore main out
	assert_equal "$(cd out && getfacl -R -p . 2>/dev/null)" "$(cd src && getfacl -R -p . 2>/dev/null)"
	# The plain file got no ACL from anywhere, the modes are exact.
	run -0 getfacl -c -p out/plain/f
	refute_output --partial nobody
	assert_equal "$(cd out && find . -printf '%P %m\n' | sort)" "$(cd src && find . -printf '%P %m\n' | sort)"
	# A file made later in the restored directory inherits its default ACL.
	touch out/shared/new
	run -0 getfacl -c -p out/shared/new
	assert_line --regexp "^user:nobody:rwx"
}

@test "a symlink's attributes: trusted.* comes back; user.* Linux refuses on symlinks" {
	as_root
	mkdir src
	echo t > src/target
	ln -s target src/link
	setfattr -h -n trusted.on-link -v L src/link
	# The kernel keeps user.* to regular files and directories: there is
	# none on a symlink to store, so that half is not testable here.
	run setfattr -h -n user.x -v 1 src/link
	assert_failure
	snap-snapshot -m x src > /dev/null
	run -0 snap-restore main out
	assert_equal "$(getfattr -h --only-values -n trusted.on-link out/link)" "L"
	assert_equal "$(readlink out/link)" target
	run getfattr -h -d -m - out/target
	assert_output ""
}

@test "trees of entries without attributes have no field; equal sets are one blob" {
	mkdir src
	echo 1 > src/a
	echo 2 > src/b
	echo 3 > src/c
	plain=$(snap-write-tree src)
	run -0 snap-cat-file -p "$plain"
	refute_output --partial xattrs=
	setfattr -n user.k -v v src/a
	setfattr -n user.k -v v src/b
	t=$(snap-write-tree src)
	run -0 snap-ls-tree -l "$t"
	assert_line --index 0 --regexp "^file 0644 [0-9]+ [0-9]+ [0-9.]+ 2 [0-9a-f]{64} - xattrs=([0-9a-f]{64}) a$"
	x=$(snap-ls-tree -l "$t" | awk '$9 ~ /^xattrs=/ {print substr($9, 8)}' | sort -u)
	assert_equal "$(echo "$x" | wc -l)" 1
	assert_equal "$(snap-ls-tree -l "$t" | grep -c xattrs=)" 2
	assert_equal "$(snap-cat-file -t "$x")" blob
	# The set's bytes are the documented encoding, and its id theirs.
	xattr_blob user.k v > want
	cmp want <(snap-cat-file -p "$x")
	assert_equal "$x" "$(b3_blob_id want)"
	# ls-tree -l is what mktree reads, field included.
	assert_equal "$(snap-ls-tree -l "$t" | snap-mktree)" "$t"
	assert_equal "$(snap-ls-tree -l -z "$t" | snap-mktree -z)" "$t"
	# The default listing is unchanged by it.
	assert_equal "$(snap-ls-tree "$t" | sed -n 1p | cut -f2)" a
}

@test "an attribute change alone is in the next snapshot, stat cache or not" {
	mkdir src
	for i in 1 2 3; do echo "$i" > "src/f$i"; done
	setfattr -n user.v -v 1 src/f2
	next_second
	s1=$(snap-snapshot -m one src)
	run -0 --separate-stderr snap-snapshot --stats -m same src
	assert_equal "$stderr" "snap-snapshot: 0 files read, 3 reused"
	assert_equal "$(snap-rev-parse main:)" "$(snap-rev-parse "$s1":)"
	# Only the attribute changes (content and mtime as they were).
	setfattr -n user.v -v 2 src/f2
	run -0 --separate-stderr snap-snapshot --stats -m changed src
	assert_equal "$(snap-write-tree src)" "$(snap-rev-parse main:)"
	[ "$(snap-rev-parse main:)" != "$(snap-rev-parse "$s1":)" ]
	run -0 snap-diff-tree main~1 main
	assert_output "M	f2"
	rm -rf out
	snap-restore main out
	assert_equal "$(getfattr --only-values -n user.v out/f2)" 2
	# Removing it is seen as well.
	setfattr -x user.v src/f2
	snap-snapshot -m gone src > /dev/null
	assert_equal "$(snap-rev-parse main:)" "$(snap-write-tree src)"
	run -0 snap-ls-tree -l main
	refute_output --partial xattrs=
}

@test "a stat cache made leaving attributes out is not used by a snapshot that keeps them" {
	mkdir src
	echo 1 > src/f
	setfattr -n user.v -v 1 src/f
	next_second
	snap-snapshot --no-xattrs -m without src > /dev/null
	run -0 --separate-stderr snap-snapshot --stats --no-xattrs -m without src
	assert_equal "$stderr" "snap-snapshot: 0 files read, 1 reused"
	run -0 snap-ls-tree -l main
	refute_output --partial xattrs=
	run -0 --separate-stderr snap-snapshot --stats -m with src
	assert_equal "$stderr" "snap-snapshot: 1 files read, 0 reused"
	assert_equal "$(snap-rev-parse main:)" "$(snap-write-tree src)"
	run -0 snap-ls-tree -l main
	assert_output --partial xattrs=
	# Now the cache has them, and gives them.
	run -0 --separate-stderr snap-snapshot --stats -m again src
	assert_equal "$stderr" "snap-snapshot: 0 files read, 1 reused"
	assert_equal "$(snap-rev-parse main:)" "$(snap-rev-parse main~1:)"
}

# A source with an ACL'd directory and a file with a user attribute.
acl_and_xattr_src() {
	mkdir -p src/d
	echo f > src/d/f
	setfacl -m u:nobody:rx src/d
	setfacl -d -m u:nobody:r src/d
	setfattr -n user.note -v hi src/d/f
	setfattr -n user.dnote -v dir src/d
}

@test "snapshot --no-xattrs keeps ACLs only; --no-acls keeps the others only" {
	acl_and_xattr_src
	snap-snapshot --no-xattrs -m a src > /dev/null
	run -0 snap-restore main out1
	assert_equal "$(dump_xattrs out1)" "$(cd src && getfattr -R -h -d -m '^system[.]posix_acl' --absolute-names . 2>/dev/null)"
	run getfattr -h -n user.note out1/d/f
	assert_failure
	snap-snapshot --no-acls -m b src > /dev/null
	run -0 snap-restore main out2
	assert_equal "$(dump_xattrs out2)" "$(cd src && getfattr -R -h -d -m '^user[.]' --absolute-names . 2>/dev/null)"
	run -0 getfacl -c -p out2/d
	refute_output --partial nobody
	snap-snapshot --no-acls --no-xattrs -m c src > /dev/null
	run -0 snap-ls-tree -r -d -l main
	refute_output --partial xattrs=
}

@test "restore --no-xattrs sets ACLs only; --no-acls the others only" {
	acl_and_xattr_src
	snap-snapshot -m all src > /dev/null
	run -0 snap-restore --no-xattrs main out1
	assert_equal "$(dump_xattrs out1)" "$(cd src && getfattr -R -h -d -m '^system[.]posix_acl' --absolute-names . 2>/dev/null)"
	run -0 snap-restore --no-acls main out2
	assert_equal "$(dump_xattrs out2)" "$(cd src && getfattr -R -h -d -m '^user[.]' --absolute-names . 2>/dev/null)"
	run -0 snap-checkout --no-acls --no-xattrs main out3
	assert_equal "$(dump_xattrs out3)" ""
	assert_equal "$(stat -c %a out3/d)" "$(stat -c %a src/d)"
}

@test "unprivileged restore: each refused attribute is one line, the rest is restored, exit 3" {
	as_root
	command -v setpriv > /dev/null || skip "no setpriv"
	mkdir -p src/d
	echo a > src/a
	echo b > src/d/b
	setfattr -n trusted.t -v 1 src/a
	setfattr -n user.u -v 2 src/a
	setfattr -n trusted.dir -v 3 src/d
	setfacl -m u:nobody:rwx src/d/b
	chmod 0640 src/a
	touch -d '2020-01-01 00:00:00' src/a src/d
	snap-snapshot -m x src > /dev/null
	# The store readable by nobody, in a directory nobody can reach;
	# nobody's own target.
	store_for_nobody
	mv "$BATS_TEST_TMPDIR/src" src
	run -3 --separate-stderr setpriv --reuid=nobody --regid=nogroup --clear-groups \
		snap-restore main mine/out
	assert_equal "$stderr" "snap-restore: warning: cannot set extended attribute 'trusted.t' of 'a': Operation not permitted
snap-restore: warning: cannot set extended attribute 'trusted.dir' of 'd': Operation not permitted"
	assert_equal "$output" ""
	assert_equal "$(cat mine/out/a mine/out/d/b)" "a
b"
	assert_equal "$(getfattr --only-values -n user.u mine/out/a)" 2
	assert_equal "$(stat -c '%a %Y' mine/out/a)" "640 $(stat -c %Y src/a)"
	assert_equal "$(stat -c '%Y' mine/out/d)" "$(stat -c %Y src/d)"
	assert_equal "$(getfacl -c -p mine/out/d/b)" "$(getfacl -c -p src/d/b)"
	# snap-checkout says the same, with -q too, and exits 3.
	mkdir mine/co
	chown nobody:nogroup mine/co
	run -3 --separate-stderr setpriv --reuid=nobody --regid=nogroup --clear-groups \
		snap-checkout -q main mine/co/x
	assert_equal "$(echo "$stderr" | wc -l)" 2
	[[ "$stderr" == "snap-checkout: warning: cannot set extended attribute 'trusted.t' of 'a': Operation not permitted"* ]]
}

@test "a refused attribute's warning stays one line whatever its name and path hold" {
	as_root
	command -v setpriv > /dev/null || skip "no setpriv"
	mkdir src
	printf 'x' > "src/new
line"
	setfattr -n "trusted.two
lines" -v 1 "src/new
line"
	snap-snapshot -m x src > /dev/null
	store_for_nobody
	run -3 --separate-stderr setpriv --reuid=nobody --regid=nogroup --clear-groups \
		snap-checkout -j 1 main mine/out
	assert_equal "$stderr" "snap-checkout: warning: cannot set extended attribute 'trusted.two\\012lines' of 'new\\012line': Operation not permitted"
	assert_equal "$(cat "mine/out/new
line")" x
}

@test "restore of chosen paths in place keeps their attributes" {
	mkdir -p src/d
	echo a > src/d/a
	setfattr -n user.k -v 1 src/d/a
	setfacl -m u:nobody:r src/d/a
	snap-snapshot -m x src > /dev/null
	mkdir -p dest/d
	echo other > dest/keep
	run -0 snap-restore --force main dest d/a
	assert_equal "$(getfattr --only-values -n user.k dest/d/a)" 1
	assert_equal "$(getfacl -c -p dest/d/a)" "$(getfacl -c -p src/d/a)"
	assert_equal "$(cat dest/keep)" other
	# A directory made on the way to a PATH gets the attributes it had.
	setfattr -n user.dir -v on src/d
	setfacl -d -m u:nobody:rx src/d
	mkdir src/d/sub
	echo s > src/d/sub/s
	snap-snapshot -m y src > /dev/null
	rm -rf dest/d
	run -0 snap-restore --force main dest d/sub/s
	assert_equal "$(getfattr --only-values -n user.dir dest/d)" on
	assert_equal "$(getfacl -c -p dest/d)" "$(getfacl -c -p src/d)"
	assert_equal "$(cat dest/d/sub/s)" s
}

@test "hard links with attributes are one inode with them" {
	mkdir src
	echo x > src/a
	ln src/a src/b
	setfattr -n user.k -v linked src/a
	snap-snapshot -m x src > /dev/null
	run -0 snap-restore main out
	assert_equal "$(stat -c %i out/a)" "$(stat -c %i out/b)"
	assert_equal "$(getfattr --only-values -n user.k out/b)" linked
}

@test "gc keeps attribute sets: a restore after gc --prune=now has them" {
	mkdir src
	echo x > src/a
	setfattr -n user.k -v v src/a
	snap-snapshot -m x src > /dev/null
	x=$(snap-ls-tree -l main | awk '{print substr($9, 8)}')
	echo y > src/a
	setfattr -n user.k -v w src/a
	snap-snapshot -m y src > /dev/null
	age_objects
	run -0 snap-gc --prune=now
	run -0 snap-cat-file -e "$x"
	run -0 snap-fsck
	refute_output --partial error
	snap-restore main~1 out
	assert_equal "$(getfattr --only-values -n user.k out/a)" v
	# With the snapshots gone, the set goes too.
	snap-update-ref -d refs/snapshots/main
	age_objects
	snap-gc --prune=now > /dev/null
	run -1 snap-cat-file -e "$x"
}

@test "fsck reports a missing attribute set; restore names it before writing" {
	mkdir src
	echo x > src/a
	xattr_blob user.k v > set
	# A loose copy that the snapshot reuses: its only copy, to remove.
	x=$(snap-hash-object -w set)
	setfattr -n user.k -v v src/a
	snap-snapshot -m x src > /dev/null
	assert_equal "$(snap-ls-tree -l main | awk '{print $9}')" "xattrs=$x"
	corrupt_delete "$x"
	run -1 snap-cat-file -e "$x"
	run -2 snap-fsck
	assert_line --regexp "^error missing-object $x blob, referenced by $(snap-rev-parse main:)$"
	run -128 --separate-stderr snap-restore main out
	assert_equal "$stderr" "snap-restore: fatal: cannot restore: 1 missing object: $x"
	assert_file_not_exists out
	# Left out on request, it is not needed.
	run -0 snap-restore --no-xattrs --no-acls main out
	assert_equal "$(cat out/a)" x
}

@test "a malformed attribute set or field is refused, naming it" {
	mkdir src
	echo x > src/a
	snap-write-tree src > /dev/null
	blob=$(snap-hash-object -w src/a)
	# Names out of order: not the canonical encoding.
	xattr_blob user.b 1 user.a 2 > bad
	bad=$(snap-hash-object -w bad)
	line="file 0644 0 0 0.000000000 2 $blob - xattrs=$bad a"
	run -128 --separate-stderr snap-mktree <<< "$line"
	assert_equal "$stderr" "snap-mktree: fatal: entry 'a': blob '$bad': malformed extended attributes: names not sorted or duplicated"
	t=$(snap-mktree --missing <<< "$line")
	run -128 --separate-stderr snap-checkout "$t" out
	assert_equal "$stderr" "snap-checkout: fatal: blob '$bad': malformed extended attributes: names not sorted or duplicated"
	snap-update-ref refs/snapshots/bad "$(snap-mksnapshot --time 1 --host h "$t")"
	run -1 snap-fsck
	assert_line "error malformed-xattrs $bad malformed extended attributes: names not sorted or duplicated, named by tree $t"
	# A tree where the set belongs: the wrong type.
	snap-update-ref -d refs/snapshots/bad
	t2=$(snap-mktree --missing <<< "file 0644 0 0 0.000000000 2 $blob - xattrs=$t a")
	snap-update-ref refs/snapshots/bad "$(snap-mksnapshot --time 1 --host h "$t2")"
	# (and the bad set above, unreachable now, is still reported: bit 1)
	run -3 snap-fsck
	assert_line "error wrong-type $t is a tree, expected a blob, referenced by $t2"
	snap-update-ref -d refs/snapshots/bad
	# An empty set, a wrong magic, a cut length.
	printf 'SNAPXAT1' > empty
	e=$(snap-hash-object -w empty)
	run -128 --separate-stderr snap-mktree <<< "file 0644 0 0 0.000000000 2 $blob - xattrs=$e a"
	assert_equal "$stderr" "snap-mktree: fatal: entry 'a': blob '$e': malformed extended attributes: no attributes"
	xattr_blob user.a 1 | head -c 20 > cut
	c=$(snap-hash-object -w cut)
	run -128 --separate-stderr snap-mktree <<< "file 0644 0 0 0.000000000 2 $blob - xattrs=$c a"
	assert_equal "$stderr" "snap-mktree: fatal: entry 'a': blob '$c': malformed extended attributes: bad value length"
	# The field itself: upper-case hex, a wrong key, a short id.
	run -128 --separate-stderr snap-mktree --missing <<< "file 0644 0 0 0.000000000 2 $blob - xattrs=${bad^^} a"
	assert_equal "$stderr" "snap-mktree: fatal: line 1: bad field before the name"
	run -128 --separate-stderr snap-mktree --missing <<< "file 0644 0 0 0.000000000 2 $blob - xattr=$bad a"
	assert_equal "$stderr" "snap-mktree: fatal: line 1: bad field before the name"
	run -128 --separate-stderr snap-mktree --missing <<< "file 0644 0 0 0.000000000 2 $blob - xattrs=${bad:0:63} a"
	assert_equal "$stderr" "snap-mktree: fatal: line 1: bad field before the name"
}

@test "a store written before attributes (tree format 1) reads, checks and restores as then" {
	fixture_store_checks store-tree1
	snap-restore main out
	# Made as root: a user's restore gives the files its own owner.
	owners='$4 = $5 = "-"'
	[ "$(id -u)" != 0 ] || owners=
	assert_equal "$(cd out && find . -printf '%P %y %m %U %G %T@ %s %l\n' | LC_ALL=C sort | grep -v '^ d' | awk "{$owners} 1")" \
		"$(awk "{$owners} 1" "$FIXTURES/store-tree1/restore.list")"
	assert_equal "$(dump_xattrs out)" ""
	# The same tree written again today has the same id.
	tree=$(snap-rev-parse main:)
	assert_equal "$(snap-ls-tree -l main | snap-mktree)" "$tree"
	run -0 snap-gc --prune=now
	run -0 snap-fsck
	refute_output --partial error
}

@test "ls-tree --xattrs shows each attribute in hex under its entry; cat-file -p the raw set" {
	mkdir src
	echo x > src/a
	echo y > src/b
	setfattr -n user.z -v 'hi there' src/a
	setfattr -n user.e src/a
	setfattr -n 'user.sp ace' -v 1 src/a
	t=$(snap-write-tree src)
	run -0 snap-ls-tree --xattrs "$t"
	assert_output "file 0644 $(b3_blob_id src/a)	a
  user.e=0x
  user.sp\\040ace=0x31
  user.z=0x6869207468657265
file 0644 $(b3_blob_id src/b)	b"
	# With -z, lines end with NUL; attribute names stay escaped.
	snap-ls-tree -z --name-only --xattrs "$t" > got
	printf 'a\0  user.e=0x\0  user.sp\\040ace=0x31\0  user.z=0x6869207468657265\0b\0' > want
	cmp want got
	x=$(snap-ls-tree -l "$t" | awk 'NR == 1 {print substr($9, 8)}')
	xattr_blob user.e '' 'user.sp ace' 1 user.z 'hi there' > want
	cmp want <(snap-cat-file -p "$x")
}

# A file with two attributes and a directory with one, for the tests of
# an attribute whose value cannot be read (SNAP_FAULT's "getxattr").
two_attr_src() {
	mkdir -p src/d
	printf 'a\n' > src/a
	printf 'b\n' > src/d/b
	for kv in one=1 two=2; do
		setfattr -n "user.${kv%=*}" -v "${kv#*=}" src/a
	done
	setfattr -n user.dir -v 3 src/d
}

@test "an attribute listed but not readable is left out: one line, exit 3, the rest stored" {
	two_attr_src
	SNAP_FAULT='getxattr@user.two:*:EACCES,getxattr@user.dir:*:EIO' \
		run -3 --separate-stderr snap-snapshot -m x src
	assert_equal "$stderr" "snap-snapshot: warning: a: extended attribute 'user.two': Permission denied, left out
snap-snapshot: warning: d: extended attribute 'user.dir': Input/output error, left out"
	assert_equal "$output" "$(snap-rev-parse main)"
	run -0 snap-cat-file -p main
	assert_line --index 3 'incomplete 2'
	assert_line --index 4 'problem metadata a'
	assert_line --index 5 'problem metadata d'
	run -0 snap-ls-tree --xattrs -r main
	assert_output "file 0644 $(b3_blob_id src/a)	a
  user.one=0x31
file 0644 $(b3_blob_id src/d/b)	d/b"
	run -0 snap-restore main out
	assert_equal "$(cat out/a out/d/b)" "a
b"
	assert_equal "$(dump_xattrs out)" "$(printf '# file: ./a\nuser.one="1"\n')"
}

@test "attributes that cannot be listed: the entry stored without any, one line, exit 3; --strict fatal" {
	two_attr_src
	SNAP_FAULT='listxattr@a:*:EIO' run -3 --separate-stderr snap-snapshot -m x src
	assert_equal "$stderr" "snap-snapshot: warning: a: extended attributes cannot be listed: Input/output error, left out"
	run -0 snap-cat-file -p main
	assert_line --index 3 'incomplete 1'
	assert_line --index 4 'problem metadata a'
	run -0 snap-ls-tree --xattrs -r main
	assert_output "file 0644 $(b3_blob_id src/a)	a
file 0644 $(b3_blob_id src/d/b)	d/b"
	# No stat cache entry: the next snapshot reads the attributes again.
	run -0 --separate-stderr snap-snapshot -m y src
	run -0 snap-ls-tree --xattrs main
	assert_line --index 1 "  user.one=0x31"
	before=$(snap-rev-parse main)
	SNAP_FAULT='listxattr@d:*:EACCES' run -128 --separate-stderr snap-snapshot --strict -m z src
	assert_equal "$stderr" "snap-snapshot: fatal: cannot list the extended attributes of 'd': Permission denied"
	assert_equal "$(snap-rev-parse main)" "$before"
}

@test "an attribute too large to read (E2BIG) is a problem too; write-tree lists it" {
	two_attr_src
	SNAP_FAULT='getxattr@user.one:1:E2BIG' \
		run -3 --separate-stderr snap-write-tree --problems probs src
	assert_equal "$stderr" "snap-write-tree: warning: a: extended attribute 'user.one': Argument list too long, left out"
	assert_equal "$(cat probs)" "metadata a"
	run -0 snap-ls-tree --xattrs "$output"
	assert_line --index 1 "  user.two=0x32"
}

@test "--strict: an attribute that cannot be read is fatal, no snapshot, refs unchanged" {
	two_attr_src
	snap-snapshot -m first src > /dev/null
	before=$(snap-for-each-ref --format='%(objectname) %(refname)')
	SNAP_FAULT='getxattr@user.two:*:EACCES' \
		run -128 --separate-stderr snap-snapshot --strict -m second src
	assert_equal "$stderr" "snap-snapshot: fatal: cannot read extended attribute 'user.two' of 'a': Permission denied"
	assert_output ''
	assert_equal "$(snap-for-each-ref --format='%(objectname) %(refname)')" "$before"
	assert_equal "$(snap-log --format=%s)" first
}

@test "an attribute removed between listing and reading (ENODATA) is left out, nothing said" {
	two_attr_src
	SNAP_FAULT='getxattr@user.two:*:ENODATA' run -0 --separate-stderr snap-snapshot -m x src
	assert_equal "$stderr" ""
	run -0 snap-cat-file -p main
	refute_output --partial incomplete
	run -0 snap-ls-tree --xattrs main
	assert_line --index 1 "  user.one=0x31"
	refute_output --partial user.two
}

@test "a file whose attribute could not be read gets no stat cache entry: read again next time" {
	two_attr_src
	next_second
	SNAP_FAULT='getxattr@user.two:*:EACCES' run -3 snap-snapshot -m partial src
	run -0 --separate-stderr snap-snapshot --stats -m whole src
	assert_equal "$stderr" "snap-snapshot: 1 files read, 1 reused"
	assert_equal "$(snap-rev-parse main:)" "$(snap-write-tree src)"
	run -0 snap-ls-tree --xattrs main
	assert_line --index 2 "  user.two=0x32"
}

@test "a listed attribute's name with a newline is one warning line, quoted" {
	mkdir src
	echo x > src/f
	setfattr -n "user.two
lines" -v 1 src/f
	SNAP_FAULT='getxattr@user.two:*:EACCES' run -3 --separate-stderr snap-snapshot -m x src
	assert_equal "$stderr" "snap-snapshot: warning: f: extended attribute 'user.two\\012lines': Permission denied, left out"
}
