#!/usr/bin/env bats
# 7: porcelain — snap-backup, the nightly job from a config: snapshot,
# prune, gc, fsck sample; its lock, its summary and its exit statuses.

load test_helper

local_setup() {
	snap-init -q store
	mkdir -p src/d
	echo a > src/a
	echo b > src/d/b
	write_conf
}

# write_conf [EXTRA LINES...]: a config backing src up into store.
write_conf() {
	{
		echo "# nightly"
		echo "store = $BATS_TEST_TMPDIR/store"
		echo "path = $BATS_TEST_TMPDIR/src"
		echo ""
		echo "exclude = *.tmp"
		local l
		for l in "$@"; do echo "$l"; done
	} > backup.conf
}

# wait_lock PID: until the run PID holds its config's lock.
wait_lock() {
	local n=0
	until ls -l "/proc/$1/fd" 2>/dev/null | grep -q '/backup/[0-9]*\.lock$'; do
		n=$((n + 1)); [ "$n" -lt 400 ] || return 1; sleep 0.05
	done
}

summary_re='^snapshot [0-9a-f]{64} of .*/src: [0-9]+ files \([0-9]+ read, [0-9]+ unchanged\), [0-9]+ bytes, [0-9]+ new; [0-9]+ dropped; fsck .*; [0-9]+ warnings; [0-9]+ s$'

@test "a run snapshots the path, prints one summary line, and the snapshot restores" {
	echo junk > src/x.tmp
	run -0 --separate-stderr snap-backup -c backup.conf
	assert_equal "$stderr" ""
	[[ "$output" =~ $summary_re ]]
	[[ "$output" == *": 2 files (2 read, 0 unchanged), 4 bytes, 4 new; 0 dropped; fsck skipped; 0 warnings; "* ]]
	id=$(snap-rev-parse --store store main)
	[[ "$output" == "snapshot $id of "* ]]
	run -0 snap-restore --store store main out
	run -0 diff -r --exclude=x.tmp src out
	assert_not_exist out/x.tmp
}

@test "--json reports the same as one object; -q prints nothing" {
	run -0 --separate-stderr snap-backup -c backup.conf --json
	assert_equal "$stderr" ""
	id=$(snap-rev-parse --store store main)
	[[ "$output" =~ ^\{\"status\":0,\"snapshot\":\"$id\",\"ref\":\"main\",\"files\":2,\"files_read\":2,\"files_unchanged\":0,\"size\":4,\"new_size\":4,\"dropped\":0,\"fsck\":\"skipped\",\"pushed\":null,\"warnings\":0,\"seconds\":[0-9]+\}$ ]]
	echo c > src/c
	run -0 --separate-stderr snap-backup -c backup.conf -q
	assert_equal "$output" ""
	assert_equal "$stderr" ""
	run -0 snap-rev-list --store store main
	assert_equal "${#lines[@]}" 2
}

@test "the keep policy prunes, and the fsck sample reads the part it names" {
	write_conf "keep-last = 2" "fsck = rotate/7" "message = nightly"
	local i
	for i in 1 2 3; do
		echo "$i" > "src/f$i"
		run -0 snap-backup -c backup.conf
	done
	[[ "$output" == *"; 1 dropped; fsck "[1-7]"/7 clean; "* ]]
	run -0 snap-log --store store --format='%s'
	assert_output "nightly
nightly"
	run -0 snap-fsck --store store
}

@test "a second run of the same config while one runs exits 11 naming the holder" {
	mkfifo gate
	write_conf "pre = cat $BATS_TEST_TMPDIR/gate > /dev/null"
	snap-backup -c backup.conf -q > first.out 2>&1 &
	local first=$!
	# The first run holds the lock once its pre command waits on the gate.
	wait_lock "$first"
	run -11 --separate-stderr snap-backup -c backup.conf
	assert_equal "$output" ""
	[[ "$stderr" =~ ^snap-backup:\ another\ run\ of\ .*/backup\.conf\ holds\ its\ lock\ \(pid\ $first,\ for\ [0-9]+\ s\)$ ]]
	echo go > gate
	local rc=0
	wait "$first" || rc=$?
	assert_equal "$rc" 0
	run -0 snap-rev-list --store store main
	assert_equal "${#lines[@]}" 1
}

@test "a lock left by a killed run is taken by the next one" {
	mkdir -p store/backup
	sh -c 'exit 0' & local dead=$!
	wait "$dead"
	# What a run killed with SIGKILL leaves: the directory, its holder gone.
	local lock
	lock=store/backup/$(printf '%s' "$BATS_TEST_TMPDIR/backup.conf" | cksum | cut -d' ' -f1).lock
	mkdir "$lock"
	run -0 snap-backup -c backup.conf -q
	run -0 snap-rev-parse --store store main
	# And the lock file an older snap-backup left, with its holder line.
	rmdir "$lock"
	echo "$dead 1 $BATS_TEST_TMPDIR/backup.conf" > "$lock"
	run -0 snap-backup -c backup.conf -q
	assert_dir_exist "$lock"
}

@test "a symbolic link planted as the lock (or its directory) is refused: nothing is written where it points" {
	mkdir -p store/backup
	local lock before
	lock=store/backup/$(printf '%s' "$BATS_TEST_TMPDIR/backup.conf" | cksum | cut -d' ' -f1).lock
	echo 'root:secret' > victim && chmod 600 victim
	before=$(store_listing store)
	ln -s "$BATS_TEST_TMPDIR/victim" "$lock"
	run -128 --separate-stderr snap-backup -c backup.conf -q
	assert_equal "$stderr" "snap-backup: fatal: '$BATS_TEST_TMPDIR/$lock' or its directory is a symbolic link; remove it"
	assert_equal "$(cat victim)" 'root:secret'
	rm "$lock"
	ln -s /dev/full "$lock"
	run -128 snap-backup -c backup.conf -q
	rm "$lock" && rmdir store/backup
	mkdir elsewhere && ln -s "$BATS_TEST_TMPDIR/elsewhere" store/backup
	run -128 --separate-stderr snap-backup -c backup.conf -q
	assert_equal "$stderr" "snap-backup: fatal: '$BATS_TEST_TMPDIR/$lock' or its directory is a symbolic link; remove it"
	assert_equal "$(ls -A elsewhere)" ''
	assert_file_not_exist store/refs/snapshots/main
}

@test "root's run in a store another user owns leaves that user the directories it made" {
	[ "$(id -u)" = 0 ] || skip "needs root"
	chown -R 65534:65534 store
	run -0 snap-backup -c backup.conf -q
	run -0 find store -uid 0
	assert_output ''
}

@test "a bad config is one line naming file and line, and nothing runs" {
	local before
	before=$(store_listing store)
	write_conf "keep-daily = seven"
	run -128 --separate-stderr snap-backup -c backup.conf
	assert_equal "$stderr" "snap-backup: fatal: $BATS_TEST_TMPDIR/backup.conf:6: 'keep-daily' takes a number from 1 to 999999999, not 'seven'"
	write_conf "colour = blue"
	run -128 --separate-stderr snap-backup -c backup.conf
	assert_equal "$stderr" "snap-backup: fatal: $BATS_TEST_TMPDIR/backup.conf:6: unknown key 'colour'"
	write_conf "just words"
	run -128 --separate-stderr snap-backup -c backup.conf
	assert_equal "$stderr" "snap-backup: fatal: $BATS_TEST_TMPDIR/backup.conf:6: expected 'key = value'"
	printf 'store = %s\npath = src\n' "$BATS_TEST_TMPDIR/store" > rel.conf
	run -128 --separate-stderr snap-backup -c rel.conf
	assert_equal "$stderr" "snap-backup: fatal: $BATS_TEST_TMPDIR/rel.conf:2: path 'src' is not absolute"
	printf 'path = /etc\n' > nostore.conf
	run -128 --separate-stderr snap-backup -c nostore.conf
	assert_equal "$stderr" "snap-backup: fatal: $BATS_TEST_TMPDIR/nostore.conf: no 'store'"
	run -128 --separate-stderr snap-backup -c missing.conf
	assert_equal "$stderr" "snap-backup: fatal: cannot read config 'missing.conf'"
	run -129 --separate-stderr snap-backup --colour
	assert_equal "${stderr%%$'\n'*}" "snap-backup: error: unknown option '--colour'"
	assert_equal "$(store_listing store)" "$before"
}

@test "without -c the config is /etc/snap/backup.conf, else XDG_CONFIG_HOME's" {
	[ ! -e /etc/snap/backup.conf ] || skip "/etc/snap/backup.conf exists on this machine"
	mkdir -p xdg/snap
	cp backup.conf xdg/snap/backup.conf
	run -0 env XDG_CONFIG_HOME="$BATS_TEST_TMPDIR/xdg" snap-backup -q
	run -0 snap-rev-parse --store store main
	run -128 --separate-stderr env XDG_CONFIG_HOME="$BATS_TEST_TMPDIR/none" snap-backup
	assert_equal "$stderr" "snap-backup: fatal: no config: neither /etc/snap/backup.conf nor $BATS_TEST_TMPDIR/none/snap/backup.conf (see snap-backup(1))"
}

@test "a failing pre command takes no snapshot; post sees the status and the snapshot" {
	write_conf "pre = exit 3"
	run -128 --separate-stderr snap-backup -c backup.conf -q
	assert_equal "$stderr" "snap-backup: fatal: pre command failed; no snapshot taken"
	run -1 snap-rev-parse --store store --verify -q main
	write_conf "post = echo \"\$SNAP_BACKUP_STATUS \$SNAP_BACKUP_SNAPSHOT\" > $BATS_TEST_TMPDIR/post.out"
	run -0 snap-backup -c backup.conf -q
	run -0 cat post.out
	assert_output "0 $(snap-rev-parse --store store main)"
	write_conf "post = false"
	run -128 --separate-stderr snap-backup -c backup.conf -q
	assert_equal "$stderr" "snap-backup: fatal: post command failed"
}

@test "damage the fsck sample finds fails the run with 128" {
	write_conf "fsck = all"
	run -0 snap-backup -c backup.conf -q
	snap-gc --store store --prune=now > /dev/null
	local pack
	pack=$(ls store/objects/pack/*.pack | head -n 1)
	chmod u+w "$pack"
	printf 'XXXX' | dd of="$pack" bs=1 seek=40 conv=notrunc 2>/dev/null
	echo new > src/new
	run -128 --separate-stderr snap-backup -c backup.conf -q
	[[ "$stderr" == *"snap-backup: fatal: fsck found damage (status "* ]]
}

@test "--dry-run shows the plan and changes nothing" {
	snap-backup -c backup.conf -q
	echo c > src/c
	snap-backup -c backup.conf -q
	write_conf "keep-last = 1" "fsck = 1/2"
	local before
	before=$(store_listing store)
	run -0 snap-backup -c backup.conf --dry-run
	assert_line "config $BATS_TEST_TMPDIR/backup.conf"
	assert_line "store $BATS_TEST_TMPDIR/store"
	assert_line "would snapshot $BATS_TEST_TMPDIR/src to main"
	assert_line --regexp '^keep [0-9a-f]{64} '
	assert_line --regexp '^drop [0-9a-f]{64} '
	assert_line "would gc"
	assert_line "would fsck (1/2)"
	assert_equal "$(store_listing store)" "$before"
}

@test "installed, under cron's bare environment and no tty, snap-backup finds its plumbing" {
	make -s -C "$SNAP_BUILD" install DESTDIR="$BATS_TEST_TMPDIR/root" PREFIX=/usr/local > /dev/null
	local bin=$BATS_TEST_TMPDIR/root/usr/local/bin
	run -0 env -i PATH=/usr/bin:/bin HOME="$BATS_TEST_TMPDIR" "$bin/snap-backup" -c "$BATS_TEST_TMPDIR/backup.conf" -q < /dev/null
	assert_output ""
	run -0 snap-rev-parse --store store main
	local unit=$BATS_TEST_TMPDIR/root/usr/local/lib/systemd/system
	run -0 grep -x 'ExecStart=/usr/local/bin/snap-backup -q --syslog' "$unit/snap-backup.service"
	assert_file_exist "$unit/snap-backup.timer"
	if command -v systemd-analyze > /dev/null; then
		# verify wants the ExecStart binary where the unit names it.
		sed "s|/usr/local/bin|$bin|" "$unit/snap-backup.service" > snap-backup.service
		cp "$unit/snap-backup.timer" .
		# (The manual page is not installed where man looks: not checked.)
		run -0 systemd-analyze verify --man=no "$PWD/snap-backup.service" "$PWD/snap-backup.timer"
	fi
}

@test "a file that vanishes while read gives an incomplete snapshot: exit 3, the warning, the rest stored" {
	echo c > src/c
	run -3 --separate-stderr env SNAP_TEST_HOOK_PATH=c SNAP_TEST_HOOK_AT=listed \
		SNAP_TEST_HOOK_CMD="rm $BATS_TEST_TMPDIR/src/c" snap-backup -c backup.conf --json
	[[ "$stderr" == "snap-backup: warning: c: "*"left out" ]]
	[[ "$output" == '{"status":3,"snapshot":"'*'","pushed":null,"warnings":1,'* ]]
	run -0 snap-cat-file --store store -p main
	assert_line --regexp '^incomplete 1$'
	run -0 snap-ls --store store -r main
	assert_output "a
d
d/b"
}

@test "every bad value is refused before anything runs, one line naming file and line" {
	local before v
	before=$(store_listing store)
	for v in "keep-last = 0" "keep-last = 99999999999999999999" "keep-within = forever" \
		 "fsck = 0/7" "fsck = 8/7" "fsck = 0%" "fsck = 101%" "fsck = rotate/0" \
		 "fsck = rotate/99999999999999999999" "fsck = 50.00001%x"; do
		write_conf "pre = touch $BATS_TEST_TMPDIR/pre-ran" "$v"
		run -128 --separate-stderr snap-backup -c backup.conf
		[[ "$stderr" == "snap-backup: fatal: $BATS_TEST_TMPDIR/backup.conf:7: '"* ]] || {
			echo "$v: $stderr"; false; }
		[ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ]
		run -128 snap-backup -c backup.conf --dry-run
	done
	write_conf "pre = touch $BATS_TEST_TMPDIR/pre-ran" "ref = a b"
	run -128 --separate-stderr snap-backup -c backup.conf
	assert_equal "$stderr" "snap-backup: fatal: $BATS_TEST_TMPDIR/backup.conf: bad ref name 'a b'"
	write_conf "fsck = all" "fsck = none"
	run -128 --separate-stderr snap-backup -c backup.conf
	assert_equal "$stderr" "snap-backup: fatal: $BATS_TEST_TMPDIR/backup.conf:7: 'fsck' given twice"
	write_conf "$(printf 'bogus\033[2J\001 = 1')"
	run -128 --separate-stderr snap-backup -c backup.conf
	assert_equal "$stderr" "snap-backup: fatal: $BATS_TEST_TMPDIR/backup.conf:6: unknown key 'bogus?[2J?'"
	assert_not_exist pre-ran
	assert_equal "$(store_listing store)" "$before"
	run -129 --separate-stderr snap-backup -c backup.conf --dry-run --json
	assert_equal "${stderr%%$'\n'*}" "snap-backup: error: --dry-run prints text; it does not go with --json"
}

@test "a BOM, indented comments and CRLF line ends are read as a text editor wrote them" {
	{
		printf '\357\273\277# nightly\r\n'
		printf '   # indented comment\r\n'
		printf 'store = %s\r\n' "$BATS_TEST_TMPDIR/store"
		printf 'path = %s\r\n' "$BATS_TEST_TMPDIR/src"
	} > backup.conf
	run -0 snap-backup -c backup.conf -q
	run -0 snap-rev-parse --store store main
}

@test "what pre and post print goes to stderr: stdout is the summary alone" {
	write_conf "pre = echo PRE" "post = echo POST"
	run -0 --separate-stderr snap-backup -c backup.conf --json
	assert_equal "$(printf '%s\n' "$stderr")" "PRE
POST"
	run -0 python3 -m json.tool <<< "$output"
	run -0 --separate-stderr snap-backup -c backup.conf -q
	assert_equal "$output" ""
}

@test "a daemon that pre leaves running does not hold the lock; one config by two names is one lock" {
	write_conf "pre = (sleep 29.873 > /dev/null 2>&1 &)"
	run -0 snap-backup -c backup.conf -q
	write_conf
	run -0 snap-backup -c backup.conf -q
	pkill -f "^sleep 29.873$" || :
	# Through a symlink, and a path with ./ and //: the same file, one lock.
	mkdir gate.d && mkfifo gate.d/gate
	write_conf "pre = cat $BATS_TEST_TMPDIR/gate.d/gate > /dev/null"
	mkdir cx && mv backup.conf cx/ && ln -s cx cy
	snap-backup -c cx/backup.conf -q > first.out 2>&1 &
	local first=$!
	wait_lock "$first"
	run -11 snap-backup -c cy/backup.conf
	run -11 snap-backup -c "$BATS_TEST_TMPDIR/cx/.//backup.conf"
	echo go > gate.d/gate
	wait "$first"
}

@test "SIGTERM stops a run with one line and status 130" {
	mkdir gate.d && mkfifo gate.d/gate
	write_conf "pre = cat $BATS_TEST_TMPDIR/gate.d/gate > /dev/null"
	snap-backup -c backup.conf -q > out 2> err &
	local pid=$! rc=0
	wait_lock "$pid"
	kill -TERM "$pid"
	echo go > gate.d/gate
	wait "$pid" || rc=$?
	assert_equal "$rc" 130
	run -0 cat err
	assert_output "snap-backup: fatal: interrupted; the run stopped"
}

@test "several paths are stored each under its absolute path" {
	mkdir -p other
	echo o > other/o
	write_conf "path = $BATS_TEST_TMPDIR/other"
	run -0 snap-backup -c backup.conf
	[[ "$output" == "snapshot "*" of $BATS_TEST_TMPDIR/src $BATS_TEST_TMPDIR/other: 3 files "* ]]
	run -0 snap-cat-file --store store -p "main:${BATS_TEST_TMPDIR#/}/other/o"
	assert_output o
	run -0 snap-cat-file --store store -p "main:${BATS_TEST_TMPDIR#/}/src/d/b"
	assert_output b
	write_conf "path = $BATS_TEST_TMPDIR/none"
	run -128 --separate-stderr snap-backup -c backup.conf
	assert_equal "$stderr" "snap-backup: fatal: path '$BATS_TEST_TMPDIR/none' does not exist"
}

@test "remote: the ref is pushed after the check, by a remote's name; a failed push is 128" {
	snap-init -q far
	run -0 snap-remote --store store add off "$BATS_TEST_TMPDIR/far"
	write_conf "remote = off" "fsck = all"
	run -0 snap-backup -c backup.conf
	[[ "$output" == *"; pushed to off" ]]
	run -0 snap-rev-parse --store far main
	assert_output "$(snap-rev-parse --store store main)"
	run -0 snap-backup -c backup.conf --json
	[[ "$output" == *'"pushed":"off",'* ]]
	write_conf "remote = $BATS_TEST_TMPDIR/nowhere"
	run -128 --separate-stderr snap-backup -c backup.conf -q
	[[ "$stderr" == *"snap-backup: fatal: push to '$BATS_TEST_TMPDIR/nowhere' failed" ]]
}

@test "a summary that cannot be written (stdout closed or full) fails the run with one line; the snapshot stands; -q writes none" {
	run -128 --separate-stderr bash -c 'snap-backup -c backup.conf >&-'
	assert_equal "$stderr" "snap-backup: fatal: the summary cannot be written to standard output (the run ended with status 0)"
	run -0 snap-rev-parse --store store --verify main
	echo c > src/c
	run -128 --separate-stderr bash -c 'snap-backup -c backup.conf --json > /dev/full'
	assert_equal "$stderr" "snap-backup: fatal: the summary cannot be written to standard output (the run ended with status 0)"
	assert_equal "$(snap-rev-list --store store main | wc -l)" 2
	run -0 --separate-stderr bash -c 'snap-backup -c backup.conf -q >&-'
	assert_equal "$stderr" ""
}
