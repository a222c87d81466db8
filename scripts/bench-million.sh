#!/usr/bin/env bash
# Reproduces the million-instance figures of docs/performance.md: a manager on a fresh
# PostgreSQL database, `smartlic bench fleet --preload` writing PRELOAD (default 1,000,000)
# instances into one account's DEFAULT VA, DEVICES (default 2,000) more registering over HTTPS,
# a renewal phase over all of them, then the portal's overview and VA page, timed.
# Needs PostgreSQL on 127.0.0.1:5432 with trust auth (database `test`). Output in $OUT (default
# target/bench-million). SMARTLIC_BIN=PATH benchmarks that binary instead of building this checkout.
source "$(dirname "$0")/bench-common.sh"
OUT=${OUT:-$PWD/target/bench-million}
PRELOAD=${PRELOAD:-1000000}
DEVICES=${DEVICES:-2000}
SECONDS_RENEW=${SECONDS_RENEW:-20}
DB=${DB:-smartlic_bench_million}
rm -rf "$OUT" && mkdir -p "$OUT"
psql "$PG/test" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB" >/dev/null
"$B" server --data-dir "$OUT/m" --listen 127.0.0.1:19531 --database "$PG/$DB" >"$OUT/m.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true' EXIT  # ended before a next run reuses the directory
for _ in $(seq 100); do grep -q "listening on" "$OUT/m.log" 2>/dev/null && break; sleep 0.1; done
export SMARTLIC_SERVER=https://127.0.0.1:19531 SMARTLIC_CA=$OUT/m/ca.pem
SMARTLIC_API_KEY=$(cat "$OUT/m/admin.key"); export SMARTLIC_API_KEY
"$B" bench fleet --preload "$PRELOAD" --database "$PG/$DB" --devices "$DEVICES" --concurrency 64 \
  --seconds "$SECONDS_RENEW" | tee "$OUT/fleet.json"
account=$("$B" account list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["name"])')
echo "pw-$RANDOM-$RANDOM-$RANDOM" >"$OUT/password"
"$B" user create --account "$account" admin@bench.example --role sa-admin --password-file "$OUT/password" >/dev/null
python3 scripts/portal_timing.py "$SMARTLIC_SERVER" "$SMARTLIC_CA" admin@bench.example "$(cat "$OUT/password")"
path="/api/v1/accounts/$(python3 -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$account")/instances"
# A page deep in the list: after hostname preload-0500000 (the cursor is base64url of [hostname, id]).
deep=$(python3 -c 'import base64; print(base64.urlsafe_b64encode(b"[\"preload-0500000\",\"\"]").decode().rstrip("="))')
for _ in 1 2 3; do
  curl -s -o /dev/null -w "one page of 1,000 after preload-0500000 (curl): %{time_total} s\n" --cacert "$SMARTLIC_CA" \
    -H "Authorization: Bearer $SMARTLIC_API_KEY" "$SMARTLIC_SERVER$path?after=$deep"
done
for _ in 1 2 3; do
  curl -s -o /dev/null -w "metrics scrape (curl): %{time_total} s\n" --cacert "$SMARTLIC_CA" "$SMARTLIC_SERVER/metrics"
done
grep -E '^process_resident_memory_bytes' <(curl -s --cacert "$SMARTLIC_CA" "$SMARTLIC_SERVER/metrics")
