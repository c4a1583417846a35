#!/usr/bin/env bash
# Checks the `make dev` loop end to end, in a temporary copy of the working
# tree so nothing here is edited: start it, change a handler and its
# annotation, see both served; break the build, see the error printed while
# the last good server keeps answering; fix it, see it served again.
# Every wait is bounded; the whole run is killed after DEV_CYCLE_TIMEOUT
# seconds (default 300). Needs git, psql and curl, and PostgreSQL as for
# `make test`.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
server_url=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}

if [[ -z ${DEV_CYCLE_CHILD:-} ]]; then
  # Re-run under timeout so a hang anywhere, even in the cleanup, ends.
  DEV_CYCLE_CHILD=1 exec timeout --kill-after=10 "${DEV_CYCLE_TIMEOUT:-300}" "$0" "$@"
fi

work=$(mktemp -d -t dev-cycle.XXXXXX)
db=devcycle_$(date +%s)_$$
port=$((20000 + RANDOM % 20000))
addr=127.0.0.1:$port
log=$work/dev.log
dev_pid=
from=1

say() { printf '== %s\n' "$*"; }

# descendants prints every process below $1, deepest last.
descendants() {
  local child
  for child in $(ps -o pid= --ppid "$1" 2>/dev/null); do
    echo "$child"
    descendants "$child"
  done
}

cleanup() {
  local status=$?
  if [[ -n $dev_pid ]]; then
    # air forwards the interrupt to the server; what outlives it is killed
    # by pid (the server runs in a process group of its own).
    local pids
    pids=$(descendants "$dev_pid")
    kill -INT -- "-$dev_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$dev_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$dev_pid" 2>/dev/null || true
    for pid in $pids; do kill -KILL "$pid" 2>/dev/null || true; done
  fi
  psql "$server_url" -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
  if [[ $status -ne 0 && -f $log ]]; then
    say "FAILED; make dev printed:"
    tail -n 60 "$log"
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() { say "FAIL: $*"; exit 1; }

# wait_for SECONDS DESCRIPTION COMMAND...: polls until COMMAND succeeds.
wait_for() {
  local seconds=$1 what=$2
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@"; do
    ((SECONDS < deadline)) || fail "$what: not within ${seconds}s"
    sleep 0.2
  done
}

healthz() { curl -fsS --max-time 2 "http://$addr/healthz" 2>/dev/null || true; }
serves() { [[ $(healthz) == *"\"$1\""* ]]; }
documents() { curl -fsS --max-time 2 "http://$addr/schema/openapi.json" 2>/dev/null | grep -q "$1"; }
# mark remembers where the log is; logged looks only at what came after.
mark() { from=$(($(wc -l <"$log") + 1)); }
logged() { tail -n "+$from" "$log" | grep -q "$1"; }

say "copying the working tree to $work"
mkdir "$work/tree"
# Tracked and new files, not ignored ones (bin/, tmp/, .env); a file
# deleted but not yet committed is skipped.
git -C "$repo" ls-files -z --cached --others --exclude-standard |
  tar -C "$repo" --null --ignore-failed-read -T - -cf - 2>/dev/null | tar -C "$work/tree" -xf -
cd "$work/tree"

psql "$server_url" -qc "CREATE DATABASE \"$db\"" >/dev/null
say "make dev on $addr, database $db"
DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db?sslmode=disable" HTTP_ADDR=$addr \
  JWT_SECRET=dev-cycle-secret-0123456789abcdef BCRYPT_COST=4 \
  setsid make --no-print-directory dev >"$log" 2>&1 </dev/null &
dev_pid=$!
wait_for 180 "first build and start" serves healthy
say "serving"

say "edit: a handler's answer and its annotation"
started=$SECONDS
mark
sed -i -e 's/Status{Status: "healthy"}/Status{Status: "healthy-edited"}/' \
  -e 's/\(@Summary[[:space:]]*Liveness probe\)$/\1, edited/' controllers/health.go
grep -q 'healthy-edited' controllers/health.go && grep -q 'Liveness probe, edited$' controllers/health.go ||
  fail "the edit did not apply: controllers/health.go is not as this script expects"
wait_for 60 "the edited handler served" serves healthy-edited
wait_for 10 "the edited annotation in /schema/openapi.json" documents 'Liveness probe, edited'
say "edited handler and docs served after $((SECONDS - started))s"
logged 'wire gen' && fail "wire ran although no provider changed"

say "edit: a provider set"
started=$SECONDS
mark
printf '\n// An edit to a provider set.\n' >>providers/app.go
wait_for 60 "wire run" logged 'go tool wire gen'
wait_for 60 "the rebuilt server started" logged '"msg":"server ready"'
wait_for 10 "the rebuilt server answering" serves healthy-edited
logged 'swag init' && fail "swag ran although no annotation changed"
say "wire regenerated, server back after $((SECONDS - started))s"

say "edit: a compile error"
cp controllers/health.go "$work/health.go.good"
mark
printf '\nvar _ = notDefinedAnywhere\n' >>controllers/health.go
wait_for 60 "the compile error printed" logged 'undefined: notDefinedAnywhere'
sleep 2 # past air's restart point: a stopped server would show now
serves healthy-edited || fail "the last good server stopped serving after a failed build"
say "compile error printed; the last good server still answers"

say "edit: fix it"
started=$SECONDS
sed 's/Status{Status: "healthy-edited"}/Status{Status: "healthy-fixed"}/' "$work/health.go.good" >controllers/health.go
wait_for 60 "the fixed handler served" serves healthy-fixed
say "fixed handler served after $((SECONDS - started))s"

say "PASS"
