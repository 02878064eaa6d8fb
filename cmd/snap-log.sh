#!/bin/sh
# snap-log: the snapshots of a ref (or from any snapshot), newest first,
# following first parents: snap-rev-list with the log's layout.
set -eu
# Run by its path (as cron does, PATH=/usr/bin:/bin), or through a link to
# it, it runs the plumbing installed beside it.
case $0 in /*) bindir=${0%/*} ;; */*) bindir=$PWD/${0%/*} ;; *) bindir=$PWD ;; esac
[ -x "$bindir/snap-rev-parse" ] || bindir=$(dirname -- "$(readlink -f -- "$0")")
case :$PATH: in *:"$bindir":*) ;; *) PATH=$bindir:$PATH; export PATH ;; esac
usage() {
	cat <<'USAGE'
usage: snap-log [-n N] [--oneline | --format=FORMAT | --json] [REV]

Shows the snapshot REV (default main) and its first-parent ancestors,
newest first.  Pruned snapshots are passed over; "Pruned: <id>" shows
where the history was cut.
  -n, --max-count N  show at most N snapshots
  --oneline          "<short id> <date> <host> <subject>" per snapshot
  --format=FORMAT    one FORMAT per snapshot, with
                     %H id, %h short id (12), %T tree, %P parents,
                     %t time (seconds), %d date, %z zone, %a host,
                     %I problems of an incomplete snapshot (0: complete),
                     %s subject (first message line), %b message, %n newline, %% a %
  --json             one JSON object a line (fields: snap-rev-list(1))
  --store DIR        the store (default $SNAP_DIR, else .snap above)
USAGE
}
me=snap-log
usage_error() { printf '%s: error: %s\n' "$me" "$*" >&2; usage >&2; exit 129; }

max=18446744073709551615
json=
format=
while [ $# -gt 0 ]; do
	case $1 in
	-n|--max-count) [ $# -ge 2 ] || usage_error "$1 needs N"
		case $2 in ''|*[!0-9]*) usage_error "bad count '$2'" ;; esac
		max=$2; shift 2 ;;
	-n[0-9]*) max=${1#-n}
		case $max in *[!0-9]*) usage_error "bad count '$max'" ;; esac
		shift ;;
	--oneline) format='%h %d %a %s'; shift ;;
	--json) json=--json; shift ;;
	--format=*) format=${1#--format=}; shift ;;
	--store) [ $# -ge 2 ] || usage_error "--store needs DIR"; SNAP_DIR=$2; export SNAP_DIR; shift 2 ;;
	--store=*) SNAP_DIR=${1#--store=}; export SNAP_DIR; shift ;;
	-h|--help) usage; exit 0 ;;
	--) shift; break ;;
	-*) usage_error "unknown option '$1'" ;;
	*) break ;;
	esac
done
[ $# -le 1 ] || usage_error "too many arguments"
SNAP_PROGRAM=$me; export SNAP_PROGRAM
# "No snapshots" only for a sound store without a single snapshot ref: a
# ref that cannot be read, or no store at all, is snap-rev-list's to report.
if [ $# -eq 0 ] && ! snap-rev-parse --verify -q main >/dev/null 2>&1; then
	if refs=$(snap-for-each-ref --format=x refs/snapshots/ 2>&1) && [ -z "$refs" ]; then
		printf '%s: no snapshots\n' "$me" >&2
		exit 1
	fi
fi
if [ -n "$format" ]; then
	[ -z "$json" ] || usage_error "--json and --format/--oneline cannot be combined"
	exec snap-rev-list -n "$max" --format="$format" "$@"
fi
exec snap-rev-list -n "$max" ${json:---pretty} "$@"
