#!/bin/sh
# Runs the Bats suite (t/NNNN-*.bats, or the files given) with TAP output
# and closes with one line: "N passed, N failed, N skipped".
# Exit status: 0 when nothing failed, 1 otherwise.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
: "${BATS:=bats}"
: "${BATS_LIB:=/usr/lib/bats}"
export BATS_LIB SNAP_BUILD="$top"
# Under SANITIZE=address the commands are checked for memory errors; the
# memory a one-shot command still holds when it exits is not reported
# (set ASAN_OPTIONS yourself to check leaks too).
: "${ASAN_OPTIONS:=detect_leaks=0}"
export ASAN_OPTIONS

if [ $# -eq 0 ]; then
	set -- "$here"/[0-9][0-9][0-9][0-9]-*.bats
fi
out=$(mktemp "${TMPDIR:-/tmp}/snap-tap.XXXXXX")
rc_file=$out.rc
# Stopped from outside, the run has no counts to give: say so and fail.
trap 'rm -f "$out" "$rc_file"; echo "run-tests: interrupted" >&2; exit 130' INT TERM
trap 'rm -f "$out" "$rc_file"' EXIT

# The status of bats itself, not of tee: a pipeline's status is its last
# command's, so bats writes its own into a file.
{ "$BATS" --formatter tap "$@"; echo $? > "$rc_file"; } | tee "$out"
bats_status=$(cat "$rc_file" 2>/dev/null || echo 1)

passed=$(grep -c '^ok ' "$out" | tr -d ' ')
skipped=$(grep -c '^ok .* # skip' "$out" | tr -d ' ')
failed=$(grep -c '^not ok ' "$out" | tr -d ' ')
passed=$((passed - skipped))
echo "$passed passed, $failed failed, $skipped skipped"
if [ "$failed" -ne 0 ] || [ "$passed" -eq 0 ]; then
	exit 1
fi
# bats itself failing (a syntax error in a file) is a failure too.
[ "$bats_status" -eq 0 ] || exit 1
exit 0
