#!/usr/bin/env bats
# 9: packaging — make install and uninstall

load test_helper

@test "make install puts snap in bin, the commands in libexec, docs in share" {
	run -0 make -s -C "$SNAP_BUILD" install DESTDIR="$BATS_TEST_TMPDIR/root" PREFIX=/usr/local
	assert_file_executable root/usr/local/bin/snap
	assert_file_executable root/usr/local/libexec/snap/snap-hash-object
	assert_file_executable root/usr/local/libexec/snap/snap-snapshot
	assert_equal "$(readlink root/usr/local/bin/snap-cat-file)" ../libexec/snap/snap-cat-file
	assert_file_exist root/usr/local/share/doc/snap/FORMAT.md
}

@test "the installed snap finds its commands" {
	make -s -C "$SNAP_BUILD" install DESTDIR="$BATS_TEST_TMPDIR/root" PREFIX=/usr/local >/dev/null
	printf x > f
	run -0 env PATH=/usr/bin:/bin "$BATS_TEST_TMPDIR/root/usr/local/bin/snap" hash-object f
	assert_output "$(b3_blob_id f)"
}

@test "make uninstall removes what install put" {
	make -s -C "$SNAP_BUILD" install DESTDIR="$BATS_TEST_TMPDIR/root" PREFIX=/usr/local >/dev/null
	run -0 make -s -C "$SNAP_BUILD" uninstall DESTDIR="$BATS_TEST_TMPDIR/root" PREFIX=/usr/local
	run -0 find root -type f
	assert_output ''
}

@test "configure runs under dash and writes config.mak" {
	cp -r "$SNAP_BUILD/configure" .
	run -0 dash ./configure --prefix=/opt/x
	assert_line --partial 'configure: wrote config.mak (install prefix /opt/x)'
	run -0 grep '^PREFIX = /opt/x$' config.mak
	run -0 grep -E '^BLAKE3_DIR = /.+/c$' config.mak
}

@test "configure names the apt-get line for a missing dependency" {
	cp "$SNAP_BUILD/configure" .
	run -1 --separate-stderr dash ./configure --blake3-dir=/nonexistent
	[[ "$stderr" == *"configure: install them with:  apt-get install librust-blake3-dev"* ]]
}

@test "configure builds without the test tools and make check names them" {
	mkdir fakebin
	local f
	for f in /usr/bin/* /bin/*; do
		case ${f##*/} in bats|b3sum|git) continue ;; esac
		[ -e "fakebin/${f##*/}" ] || ln -s "$f" "fakebin/${f##*/}"
	done
	cp "$SNAP_BUILD/configure" .
	run -0 env PATH="$PWD/fakebin" dash ./configure
	assert_line 'configure: make check needs Debian packages: bats b3sum git (apt-get install bats b3sum git)'
	run -0 grep '^TEST_MISSING = bats b3sum git$' config.mak
}

@test "under cron's bare PATH, the installed snap snapshot and restore find their plumbing" {
	make -s -C "$SNAP_BUILD" install DESTDIR="$BATS_TEST_TMPDIR/root" PREFIX=/usr/local >/dev/null
	local snap=$BATS_TEST_TMPDIR/root/usr/local/bin/snap
	mkdir src && printf 'data\n' > src/f
	run -0 env -i PATH=/usr/bin:/bin HOME="$BATS_TEST_TMPDIR" "$snap" init -q store
	run -0 --separate-stderr env -i PATH=/usr/bin:/bin HOME="$BATS_TEST_TMPDIR" SNAP_DIR=store \
		"$snap" snapshot src
	run -0 env -i PATH=/usr/bin:/bin HOME="$BATS_TEST_TMPDIR" SNAP_DIR=store \
		"$snap" restore main out
	run -0 diff -r src out
}

@test "under cron's bare PATH, every porcelain run by its own path (or a link to it) finds its plumbing" {
	make -s -C "$SNAP_BUILD" install DESTDIR="$BATS_TEST_TMPDIR/root" PREFIX=/usr/local >/dev/null
	local bin=$BATS_TEST_TMPDIR/root/usr/local/bin
	mkdir src links && printf 'data\n' > src/f
	ln -s "$bin/snap-snapshot" links/snap-snapshot
	cron() { env -i PATH=/usr/bin:/bin HOME="$BATS_TEST_TMPDIR" SNAP_DIR="$BATS_TEST_TMPDIR/store" "$@"; }
	run -0 cron "$bin/snap-init" -q store
	run -0 --separate-stderr cron "$bin/snap-snapshot" -m one src
	run -0 --separate-stderr cron links/snap-snapshot -m two src
	run -0 cron "$bin/snap-log" --format=%s
	assert_output "two
one"
	run -0 cron "$bin/snap-diff" main~1 main
	assert_output ''
	run -0 cron "$bin/snap-remote" add far "$BATS_TEST_TMPDIR/far"
	run -0 cron "$bin/snap-remote"
	assert_output far
	run -0 cron "$bin/snap-restore" main out
	run -0 diff -r src out
	cd "$bin" && run -0 cron ./snap-log --oneline -n 1
	assert_output --regexp '^[0-9a-f]{12} .* two$'
}

@test "make check refuses, naming the packages, when configure found no test tools" {
	run -2 --separate-stderr make -s -C "$SNAP_BUILD" test-tools TEST_MISSING="bats b3sum"
	assert_equal "${stderr_lines[0]}" 'snap: make check needs Debian packages: bats b3sum'
}

@test "make install puts manual pages in share/man/man1, and snap help opens them" {
	make -s -C "$SNAP_BUILD" install DESTDIR="$BATS_TEST_TMPDIR/root" PREFIX=/usr/local >/dev/null
	local man1=$BATS_TEST_TMPDIR/root/usr/local/share/man/man1
	assert_file_exist "$man1/snap-init.1"
	assert_file_exist "$man1/snap.1"
	run -0 env MANPAGER=cat MANWIDTH=80 man -l "$man1/snap-init.1"
	assert_line --regexp '^ +snap-init (—|--) create a store$'
	run -0 env MANPAGER=cat PAGER=cat MANWIDTH=80 "$BATS_TEST_TMPDIR/root/usr/local/bin/snap" help init
	assert_line --regexp '^ +snap-init (—|--) create a store$'
	assert_line --regexp '^OPTIONS$'
}

@test "snap help CMD without an installed page shows the command's --help" {
	run -0 env MANPATH="$BATS_TEST_TMPDIR/none" snap help init
	assert_line --index 0 --partial 'usage: snap-init'
}

@test "every page in docs/ becomes a manual page with NAME, SYNOPSIS and EXIT STATUS" {
	local m missing=
	for m in "$SNAP_BUILD"/build/man/snap*.1; do
		for s in NAME SYNOPSIS 'EXIT STATUS'; do
			grep -q "^$s\$" "$m" || missing="$missing ${m##*/}:$s"
		done
	done
	assert_equal "$missing" ''
}

# complete WORD...: what the installed completion offers for the last word.
complete_words() {
	local root=$BATS_TEST_TMPDIR/root/usr/local
	PATH="$root/bin:$PATH" bash -c '
		source "$1"; shift
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _snap
		printf "%s\n" "${COMPREPLY[@]}"' _ "$root/share/bash-completion/completions/snap" "$@"
}

@test "the installed bash completion offers commands, options, refs and REV:PATH" {
	make -s -C "$SNAP_BUILD" install DESTDIR="$BATS_TEST_TMPDIR/root" PREFIX=/usr/local >/dev/null
	assert_link_exist "$BATS_TEST_TMPDIR/root/usr/local/share/bash-completion/completions/snap-log"
	init_store
	mkdir -p src/sub && echo x > src/sub/file && echo y > src/top
	snap-snapshot src >/dev/null
	snap-snapshot -r nightly src >/dev/null
	run -0 complete_words snap snaps
	assert_output snapshot
	run -0 complete_words snap log --one
	assert_output --oneline
	run -0 complete_words snap log nig
	assert_output nightly
	run -0 complete_words snap-restore ma
	assert_output main
	run -0 complete_words snap ls-tree main:s
	assert_output main:sub/
	run -0 complete_words snap cat-file main:sub/
	assert_output main:sub/file
	run -0 complete_words snap --store "$SNAP_DIR" rest
	assert_output restore
}

@test "make install does not shadow another program called snap unless told" {
	mkdir other
	printf '#!/bin/sh\necho "snap    2.58+22.04"\n' > other/snap
	chmod +x other/snap
	run -0 env PATH="$PWD/other:$PATH" make -s -C "$SNAP_BUILD" install DESTDIR="$BATS_TEST_TMPDIR/root" PREFIX=/usr/local
	assert_line "make install: '$PWD/other/snap' is another program called snap (snapd?): the snap dispatcher is not installed;"
	assert_not_exist "$BATS_TEST_TMPDIR/root/usr/local/bin/snap"
	assert_file_exist "$BATS_TEST_TMPDIR/root/usr/local/bin/snap-snapshot"
	run -0 env PATH="$PWD/other:$PATH" make -s -C "$SNAP_BUILD" install DESTDIR="$BATS_TEST_TMPDIR/root" PREFIX=/usr/local DISPATCHER=yes
	assert_file_exist "$BATS_TEST_TMPDIR/root/usr/local/bin/snap"
}

@test "every test docs/SYSTEMS.md cites exists, in the file it names" {
	run -0 python3 - "$SNAP_BUILD" <<'PY'
import glob, os, re, sys
top = sys.argv[1]
names = {}
for f in glob.glob(os.path.join(top, "t", "[0-9]" * 4 + "-*.bats")):
    num = os.path.basename(f)[:4]
    with open(f) as fh:
        names[num] = set(re.findall(r'^@test "(.*)" \{$', fh.read(), re.M))
bad = cited = 0
for line in open(os.path.join(top, "docs", "SYSTEMS.md")):
    if not line.startswith("|"):
        continue
    cell = line.rstrip().rstrip("|").split("|")[-1]
    num = None
    for m in re.finditer(r'(\b\d{4}\b)|"([^"]*)"', cell):
        if m.group(1):
            num = m.group(1)
            if num not in names:
                print("no test file", num); bad += 1
        elif num:
            cited += 1
            if m.group(2) not in names[num]:
                print("not in", num + ":", m.group(2)); bad += 1
print(cited, "cited")
sys.exit(1 if bad or cited < 40 else 0)
PY
}
