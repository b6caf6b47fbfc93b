//! End to end over real HTTP: the local gateway on a free port, the typed client over HTTP,
//! the README's walk-through (register, log in, request, accept, list partnerships).

use integration_tests::{spawn_gateway, Api, TestEnv};
use serde_json::{json, Value};

/// A gateway over a fresh environment, and a client of it over HTTP.
async fn over_http() -> (TestEnv, Api) {
    let env = TestEnv::new().await;
    let api = Api::over_http(spawn_gateway(env.ctx.clone()).await);
    (env, api)
}

#[tokio::test]
async fn walk_through_over_http() {
    let (_env, api) = over_http().await;

    let health = api.call("GET", "/health", None, None).await;
    assert_eq!(health.status, 200);
    assert!(health.headers.contains_key("x-request-id"));

    let (ada, bob) = (api.register("Ada").await, api.register("Bob").await);
    let login = api.login(&ada.email, &ada.password).await;
    assert_eq!(login.status, 200);
    assert_eq!(login.body["user"]["id"], ada.id.as_str());

    let request = api
        .send_request(&ada, json!({"recipient_id": bob.id, "message": "hi"}))
        .await;
    assert_eq!(request.body["status"], "pending");

    let inbox = api
        .get(&bob, "/partner-requests/received?status=pending&limit=10")
        .await;
    assert_eq!(inbox.body["items"][0]["id"], request.body["id"]);

    let path = format!("/partner-requests/{}/accept", request.id());
    assert_eq!(api.post(&bob, &path, None).await.status, 200);

    let partnerships = api.partnerships(&ada).await;
    assert_eq!(
        partnerships.body["items"][0]["user"],
        json!({"id": bob.id, "name": "Bob"})
    );
}

#[tokio::test]
async fn the_gateway_answers_in_the_contract_shape_for_what_no_function_sees() {
    let (_env, api) = over_http().await;

    let unknown = api.call("GET", "/nowhere", None, None).await;
    assert_eq!((unknown.status, unknown.code()), (404, "not_found"));
    assert!(unknown.headers.contains_key("x-request-id"));

    assert_eq!(api.call("PUT", "/me", None, None).await.status, 404);

    let json_type = [("content-type", "application/json")];
    let big = api
        .call_raw("POST", "/auth/register", &json_type, &vec![b' '; 65 * 1024])
        .await;
    assert_eq!((big.status, big.code()), (413, "payload_too_large"));

    let invalid_utf8 = api
        .call_raw("POST", "/auth/login", &json_type, &[0xff, 0xfe, b'{', b'}'])
        .await;
    assert_eq!(invalid_utf8.status, 400);

    let openapi = api.call("GET", "/openapi.json", None, None).await;
    assert_eq!(openapi.body["openapi"], "3.1.0");
}

/// A whole conversation over HTTP: create a channel, send, reply in a thread, react, edit,
/// delete, mark read, page the history.
#[tokio::test]
async fn a_conversation_over_http() {
    let (_env, api) = over_http().await;
    let (ada, bob) = (api.register("Ada").await, api.register("Bob").await);
    api.befriend(&ada, &bob).await;

    let channel = api
        .create_channel(&ada, json!({"name": "Launch", "member_ids": [bob.id]}))
        .await;
    assert_eq!(channel.status, 201);
    let id = channel.id();
    let messages = format!("/channels/{id}/messages");

    let first_send = json!({"body": "Hello Bob", "client_id": "a-1"});
    let hello = api.send_message(&ada, &id, first_send.clone()).await;
    assert_eq!(hello.status, 201);
    let again = api.send_message(&ada, &id, first_send).await;
    assert_eq!(
        (again.status, &again.body["id"]),
        (200, &hello.body["id"]),
        "a retried send answers the original"
    );
    let hello_id = hello.id();

    let reply = api
        .send_message(&bob, &id, json!({"body": "Hi Ada", "parent_id": hello_id}))
        .await;
    assert_eq!(reply.status, 201);
    let thread = api
        .get(&ada, &format!("{messages}/{hello_id}/replies"))
        .await;
    assert_eq!(thread.body["items"][0]["id"], reply.body["id"]);

    let reacted = api
        .put(
            &bob,
            &format!("{messages}/{hello_id}/reactions/%F0%9F%8E%89"),
        )
        .await;
    assert_eq!(reacted.status, 200);
    assert_eq!(reacted.body["reactions"]["🎉"], json!([bob.id]));

    let edited = api
        .patch(
            &ada,
            &format!("{messages}/{hello_id}"),
            json!({"body": "Hello, Bob!"}),
        )
        .await;
    assert_eq!(
        (edited.status, edited.body["body"].as_str()),
        (200, Some("Hello, Bob!"))
    );

    let oops = api.say(&ada, &id, "wrong channel, sorry").await;
    let deleted = api.delete(&ada, &format!("{messages}/{oops}")).await;
    assert_eq!(deleted.status, 204);

    // Bob's reply moved his marker past Ada's hello already (a sender has read what it
    // wrote), so marking the hello read leaves it at his reply; the edit changed nothing.
    let marker = api.mark_read(&bob, &id, &hello_id).await;
    assert_eq!(
        (marker.status, &marker.body["last_read_message_id"]),
        (200, &reply.body["id"])
    );
    let receipts = api.read_receipts(&ada, &id).await;
    assert!(receipts.item_strings("user_id").contains(&bob.id));

    let first = api
        .get(&bob, &format!("{messages}?limit=1&order=asc"))
        .await;
    assert_eq!(first.body["items"][0]["body"], "Hello, Bob!");
    assert_eq!(first.body["items"][0]["reply_count"], 1);
    let cursor = first.body["next_cursor"].as_str().unwrap_or_default();
    let rest = api
        .get(
            &bob,
            &format!("{messages}?limit=10&order=asc&cursor={cursor}"),
        )
        .await;
    let bodies: Vec<&str> = rest.body["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["body"].as_str())
        .collect();
    assert_eq!(
        bodies,
        ["Hi Ada"],
        "the deleted message is gone from the history"
    );
    assert_eq!(rest.body["next_cursor"], Value::Null);
}
