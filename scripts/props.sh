#!/usr/bin/env bash
# Runs every property test (`prop_*`) of the workspace for a chosen time, round after round with
# a fresh random seed and many cases, and stops at the first failure.
#
#   scripts/props.sh [DURATION] [CASES]
#
# DURATION: 90s, 10m, 1h or plain seconds (default 60s). CASES: PROPTEST_CASES of every target
# in each round (default 2000; `cargo test` runs 256, or fewer for the slow targets).
# PROPS_RELEASE=1 builds and runs the tests in release mode: each case runs several times
# faster, but the first build of the release test binaries takes many minutes. The default
# (debug) reuses the binaries `cargo test` builds. PROPS_IGNORED=1 runs the ignored targets too
# (the findings, `#[ignore = "finding: …"]`), which then fail at once. PROPS_PARALLEL=1 runs
# every crate's targets at once, each crate round after round for the whole DURATION (on a small
# machine they share its cores): how each target gets DURATION of its own, e.g. the 10 minutes
# per target asked of a fuzzing campaign.
#
# Each round runs each crate's test binary (built once up front, then run directly, so a round
# never waits on cargo's lock) with `PROPTEST_RNG_SEED` set to a new random seed. At the end it
# prints, per target, the rounds and cases it ran. A failure stops everything and prints the
# minimal failing input, the line proptest added to the crate's `proptest-regressions/` (commit
# it: the case is replayed first from then on) and the command that repeats the round.
#
# A newcomer adds a target by writing a `prop_…` test in a crate's `src/props.rs`; nothing here
# changes unless a new crate gets a `props` module (add it to `targets` below).
set -euo pipefail
cd "$(dirname "$0")/.."

to_secs() {
    case "$1" in
        *h) echo $((${1%h} * 3600)) ;;
        *m) echo $((${1%m} * 60)) ;;
        *s) echo "${1%s}" ;;
        *) echo "$1" ;;
    esac
}
duration=$(to_secs "${1:-60s}")
cases="${2:-2000}"
profile=()
[ "${PROPS_RELEASE:-0}" = 1 ] && profile=(--release)
ignored=()
[ "${PROPS_IGNORED:-0}" = 1 ] && ignored=(--include-ignored)

# package, its cargo target holding the props module, and the package's directory (the test
# binary runs there, as under `cargo test`).
targets=(
    "partreel-connector|--lib|connector"
    "partreel-core|--lib|core"
    "partreel-windchill|--lib|connectors/windchill"
    "partreel-teamcenter|--lib|connectors/teamcenter"
    "partreel-threedx|--lib|connectors/threedx"
    "partreel-bynder|--lib|connectors/bynder"
    "partreel-aem|--lib|connectors/aem"
    "partreel|--bin partreel|."
)

logs=$(mktemp -d)
declare -A exe
echo "building the test binaries${profile:+ (release)}…"
for t in "${targets[@]}"; do
    IFS='|' read -r pkg target _ <<<"$t"
    # shellcheck disable=SC2086
    if ! cargo test "${profile[@]}" -q -p "$pkg" $target --no-run --message-format=json \
        >"$logs/build.json" 2>"$logs/build.log"; then
        cat "$logs/build.log"
        exit 2
    fi
    exe[$pkg]=$(grep -o '"executable":"[^"]*"' "$logs/build.json" | tail -1 | cut -d'"' -f4)
    [ -n "${exe[$pkg]}" ] || { echo "no test binary for $pkg"; exit 2; }
done

# One round of one crate: its test binary with a fresh seed; on success the names of the
# targets that passed are appended to `$logs/PKG.passes`, on failure what to repeat is printed.
one_round() {
    local pkg=$1 target=$2 dir=$3 round=$4
    local seed log marker
    seed=$(od -An -N8 -tu8 /dev/urandom | tr -d ' ')
    marker="$logs/$pkg.marker"
    touch "$marker"
    log="$logs/$pkg.log"
    if ! (cd "$dir" && PROPTEST_RNG_SEED="$seed" PROPTEST_CASES="$cases" \
        "${exe[$pkg]}" prop_ "${ignored[@]}" >"$log" 2>&1); then
        {
            echo
            echo "FAILED: $pkg, round $round (PROPTEST_RNG_SEED=$seed PROPTEST_CASES=$cases)"
            grep -E "^test .* FAILED$|panicked at" "$log" | head -5 || true
            # The assertion's message and the shrunk input, up to proptest's counters.
            sed -n '/^Test failed/,/successes:/p' "$log" | head -60
            find . -path ./target -prune -o -path '*/proptest-regressions/*' \
                -newer "$marker" -type f -print | while read -r f; do
                echo "regression recorded in $f:"
                tail -n 1 "$f"
            done
            failed=$(grep -oE "^test [^ ]+ \.\.\. FAILED" "$log" | head -1 | cut -d' ' -f2)
            echo "repeat it: PROPTEST_RNG_SEED=$seed PROPTEST_CASES=$cases cargo test" \
                "${profile[@]}" -p "$pkg" "$target" -- --exact "$failed" "${ignored[@]}"
            echo "full output: $log"
        } >"$logs/$pkg.failure"
        return 1
    fi
    grep -oE "^test [^ ]+ \.\.\. ok$" "$log" | cut -d' ' -f2 | sed "s/^/$pkg /" \
        >>"$logs/passes"
}

: >"$logs/passes"
rounds=0
deadline=$(($(date +%s) + duration))
started=$(date +%s)
if [ "${PROPS_PARALLEL:-0}" = 1 ]; then
    echo "running every crate's prop_ targets at once for ${duration}s, ${cases} cases per round"
    pids=()
    for t in "${targets[@]}"; do
        IFS='|' read -r pkg target dir <<<"$t"
        (
            r=0
            while [ "$(date +%s)" -lt "$deadline" ]; do
                r=$((r + 1))
                one_round "$pkg" "$target" "$dir" "$r" || exit 1
            done
        ) &
        pids+=($!)
    done
    status=0
    for pid in "${pids[@]}"; do
        wait "$pid" || status=1
    done
    if [ "$status" != 0 ]; then
        cat "$logs"/*.failure
        exit 1
    fi
else
    echo "running every prop_ target for ${duration}s, ${cases} cases per target per round"
    while [ "$(date +%s)" -lt "$deadline" ]; do
        rounds=$((rounds + 1))
        for t in "${targets[@]}"; do
            [ "$(date +%s)" -lt "$deadline" ] || break
            IFS='|' read -r pkg target dir <<<"$t"
            if ! one_round "$pkg" "$target" "$dir" "$rounds"; then
                cat "$logs/$pkg.failure"
                exit 1
            fi
        done
    done
fi

declare -A ran
while read -r pkg name; do
    ran["$pkg $name"]=$((${ran["$pkg $name"]:-0} + 1))
done <"$logs/passes"
echo
echo "no failure in $(($(date +%s) - started))s; per target: rounds × ${cases} cases"
for key in "${!ran[@]}"; do
    printf '%-22s %-64s %4d rounds %9d cases\n' ${key} "${ran[$key]}" \
        "$((${ran[$key]} * cases))"
done | sort
