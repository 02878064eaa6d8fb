#!/bin/sh
# snap-diff: what changed between two snapshots (or trees), recursively.
set -eu
# Run by its path (as cron does, PATH=/usr/bin:/bin), or through a link to
# it, it runs the plumbing installed beside it.
case $0 in /*) bindir=${0%/*} ;; */*) bindir=$PWD/${0%/*} ;; *) bindir=$PWD ;; esac
[ -x "$bindir/snap-rev-parse" ] || bindir=$(dirname -- "$(readlink -f -- "$0")")
case :$PATH: in *:"$bindir":*) ;; *) PATH=$bindir:$PATH; export PATH ;; esac
usage() {
	cat <<'USAGE'
usage: snap-diff [-z | --stat | --json] [--metadata] [--exit-code] A B

Lists the paths added (A), removed (D), modified (M) and changed in type
(T) from A to B, one per line, recursing into directories.  A and B are
anything snap-rev-parse accepts.
  --metadata       also owners and mtimes: what differs only there is M
  --stat           each line also says what changed (size, mode, owner,
                   mtime, type), and a summary line ends the list
  --json           one JSON object a line, with the entry on each side
  --exit-code      exit 1 when there are differences
  --store DIR      the store (default $SNAP_DIR, else .snap above)
USAGE
}
args=
while [ $# -gt 0 ]; do
	case $1 in
	-z|--exit-code|--stat|--json|--metadata) args="$args $1"; shift ;;
	--store) [ $# -ge 2 ] || { usage >&2; exit 129; }; SNAP_DIR=$2; export SNAP_DIR; shift 2 ;;
	--store=*) SNAP_DIR=${1#--store=}; export SNAP_DIR; shift ;;
	-h|--help) usage; exit 0 ;;
	-*) printf "snap-diff: error: unknown option '%s'\n" "$1" >&2; usage >&2; exit 129 ;;
	*) break ;;
	esac
done
[ $# -eq 2 ] || { printf 'snap-diff: error: expected A and B\n' >&2; usage >&2; exit 129; }
SNAP_PROGRAM=snap-diff; export SNAP_PROGRAM
a=$(snap-rev-parse --verify "$1") || exit 128
SNAP_DAMAGE_SEEN=1; export SNAP_DAMAGE_SEEN
b=$(snap-rev-parse --verify "$2") || exit 128
# shellcheck disable=SC2086
exec snap-diff-tree -r $args "$a" "$b"
