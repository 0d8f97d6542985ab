#!/usr/bin/env bash
# Run the test suite as two pytest processes at once on this 2-core machine:
#   lane 2: the paths given after `--` (the kind suite, the drills, the fuzzers);
#   lane 1: everything else.
# Why: lane 2's time is mostly waits that leave a core idle (Docker bringing kind clusters up,
# a git server down for a minute, controllers killed and restarted, fuzzers with a fixed time
# budget), so run one after the other the suite idled a core for minutes. Each lane is a whole
# pytest run with its own summary; lane 2's output is printed after lane 1's, and the run fails
# if either lane fails.
# Usage: tools/test-lanes.sh PYTEST -- PATH...   (PATH: a test file or folder)
set -uo pipefail

if [ $# -lt 3 ] || [ "$2" != "--" ]; then
    echo "usage: $0 PYTEST -- PATH..." >&2
    exit 2
fi
pytest=$1
shift 2
ignores=()
for path in "$@"; do
    [ -e "$path" ] || { echo "$0: no such test path: $path" >&2; exit 2; }
    ignores+=("--ignore=$path")
done

scratch=$(mktemp -d)
lane2_log="$scratch/lane2.log"
# Own temporary base (pytest prunes old numbered folders of a shared one) and no cache writes
# (both lanes would rewrite .pytest_cache at once).
"$pytest" -p no:cacheprovider --basetemp="$scratch/tmp" "$@" >"$lane2_log" 2>&1 &
lane2=$!
# An interrupted run (Ctrl-C, CI timeout) stops lane 2 too: pytest cleans up on SIGTERM.
trap 'kill -TERM "$lane2" 2>/dev/null; wait "$lane2"; rm -rf "$scratch"; exit 130' INT TERM

"$pytest" "${ignores[@]}"
lane1_status=$?
wait "$lane2"
lane2_status=$?
trap - INT TERM

echo
echo "==================== lane 2: $* ===================="
cat "$lane2_log"
rm -rf "$scratch"
echo "lane 1 exit $lane1_status, lane 2 exit $lane2_status"
[ "$lane1_status" -eq 0 ] && [ "$lane2_status" -eq 0 ]
