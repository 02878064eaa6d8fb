#!/usr/bin/env bats
# 0: the progress meter (lib/progress), through t/unit/test-progress

load test_helper

@test "progress is not shown when stderr is not a terminal" {
	run -0 --separate-stderr test-progress 10 3
	assert_equal "$stderr" ''
}

@test "SNAP_PROGRESS=1 forces it: counts, percentage, bytes, rate, a final line" {
	SNAP_PROGRESS=1 run -0 --separate-stderr test-progress 10 10
	local last=${stderr##*$'\r'}
	[[ "$last" =~ ^snap-test:\ files\ 10/10\ \(100%\),\ 10\.0\ MiB,\ [0-9.]+\ MiB/s,\ done\ in\ [0-9.]+\ s\ *$ ]]
	# Redrawn a few times a second, not at every step.
	local draws
	draws=$(printf '%s' "$stderr" | tr '\r' '\n' | grep -c 'files')
	[ "$draws" -ge 2 ]
	[ "$draws" -le 7 ]
}

@test "an estimate of the time left once a second has gone by" {
	SNAP_PROGRESS=1 run -0 --separate-stderr test-progress 40 15
	[[ "$stderr" =~ files\ 1[0-4]/40\ \([23][0-9]%\),\ 1[0-4]\.0\ MiB,\ [0-9.]+\ MiB/s,\ ETA\ [0-9]+\ s ]]
}

@test "SNAP_PROGRESS=0 silences it even on a terminal" {
	SNAP_PROGRESS=0 run -0 --separate-stderr script -qec 'test-progress 5 2' /dev/null
	[[ "$output" != *files* ]]
}

@test "an unknown total shows the count alone" {
	SNAP_PROGRESS=1 run -0 --separate-stderr test-progress 0 3
	local last=${stderr##*$'\r'}
	[[ "$last" =~ ^snap-test:\ files\ 3,\ 3\.0\ MiB ]]
}

@test "snapshot and restore show progress when asked, and never with -q or without a tty" {
	init_store
	mkdir src
	for i in $(seq 50); do echo "$i" > "src/f$i"; done
	run -0 --separate-stderr snap-snapshot --progress src
	[[ "$stderr" == *"snap-snapshot: files 50, 141 B"*", done in "*" s" ]]
	run -0 --separate-stderr snap-snapshot -q --progress src
	assert_equal "$stderr" ""
	run -0 --separate-stderr snap-snapshot src
	assert_equal "$stderr" ""
	run -0 --separate-stderr snap-restore --progress main out
	[[ "$stderr" == *"snap-restore: files 50, 141 B"*", done in "*" s" ]]
	run -0 --separate-stderr snap-restore main out2
	assert_equal "$stderr" ""
	run -0 --separate-stderr snap-restore -q --progress main out3
	assert_equal "$stderr" ""
}

@test "bundle-import shows progress when asked, and never with -q or without a tty" {
	init_store
	local i
	for i in $(seq 1 150); do
		printf '{"sequence":%d,"operations":[{"op":"insert","table":"t","row":{"id":%d}}]}\n' "$i" "$i"
	done > b.jsonl
	run -0 --separate-stderr snap-bundle-import --progress -r a b.jsonl
	[[ "$stderr" =~ snap-bundle-import:\ bundles\ 150/150\ \(100%\),\ [0-9.]+\ KiB,\ ([0-9.]+\ [KM]iB/s,\ )?done\ in\ [0-9.]+\ s\ *$ ]]
	run -0 --separate-stderr snap-bundle-import -r b b.jsonl
	assert_equal "$stderr" ""
	# -q: no progress, and no note for what is already stored.
	run -0 --separate-stderr snap-bundle-import -q --progress -r a b.jsonl
	assert_equal "$stderr" ""
	run -0 --separate-stderr snap-bundle-import -r a b.jsonl
	assert_equal "$(printf '%s\n' "$stderr" | grep -c '^snap-bundle-import: note: b.jsonl: bundle [0-9]* (line [0-9]*): already on the chain of .*; skipped$')" 150
}

@test "fsck shows progress when asked, and never with -q or without a tty" {
	init_store
	mkdir src
	local i
	for i in $(seq 30); do echo "$i" > "src/f$i"; done
	snap-snapshot -q src
	run -0 --separate-stderr snap-fsck --progress
	[[ "$stderr" =~ ^.*snap-fsck:\ objects\ ([0-9]+)/([0-9]+)\ \(100%\),\ done\ in\ [0-9.]+\ s\ *$ ]]
	assert_equal "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"
	run -0 --separate-stderr snap-fsck
	assert_equal "$stderr" ""
	run -0 --separate-stderr snap-fsck -q --progress
	assert_equal "$stderr" ""
	SNAP_PROGRESS=1 run -0 --separate-stderr snap-fsck -q
	assert_equal "$stderr" ""
}

@test "gc shows progress while it repacks when asked, and never with -q or without a tty" {
	init_store
	local i
	# Two small packs: gc joins them.
	for i in 1 2; do
		mkdir -p "src$i"
		for j in $(seq 120); do echo "$i $j" > "src$i/f$j"; done
		snap-snapshot -q -r "r$i" "src$i"
	done
	run -0 --separate-stderr snap-gc --progress -n
	[[ "$stderr" =~ snap-gc:\ objects\ ([0-9]+)/([0-9]+)\ \(100%\),\ [0-9.]+\ [KM]?i?B,\ ([0-9.]+\ [KM]?i?B/s,\ )?done\ in\ [0-9.]+\ s\ *$ ]]
	run -0 --separate-stderr snap-gc -q --progress
	assert_equal "$stderr" ""
	run -0 --separate-stderr snap-gc
	assert_equal "$stderr" ""
}
