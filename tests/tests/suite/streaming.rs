//! Streamed assistant replies end to end: a placeholder pushed at once, `message.delta` frames
//! numbered without gaps that add up to the reply, the stored body catching up while it
//! streams, the stop route, the daily quota, the prompt's history budget, the language-model
//! engine streaming from a stub on loopback (slow, cut mid-stream, down), and a reply left
//! streaming by a run that died finished exactly once.

use std::sync::Arc;
use std::time::Duration;

use assistant_worker::AssistantWorker;
use integration_tests::mailroom::test_source;
use integration_tests::model::{engine, StubModel};
use integration_tests::stack::{Socket, Stack};
use integration_tests::{Api, TestEnv, TestUser};
use local_gateway::sqs::Worker;
use serde_json::{json, Value};
use shared::assistant::{Assistant, RuleBased};
use shared::domain::{
    Counterpart, Message, MessageBody, MessageId, MessageRole, ReplyStatus, Timestamp, UserId,
    UserName,
};
use shared::queue::AssistantJob;
use shared::service::assistant::{reply, reply_claim, Replied};
use shared::storage::Posting;

fn rules(word_ms: u64) -> Assistant {
    Assistant::Rules(RuleBased {
        word_delay: Duration::from_millis(word_ms),
    })
}

/// A stack whose assistant queue the worker polls with `engine`.
async fn stack_answering(engine: Assistant, settings: &[(&str, &str)]) -> Stack {
    let stack = Stack::start_with_settings(Default::default(), settings).await;
    let worker = Worker::Assistant(Arc::new(AssistantWorker {
        ctx: stack.env.ctx.clone(),
        engine,
    }));
    let source = test_source(&stack.env.assistant_queue_url, "assistant-worker");
    tokio::spawn(local_gateway::sqs::poll(
        stack.env.sqs.clone(),
        source,
        worker,
    ));
    stack
}

async fn ask(stack: &Stack, user: &TestUser, channel: &str, text: &str) -> Value {
    let (status, sent) = stack
        .api
        .send_message(user, channel, json!({"body": text}))
        .await
        .parts();
    assert_eq!(status, 201, "{sent}");
    sent
}

async fn get_message(stack: &Stack, user: &TestUser, channel: &str, id: &Value) -> Value {
    let path = format!("/channels/{channel}/messages/{}", id.as_str().unwrap());
    let (status, message) = stack.api.get(user, &path).await.parts();
    assert_eq!(status, 200, "{message}");
    message
}

async fn stop(stack: &Stack, user: &TestUser, channel: &str, id: &Value) -> (u16, Value) {
    let path = format!("/channels/{channel}/messages/{}/stop", id.as_str().unwrap());
    stack.api.post(user, &path, json!({})).await.parts()
}

/// How many assistant messages the channel's history holds.
async fn assistant_replies(api: &Api, user: &TestUser, channel: &str) -> usize {
    let history = api.history(user, channel, "").await;
    history.body["items"]
        .as_array()
        .expect("a page")
        .iter()
        .filter(|m| m["role"] == "assistant")
        .count()
}

/// The first delta of the next reply (its `message.created` comes first).
async fn first_delta(socket: &mut Socket) -> (Value, Value) {
    let created = socket
        .expect("message.created", |f| f["message"]["role"] == "assistant")
        .await;
    let id = created["message"]["id"].clone();
    let delta = socket
        .expect("message.delta", |f| f["message_id"] == id)
        .await;
    (created, delta)
}

#[tokio::test]
async fn a_reply_streams_in_deltas_while_its_stored_body_catches_up() {
    // "help" is answered in 33 words: at 60 ms each, about 2 s of streaming.
    let stack = stack_answering(rules(60), &[]).await;
    let ada = stack.env.api.register("Ada").await;
    let channel = stack.env.api.assistant_channel(&ada).await;
    let mut socket = stack.socket(&ada).await;
    let mut second_device = stack.socket(&ada).await;
    ask(&stack, &ada, &channel, "help").await;

    let (created, first) = first_delta(&mut socket).await;
    assert_eq!(created["message"]["status"], "streaming");
    assert_eq!(created["message"]["body"], "");
    assert_eq!(first["seq"], 0);
    // A client that (re)connects mid-reply reads what was written so far.
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    let id = &created["message"]["id"];
    let midway = get_message(&stack, &ada, &channel, id).await;
    assert_eq!(midway["status"], "streaming");
    let so_far = midway["body"].as_str().unwrap().to_string();
    assert!(!so_far.is_empty(), "the stored body caught up: {midway}");

    let reply = second_device.expect_streamed_reply().await;
    assert_eq!(reply.status(), "complete");
    assert!(
        reply.body().starts_with("I answer every message"),
        "{}",
        reply.body()
    );
    assert!(reply.body().starts_with(&so_far), "{so_far:?} is a prefix");
    assert_eq!(reply.streamed_text(), reply.body());
    assert!(
        reply.deltas.len() >= 5,
        "coalesced, but streamed: {} deltas",
        reply.deltas.len()
    );
    assert!(reply.deltas.len() <= 33, "never more deltas than words");
    let stored = get_message(&stack, &ada, &channel, id).await;
    assert_eq!(
        (stored["status"].clone(), stored["body"].clone()),
        (json!("complete"), json!(reply.body()))
    );
    // The inbox previews the finished reply, not the empty placeholder (the event router
    // moves it, off the request path).
    let mut preview = Value::Null;
    for _ in 0..50 {
        let channels = stack.api.get(&ada, "/channels").await;
        preview = channels.body["items"][0]["last_message"]["preview"].clone();
        if preview.as_str().is_some_and(|p| p.starts_with("I answer")) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the inbox still previews {preview}");
}

#[tokio::test]
async fn a_member_stops_a_streaming_reply_and_it_stays_stopped() {
    let stack = stack_answering(rules(150), &[]).await;
    let ada = stack.env.api.register("Ada").await;
    let eve = stack.env.api.register("Eve").await;
    let channel = stack.env.api.assistant_channel(&ada).await;
    let mut socket = stack.socket(&ada).await;
    let question = ask(&stack, &ada, &channel, "help").await;
    let (created, _) = first_delta(&mut socket).await;
    let id = created["message"]["id"].clone();

    let (status, body) = stop(&stack, &eve, &channel, &id).await;
    assert_eq!(status, 404, "not a member: {body}");
    let (status, stopped) = stop(&stack, &ada, &channel, &id).await;
    assert_eq!(status, 200, "{stopped}");
    assert_eq!(stopped["status"], "stopped");
    let pushed = socket
        .expect("message.updated", |f| f["message"]["id"] == id)
        .await;
    assert_eq!(pushed["message"]["status"], "stopped");

    // The writer notices at its next store (within a second): the reply keeps what it had
    // streamed by then (the stop saw the stored text, up to a second behind), and no more.
    let kept = socket
        .expect("message.updated", |f| f["message"]["id"] == id)
        .await;
    assert_eq!(kept["message"]["status"], "stopped");
    let kept_body = kept["message"]["body"].as_str().unwrap().to_string();
    assert!(kept_body.starts_with(stopped["body"].as_str().unwrap()));
    assert!(
        "I answer every message you write here. I can greet you, take questions and keep you company; with a language model configured I can do much more. Try asking me something."
            .starts_with(&kept_body),
        "{kept_body:?}"
    );
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let stored = get_message(&stack, &ada, &channel, &id).await;
    assert_eq!(stored["status"], "stopped");
    assert_eq!(stored["body"], kept_body.as_str());
    socket
        .expect_none("message.updated", Duration::from_millis(300), |f| {
            f["message"]["id"] == id
        })
        .await;

    let (status, again) = stop(&stack, &ada, &channel, &id).await;
    assert_eq!(
        (status, again["error"]["code"].clone()),
        (409, json!("conflict"))
    );
    let (status, _) = stop(&stack, &ada, &channel, &question["id"]).await;
    assert_eq!(status, 409, "a user message is not a streaming reply");
    assert_eq!(assistant_replies(&stack.api, &ada, &channel).await, 1);
}

#[tokio::test]
async fn past_the_daily_quota_the_assistant_says_so_once_per_question() {
    let stack = stack_answering(rules(0), &[("ASSISTANT_REPLIES_PER_DAY", "2")]).await;
    let ada = stack.env.api.register("Ada").await;
    let channel = stack.env.api.assistant_channel(&ada).await;
    let mut socket = stack.socket(&ada).await;
    for (n, text) in ["hello", "thanks", "help"].into_iter().enumerate() {
        ask(&stack, &ada, &channel, text).await;
        let created = socket
            .expect("message.created", |f| f["message"]["role"] == "assistant")
            .await;
        if n < 2 {
            assert_eq!(created["message"]["status"], "streaming");
            let id = created["message"]["id"].clone();
            socket
                .expect("message.updated", |f| {
                    f["message"]["id"] == id && f["message"]["status"] == "complete"
                })
                .await;
        } else {
            assert_eq!(created["message"]["status"], "complete");
            let body = created["message"]["body"].as_str().unwrap();
            assert!(body.contains("today's limit of 2"), "{body}");
        }
    }
}

#[tokio::test]
async fn the_prompt_carries_the_newest_history_within_its_budget() {
    let env =
        TestEnv::with_settings(Default::default(), &[("ASSISTANT_CONTEXT_CHARS", "50")]).await;
    let ada = env.api.register("Ada").await;
    let channel = env.api.assistant_channel(&ada).await;
    for text in [
        "the oldest words here",
        "then some more words",
        "and the newest one",
    ] {
        env.api
            .send_message(&ada, &channel, json!({"body": text}))
            .await;
    }
    // The newest question's job (the queue keeps no order).
    let job = env
        .queued_assistant_jobs()
        .await
        .into_iter()
        .map(|job| serde_json::from_value::<AssistantJob>(job).unwrap())
        .max_by(|a, b| a.message_id.cmp(&b.message_id))
        .unwrap();
    let stub = StubModel::answering("Sure");
    let seen = stub.seen.clone();
    let model = engine(stub.serve().await, 2_000);
    let Replied::Replied(answer) = reply(&env.ctx, &model, &job).await.unwrap() else {
        panic!("a reply");
    };
    assert_eq!(answer.status, Some(ReplyStatus::Complete));
    assert_eq!(answer.body.as_str(), "Sure (and the newest one)");
    let prompt = seen.lock().unwrap()[0].clone();
    let turns: Vec<&str> = prompt
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] != "system")
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    // 18 + 20 characters fit in 50; the oldest (21 more) does not.
    assert_eq!(turns, ["then some more words", "and the newest one"]);
}

#[tokio::test]
async fn the_model_engine_streams_and_fails_over_to_the_rules() {
    let slow = StubModel {
        piece_delay: Duration::from_millis(120),
        ..StubModel::answering("Rust is a language")
    };
    let stack = stack_answering(engine(slow.serve().await, 2_000), &[]).await;
    let ada = stack.env.api.register("Ada").await;
    let channel = stack.env.api.assistant_channel(&ada).await;
    let mut socket = stack.socket(&ada).await;
    ask(&stack, &ada, &channel, "What is Rust?").await;
    let streamed = socket.expect_streamed_reply().await;
    assert_eq!(streamed.status(), "complete");
    assert_eq!(streamed.body(), "Rust is a language (What is Rust?)");
    assert_eq!(streamed.streamed_text(), streamed.body());
    assert!(
        streamed.deltas.len() >= 4,
        "{} deltas",
        streamed.deltas.len()
    );

    // Cut mid-stream, and down: the reply ends `failed` with the rules' answer.
    let env = TestEnv::new().await;
    let bob = env.api.register("Bob").await;
    let channel = env.api.assistant_channel(&bob).await;
    let cut = StubModel {
        cut_after: Some(2),
        ..StubModel::answering("Half of an answer")
    };
    for model in [
        engine(cut.serve().await, 2_000),
        engine("http://127.0.0.1:9/v1".into(), 300),
    ] {
        let sent = env
            .api
            .send_message(&bob, &channel, json!({"body": "Is it raining?"}))
            .await;
        assert_eq!(sent.status, 201);
        let job: AssistantJob =
            serde_json::from_value(env.queued_assistant_jobs().await.remove(0)).unwrap();
        let Replied::Replied(answer) = reply(&env.ctx, &model, &job).await.unwrap() else {
            panic!("a reply");
        };
        assert_eq!(answer.status, Some(ReplyStatus::Failed));
        assert!(
            answer.body.as_str().starts_with("Good question"),
            "{:?}",
            answer.body
        );
    }
}

#[tokio::test]
async fn a_reply_left_streaming_by_a_dead_run_is_finished_once() {
    let (env, [ada]) = TestEnv::with_users(["Ada"]).await;
    let channel = env.api.assistant_channel(&ada).await;
    let mut jobs = Vec::new();
    for text in ["first question?", "second question?"] {
        env.api
            .send_message(&ada, &channel, json!({"body": text}))
            .await;
        let job: AssistantJob =
            serde_json::from_value(env.queued_assistant_jobs().await.remove(0)).unwrap();
        jobs.push(job);
    }
    // Two replies a run left streaming: one two minutes ago (its run died), one just now
    // (its run may still be writing).
    let assistant = UserId::parse(UserId::ASSISTANT).unwrap();
    let mut placeholders = Vec::new();
    for (job, age_seconds) in jobs.iter().zip([120, 0]) {
        let created_at =
            Timestamp::from_unix_millis(Timestamp::now().unix_millis() - age_seconds * 1_000)
                .unwrap();
        let placeholder = Message {
            id: MessageId::generate(),
            channel_id: job.channel_id.clone(),
            sender: Counterpart {
                id: assistant.clone(),
                name: UserName::parse("Assistant").unwrap(),
            },
            role: MessageRole::Assistant,
            body: MessageBody::partial("Half a rep"),
            parent_id: None,
            reply_count: 0,
            reactions: Default::default(),
            mentions: Vec::new(),
            attachments: Vec::new(),
            created_at,
            edited_at: None,
            client_id: Some(reply_claim(&job.message_id).unwrap()),
            status: Some(ReplyStatus::Streaming),
            deleted_at: None,
        };
        env.ctx
            .store
            .insert_message(&placeholder, &Posting::default())
            .await
            .unwrap();
        placeholders.push(placeholder);
    }
    let engine = rules(0);
    let runs = futures::future::join_all((0..3).map(|_| reply(&env.ctx, &engine, &jobs[0]))).await;
    let recovered: Vec<&Message> = runs
        .iter()
        .filter_map(|run| match run {
            Ok(Replied::Recovered(message)) => Some(message.as_ref()),
            _ => None,
        })
        .collect();
    assert_eq!(recovered.len(), 1, "{runs:?}");
    assert!(runs
        .iter()
        .all(|run| matches!(run, Ok(Replied::Recovered(_) | Replied::AlreadyReplied))));
    assert_eq!(recovered[0].id, placeholders[0].id);
    assert_eq!(recovered[0].status, Some(ReplyStatus::Failed));
    assert!(recovered[0].body.as_str().starts_with("Good question"));

    let fresh = reply(&env.ctx, &engine, &jobs[1]).await.unwrap();
    assert!(matches!(fresh, Replied::AlreadyReplied), "{fresh:?}");
    let still = env
        .ctx
        .store
        .get_message(&placeholders[1].channel_id, &placeholders[1].id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        still.status,
        Some(ReplyStatus::Streaming),
        "its run may be alive"
    );
    assert_eq!(
        assistant_replies(&env.api, &ada, &channel).await,
        2,
        "one reply per question"
    );
}
