#!/bin/sh
# snap-remote: names for the far stores snap-push and snap-fetch talk to,
# kept in the store as remotes/NAME ("url = ..." and "ssh = ..." lines).
set -u
# Run by its path (as cron does, PATH=/usr/bin:/bin), or through a link to
# it, it runs the plumbing installed beside it.
case $0 in /*) bindir=${0%/*} ;; */*) bindir=$PWD/${0%/*} ;; *) bindir=$PWD ;; esac
[ -x "$bindir/snap-rev-parse" ] || bindir=$(dirname -- "$(readlink -f -- "$0")")
case :$PATH: in *:"$bindir":*) ;; *) PATH=$bindir:$PATH; export PATH ;; esac

usage() {
	cat <<'USAGE'
usage: snap-remote [-v]
   or: snap-remote add [--ssh CMD] NAME URL
   or: snap-remote remove NAME
   or: snap-remote get-url NAME

Names remotes for snap-push and snap-fetch: 'snap push NAME' then talks
to URL (HOST:PATH, ssh://[USER@]HOST[:PORT]/PATH or a local path), with
CMD as its ssh command unless $SNAP_SSH_COMMAND is set.  Without a
subcommand, lists the names (-v: with their URLs).

  --ssh CMD        the ssh command for this remote (run through sh)
  --store DIR      the store (default $SNAP_DIR, else .snap above)
USAGE
}

me=snap-remote
die() { printf '%s: fatal: %s\n' "$me" "$*" >&2; exit 128; }
usage_error() { printf '%s: error: %s\n' "$me" "$*" >&2; usage >&2; exit 129; }
one_line() { printf '%s' "$1" | LC_ALL=C tr -c '[:print:]' '?'; }

verbose= ssh=
while [ $# -gt 0 ]; do
	case $1 in
	-v|--verbose) verbose=1; shift ;;
	--ssh) [ $# -ge 2 ] || usage_error "--ssh needs CMD"; ssh=$2; shift 2 ;;
	--store) [ $# -ge 2 ] || usage_error "--store needs DIR"; SNAP_DIR=$2; export SNAP_DIR; shift 2 ;;
	--store=*) SNAP_DIR=${1#--store=}; export SNAP_DIR; shift ;;
	-h|--help) usage; exit 0 ;;
	--) shift; break ;;
	-*) usage_error "unknown option '$(one_line "$1")'" ;;
	*) break ;;
	esac
done
cmd=${1:-list}
[ $# -eq 0 ] || shift
# add takes its --ssh after the subcommand too.
while [ "$cmd" = add ] && [ $# -gt 0 ]; do
	case $1 in
	--ssh) [ $# -ge 2 ] || usage_error "--ssh needs CMD"; ssh=$2; shift 2 ;;
	--) shift; break ;;
	*) break ;;
	esac
done
SNAP_PROGRAM=$me; export SNAP_PROGRAM
store=$(snap-rev-parse --store-dir) || exit 128
dir=$store/remotes
# Root adding a remote to a store another user owns hands that user what
# it makes, as the plumbing does (docs/FORMAT.md, "Store layout").
give() { [ "$(id -u)" != 0 ] || chown -h --reference="$store" -- "$1" 2>/dev/null || :; }

# name_ok NAME: letters, digits and "._-", not first "." or "-".
name_ok() {
	case $1 in
	''|.*|-*|*[!A-Za-z0-9._-]*) return 1 ;;
	esac
	[ "${#1}" -le 100 ]
}
need_name() {
	name_ok "$1" || die "bad remote name '$(one_line "$1")' (letters, digits and ._-, not first . or -)"
}
url_of() { sed -n 's/^url *= *//p' "$dir/$1" | head -n 1; }
# out LINE: LINE on stdout, or one line of ours and 128 (closed, full).
out() { printf '%s\n' "$1" 2>/dev/null || die "cannot write to standard output"; }

case $cmd in
list)
	[ $# -eq 0 ] || usage_error "unexpected argument '$(one_line "$1")'"
	[ -d "$dir" ] || exit 0
	for f in "$dir"/*; do
		[ -f "$f" ] || continue
		n=${f##*/}
		name_ok "$n" || continue
		if [ -n "$verbose" ]; then
			out "$(printf '%s\t%s' "$n" "$(url_of "$n")")"
		else
			out "$n"
		fi
	done ;;
add)
	[ $# -eq 2 ] || usage_error "add needs NAME and URL"
	need_name "$1"
	case $2 in
	'') die "empty URL" ;;
	*'
'*) die "a URL is one line" ;;
	esac
	case $ssh in *'
'*) die "an ssh command is one line" ;; esac
	[ ! -L "$dir" ] || die "'$dir' is a symbolic link; remove it"
	if [ ! -d "$dir" ]; then
		mkdir -m 700 "$dir" 2>/dev/null || [ -d "$dir" ] || die "cannot create '$dir'"
		give "$dir"
	fi
	tmp=$(mktemp "$dir/.new.XXXXXX") || die "cannot write in '$dir'"
	{ printf 'url = %s\n' "$2"; [ -z "$ssh" ] || printf 'ssh = %s\n' "$ssh"; } > "$tmp" ||
		{ rm -f "$tmp"; die "cannot write in '$dir'"; }
	# On disk before its name appears: a crash leaves the remote whole
	# or absent, never an empty file under its name.
	sync "$tmp" 2>/dev/null || { rm -f "$tmp"; die "cannot write in '$dir'"; }
	# A link makes the name appear whole, and never over another remote.
	if ! ln "$tmp" "$dir/$1" 2>/dev/null; then
		rm -f "$tmp"
		[ -e "$dir/$1" ] && die "remote '$1' exists (snap-remote remove $1 first)"
		die "cannot write '$dir/$1'"
	fi
	rm -f "$tmp"
	give "$dir/$1"
	sync "$dir" 2>/dev/null || true ;;
remove|rm)
	[ $# -eq 1 ] || usage_error "remove needs NAME"
	need_name "$1"
	[ -f "$dir/$1" ] || die "no remote '$1'"
	rm -f "$dir/$1" || die "cannot remove '$dir/$1'" ;;
get-url)
	[ $# -eq 1 ] || usage_error "get-url needs NAME"
	need_name "$1"
	[ -f "$dir/$1" ] || die "no remote '$1'"
	out "$(url_of "$1")" ;;
*)
	usage_error "unknown subcommand '$(one_line "$cmd")'" ;;
esac
