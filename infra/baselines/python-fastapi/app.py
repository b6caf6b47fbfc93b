"""A peer baseline for `make bench`: the three operations of the cold-start comparison written
the way a Python team would write them on Lambda (FastAPI + Mangum + boto3, served by
`awslambdaric`), against the same table and tokens as the Rust functions.

- GET /me: verify the bearer token, read the profile.
- POST /channels/{id}/messages: verify the token, read the membership, store the message in
  one transaction (the message and its `client_id` claim, with the membership checked).
- $connect: verify the token in the query string, store the connection, add it to the profile.

It is a yardstick, not a second implementation: no rate limits, blocks or pushes.
"""

import json
import os
import time
import uuid
from datetime import datetime, timezone

import boto3
import jwt
from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.responses import JSONResponse
from mangum import Mangum

TABLE = os.environ["TABLE_NAME"]
SECRET = os.environ["JWT_SECRET"]
dynamodb = boto3.client("dynamodb")

app = FastAPI()


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def user_of(token: str) -> str:
    try:
        return jwt.decode(token, SECRET, algorithms=["HS256"], issuer="chat-backend")["sub"]
    except jwt.PyJWTError as error:
        raise HTTPException(status_code=401, detail=str(error)) from error


def caller(authorization: str = Header(default="")) -> str:
    if not authorization.startswith("Bearer "):
        raise HTTPException(status_code=401, detail="missing bearer token")
    return user_of(authorization[len("Bearer "):])


@app.exception_handler(HTTPException)
async def error_shape(_: Request, error: HTTPException) -> JSONResponse:
    code = {401: "unauthorized", 404: "not_found", 400: "bad_request"}.get(error.status_code, "error")
    return JSONResponse({"error": {"code": code, "message": error.detail}}, status_code=error.status_code)


@app.get("/me")
def me(user: str = Depends(caller)):
    item = dynamodb.get_item(
        TableName=TABLE, Key={"pk": {"S": f"USER#{user}"}, "sk": {"S": "PROFILE"}}
    ).get("Item")
    if item is None:
        raise HTTPException(status_code=401, detail="the account no longer exists")
    return {
        "id": item["id"]["S"],
        "email": item["email"]["S"],
        "name": item["name"]["S"],
        "created_at": item["created_at"]["S"],
    }


@app.post("/channels/{channel_id}/messages", status_code=201)
async def send(channel_id: str, request: Request, user: str = Depends(caller)):
    payload = await request.json()
    body = payload.get("body")
    if not isinstance(body, str) or not body.strip() or len(body) > 4000:
        raise HTTPException(status_code=400, detail="body must be 1 to 4000 characters")
    member_key = {"pk": {"S": f"CHAN#{channel_id}"}, "sk": {"S": f"MEMBER#{user}"}}
    if "Item" not in dynamodb.get_item(TableName=TABLE, Key=member_key, ConsistentRead=True):
        raise HTTPException(status_code=404, detail="channel not found")
    message_id = str(uuid.uuid4())
    created_at = now()
    client_id = payload.get("client_id") or message_id
    dynamodb.transact_write_items(
        TransactItems=[
            {"Put": {
                "TableName": TABLE,
                "Item": {
                    "pk": {"S": f"CHAN#{channel_id}"}, "sk": {"S": f"MSG#{message_id}"},
                    "entity": {"S": "baseline_message"}, "id": {"S": message_id},
                    "sender_id": {"S": user}, "body": {"S": body}, "created_at": {"S": created_at},
                },
                "ConditionExpression": "attribute_not_exists(pk)",
            }},
            {"Put": {
                "TableName": TABLE,
                "Item": {
                    "pk": {"S": f"CHAN#{channel_id}"},
                    "sk": {"S": f"BASELINE_CLIENT#{user}#{client_id}#{message_id}"},
                    "message_id": {"S": message_id},
                },
                "ConditionExpression": "attribute_not_exists(pk)",
            }},
            {"ConditionCheck": {
                "TableName": TABLE, "Key": member_key,
                "ConditionExpression": "attribute_exists(pk)",
            }},
        ]
    )
    return {"id": message_id, "channel_id": channel_id, "sender_id": user, "body": body,
            "created_at": created_at}


http = Mangum(app, lifespan="off")


def connect(event: dict) -> dict:
    token = (event.get("queryStringParameters") or {}).get("token", "")
    try:
        user = user_of(token)
    except HTTPException:
        return {"statusCode": 401, "body": json.dumps({"error": {"code": "unauthorized"}})}
    connection = event["requestContext"]["connectionId"]
    expires = int(time.time()) + 3 * 60 * 60
    dynamodb.put_item(
        TableName=TABLE,
        Item={"pk": {"S": f"BASELINE_CONN#{connection}"}, "sk": {"S": "CONN"},
              "user_id": {"S": user}, "expires_at": {"N": str(expires)}},
    )
    dynamodb.update_item(
        TableName=TABLE,
        Key={"pk": {"S": f"USER#{user}"}, "sk": {"S": "PROFILE"}},
        UpdateExpression="SET connections.#c = :e",
        ConditionExpression="attribute_exists(pk)",
        ExpressionAttributeNames={"#c": connection},
        ExpressionAttributeValues={":e": {"N": str(expires)}},
    )
    return {"statusCode": 200}


def handler(event: dict, context) -> dict:
    """One entry point, as one Lambda function per stack: WebSocket events by their route."""
    if event.get("requestContext", {}).get("routeKey") == "$connect":
        return connect(event)
    return http(event, context)
