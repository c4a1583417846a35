#!/usr/bin/env bash
# make e2e: the generated documents as the world outside Go meets them.
# Lints both documents, builds and starts the real server on a free port
# against a database of its own, generates a TypeScript client from the
# server's /schema/openapi.json and runs it, then drives the Swagger UI in
# Debian's Chromium. Everything it starts or creates, it removes.
set -euo pipefail
cd "$(dirname "$0")"

log() { printf '\n== e2e: %s\n' "$*"; }
# The PostgreSQL server to create the run's database on, without a database name.
PGSERVER=${E2E_POSTGRES_SERVER:-postgres://postgres@127.0.0.1:5432}
PGURL="$PGSERVER/postgres?sslmode=disable"
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
export CHROMIUM PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

if [ ! -x "$CHROMIUM" ]; then
  echo "e2e: no Chromium at $CHROMIUM; install Debian's (apt-get install -y chromium)" >&2
  exit 1
fi

log "npm ci"
npm ci --no-audit --no-fund --loglevel=error

log "redocly lint"
# Warnings fail too: each accepted one is listed, with its reason, in
# lint/.redocly.lint-ignore.yaml.
lint=$(npx --no-install redocly lint --config lint/redocly.yaml --format=summary 2>&1) || { echo "$lint"; exit 1; }
echo "$lint" | grep -E '^(error|warning) |valid|ignored' || true
if echo "$lint" | grep -qE '^warning '; then
  echo "e2e: redocly lint has warnings: fix them or list them with a reason" >&2
  exit 1
fi

work=$(mktemp -d)
db="apitemplate_e2e_$(date +%s)_$$"
server_pid=""
cleanup() {
  status=$?
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  psql "$PGURL" -qX -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null || status=1
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT

log "build the server"
(cd ../.. && go build -o "$work/server" ./cmd/server)

log "database $db"
psql "$PGURL" -qX -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$db\"" >/dev/null

port=$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')
base="http://127.0.0.1:$port"
mkdir -p output
DATABASE_URL="$PGSERVER/$db?sslmode=disable" \
  HTTP_ADDR="127.0.0.1:$port" \
  JWT_SECRET="e2e-$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')" \
  "$work/server" >output/server.log 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
  curl -fsS -o /dev/null "$base/readyz" 2>/dev/null && break
  kill -0 "$server_pid" 2>/dev/null || { cat output/server.log; echo "e2e: the server exited" >&2; exit 1; }
  sleep 0.1
done
curl -fsS -o /dev/null "$base/readyz"
echo "serving on $base"

log "served document = docs/openapi.json"
curl -fsS "$base/schema/openapi.json" | cmp - ../../docs/openapi.json

log "client generated from $base/schema/openapi.json"
npx --no-install openapi-typescript "$base/schema/openapi.json" -o generated/api.d.ts
npx --no-install tsc --noEmit -p .
API_URL=$base npx --no-install tsx client.ts

log "Swagger UI in Chromium"
API_URL=$base npx --no-install tsx browser.ts

log "passed"
echo "e2e: 4 passed, 0 failed"
