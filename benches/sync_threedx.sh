#!/usr/bin/env bash
# Benchmark: full initial sync of N clips × 1 engineering item each, 3DEXPERIENCE ⇄ Bynder on the
# emulators (job `threedx-bynder`), then the runs after it. Prints wall time, requests per
# system, 3DEXPERIENCE requests per 1,000 links and peak RSS of each `partreel sync`
# process. Run by hand (see BENCHMARKS.md), never in CI:
#
#   cargo build --release && benches/sync_threedx.sh 10000
#
# The emulators run as their own process (`partreel sim --generated-plm threedx`). The client
# rate limit is raised (RPS, default 100000/s) so the figure measures partreel and the
# emulators; at the connector's default (10 requests/s) the run is bounded by the request count.
set -euo pipefail
N=${1:-10000}
RPS=${RPS:-100000}
BIN=${BIN:-target/release/partreel}
JOB=threedx-bynder
WORK=$(mktemp -d)
trap 'kill $SIM_PID 2>/dev/null || true; rm -rf "$WORK"' EXIT

"$BIN" sim --no-story --generated-plm threedx --parts "$N" --clips "$N" \
  --requests-per-sec "$RPS" --write-config "$WORK/partreel.toml" > "$WORK/sim.out" 2>&1 &
SIM_PID=$!
for _ in $(seq 1 600); do
  [ -f "$WORK/partreel.toml" ] && grep -q '^bynder emulator' "$WORK/sim.out" && break
  sleep 0.1
done

# PREDICATE=1: the search takes a modification-date predicate (the emulator supports
# `modified>=`); without it every run's part feed is a full scan compared against the state.
if [ -n "${PREDICATE:-}" ]; then
  sed -i 's|^\[systems.threedx\]$|&\nmodified_predicate = "modified>={since}"|' "$WORK/partreel.toml"
fi
BY_ROOT=$(sed -n 's/^bynder emulator: *\(http:\/\/[^/]*\).*/\1/p' "$WORK/sim.out")

advance() { # the time between two scheduled runs (the emulators share one clock)
  curl -fsS -X POST "$BY_ROOT/__sim/clock/advance?secs=$1" >/dev/null
}

run() { # label
  local start end
  start=$(date +%s.%N)
  /usr/bin/time -f '%M' -o "$WORK/rss" "$BIN" sync --json --job "$JOB" \
    --config "$WORK/partreel.toml" > "$WORK/report.json"
  end=$(date +%s.%N)
  local secs links tc rss per
  secs=$(echo "$end - $start" | bc -l)
  links=$(jq '.links_created + .links_updated' "$WORK/report.json")
  tc=$(jq '.requests.threedx' "$WORK/report.json")
  rss=$(cat "$WORK/rss")
  if [ "$links" -gt 0 ]; then per=$(echo "$tc * 1000 / $links" | bc -l); else per=0; fi
  printf '%-28s wall %7.2fs  links %6s  writes %6s  requests threedx %6s (%6.1f per 1,000 links) bynder %6s  peak RSS %6.1f MiB\n' \
    "$1" "$secs" "$links" \
    "$(jq '.links_created + .links_updated + .links_retired + .asset_writes' "$WORK/report.json")" \
    "$tc" "$per" "$(jq '.requests.bynder' "$WORK/report.json")" \
    "$(echo "$rss / 1024" | bc -l)"
}

echo "partreel sync benchmark (3DEXPERIENCE): $N engineering items × $N clips, client limit $RPS req/s, $(nproc) cores"
run "initial sync"
advance 900
run "next run (own writes echo)"
advance 900
run "no-change run"
