// A peer baseline for `make bench`: the three operations of the cold-start comparison written
// the way a Node team would write them on Lambda (the AWS SDK v3, as in AWS's WebSocket chat
// sample; served by `aws-lambda-ric`), against the same table and tokens as the Rust functions.
// It is a yardstick, not a second implementation: no rate limits, blocks or pushes.
import { randomUUID } from "node:crypto";
import {
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import jwt from "jsonwebtoken";

const TABLE = process.env.TABLE_NAME;
const SECRET = process.env.JWT_SECRET;
const dynamodb = new DynamoDBClient({});

const json = (statusCode, body) => ({
  statusCode,
  headers: { "content-type": "application/json" },
  body: JSON.stringify(body),
});
const refused = (statusCode, code, message) => json(statusCode, { error: { code, message } });

function userOf(token) {
  try {
    return jwt.verify(token, SECRET, { algorithms: ["HS256"], issuer: "chat-backend" }).sub;
  } catch {
    return null;
  }
}

async function me(user) {
  const { Item } = await dynamodb.send(
    new GetItemCommand({ TableName: TABLE, Key: { pk: { S: `USER#${user}` }, sk: { S: "PROFILE" } } }),
  );
  if (!Item) return refused(401, "unauthorized", "the account no longer exists");
  return json(200, { id: Item.id.S, email: Item.email.S, name: Item.name.S, created_at: Item.created_at.S });
}

async function send(user, channelId, raw) {
  let payload;
  try {
    payload = JSON.parse(raw ?? "");
  } catch {
    return refused(400, "bad_request", "the body is not JSON");
  }
  const body = payload.body;
  if (typeof body !== "string" || !body.trim() || body.length > 4000) {
    return refused(400, "bad_request", "body must be 1 to 4000 characters");
  }
  const memberKey = { pk: { S: `CHAN#${channelId}` }, sk: { S: `MEMBER#${user}` } };
  const { Item } = await dynamodb.send(new GetItemCommand({ TableName: TABLE, Key: memberKey, ConsistentRead: true }));
  if (!Item) return refused(404, "not_found", "channel not found");
  const id = randomUUID();
  const createdAt = new Date().toISOString();
  const clientId = payload.client_id ?? id;
  await dynamodb.send(
    new TransactWriteItemsCommand({
      TransactItems: [
        {
          Put: {
            TableName: TABLE,
            Item: {
              pk: { S: `CHAN#${channelId}` }, sk: { S: `MSG#${id}` }, entity: { S: "baseline_message" },
              id: { S: id }, sender_id: { S: user }, body: { S: body }, created_at: { S: createdAt },
            },
            ConditionExpression: "attribute_not_exists(pk)",
          },
        },
        {
          Put: {
            TableName: TABLE,
            Item: {
              pk: { S: `CHAN#${channelId}` }, sk: { S: `BASELINE_CLIENT#${user}#${clientId}#${id}` },
              message_id: { S: id },
            },
            ConditionExpression: "attribute_not_exists(pk)",
          },
        },
        { ConditionCheck: { TableName: TABLE, Key: memberKey, ConditionExpression: "attribute_exists(pk)" } },
      ],
    }),
  );
  return json(201, { id, channel_id: channelId, sender_id: user, body, created_at: createdAt });
}

async function connect(event) {
  const user = userOf(event.queryStringParameters?.token ?? "");
  if (!user) return refused(401, "unauthorized", "invalid token");
  const connection = event.requestContext.connectionId;
  const expires = String(Math.floor(Date.now() / 1000) + 3 * 60 * 60);
  await dynamodb.send(
    new PutItemCommand({
      TableName: TABLE,
      Item: { pk: { S: `BASELINE_CONN#${connection}` }, sk: { S: "CONN" }, user_id: { S: user }, expires_at: { N: expires } },
    }),
  );
  await dynamodb.send(
    new UpdateItemCommand({
      TableName: TABLE,
      Key: { pk: { S: `USER#${user}` }, sk: { S: "PROFILE" } },
      UpdateExpression: "SET connections.#c = :e",
      ConditionExpression: "attribute_exists(pk)",
      ExpressionAttributeNames: { "#c": connection },
      ExpressionAttributeValues: { ":e": { N: expires } },
    }),
  );
  return { statusCode: 200 };
}

/** One entry point, as one Lambda function per stack: routed on the event's route key. */
export async function handler(event) {
  if (event.requestContext?.routeKey === "$connect") return connect(event);
  const user = userOf((event.headers?.authorization ?? "").replace(/^Bearer /, ""));
  if (!user) return refused(401, "unauthorized", "missing or invalid bearer token");
  switch (event.routeKey) {
    case "GET /me":
      return me(user);
    case "POST /channels/{id}/messages":
      return send(user, event.pathParameters.id, event.body);
    default:
      return refused(404, "not_found", "no such route");
  }
}
