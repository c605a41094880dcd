#!/usr/bin/env bash
# Runs every property test (`prop_*`) of the workspace for a chosen time, with fresh random
# seeds each round, and stops at the first failure.
#
#   scripts/props.sh [DURATION] [CASES_PER_ROUND]
#
# DURATION: 90s, 10m, 1h or plain seconds (default 60s). Each crate's targets run in their own
# loop, all crates at once, until DURATION has passed; CASES_PER_ROUND (default 2000) is each
# target's PROPTEST_CASES per round. A failure prints the minimal failing input and proptest
# records it under the crate's `proptest-regressions/` (commit that file: the case is replayed
# first from then on). The figures it prints are what BENCHMARKS-style notes quote.
#
# A newcomer adds a target by writing a `prop_…` test in the crate's `src/props.rs` with the
# strategies of `partreel_testkit::props`; nothing here needs to change.
set -euo pipefail
cd "$(dirname "$0")/.."

to_secs() {
    case "$1" in
        *h) echo $(( ${1%h} * 3600 )) ;;
        *m) echo $(( ${1%m} * 60 )) ;;
        *s) echo "${1%s}" ;;
        *) echo "$1" ;;
    esac
}
duration=$(to_secs "${1:-60s}")
cases="${2:-2000}"
# crate and the cargo target holding its props module.
targets=(
    "partreel-connector --lib"
    "partreel-core --lib"
    "partreel-windchill --lib"
    "partreel-teamcenter --lib"
    "partreel-threedx --lib"
    "partreel-bynder --lib"
    "partreel-aem --lib"
    "partreel --bin partreel"
)
logs=$(mktemp -d)
echo "building the test binaries…"
for t in "${targets[@]}"; do
    # shellcheck disable=SC2086
    cargo test -q -p $t --no-run 2>"$logs/build.log" || { cat "$logs/build.log"; exit 2; }
done
deadline=$(( $(date +%s) + duration ))
echo "running every prop_ target for ${duration}s, ${cases} cases per target per round"

run_crate() {
    local t="$1" name="${1%% *}" rounds=0 targets_n=0
    while [ "$(date +%s)" -lt "$deadline" ]; do
        # shellcheck disable=SC2086
        if ! PROPTEST_CASES="$cases" cargo test -q -p $t -- prop_ --test-threads 1 \
            >"$logs/$name.log" 2>&1; then
            echo "FAILED: $name (round $((rounds + 1)))"
            grep -E "minimal failing input|panicked|prop_" "$logs/$name.log" | head -20
            echo "full output: $logs/$name.log"
            return 1
        fi
        targets_n=$(grep -oE "ok\. [0-9]+ passed" "$logs/$name.log" | grep -oE "[0-9]+" | head -1)
        rounds=$((rounds + 1))
    done
    echo "$name: each of its $targets_n targets ran $rounds rounds × $cases = $((rounds * cases)) cases, no failure"
}

pids=()
for t in "${targets[@]}"; do
    run_crate "$t" &
    pids+=($!)
done
status=0
for p in "${pids[@]}"; do
    wait "$p" || status=1
done
exit "$status"
