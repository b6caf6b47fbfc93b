#!/usr/bin/env bash
# Runs a command with DynamoDB Local and moto started on free ports, their endpoints in
# DYNAMODB_ENDPOINT / MOTO_ENDPOINT (and AWS_ENDPOINT_URL_*), and stops them by PID afterwards.
#   infra/scripts/with-emulators.sh cargo test --workspace
set -euo pipefail
# shellcheck source=emulators.sh
source "$(dirname "$0")/emulators.sh"
start_emulators
echo "emulators: DynamoDB Local $DYNAMODB_ENDPOINT, moto $MOTO_ENDPOINT (logs in $EMULATOR_LOG_DIR)" >&2
"$@"
