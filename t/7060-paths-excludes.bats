#!/usr/bin/env bats
# 7: several paths in one snapshot, each under its absolute path, and
# excludes: anchored, directories only, **, files of patterns, cache
# directories, marker files, sizes

load test_helper

local_setup() {
	init_store
	mkdir -p sys/etc/ssl/private sys/etc/ssh sys/home/u sys/srv
	printf 'p\n' > sys/etc/passwd
	printf 'k\n' > sys/etc/ssl/private/key
	printf 's\n' > sys/etc/ssh/sshd_config
	printf 'h\n' > sys/home/u/notes
	printf 'db\n' > sys/srv/db.sqlite
	printf 'x\n' > sys/srv/other
	export SNAP_TIME='1700000000 +0000' SNAP_HOST=h
	# The test directory as a path in a tree rooted at '/'.
	R=${PWD#/}
}

# The paths of the files in REV's tree below DIR (default sys), one a
# line, relative to DIR.
files() {
	local rev=$1 dir=${2:-sys}
	snap-ls-tree -r --name-only "$rev" | sed -n "s|^$R/$dir/||p"
}

# The paths of the files below DIR in a one-DIR snapshot REV.
dir_files() {
	snap-ls-tree -r --name-only "$1"
}

@test "several paths, a file among them, are stored under their absolute paths" {
	run -0 snap-snapshot "$PWD/sys/etc" "$PWD/sys/home" "$PWD/sys/srv/db.sqlite"
	run -0 files main
	assert_output "$(printf '%s\n' etc/passwd etc/ssh/sshd_config etc/ssl/private/key \
		home/u/notes srv/db.sqlite)"
	# Nothing else of the directories above them.
	run -0 snap-ls-tree --name-only main "$R/sys"
	assert_output "$(printf '%s\n' "$R/sys/etc" "$R/sys/home" "$R/sys/srv")"
}

@test "a relative path is made absolute, ., .. and // resolved by name" {
	mkdir other
	cd other
	run -0 snap-snapshot ../sys/./etc "..//sys/home/"
	cd ..
	run -0 files main
	assert_output "$(printf '%s\n' etc/passwd etc/ssh/sshd_config etc/ssl/private/key \
		home/u/notes)"
}

@test "the directories above a path carry the real directories' metadata" {
	chmod 0750 sys/srv
	touch -d '2021-02-03 04:05:06' sys/srv
	run -0 snap-snapshot sys/srv/db.sqlite sys/etc
	run -0 snap-ls -l "main:$R/sys"
	assert_line --regexp "^drwxr-x--- .* 2021-02-03 04:05 $R/sys/srv\$"
}

@test "one path with --absolute is stored under its absolute path" {
	run -0 snap-snapshot --absolute sys/home
	run -0 files main
	assert_output home/u/notes
}

@test "one DIR keeps its content at the root, and no metadata lines" {
	run -0 snap-snapshot sys/home
	run -0 dir_files main
	assert_output u/notes
	run -0 snap-cat-file -p main
	refute_output --partial 'meta '
}

@test "the snapshot records its source paths, user and snap version; log shows them" {
	run -0 snap-snapshot -m two --meta k=v sys/home "$PWD/sys/srv/db.sqlite"
	run -0 snap-cat-file -p main
	assert_line "meta source=/$R/sys/home"
	assert_line "meta source=/$R/sys/srv/db.sqlite"
	assert_line "meta user=$(id -un)"
	assert_line "meta snap-version=$(snap --version | sed 's/^snap version //')"
	# the caller's own line last
	assert_equal "$(snap-cat-file -p main | grep '^meta ' | tail -n 1)" "meta k=v"
	run -0 snap-log
	assert_line "Meta:   source=/$R/sys/home"
	assert_line "Meta:   source=/$R/sys/srv/db.sqlite"
}

@test "a source path with a space is recorded escaped as in trees" {
	mkdir 'two words'
	printf 'w\n' > 'two words/f'
	run -0 snap-snapshot 'two words' sys/home
	run -0 snap-cat-file -p main
	assert_line "meta source=/$R/two\\040words"
}

@test "restore of all and of one path" {
	run -0 snap-snapshot sys/etc sys/home sys/srv/db.sqlite
	run -0 snap-restore main all
	run -0 diff -r sys/etc "all/$R/sys/etc"
	run -0 diff -r sys/home "all/$R/sys/home"
	run -0 cmp sys/srv/db.sqlite "all/$R/sys/srv/db.sqlite"
	assert_not_exist "all/$R/sys/srv/other"
	run -0 snap-restore main one "$R/sys/etc/ssh"
	run -0 diff -r sys/etc/ssh "one/$R/sys/etc/ssh"
	assert_not_exist "one/$R/sys/etc/passwd"
	assert_not_exist "one/$R/sys/home"
}

@test "an unchanged re-snapshot of several paths reads no file" {
	next_second
	run -0 --separate-stderr snap-snapshot --stats sys/etc sys/home sys/srv/db.sqlite
	assert_equal "$stderr" "snap-snapshot: 5 files read, 0 reused"
	# The directories above sys (/tmp) may change between two runs.
	first=$(snap-ls-tree main "$R")
	run -0 --separate-stderr snap-snapshot --stats sys/etc sys/home sys/srv/db.sqlite
	assert_equal "$stderr" "snap-snapshot: 0 files read, 5 reused"
	assert_equal "$(snap-ls-tree main "$R")" "$first"
	# One changed file is the one read.
	printf 'p2\n' > sys/etc/passwd
	run -0 --separate-stderr snap-snapshot --stats sys/etc sys/home sys/srv/db.sqlite
	assert_equal "$stderr" "snap-snapshot: 1 files read, 4 reused"
}

@test "a path inside another is refused, a path given twice stored once" {
	refused "snap-snapshot: fatal: '/$R/sys/etc/ssl' is inside '/$R/sys/etc'; give one of them" \
		snap-snapshot sys/etc sys/etc/ssl
	refused "snap-snapshot: fatal: '/$R/sys/etc' is inside '/$R'; give one of them" \
		snap-snapshot "$PWD/sys/etc" .
	run -0 snap-snapshot sys/home sys/home/ "$PWD/sys/home"
	run -0 files main
	assert_output home/u/notes
	run -0 snap-cat-file -p main
	assert_equal "$(grep -c '^meta source=' <<<"$output")" 1
}

@test "a path that does not exist is refused before anything is written" {
	refused "snap-snapshot: fatal: cannot stat '/$R/nothere': No such file or directory" \
		snap-snapshot sys/home nothere
}

@test "several paths without --absolute are a usage error of snap-write-tree" {
	run -129 snap-write-tree sys/etc sys/home
	assert_line --index 0 "snap-write-tree: error: expected one DIR (several PATHs go with --absolute)"
}

@test "an unreadable entry in one of several paths: exit 3, the tree path listed" {
	command -v setpriv > /dev/null || skip "no setpriv to run as nobody"
	[ "$(id -u)" = 0 ] || skip "not root: cannot become nobody"
	PERM=$(mktemp -d /tmp/snap-paths.XXXXXX)
	chmod 755 "$PERM"
	mv "$SNAP_DIR" "$PERM/store"
	mv sys "$PERM/sys"
	chown -R 65534:65534 "$PERM"
	chmod 000 "$PERM/sys/etc/passwd"
	p=${PERM#/}
	run -3 --separate-stderr setpriv --reuid=nobody --regid=nogroup --clear-groups \
		env SNAP_DIR="$PERM/store" PATH="$PATH" SNAP_TIME="$SNAP_TIME" SNAP_HOST=h \
		snap-snapshot "$PERM/sys/etc" "$PERM/sys/home"
	assert_equal "$stderr" "snap-snapshot: warning: $p/sys/etc/passwd: Permission denied, left out"
	run -0 env SNAP_DIR="$PERM/store" snap-cat-file -p main
	assert_line "problem unreadable $p/sys/etc/passwd"
	rm -rf "$PERM"
}

# Excludes

@test "a leading / anchors a pattern at the absolute path" {
	run -0 snap-snapshot --exclude "/$R/sys/etc/ssl/private" sys/etc
	run -0 dir_files main
	assert_output "$(printf '%s\n' passwd ssh/sshd_config)"
	run -0 snap-snapshot --exclude "/$R/sys/etc/ssl/private" sys/etc sys/home
	run -0 files main
	assert_output "$(printf '%s\n' etc/passwd etc/ssh/sshd_config home/u/notes)"
	# Anchored: not the same path below a source path.
	run -0 snap-snapshot --exclude /ssl/private sys/etc
	run -0 dir_files main
	assert_line ssl/private/key
}

@test "a pattern with '/' inside matches the path below the source path" {
	run -0 snap-snapshot --exclude ssl/private sys/etc sys/home
	run -0 files main
	assert_output "$(printf '%s\n' etc/passwd etc/ssh/sshd_config home/u/notes)"
	# Not at any depth: ssl/private is not u/ssl/private.
	mkdir -p sys/home/u/ssl/private
	printf 'z\n' > sys/home/u/ssl/private/z
	run -0 snap-snapshot --exclude ssl/private sys/home
	run -0 dir_files main
	assert_line u/ssl/private/z
}

@test "a trailing / matches directories only" {
	run -0 snap-snapshot --exclude ssl/private/ sys/etc
	run -0 dir_files main
	refute_line ssl/private/key
	# A file of that name is kept.
	printf 'f\n' > sys/etc/cache
	mkdir sys/home/cache
	printf 'c\n' > sys/home/cache/c
	run -0 snap-snapshot --exclude cache/ sys/etc sys/home
	run -0 files main
	assert_line etc/cache
	refute_line home/cache/c
}

@test "a name pattern matches at any depth" {
	run -0 snap-snapshot --exclude 'k*' sys/etc
	run -0 dir_files main
	assert_output "$(printf '%s\n' passwd ssh/sshd_config)"
	run -0 snap-snapshot --exclude 'ke' sys/etc
	run -0 dir_files main
	assert_line ssl/private/key
}

@test "** crosses directories, * does not" {
	mkdir -p sys/etc/a/b/c
	printf 'l\n' > sys/etc/a/b/c/x.log
	printf 'l\n' > sys/etc/top.log
	run -0 snap-snapshot --exclude '/**/x.log' sys/etc
	run -0 dir_files main
	refute_line a/b/c/x.log
	assert_line top.log
	run -0 snap-snapshot --exclude 'a/**/*.log' sys/etc
	run -0 dir_files main
	refute_line a/b/c/x.log
	run -0 snap-snapshot --exclude 'a/*/x.log' sys/etc
	run -0 dir_files main
	assert_line a/b/c/x.log
	# "a/**" is what is below a, not a itself.
	run -0 snap-snapshot --exclude 'a/**' sys/etc
	run -0 snap-ls-tree -r -d --name-only main
	assert_line a
	refute_line a/b
	run -0 snap-snapshot --exclude '**/**/**/**/c/' sys/etc
	run -0 snap-ls-tree -r -d --name-only main
	assert_line a/b
	refute_line a/b/c
	# "**" may stand for no name at all.
	run -0 snap-snapshot --exclude '**/top.log' sys/etc
	run -0 dir_files main
	refute_line top.log
}

@test "--exclude-file: one pattern a line, comments and blank lines ignored" {
	printf '# secrets\n\nssl/private/\n#passwd\n' > pats
	run -0 snap-snapshot --exclude-file pats sys/etc
	run -0 dir_files main
	assert_output "$(printf '%s\n' passwd ssh/sshd_config)"
	refused "snap-snapshot: fatal: cannot read exclude file 'nopats'" \
		snap-snapshot --exclude-file nopats sys/etc
	run -128 --separate-stderr snap-write-tree --exclude-file nopats sys/etc
	assert_equal "$stderr" "snap-write-tree: fatal: cannot read 'nopats': No such file or directory"
}

@test "--exclude-caches keeps only a CACHEDIR.TAG with the signature" {
	mkdir -p sys/home/u/.cache/sub sys/home/u/bad
	printf 'Signature: 8a477f597d28d172789f06886806bc55\n# a cache\n' > sys/home/u/.cache/CACHEDIR.TAG
	printf 'c\n' > sys/home/u/.cache/sub/blob
	printf 'c\n' > sys/home/u/.cache/zz
	# One byte off: not a cache.
	printf 'Signature: 8a477f597d28d172789f06886806bc56\n' > sys/home/u/bad/CACHEDIR.TAG
	printf 'b\n' > sys/home/u/bad/keep
	run -0 snap-snapshot --exclude-caches sys/home
	run -0 dir_files main
	assert_output "$(printf '%s\n' u/.cache/CACHEDIR.TAG u/bad/CACHEDIR.TAG u/bad/keep u/notes)"
	# Without the option a cache is stored whole.
	run -0 snap-snapshot sys/home
	run -0 dir_files main
	assert_line u/.cache/sub/blob
}

@test "a CACHEDIR.TAG that is short or a symlink does not tag" {
	mkdir -p sys/home/u/c1 sys/home/u/c2
	printf 'Signature: 8a477f597d28d172789f06886806bc5' > sys/home/u/c1/CACHEDIR.TAG
	printf 'a\n' > sys/home/u/c1/a
	printf 'Signature: 8a477f597d28d172789f06886806bc55' > sig
	ln -s "$PWD/sig" sys/home/u/c2/CACHEDIR.TAG
	printf 'a\n' > sys/home/u/c2/a
	run -0 snap-snapshot --exclude-caches sys/home
	run -0 dir_files main
	assert_line u/c1/a
	assert_line u/c2/a
}

@test "--exclude-if-present leaves out a directory holding the name" {
	mkdir -p sys/home/u/scratch
	printf 'n\n' > sys/home/u/scratch/.nobackup
	printf 's\n' > sys/home/u/scratch/s
	run -0 snap-snapshot --exclude-if-present .nobackup sys/home
	run -0 snap-ls -r main
	refute_line --partial scratch
	assert_line u/notes
	run -0 snap-snapshot --exclude-if-present .other sys/home
	run -0 dir_files main
	assert_line u/scratch/s
}

@test "--exclude-larger-than with and without suffixes" {
	make_file 2048 sys/home/u/two-k
	make_file 1025 sys/home/u/just-over
	make_file 1024 sys/home/u/one-k
	run -0 snap-snapshot --exclude-larger-than 1K sys/home
	run -0 dir_files main
	assert_output "$(printf '%s\n' u/notes u/one-k)"
	run -0 snap-snapshot --exclude-larger-than 1025 sys/home
	run -0 dir_files main
	assert_output "$(printf '%s\n' u/just-over u/notes u/one-k)"
	run -0 snap-snapshot --exclude-larger-than 1m sys/home
	run -0 dir_files main
	assert_line u/two-k
	run -0 snap-snapshot --exclude-larger-than 1G sys/home
	run -0 dir_files main
	assert_output "$(printf '%s\n' u/just-over u/notes u/one-k u/two-k)"
}

@test "a bad SIZE is a usage error of one line" {
	for bad in '' 1X K 1KK -1 1.5M ' 1'; do
		before=$(store_listing)
		run -129 --separate-stderr snap-snapshot --exclude-larger-than "$bad" sys/home
		assert_equal "$stderr" "snap-snapshot: error: bad SIZE '$bad' for --exclude-larger-than (bytes, or with K, M, G or T)"
		assert_equal "$output" ''
		assert_equal "$(store_listing)" "$before"
	done
	run -129 --separate-stderr snap-snapshot --exclude-larger-than 99999999999999999999T sys/home
	assert_equal "$stderr" "snap-snapshot: error: bad SIZE '99999999999999999999T' for --exclude-larger-than (bytes, or with K, M, G or T)"
}

@test "a source path itself is never excluded" {
	run -0 snap-snapshot --exclude db.sqlite --exclude-larger-than 1 sys/srv/db.sqlite sys/home
	run -0 files main
	assert_line srv/db.sqlite
}

@test "--verbose says which patterns matched nothing, one line each" {
	run -0 --separate-stderr snap-snapshot -v --exclude ssl/private/ --exclude /etc/ssl/private \
		--exclude nomatch sys/etc
	assert_equal "$stderr" "$(printf '%s\n' \
		"snap-snapshot: warning: exclude pattern '/etc/ssl/private' matched nothing" \
		"snap-snapshot: warning: exclude pattern 'nomatch' matched nothing")"
	run -0 --separate-stderr snap-snapshot --exclude nomatch sys/etc
	assert_equal "$stderr" ''
}

@test "a directory above a path that may be searched but not read" {
	command -v setpriv > /dev/null || skip "no setpriv to run as nobody"
	[ "$(id -u)" = 0 ] || skip "not root: cannot become nobody"
	PERM=$(mktemp -d /tmp/snap-paths.XXXXXX)
	chmod 711 "$PERM"
	mkdir -p "$PERM/st" "$PERM/pub"
	printf 'y\n' > "$PERM/pub/f"
	chown -R 65534:65534 "$PERM/st" "$PERM/pub"
	p=${PERM#/}
	run -0 setpriv --reuid=nobody --regid=nogroup --clear-groups \
		env SNAP_DIR="$PERM/st/s" PATH="$PATH" SNAP_TIME="$SNAP_TIME" SNAP_HOST=h \
		sh -c 'snap-init -q "$SNAP_DIR" && snap-snapshot "$0/pub" /dev/null >/dev/null &&
			snap-ls-tree -r --name-only main' "$PERM"
	assert_output "$(printf '%s\n' dev/null "$p/pub/f")"
	rm -rf "$PERM"
}

@test "a hard link across two paths is restored as a link" {
	ln sys/etc/passwd sys/home/u/passwd-link
	run -0 snap-snapshot sys/etc sys/home
	run -0 snap-restore main out
	assert_equal "$(stat -c %i "out/$R/sys/etc/passwd")" "$(stat -c %i "out/$R/sys/home/u/passwd-link")"
	run -0 snap-restore main one "$R/sys/home"
	run -0 cat "one/$R/sys/home/u/passwd-link"
	assert_output p
}

# --dry-run

@test "--dry-run lists what would be read and skipped and stores nothing" {
	mkdir -p sys/home/u/.cache
	printf 'Signature: 8a477f597d28d172789f06886806bc55\n' > sys/home/u/.cache/CACHEDIR.TAG
	printf 'c\n' > sys/home/u/.cache/blob
	before=$(store_listing)
	run -0 --separate-stderr snap-snapshot --dry-run --exclude-caches --exclude 'ssl/' \
		sys/etc sys/home sys/srv/db.sqlite
	assert_output "$(printf '%s\n' "read $R/sys/etc/passwd" "read $R/sys/etc/ssh/sshd_config" \
		"skip $R/sys/etc/ssl" "skip $R/sys/home/u/.cache/blob" \
		"read $R/sys/home/u/.cache/CACHEDIR.TAG" "read $R/sys/home/u/notes" \
		"read $R/sys/srv/db.sqlite")"
	assert_equal "$stderr" ''
	assert_equal "$(store_listing)" "$before"
	run -1 snap-rev-parse --verify -q main
	# One DIR: paths below it.
	run -0 snap-snapshot -n --exclude 'p*' sys/etc
	assert_output "$(printf '%s\n' "skip passwd" "read ssh/sshd_config" "skip ssl/private")"
	assert_equal "$(store_listing)" "$before"
}

@test "--dry-run after a snapshot lists only the files that changed" {
	next_second
	run -0 snap-snapshot sys/etc sys/home
	before=$(store_listing)
	run -0 snap-snapshot --dry-run sys/etc sys/home
	assert_output ''
	printf 'new\n' > sys/home/u/notes
	run -0 --separate-stderr snap-snapshot --dry-run --stats sys/etc sys/home
	assert_output "read $R/sys/home/u/notes"
	assert_equal "$stderr" "snap-snapshot: 1 files read, 3 reused"
	assert_equal "$(store_listing)" "$before"
}

@test "--dry-run goes with DIR or PATHs only" {
	run -129 snap-snapshot --dry-run --stdin x
	assert_line --index 0 -- "snap-snapshot: error: --dry-run goes with DIR or PATHs"
}

@test "an excluded unreadable directory is no problem" {
	command -v setpriv > /dev/null || skip "no setpriv to run as nobody"
	[ "$(id -u)" = 0 ] || skip "not root: cannot become nobody"
	PERM=$(mktemp -d /tmp/snap-paths.XXXXXX)
	chmod 755 "$PERM"
	mv "$SNAP_DIR" "$PERM/store"
	mv sys "$PERM/sys"
	chown -R 65534:65534 "$PERM"
	chmod 000 "$PERM/sys/etc/ssl/private"
	run -0 --separate-stderr setpriv --reuid=nobody --regid=nogroup --clear-groups \
		env SNAP_DIR="$PERM/store" PATH="$PATH" SNAP_TIME="$SNAP_TIME" SNAP_HOST=h \
		snap-snapshot --exclude "$PERM/sys/etc/ssl/private/" "$PERM/sys/etc" "$PERM/sys/home"
	assert_equal "$stderr" ''
	rm -rf "$PERM"
}

@test "--exclude-if-present takes one name" {
	for bad in '' a/b; do
		before=$(store_listing)
		run -129 --separate-stderr snap-snapshot --exclude-if-present "$bad" sys/home
		assert_equal "$stderr" "snap-snapshot: error: --exclude-if-present takes a name, not '$bad'"
		assert_equal "$(store_listing)" "$before"
	done
}

@test "a symlink given as a path is stored as the symlink" {
	ln -s sys/etc etc-link
	run -0 snap-snapshot etc-link sys/home
	run -0 snap-ls-tree main "$R"
	assert_line --regexp "^symlink 0777 [0-9a-f]{64}	$R/etc-link\$"
	run -0 snap-restore main out "$R/etc-link"
	assert_equal "$(readlink "out/$R/etc-link")" sys/etc
}

@test "an empty exclude pattern is a usage error" {
	mkdir -p src && echo a > src/a
	run -129 --separate-stderr snap-snapshot --exclude '' src
	assert_equal "$stderr" "snap-snapshot: error: --exclude takes a pattern, not ''"
	run -129 --separate-stderr snap-write-tree --exclude '' src
	assert_equal "${stderr%%$'\n'*}" "snap-write-tree: error: --exclude takes a pattern, not ''"
}
