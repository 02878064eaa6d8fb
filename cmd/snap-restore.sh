#!/bin/sh
# snap-restore: restores a snapshot (or a tree) into DIR, all or nothing.
#
# The result is built in a temporary directory beside DIR and renamed into
# place only when complete and verified, so a failed restore leaves DIR as
# it was.  Every object read is verified (snap-checkout).
set -eu
# Run by its path (as cron does, PATH=/usr/bin:/bin), or through a link to
# it, it runs the plumbing installed beside it.
case $0 in /*) bindir=${0%/*} ;; */*) bindir=$PWD/${0%/*} ;; *) bindir=$PWD ;; esac
[ -x "$bindir/snap-rev-parse" ] || bindir=$(dirname -- "$(readlink -f -- "$0")")
case :$PATH: in *:"$bindir":*) ;; *) PATH=$bindir:$PATH; export PATH ;; esac

usage() {
	cat <<'USAGE'
usage: snap-restore [--force | --overwrite] [--keep-setuid] [--devices] [--no-same-owner]
                    [--numeric-owner] [--no-xattrs] [--no-acls] [--no-flags]
                    [--include PATTERN]... [--exclude PATTERN]...
                    [-j N] [--progress] [-q] [--from REMOTE] REV DIR [--] [PATH...]

  REV              a snapshot or tree: id, prefix, ref name, NAME~N, NAME@{TIME}...
  DIR              the target; absent or empty unless --force
  PATH...          restore only these paths of the snapshot
  --force          replace a non-empty DIR (its old content is removed);
                   with PATHs, replace only those paths in DIR
  --overwrite      put the snapshot's files back into an existing DIR, each
                   replacing its own by one rename; nothing else in DIR
                   changes (a directory against a file is refused: exit 3)
  --keep-setuid    keep setuid/setgid bits
  --devices        create device nodes
  --no-same-owner  do not set owners (as root they are set by default)
  --numeric-owner  set the stored uid and gid, not those of the names
                   the snapshot records
  --no-xattrs      set no extended attributes (ACLs still are)
  --no-acls        set no POSIX ACLs
  --no-flags       set no inode flags (chattr's S D i a d A)
  -j, --jobs N     file-writing threads (default: one per processor)
  --include PATTERN  restore only what matches (snap-write-tree's patterns)
                   and the directories above it
  --exclude PATTERN  leave out what matches (after --include)
  --progress       a progress line on stderr (default: when it is a tty)
  -q, --quiet      no warnings of entries skipped, no progress
  --from REMOTE    restore from REMOTE (a URL or a remote's name, as for
                   snap-fetch): REV's ref and its history are fetched into
                   a temporary store beside DIR, removed at the end
  --store DIR      the store (default $SNAP_DIR, else .snap above)
USAGE
}

me=snap-restore
die() { printf '%s: fatal: %s\n' "$me" "$*" >&2; exit 128; }
usage_error() { printf '%s: error: %s\n' "$me" "$*" >&2; usage >&2; exit 129; }

force= overwrite= from= quiet= numeric=
co_args= excludes=
# q STRING: STRING quoted for the shell (for eval).
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
while [ $# -gt 0 ]; do
	case $1 in
	--force|-f) force=1; shift ;;
	--overwrite) overwrite=1; shift ;;
	--numeric-owner) numeric=1; shift ;;
	--keep-setuid|--devices|--no-same-owner|--no-xattrs|--no-acls|--no-flags)
		co_args="$co_args $1"; shift ;;
	-q|--quiet) co_args="$co_args $1"; quiet=-q; SNAP_PROGRESS=0; export SNAP_PROGRESS; shift ;;
	--exclude) [ $# -ge 2 ] || usage_error "--exclude needs a pattern"
		excludes="$excludes --exclude $(q "$2")"; shift 2 ;;
	--include) [ $# -ge 2 ] || usage_error "--include needs a pattern"
		excludes="$excludes --include $(q "$2")"; shift 2 ;;
	--progress) [ "${SNAP_PROGRESS:-}" = 0 ] || { SNAP_PROGRESS=1; export SNAP_PROGRESS; }; shift ;;
	# -jN and --jobs=N are -j N
	-j?*) n=${1#-j}; shift; set -- -j "$n" "$@" ;;
	--jobs=*) n=${1#--jobs=}; shift; set -- -j "$n" "$@" ;;
	-j|--jobs) [ $# -ge 2 ] || usage_error "$1 needs N"
		case $2 in ''|*[!0-9]*|0*|???*) usage_error "-j takes 1 to 64, not '$2'" ;; esac
		[ "$2" -le 64 ] || usage_error "-j takes 1 to 64, not '$2'"
		co_args="$co_args -j $2"; shift 2 ;;
	--from) [ $# -ge 2 ] || usage_error "--from needs REMOTE"; from=$2; shift 2 ;;
	--store) [ $# -ge 2 ] || usage_error "--store needs DIR"; SNAP_DIR=$2; export SNAP_DIR; shift 2 ;;
	--store=*) SNAP_DIR=${1#--store=}; export SNAP_DIR; shift ;;
	-h|--help) usage; exit 0 ;;
	--) shift; break ;;
	-*) usage_error "unknown option '$1'" ;;
	*) break ;;
	esac
done
[ -z "$force" ] || [ -z "$overwrite" ] || usage_error "--force and --overwrite cannot be combined"
# The plumbing run from here names snap-restore in its messages.
SNAP_PROGRAM=$me; export SNAP_PROGRAM
[ $# -ge 2 ] || usage_error "expected REV and DIR"
rev=$1
[ -n "$2" ] || usage_error "empty DIR"
dir=${2%/}
[ -n "$dir" ] || dir=/
# A DIR that looks like an option is a path all the same.
case $dir in -*) dir=./$dir ;; esac
# A DIR named by ".." is the directory it names: it cannot be renamed
# by that name.  ("." is its own parent: restored into in place.)
case /$dir in
*/..) dir=$(cd -P -- "$dir" 2>/dev/null && pwd -P) ||
		die "cannot find directory '$2'" ;;
esac
shift 2
# As with git: "--" after REV DIR ends them; what follows is PATHs.
[ "${1-}" != -- ] || shift

parent=$(dirname -- "$dir")
tmp= fstore= names=
# An immutable or append-only file (chattr +i, +a: restored ones, or the
# old content --force moved aside) cannot be removed until its flag is
# cleared, which takes root: then one warning names what is left.
remove_tmp() {
	[ -n "$tmp" ] && [ -e "$tmp" ] || return 0
	rm -rf -- "$tmp" 2>/dev/null && return 0
	chattr -R -ia -- "$tmp" 2>/dev/null || :
	rm -rf -- "$tmp" 2>/dev/null ||
		printf '%s: warning: cannot remove '\''%s'\'': it holds immutable or append-only files (chattr -R -ia it, then remove it)\n' "$me" "$tmp" >&2
}
cleanup() { remove_tmp; [ -z "$fstore" ] || rm -rf "$fstore"; [ -z "$names" ] || rm -f "$names"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# A temporary directory's or store's name holds our pid: one left by a
# restore that was killed (its pid gone) is removed by the next restore
# there.
sweep() {
	for old in "$1"/.snap-restore.*.?????? "$1"/.snap-restore-store.*.??????; do
		[ -d "$old" ] && [ ! -L "$old" ] && [ -O "$old" ] || continue
		pid=${old##*/}; pid=${pid#.snap-restore-store.}; pid=${pid#.snap-restore.}; pid=${pid%.*}
		case $pid in ''|*[!0-9]*) continue ;; esac
		kill -0 "$pid" 2>/dev/null || rm -rf -- "$old" 2>/dev/null || :
	done
}
# A restore never modifies a store: not a DIR that holds it (--force
# would remove it), nor one inside it.  Compared by device and inode
# along the physical path up to /.
devino() { stat -L -c '%d:%i' -- "$1"; }
# above PATH ID: whether PATH or a directory above it has dev:inode ID.
above() {
	p=$(cd -P -- "$1" && pwd -P) || return 1
	while :; do
		[ "$(devino "$p")" != "$2" ] || return 0
		[ "$p" != / ] || return 1
		p=$(dirname -- "$p")
	done
}
# others_rename DIR: whether someone else may rename DIR's entries: DIR
# is another user's, or writable by its group or by others without the
# sticky bit.  Such a one could swap a temporary directory made there
# for a symlink between our two steps.
others_rename() {
	or_mode=0$(stat -c %a -- "$1/.") || return 0
	[ "$(stat -c %u -- "$1/.")" = "$(id -u)" ] || return 0
	[ $((or_mode & 01000)) -eq 0 ] && [ $((or_mode & 022)) -ne 0 ]
}

# guard STORE: refuses a DIR that holds STORE or lies inside it.
guard() {
	if [ -d "$dir" ] && [ ! -L "$dir" ] && above "$1" "$(devino "$dir")"; then
		die "'$dir' holds the store; a restore never replaces it"
	fi
	if [ -d "$parent" ] && above "$parent" "$(devino "$1")"; then
		die "'$dir' is inside the store"
	fi
}

# From a remote: REV's ref and its history come into a temporary store
# beside DIR (on DIR's disk, not in a /tmp that may be memory), which
# goes when the restore ends, however it ends.
if [ -n "$from" ]; then
	ref=${rev%%[~^@:]*}
	[ -n "$ref" ] || usage_error "--from needs REV to begin with a ref name, not '$rev'"
	# Neither the store at hand nor a remote that is a store here is
	# written into or replaced, whatever DIR is.
	here=
	if here=$(snap-rev-parse --store-dir 2>/dev/null); then
		guard "$here"
	fi
	url=$from
	if [ -n "$here" ] && [ -f "$here/remotes/$from" ]; then
		url=$(sed -n 's/^url *= *//p' "$here/remotes/$from" | head -n 1)
	fi
	[ ! -d "$url" ] || guard "$url"
	if [ ! -d "$parent" ]; then
		mkdir -p -- "$parent" 2>/dev/null || die "cannot create directory '$parent'"
	fi
	# A parent we may not write (DIR a mount point or a directory made
	# for us under /srv, say), or where others may rename what we make,
	# sends the store to $TMPDIR instead.
	sdir=$parent
	if [ ! -w "$parent" ] || others_rename "$parent"; then
		sdir=${TMPDIR:-/tmp}
	fi
	sweep "$sdir"
	fstore=$(mktemp -d "$sdir/.snap-restore-store.$$.XXXXXX" 2>/dev/null) ||
		die "cannot create a temporary store in '$sdir': $( [ -w "$sdir" ] && echo "mktemp failed" || echo "Permission denied")"
	snap-init -q "$fstore/s" || exit 128
	# A remote named in this store is known to the temporary one too.
	if [ -n "$here" ] && [ -f "$here/remotes/$from" ]; then
		case $from in
		.*|*/*) ;;
		*) mkdir -m 700 "$fstore/s/remotes" && cp -- "$here/remotes/$from" "$fstore/s/remotes/" ||
			die "cannot copy remote '$from' into '$fstore/s'" ;;
		esac
	fi
	SNAP_DIR=$fstore/s; export SNAP_DIR
	snap-fetch $quiet -- "$from" "$ref" > /dev/null || exit 128
fi

id=$(snap-rev-parse --verify "$rev") || exit 128
# That call warned of any damaged pack; the ones after it need not.
SNAP_DAMAGE_SEEN=1; export SNAP_DAMAGE_SEEN
store=$(snap-rev-parse --store-dir) || exit 128

guard "$store"

# Owners by name (docs/snap-restore.md, "OWNERS"): the snapshot's
# uname.ID= and gname.ID= meta lines go to snap-checkout, which gives
# each file the local number of its owner's name where that name exists.
if [ -z "$numeric" ] && [ "$(snap-cat-file -t "$id")" = snapshot ]; then
	names=$(mktemp "${TMPDIR:-/tmp}/snap-restore-names.XXXXXX") ||
		die "cannot create a temporary file"
	snap-cat-file snapshot "$id" | sed -n '/^$/q; s/^meta \([ug]name\.\)/\1/p' > "$names" ||
		exit 128
	co_args="$co_args --owner-names $(q "$names")"
fi

if [ -e "$dir" ] || [ -L "$dir" ]; then
	[ -d "$dir" ] && [ ! -L "$dir" ] || die "'$dir' exists and is not a directory"
	if [ -z "$force$overwrite" ] && [ -n "$(ls -A "$dir")" ]; then
		die "directory '$dir' is not empty (use --force to replace its content)"
	fi
fi

# A missing parent is made, as mkdir -p would.
if [ ! -d "$parent" ]; then
	mkdir -p -- "$parent" 2>/dev/null || die "cannot create directory '$parent'"
fi

# In place: when only some PATHs replace theirs in a DIR that holds
# other things, or when DIR cannot be renamed (a mount point), the tree
# is written into a temporary directory inside DIR and swapped in entry
# by entry (snap-checkout --in-place), touching nothing else in DIR.
# So is a DIR whose parent another user owns, or others may write
# without the sticky bit: they could swap a temporary directory beside
# DIR for a symlink between two renames.
in_place= made_dir=
if [ -d "$dir" ]; then
	if [ -n "$overwrite" ]; then
		in_place=1 co_args="$co_args --overwrite"
	elif [ $# -gt 0 ] && [ -n "$(ls -A "$dir")" ]; then
		in_place=1
	elif [ "$(stat -c %d -- "$dir")" != "$(stat -c %d -- "$parent/.")" ] ||
	     [ "$(stat -c %i -- "$dir")" = "$(stat -c %i -- "$parent/.")" ]; then
		in_place=1
	elif others_rename "$parent"; then
		in_place=1
	fi
elif others_rename "$parent"; then
	mkdir -m 700 -- "$dir" 2>/dev/null || die "cannot create directory '$dir'"
	made_dir=1 in_place=1
fi
if [ -n "$in_place" ]; then
	sweep "$dir"
	# Only named here: snap-checkout makes it through a descriptor of DIR,
	# so a DIR swapped for a symlink meanwhile cannot send it elsewhere.
	tmp=$(mktemp -u "$dir/.snap-restore.$$.XXXXXX" 2>/dev/null) || die "cannot create a temporary directory in '$dir'"
else
	sweep "$parent"
	tmp=$(mktemp -d "$parent/.snap-restore.$$.XXXXXX" 2>/dev/null) || die "cannot create a temporary directory in '$parent'"
fi
# Exit status 3 of snap-checkout: all written, but some metadata (an
# extended attribute or inode flags the kernel refused) could not be set, each named on
# stderr.  The restore is kept and the status passed on.
rc=0
if [ -n "$in_place" ]; then
	# shellcheck disable=SC2086
	eval "snap-checkout $co_args $excludes" '--in-place "$tmp" -- "$id" "$dir" "$@"' || rc=$?
	if [ $rc -ne 0 ] && [ $rc -ne 3 ]; then
		if [ -n "$made_dir" ]; then remove_tmp; rmdir -- "$dir" 2>/dev/null || :; fi
		exit 128
	fi
	[ -z "$made_dir" ] || chmod "$(printf '%o' $((0777 & ~$(umask))))" -- "$dir" 2>/dev/null || :
	exit $rc
fi

# shellcheck disable=SC2086
eval "snap-checkout $co_args $excludes" '-- "$id" "$tmp/new" "$@"' || rc=$?
[ $rc -eq 0 ] || [ $rc -eq 3 ] || exit 128

if [ -d "$dir" ]; then
	# The target's own mode is kept; its content is replaced.
	chmod --reference="$dir" -- "$tmp/new" 2>/dev/null || :
	mv -T "$dir" "$tmp/old" || die "cannot move '$dir' aside"
	if ! mv -T "$tmp/new" "$dir"; then
		mv -T "$tmp/old" "$dir"
		die "cannot rename the restored tree to '$dir'"
	fi
else
	mv -T "$tmp/new" "$dir" || die "cannot rename the restored tree to '$dir'"
fi

exit $rc
