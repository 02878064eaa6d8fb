#!/usr/bin/env bats
# 4: trees and restore — restore --include restores only what matches
# (and the directories above it); restore --overwrite puts a snapshot's
# files back into a full directory, one rename each, touching nothing
# else, refusing a directory against a file, never following a symlink.

load test_helper

local_setup() {
	init_store
	mkdir -p src/etc/ssl src/var/log/app src/d2
	echo conf > src/etc/app.conf
	echo cert > src/etc/ssl/c.pem
	echo key > src/etc/ssl/k.key
	echo log > src/var/log/app/x.log
	echo sys > src/var/log/syslog
	echo f > src/d2/file
	echo top > src/top
	chmod 750 src/etc
	touch -d 2001-01-01 src/etc
	snap-snapshot -m s src > /dev/null
}

# Every entry below DIR with its type, as find shows them, sorted.
listing() {
	(cd "$1" && find . -mindepth 1 -printf '%p %y\n' | LC_ALL=C sort)
}

@test "restore --include DIR/ restores that directory and the directories above it" {
	run -0 --separate-stderr snap-restore --include 'etc/ssl/' main out
	assert_equal "$stderr" ""
	assert_equal "$(listing out)" "./etc d
./etc/ssl d
./etc/ssl/c.pem f
./etc/ssl/k.key f"
	# The directory on the way has the snapshot's own metadata.
	assert_equal "$(stat -c '%a %Y' out/etc)" "$(stat -c '%a %Y' src/etc)"
	diff -r src/etc/ssl out/etc/ssl
}

@test "restore --include: names at any depth, '**', a leading '/', repeated" {
	run -0 snap-restore --include '*.log' --include '/top' main r1
	assert_equal "$(listing r1)" "./top f
./var d
./var/log d
./var/log/app d
./var/log/app/x.log f"
	run -0 snap-restore --include 'var/**/syslog' main r2
	assert_equal "$(listing r2)" "./var d
./var/log d
./var/log/syslog f"
	# A trailing '/' matches directories only: top is a file, so nothing
	# matches, which is said before anything is written.
	run -128 --separate-stderr snap-restore --include 'top/' main r3
	assert_equal "$stderr" "snap-restore: fatal: no entry of the tree matches --include top/"
	[ ! -e r3 ]
}

@test "restore --exclude applies after --include, also below an included directory" {
	run -0 snap-restore --include 'etc/' --exclude '*.pem' main out
	assert_equal "$(listing out)" "./etc d
./etc/app.conf f
./etc/ssl d
./etc/ssl/k.key f"
	run -128 --separate-stderr snap-restore --include '*.key' --exclude 'ssl/' main out2
	assert_equal "$stderr" "snap-restore: fatal: no entry of the tree that --exclude leaves in matches --include *.key"
	[ ! -e out2 ]
}

@test "restore --include with a PATH restores what both select" {
	run -0 snap-restore --include '*.log' main out var/log
	assert_equal "$(listing out)" "./var d
./var/log d
./var/log/app d
./var/log/app/x.log f"
	run -0 snap-restore --include 'c.pem' --force main out etc
	assert_equal "$(listing out)" "./etc d
./etc/ssl d
./etc/ssl/c.pem f
./var d
./var/log d
./var/log/app d
./var/log/app/x.log f"
}

# A full target: what is not in the snapshot, an older copy of some of
# it, a hard link to an old file (to tell a rename from a rewrite).
full_dst() {
	mkdir -p dst/etc dst/var/log
	echo keep > dst/keep
	echo mine > dst/etc/mine
	echo old > dst/etc/app.conf
	ln dst/etc/app.conf old-link
	echo oldtop > dst/top
	chmod 700 dst/etc
}

@test "restore --overwrite puts the snapshot's files back and leaves everything else" {
	full_dst
	run -0 --separate-stderr snap-restore --overwrite main dst
	assert_equal "$stderr" ""
	assert_output ""
	assert_equal "$(listing dst)" "./d2 d
./d2/file f
./etc d
./etc/app.conf f
./etc/mine f
./etc/ssl d
./etc/ssl/c.pem f
./etc/ssl/k.key f
./keep f
./top f
./var d
./var/log d
./var/log/app d
./var/log/app/x.log f
./var/log/syslog f"
	assert_equal "$(cat dst/keep dst/etc/mine)" "keep
mine"
	diff src/etc/app.conf dst/etc/app.conf
	diff src/top dst/top
	diff -r src/etc/ssl dst/etc/ssl
	diff -r src/var dst/var
	# Replaced by a rename: the old inode, still linked, is untouched.
	assert_equal "$(cat old-link)" old
	assert_equal "$(stat -c %h old-link)" 1
	# A directory that was there keeps its own mode (its mtime is now).
	assert_equal "$(stat -c '%a %u' dst/etc)" "700 $(id -u)"
	# Nothing is left of the temporary directory.
	run -0 find dst -name '.snap-restore.*'
	assert_output ""
}

@test "restore --overwrite refuses a directory against a file, each one line, exit 3" {
	full_dst
	echo notadir > dst/d2
	mkdir -p dst/var/log/syslog/inside
	echo deep > dst/var/log/syslog/inside/f
	run -3 --separate-stderr snap-restore --overwrite main dst
	assert_equal "$stderr" "snap-restore: warning: cannot overwrite 'dst/d2': not a directory, where the snapshot has one; left as it is
snap-restore: warning: cannot overwrite 'dst/var/log/syslog': a directory, where the snapshot has none; left as it is"
	assert_output ""
	assert_equal "$(cat dst/d2)" notadir
	assert_equal "$(cat dst/var/log/syslog/inside/f)" deep
	# The rest is restored all the same.
	diff src/top dst/top
	diff src/var/log/app/x.log dst/var/log/app/x.log
	assert_equal "$(cat dst/keep)" keep
}

@test "restore --overwrite never follows a symlink in DIR out of it" {
	full_dst
	mkdir outside
	echo secret > outside/secret
	echo c > outside/c.pem
	ln -s "$PWD/outside" dst/etc/ssl
	ln -s "$PWD/outside/secret" dst/var/log/syslog
	before=$(listing outside)
	run -3 --separate-stderr snap-restore --overwrite main dst
	assert_equal "$stderr" "snap-restore: warning: cannot overwrite 'dst/etc/ssl': not a directory, where the snapshot has one; left as it is"
	assert_equal "$(listing outside)" "$before"
	assert_equal "$(cat outside/secret outside/c.pem)" "secret
c"
	# The symlink where the snapshot has a file is replaced, not written through.
	assert [ ! -L dst/var/log/syslog ]
	diff src/var/log/syslog dst/var/log/syslog
	assert [ -L dst/etc/ssl ]
}

@test "restore --overwrite with --include and a PATH changes only what they select" {
	full_dst
	run -0 snap-restore --overwrite --include '*.conf' main dst etc
	assert_equal "$(listing dst)" "./etc d
./etc/app.conf f
./etc/mine f
./keep f
./top f
./var d
./var/log d"
	diff src/etc/app.conf dst/etc/app.conf
	assert_equal "$(cat dst/top)" oldtop
}

@test "restore --overwrite into an absent or empty DIR is a plain restore" {
	run -0 snap-restore --overwrite main new
	diff -r src new
	mkdir empty
	run -0 snap-restore --overwrite main empty
	diff -r src empty
}

@test "--overwrite with --force, and checkout --overwrite without --in-place, are usage errors" {
	full_dst
	before=$(listing dst)
	run -129 --separate-stderr snap-restore --force --overwrite main dst
	assert_equal "$(echo "$stderr" | head -1)" "snap-restore: error: --force and --overwrite cannot be combined"
	run -129 --separate-stderr snap-checkout --overwrite main dst
	assert_equal "$(echo "$stderr" | head -1)" "snap-checkout: error: --overwrite needs --in-place"
	assert_equal "$(listing dst)" "$before"
	run -0 snap-restore --help
	assert_output --partial "--include PATTERN"
	assert_output --partial "--overwrite"
}

teardown() {
	[ -z "${MNT:-}" ] || umount "$MNT" 2>/dev/null || :
}

@test "restore --overwrite: what cannot be put in place (another filesystem) is refused for that path alone, exit 3" {
	[ "$(id -u)" = 0 ] || skip "mounting a tmpfs needs root"
	mkdir -p dst/var/log
	mount -t tmpfs -o size=8m tmpfs dst/var/log 2>/dev/null || skip "cannot mount a tmpfs here"
	MNT=$PWD/dst/var/log
	echo old > dst/var/log/syslog
	echo old > dst/top
	run -3 --separate-stderr snap-restore --overwrite main dst
	assert_equal "$stderr" "snap-restore: warning: cannot overwrite 'dst/var/log/app': Invalid cross-device link; left as it is
snap-restore: warning: cannot overwrite 'dst/var/log/syslog': Invalid cross-device link; left as it is"
	# the others are in place, the mount's files as they were
	diff src/top dst/top
	diff src/etc/app.conf dst/etc/app.conf
	assert_equal "$(cat dst/var/log/syslog)" old
	assert_equal "$(ls -A dst | grep -c snap-restore)" 0
}

@test "restore --include that matches nothing is refused before anything is written" {
	run -128 --separate-stderr snap-restore --include '../etc' main out
	assert_equal "$stderr" "snap-restore: fatal: no entry of the tree matches --include ../etc"
	[ ! -e out ]
	full_dst
	before=$(listing dst)
	run -128 --separate-stderr snap-restore --overwrite --include 'nope' --include 'etc/nope' main dst
	assert_equal "$stderr" "snap-restore: fatal: no entry of the tree matches --include nope (nor the others)"
	assert_equal "$(listing dst)" "$before"
}
