#!/usr/bin/env bash
# Contract fuzzing: schemathesis generates requests from the local stack's own /openapi.json
# (valid and invalid ones, with a real user's token) and checks every answer against the
# document: no 5xx, status codes, content types, headers and bodies as documented.
#   infra/scripts/fuzz-api.sh            bounded run, part of `make test`
#   FUZZ_EXAMPLES=500 FUZZ_TIME=900 infra/scripts/fuzz-api.sh     longer run (`make fuzz`)
# The gateway runs from target/debug (built by `make test` / `make fuzz`) on free ports over
# emulators of its own; everything is stopped by PID on exit.
set -euo pipefail
# shellcheck source=emulators.sh
source "$(dirname "$0")/emulators.sh"
cd "$ROOT"
EXAMPLES="${FUZZ_EXAMPLES:-25}"
MAX_TIME="${FUZZ_TIME:-}"
REPORT_DIR="${FUZZ_REPORT_DIR:-$ROOT/test-artifacts/schemathesis}"
SCHEMATHESIS="$LOCAL/venv-schemathesis/bin/schemathesis"
GATEWAY="$ROOT/target/debug/local-gateway"
[ -x "$SCHEMATHESIS" ] || { echo "schemathesis is missing: run make install" >&2; exit 1; }
[ -x "$GATEWAY" ] || { echo "$GATEWAY is missing: cargo build -p local-gateway" >&2; exit 1; }

start_emulators
http_port="$(free_port)"
ws_port="$(free_port)"
gateway_log="$EMULATOR_LOG_DIR/gateway.log"
HTTP_PORT="$http_port" WS_PORT="$ws_port" TABLE_NAME="fuzz-$$" LOG_FORMAT=json \
  "$GATEWAY" >"$gateway_log" 2>&1 &
EMULATOR_PIDS+=("$!")
base="http://127.0.0.1:$http_port"
wait_for_http "$base/health" "local gateway" "$!" "$gateway_log"

# Test data, so the operations that take ids reach their logic instead of a 404: the fuzzing
# user (whose token schemathesis sends) has a partner, a pending request from someone else,
# a group with messages, a channel it may delete or leave, and a public channel to join.
config="$EMULATOR_LOG_DIR/schemathesis.toml"
token="$(BASE="$base" CONFIG="$config" python3 - <<'PY'
import json, os, urllib.request, uuid

base = os.environ["BASE"]

def call(method, path, token=None, body=None):
    request = urllib.request.Request(base + path, method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"content-type": "application/json",
                 **({"authorization": f"Bearer {token}"} if token else {})})
    with urllib.request.urlopen(request) as response:
        text = response.read()
        return json.loads(text) if text else None

def register(name):
    email = f"{name.lower()}-{uuid.uuid4().hex[:12]}@example.com"
    session = call("POST", "/auth/register", body={"email": email, "name": name, "password": "correct horse battery"})
    return session["user"]["id"], session["token"]

fuzz, token = register("Fuzz")
other, other_token = register("Other")
partner, partner_token = register("Partner")
request = call("POST", "/partner-requests", partner_token, {"recipient_id": fuzz})
call("POST", f"/partner-requests/{request['id']}/accept", token)
pending = call("POST", "/partner-requests", other_token, {"recipient_id": fuzz})["id"]
stranger, _ = register("Stranger")
sent = call("POST", "/partner-requests", token, {"recipient_id": stranger})["id"]
group = call("POST", "/channels", token, {"name": "Fuzzing", "member_ids": [partner]})["id"]
message = call("POST", f"/channels/{group}/messages", token, {"body": "fuzz me"})["id"]
doomed_message = call("POST", f"/channels/{group}/messages", token, {"body": "delete me"})["id"]
doomed = call("POST", "/channels", token, {"name": "Doomed", "private": False})["id"]
public = call("POST", "/channels", other_token, {"name": "Open", "private": False})["id"]

# The first [[operations]] entry that matches an operation applies to it.
with open(os.environ["CONFIG"], "w") as config:
    config.write(f"""
# Page cursors are pinned to the first page (empty): any other string is a forged cursor,
# which the contract answers with 400; the abuse and property tests cover those.
[[operations]]
include-operation-id = ["deleteMe", "logout", "logoutAll", "changePassword", "blockUser"]
enabled = false

[[operations]]
include-operation-id = "createChannel"
# Unknown member ids are a 400 by contract, and generated ids are unknown.
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "403", "404", "409"]

[[operations]]
include-operation-id = ["setMemberRole", "removeMember", "transferOwnership"]
# Naming oneself is a 400 (leaving is POST /channels/{{id}}/leave), and the one member id
# the fuzzer knows is its own.
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "403", "404", "409"]

[[operations]]
include-operation-id = "sendMessage"
# Mentions and attachments of no member or file of the channel are a 400 by contract, and
# generated ids are none.
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "403", "404", "409", "429"]

[[operations]]
include-operation-id = "startUpload"
# A size over MAX_ATTACHMENT_BYTES is a 413 by contract (the schema's maximum is its default).
checks.negative_data_rejection.expected-statuses = ["400", "401", "403", "404", "409", "413", "422", "429"]
parameters = {{ "path.id" = "{group}" }}

[[operations]]
include-operation-id = "verifyEmail"
# A wrong code is a 400 by contract, and a generated code is (almost surely) wrong.
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401"]

[[operations]]
include-operation-id = ["deleteChannel", "leaveChannel"]
parameters = {{ "path.id" = "{doomed}" }}

[[operations]]
include-operation-id = "joinChannel"
parameters = {{ "path.id" = "{public}" }}

[[operations]]
include-operation-id = "deleteMessage"
parameters = {{ "path.id" = "{group}", "path.mid" = "{doomed_message}" }}

[[operations]]
include-operation-id = ["addReaction", "removeReaction"]
# The stateful phase ignores the emoji's pattern; the property tests cover emoji parsing.
parameters = {{ "path.id" = "{group}", "path.mid" = "{message}", "path.emoji" = "🎉" }}

[[operations]]
include-path-regex = "^/channels/[{{]id[}}]"
parameters = {{ "path.id" = "{group}", "path.mid" = "{message}", "query.cursor" = "" }}

[[operations]]
include-operation-id = "cancelPartnerRequest"
parameters = {{ "path.id" = "{sent}" }}

[[operations]]
include-path-regex = "^/partner-requests/[{{]id[}}]"
parameters = {{ "path.id" = "{pending}" }}

[[operations]]
include-operation-id = "endPartnership"
parameters = {{ "path.user_id" = "{partner}" }}

[[operations]]
include-path-regex = "^/users/[{{]id[}}]"
parameters = {{ "path.id" = "{other}" }}

[[operations]]
include-path-regex = "^/(users|channels|channels/public|partnerships|partner-requests/(sent|received)|me/blocks|search/messages)$"
parameters = {{ "query.cursor" = "" }}
""")

print(token)
PY
)"

mkdir -p "$REPORT_DIR"
# `DELETE /me`, the sign-outs and the password change are left out (config above): each would
# end the fuzzing user's session halfway through the run (and a block its partnership); the integration tests cover them. `unsupported_method` is left out because
# API Gateway's HTTP API itself answers a method no route has with 404 before any function
# runs, so 405 cannot be promised (the local gateway does the same).
# One worker: with two, hypothesis parses lambda sources on two threads at once, which CPython
# 3.11 can fail with "AST constructor recursion depth mismatch" (seen here in CI, a tool
# error, not a finding).
# `ensure_resource_availability` is left out because its links are inferred from `id` alone:
# after `POST /channels` it follows to `/channels/{id}/messages/{mid}` with the new channel
# and the `mid` this config pins to a message of the fixture group, which is rightly a 404.
args=(--config-file "$config" run "$base/openapi.json"
  --header "Authorization: Bearer $token"
  --checks all
  --exclude-checks unsupported_method,ensure_resource_availability
  --max-examples "$EXAMPLES"
  --workers 1
  --generation-database none
  --report junit --report-dir "$REPORT_DIR"
  --no-color)
[ -n "$MAX_TIME" ] && args+=(--max-time "$MAX_TIME")
if ! "$SCHEMATHESIS" "${args[@]}" "$@"; then
  echo "schemathesis found failures; the gateway's log: $gateway_log (report in $REPORT_DIR)" >&2
  cp "$gateway_log" "$REPORT_DIR/gateway.log" 2>/dev/null || true
  exit 1
fi
