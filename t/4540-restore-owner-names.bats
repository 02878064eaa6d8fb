#!/usr/bin/env bats
# 4: trees — owners and groups restored by name (docs/snap-restore.md, "OWNERS")

load test_helper

# Two hosts' name tables, private to the test: on A, snapalice is 5001
# and snapbob 5002, group snapgrp 6001; on B, snapalice is 7001 and
# snapgrp 8001, and there is no snapbob.
local_setup() {
	[ "$(id -u)" -eq 0 ] || skip "needs root"
	command -v unshare >/dev/null || skip "needs unshare"
	init_store
	{ cat /etc/passwd; echo 'snapalice:x:5001:6001::/nonexistent:/bin/false'
	  echo 'snapbob:x:5002:6001::/nonexistent:/bin/false'; } > pw.a
	{ cat /etc/group; echo 'snapgrp:x:6001:'; } > gr.a
	{ cat /etc/passwd; echo 'snapalice:x:7001:8001::/nonexistent:/bin/false'; } > pw.b
	{ cat /etc/group; echo 'snapgrp:x:8001:'; } > gr.b
	mkdir -p src
	echo a > src/a; chown 5001:6001 src/a
	echo b > src/b; chown 5002:6001 src/b
	echo c > src/c; chown 5003:6003 src/c
}

# on HOST CMD...: runs CMD with HOST's (a or b) passwd and group files.
on() {
	local h=$PWD/pw.$1 g=$PWD/gr.$1
	shift
	unshare -m sh -c 'mount --bind "$1" /etc/passwd && mount --bind "$2" /etc/group &&
		shift 2 && exec "$@"' sh "$h" "$g" "$@"
}

owners() {
	stat -c '%u:%g %n' "$1/a" "$1/b" "$1/c"
}

# mapped DIR: DIR's a, b and c have host B's numbers of their names.
mapped() {
	run -0 owners "$1"
	assert_output "7001:8001 $1/a
5002:8001 $1/b
5003:6003 $1/c"
}

@test "a snapshot of paths records the names of its owners and groups" {
	on a snap-snapshot -q --absolute "$PWD/src"
	run -0 sh -c "snap-cat-file -p main | grep '^meta [ug]name\\.'"
	assert_output "meta uname.0=root
meta uname.5001=snapalice
meta uname.5002=snapbob
meta gname.0=root
meta gname.6001=snapgrp"
}

@test "restore gives each file the local number of its name; unknown names keep theirs" {
	on a snap-snapshot -q --absolute "$PWD/src"
	on b snap-restore main out
	mapped "out$PWD/src"
}

@test "restore --numeric-owner sets the stored numbers" {
	on a snap-snapshot -q --absolute "$PWD/src"
	on b snap-restore --numeric-owner main out
	run -0 owners "out$PWD/src"
	assert_output "5001:6001 out$PWD/src/a
5002:6001 out$PWD/src/b
5003:6003 out$PWD/src/c"
}

@test "restore --overwrite maps owners by name too" {
	on a snap-snapshot -q --absolute "$PWD/src"
	mkdir -p "out$PWD/src" && echo old > "out$PWD/src/a"
	on b snap-restore --overwrite main out
	mapped "out$PWD/src"
}

@test "checkout --owner-names maps; --numeric-owner does not read the file" {
	T=$(on a snap-write-tree --owner-names names src)
	run -0 cat names
	assert_line uname.5001=snapalice
	refute_line --partial uname.5003
	printf 'uname.5001=snapalice\ngname.6001=snapgrp\n' > names
	on b snap-checkout --owner-names names "$T" out
	run -0 stat -c '%u:%g' out/a
	assert_output 7001:8001
	on b snap-checkout --numeric-owner --owner-names /nonexistent "$T" out2
	run -0 stat -c '%u:%g' out2/a
	assert_output 5001:6001
}

@test "a snapshot without name lines (store-v1 fixture) restores by number" {
	tar -xf "$FIXTURES/store-v1.tar"
	export SNAP_DIR=$PWD/store
	run -0 sh -c "snap-cat-file -p main | grep -c '^meta [ug]name' || :"
	assert_output 0
	want=$(snap-ls-tree -r -l main | awk '{ print $3 ":" $4 }' | sort -u)
	on b snap-restore main out
	run -0 sh -c "cd out && find . -mindepth 1 ! -type d -printf '%U:%G\n' | sort -u"
	assert_output "$want"
}

# hostile SNAPSHOT-META...: a snapshot with these meta lines is refused
# by restore with one line naming the names file, exit 128, nothing made.
hostile() {
	local want=$1 snap
	shift
	snap=$(snap-mksnapshot "$@" -m x --host h "$(snap-write-tree src)")
	run -128 --separate-stderr snap-restore "$snap" out
	[[ "$stderr" == "snap-restore: fatal: names file '"*"' line $want" ]] || {
		echo "stderr: $stderr"; false; }
	assert_equal "$output" ''
	assert [ ! -e out ]
}

@test "restore refuses a snapshot whose name lines are malformed" {
	hostile "1: bad id" --meta uname.abc=x
	hostile "1: bad id" --meta uname.01=x
	hostile "1: bad id" --meta gname.4294967295=x
	hostile "2: bad name" --meta uname.1=x --meta uname.1000=
}

@test "restore refuses an id named twice and more than 65,536 ids" {
	snap=$(snap-mksnapshot --meta uname.7=a --meta uname.7=b -m x --host h "$(snap-write-tree src)")
	run -128 --separate-stderr snap-restore "$snap" out
	[[ "$stderr" == "snap-restore: fatal: names file '"*"': uid 7 given twice" ]]
	awk 'BEGIN { for (i = 0; i <= 65536; i++) print "gname." i "=g" }' > names
	run -128 --separate-stderr snap-checkout --owner-names names "$(snap-write-tree src)" out
	assert_equal "$stderr" "snap-checkout: fatal: names file 'names' line 65537: more than 65536 ids"
	assert [ ! -e out ]
}

@test "checkout refuses a malformed names file with one line" {
	printf 'user.5=x\n' > names
	run -128 --separate-stderr snap-checkout --owner-names names "$(snap-write-tree src)" out
	assert_equal "$stderr" "snap-checkout: fatal: names file 'names' line 1: not uname.ID= or gname.ID="
	assert_equal "$output" ''
	run -128 --separate-stderr snap-checkout --owner-names missing "$(snap-write-tree src)" out
	assert_equal "$stderr" "snap-checkout: fatal: cannot read names file 'missing'"
}
