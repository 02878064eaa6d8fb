#!/usr/bin/env bats
# 7: snap-ls and snap-find

load test_helper

local_setup() {
	init_store
	mkdir -p src/etc/ssl src/var/log "src/odd
name"
	printf 'cfg\n' > src/etc/hosts
	printf 'key\n' > src/etc/ssl/key.pem
	printf 'log\n' > src/var/log/syslog
	ln -s hosts src/etc/link
	ln src/etc/hosts src/etc/hard
	chmod 4755 src/var/log/syslog
	touch -d '2024-01-02 03:04:05' src/etc/hosts
	SNAP_TIME=1700000000 snap-snapshot -m one src >/dev/null
}

@test "ls lists the root's entries by name" {
	run -0 snap-ls main
	assert_output "$(printf 'etc\nodd\\012name\nvar')"
}

@test "ls -r lists everything below, directories before what they hold" {
	run -0 snap-ls -r main:etc
	assert_output "$(printf 'etc/hard\netc/hosts\netc/link\netc/ssl\netc/ssl/key.pem')"
}

@test "ls -l: mode, owner, group, size, mtime and the hard link's first member" {
	run -0 snap-ls -l main:etc
	assert_line --index 0 --regexp '^-rw-r--r-- +[0-9]+ +[0-9]+ +4 2024-01-02 03:04 etc/hard$'
	assert_line --index 1 --regexp '^-rw-r--r-- +[0-9]+ +[0-9]+ +4 2024-01-02 03:04 etc/hosts => etc/hard$'
	assert_line --index 2 --regexp '^lrwxrwxrwx +[0-9]+ +[0-9]+ +5 .* etc/link$'
	run -0 snap-ls -l main:var/log/syslog
	assert_output --regexp '^-rwsr-xr-x +[0-9]+ +[0-9]+ +4 .* var/log/syslog$'
}

@test "ls --json -r is a manifest: path, type, size, mode, mtime and id of each entry" {
	run -0 sh -c "snap-ls --json -r main | python3 -c '
import json, sys
for l in sys.stdin:
    r = json.loads(l)
    print(repr(r[\"path\"]), r[\"type\"], r[\"mode\"], r[\"size\"], r.get(\"id\", \"-\")[:8])'"
	assert_line "'etc/hosts' file 0644 4 $(snap-rev-parse main:etc/hosts | cut -c1-8)"
	assert_line "'etc' dir 0755 0 $(snap-rev-parse main:etc | cut -c1-8)"
	assert_line "'odd\\nname' dir 0755 0 $(snap-ls-tree main | awk '/^dir/ && /odd/ {print substr($3, 1, 8)}')"
	assert_equal "${#lines[@]}" 10
}

@test "ls -z gives raw names ended by NUL" {
	run -0 sh -c 'snap-ls -z main | tr "\0" "|"'
	assert_output "$(printf 'etc|odd\nname|var|')"
}

@test "ls of a path that is not there, or below a file" {
	run -128 --separate-stderr snap-ls main:etc/nope
	assert_equal "$stderr" "snap-ls: fatal: path 'etc/nope' not found"
	run -128 --separate-stderr snap-ls main:etc/hosts/x
	assert_equal "$stderr" "snap-ls: fatal: 'etc/hosts' is not a directory"
	run -129 --separate-stderr snap-ls
	assert_equal "${stderr_lines[0]}" 'snap-ls: error: give one REV[:PATH]'
}

@test "find lists a name in every snapshot that holds it, newest first" {
	printf 'x\n' > src/other
	SNAP_TIME=1700003600 snap-snapshot -m two src >/dev/null
	rm src/etc/ssl/key.pem
	SNAP_TIME=1700007200 snap-snapshot -m three src >/dev/null
	run -0 snap-find key.pem
	assert_output "$(printf '%s 2023-11-14 23:13:20 +0000 etc/ssl/key.pem\n%s 2023-11-14 22:13:20 +0000 etc/ssl/key.pem' \
		"$(snap-rev-parse main~1 | cut -c1-12)" "$(snap-rev-parse main~2 | cut -c1-12)")"
	run -0 snap-find hosts
	assert_equal "${#lines[@]}" 3
}

@test "find: a pattern with '/' matches whole paths, globs work, nothing found is exit 1" {
	run -1 snap-find '/etc/*.pem'
	assert_output ''
	run -0 snap-find 'etc/ssl/*.pem'
	assert_output --partial ' etc/ssl/key.pem'
	run -0 snap-find '*log'
	assert_output "$(printf '%s 2023-11-14 22:13:20 +0000 var/log\n%s 2023-11-14 22:13:20 +0000 var/log/syslog' "$(snap-rev-parse main | cut -c1-12)" "$(snap-rev-parse main | cut -c1-12)")"
	run -1 snap-find nothing-here
	assert_output ''
}

@test "find across several refs visits a shared snapshot once" {
	snap-update-ref refs/snapshots/copy "$(snap-rev-parse main)"
	run -0 snap-find hosts main copy
	assert_equal "${#lines[@]}" 1
	run -0 snap-find --json hosts
	run -0 sh -c "snap-find --json hosts | python3 -c 'import json,sys; print([json.loads(l)[\"path\"] for l in sys.stdin])'"
	assert_output "['etc/hosts']"
}
