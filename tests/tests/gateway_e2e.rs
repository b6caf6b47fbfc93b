//! End to end over real HTTP: the local gateway on a free port, a real HTTP client, the
//! README's walk-through (register, log in, request, accept, list partnerships).

use integration_tests::{unique, TestEnv};
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn start_gateway(env: &TestEnv) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let ctx = env.ctx.clone();
    tokio::spawn(async move { local_gateway::serve_http(listener, ctx).await });
    base
}

#[tokio::test]
async fn walk_through_over_http() {
    let env = TestEnv::new().await;
    let base = start_gateway(&env).await;
    let http = reqwest::Client::new();

    let health = http.get(format!("{base}/health")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    assert!(health.headers().contains_key("x-request-id"));

    let mut tokens = Vec::new();
    let mut ids = Vec::new();
    for name in ["Ada", "Bob"] {
        let email = format!("{}@example.com", unique(name));
        let registered = http
            .post(format!("{base}/auth/register"))
            .json(&json!({"email": email, "name": name, "password": "correct horse"}))
            .send()
            .await
            .unwrap();
        assert_eq!(registered.status(), StatusCode::CREATED);
        let login: Value = http
            .post(format!("{base}/auth/login"))
            .json(&json!({"email": email, "password": "correct horse"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        tokens.push(login["token"].as_str().unwrap().to_string());
        ids.push(login["user"]["id"].as_str().unwrap().to_string());
    }

    let request: Value = http
        .post(format!("{base}/partner-requests"))
        .bearer_auth(&tokens[0])
        .json(&json!({"recipient_id": ids[1], "message": "hi"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(request["status"], "pending");

    let inbox: Value = http
        .get(format!(
            "{base}/partner-requests/received?status=pending&limit=10"
        ))
        .bearer_auth(&tokens[1])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(inbox["items"][0]["id"], request["id"]);

    let accepted = http
        .post(format!(
            "{base}/partner-requests/{}/accept",
            request["id"].as_str().unwrap()
        ))
        .bearer_auth(&tokens[1])
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), StatusCode::OK);

    let partnerships: Value = http
        .get(format!("{base}/partnerships"))
        .bearer_auth(&tokens[0])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        partnerships["items"][0]["user"],
        json!({"id": ids[1], "name": "Bob"})
    );
}

#[tokio::test]
async fn the_gateway_answers_in_the_contract_shape_for_what_no_function_sees() {
    let env = TestEnv::new().await;
    let base = start_gateway(&env).await;
    let http = reqwest::Client::new();

    let unknown = http.get(format!("{base}/nowhere")).send().await.unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert!(unknown.headers().contains_key("x-request-id"));
    let body: Value = unknown.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");

    let wrong_method = http.put(format!("{base}/me")).send().await.unwrap();
    assert_eq!(wrong_method.status(), StatusCode::NOT_FOUND);

    let big = http
        .post(format!("{base}/auth/register"))
        .header("content-type", "application/json")
        .body(vec![b' '; 65 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(big.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = big.json().await.unwrap();
    assert_eq!(body["error"]["code"], "payload_too_large");

    let invalid_utf8 = http
        .post(format!("{base}/auth/login"))
        .header("content-type", "application/json")
        .body(vec![0xff, 0xfe, b'{', b'}'])
        .send()
        .await
        .unwrap();
    assert_eq!(invalid_utf8.status(), StatusCode::BAD_REQUEST);

    let openapi: Value = http
        .get(format!("{base}/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(openapi["openapi"], "3.1.0");
}

/// A whole conversation over HTTP: create a channel, send, reply in a thread, react, edit,
/// delete, mark read, page the history.
#[tokio::test]
async fn a_conversation_over_http() {
    let env = TestEnv::new().await;
    let base = start_gateway(&env).await;
    let http = reqwest::Client::new();
    let ada = env.register("Ada").await;
    let bob = env.register("Bob").await;
    let call = |method: reqwest::Method, path: String, token: &str, body: Option<Value>| {
        let mut request = http
            .request(method, format!("{base}{path}"))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status();
            let text = response.text().await.unwrap();
            (
                status,
                serde_json::from_str::<Value>(&text).unwrap_or(Value::Null),
            )
        }
    };
    use reqwest::Method;

    let (status, channel) = call(
        Method::POST,
        "/channels".into(),
        &ada.token,
        Some(json!({"name": "Launch", "member_ids": [bob.id]})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let id = channel["id"].as_str().unwrap().to_string();
    let messages = format!("/channels/{id}/messages");

    let (status, hello) = call(
        Method::POST,
        messages.clone(),
        &ada.token,
        Some(json!({"body": "Hello Bob", "client_id": "a-1"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, again) = call(
        Method::POST,
        messages.clone(),
        &ada.token,
        Some(json!({"body": "Hello Bob", "client_id": "a-1"})),
    )
    .await;
    assert_eq!(
        (status, &again["id"]),
        (StatusCode::OK, &hello["id"]),
        "a retried send answers the original"
    );
    let hello_id = hello["id"].as_str().unwrap();

    let (status, reply) = call(
        Method::POST,
        messages.clone(),
        &bob.token,
        Some(json!({"body": "Hi Ada", "parent_id": hello_id})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, thread) = call(
        Method::GET,
        format!("{messages}/{hello_id}/replies"),
        &ada.token,
        None,
    )
    .await;
    assert_eq!(thread["items"][0]["id"], reply["id"]);

    let (status, reacted) = call(
        Method::PUT,
        format!("{messages}/{hello_id}/reactions/%F0%9F%8E%89"),
        &bob.token,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(reacted["reactions"]["🎉"], json!([bob.id]));

    let (status, edited) = call(
        Method::PATCH,
        format!("{messages}/{hello_id}"),
        &ada.token,
        Some(json!({"body": "Hello, Bob!"})),
    )
    .await;
    assert_eq!(
        (status, edited["body"].as_str()),
        (StatusCode::OK, Some("Hello, Bob!"))
    );

    let (_, oops) = call(
        Method::POST,
        messages.clone(),
        &ada.token,
        Some(json!({"body": "wrong channel, sorry"})),
    )
    .await;
    let (status, _) = call(
        Method::DELETE,
        format!("{messages}/{}", oops["id"].as_str().unwrap()),
        &ada.token,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let (status, marker) = call(
        Method::POST,
        format!("/channels/{id}/read"),
        &bob.token,
        Some(json!({"message_id": hello_id})),
    )
    .await;
    assert_eq!(
        (status, marker["last_read_message_id"].as_str()),
        (StatusCode::OK, Some(hello_id))
    );
    let (_, receipts) = call(
        Method::GET,
        format!("/channels/{id}/read-receipts"),
        &ada.token,
        None,
    )
    .await;
    assert_eq!(receipts["items"][0]["user_id"], bob.id.as_str());

    let (_, first) = call(
        Method::GET,
        format!("{messages}?limit=1&order=asc"),
        &bob.token,
        None,
    )
    .await;
    assert_eq!(first["items"][0]["body"], "Hello, Bob!");
    assert_eq!(first["items"][0]["reply_count"], 1);
    let cursor = first["next_cursor"].as_str().unwrap();
    let (_, rest) = call(
        Method::GET,
        format!("{messages}?limit=10&order=asc&cursor={cursor}"),
        &bob.token,
        None,
    )
    .await;
    let bodies: Vec<&str> = rest["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(
        bodies,
        ["Hi Ada"],
        "the deleted message is gone from the history"
    );
    assert_eq!(rest["next_cursor"], Value::Null);
}
