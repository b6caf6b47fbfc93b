//! Queue worker benchmark (`make bench`): throughput of each worker through the local
//! gateway's SQS event source (moto, DynamoDB Local), and the time from a user message to its
//! assistant reply arriving on a WebSocket, p50/p99 over 100 messages.

use std::sync::Arc;
use std::time::{Duration, Instant};

use assistant_worker::AssistantWorker;
use email_worker::EmailWorker;
use futures::{stream, StreamExt};
use integration_tests::stack::Stack;
use integration_tests::{Endpoints, TestEnv, BENCH_LIMITS};
use local_gateway::sqs::{poll_once, queue_arn, EventSource, Worker};
use local_gateway::websocket::WebSocketOptions;
use maintenance_worker::MaintenanceWorker;
use serde_json::json;
use shared::assistant::{Assistant, RuleBased};
use shared::domain::{Counterpart, RequestId, Timestamp, UserId, UserName};
use shared::queue::{MaintenanceJob, Notice, NotificationEvent};
use shared::routes::QUEUE_BINDINGS;

const EMAILS: usize = 300;
const REPLIES: usize = 200;
const PURGES: usize = 50;
const MESSAGES_PER_PURGED_CHANNEL: usize = 20;
const LATENCY_SAMPLES: usize = 100;

#[tokio::main]
async fn main() {
    run().await;
}

fn source(env_queue: &str, function: &str) -> EventSource {
    let binding = QUEUE_BINDINGS
        .iter()
        .find(|b| b.function == function)
        .expect("binding");
    let mut source = EventSource::new(env_queue.to_string(), binding);
    source.wait_seconds = 0;
    source
}

/// Polls until the queue is empty; records handled per second.
async fn drain(env: &TestEnv, source: &EventSource, worker: &Worker, expected: usize) -> f64 {
    let arn = queue_arn(&env.sqs, &source.queue_url).await.expect("arn");
    let started = Instant::now();
    let mut handled = 0;
    while handled < expected {
        handled += poll_once(&env.sqs, source, &arn, worker)
            .await
            .expect("poll");
    }
    handled as f64 / started.elapsed().as_secs_f64()
}

async fn enqueue(env: &TestEnv, queue: &str, bodies: Vec<String>) {
    stream::iter(bodies)
        .map(|body| {
            let sqs = env.sqs.clone();
            async move {
                sqs.send_message()
                    .queue_url(queue)
                    .message_body(body)
                    .send()
                    .await
                    .expect("enqueue")
            }
        })
        .buffer_unordered(16)
        .count()
        .await;
}

async fn run() {
    let sdk = shared::context::load_sdk_config().await;

    // Email: real users, one distinct event each (each needs its own lock and email).
    let env = TestEnv::with_settings(Endpoints::default(), &BENCH_LIMITS).await;
    aws_sdk_ses::Client::new(&sdk)
        .verify_email_identity()
        .email_address(&env.ctx.config.sender_email)
        .send()
        .await
        .expect("verify the sender");
    let ada = env.api.register("Ada").await;
    let bob = env.api.register("Bob").await;
    let party = |user: &integration_tests::TestUser| Counterpart {
        id: UserId::parse(&user.id).expect("id"),
        name: UserName::parse(&user.name).expect("name"),
    };
    let events: Vec<String> = (0..EMAILS)
        .map(|_| {
            let id = RequestId::generate();
            serde_json::to_string(&NotificationEvent {
                event_id: format!("partner_request:{id}:created"),
                notice: Notice::PartnerRequestCreated {
                    request_id: id,
                    sender: party(&bob),
                    recipient: party(&ada),
                },
                occurred_at: Timestamp::now(),
            })
            .expect("JSON")
        })
        .collect();
    enqueue(&env, &env.queue_url, events).await;
    let email = Worker::Email(Arc::new(
        EmailWorker::new(env.ctx.clone(), &sdk).expect("worker"),
    ));
    let email_rate = drain(
        &env,
        &source(&env.queue_url, "email-worker"),
        &email,
        EMAILS,
    )
    .await;

    // Assistant: one channel, one job per stored user message.
    let channel = env.api.assistant_channel(&ada).await;
    for i in 0..REPLIES {
        env.api.say(&ada, &channel, &format!("question {i}?")).await;
    }
    // The jobs come from the event router, off the table's stream.
    env.route_changes().await;
    eprintln!("workers benchmark: assistant");
    let assistant = Worker::Assistant(Arc::new(AssistantWorker {
        ctx: env.ctx.clone(),
        engine: instant_rules(),
    }));
    let assistant_rate = drain(
        &env,
        &source(&env.assistant_queue_url, "assistant-worker"),
        &assistant,
        REPLIES,
    )
    .await;

    // Maintenance: purge deleted channels of 20 messages each.
    let mut jobs = Vec::new();
    for i in 0..PURGES {
        let id = env
            .api
            .create_channel(&ada, json!({"name": format!("purge {i}")}))
            .await
            .body["id"]
            .as_str()
            .expect("channel")
            .to_string();
        for n in 0..MESSAGES_PER_PURGED_CHANNEL {
            env.api.say(&ada, &id, &format!("m{n}")).await;
        }
        env.api.delete_channel(&ada, &id).await;
        let channel_id = shared::domain::ChannelId::parse(&id).expect("id");
        jobs.push(
            serde_json::to_string(&MaintenanceJob::purge_channel(&channel_id)).expect("JSON"),
        );
    }
    // The deletes queued their own jobs too (through the router): purge those first, then
    // time ours.
    env.route_changes().await;
    eprintln!("workers benchmark: maintenance");
    let maintenance = Worker::Maintenance(Arc::new(MaintenanceWorker {
        ctx: env.ctx.clone(),
        budget: MaintenanceWorker::BUDGET,
    }));
    let purge_source = source(&env.maintenance_queue_url, "maintenance-worker");
    drain(&env, &purge_source, &maintenance, PURGES).await;
    enqueue(&env, &env.maintenance_queue_url, jobs).await;
    let purge_rate = drain(&env, &purge_source, &maintenance, PURGES).await;

    // Latency: a user message over REST to the start of its reply on the user's socket, the
    // assistant worker polling as the gateway does (`benches/assistant.rs` times the stream).
    let stack = Stack::start_with_settings(WebSocketOptions::default(), &BENCH_LIMITS).await;
    let worker = Worker::Assistant(Arc::new(AssistantWorker {
        ctx: stack.env.ctx.clone(),
        engine: instant_rules(),
    }));
    let mut poller = source(&stack.env.assistant_queue_url, "assistant-worker");
    poller.wait_seconds = 1;
    tokio::spawn(local_gateway::sqs::poll(
        stack.env.sqs.clone(),
        poller,
        worker,
    ));
    let user = stack.env.api.register("Cy").await;
    let (_, channel) = stack
        .api
        .create_channel(&user, json!({"name": "latency", "kind": "assistant"}))
        .await
        .parts();
    let channel = channel["id"].as_str().expect("id").to_string();
    let mut socket = stack.socket(&user).await;
    let mut latencies = Vec::with_capacity(LATENCY_SAMPLES);
    for i in 0..LATENCY_SAMPLES {
        let started = Instant::now();
        let (status, _) = stack
            .api
            .send_message(&user, &channel, json!({"body": format!("hello {i}")}))
            .await
            .parts();
        assert_eq!(status, 201);
        socket
            .expect("message.created", |f| f["message"]["role"] == "assistant")
            .await;
        latencies.push(started.elapsed());
    }
    latencies.sort();
    let at = |p: f64| -> Duration {
        latencies[((latencies.len() as f64 * p).ceil() as usize).saturating_sub(1)]
    };

    println!();
    println!("### Queue workers\n\nThrough the local gateway's SQS event source, moto and DynamoDB Local.\n");
    println!("| measure | value |");
    println!("|---|---|");
    println!("| email worker ({EMAILS} events, batches of 10) | {email_rate:.0} records/s |");
    println!("| assistant worker ({REPLIES} replies, rule engine without its word pacing, batches of 5) | {assistant_rate:.0} records/s |");
    println!(
        "| maintenance worker ({PURGES} channel purges of {MESSAGES_PER_PURGED_CHANNEL} messages) | {purge_rate:.0} records/s |"
    );
    println!(
        "| user message → its reply starting on the socket (`message.created`, streaming), p50 | {} ms |",
        at(0.50).as_millis()
    );
    println!(
        "| user message → its reply starting on the socket (`message.created`, streaming), p99 | {} ms |",
        at(0.99).as_millis()
    );
}

/// The rule engine with no pause between words: the worker's own cost, not the pacing that
/// imitates a model (`benches/assistant.rs` measures the streaming).
fn instant_rules() -> Assistant {
    Assistant::Rules(RuleBased {
        word_delay: Duration::ZERO,
    })
}
