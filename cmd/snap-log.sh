#!/bin/sh
# snap-log: the snapshots of a ref (or from any snapshot), newest first,
# following first parents.
set -eu
usage() {
	cat <<'USAGE'
usage: snap-log [-n N] [--oneline | --format=FORMAT] [REV]

Shows the snapshot REV (default main) and its first-parent ancestors,
newest first.
  -n, --max-count N  show at most N snapshots
  --oneline          "<short id> <date> <host> <subject>" per snapshot
  --format=FORMAT    one FORMAT per snapshot, with
                     %H id, %h short id (12), %T tree, %P parents,
                     %t time (seconds), %d date, %z zone, %a host,
                     %s subject (first message line), %b message, %n newline, %% a %
  --store DIR        the store (default $SNAP_DIR, else .snap above)
USAGE
}
me=snap-log
usage_error() { printf '%s: error: %s\n' "$me" "$*" >&2; usage >&2; exit 129; }

max=-1
format=
while [ $# -gt 0 ]; do
	case $1 in
	-n|--max-count) [ $# -ge 2 ] || usage_error "$1 needs N"
		case $2 in ''|*[!0-9]*) usage_error "bad count '$2'" ;; esac
		max=$2; shift 2 ;;
	--oneline) format='%h %d %a %s'; shift ;;
	--format=*) format=${1#--format=}; shift ;;
	--store) [ $# -ge 2 ] || usage_error "--store needs DIR"; SNAP_DIR=$2; export SNAP_DIR; shift 2 ;;
	-h|--help) usage; exit 0 ;;
	--) shift; break ;;
	-*) usage_error "unknown option '$1'" ;;
	*) break ;;
	esac
done
[ $# -le 1 ] || usage_error "too many arguments"
id=$(snap-rev-parse --verify "${1:-main}") || exit 128
[ "$(snap-cat-file -t "$id")" = snapshot ] || {
	printf "%s: fatal: '%s' is not a snapshot\n" "$me" "${1:-main}" >&2; exit 128; }

nl='
'
n=0
while [ -n "$id" ] && [ "$max" -lt 0 -o "$n" -lt "$max" ]; do
	body=$(snap-cat-file snapshot "$id") || exit 128
	header=${body%%"$nl$nl"*}
	case $body in *"$nl$nl"*) msg=${body#*"$nl$nl"} ;; *) msg= ;; esac
	tree=$(printf '%s\n' "$header" | sed -n 's/^tree //p')
	parents=$(printf '%s\n' "$header" | sed -n 's/^parent //p' | tr '\n' ' ' | sed 's/ $//')
	time=$(printf '%s\n' "$header" | sed -n 's/^time //p')
	host=$(printf '%s\n' "$header" | sed -n 's/^host //p')
	metas=$(printf '%s\n' "$header" | sed -n 's/^meta //p')
	bundles=$(printf '%s\n' "$header" | grep -c '^bundle ' || :)
	secs=${time% *}
	zone=${time#* }
	sign=${zone%????}; hh=${zone#?}; mm=${hh#??}; hh=${hh%??}
	off=$(( ${hh#0} * 3600 + ${mm#0} * 60 ))
	[ "$sign" = "-" ] && off=$((-off))
	date=$(TZ=UTC date -d "@$((secs + off))" '+%Y-%m-%d %H:%M:%S')" $zone"
	subject=${msg%%"$nl"*}
	if [ -z "$format" ]; then
		[ "$n" -eq 0 ] || printf '\n'
		printf 'snapshot %s\n' "$id"
		printf 'Date:   %s\n' "$date"
		printf 'Host:   %s\n' "$host"
		[ "$bundles" -eq 0 ] || printf 'Bundles: %s\n' "$bundles"
		[ -z "$metas" ] || printf '%s\n' "$metas" | sed 's/^/Meta:   /'
		[ -z "$msg" ] || { printf '\n'; printf '%s\n' "$msg" | sed 's/^/    /'; }
	else
		out=$format
		res=
		while [ -n "$out" ]; do
			case $out in
			%H*) res=$res$id; out=${out#%H} ;;
			%h*) res=$res$(printf '%.12s' "$id"); out=${out#%h} ;;
			%T*) res=$res$tree; out=${out#%T} ;;
			%P*) res=$res$parents; out=${out#%P} ;;
			%t*) res=$res$secs; out=${out#%t} ;;
			%d*) res=$res$date; out=${out#%d} ;;
			%z*) res=$res$zone; out=${out#%z} ;;
			%a*) res=$res$host; out=${out#%a} ;;
			%s*) res=$res$subject; out=${out#%s} ;;
			%b*) res=$res$msg; out=${out#%b} ;;
			%n*) res=$res$nl; out=${out#%n} ;;
			%%*) res=$res%; out=${out#%%} ;;
			*) c=$(printf '%.1s' "$out"); res=$res$c; out=${out#"$c"} ;;
			esac
		done
		printf '%s\n' "$res"
	fi
	n=$((n + 1))
	id=${parents%% *}
done
