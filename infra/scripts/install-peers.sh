#!/usr/bin/env bash
# The peer baselines of `make bench` (infra/baselines/), installed under .local/peers/: a Python
# virtual environment with FastAPI, Mangum, boto3 and awslambdaric, and the Node baseline with
# the AWS SDK v3 and aws-lambda-ric 3.x (Node 20 or later; its native part needs cmake, make,
# g++, autoconf, automake and libtool, installed here with apt where missing). Each is installed
# again only when its manifest changed.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
PEERS="$ROOT/.local/peers"
BASELINES="$ROOT/infra/baselines"
mkdir -p "$PEERS"

python_manifest="$BASELINES/python-fastapi/requirements.txt"
if ! cmp -s "$python_manifest" "$PEERS/python/requirements.txt" 2>/dev/null; then
  echo "[install] Python peer baseline into $PEERS/python" >&2
  rm -rf "$PEERS/python"
  python3 -m venv "$PEERS/python"
  "$PEERS/python/bin/pip" install --quiet --disable-pip-version-check -r "$python_manifest"
  cp "$python_manifest" "$PEERS/python/requirements.txt"
fi

if ! command -v cmake >/dev/null && command -v apt-get >/dev/null; then
  echo "[install] cmake and the build tools of aws-lambda-ric (apt)" >&2
  apt="apt-get"
  [ "$(id -u)" -eq 0 ] || apt="sudo apt-get"
  $apt install -y -qq cmake autoconf automake libtool g++ make >/dev/null
fi

node_manifest="$BASELINES/node-sdk-v3/package.json"
if ! cmp -s "$node_manifest" "$PEERS/node/package.json" 2>/dev/null; then
  echo "[install] Node peer baseline into $PEERS/node" >&2
  rm -rf "$PEERS/node"
  mkdir -p "$PEERS/node/install"
  cp "$node_manifest" "$PEERS/node/install/package.json"
  if (cd "$PEERS/node/install" && npm install --silent --no-audit --no-fund --omit=dev); then
    mv "$PEERS/node/install/node_modules" "$PEERS/node/node_modules"
    cp "$node_manifest" "$PEERS/node/package.json"
  else
    echo "[install] the Node baseline did not install (aws-lambda-ric builds native code); it is left out" >&2
  fi
  rm -rf "$PEERS/node/install"
fi
# The code itself is copied every time (the modules live beside it).
cp "$BASELINES/node-sdk-v3/index.mjs" "$PEERS/node/index.mjs"
