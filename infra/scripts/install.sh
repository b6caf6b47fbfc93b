#!/usr/bin/env bash
# Installs whatever this machine lacks into .local/ (git-ignored). Safe to run repeatedly:
# every step is skipped when its result exists.
#   install.sh dev   what the local stack runs on (`make dev`): Java, DynamoDB Local, moto
#   install.sh all   that, and what the tests, lints and builds need (`make test`, `make build`):
#                    rustfmt/clippy, the arm64 target, SAM CLI + cfn-lint + cargo-lambda + zig,
#                    schemathesis, Chromium and playwright-core
set -euo pipefail
MODE="${1:-all}"
case "$MODE" in dev|all) ;; *) echo "usage: install.sh [dev|all]" >&2; exit 2 ;; esac
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
LOCAL="$ROOT/.local"
mkdir -p "$LOCAL"

log() { printf '\033[1m[install]\033[0m %s\n' "$*" >&2; }

apt_updated=""
apt_install() {
  if ! command -v apt-get >/dev/null; then
    log "missing $* and no apt-get: install it with your package manager"; exit 1
  fi
  local sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  if [ -z "$apt_updated" ]; then $sudo apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

command -v curl >/dev/null || { log "installing curl"; apt_install curl ca-certificates; }
command -v java >/dev/null || { log "installing Java 17 (DynamoDB Local)"; apt_install openjdk-17-jre-headless; }
command -v npm >/dev/null || { log "installing Node.js and npm"; apt_install nodejs npm; }
command -v python3 >/dev/null || { log "installing Python 3"; apt_install python3 python3-venv; }
python3 -c 'import venv, ensurepip' 2>/dev/null || { log "installing python3-venv"; apt_install python3-venv; }

# DynamoDB Local (the official jar) ships inside this npm package; AWS's own download is not reachable.
DDB_DIR="$LOCAL/dynamodb"
if [ ! -f "$DDB_DIR/node_modules/amplify-dynamodb-simulator/emulator/DynamoDBLocal.jar" ]; then
  log "installing DynamoDB Local into $DDB_DIR"
  mkdir -p "$DDB_DIR"
  npm install --prefix "$DDB_DIR" --no-audit --no-fund --silent amplify-dynamodb-simulator >/dev/null
fi

# moto server (SQS, SES) in its own venv.
MOTO_VENV="$LOCAL/venv-moto"
if [ ! -x "$MOTO_VENV/bin/moto_server" ]; then
  log "installing moto server into $MOTO_VENV"
  python3 -m venv "$MOTO_VENV"
  "$MOTO_VENV/bin/pip" install -q --disable-pip-version-check 'moto[server]'
fi

if [ "$MODE" = dev ]; then
  log "local stack tools ready in $LOCAL"
  exit 0
fi

# Lint components of the toolchain rustup installed.
if command -v rustup >/dev/null; then
  for component in rustfmt clippy; do
    rustup component list --installed 2>/dev/null | grep -q "^$component" || { log "adding $component"; rustup component add "$component"; }
  done
  # Lambda functions are built for arm64 (Graviton) by `make build`.
  rustup target list --installed 2>/dev/null | grep -q '^aarch64-unknown-linux-gnu$' \
    || { log "adding the aarch64-unknown-linux-gnu target"; rustup target add aarch64-unknown-linux-gnu; }
fi

# AWS SAM CLI, cfn-lint, cargo-lambda and zig (cargo-lambda's cross linker) in one venv.
SAM_VENV="$LOCAL/venv-sam"
if [ ! -x "$SAM_VENV/bin/cargo-lambda" ] || [ ! -x "$SAM_VENV/bin/sam" ] || [ ! -x "$SAM_VENV/bin/cfn-lint" ]; then
  log "installing aws-sam-cli, cfn-lint, cargo-lambda and ziglang into $SAM_VENV"
  python3 -m venv "$SAM_VENV"
  "$SAM_VENV/bin/pip" install -q --disable-pip-version-check aws-sam-cli cfn-lint cargo-lambda ziglang
fi
# schemathesis (contract fuzzing against the OpenAPI document) in its own venv.
FUZZ_VENV="$LOCAL/venv-schemathesis"
if [ ! -x "$FUZZ_VENV/bin/schemathesis" ]; then
  log "installing schemathesis into $FUZZ_VENV"
  python3 -m venv "$FUZZ_VENV"
  "$FUZZ_VENV/bin/pip" install -q --disable-pip-version-check 'schemathesis==4.32.5' 'hypothesis==6.170.17'
fi
# The web client's browser test: Debian's Chromium (no browser download) and playwright-core.
# The emoji font only makes reactions render in the screenshots.
if ! command -v chromium >/dev/null && [ ! -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then
  log "installing Chromium (browser test)"; apt_install chromium fonts-noto-color-emoji
fi
if [ ! -d "$ROOT/tests/browser/node_modules/playwright-core" ]; then
  log "installing playwright-core into tests/browser/node_modules"
  npm ci --prefix "$ROOT/tests/browser" --no-audit --no-fund --silent >/dev/null
fi
log "test, lint and build tools ready in $LOCAL"
