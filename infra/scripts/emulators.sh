# Sourced by dev.sh and with-emulators.sh: starts DynamoDB Local and moto on free ports,
# waits until they answer, exports their endpoints, and stops them by PID on exit.
# shellcheck shell=bash
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LOCAL="$ROOT/.local"
EMULATOR_PIDS=()

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

wait_for_http() { # url name pid
  local i
  for i in $(seq 1 600); do
    if curl -s -o /dev/null "$1"; then return 0; fi
    if ! kill -0 "$3" 2>/dev/null; then echo "$2 exited during start-up; its log:" >&2; cat "$4" >&2; return 1; fi
    sleep 0.1
  done
  echo "$2 did not answer on $1 within 60 s; its log:" >&2; cat "$4" >&2; return 1
}

stop_emulators() {
  local pid
  for pid in "${EMULATOR_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${EMULATOR_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  EMULATOR_PIDS=()
}

start_emulators() {
  local run ddb_dir ddb_port moto_port
  run="$(mktemp -d "${TMPDIR:-/tmp}/chat-emulators.XXXXXX")"
  ddb_dir="$LOCAL/dynamodb/node_modules/amplify-dynamodb-simulator/emulator"
  ddb_port="${DYNAMODB_PORT:-$(free_port)}"
  moto_port="${MOTO_PORT:-$(free_port)}"

  # DynamoDB Local writes a metadata file into its working directory: give it a scratch one.
  (cd "$run" && exec java -Djava.library.path="$ddb_dir/DynamoDBLocal_lib" -jar "$ddb_dir/DynamoDBLocal.jar" \
      -inMemory -disableTelemetry -sharedDb -port "$ddb_port" >"$run/dynamodb.log" 2>&1) &
  EMULATOR_PIDS+=("$!")
  local ddb_pid=$!
  "$LOCAL/venv-moto/bin/moto_server" -H 127.0.0.1 -p "$moto_port" >"$run/moto.log" 2>&1 &
  EMULATOR_PIDS+=("$!")
  local moto_pid=$!
  trap stop_emulators EXIT
  trap 'exit 130' INT TERM

  wait_for_http "http://127.0.0.1:$ddb_port" "DynamoDB Local" "$ddb_pid" "$run/dynamodb.log"
  wait_for_http "http://127.0.0.1:$moto_port/moto-api/" "moto server" "$moto_pid" "$run/moto.log"

  export DYNAMODB_ENDPOINT="http://127.0.0.1:$ddb_port"
  export MOTO_ENDPOINT="http://127.0.0.1:$moto_port"
  export AWS_ENDPOINT_URL_DYNAMODB="$DYNAMODB_ENDPOINT"
  export AWS_ENDPOINT_URL_SQS="$MOTO_ENDPOINT"
  export AWS_ENDPOINT_URL_SES="$MOTO_ENDPOINT"
  export AWS_ENDPOINT_URL_S3="$MOTO_ENDPOINT"
  export AWS_ENDPOINT_URL_SECRETS_MANAGER="$MOTO_ENDPOINT"
  export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-local}"
  export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-local}"
  export AWS_REGION="${AWS_REGION:-us-east-1}"
  export EMULATOR_LOG_DIR="$run"
}
