#!/usr/bin/env bash
# Benchmark: full initial sync of N clips × 1 part revision each, PLM ⇄ Bynder on the emulators
# (job `PLM-bynder`, the generated part revisions in that PLM's emulator), then the runs after
# it: the next run 15 minutes later (it reads back partreel's own writes once) and a no-change
# run. Prints wall time, remote writes, requests per system (and the PLM's per 1,000 links) and
# peak RSS of each `partreel sync` process. Run by hand (see BENCHMARKS.md), never in CI:
#
#   cargo build --release && benches/sync_plm.sh teamcenter 10000
#   cargo build --release && benches/sync_plm.sh threedx 10000
#
# The emulators run as their own process (`partreel sim --generated-plm PLM`). The client rate
# limit is raised (RPS, default 100000/s) so the figures measure partreel and the emulators; at
# a connector's default limit the run is bounded by its request count. With PLM=threedx,
# PREDICATE=1 configures a modification-date search predicate (the emulator supports
# `modified>=`); without it every run's part feed is a full scan compared against the state.
set -euo pipefail
PLM=${1:?usage: benches/sync_plm.sh teamcenter|threedx [N]}
N=${2:-10000}
RPS=${RPS:-100000}
BIN=${BIN:-target/release/partreel}
JOB=$PLM-bynder
WORK=$(mktemp -d)
trap 'kill $SIM_PID 2>/dev/null || true; rm -rf "$WORK"' EXIT

"$BIN" sim --no-story --generated-plm "$PLM" --parts "$N" --clips "$N" \
  --requests-per-sec "$RPS" --write-config "$WORK/partreel.toml" > "$WORK/sim.out" 2>&1 &
SIM_PID=$!
for _ in $(seq 1 600); do
  [ -f "$WORK/partreel.toml" ] && grep -q '^bynder emulator' "$WORK/sim.out" && break
  sleep 0.1
done
if [ "$PLM" = threedx ] && [ -n "${PREDICATE:-}" ]; then
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
  local secs links plm rss per
  secs=$(echo "$end - $start" | bc -l)
  links=$(jq '.links_created + .links_updated' "$WORK/report.json")
  plm=$(jq ".requests.$PLM" "$WORK/report.json")
  rss=$(cat "$WORK/rss")
  if [ "$links" -gt 0 ]; then per=$(echo "$plm * 1000 / $links" | bc -l); else per=0; fi
  printf '%-28s wall %7.2fs  links %6s  writes %6s  requests %s %6s (%6.1f per 1,000 links) bynder %6s  peak RSS %6.1f MiB\n' \
    "$1" "$secs" "$links" \
    "$(jq '.links_created + .links_updated + .links_retired + .asset_writes' "$WORK/report.json")" \
    "$PLM" "$plm" "$per" "$(jq '.requests.bynder' "$WORK/report.json")" \
    "$(echo "$rss / 1024" | bc -l)"
}

echo "partreel sync benchmark ($PLM): $N part revisions × $N clips, client limit $RPS req/s, $(nproc) cores"
run "initial sync"
advance 900
run "next run (own writes echo)"
advance 900
run "no-change run"
