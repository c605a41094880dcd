#!/usr/bin/env bash
# Benchmark: P `partreel sync` processes of one job started 0.2 s apart on one state (a cron job
# started again while the previous run is still working through the rate limit), N generated
# clips, the client limit lowered to RPS so the runs overlap. Prints each process's exit code,
# wall time and links created, then what a following sync finds: duplicate link records (it
# reports and retires them) and writes left over. Run by hand (see BENCHMARKS.md), never in CI:
#
#   cargo build --release && benches/concurrent.sh windchill 2000 3
#   cargo build --release && STATE=postgres://postgres@127.0.0.1:5432/test benches/concurrent.sh teamcenter 2000 2
#
# With STATE set to a PostgreSQL URL the processes share that database (a schema of its own,
# dropped at the end) instead of an SQLite file.
set -euo pipefail
PLM=${1:?usage: benches/concurrent.sh windchill|teamcenter|threedx [N] [P]}
N=${2:-2000}
P=${3:-2}
RPS=${RPS:-40}
BIN=${BIN:-target/release/partreel}
JOB=$PLM-bynder
WORK=$(mktemp -d)
SCHEMA=""
cleanup() {
  kill "$SIM_PID" 2>/dev/null || true
  if [ -n "$SCHEMA" ]; then psql "$STATE" -qc "DROP SCHEMA $SCHEMA CASCADE" >/dev/null 2>&1 || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

"$BIN" sim --no-story --generated-plm "$PLM" --parts 40 --clips "$N" --seed 7 \
  --requests-per-sec "$RPS" --write-config "$WORK/partreel.toml" > "$WORK/sim.out" 2>&1 &
SIM_PID=$!
for _ in $(seq 1 600); do
  [ -f "$WORK/partreel.toml" ] && grep -q '^bynder emulator' "$WORK/sim.out" && break
  sleep 0.1
done
if [ -n "${STATE:-}" ]; then
  SCHEMA=partreel_bench_$$
  psql "$STATE" -qc "CREATE SCHEMA $SCHEMA"
  sep='?'; case "$STATE" in *\?*) sep='&';; esac
  sed -i "s|^state = .*|state = \"$STATE${sep}options=-c%20search_path%3D$SCHEMA\"|" "$WORK/partreel.toml"
fi

echo "partreel concurrent syncs: $P × job $JOB, $N clips, client limit $RPS req/s, $(nproc) cores, state ${STATE:+PostgreSQL}${STATE:-SQLite}"
start=$(date +%s.%N)
PIDS=()
for i in $(seq 1 "$P"); do
  ( s=$(date +%s.%N)
    set +e
    "$BIN" sync --json --job "$JOB" --config "$WORK/partreel.toml" > "$WORK/$i.json" 2> "$WORK/$i.err"
    echo "$? $(echo "$(date +%s.%N) - $s" | bc -l)" > "$WORK/$i.status" ) &
  PIDS+=($!)
  sleep 0.2
done
wait "${PIDS[@]}"
end=$(date +%s.%N)
for i in $(seq 1 "$P"); do
  read -r code secs < "$WORK/$i.status"
  if [ "$code" = 0 ]; then
    printf 'process %d: exit 0, %6.1fs, links created %5s, clips left to others %5s\n' "$i" "$secs" \
      "$(jq .links_created "$WORK/$i.json")" "$(jq .left_to_others "$WORK/$i.json")"
  else
    printf 'process %d: exit %s, %6.1fs: %s\n' "$i" "$code" "$secs" "$(tail -1 "$WORK/$i.err")"
  fi
done
printf 'all processes done in %.1fs\n' "$(echo "$end - $start" | bc -l)"
"$BIN" sync --json --job "$JOB" --config "$WORK/partreel.toml" > "$WORK/after.json"
printf 'following sync: duplicate link records %s, links created %s, writes %s\n' \
  "$(jq '.duplicates | length' "$WORK/after.json")" "$(jq .links_created "$WORK/after.json")" \
  "$(jq '.links_created + .links_updated + .links_retired + .asset_writes' "$WORK/after.json")"
