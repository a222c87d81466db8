#!/usr/bin/env bash
# Reproduces the figures of docs/performance.md: release build, then `smartlic bench fleet`
# against one manager on SQLite, one on PostgreSQL, two on one PostgreSQL database, and 100,000
# devices in one account. Needs PostgreSQL on 127.0.0.1:5432 with trust auth (database `test`).
# Prints one JSON object per run; results also go to $OUT (default target/bench-fleet).
# ONLY=sqlite|pg|two runs just that one (2,000 devices unless DEVICES is set); CONCURRENCY sets
# the renewal workers (default 64).
# SMARTLIC_BIN=PATH benchmarks that binary instead of building this checkout.
source "$(dirname "$0")/bench-common.sh"
OUT=${OUT:-$PWD/target/bench-fleet}
DEVICES=${DEVICES:-2000}
SECONDS_RENEW=${SECONDS_RENEW:-10}
CONCURRENCY=${CONCURRENCY:-64}
rm -rf "$OUT" && mkdir -p "$OUT"
want() { [ -z "${ONLY:-}" ] || [ "$ONLY" = "$1" ]; }
pids=()
# Waits for the managers to end: one still closing its SQLite store would remove the next
# run's write-ahead log in the same directory (SQLite deletes `smartlic.db-wal` by name).
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

start() { # name listen [database]
  local dir=$OUT/$1
  if [ $# -ge 3 ]; then "$B" server --data-dir "$dir" --listen "$2" --database "$3" >"$dir.log" 2>&1 &
  else "$B" server --data-dir "$dir" --listen "$2" >"$dir.log" 2>&1 & fi
  pids+=($!)
  for _ in $(seq 100); do grep -q "listening on" "$dir.log" 2>/dev/null && return; sleep 0.1; done
  echo "manager $1 did not start" >&2; cat "$dir.log" >&2; exit 1
}
fresh_db() { psql "$PG/test" -qc "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1" >/dev/null; }
key() { cat "$OUT/$1/admin.key"; }
fleet() { # name servers... -- extra args
  local name=$1; shift; local args=()
  while [ "$1" != "--" ]; do args+=(--server "$1"); shift; done; shift
  "$B" "${args[@]}" --ca "$OUT/$name/ca.pem" --api-key "$(key "$name")" bench fleet "$@" | tee "$OUT/$name-$(date +%s).json"
}

if want sqlite; then
  start sqlite 127.0.0.1:19501
  fleet sqlite https://127.0.0.1:19501 -- --devices "$DEVICES" --concurrency "$CONCURRENCY" --seconds "$SECONDS_RENEW" --storm
fi

if want pg; then
  fresh_db smartlic_bench_pg
  start pg 127.0.0.1:19502 "$PG/smartlic_bench_pg"
  fleet pg https://127.0.0.1:19502 -- --devices "$DEVICES" --concurrency "$CONCURRENCY" --seconds "$SECONDS_RENEW" --storm
fi

if want two; then
  fresh_db smartlic_bench_two
  start two-a 127.0.0.1:19503 "$PG/smartlic_bench_two"
  # Every manager of one database needs the master key that seals the store's private keys.
  mkdir -p "$OUT/two-b" && chmod 700 "$OUT/two-b" && cp "$OUT/two-a/master.key" "$OUT/two-b/"
  start two-b 127.0.0.1:19504 "$PG/smartlic_bench_two"
  fleet two-a https://127.0.0.1:19503 https://127.0.0.1:19504 -- --devices "$DEVICES" --concurrency "$CONCURRENCY" --seconds "$SECONDS_RENEW"
fi

if [ -n "${LARGE:-}" ] && [ -z "${ONLY:-}" ]; then
  fleet sqlite https://127.0.0.1:19501 -- --devices 100000 --concurrency "$CONCURRENCY" --seconds "$SECONDS_RENEW"
  fleet pg https://127.0.0.1:19502 -- --devices 100000 --concurrency "$CONCURRENCY" --seconds "$SECONDS_RENEW"
fi
