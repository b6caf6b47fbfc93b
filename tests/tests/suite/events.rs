//! Every file of events/ is a real API Gateway event for a route of the function whose folder
//! it sits in, and that function's handler answers it as the contract says.

use integration_tests::{samples, TestEnv};

#[tokio::test]
async fn sample_events_are_answered_by_their_functions() {
    let env = TestEnv::new().await;
    let samples = samples::load();
    assert!(samples.len() >= 10, "events/ has a sample per route family");
    for sample in samples {
        assert_eq!(
            sample.route.function, sample.function,
            "{} sits in the folder of its function",
            sample.name
        );
        let answer = env.api.call_event(&sample.function, &sample.event).await;
        assert_eq!(
            answer.status,
            sample.expected_status(),
            "{}/{}: {:?}",
            sample.function,
            sample.name,
            answer.body
        );
        assert!(answer.headers.contains_key("x-request-id"));
    }
}

/// The WebSocket samples, aimed at a live socket of the local gateway (their connection id,
/// domain and stage rewritten; placeholders filled), are answered as the contract says.
#[tokio::test]
async fn websocket_sample_events_are_answered_by_their_functions() {
    use integration_tests::stack::Stack;
    use serde_json::{json, Value};
    use shared::domain::UserId;

    let stack = Stack::start().await;
    let ada = stack.env.api.register("Ada").await;
    let (_, channel) = stack
        .api
        .create_channel(&ada, json!({"name": "samples"}))
        .await
        .parts();
    let (_, message) = stack
        .api
        .post(
            &ada,
            &format!("/channels/{}/messages", channel["id"].as_str().unwrap()),
            json!({"body": "first"}),
        )
        .await
        .parts();
    let mut socket = stack.socket(&ada).await;
    let ada_id = UserId::parse(&ada.id).unwrap();
    let connection = stack.env.connections_of(&ada_id).await[0].1.to_string();
    let address = stack.ws.trim_start_matches("ws://").to_string();
    let aim = |event: &Value, token: &str| -> WebSocketEvent {
        let text = event
            .to_string()
            .replace("REPLACE_WITH_A_TOKEN_FROM_LOGIN", token)
            .replace("REPLACE_WITH_A_CHANNEL_ID", channel["id"].as_str().unwrap())
            .replace("REPLACE_WITH_A_MESSAGE_ID", message["id"].as_str().unwrap());
        let mut event: Value = serde_json::from_str(&text).unwrap();
        event["requestContext"]["domainName"] = json!(address);
        event["requestContext"]["stage"] = json!("local");
        event["requestContext"]["connectionId"] = json!(connection);
        serde_json::from_value(event).expect("an API Gateway WebSocket event")
    };
    use shared::websocket::WebSocketEvent;

    let samples = integration_tests::samples::load_websocket();
    assert_eq!(samples.len(), 7);
    for sample in &samples {
        let status = match sample.function.as_str() {
            "ws-connect" => {
                // As stored, the placeholder token is refused at the handshake.
                let refused = ws_connect::handle(&stack.env.ctx, aim(&sample.event, "x")).await;
                assert_eq!(refused.unwrap().status_code, 401);
                ws_connect::handle(&stack.env.ctx, aim(&sample.event, &ada.token)).await
            }
            "ws-default" => ws_default::handle(&stack.env.ctx, aim(&sample.event, "")).await,
            _ => continue,
        }
        .unwrap()
        .status_code;
        assert_eq!(status, 200, "{}/{}", sample.function, sample.name);
        let expected = match sample.name.as_str() {
            "ping.json" => Some("pong"),
            "send-message.json" => Some("ack"),
            "bad-frame.json" => Some("error"),
            _ => None,
        };
        if let Some(kind) = expected {
            let frame = socket.expect(kind, |_| true).await;
            if kind == "ack" {
                assert_eq!(frame["client_id"], "sample-1");
            }
        }
    }
    let disconnect = samples
        .iter()
        .find(|s| s.function == "ws-disconnect")
        .unwrap();
    let answer = ws_disconnect::handle(&stack.env.ctx, aim(&disconnect.event, "")).await;
    assert_eq!(answer.unwrap().status_code, 200);
    assert!(
        stack.env.connections_of(&ada_id).await.is_empty(),
        "$disconnect forgot the connection"
    );
}

/// Each worker's sample batch holds one good record and one bad one: the handler reports the
/// bad one alone (a partial batch response).
#[tokio::test]
async fn worker_sample_batches_fail_only_their_bad_record() {
    use std::sync::Arc;

    use aws_lambda_events::event::sqs::SqsEvent;
    use local_gateway::sqs::Worker;

    let env = TestEnv::new().await;
    let sdk = shared::context::load_sdk_config().await;
    let batches = integration_tests::samples::load_worker_batches();
    assert_eq!(batches.len(), 6, "one batch per worker");
    for (function, name, event) in batches {
        let worker = match function.as_str() {
            "email-worker" => Worker::Email(Arc::new(
                email_worker::EmailWorker::new(env.ctx.clone(), &sdk).unwrap(),
            )),
            "assistant-worker" => Worker::Assistant(Arc::new(
                assistant_worker::AssistantWorker::new(env.ctx.clone(), sdk.clone())
                    .await
                    .unwrap(),
            )),
            "fanout-worker" => Worker::Fanout(Arc::new(
                fanout_worker::FanoutWorker::new(env.ctx.clone(), &sdk).unwrap(),
            )),
            "webhook-worker" => Worker::Webhook(Arc::new(
                webhook_worker::WebhookWorker::new(env.ctx.clone(), &sdk).unwrap(),
            )),
            "attachment-worker" => Worker::Attachment(Arc::new(
                attachment_worker::AttachmentWorker::new(env.ctx.clone(), &sdk).unwrap(),
            )),
            _ => Worker::Maintenance(Arc::new(
                maintenance_worker::MaintenanceWorker::new(env.ctx.clone(), &sdk).unwrap(),
            )),
        };
        let bad: Vec<String> = event["Records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["messageId"].as_str().unwrap().to_string())
            .filter(|id| id.ends_with("bad0"))
            .collect();
        let event: SqsEvent = serde_json::from_value(event).expect("an SQS event");
        let response = worker.handle(event).await;
        let failed: Vec<String> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.clone())
            .collect();
        assert_eq!(failed, bad, "{function}/{name}");
    }
}
