#!/bin/sh
# snap-snapshot: stores a directory (or standard input, a command's output,
# a live SQLite database) as a new snapshot on a ref, and prints its id.
#
# write-tree, then mksnapshot with the ref's current value as parent, then
# update-ref with compare-and-swap.  If another snapshot moved the ref in
# between, the new snapshot is rebuilt on top of it and the swap retried,
# so two racing snapshots both land, one after the other, and none is lost.
set -eu
# Run by its path (as cron does, PATH=/usr/bin:/bin), or through a link to
# it, it runs the plumbing installed beside it.
case $0 in /*) bindir=${0%/*} ;; */*) bindir=$PWD/${0%/*} ;; *) bindir=$PWD ;; esac
[ -x "$bindir/snap-rev-parse" ] || bindir=$(dirname -- "$(readlink -f -- "$0")")
case :$PATH: in *:"$bindir":*) ;; *) PATH=$bindir:$PATH; export PATH ;; esac

usage() {
	cat <<'USAGE'
usage: snap-snapshot [-r REF] [-m MSG] [--meta KEY=VALUE]... [EXCLUDES] [-x] [-j N] [-v] [-n]
                     [--force-read] [--stats] [--strict] [--no-xattrs] [--no-acls] [--no-flags]
                     (DIR | --absolute PATH | PATH PATH...)
   or: snap-snapshot [-r REF] [-m MSG] [--meta KEY=VALUE]... --stdin NAME [--allow-empty]
   or: snap-snapshot [-r REF] [-m MSG] [--meta KEY=VALUE]... --from-command NAME -- CMD [ARGS...]
   or: snap-snapshot [-r REF] [-m MSG] [--meta KEY=VALUE]... --sqlite DB

  -r, --ref REF        the ref to extend (default main: refs/snapshots/main)
  -m, --message MSG    the snapshot's message
  --meta KEY=VALUE     a metadata line (repeatable, kept in order)
  --absolute           store PATH under its absolute path (as several
                       PATHs are), not its content at the root as DIR
  --exclude PATTERN    leave out what matches PATTERN (repeatable; rules in
                       snap-write-tree(1): name, path below a source path,
                       /absolute path, trailing / for directories, **)
  --exclude-file FILE  one PATTERN a line; blank and '#' lines ignored
  --exclude-caches     store a directory tagged with CACHEDIR.TAG with
                       only that file
  --exclude-if-present NAME  leave out a directory holding NAME
  --exclude-larger-than SIZE leave out files of more than SIZE bytes
                       (K, M, G, T: powers of 1024)
  --exclude-nodump     leave out entries with the nodump flag (chattr +d)
  -v, --verbose        warn of each exclude pattern that matched nothing
  -n, --dry-run        store nothing: print "read PATH" for each file the
                       snapshot would read, "skip PATH" for each entry an
                       exclude leaves out
  -x                   stay on one filesystem
  -j, --jobs N         compression threads (default: one per processor)
  --force-read         read every file, ignoring the ref's stat cache
                       (which is rebuilt)
  --stats              print how many files were read and reused
  -q, --quiet          do not print the new snapshot's id, nor progress
  --progress           a progress line on stderr (default: when it is a tty)
  --json               print {"snapshot", "ref", "tree", "status"} instead
                       of the id (status: 0, or 3 when incomplete)
  --strict             no snapshot unless every entry was read whole
                       (else what cannot be read is left out, with a
                       warning each, listed in the snapshot, exit 3)
  --no-xattrs          store no extended attributes (ACLs still are)
  --no-acls            store no POSIX ACLs
  --no-flags           store no inode flags (chattr's S D i a d A)
  --stdin NAME         store standard input as the one file NAME; empty
                       input is refused (a producer that failed silently)
  --allow-empty        with --stdin: store empty input as an empty file
  --from-command NAME -- CMD...
                       store CMD's standard output as the file NAME; no
                       snapshot when CMD fails
  --sqlite DB          store a consistent copy of the SQLite database DB,
                       taken with SQLite's online backup
  --store DIR          the store (default $SNAP_DIR, else .snap above)

Exit status: 0 snapshot taken; 3 snapshot taken, but incomplete (entries
or attributes left out, or changed while read, listed in it); 128 fatal error, no
snapshot; 129 usage error.
USAGE
}

# Run by other porcelain (snap-backup), messages name the command the
# user ran.
case ${SNAP_PROGRAM:-} in
snap-[a-z]*) me=$SNAP_PROGRAM ;;
*) me=snap-snapshot ;;
esac
die() { printf '%s: fatal: %s\n' "$me" "$*" >&2; exit 128; }
usage_error() { printf '%s: error: %s\n' "$me" "$*" >&2; usage >&2; exit 129; }
# A bad option value: one line, the usage error status.
bad_arg() { printf '%s: error: %s\n' "$me" "$*" >&2; exit 129; }
# check_meta KEY=VALUE: snap-mksnapshot's rule, checked before any work
# so that a bad one stores nothing (control characters shown as '?').
ctl=$(printf '\001-\037\177')
check_meta() {
	key=${1%%=*}
	case $1 in
	*=*) ;;
	*) key= ;;
	esac
	case $key in
	''|*[!A-Za-z0-9._-]*)
		die "bad metadata '$(printf '%s' "$1" | tr "$ctl" '?')': want KEY=VALUE, KEY of letters, digits, '.', '_', '-'" ;;
	esac
	# The owner names are snap's own (snap-restore maps owners by them).
	case $key in
	uname.*|gname.*) die "bad metadata '$key': uname.* and gname.* keys are recorded by snap-snapshot itself" ;;
	esac
	[ ${#key} -le 128 ] ||
		die "bad metadata '$key': want KEY=VALUE, KEY of 1 to 128 letters, digits, '.', '_', '-'"
	case ${1#*=} in
	*[$ctl]*) die "bad metadata '$key': control characters in the value" ;;
	esac
}
# Quotes a word for eval.
q() {
	q_rest=$1 q_out=
	while :; do
		case $q_rest in
		*\'*) q_out="$q_out${q_rest%%\'*}'\\''"; q_rest=${q_rest#*\'} ;;
		*) break ;;
		esac
	done
	printf "'%s'" "$q_out$q_rest"
}

ref=main
msg=
mode=dir
name=
metas=
wt_args=
strict=
allow_empty=
quiet=
json=
absolute=
dry_run=
while [ $# -gt 0 ]; do
	case $1 in
	-r|--ref) [ $# -ge 2 ] || usage_error "$1 needs a value"; ref=$2; shift 2 ;;
	-m|--message) [ $# -ge 2 ] || usage_error "$1 needs a value"; msg=$2; shift 2 ;;
	--meta) [ $# -ge 2 ] || usage_error "--meta needs KEY=VALUE"
		check_meta "$2"
		metas="$metas --meta $(q "$2")"; shift 2 ;;
	--exclude) [ $# -ge 2 ] || usage_error "--exclude needs a pattern"
		[ -n "$2" ] || bad_arg "--exclude takes a pattern, not ''"
		wt_args="$wt_args --exclude $(q "$2")"; shift 2 ;;
	--exclude-file) [ $# -ge 2 ] || usage_error "--exclude-file needs FILE"
		[ -r "$2" ] && [ -f "$2" ] || die "cannot read exclude file '$2'"
		wt_args="$wt_args --exclude-file $(q "$2")"; shift 2 ;;
	--exclude-caches|--exclude-nodump) wt_args="$wt_args $1"; shift ;;
	--exclude-if-present) [ $# -ge 2 ] || usage_error "--exclude-if-present needs NAME"
		case $2 in ''|*/*) bad_arg "--exclude-if-present takes a name, not '$2'" ;; esac
		wt_args="$wt_args --exclude-if-present $(q "$2")"; shift 2 ;;
	--exclude-larger-than) [ $# -ge 2 ] || usage_error "--exclude-larger-than needs SIZE"
		case $2 in
		*[!0-9KMGTkmgt]*|*[KMGTkmgt]?*|[!0-9]*|'')
			bad_arg "bad SIZE '$2' for --exclude-larger-than (bytes, or with K, M, G or T)" ;;
		esac
		wt_args="$wt_args --exclude-larger-than $(q "$2")"; shift 2 ;;
	--absolute) absolute=--absolute; shift ;;
	-q|--quiet) quiet=1; SNAP_PROGRESS=0; export SNAP_PROGRESS; shift ;;
	--progress) [ "${SNAP_PROGRESS:-}" = 0 ] || { SNAP_PROGRESS=1; export SNAP_PROGRESS; }; shift ;;
	--json) json=1; shift ;;
	-n|--dry-run) dry_run=1; shift ;;
	-v|--verbose) wt_args="$wt_args --verbose"; shift ;;
	-x|--one-file-system) wt_args="$wt_args -x"; shift ;;
	# -jN and --jobs=N are -j N
	-j?*) n=${1#-j}; shift; set -- -j "$n" "$@" ;;
	--jobs=*) n=${1#--jobs=}; shift; set -- -j "$n" "$@" ;;
	-j|--jobs) [ $# -ge 2 ] || usage_error "$1 needs N"; wt_args="$wt_args -j $(q "$2")"; shift 2 ;;
	--force-read) wt_args="$wt_args --force-read"; shift ;;
	--stats|--no-xattrs|--no-acls|--no-flags) wt_args="$wt_args $1"; shift ;;
	--strict) strict=--strict; shift ;;
	--allow-empty) allow_empty=1; shift ;;
	--stdin) [ $# -ge 2 ] || usage_error "--stdin needs NAME"; mode=stdin; name=$2; shift 2 ;;
	--from-command) [ $# -ge 2 ] || usage_error "--from-command needs NAME"
		mode=command; name=$2; shift 2
		[ "${1:-}" = "--" ] || usage_error "--from-command NAME must be followed by -- CMD"
		shift
		[ $# -gt 0 ] || usage_error "no command after --"
		break ;;
	--sqlite) [ $# -ge 2 ] || usage_error "--sqlite needs DB"; mode=sqlite; name=$2; shift 2 ;;
	--store) [ $# -ge 2 ] || usage_error "--store needs DIR"; SNAP_DIR=$2; export SNAP_DIR; shift 2 ;;
	--store=*) SNAP_DIR=${1#--store=}; export SNAP_DIR; shift ;;
	-h|--help) usage; exit 0 ;;
	--) shift; break ;;
	-*) usage_error "unknown option '$1'" ;;
	*) break ;;
	esac
done

[ -z "$allow_empty" ] || [ "$mode" = stdin ] || usage_error "--allow-empty goes with --stdin"
[ -z "$quiet" ] || [ -z "$json" ] || usage_error "-q and --json do not go together"
[ -z "$absolute" ] || [ "$mode" = dir ] || usage_error "--absolute goes with PATHs"
[ -z "$dry_run" ] || [ "$mode" = dir ] || usage_error "--dry-run goes with DIR or PATHs"
case $mode in
dir) [ $# -ge 1 ] || usage_error "expected DIR or PATHs"
	[ $# -eq 1 ] || absolute=--absolute ;;
command) ;;
*) [ $# -eq 0 ] || usage_error "unexpected argument '$1'" ;;
esac

# The plumbing run from here names snap-snapshot in its messages.
SNAP_PROGRAM=$me
export SNAP_PROGRAM

# Fails early, before any work, on a bad ref name or a missing store.
full=$(snap-rev-parse --full-ref-name -- "$ref") || exit $?
# And on a name the ref's files cannot take, as snap-update-ref would
# refuse it at the end: "a" where refs lie below "a/", "a/b" beside a
# ref "a".
sdir=$(snap-rev-parse --store-dir) || exit 128
if [ -d "$sdir/$full" ] && [ -n "$(find "$sdir/$full" ! -type d 2>/dev/null | head -n 1)" ]; then
	die "ref '$full' cannot be written: '$full/' holds other refs"
fi
p=$full
while [ "${p%/*}" != "$p" ]; do
	p=${p%/*}
	[ ! -e "$sdir/$p" ] || [ -d "$sdir/$p" ] || die "ref '$full' cannot be written: '$p' is a ref"
done

# A dry run reads the ref's stat cache and writes nothing: no session,
# no object, no cache, no snapshot.
if [ -n "$dry_run" ]; then
	[ -z "$strict" ] || wt_args="$wt_args --strict"
	eval "exec snap-write-tree --dry-run $wt_args --cache $(q "$full") $absolute -- \"\$@\""
fi

# One write session for the whole run, so that a concurrent gc keeps what
# this snapshot writes and reuses, and the snapshot it builds on.
tmp=
session=
cleanup() {
	[ -z "$tmp" ] || rm -rf "$tmp"
	[ -z "$session" ] || snap-session end "$session" 2>/dev/null || :
}
trap cleanup EXIT
trap 'exit 130' INT TERM
if tip=$(snap-rev-parse --verify -q "$full" 2>/dev/null); then
	session=$(snap-session begin --pid $$ --base "$tip") || exit 128
else
	tip=
	session=$(snap-session begin --pid $$) || exit 128
fi
SNAP_SESSION=$session
export SNAP_SESSION
# The calls above warned of any damaged pack; the ones below need not.
SNAP_DAMAGE_SEEN=1
export SNAP_DAMAGE_SEEN

if [ "$mode" != dir ]; then
	case $mode:$name in
	sqlite:*) base=$(basename "$name") ;;
	*) base=$name ;;
	esac
	case $base in
	''|.|..) die "bad file name '$base' (not empty, '.' or '..')" ;;
	*/*) die "bad file name '$base' (one name, no '/')" ;;
	esac
	# What a restore could not create: a name of more than 255 bytes.
	[ "$(printf '%s' "$base" | wc -c)" -le 255 ] ||
		die "file name '$base' is longer than 255 bytes"
fi
# A stream (--stdin, --from-command) is stored as it comes, by
# snap-hash-object -w --stdin: no copy of it is made, in $TMPDIR or in the
# store, and it costs the store's own packs only.  A database is copied
# by SQLite's backup into the store's objects/tmp, on the store's disk and
# not in a /tmp that may be memory, and removed when the snapshot ends.
if [ "$mode" = dir ]; then
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/snap-snapshot.XXXXXX")
else
	tmp=$(mktemp -d "$sdir/objects/tmp/snap-snapshot.XXXXXX")
fi || die "cannot make a temporary directory"
blob=
case $mode in
stdin)
	# Empty input is more often a producer that died than data: the
	# first byte decides before anything is stored.
	if ! out=$(dd bs=1 count=1 of="$tmp/first" 2>&1); then
		die "cannot read standard input: $(printf '%s\n' "$out" | sed -n '1s/.*: //p')"
	fi
	[ -s "$tmp/first" ] || [ -n "$allow_empty" ] ||
		die "standard input is empty; no snapshot taken (--allow-empty stores it)"
	blob=$(cat "$tmp/first" - | snap-hash-object -w --stdin) || exit 128 ;;
command)
	case $1 in
	*/*) [ -e "$1" ] || die "command '$1' not found; no snapshot taken"
	     [ -f "$1" ] && [ -x "$1" ] || die "command '$1' is not an executable file; no snapshot taken" ;;
	*) command -v -- "$1" >/dev/null 2>&1 || die "command '$1' not found; no snapshot taken" ;;
	esac
	# The user's command is not snap: its messages are its own, on our
	# standard error (descriptor 5 here).  The shell that waits for it
	# writes to /dev/null, so a command killed by a signal is told of in
	# our one line below, not also in the shell's "Killed".
	blob=$( ( exec 5>&2 2>/dev/null; st=0
		(exec env -u SNAP_PROGRAM -u SNAP_DAMAGE_SEEN -u SNAP_SESSION "$@" 2>&5 5>&-) || st=$?
		echo $st > "$tmp/status" ) | snap-hash-object -w --stdin) || exit 128
	status=
	[ ! -f "$tmp/status" ] || read -r status < "$tmp/status" || :
	case $status in
	0) ;;
	''|*[!0-9]*) die "command '$1' did not finish; no snapshot taken" ;;
	*) [ "$status" -le 128 ] ||
		die "command '$1' was killed by signal $((status - 128)); no snapshot taken"
	   die "command '$1' exited with status $status; no snapshot taken" ;;
	esac ;;
sqlite)
	mkdir "$tmp/d"
	[ -f "$name" ] || die "no database '$name'"
	# SQLite's online backup: a consistent state even while other
	# connections write.
	snap-sqlite-backup -- "$name" "$tmp/d/$base" || exit 128
	set -- "$tmp/d" ;;
esac

# A directory is stored with the ref's stat cache (cache/<ref> in the
# store), so that files unchanged since the last snapshot are not read.
# Input copied to a temporary directory has nothing to gain from one.
[ "$mode" != dir ] || wt_args="$wt_args --cache $(q "$full")"
# What cannot be read is left out and listed in the snapshot (exit 3),
# unless --strict makes it fatal.
if [ -n "$strict" ]; then
	wt_args="$wt_args --strict"
	problems=
else
	wt_args="$wt_args --problems $(q "$tmp/problems")"
	problems="--problems $(q "$tmp/problems")"
fi
rc=0
if [ -n "$absolute" ]; then
	wt_args="$wt_args --absolute --sources $(q "$tmp/sources") --owner-names $(q "$tmp/names")"
fi
if [ -n "$blob" ]; then
	# The stream's one file: as write-tree would store a file of it
	# made now, with this umask, by this user.
	size=$(snap-cat-file -s "$blob") || exit 128
	perm=$(printf '%04o' $((0666 & ~0$(umask))))
	printf 'file %s %s %s %s %s %s - %s\0' "$perm" "$(id -u)" "$(id -g)" \
		"$(date +%s.%N)" "$size" "$blob" "$base" > "$tmp/entry"
	tree=$(snap-mktree -z < "$tmp/entry") || exit 128
	problems=
else
	tree=$(eval "snap-write-tree $wt_args -- \"\$@\"") || rc=$?
	[ $rc -eq 0 ] || [ $rc -eq 3 ] || exit $rc
fi
# What the snapshot is of, and by whom and what (docs/snap-snapshot.md,
# "METADATA"), before the caller's own --meta lines.
# Only for PATHs: a snapshot of one DIR stays the bytes it always was.
if [ -n "$absolute" ]; then
	own=
	while IFS= read -r line; do
		own="$own --meta $(q "source=$line")"
	done < "$tmp/sources"
	user=$(id -un 2>/dev/null || id -u)
	own="$own --meta $(q "user=$user")"
	if version=$(snap --version 2>/dev/null); then
		own="$own --meta $(q "snap-version=${version#snap version }")"
	fi
	# The names of the tree's owners and groups, for a restore by name.
	while IFS= read -r line; do
		own="$own --meta $(q "$line")"
	done < "$tmp/names"
	metas="$own $metas"
fi
# The kernel's name for the host, as hostname(1) prints it, without
# running it where /proc gives it.
if [ -z "${SNAP_HOST:-}" ] && ! { read -r SNAP_HOST < /proc/sys/kernel/hostname; } 2>/dev/null; then
	SNAP_HOST=$(hostname 2>/dev/null || uname -n)
fi
host=$SNAP_HOST
[ -n "${SNAP_TIME:-}" ] || SNAP_TIME=$(date "+%s %z")
export SNAP_TIME

# The first try builds on the ref as it was when the session began (a
# snapshot landed since makes the swap fail and the retry read it anew).
tries=0
old=$tip
while :; do
	if [ $tries -gt 0 ]; then
		old=$(snap-rev-parse --verify -q "$full" 2>/dev/null) || old=
	fi
	if [ -n "$old" ]; then
		parent="-p $old"
	else
		old=0000000000000000000000000000000000000000000000000000000000000000
		parent=
	fi
	snap=$(eval "snap-mksnapshot $tree $parent -m $(q "$msg") --host $(q "$host") $problems $metas") || exit $?
	urc=0
	err=$(snap-update-ref -m "snapshot: $msg" "$full" "$snap" "$old" 2>&1) || urc=$?
	[ $urc -ne 0 ] || break
	tries=$((tries + 1))
	# Exit 1 is "no": the swap was lost (another snapshot landed first)
	# or the ref is locked; rebuild on top of what is there and retry.
	if [ $urc -eq 1 ] && [ $tries -lt 10 ]; then
		sleep 0.$((tries))
		continue
	fi
	printf '%s\n' "$err" >&2
	exit 128
done
# The snapshot is taken: a standard output that cannot be written (closed,
# a full disk) is said so, with its id on standard error.
out_failed() { die "snapshot $snap taken (ref $full moved), but standard output cannot be written"; }
if [ -n "$json" ]; then
	printf '{"snapshot":"%s","ref":"%s","tree":"%s","status":%d}\n' "$snap" "$full" "$tree" "$rc" 2>/dev/null ||
		out_failed
elif [ -z "$quiet" ]; then
	printf '%s\n' "$snap" 2>/dev/null || out_failed
fi
exit $rc
