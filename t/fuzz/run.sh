#!/bin/sh
# Runs libFuzzer targets built by `make fuzz-build`, each for $FUZZ_SECONDS
# seconds in all, from its seed corpus, and prints one line per target:
#
#   TARGET: EXECS executions in SECONDS s, CRASHES crashes
#
# A target that crashes is started again for the time left (at most
# $FUZZ_MAX_CRASHES times, default 5), so one bug does not end its run.
# New inputs go to build/fuzz/corpus/TARGET (the committed seeds in
# t/fuzz/corpus/TARGET are only read); crashing inputs, timeouts and
# leaks to build/fuzz/crashes/TARGET/.  Exits 1 if any target crashed.
#
#   sh t/fuzz/run.sh TARGET...

set -u
seconds=${FUZZ_SECONDS:-60}
max_crashes=${FUZZ_MAX_CRASHES:-5}
top=$(cd "$(dirname "$0")/../.." && pwd)
status=0

for t; do
	prog=$top/build/fuzz/bin/fuzz-$t
	seeds=$top/t/fuzz/corpus/$t
	work=$top/build/fuzz/corpus/$t
	crashes=$top/build/fuzz/crashes/$t
	log=$top/build/fuzz/log/$t.log
	[ -x "$prog" ] || { echo "run.sh: no $prog (make fuzz-build)" >&2; exit 128; }
	mkdir -p "$work" "$crashes" "$(dirname "$log")"
	[ -d "$seeds" ] || seeds=
	: > "$log"
	execs=0 found=0 start=$(date +%s) left=$seconds
	while [ "$left" -gt 0 ]; do
		# shellcheck disable=SC2086
		"$prog" -max_total_time="$left" -timeout=10 -rss_limit_mb=2048 \
			-print_final_stats=1 -artifact_prefix="$crashes/" \
			"$work" $seeds >> "$log" 2>&1
		rc=$?
		n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
		execs=$((execs + ${n:-0}))
		sed -i 's/^stat::number_of_executed_units:/counted::number_of_executed_units:/' "$log"
		[ "$rc" -eq 0 ] && break
		found=$((found + 1))
		[ "$found" -ge "$max_crashes" ] && break
		left=$((seconds - ($(date +%s) - start)))
	done
	elapsed=$(($(date +%s) - start))
	printf '%s: %s executions in %s s, %s crashes\n' "$t" "$execs" "$elapsed" "$found"
	[ "$found" -eq 0 ] || status=1
done
exit $status
