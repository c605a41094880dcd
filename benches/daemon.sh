#!/usr/bin/env bash
# Benchmark: one initial sync of N clips × 1 part revision each, Windchill ⇄ Bynder on the
# emulators, with the state in SQLite (one process), in PostgreSQL (one daemon), and in
# PostgreSQL shared by two daemons. Run by hand (see BENCHMARKS.md), never in CI:
#
#   cargo build --release && DB=postgres://postgres@127.0.0.1:5432/test benches/daemon.sh 100000
#
# Wall time to converge is from start until every daemon's first run ended (read from
# /readyz). The state store's share: SQLite — on-CPU samples in SQLite (perf); PostgreSQL —
# the database's `active_time` (time spent executing statements, pg_stat_database) over the
# daemons' summed wall time.
set -euo pipefail
N=${1:-100000}
RPS=${RPS:-100000}
BIN=${BIN:-target/release/partreel}
DB=${DB:-postgres://postgres@127.0.0.1:5432/test}
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

sim() { # dir: fresh emulators and a config pointing at them
  mkdir -p "$1"
  "$BIN" sim --no-story --parts "$N" --clips "$N" --requests-per-sec "$RPS" \
    --write-config "$1/partreel.toml" > "$1/sim.out" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 3000); do
    [ -f "$1/partreel.toml" ] && grep -q '^bynder emulator' "$1/sim.out" && break
    sleep 0.1
  done
  # The written `windchill-bynder` job runs once on start (its schedule: once a year).
  sed -i 's|^name = "windchill-bynder"$|&\nschedule = "0 0 1 1 *"\nrun_on_start = true|' "$1/partreel.toml"
}

pg_schema() { # name: a fresh schema, and the URL selecting it
  psql -q "$DB" -c "DROP SCHEMA IF EXISTS $1 CASCADE; CREATE SCHEMA $1" >/dev/null
  echo "$DB?options=-c%20search_path%3D$1"
}
active_ms() { psql -At "$DB" -c "SELECT active_time FROM pg_stat_database WHERE datname = current_database()"; }

daemons() { # label dir count: start COUNT daemons, wait for each one's first run to end
  local label=$1 dir=$2 count=$3 start end i ports=() started=()
  start=$(date +%s.%N)
  for i in $(seq 1 "$count"); do
    PARTREEL__SYNC__INSTANCE="bench-$i" "$BIN" daemon --config "$dir/partreel.toml" \
      --listen 127.0.0.1:0 > "$dir/daemon-$i.out" 2> "$dir/daemon-$i.err" &
    PIDS+=($!)
    started+=($!)
  done
  for i in $(seq 1 "$count"); do
    until grep -q 'listening on' "$dir/daemon-$i.out" 2>/dev/null; do sleep 0.1; done
    ports+=("$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$dir/daemon-$i.out")")
  done
  for p in "${ports[@]}"; do
    until curl -fsS "$p/readyz" | jq -e '.jobs[] | select(.last_finished != null)' >/dev/null 2>&1; do
      sleep 0.5
    done
  done
  end=$(date +%s.%N)
  local secs runs
  secs=$(echo "$end - $start" | bc -l)
  runs=$("$BIN" runs --json --limit "$count" --config "$dir/partreel.toml")
  local writes
  writes=$(echo "$runs" | jq '[.[].report | .links_created + .links_updated + .links_retired + .asset_writes] | add')
  printf '%-34s wall %8.1fs  writes %7s  writes/s %7.0f  links %7s\n' "$label" "$secs" "$writes" \
    "$(echo "$writes / $secs" | bc -l)" "$(echo "$runs" | jq '[.[].report.links_created] | add')"
  for p in "${started[@]}"; do kill "$p" 2>/dev/null || true; done
  WALL=$secs
}

echo "partreel daemon benchmark: $N parts × $N clips, client limit $RPS req/s, $(nproc) cores"

# 1. SQLite, one process, profiled.
sim "$WORK/sqlite"
sed -i "s|^state = .*|state = \"$WORK/sqlite/state.db\"|" "$WORK/sqlite/partreel.toml"
start=$(date +%s.%N)
perf record -F 499 -o "$WORK/perf.data" -- "$BIN" sync --json --job windchill-bynder --config "$WORK/sqlite/partreel.toml" \
  > "$WORK/sqlite/report.json" 2> "$WORK/sqlite/perf.err"
end=$(date +%s.%N)
secs=$(echo "$end - $start" | bc -l)
w=$(jq '.links_created + .links_updated + .links_retired + .asset_writes' "$WORK/sqlite/report.json")
printf '%-34s wall %8.1fs  writes %7s  writes/s %7.0f  links %7s\n' "SQLite, one process" "$secs" "$w" \
  "$(echo "$w / $secs" | bc -l)" "$(jq .links_created "$WORK/sqlite/report.json")"
perf report -i "$WORK/perf.data" --no-children --sort sym --stdio 2>/dev/null \
  | awk '/^ +[0-9.]+%/ { p=$1; sub("%","",p); t+=p; if ($0 ~ /sqlite3|rusqlite|state::sqlite/) s+=p }
         END { printf "  SQLite share of on-CPU samples: %.1f%%\n", s * 100 / t }'

# 2. PostgreSQL, one daemon.
sim "$WORK/pg1"
url=$(pg_schema partreel_bench_1)
sed -i "s|^state = .*|state = \"$url\"|" "$WORK/pg1/partreel.toml"
a0=$(active_ms)
daemons "PostgreSQL, one daemon" "$WORK/pg1" 1
a1=$(active_ms)
printf '  database active time %.1fs = %.0f%% of the daemon'"'"'s wall time\n' \
  "$(echo "($a1 - $a0) / 1000" | bc -l)" "$(echo "($a1 - $a0) / 10 / $WALL" | bc -l)"

# 3. PostgreSQL, two daemons sharing the state.
sim "$WORK/pg2"
url=$(pg_schema partreel_bench_2)
sed -i "s|^state = .*|state = \"$url\"|" "$WORK/pg2/partreel.toml"
a0=$(active_ms)
daemons "PostgreSQL, two daemons" "$WORK/pg2" 2
a1=$(active_ms)
printf '  database active time %.1fs = %.0f%% of the daemons'"'"' summed wall time\n' \
  "$(echo "($a1 - $a0) / 1000" | bc -l)" "$(echo "($a1 - $a0) / 10 / ($WALL * 2)" | bc -l)"
