#!/usr/bin/env bash
# e2e/perf/token.sh BIN ALG PORT (needs wrk, jq, taskset): start OrgScope (one core, rate limits off) with a fresh database and signing
# algorithm ALG, create a machine client, and load /oauth2/token with wrk (one thread, 16 connections,
# the other core) for 10 s after a 3 s warm-up. Prints the rps and the server CPU per token.
set -euo pipefail
BIN=$1; ALG=$2; PORT=$3; W=$(mktemp -d)
taskset -c 0 "$BIN" serve --addr 127.0.0.1:$PORT --db $W/o.db --demo=false --rate-limit 0 --signin-rate-limit 0 \
  --signing-algorithm $ALG --log-level warn > $W/log 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; rm -rf $W' EXIT
for _ in $(seq 1 100); do curl -fsS http://127.0.0.1:$PORT/healthz >/dev/null 2>&1 && break; sleep 0.1; done
"$BIN" orgs create --db $W/o.db --code org_acme --name Acme >/dev/null
out=$("$BIN" clients create --db $W/o.db --name perf --org org_acme --scopes "read:users" --json)
export CID=$(echo "$out" | jq -r .client_id) CSEC=$(echo "$out" | jq -r .client_secret) RESOURCE=http://127.0.0.1:$PORT/mcp
taskset -c 1 wrk -t1 -c16 -d3s -s "$(dirname "$0")/token.lua" http://127.0.0.1:$PORT/oauth2/token >/dev/null
t0=$(awk '{print $14+$15}' /proc/$PID/stat)
res=$(taskset -c 1 wrk -t1 -c16 -d10s -s "$(dirname "$0")/token.lua" http://127.0.0.1:$PORT/oauth2/token | grep TOKENS)
t1=$(awk '{print $14+$15}' /proc/$PID/stat)
rps=$(echo "$res" | sed 's/.*rps=\([0-9]*\).*/\1/')
cpu=$(awk -v a=$t0 -v b=$t1 -v r=$rps 'BEGIN{printf "%.0f", (b-a)/100*1e6/(r*10)}')
echo "$ALG $res cpu_us_per_token=$cpu"
