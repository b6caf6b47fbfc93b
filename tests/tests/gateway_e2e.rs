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
