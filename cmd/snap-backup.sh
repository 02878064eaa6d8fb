#!/bin/sh
# snap-backup: the nightly job in one command.  Reads a config file and
# runs pre, snapshot, prune, gc, an fsck sample and post, under a lock of
# its own, printing one summary line (or one JSON object).
set -u

usage() {
	cat <<'USAGE'
usage: snap-backup [-c FILE] [--dry-run] [-q] [--json] [--syslog]

Runs the backup a config file describes: pre command, snapshot of its
paths, prune by its keep-* policy, gc, an fsck sample, post command.
One summary line at the end.

  -c, --config FILE  the config (default /etc/snap/backup.conf, else
                     $XDG_CONFIG_HOME/snap/backup.conf)
  -n, --dry-run      check the config and show what would be done and
                     which snapshots the policy would drop; change nothing
  -q, --quiet        print nothing but errors and warnings
  --json             the summary as one JSON object
  --syslog           also send the summary to syslog (logger)

Exit status: 0 done; 3 done, but the snapshot is incomplete; 11 another
run of this config holds its lock; 128 a step failed; 129 usage; 130
stopped by a signal.
USAGE
}

me=snap-backup
# Run by its path (as cron does, PATH=/usr/bin:/bin), or through a link to
# it, it runs the plumbing installed beside it.
case $0 in /*) bindir=${0%/*} ;; */*) bindir=$PWD/${0%/*} ;; *) bindir=$PWD ;; esac
[ -x "$bindir/snap-rev-parse" ] || bindir=$(dirname -- "$(readlink -f -- "$0")")
case :$PATH: in *:"$bindir":*) ;; *) PATH=$bindir:$PATH; export PATH ;; esac
die() { printf '%s: fatal: %s\n' "$me" "$*" >&2; exit 128; }
usage_error() { printf '%s: error: %s\n' "$me" "$*" >&2; usage >&2; exit 129; }
warn() { printf '%s: warning: %s\n' "$me" "$*" >&2; }
# q STRING: STRING quoted for the shell.
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

config= dry= quiet= json= syslog=
while [ $# -gt 0 ]; do
	case $1 in
	-c|--config) [ $# -ge 2 ] || usage_error "$1 needs FILE"; config=$2; shift 2 ;;
	--config=*) config=${1#--config=}; shift ;;
	-n|--dry-run) dry=1; shift ;;
	-q|--quiet) quiet=1; shift ;;
	--json) json=1; shift ;;
	--syslog) syslog=1; shift ;;
	-h|--help) usage; exit 0 ;;
	-*) usage_error "unknown option '$1'" ;;
	*) usage_error "unexpected argument '$1'" ;;
	esac
done

if [ -z "$config" ]; then
	user_conf=${XDG_CONFIG_HOME:-${HOME:-/nonexistent}/.config}/snap/backup.conf
	if [ -r /etc/snap/backup.conf ]; then
		config=/etc/snap/backup.conf
	elif [ -r "$user_conf" ]; then
		config=$user_conf
	else
		die "no config: neither /etc/snap/backup.conf nor $user_conf (see snap-backup(1))"
	fi
fi
[ -f "$config" ] && [ -r "$config" ] || die "cannot read config '$config'"
# One lock per file, whatever the name it was given by.
config=$(readlink -f -- "$config") || die "cannot resolve config '$config'"
[ -z "$dry" ] || [ -z "$json" ] || usage_error "--dry-run prints text; it does not go with --json"

# ---- the config: key = value lines (docs/snap-backup.md) ----
store= ref=main message=backup fsck=none gc=yes one_fs= pre= post= remote=
policy= paths= nr_paths=0 wt_opts=
lineno=0 seen=' '
# Messages stay one line of printable text, whatever the file holds.
bad() { die "$config:$lineno: $(printf '%s' "$*" | LC_ALL=C tr -c '[:print:]' '?')"; }
once() {
	case $seen in *" $1 "*) bad "'$1' given twice" ;; esac
	seen="$seen$1 "
}
yesno() {
	case $2 in yes|true|1) eval "$1=yes" ;; no|false|0) eval "$1=" ;;
	*) bad "'$3' takes yes or no, not '$2'" ;; esac
}
# count VALUE KEY: a whole number from 1 to 999999999.
count() {
	case $1 in
	''|*[!0-9]*|0*|??????????*) bad "'$2' takes a number from 1 to 999999999, not '$1'" ;;
	esac
}
# fsck_ok VALUE: what snap-fsck --read-data-subset takes, checked here.
fsck_ok() {
	case $1 in
	none|all) return 0 ;;
	rotate/*) n=${1#rotate/} ;;
	*%) printf '%s' "${1%\%}" | grep -Eq '^[0-9]{1,3}(\.[0-9]{1,6})?$' &&
		awk "BEGIN { exit !(${1%\%} > 0 && ${1%\%} <= 100) }"; return ;;
	*/*) k=${1%%/*} n=${1#*/}
		case $k in ''|*[!0-9]*|0*|????????*) return 1 ;; esac ;;
	*) return 1 ;;
	esac
	case $n in ''|*[!0-9]*|0*|????????*) return 1 ;; esac
	[ "$n" -le 1000000 ] && { [ -z "${k:-}" ] || [ "$k" -le "$n" ]; }
}
while IFS= read -r line || [ -n "$line" ]; do
	lineno=$((lineno + 1))
	[ "$lineno" != 1 ] || line=${line#"$(printf '\357\273\277')"}	# a UTF-8 BOM
	case ${line#"${line%%[![:space:]]*}"} in ''|'#'*) continue ;; esac
	case $line in *=*) ;; *) bad "expected 'key = value'" ;; esac
	key=$(printf '%s' "${line%%=*}" | sed 's/[[:space:]]*$//; s/^[[:space:]]*//')
	val=$(printf '%s' "${line#*=}" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//')
	[ -n "$val" ] || bad "'$key' has no value"
	case $key in
	store|ref|message|one-file-system|keep-*|gc|fsck|pre|post|remote) once "$key" ;;
	esac
	case $key in
	store) store=$val ;;
	path)
		case $val in /*) ;; *) bad "path '$val' is not absolute" ;; esac
		paths="$paths $(q "$val")"; nr_paths=$((nr_paths + 1)) ;;
	exclude) wt_opts="$wt_opts --exclude $(q "$val")" ;;
	ref) ref=$val ;;
	message) message=$val ;;
	one-file-system) yesno one_fs "$val" "$key" ;;
	keep-last|keep-hourly|keep-daily|keep-weekly|keep-monthly|keep-yearly)
		count "$val" "$key"; policy="$policy --$key $val" ;;
	keep-within)
		printf '%s' "$val" | grep -Eq '^[1-9][0-9]{0,8}[smhdw]?$' ||
			bad "'keep-within' takes N with s, m, h, d or w, not '$val'"
		policy="$policy --keep-within $(q "$val")" ;;
	keep-tag) policy="$policy --keep-tag $(q "$val")" ;;
	gc) yesno gc "$val" "$key" ;;
	fsck)
		fsck_ok "$val" ||
			bad "'fsck' takes none, all, P% (0 < P <= 100), K/N or rotate/N (1 <= K <= N <= 1000000), not '$val'"
		fsck=$val ;;
	remote) remote=$val ;;
	pre) pre=$val ;;
	post) post=$val ;;
	*) bad "unknown key '$key'" ;;
	esac
done < "$config"
[ -n "$store" ] || die "$config: no 'store'"
[ "$nr_paths" -ge 1 ] || die "$config: no 'path'"
SNAP_DIR=$store; export SNAP_DIR
SNAP_PROGRAM=$me; export SNAP_PROGRAM
store=$(snap-rev-parse --store-dir) || exit 128
full_ref=$(snap-rev-parse --full-ref-name -- "$ref" 2> /dev/null) ||
	die "$config: bad ref name '$(printf '%s' "$ref" | LC_ALL=C tr -c '[:print:]' '?')'"
[ -z "$one_fs" ] || wt_opts="$wt_opts -x"
eval "set -- $paths"
# One path: its content at the snapshot's root (a re-run's stat cache and
# ids as snap-snapshot DIR gives them); several: each under its absolute
# path (snap-snapshot PATH PATH...).
src=$*
if [ "$nr_paths" -eq 1 ]; then
	[ -d "$1" ] || die "path '$1' is not a directory"
else
	for p in "$@"; do
		[ -e "$p" ] || [ -L "$p" ] || die "path '$p' does not exist"
	done
fi
case $fsck in
rotate/*)
	# Day K of N: a run a day reads every part of the store once in N days.
	n=${fsck#rotate/}
	fsck=$(( $(date +%s) / 86400 % n + 1 ))/$n ;;
esac

if [ -n "$dry" ]; then
	printf 'config %s\nstore %s\nwould snapshot %s to %s\n' "$config" "$store" "$src" "$ref"
	if [ -n "$policy" ]; then
		plan=
		if snap-rev-parse --verify -q "$ref" >/dev/null 2>&1; then
			plan=$(eval "snap-prune --dry-run -r $(q "$ref") $policy") || exit 128
			printf '%s\n' "$plan"
		fi
		# (the run's own snapshot is one more: it may drop one more)
		case $plan in *drop\ *) [ -z "$gc" ] || echo "would gc" ;; esac
	fi
	[ "$fsck" = none ] || echo "would fsck${fsck:+ ($fsck)}"
	[ -z "$remote" ] || echo "would push $ref to $remote"
	exit 0
fi

# ---- the lock: one run per config; flock(1) frees it when we die ----
# The store's owner may plant anything in it, and root may run this: so
# nothing is written through a name in the store here.  The lock is a
# directory, made with mkdir (which follows no link) and opened read-only
# through "/." (which opens a directory or nothing), then flock()ed; its
# holder is found by the descriptor it holds, not by a note in a file.
# What root makes here goes to the store's owner (chown -h: never through
# a link), as the plumbing does (docs/FORMAT.md, "Store layout").
give() { [ "$(id -u)" != 0 ] || chown -h --reference="$store" -- "$1" 2>/dev/null || :; }
[ -d "$store/backup" ] || { mkdir "$store/backup" 2>/dev/null && give "$store/backup"; } ||
	[ -d "$store/backup" ] || die "cannot create '$store/backup'"
lock=$store/backup/$(printf '%s' "$config" | cksum | cut -d' ' -f1).lock
[ ! -L "$store/backup" ] && [ ! -L "$lock" ] || die "'$lock' or its directory is a symbolic link; remove it"
if [ ! -d "$lock" ]; then
	# A lock file of an older snap-backup: a plain file, never followed.
	[ ! -e "$lock" ] || rm -f -- "$lock" 2>/dev/null
	{ mkdir "$lock" 2>/dev/null && give "$lock"; } || [ -d "$lock" ] || die "cannot create lock '$lock'"
fi
# Every command below runs with 9>&-: what it leaves running (a daemon a
# pre command starts) must not hold the lock after we are gone.
exec 9<"$lock/." || die "cannot open lock '$lock'"
if ! flock -n 9; then
	# The holder: a process with the directory open (at 9, or where the
	# shell moved it while a command runs), but for this one.
	target=$(readlink -f -- "$lock" | sed 's/[][*?\\]/\\&/g') age=unknown
	pid=$( { find /proc/[0-9]*/fd -maxdepth 1 -lname "$target" 2>/dev/null |
		sed -n 's|^/proc/\([0-9]*\)/fd/.*|\1|p' | grep -vx "$$" | head -n 1; } 9<&- )
	# How long it has run: its start (field 22 of /proc/PID/stat, in
	# clock ticks since boot) against the uptime.
	[ -z "$pid" ] || age=$(awk -v t="$(getconf CLK_TCK 2>/dev/null || echo 100)" \
		'FNR == NR { up = $1; next } { sub(/.*\) /, ""); split($0, f, " "); printf "%d s", up - f[20] / t }' \
		/proc/uptime "/proc/$pid/stat" 2>/dev/null) || age=unknown
	printf '%s: another run of %s holds its lock (pid %s, for %s)\n' "$me" "$config" "${pid:-unknown}" "$age" >&2
	exit 11
fi

start=$(date +%s)
pushed= status=0 warnings=0 snap= files=0 read=0 reused=0 size=0 new=0 dropped=0 fsck_result=skipped
errs=$(mktemp "${TMPDIR:-/tmp}/snap-backup.XXXXXX") || die "cannot create a temporary file"
trap 'rm -f "$errs"' EXIT
trap 'printf "%s: fatal: interrupted; the run stopped\n" "$me" >&2; exit 130' INT TERM

# run_user CMD: the user's own command (pre, post), not under our name.
# Its output goes to stderr: stdout holds the summary alone.
run_user() { env -u SNAP_PROGRAM sh -c "$1" >&2 9>&-; }

summary() {
	secs=$(( $(date +%s) - start )) out=
	if [ -n "$json" ]; then
		out=$(printf '{"status":%d,"snapshot":%s,"ref":"%s","files":%s,"files_read":%s,"files_unchanged":%s,"size":%s,"new_size":%s,"dropped":%s,"fsck":"%s","pushed":%s,"warnings":%s,"seconds":%s}\n' \
			"$status" "$( [ -n "$snap" ] && printf '"%s"' "$snap" || printf null)" \
			"$ref" "$files" "$read" "$reused" "$size" "$new" "$dropped" "$fsck_result" \
			"$( [ -n "$pushed" ] && printf '"%s"' "$pushed" || printf null)" "$warnings" "$secs")
	fi
	line="snapshot ${snap:-none} of $src: $files files ($read read, $reused unchanged), $size bytes, $new new; $dropped dropped; fsck $fsck_result; $warnings warnings; $secs s${pushed:+; pushed to $pushed}"
	[ -n "$json" ] || [ -n "$quiet" ] || out=$line
	# A summary that cannot be written (stdout closed, a full disk) is a
	# failure of the run, said once, not a shell's bare "I/O error".
	if [ -n "$out" ] && ! printf '%s\n' "$out" 2>/dev/null; then
		printf '%s: fatal: the summary cannot be written to standard output (the run ended with status %d)\n' \
			"$me" "$status" >&2
		status=128
	fi
	[ -z "$syslog" ] || logger -t snap-backup -- "$line" 2>/dev/null 9>&- || warn "cannot write to syslog"
}

if [ -n "$pre" ] && ! run_user "$pre"; then
	printf '%s: fatal: pre command failed; no snapshot taken\n' "$me" >&2
	status=128; summary; exit 128
fi

# The snapshot: stderr is passed through and its warnings counted.
rc=0
snap=$(eval "snap-snapshot -r $(q "$ref") -m $(q "$message") --stats $wt_opts -- $paths" 2>"$errs" 9>&-) || rc=$?
grep -v ' files read, .* reused$' "$errs" >&2
warnings=$(grep -c ': warning: ' "$errs")
stats=$(grep ' files read, .* reused$' "$errs" | tail -n 1)
if [ -n "$stats" ]; then
	read=$(printf '%s' "$stats" | sed 's/.*: \([0-9]*\) files read.*/\1/')
	reused=$(printf '%s' "$stats" | sed 's/.* \([0-9]*\) reused$/\1/')
fi
case $rc in
0) ;;
3) status=3 ;;
*) snap=; status=128; summary; exit 128 ;;
esac
if st=$(snap-stats --json "$snap" 2>/dev/null 9>&-); then
	files=$(printf '%s' "$st" | sed 's/.*"files":\([0-9]*\).*/\1/')
	size=$(printf '%s' "$st" | sed 's/.*"size":\([0-9]*\).*/\1/')
	new=$(printf '%s' "$st" | sed 's/.*"new_size":\([0-9]*\).*/\1/')
fi

fail() { printf '%s: fatal: %s\n' "$me" "$*" >&2; status=128; }
if [ -n "$policy" ]; then
	if out=$(eval "snap-prune -r $(q "$ref") $policy" 2>"$errs" 9>&-); then
		dropped=$(printf '%s\n' "$out" | grep -c '^drop ')
	else
		cat "$errs" >&2; fail "prune failed"
	fi
	if [ "$status" != 128 ] && [ -n "$gc" ] && [ "$dropped" -gt 0 ]; then
		snap-gc >/dev/null 9>&- || fail "gc failed"
	fi
fi
if [ "$status" != 128 ] && [ "$fsck" != none ]; then
	case $fsck in all) fargs= ;; *) fargs="--read-data-subset=$fsck" ;; esac
	frc=0
	snap-fsck $fargs > "$errs" 2>&1 9>&- || frc=$?
	if [ "$frc" -eq 0 ]; then
		fsck_result="${fsck} clean"
	elif [ "$frc" -ge 128 ]; then
		cat "$errs" >&2
		fsck_result="${fsck} failed (status $frc)"
		fail "fsck failed (status $frc)"
	else
		cat "$errs" >&2
		fsck_result="${fsck} found damage (status $frc)"
		fail "fsck found damage (status $frc; see snap-fsck(1))"
	fi
fi
if [ "$status" != 128 ] && [ -n "$remote" ]; then
	if snap-push -q "$remote" "$full_ref" 2>"$errs" 9>&-; then
		pushed=$remote
	else
		cat "$errs" >&2
		fail "push to '$remote' failed"
	fi
fi
if [ -n "$post" ]; then
	SNAP_BACKUP_STATUS=$status SNAP_BACKUP_SNAPSHOT=$snap
	export SNAP_BACKUP_STATUS SNAP_BACKUP_SNAPSHOT
	run_user "$post" || fail "post command failed"
fi
summary
exit "$status"
