#!/usr/bin/env bash
# `make dev`: DynamoDB Local and moto on free ports, then the local gateway in the foreground
# (HTTP API on 127.0.0.1:${HTTP_PORT:-3000}). Ctrl-C stops the gateway, then the emulators
# are stopped by PID.
set -euo pipefail
# shellcheck source=emulators.sh
source "$(dirname "$0")/emulators.sh"
cd "$ROOT"
# The whole workspace, so features unify as in `make test` and artifacts are shared.
cargo build --quiet --workspace
start_emulators
export TABLE_NAME="${TABLE_NAME:-chat}"
export LOG_FORMAT="${LOG_FORMAT:-text}"
echo "emulator logs: $EMULATOR_LOG_DIR" >&2
"$ROOT/target/debug/local-gateway"
