#!/usr/bin/env bash
# The web client's browser test: DynamoDB Local and moto on free ports, the local gateway on two
# more (HTTP, and HTTP + 1 for the WebSocket API, the client's default), a table of its own, then
# tests/browser/chat.e2e.mjs in Debian's Chromium against it. Everything started here is stopped
# by PID when the run ends; the gateway's log is printed when the test fails.
#
# Expects what the install script provides: target/debug/local-gateway (cargo build), Chromium
# (CHROMIUM_PATH, default /usr/bin/chromium) and tests/browser/node_modules (npm ci).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

GATEWAY="$ROOT/target/debug/local-gateway"
export CHROMIUM_PATH="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [[ ! -x "$GATEWAY" ]]; then
  echo "browser-test: $GATEWAY is missing (cargo build -p local-gateway)" >&2
  exit 1
fi
if [[ ! -x "$CHROMIUM_PATH" ]]; then
  echo "browser-test: no Chromium at $CHROMIUM_PATH (apt-get install chromium, or set CHROMIUM_PATH)" >&2
  exit 1
fi
node_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
if (( node_major < 20 )); then
  echo "browser-test: playwright-core needs Node.js 20 or later; this is $(node --version 2>/dev/null || echo 'no node')" >&2
  exit 1
fi
if [[ ! -d "$ROOT/tests/browser/node_modules/playwright-core" ]]; then
  echo "browser-test: playwright-core is not installed (cd tests/browser && npm ci)" >&2
  exit 1
fi

# A port P such that P and P + 1 are both free on 127.0.0.1.
free_port_pair() {
  python3 - <<'PY'
import socket
for _ in range(200):
    first = socket.socket()
    first.bind(("127.0.0.1", 0))
    port = first.getsockname()[1]
    second = socket.socket()
    try:
        if port + 1 > 65535:
            continue
        second.bind(("127.0.0.1", port + 1))
    except OSError:
        continue
    finally:
        first.close()
        second.close()
    print(port)
    break
else:
    raise SystemExit("browser-test: found no two consecutive free ports")
PY
}

# shellcheck source=emulators.sh
source "$ROOT/infra/scripts/emulators.sh"
start_emulators

GATEWAY_PID=""
GATEWAY_LOG="$(mktemp "${TMPDIR:-/tmp}/browser-test-gateway.XXXXXX")"
cleanup() {
  if [[ -n "$GATEWAY_PID" ]]; then
    kill "$GATEWAY_PID" 2>/dev/null || true
    wait "$GATEWAY_PID" 2>/dev/null || true
  fi
  stop_emulators
  rm -f "$GATEWAY_LOG"
}
trap cleanup EXIT

HTTP_PORT="$(free_port_pair)"
WS_PORT=$((HTTP_PORT + 1))
BASE_URL="http://127.0.0.1:$HTTP_PORT"
# The offline rules stream their answer a word per ASSISTANT_RULES_WORD_MS: slow enough here
# (about 4 s for the 33 words of "help") that the test sees a reply grow and can stop one.
HTTP_PORT="$HTTP_PORT" WS_PORT="$WS_PORT" TABLE_NAME="browser-test-$$" LOG_FORMAT=text WEB_ROOT="$ROOT/web" \
  ASSISTANT_RULES_WORD_MS="${ASSISTANT_RULES_WORD_MS:-120}" \
  "$GATEWAY" >"$GATEWAY_LOG" 2>&1 &
GATEWAY_PID=$!

started=""
for _ in $(seq 1 600); do
  if curl -fs -o /dev/null "$BASE_URL/health"; then
    started=yes
    break
  fi
  if ! kill -0 "$GATEWAY_PID" 2>/dev/null; then break; fi
  sleep 0.1
done
if [[ -z "$started" ]]; then
  echo "browser-test: the gateway did not answer on $BASE_URL/health; its log:" >&2
  cat "$GATEWAY_LOG" >&2
  exit 1
fi
echo "browser-test: gateway on $BASE_URL (WebSocket ws://127.0.0.1:$WS_PORT), table browser-test-$$" >&2

status=0
# The test reads the verification codes where a developer would: the gateway's output.
BASE_URL="$BASE_URL" GATEWAY_LOG="$GATEWAY_LOG" node "$ROOT/tests/browser/chat.e2e.mjs" || status=$?
if [[ $status -ne 0 ]]; then
  echo "browser-test: FAILED (exit $status); screenshots in tests/browser/screenshots/; the gateway's log:" >&2
  cat "$GATEWAY_LOG" >&2
fi
exit "$status"
