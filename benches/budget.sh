#!/usr/bin/env bash
# Benchmark for the rate budgets: one initial sync of N clips × 1 part revision each on the
# emulators (job `PLM-bynder`), reporting the API requests per system (and per 1,000 links), the
# wall time, partreel's CPU time beside the emulators' CPU time over the same run (the ratio is
# what matters on a shared machine), partreel's peak RSS, and the time the same requests take at
# the connectors' default limits (the vendors' published ones where there are some). Run by hand
# (see BENCHMARKS.md), never in CI:
#
#   cargo build --release && benches/budget.sh windchill 10000
#   cargo build --release && benches/budget.sh threedx 10000
#
# The emulators run as their own process (`partreel sim`); their CPU time is read from
# /proc/<pid>/stat before and after the sync. The client rate limit is raised (RPS, default
# 100000/s) so the run measures partreel and the emulators, not the limiter.
set -euo pipefail
PLM=${1:?usage: benches/budget.sh windchill|teamcenter|threedx [N]}
N=${2:-10000}
RPS=${RPS:-100000}
BIN=${BIN:-target/release/partreel}
JOB=$PLM-bynder
WORK=$(mktemp -d)
trap 'kill $SIM_PID 2>/dev/null || true; rm -rf "$WORK"' EXIT

"$BIN" sim --no-story --generated-plm "$PLM" --parts "$N" --clips "$N" \
  --requests-per-sec "$RPS" --write-config "$WORK/partreel.toml" > "$WORK/sim.out" 2>&1 &
SIM_PID=$!
for _ in $(seq 1 1200); do
  [ -f "$WORK/partreel.toml" ] && grep -q '^bynder emulator' "$WORK/sim.out" && break
  sleep 0.1
done

TICK=$(getconf CLK_TCK)
sim_cpu() { # seconds of CPU the emulators' process has used so far
  awk -v t="$TICK" '{ printf "%.2f", ($14 + $15) / t }' "/proc/$SIM_PID/stat"
}

before=$(sim_cpu)
start=$(date +%s.%N)
/usr/bin/time -f '%U %S %M' -o "$WORK/time" \
  "$BIN" sync --json --config "$WORK/partreel.toml" --job "$JOB" > "$WORK/report.json"
end=$(date +%s.%N)
after=$(sim_cpu)

read -r user sys rss < "$WORK/time"
wall=$(echo "$end - $start" | bc -l)
ours=$(echo "$user + $sys" | bc -l)
theirs=$(echo "$after - $before" | bc -l)
links=$(jq '.links_created' "$WORK/report.json")
plm_req=$(jq ".requests.$PLM" "$WORK/report.json")
by_req=$(jq '.requests.bynder' "$WORK/report.json")
files=$(jq '.file_requests.bynder // 0' "$WORK/report.json")

# The connectors' default limits, less the 2% headroom the client keeps.
case "$PLM" in
  windchill) plm_rate=20 ;;
  teamcenter) plm_rate=10 ;;
  threedx) plm_rate=20 ;;
esac
by_rate=$(echo "4500 / 300" | bc -l)
plm_secs=$(echo "$plm_req / ($plm_rate * 0.98)" | bc -l)
by_secs=$(echo "$by_req / ($by_rate * 0.98)" | bc -l)

echo "partreel budget benchmark: job $JOB, $N parts × $N clips, $(nproc) cores"
printf 'links created            %s\n' "$links"
printf 'requests %-15s %s (%.1f per 1,000 links)\n' "$PLM" "$plm_req" "$(echo "$plm_req * 1000 / $links" | bc -l)"
printf 'requests bynder          %s (%.1f per 1,000 links), plus %s storage fetches off the API\n' \
  "$by_req" "$(echo "$by_req * 1000 / $links" | bc -l)" "$files"
printf 'wall time                %.1f s\n' "$wall"
printf 'CPU partreel             %.2f s (%.2f user + %.2f system), %.0f µs per link\n' \
  "$ours" "$user" "$sys" "$(echo "$ours * 1000000 / $links" | bc -l)"
printf 'CPU emulators            %.2f s\n' "$theirs"
printf 'CPU ratio                %.2f (partreel / emulators)\n' "$(echo "$ours / $theirs" | bc -l)"
printf 'peak RSS partreel        %.1f MiB\n' "$(echo "$rss / 1024" | bc -l)"
printf 'at default limits        %s %.0f s at %s/s, bynder %.0f s at 15/s: %.1f min in all\n' \
  "$PLM" "$plm_secs" "$plm_rate" "$by_secs" "$(echo "($plm_secs + $by_secs) / 60" | bc -l)"
