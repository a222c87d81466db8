#!/usr/bin/env bash
# Reproduces the list and portal figures of docs/performance.md: a SQLite manager, DEVICES
# (default 100,000) devices registered by `smartlic bench fleet`, then the instance list through
# the CLI and the API and the portal's pages, timed. Output in $OUT (default target/bench-lists).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p smartlic
B=$PWD/target/release/smartlic
OUT=${OUT:-$PWD/target/bench-lists}
DEVICES=${DEVICES:-100000}
rm -rf "$OUT" && mkdir -p "$OUT"
"$B" server --data-dir "$OUT/m" --listen 127.0.0.1:19521 >"$OUT/m.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true' EXIT  # ended before a next run reuses the directory
for _ in $(seq 100); do grep -q "listening on" "$OUT/m.log" 2>/dev/null && break; sleep 0.1; done
export SMARTLIC_SERVER=https://127.0.0.1:19521 SMARTLIC_CA=$OUT/m/ca.pem
SMARTLIC_API_KEY=$(cat "$OUT/m/admin.key"); export SMARTLIC_API_KEY
"$B" bench fleet --devices "$DEVICES" --concurrency 64 --seconds 1 >"$OUT/fleet.json"
account=$("$B" account list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["name"])')
/usr/bin/time -f "smartlic instance list: %e s, %M KiB" "$B" instance list --account "$account" >"$OUT/list.txt"
echo "  $(($(wc -l <"$OUT/list.txt") - 1)) instances"
/usr/bin/time -f "smartlic instance list --json: %e s, %M KiB" "$B" instance list --account "$account" --json >"$OUT/list.json"
path="/api/v1/accounts/$(python3 -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$account")/instances"
for _ in 1 2 3; do
  curl -s -o /dev/null -w "one page of 1,000 (curl): %{time_total} s\n" --cacert "$SMARTLIC_CA" \
    -H "Authorization: Bearer $SMARTLIC_API_KEY" "$SMARTLIC_SERVER$path"
done
# A page deep in the list: after hostname fleet-99 (the cursor is base64url of [hostname, id]).
deep=$(python3 -c 'import base64; print(base64.urlsafe_b64encode(b"[\"fleet-99\",\"\"]").decode().rstrip("="))')
for _ in 1 2 3; do
  curl -s -o /dev/null -w "one page of 1,000 after fleet-99 (curl): %{time_total} s\n" --cacert "$SMARTLIC_CA" \
    -H "Authorization: Bearer $SMARTLIC_API_KEY" "$SMARTLIC_SERVER$path?after=$deep"
done
echo "pw-$RANDOM-$RANDOM-$RANDOM" >"$OUT/password"
"$B" user create --account "$account" admin@bench.example --role sa-admin --password-file "$OUT/password" >/dev/null
python3 scripts/portal_timing.py "$SMARTLIC_SERVER" "$SMARTLIC_CA" admin@bench.example "$(cat "$OUT/password")"
