#!/usr/bin/env bash
# Benchmark: full initial sync of N clips × 1 part revision each, Windchill ⇄ Bynder on the
# emulators, then the runs after it. Prints wall time, requests per system, links/s and peak RSS
# of each `partreel sync` process. Run by hand (see BENCHMARKS.md), never in CI:
#
#   cargo build --release && benches/sync.sh 10000
#
# The emulators run as their own process (`partreel sim`). The client rate limit is raised
# (RPS, default 100000/s) so the figure measures partreel and the emulators; at Bynder's
# published limit (4,500 requests / 5 min) the same run is bounded by the request count shown.
set -euo pipefail
N=${1:-10000}
RPS=${RPS:-100000}
BIN=${BIN:-target/release/partreel}
WORK=$(mktemp -d)
trap 'kill $SIM_PID 2>/dev/null || true; rm -rf "$WORK"' EXIT

"$BIN" sim --no-story --parts "$N" --clips "$N" --requests-per-sec "$RPS" \
  --write-config "$WORK/partreel.toml" > "$WORK/sim.out" 2>&1 &
SIM_PID=$!
for _ in $(seq 1 600); do
  [ -f "$WORK/partreel.toml" ] && grep -q '^bynder emulator' "$WORK/sim.out" && break
  sleep 0.1
done
WC_ROOT=$(sed -n 's/^windchill emulator: *\(http:\/\/[^/]*\).*/\1/p' "$WORK/sim.out")
BY_ROOT=$(sed -n 's/^bynder emulator: *\(http:\/\/[^/]*\).*/\1/p' "$WORK/sim.out")

advance() { # the time between two scheduled runs, on both emulators' clocks
  curl -fsS -X POST "$WC_ROOT/__sim/clock/advance?secs=$1" >/dev/null
  curl -fsS -X POST "$BY_ROOT/__sim/clock/advance?secs=$1" >/dev/null
}

run() { # label
  local start end
  start=$(date +%s.%N)
  /usr/bin/time -f '%M' -o "$WORK/rss" "$BIN" sync --json --config "$WORK/partreel.toml" > "$WORK/report.json"
  end=$(date +%s.%N)
  local secs links rss
  secs=$(echo "$end - $start" | bc -l)
  links=$(jq '.links_created + .links_updated' "$WORK/report.json")
  rss=$(cat "$WORK/rss")
  printf '%-28s wall %7.2fs  writes %6s  links/s %8.1f  requests windchill %6s bynder %6s  peak RSS %6.1f MiB\n' \
    "$1" "$secs" "$(jq '.links_created + .links_updated + .links_retired + .asset_writes' "$WORK/report.json")" \
    "$(echo "$links / $secs" | bc -l)" \
    "$(jq '.requests.windchill' "$WORK/report.json")" "$(jq '.requests.bynder' "$WORK/report.json")" \
    "$(echo "$rss / 1024" | bc -l)"
}

echo "partreel sync benchmark: $N parts × $N clips, client limit $RPS req/s, $(nproc) cores"
run "initial sync"
advance 900
run "next run (own writes echo)"
advance 900
run "no-change run"
