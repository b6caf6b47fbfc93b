//! The real bootstrap binaries under a Lambda Runtime API: each function answers its
//! events/ files through the runtime protocol, with DynamoDB Local and moto behind it.

use integration_tests::runtime_api::{binary_path, Outcome, RuntimeHarness};
use integration_tests::{samples, TestEnv};
use serde_json::Value;

#[tokio::test]
async fn bootstrap_binaries_answer_their_sample_events() {
    let env = TestEnv::new().await;
    let samples = samples::load();
    for function in ["users-api", "partners-api", "channels-api"] {
        let mut harness = RuntimeHarness::start(&binary_path(function), &env.function_env()).await;
        for sample in samples.iter().filter(|s| s.function == function) {
            let Outcome::Response(response) = harness.invoke(sample.event.clone()).await else {
                panic!("{function}/{}: the function reported an error", sample.name);
            };
            assert_eq!(
                response["statusCode"].as_u64(),
                Some(u64::from(sample.expected_status())),
                "{function}/{}: {response}",
                sample.name
            );
            assert!(
                response["headers"]["x-request-id"].is_string(),
                "{response}"
            );
            let body: Value = serde_json::from_str(response["body"].as_str().unwrap_or("null"))
                .unwrap_or(Value::Null);
            if sample.expected_status() >= 400 {
                assert!(
                    body["error"]["code"].is_string(),
                    "{function}/{}: {body}",
                    sample.name
                );
            }
        }
    }
}

#[tokio::test]
async fn a_bootstrap_without_configuration_names_what_is_missing() {
    let output = tokio::process::Command::new(binary_path("partners-api"))
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9")
        .output()
        .await
        .expect("run the binary");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("missing environment variables: TABLE_NAME, NOTIFICATION_QUEUE_URL, MAINTENANCE_QUEUE_URL, ASSISTANT_QUEUE_URL, FANOUT_QUEUE_URL, WEBHOOK_QUEUE_URL, SENDER_EMAIL"),
        "{stderr}"
    );
}

/// Only the functions that sign or verify tokens get `JWT_SECRET`; each of them stops at its
/// start without it, naming it.
#[tokio::test]
async fn a_token_function_without_the_jwt_secret_names_it() {
    let env = TestEnv::new().await;
    let vars: Vec<(String, String)> = env
        .function_env()
        .into_iter()
        .filter(|(name, _)| name != "JWT_SECRET")
        .collect();
    for function in ["users-api", "partners-api", "channels-api", "ws-connect"] {
        let output = tokio::process::Command::new(binary_path(function))
            .env_clear()
            .envs(vars.iter().cloned())
            .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9")
            .output()
            .await
            .expect("run the binary");
        assert!(!output.status.success(), "{function}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("missing environment variables: JWT_SECRET"),
            "{function}: {stderr}"
        );
    }
}

#[tokio::test]
async fn websocket_bootstrap_binaries_answer_their_sample_events() {
    let env = TestEnv::new().await;
    for sample in samples::load_websocket() {
        let mut event = sample.event.clone();
        // Nothing listens there: pushes fail fast, and the function must still answer.
        event["requestContext"]["domainName"] = Value::from("127.0.0.1:9");
        let mut harness =
            RuntimeHarness::start(&binary_path(&sample.function), &env.function_env()).await;
        let Outcome::Response(response) = harness.invoke(event).await else {
            panic!(
                "{}/{}: the function reported an error",
                sample.function, sample.name
            );
        };
        let expected = if sample.function == "ws-connect" {
            401 // the placeholder token
        } else {
            200
        };
        assert_eq!(
            response["statusCode"].as_u64(),
            Some(expected),
            "{}/{}: {response}",
            sample.function,
            sample.name
        );
        if expected == 401 {
            let body: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
            assert_eq!(body["error"]["code"], "unauthorized");
        }
    }
}

#[tokio::test]
async fn worker_bootstrap_binaries_report_the_bad_record_of_their_sample_batch() {
    let env = TestEnv::new().await;
    for (function, name, event) in samples::load_worker_batches() {
        let mut harness = RuntimeHarness::start(&binary_path(&function), &env.function_env()).await;
        let Outcome::Response(response) = harness.invoke(event).await else {
            panic!("{function}/{name}: the function reported an error");
        };
        let failures = response["batchItemFailures"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(failures.len(), 1, "{function}/{name}: {response}");
        assert!(
            failures[0]["itemIdentifier"]
                .as_str()
                .is_some_and(|id| id.ends_with("bad0")),
            "{function}/{name}: {response}"
        );
    }
}

/// The router's bootstrap binary, fed the sample stream batch (a new partner request and a
/// poison record): it queues the request's email and push, parks the poison record with its
/// content on the dead-letter queue, and fails nothing, so the shard moves on.
#[tokio::test]
async fn the_router_bootstrap_routes_its_sample_batch_and_parks_the_poison_record() {
    let env = TestEnv::new().await;
    let dead_letters = env.new_queue("router-dlq").await;
    let mut vars = env.function_env();
    vars.push(("ROUTER_DEAD_LETTER_URL".into(), dead_letters.clone()));
    let event = samples::load_stream_batches()
        .into_iter()
        .next()
        .expect("a sample stream batch");
    let mut harness = RuntimeHarness::start(&binary_path("event-router"), &vars).await;
    let Outcome::Response(response) = harness.invoke(event).await else {
        panic!("the router reported an error");
    };
    assert_eq!(
        response["batchItemFailures"],
        serde_json::json!([]),
        "{response}"
    );
    let parked = env.receive_batch(&dead_letters).await;
    assert_eq!(parked.len(), 1);
    let parked: serde_json::Value =
        serde_json::from_str(parked[0].body().unwrap_or_default()).unwrap();
    assert_eq!(
        parked["record"]["eventID"],
        "eccbc87e4b5ce2fe28308fd9f2a7baf3"
    );
    assert!(parked["reason"]
        .as_str()
        .unwrap_or_default()
        .contains("corrupt"));
    let emails = env.receive_batch(&env.queue_url).await;
    assert_eq!(emails.len(), 1, "the request's email");
    let pushes = env.receive_batch(&env.fanout_queue_url).await;
    assert_eq!(pushes.len(), 1, "the request's push, to its recipient");
}
