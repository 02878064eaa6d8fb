#!/bin/sh
# make bench: snap against b3sum, zstd, tar | zstd, restic, borg and git,
# on the same data in the same run.  Prints Markdown tables.
#
#   BENCH_QUICK=1   small data (/usr/include, 128 MiB file, 10k bundles,
#                   lookups at 10k and 100k objects), one run each
#   BENCH_TMP=DIR   where the data and stores go (default: under $TMPDIR)
#   BENCH_ONLY=LIST only these sections, comma-separated:
#                   file, big1pct, tree, lookups, bundles, history, find,
#                   links, sparse, push, builds
#   BENCH_BASE=DIR  a second snap build (a checkout built with make): the
#                   section "builds" times both on one tree, turn by turn,
#                   so a change is measured against what it changed
#
# Only ratios from one run mean anything: CPU speed drifts between runs.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
PATH="$top/bin:$PATH"
export PATH
quick=${BENCH_QUICK:-}
runs=3
[ -z "$quick" ] || runs=1
only=${BENCH_ONLY:-}
for s in $(printf '%s' "$only" | tr ',' ' '); do
	case $s in
	file|big1pct|tree|lookups|bundles|history|find|links|sparse|push|builds) ;;
	*) printf 'bench: unknown section "%s" in BENCH_ONLY (file, big1pct, tree, lookups, bundles, history, find, links, sparse, push, builds)\n' "$s" >&2
		exit 129 ;;
	esac
done
tmp=${BENCH_TMP:-$(mktemp -d "${TMPDIR:-/tmp}/snap-bench.XXXXXX")}
mkdir -p "$tmp"
# Trees are parked here and deleted at the very end: creating many files
# soon after deleting many runs slowly and noisily on these machines.
park=$tmp/park
mkdir -p "$park"
trap 'rm -rf "$tmp"' EXIT

# The reference tools keep their caches in the run's directory, not in $HOME.
export RESTIC_PASSWORD=bench RESTIC_CACHE_DIR="$tmp/restic-cache"
export BORG_BASE_DIR="$tmp/borg-home"
export BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes BORG_RELOCATED_REPO_ACCESS_IS_OK=yes

have() { command -v "$1" >/dev/null 2>&1; }
say() { printf '%s\n' "$*" >&2; }
want() { [ -z "$only" ] || case ",$only," in *",$1,"*) ;; *) return 1 ;; esac; }
pkg() { [ "$1" = borg ] && echo borgbackup || echo "$1"; }
# missing TOOL: the note a table row carries instead of figures.
missing() { printf 'not installed (apt-get install %s)' "$(pkg "$1")"; }

# time_cmd NAME CMD...: runs CMD $runs times; records the median wall
# seconds and the largest peak RSS (KiB) in $tmp/result.NAME.
time_cmd() {
	name=$1; shift
	prepare=${BENCH_PREPARE:-}
	BENCH_PREPARE=
	: > "$tmp/times"
	i=0
	while [ $i -lt $runs ]; do
		if [ -n "$prepare" ]; then sh -c "$prepare"; fi
		/usr/bin/time -f '%e %M' -o "$tmp/t1" "$@" >/dev/null 2>"$tmp/err" ||
			{ say "bench: '$name' failed:"; cat "$tmp/err" >&2; return 1; }
		tail -1 "$tmp/t1" >> "$tmp/times"
		i=$((i + 1))
	done
	sec=$(awk '{print $1}' "$tmp/times" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
	rss=$(awk '{print $2}' "$tmp/times" | sort -n | tail -1)
	echo "$sec $rss" > "$tmp/result.$name"
}
# time_once NAME INPUT CMD...: one run of CMD with INPUT on standard input
# (for steps that change a store, so cannot be repeated); same record.
time_once() {
	name=$1 input=$2; shift 2
	/usr/bin/time -f '%e %M' -o "$tmp/t1" "$@" < "$input" >/dev/null 2>"$tmp/err" ||
		{ say "bench: '$name' failed:"; cat "$tmp/err" >&2; return 1; }
	tail -1 "$tmp/t1" > "$tmp/result.$name"
}
# ns_run NAME INPUT CMD...: one run of CMD with INPUT on standard input;
# appends its wall nanoseconds to $tmp/ns.NAME (for runs of milliseconds,
# which /usr/bin/time only gives to 10 ms).  ns_of NAME: their median.
ns_run() {
	name=$1 input=$2; shift 2
	t0=$(date +%s%N)
	"$@" < "$input" >/dev/null 2>"$tmp/err" ||
		{ say "bench: '$name' failed:"; cat "$tmp/err" >&2; return 1; }
	t1=$(date +%s%N)
	echo $((t1 - t0)) >> "$tmp/ns.$name"
}
ns_of() { sort -n "$tmp/ns.$1" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
sec_of() { awk '{print $1}' "$tmp/result.$1"; }
rss_of() { awk '{printf "%.0f", $2 / 1024}' "$tmp/result.$1"; }
mbps() { awk -v b="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.0f", b / s / 1e6; else print "inf" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0) printf "%.2fx", b / a; else print "-" }'; }
mb() { du -sm "$1" | awk '{print $1}'; }
bytes_of() { du -sb "$1" | awk '{print $1}'; }        # apparent size
disk_of() { du -sk "$1" | awk '{print $1 * 1024}'; }  # blocks used
park_cmd() { printf "mv '%s' \"%s/%s.\$(date +%%s%%N)\" 2>/dev/null; " "$1" "$park" "$(basename "$1")"; }

say "bench: data and stores under $tmp ($runs run(s) each)"
for t in restic borg git b3sum; do
	have "$t" || say "bench: $t is not installed (apt-get install $(pkg $t)): its rows say so"
done

# ---- one large file of mixed data, for "file" and "big1pct" ----
big=$tmp/big.bin
if [ -n "$quick" ]; then size_mb=128; else size_mb=1024; fi
if want file || want big1pct; then
	say "bench: making a ${size_mb} MiB file of mixed data"
	{
		# Half text-like (compressible), half random (incompressible).
		half=$((size_mb * 1024 * 1024 / 2))
		find /usr/share/doc /usr/include -type f -size -1000k -print0 2>/dev/null |
			xargs -0 cat 2>/dev/null | head -c "$half" > "$tmp/text"
		[ -s "$tmp/text" ] || { say "bench: no text files found"; exit 1; }
		while [ "$(stat -c %s "$tmp/text")" -lt "$half" ]; do
			cat "$tmp/text" "$tmp/text" | head -c "$half" > "$tmp/text2"; mv "$tmp/text2" "$tmp/text"
		done
		cat "$tmp/text"
		head -c "$half" /dev/urandom
	} > "$big"
	rm -f "$tmp/text"
	bytes=$(stat -c %s "$big")
	cat "$big" > /dev/null
fi

# ---- 1. one large file: hashing and storing ----
if want file; then
	time_cmd hash snap-hash-object "$big"
	if have b3sum; then time_cmd b3sum b3sum --num-threads 1 "$big"; fi
	snap-init -q "$tmp/hs"
	BENCH_PREPARE="rm -rf '$tmp/hs' && snap-init -q '$tmp/hs'" time_cmd hashw snap-hash-object -w --store "$tmp/hs" "$big"
	time_cmd zstd sh -c "zstd -3 -T1 -q -f -o '$tmp/big.zst' '$big'"

	if have b3sum; then
		vs_b3sum="$(ratio "$(sec_of hash)" "$(sec_of b3sum)") of b3sum"
		b3sum_row="| b3sum --num-threads 1 | $(sec_of b3sum) | $(mbps "$bytes" "$(sec_of b3sum)") | $(rss_of b3sum) | | |"
	else
		vs_b3sum=-
		b3sum_row="| b3sum | $(missing b3sum) |"
	fi
	echo
	echo "## One ${size_mb} MiB file: hashing and storing"
	echo
	echo "| command | seconds | MB/s | peak RSS MiB | snap / reference | goal |"
	echo "|---|---:|---:|---:|---:|---|"
	echo "| snap-hash-object | $(sec_of hash) | $(mbps "$bytes" "$(sec_of hash)") | $(rss_of hash) | $vs_b3sum | ≥ 0.9x |"
	echo "$b3sum_row"
	echo "| snap-hash-object -w | $(sec_of hashw) | $(mbps "$bytes" "$(sec_of hashw)") | $(rss_of hashw) | $(ratio "$(sec_of hashw)" "$(sec_of zstd)") of zstd | ≥ 0.9x, RSS < 64 MiB |"
	echo "| zstd -3 -T1 (to a file) | $(sec_of zstd) | $(mbps "$bytes" "$(sec_of zstd)") | $(rss_of zstd) | | |"
	rm -f "$tmp/big.zst"
	rm -rf "$tmp/hs"
fi

# ---- 2. the same file with 1% changed: new data stored ----
if want big1pct; then
	# 164 ranges of 64 KiB in 1 GiB (1.0%), scaled with the file's size;
	# each in the middle of its equal share of the file, so they are spread
	# evenly and not aligned to 64 KiB.
	nranges=$((size_mb * 164 / 1024))
	slot=$((bytes / nranges))
	big2=$tmp/big2.bin
	cp "$big" "$big2"
	i=0
	while [ $i -lt $nranges ]; do
		dd if=/dev/urandom of="$big2" bs=65536 count=1 iflag=fullblock \
			oflag=seek_bytes seek=$((i * slot + slot / 2 - 32768)) conv=notrunc status=none
		i=$((i + 1))
	done
	sync
	sleep 2
	changed_pct=$(awk -v c=$((nranges * 65536)) -v b="$bytes" 'BEGIN { printf "%.2f", 100 * c / b }')
	say "bench: storing the ${size_mb} MiB file, then a copy with $nranges ranges of 64 KiB changed"

	# store_pair TOOL STORE CMD...: CMD stores its standard input into
	# STORE; run on the original, then on the copy; STORE's size after each.
	store_pair() {
		t=$1 st=$2; shift 2
		time_once "b1_${t}_a" "$big" "$@"
		bytes_of "$st" > "$tmp/size.b1_${t}_a"
		time_once "b1_${t}_b" "$big2" "$@"
		bytes_of "$st" > "$tmp/size.b1_${t}_b"
	}
	# snap-snapshot --stdin stores the file through snap-write-tree, the
	# path every file of a tree takes.
	snap-init -q "$tmp/b1snap"
	store_pair snap "$tmp/b1snap" env TMPDIR="$tmp" snap-snapshot --store "$tmp/b1snap" -r big -m big --stdin big.bin
	if have restic; then
		restic init -q -r "$tmp/b1restic" >/dev/null
		store_pair restic "$tmp/b1restic" restic -q -r "$tmp/b1restic" backup --stdin --stdin-filename big.bin
	fi
	if have borg; then
		borg init -e none "$tmp/b1borg"
		store_pair borg "$tmp/b1borg" sh -c "borg create --compression zstd,3 --stdin-name big.bin \"$tmp/b1borg::b\$(date +%s%N)\" -"
	fi
	# git deflates at about 17 MB/s here: a minute a GiB, twice; so it is
	# measured on the quick run's smaller file only.
	if have git && [ -n "$quick" ]; then
		git init -q --bare "$tmp/b1git"
		store_pair git "$tmp/b1git" git --git-dir="$tmp/b1git" hash-object -w --stdin
	fi

	b1_row() { # TOOL-LABEL TOOL
		if ! have "$2"; then
			echo "| $1 | $(missing "$2") |"
			return
		elif [ ! -f "$tmp/result.b1_$2_b" ]; then
			echo "| $1 | left out of the full run (about a minute a GiB, twice); \`BENCH_QUICK=1\` measures it |"
			return
		fi
		a=$(cat "$tmp/size.b1_$2_a") b=$(cat "$tmp/size.b1_$2_b")
		awk -v l="$1" -v sa="$(sec_of "b1_$2_a")" -v sb="$(sec_of "b1_$2_b")" \
			-v a="$a" -v b="$b" -v f="$bytes" 'BEGIN {
			printf "| %s | %s s · %.1f MB | %s s | %.1f MB | %.1f%% | %.1f%% |\n", l, sa, a / 1e6, sb, (b - a) / 1e6, 100 * (b - a) / f, 100 * (b - a) / a
		}'
	}
	echo
	echo "## One ${size_mb} MiB file, then a copy with ${changed_pct}% changed ($nranges scattered ranges of 64 KiB): new data stored"
	echo
	echo "| tool | store the original: seconds · store MB | store the copy: seconds | new data stored by the copy | of the file | of what the original took |"
	echo "|---|---:|---:|---:|---:|---:|"
	b1_row "snap-snapshot --stdin" snap
	b1_row "restic backup --stdin" restic
	b1_row "borg create --compression zstd,3 (stdin)" borg
	b1_row "git hash-object -w --stdin" git
	rm -rf "$tmp/b1snap" "$tmp/b1restic" "$tmp/b1borg" "$tmp/b1git" "$big2"
fi
rm -f "$big"

# ---- 3. a tree of real files: snapshot, re-snapshot, restore, verify ----
if want tree; then
data=$tmp/data
mkdir -p "$data"
if [ -n "$quick" ]; then
	cp -a /usr/include "$data/"
else
	cp -a /usr/share /usr/include "$data/" 2>/dev/null || :
fi
files=$(find "$data" -type f | wc -l)
tbytes=$(du -sb "$data" | awk '{print $1}')
say "bench: tree of $files files, $((tbytes / 1000000)) MB"
sync
sleep 2

# 1% of the files changed, in place (applied once, between runs).
change_one_percent() {
	find "$data" -type f -size +0 | awk 'NR % 100 == 0' | while IFS= read -r f; do
		printf 'changed %s\n' "$(date +%N)" >> "$f"
	done
}

# snap
BENCH_PREPARE="rm -rf '$tmp/snap' && snap-init -q '$tmp/snap'" \
	time_cmd snap_init snap-snapshot --store "$tmp/snap" -m initial "$data"
time_cmd snap_same snap-snapshot --store "$tmp/snap" -m unchanged "$data"
# The repository, as for the others: the stat cache (cache/, rebuilt if
# deleted) is a cache like restic's and borg's, which live outside theirs.
snap_size=$(du -sm --exclude=cache "$tmp/snap" | awk '{print $1}')
snap_cache=$(du -sm "$tmp/snap/cache" 2>/dev/null | awk '{print $1}')

# tar | zstd
time_cmd tar_init sh -c "tar -cf - -C '$tmp' data | zstd -3 -T1 -q > '$tmp/data.tar.zst'"
tar_size=$(mb "$tmp/data.tar.zst")
# The same with zstd on every core: the issue's goal compares with it.
time_cmd tart0_init sh -c "tar -cf - -C '$tmp' data | zstd -3 -T0 -q > '$tmp/data-t0.tar.zst'"
tart0_size=$(mb "$tmp/data-t0.tar.zst")
rm -f "$tmp/data-t0.tar.zst"

# restic
if have restic; then
	BENCH_PREPARE="rm -rf '$tmp/restic' && restic init -q -r '$tmp/restic'" \
		time_cmd restic_init restic -q -r "$tmp/restic" backup "$data"
	time_cmd restic_same restic -q -r "$tmp/restic" backup "$data"
	restic_size=$(mb "$tmp/restic")
fi
# borg
if have borg; then
	BENCH_PREPARE="rm -rf '$tmp/borg' && borg init -e none '$tmp/borg'" \
		time_cmd borg_init sh -c "borg create --compression zstd,3 \"$tmp/borg::a\$(date +%s%N)\" '$data'"
	time_cmd borg_same sh -c "borg create --compression zstd,3 \"$tmp/borg::b\$(date +%s%N)\" '$data'"
	borg_size=$(mb "$tmp/borg")
fi
# git
if have git; then
	BENCH_PREPARE="rm -rf '$tmp/git' && git init -q --bare '$tmp/git' && git --git-dir='$tmp/git' config core.bare false" \
		time_cmd git_init sh -c "cd '$data' && git --git-dir='$tmp/git' --work-tree=. add -A && git --git-dir='$tmp/git' --work-tree=. -c user.name=b -c user.email=b@b commit -q -m i"
	time_cmd git_same sh -c "cd '$data' && git --git-dir='$tmp/git' --work-tree=. add -A && git --git-dir='$tmp/git' --work-tree=. -c user.name=b -c user.email=b@b commit -q --allow-empty -m s"
	git_size=$(mb "$tmp/git")
fi

# 1% of files changed
change_one_percent
time_cmd snap_chg snap-snapshot --store "$tmp/snap" -m changed "$data"
if have restic; then time_cmd restic_chg restic -q -r "$tmp/restic" backup "$data"; fi
if have borg; then time_cmd borg_chg sh -c "borg create --compression zstd,3 \"$tmp/borg::c\$(date +%s%N)\" '$data'"; fi
if have git; then time_cmd git_chg sh -c "cd '$data' && git --git-dir='$tmp/git' --work-tree=. add -A && git --git-dir='$tmp/git' --work-tree=. -c user.name=b -c user.email=b@b commit -q --allow-empty -m c"; fi

# Each restore goes into a fresh empty directory; the previous one is
# parked (not deleted) under a unique name.
park_r="$(park_cmd "$tmp/r")mkdir '$tmp/r'"
BENCH_PREPARE=$park_r time_cmd snap_restore snap-restore --store "$tmp/snap" main "$tmp/r"
BENCH_PREPARE=$park_r time_cmd tar_restore sh -c "zstd -d -q < '$tmp/data.tar.zst' | tar -xf - -C '$tmp/r'"
if have restic; then
	BENCH_PREPARE=$park_r time_cmd restic_restore restic -q -r "$tmp/restic" restore latest --target "$tmp/r"
fi
if have borg; then
	last=$(borg list --last 1 --short "$tmp/borg")
	BENCH_PREPARE=$park_r time_cmd borg_restore sh -c "cd '$tmp/r' && borg extract '$tmp/borg::$last'"
fi
if have git; then
	BENCH_PREPARE=$park_r time_cmd git_restore sh -c "git --git-dir='$tmp/git' --work-tree='$tmp/r' checkout -q -f HEAD -- ."
fi
BENCH_PREPARE=

# full verify: every byte re-hashed
time_cmd snap_verify snap-fsck --store "$tmp/snap" --no-dangling
if have restic; then time_cmd restic_verify restic -q -r "$tmp/restic" check --read-data; fi
if have borg; then time_cmd borg_verify borg check --verify-data "$tmp/borg"; fi
if have git; then time_cmd git_verify git --git-dir="$tmp/git" fsck --full; fi

row() { # tool initial same changed restore verify size
	printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$@"
}
cell() { # result name -> "sec s (MB/s, RSS MiB)"
	if [ -f "$tmp/result.$1" ]; then
		printf '%s s · %s MB/s · %s MiB' "$(sec_of "$1")" "$(mbps "$tbytes" "$(sec_of "$1")")" "$(rss_of "$1")"
	else
		printf -- '-'
	fi
}

echo
echo "## A tree of $files files, $((tbytes / 1000000)) MB (median of $runs; seconds · MB/s · peak RSS)"
echo
echo "| tool | initial snapshot | unchanged re-snapshot | 1% of files changed | restore | full verify | store MB |"
echo "|---|---|---|---|---|---|---:|"
row snap "$(cell snap_init)" "$(cell snap_same)" "$(cell snap_chg)" "$(cell snap_restore)" "$(cell snap_verify)" "$snap_size"
row "tar \\| zstd -3 -T1" "$(cell tar_init)" "-" "-" "$(cell tar_restore)" "-" "$tar_size"
row "tar \\| zstd -3 -T0" "$(cell tart0_init)" "-" "-" "-" "-" "$tart0_size"
if have restic; then
	row "restic $(restic version | awk '{print $2}')" "$(cell restic_init)" "$(cell restic_same)" "$(cell restic_chg)" "$(cell restic_restore)" "$(cell restic_verify)" "$restic_size"
else
	echo "| restic | $(missing restic) |"
fi
if have borg; then
	row "borg $(borg --version | awk '{print $2}') (zstd,3)" "$(cell borg_init)" "$(cell borg_same)" "$(cell borg_chg)" "$(cell borg_restore)" "$(cell borg_verify)" "$borg_size"
else
	echo "| borg | $(missing borg) |"
fi
if have git; then
	row "git $(git --version | awk '{print $3}')" "$(cell git_init)" "$(cell git_same)" "$(cell git_chg)" "$(cell git_restore)" "$(cell git_verify)" "$git_size"
else
	echo "| git | $(missing git) |"
fi

echo
echo "Store MB is the repository alone for every tool; snap's stat cache (cache/) took ${snap_cache:-0} MB more."
echo
echo "### snap's speed-up (reference seconds / snap seconds; above 1 is faster)"
echo
echo "| against | initial | unchanged | 1% changed | restore | verify |"
echo "|---|---:|---:|---:|---:|---:|"
for t in tar tart0 restic borg git; do
	label=$t
	[ "$t" != tar ] || label="tar (-T1)"
	[ "$t" != tart0 ] || label="tar (-T0)"
	if [ ! -f "$tmp/result.${t}_init" ]; then
		echo "| $label | $(missing "$t") |"
		continue
	fi
	r() { if [ -f "$tmp/result.${t}_$1" ]; then ratio "$(sec_of "snap_$1")" "$(sec_of "${t}_$1")"; else printf -- '-'; fi; }
	echo "| $label | $(r init) | $(r same) | $(r chg) | $(r restore) | $(r verify) |"
done
fi

# ---- 4. object lookups in stores of 10k, 100k and 1M objects ----
if want lookups; then
	if [ -n "$quick" ]; then counts="10000 100000"; else counts="10000 100000 1000000"; fi
	# One source tree grows to each count in turn: objs/DDDD/oDDDDFFF,
	# 1000 entries a directory.  They are symlinks (each pointing to its
	# own name), so each is a distinct small blob with no data block:
	# made and removed far faster than files.  The tree goes on tmpfs when
	# /dev/shm has room (1M entries take about 1.1 GB of kernel memory
	# there); the stores stay under $tmp.
	if [ -d /dev/shm ] && [ -w /dev/shm ] &&
		[ "$(df -Pk /dev/shm | awk 'NR == 2 {print $4}')" -gt 4000000 ]; then
		shm=$(mktemp -d /dev/shm/snap-bench-objs.XXXXXX)
		trap 'rm -rf "$tmp" "$shm"' EXIT
		objs=$shm/objs
	else
		objs=$tmp/objs
	fi
	mkdir -p "$objs"
	dirs=0
	for n in $counts; do
		to=$((n / 1000))
		say "bench: a store of $n small objects"
		(
			cd "$objs"
			for d in $(seq -f %04g $dirs $((to - 1))); do
				mkdir "$d"
				(cd "$d" && seq -f "o$d%03g" 0 999 | xargs ln -s -t .)
			done
		)
		dirs=$to
		st=$tmp/lk$n
		snap-init -q "$st"
		time_once "lk_build$n" /dev/null snap-write-tree --store "$st" -q "$objs"
		snap-cat-file --store "$st" --batch-check --batch-all-objects | wc -l > "$tmp/lk_objects$n"
		if [ "$n" = 10000 ]; then
			# The samples, the same for every store: the 10,000 blobs of
			# this first store (present in each), ordered by the second
			# half of their ids so that the lookups jump about the id
			# space; and 10,000 random ids.
			snap-cat-file --store "$st" --batch-check --batch-all-objects |
				awk '$2 == "blob" { print substr($1, 33), $1 }' | sort | awk '{ print $2 }' > "$tmp/present"
			[ "$(wc -l < "$tmp/present")" = 10000 ] || { say "bench: the first store does not hold 10,000 blobs"; exit 1; }
			head -c 320000 /dev/urandom | od -An -v -tx1 | tr -d ' \n' | fold -w 64 |
				awk 'length($0) == 64' > "$tmp/absent"
		fi
		snap-cat-file --store "$st" --batch-check < "$tmp/present" > "$tmp/out"
		[ "$(grep -c ' missing$' "$tmp/out" || :)" = 0 ] || { say "bench: a present id was reported missing in $st"; exit 1; }
		snap-cat-file --store "$st" --batch-check < "$tmp/absent" > "$tmp/out"
		[ "$(grep -c ' missing$' "$tmp/out" || :)" = 10000 ] || { say "bench: an absent id was found in $st"; exit 1; }
		mb "$st" > "$tmp/lk_mb$n"
	done
	# The stores take turns, round after round, so that a slower moment of
	# the machine falls on all of them alike; the median of 7 rounds.
	sync
	round=0
	while [ $round -lt 7 ]; do
		for n in $counts; do
			for k in empty:/dev/null hit:"$tmp/present" miss:"$tmp/absent"; do
				ns_run "lk_${k%%:*}$n" "${k#*:}" snap-cat-file --store "$tmp/lk$n" --batch-check
			done
		done
		round=$((round + 1))
	done
	# On tmpfs, removing the tree frees memory and slows no later step.
	[ -z "${shm:-}" ] || rm -rf "$shm"

	us_per() { # NAME N: (run - empty run) / 10,000 lookups, in microseconds
		awk -v t="$(ns_of "$1$2")" -v e="$(ns_of "lk_empty$2")" 'BEGIN { printf "%.2f", (t - e) / 10000 / 1000 }'
	}
	echo
	echo "## Object lookups: snap-cat-file --batch-check of 10,000 present and 10,000 absent ids (median of 7)"
	echo
	echo "| blobs stored (symlinks) | objects in store | build: snap-write-tree s | store MB | start ms | present µs / lookup | absent µs / lookup | present vs 10k |"
	echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
	for n in $counts; do
		awk -v e="$(ns_of "lk_empty$n")" -v n="$n" -v o="$(cat "$tmp/lk_objects$n")" \
			-v b="$(sec_of "lk_build$n")" -v m="$(cat "$tmp/lk_mb$n")" \
			-v h="$(us_per lk_hit "$n")" -v a="$(us_per lk_miss "$n")" -v h0="$(us_per lk_hit 10000)" 'BEGIN {
			printf "| %d | %d | %s | %s | %.1f | %s | %s | %.2fx |\n", n, o, b, m, e / 1e6, h, a, (h0 > 0 ? h / h0 : 0)
		}'
	done
fi

# ---- 5. sync bundles: import speed and bytes stored ----
if want bundles; then
	if [ -n "$quick" ]; then nb=10000; else nb=100000; fi
	echo
	echo "## $nb sync bundles (JSON Lines): import and bytes stored"
	echo
	echo "| command | seconds | bundles/s | peak RSS MiB | bytes/bundle on disk | bytes/bundle (apparent) |"
	echo "|---|---:|---:|---:|---:|---:|"
	if ! have snap-bundle-import; then
		say "bench: snap-bundle-import is not built: the bundles section is skipped"
		echo "| snap-bundle-import | skipped: snap-bundle-import is not built yet |"
	else
		say "bench: making $nb bundles"
		# Bundle N: sequence N, 1 to 3 small operations on table t.
		awk -v n=$nb 'BEGIN {
			split("insert update delete", kind, " ")
			for (s = 1; s <= n; s++) {
				ops = ""
				for (j = 0; j <= s % 3; j++) {
					id = s * 3 + j
					ops = ops (j ? "," : "") sprintf("{\"op\":\"%s\",\"table\":\"t\",\"row\":{\"id\":%d,\"v\":\"value %d of bundle %d\"}}", kind[(s + j) % 3 + 1], id, id * 7919 % 100003, s)
				}
				printf "{\"sequence\":%d,\"operations\":[%s]}\n", s, ops
			}
		}' > "$tmp/bundles.jsonl"
		jbytes=$(stat -c %s "$tmp/bundles.jsonl")

		bun_row() { # LABEL RESULT STORE [norate]
			awk -v l="$1" -v s="$(sec_of "$2")" -v r="$(rss_of "$2")" -v n=$nb -v norate="${4:-}" \
				-v d="$(disk_of "$3")" -v b="$(bytes_of "$3")" 'BEGIN {
				rate = norate != "" ? "-" : s > 0 ? sprintf("%.0f", n / s) : "inf"
				printf "| %s | %s | %s | %s | %.0f | %.0f |\n", l, s, rate, r, d / n, b / n
			}'
		}
		BENCH_PREPARE="$(park_cmd "$tmp/bun")snap-init -q '$tmp/bun'" \
			time_cmd bun_snap env SNAP_DIR="$tmp/bun" snap-bundle-import --format jsonl "$tmp/bundles.jsonl"
		bun_row "snap-bundle-import --format jsonl (one file)" bun_snap "$tmp/bun"

		if have git; then
			# The same bundles as one file each (made before timing):
			# bfiles/DDD/FFF, 1000 a directory.
			mkdir -p "$tmp/bfiles"
			(
				cd "$tmp/bfiles"
				seq -f %03g 0 $(((nb - 1) / 1000)) | xargs mkdir
				awk '{ f = sprintf("%03d/%03d", (NR - 1) / 1000, (NR - 1) % 1000); print > f; close(f); print f > "../bpaths" }' "$tmp/bundles.jsonl"
			)
			# One run: each leaves $nb loose objects, slow to delete later.
			git init -q "$tmp/bgit"
			time_once bun_git "$tmp/bpaths" sh -c "cd '$tmp/bfiles' && git --git-dir='$tmp/bgit/.git' hash-object -w --stdin-paths > '$tmp/bids'"
			bun_row "git hash-object -w --stdin-paths (one file each, loose; one run)" bun_git "$tmp/bgit/.git/objects"
			# git gc packs only what a commit reaches: commit the blobs
			# (not timed), then time git gc.
			awk 'NR == FNR { id[FNR] = $1; next } { printf "100644 %s\t%s\n", id[FNR], $0 }' "$tmp/bids" "$tmp/bpaths" |
				git --git-dir="$tmp/bgit/.git" update-index --add --index-info
			t=$(git --git-dir="$tmp/bgit/.git" write-tree)
			c=$(git --git-dir="$tmp/bgit/.git" -c user.name=b -c user.email=b@b commit-tree -m bundles "$t")
			git --git-dir="$tmp/bgit/.git" update-ref refs/heads/main "$c"
			time_once bun_gc /dev/null git --git-dir="$tmp/bgit/.git" gc -q
			bun_row "then git gc (the gc's time; packed, with deltas)" bun_gc "$tmp/bgit/.git/objects" norate
		else
			echo "| git | $(missing git) |"
		fi
		echo
		echo "Input: $nb bundles, $jbytes bytes of JSON Lines ($((jbytes / nb)) bytes a bundle)."
	fi
fi

# ---- 6. a long history: listing every snapshot ----
if want history; then
	if [ -n "$quick" ]; then nh=100; else nh=1000; fi
	echo
	echo "## A history of $nh snapshots: listing them all (median of 7)"
	echo
	echo "| command | ms | vs snap |"
	echo "|---|---:|---:|"
	say "bench: making $nh snapshots with each tool"
	mkdir -p "$tmp/hsrc"
	snap-init -q "$tmp/hsnap"
	i=1
	while [ $i -le $nh ]; do
		echo "$i" > "$tmp/hsrc/counter"
		SNAP_DIR="$tmp/hsnap" SNAP_TIME=$((1700000000 + i * 3600)) snap-snapshot -m "run $i" "$tmp/hsrc" >/dev/null
		i=$((i + 1))
	done
	# hist NAME CMD...: seven timed runs (milliseconds matter here).
	hist() {
		n=$1; shift
		for k in 1 2 3 4 5 6 7; do ns_run "$n" /dev/null "$@" || return 1; done
	}
	hrow() { awk -v l="$1" -v t="$(ns_of "$2")" -v b="$(ns_of hist_snap)" 'BEGIN {
		printf "| %s | %.1f | %.2fx |\n", l, t / 1e6, (b > 0 ? t / b : 0) }'; }
	hist hist_snap env SNAP_DIR="$tmp/hsnap" snap-log
	hist hist_snap_json env SNAP_DIR="$tmp/hsnap" snap-log --json
	hrow "snap log" hist_snap
	hrow "snap log --json" hist_snap_json
	if have restic; then
		restic init -q -r "$tmp/hrestic" >/dev/null
		i=1
		while [ $i -le $nh ]; do
			echo "$i" > "$tmp/hsrc/counter"
			restic -q -r "$tmp/hrestic" backup "$tmp/hsrc" >/dev/null
			i=$((i + 1))
		done
		hist hist_restic restic -q -r "$tmp/hrestic" snapshots
		hrow "restic snapshots" hist_restic
	else
		echo "| restic | $(missing restic) | |"
	fi
	if have borg; then
		borg init -e none "$tmp/hborg" >/dev/null 2>&1
		i=1
		while [ $i -le $nh ]; do
			echo "$i" > "$tmp/hsrc/counter"
			borg create "$tmp/hborg::run$i" "$tmp/hsrc" >/dev/null 2>&1
			i=$((i + 1))
		done
		hist hist_borg borg list "$tmp/hborg"
		hrow "borg list" hist_borg
	else
		echo "| borg | $(missing borg) | |"
	fi
fi

# ---- 7. one name across many snapshots of a tree ----
if want find; then
	if [ -n "$quick" ]; then nf=20; else nf=100; fi
	fdata=$tmp/fdata
	mkdir -p "$fdata"
	if [ -n "$quick" ]; then cp -a /usr/include "$fdata/"; else cp -a /usr/share /usr/include "$fdata/" 2>/dev/null || :; fi
	ffiles=$(find "$fdata" -type f | wc -l)
	# The name looked for: one file, present in every snapshot.
	fname=$(find "$fdata" -type f -name '*.h' | sort | sed -n 1p)
	fname=${fname##*/}
	say "bench: $nf snapshots of a tree of $ffiles files, each after 0.1% of them changed"
	snap-init -q "$tmp/fsnap"
	have restic && restic init -q -r "$tmp/frestic" >/dev/null
	i=1
	while [ $i -le $nf ]; do
		find "$fdata" -type f -size +0 | awk -v i=$i 'NR % 1000 == i % 1000' | while IFS= read -r f; do
			printf 'changed %s\n' "$i" >> "$f"
		done
		snap-snapshot --store "$tmp/fsnap" -m "run $i" "$fdata" >/dev/null
		have restic && restic -q -r "$tmp/frestic" backup "$fdata" >/dev/null
		i=$((i + 1))
	done
	echo
	echo "## snap find of one name across $nf snapshots of a tree of $ffiles files (median of $runs)"
	echo
	echo "| command | seconds | matches | vs snap |"
	echo "|---|---:|---:|---:|"
	time_cmd find_snap snap-find --store "$tmp/fsnap" "$fname"
	fm=$(snap-find --store "$tmp/fsnap" "$fname" | wc -l)
	echo "| snap find $fname | $(sec_of find_snap) | $fm | 1.00x |"
	if have restic; then
		time_cmd find_restic restic -q -r "$tmp/frestic" find "$fname"
		rm_=$(restic -q -r "$tmp/frestic" find --json "$fname" | python3 -c 'import json,sys; print(sum(len(s.get("matches") or []) for s in json.load(sys.stdin)))' 2>/dev/null || echo "?")
		echo "| restic find $fname | $(sec_of find_restic) | $rm_ | $(ratio "$(sec_of find_snap)" "$(sec_of find_restic)") |"
	else
		echo "| restic | $(missing restic) | | |"
	fi
fi

# ---- 8. hard links: N inodes of two names each, against 2N plain files ----
if want links; then
	if [ -n "$quick" ]; then nl=20000; else nl=80000; fi
	say "bench: a tree of $nl inodes with two names each, and one of $((nl * 2)) plain files"
	for kind in plain linked; do
		d=$tmp/l$kind
		mkdir -p "$d"
		i=0
		while [ $i -lt $((nl / 1000)) ]; do
			mkdir -p "$d/a$i" "$d/b$i"
			# 1000 files a directory, each with its own content
			(cd "$d/a$i" && seq 1 1000 | sed "s/.*/echo $i-& > f&/" | sh)
			if [ $kind = linked ]; then
				(cd "$d/a$i" && for f in *; do ln "$f" "../b$i/$f"; done)
			else
				cp -a "$d/a$i/." "$d/b$i/"
			fi
			i=$((i + 1))
		done
	done
	sync
	echo
	echo "## Hard links: $nl inodes of two names each, against $((nl * 2)) plain files (one run each; seconds)"
	echo
	echo "| tool | plain | linked | linked / plain |"
	echo "|---|---:|---:|---:|"
	lrow() { echo "| $1 | $(sec_of "$2_plain") | $(sec_of "$2_linked") | $(ratio "$(sec_of "$2_plain")" "$(sec_of "$2_linked")") |"; }
	for kind in plain linked; do
		snap-init -q "$tmp/lsnap.$kind"
		time_once lsnap_$kind /dev/null snap-snapshot -q --store "$tmp/lsnap.$kind" "$tmp/l$kind"
	done
	lrow "snap snapshot" lsnap
	for kind in plain linked; do
		time_once lrest_$kind /dev/null snap-restore -q --store "$tmp/lsnap.$kind" main "$tmp/lr.$kind"
		mv "$tmp/lr.$kind" "$park/lr.$kind"
	done
	lrow "snap restore" lrest
	if have restic; then
		for kind in plain linked; do
			restic init -q -r "$tmp/lrestic.$kind" >/dev/null
			time_once lrestic_$kind /dev/null restic -q -r "$tmp/lrestic.$kind" backup "$tmp/l$kind"
		done
		lrow "restic backup" lrestic
	else
		echo "| restic | $(missing restic) | | |"
	fi
	if have borg; then
		for kind in plain linked; do
			borg init -e none "$tmp/lborg.$kind" >/dev/null 2>&1
			time_once lborg_$kind /dev/null borg create --compression zstd,3 "$tmp/lborg.$kind::a" "$tmp/l$kind"
		done
		lrow "borg create" lborg
	else
		echo "| borg | $(missing borg) | | |"
	fi
	mv "$tmp/lplain" "$tmp/llinked" "$park/"
fi

# ---- 9. a large sparse file: holes stored and restored as holes ----
if want sparse; then
	if [ -n "$quick" ]; then sg=1; else sg=10; fi
	sp=$tmp/sparse
	mkdir -p "$sp"
	truncate -s "${sg}G" "$sp/disk.img"
	# 1 MiB of data in 16 pieces spread over the file
	k=0
	while [ $k -lt 16 ]; do
		head -c 65536 /dev/urandom | dd of="$sp/disk.img" bs=65536 seek=$((k * sg * 1024 / 16 * 16)) conv=notrunc 2>/dev/null
		k=$((k + 1))
	done
	say "bench: a ${sg} GiB sparse file with 1 MiB of data"
	echo
	echo "## A ${sg} GiB sparse file holding 1 MiB of data (one run each)"
	echo
	echo "| tool | store s | restore s | allocated after restore | store size |"
	echo "|---|---:|---:|---:|---:|"
	alloc() { du -k "$1" | awk '{printf "%.1f MiB", $1 / 1024}'; }
	srow() { echo "| $1 | $(sec_of "$2_store") | $(sec_of "$2_restore") | $(alloc "$3") | $(mb "$4") MB |"; }
	snap-init -q "$tmp/ssnap"
	time_once ssnap_store /dev/null snap-snapshot -q --store "$tmp/ssnap" "$sp"
	time_once ssnap_restore /dev/null snap-restore -q --store "$tmp/ssnap" main "$tmp/sr.snap"
	srow "snap" ssnap "$tmp/sr.snap/disk.img" "$tmp/ssnap"
	if have restic; then
		restic init -q -r "$tmp/srestic" >/dev/null
		time_once srestic_store /dev/null restic -q -r "$tmp/srestic" backup "$sp"
		# restore --sparse came in restic 0.15; an older one writes zeros
		if restic restore --help 2>/dev/null | grep -q -- '--sparse'; then rsp=--sparse; else rsp=; fi
		time_once srestic_restore /dev/null restic -q -r "$tmp/srestic" restore latest $rsp --target "$tmp/sr.restic"
		srow "restic ${rsp:-(no --sparse in this version)}" srestic "$tmp/sr.restic$sp/disk.img" "$tmp/srestic"
	else
		echo "| restic | $(missing restic) | | | |"
	fi
	if have borg; then
		borg init -e none "$tmp/sborg" >/dev/null 2>&1
		time_once sborg_store /dev/null borg create --sparse --compression zstd,3 "$tmp/sborg::a" "$sp"
		mkdir -p "$tmp/sr.borg"
		time_once sborg_restore /dev/null sh -c "cd '$tmp/sr.borg' && borg extract --sparse '$tmp/sborg::a'"
		srow "borg (--sparse)" sborg "$tmp/sr.borg$sp/disk.img" "$tmp/sborg"
	else
		echo "| borg | $(missing borg) | | | |"
	fi
	rm -rf "$tmp"/sr.* "$sp"
fi

# ---- 10. off-site over ssh to 127.0.0.1: first push, then after 1% changed ----
if want push; then
	[ -x /usr/sbin/sshd ] || { say "bench: push needs /usr/sbin/sshd (apt-get install openssh-server)"; exit 1; }
	. "$top/t/sshd.sh"
	sshd_start "$tmp/ssh" || exit 1
	sshd_pid=$SSHD_PID
	trap 'kill "$sshd_pid" 2>/dev/null; rm -rf "$tmp"' EXIT
	# Every tool's connection goes through wire-ssh.py, which counts bytes.
	BENCH_SSH="$SSHD_SSH -o Compression=no"
	export BENCH_SSH
	wire=$top/bench/wire-ssh.py
	pdata=$tmp/pdata
	mkdir -p "$pdata"
	if [ -n "$quick" ]; then cp -a /usr/include "$pdata/"; else cp -a /usr/share /usr/include "$pdata/" 2>/dev/null || :; fi
	pfiles=$(find "$pdata" -type f | wc -l)
	pbytes=$(du -sb "$pdata" | awk '{print $1}')
	say "bench: pushes of a tree of $pfiles files over ssh to 127.0.0.1"
	# push_step NAME CMD...: one timed run; the bytes on the wire both ways.
	push_step() {
		n=$1; shift
		: > "$tmp/wire.$n"
		time_once "$n" /dev/null env BENCH_WIRE="$tmp/wire.$n" "$@"
	}
	wire_mb() { awk '{s += $1 + $2} END {printf "%.1f", s / 1e6}' "$tmp/wire.$1"; }
	# The local copies each tool pushes from (made before timing).
	snap-init -q "$tmp/psnap"
	snap-init -q "$tmp/psnap-remote"
	have git && { git init -q --bare "$tmp/pgit-remote.git"; git init -q "$tmp/pgit"; }
	have restic && restic -r "sftp:127.0.0.1:$tmp/prestic" -o sftp.command="$wire 127.0.0.1 -s sftp" init >/dev/null 2>&1
	have borg && BORG_RSH="$wire" borg init -e none "ssh://root@127.0.0.1$tmp/pborg" >/dev/null 2>&1
	for round in first changed; do
		[ $round = first ] || find "$pdata" -type f -size +0 | awk 'NR % 100 == 0' | while IFS= read -r f; do
			printf 'changed %s\n' "$(date +%N)" >> "$f"
		done
		snap-snapshot -q --store "$tmp/psnap" "$pdata"
		before=$(du -sb "$tmp/psnap-remote" | awk '{print $1}')
		push_step "psnap_$round" env SNAP_SSH_COMMAND="$wire" snap-push -q --store "$tmp/psnap" \
			--serve-path="$top/bin/snap-serve" "127.0.0.1:$tmp/psnap-remote"
		echo $(( $(du -sb "$tmp/psnap-remote" | awk '{print $1}') - before )) > "$tmp/pnew.$round"
		push_step "prsync_$round" rsync -a --delete -e "$wire" "$pdata/" "127.0.0.1:$tmp/prsync/"
		if have restic; then
			push_step "prestic_$round" restic -q -r "sftp:127.0.0.1:$tmp/prestic" \
				-o sftp.command="$wire 127.0.0.1 -s sftp" backup "$pdata"
		fi
		if have borg; then
			push_step "pborg_$round" env BORG_RSH="$wire" borg create --compression zstd,3 \
				"ssh://root@127.0.0.1$tmp/pborg::$round" "$pdata"
		fi
		if have git; then
			git -C "$tmp/pgit" --work-tree="$pdata" add -A . >/dev/null 2>&1
			git -C "$tmp/pgit" --work-tree="$pdata" -c user.name=b -c user.email=b@b commit -q -m "$round" >/dev/null
			push_step "pgit_$round" env GIT_SSH_COMMAND="$wire" git -C "$tmp/pgit" push -q \
				"ssh://root@127.0.0.1$tmp/pgit-remote.git" HEAD:refs/heads/main
		fi
	done
	kill "$sshd_pid" 2>/dev/null || :
	trap 'rm -rf "$tmp"' EXIT
	echo
	echo "## Off-site: pushes of a tree of $pfiles files ($((pbytes / 1000000)) MB) over ssh to 127.0.0.1, then after 1% of the files changed (one run each)"
	echo
	echo "| tool | first push s | MB on the wire | vs snap | 1% push s | MB on the wire | vs snap |"
	echo "|---|---:|---:|---:|---:|---:|---:|"
	prow() {
		if [ -f "$tmp/result.$2_first" ]; then
			echo "| $1 | $(sec_of "$2_first") | $(wire_mb "$2_first") | $(ratio "$(sec_of psnap_first)" "$(sec_of "$2_first")") | $(sec_of "$2_changed") | $(wire_mb "$2_changed") | $(ratio "$(sec_of psnap_changed)" "$(sec_of "$2_changed")") |"
		else
			echo "| $1 | $(missing "$3") | | | | | |"
		fi
	}
	prow "snap push" psnap snap
	prow "rsync -a" prsync rsync
	prow "restic (sftp)" prestic restic
	prow "borg (ssh)" pborg borg
	prow "git push" pgit git
	echo
	echo "snap: the 1% push added $(awk -v b="$(cat "$tmp/pnew.changed")" 'BEGIN {printf "%.1f", b / 1e6}') MB to the remote store; its bytes on the wire are $(awk -v w="$(wire_mb psnap_changed)" -v b="$(cat "$tmp/pnew.changed")" 'BEGIN { if (b > 0) printf "%.2fx", w * 1e6 / b; else print "-" }') of that."
	mv "$pdata" "$park/"
fi

# ---- 11. two builds of snap on one tree, turn by turn ----
# Only with BENCH_BASE, and only when asked for (BENCH_ONLY=builds): it
# measures snap against another snap, not against the other tools.
if [ -n "${BENCH_BASE:-}" ] && case ",$only," in *,builds,*) true ;; *) false ;; esac; then
	base=$(cd "$BENCH_BASE" && pwd)
	[ -x "$base/bin/snap-write-tree" ] || { say "bench: BENCH_BASE '$base' has no bin/snap-write-tree (make it first)"; exit 1; }
	bdata=$tmp/bdata
	mkdir -p "$bdata"
	if [ -n "$quick" ]; then cp -a /usr/include "$bdata/"; else cp -a /usr/share /usr/include "$bdata/" 2>/dev/null || :; fi
	bfiles=$(find "$bdata" -type f | wc -l)
	bbytes=$(du -sb "$bdata" | awk '{print $1}')
	sync
	# A turn of each build: initial snapshot, unchanged, 1% changed,
	# restore, verify; $runs turns, alternating which build goes first.
	: > "$tmp/builds"
	turn=1
	while [ $turn -le $runs ]; do
		if [ $((turn % 2)) -eq 1 ]; then order="new base"; else order="base new"; fi
		for b in $order; do
			if [ $b = new ]; then bin=$top/bin; else bin=$base/bin; fi
			st=$tmp/bstore.$b
			rm -rf "$st" "$tmp/br.$b"
			cp -a "$bdata" "$tmp/bd.$b"
			PATH="$bin:$PATH" sh -c "snap-init -q '$st'"
			for step in initial unchanged changed restore verify; do
				case $step in
				initial|unchanged) cmd="snap-snapshot -q --store '$st' '$tmp/bd.$b'" ;;
				changed) find "$tmp/bd.$b" -type f -size +0 | awk 'NR % 100 == 0' |
						while IFS= read -r f; do echo changed >> "$f"; done
					cmd="snap-snapshot -q --store '$st' '$tmp/bd.$b'" ;;
				restore) cmd="snap-restore -q --store '$st' main '$tmp/br.$b'" ;;
				verify) cmd="snap-fsck --store '$st' --no-dangling" ;;
				esac
				/usr/bin/time -f '%e %M' -o "$tmp/t1" env PATH="$bin:$PATH" sh -c "$cmd" >/dev/null 2>"$tmp/err" ||
					{ say "bench: $b $step failed:"; cat "$tmp/err" >&2; exit 1; }
				echo "$b $step $(tail -1 "$tmp/t1")" >> "$tmp/builds"
			done
			mv "$tmp/bd.$b" "$park/bd.$b.$turn"
			mv "$tmp/br.$b" "$park/br.$b.$turn"
		done
		turn=$((turn + 1))
	done
	echo
	echo "## This build against BENCH_BASE, on a tree of $bfiles files, $((bbytes / 1000000)) MB (median of $runs turns; seconds · peak RSS)"
	echo
	echo "| step | this build | base | this / base |"
	echo "|---|---:|---:|---:|"
	for step in initial unchanged changed restore verify; do
		med() { awk -v b="$1" -v s="$step" '$1 == b && $2 == s {print $3}' "$tmp/builds" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
		peak() { awk -v b="$1" -v s="$step" '$1 == b && $2 == s {print $4}' "$tmp/builds" | sort -n | tail -1 | awk '{printf "%.0f", $1 / 1024}'; }
		n=$(med new) o=$(med base)
		echo "| $step | $n s · $(peak new) MiB | $o s · $(peak base) MiB | $(awk -v a="$n" -v b="$o" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }') |"
	done
fi

echo
echo "machine: $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), kernel $(uname -r)"
say "bench: removing parked trees"
