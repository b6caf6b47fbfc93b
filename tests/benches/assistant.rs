//! Assistant benchmark (`make bench`): streamed replies as a user sees them over WebSocket,
//! through the local stack as `make dev` runs it (the send over HTTP, the event router
//! queueing the job off the table's stream, the assistant worker long-polling its queue):
//! the time from the send to the first `message.delta` and to the `message.updated` that
//! completes the reply, on the offline rule engine and on a language model stand-in on
//! loopback; and what a reply costs in DynamoDB calls and write units.

use std::sync::Arc;
use std::time::{Duration, Instant};

use assistant_worker::AssistantWorker;
use integration_tests::metering::{DynamoMeter, Metered};
use integration_tests::model::{engine, StubModel};
use integration_tests::stack::{Socket, Stack};
use local_gateway::sqs::Worker;
use serde_json::json;
use shared::assistant::{Assistant, RuleBased};

/// Replies timed per engine.
const REPLIES: usize = 10;
/// The stand-in model: this long before its first token, then one word per `MODEL_WORD`.
const MODEL_FIRST_TOKEN: Duration = Duration::from_millis(300);
const MODEL_WORD: Duration = Duration::from_millis(20);
const MODEL_ANSWER: &str = "Rust is a systems programming language focused on safety, speed and concurrency; it prevents data races at compile time and needs no garbage collector, which makes it a good fit for small fast Lambda functions";

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() as f64 * p).ceil() as usize).saturating_sub(1)]
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

struct Timed {
    first_delta: Vec<Duration>,
    complete: Vec<Duration>,
    deltas: usize,
    words: usize,
    cost: Metered,
}

/// One reply, seen from the asker's socket: (send → first delta, send → complete, deltas,
/// words).
async fn time_reply(
    stack: &Stack,
    socket: &mut Socket,
    user: &integration_tests::TestUser,
    channel: &str,
    question: &str,
) -> (Duration, Duration, usize, usize) {
    let started = Instant::now();
    let sent = stack
        .api
        .send_message(user, channel, json!({ "body": question }))
        .await;
    assert_eq!(sent.status, 201, "{}", sent.body);
    let (mut first, mut deltas) = (None, 0);
    loop {
        let frame = socket
            .next_within(Duration::from_secs(30))
            .await
            .expect("the reply streams");
        match frame["type"].as_str() {
            Some("message.delta") => {
                first.get_or_insert_with(|| started.elapsed());
                deltas += 1;
            }
            Some("message.updated") if frame["message"]["role"] == "assistant" => {
                assert_eq!(frame["message"]["status"], "complete", "{frame}");
                let words = frame["message"]["body"]
                    .as_str()
                    .unwrap_or_default()
                    .split_whitespace()
                    .count();
                return (
                    first.expect("a delta before the end"),
                    started.elapsed(),
                    deltas,
                    words,
                );
            }
            _ => {}
        }
    }
}

async fn run(engine: Assistant, question: &str) -> Timed {
    let stack = Stack::start().await;
    let sdk = shared::context::load_sdk_config().await;
    let meter = DynamoMeter::default();
    let mut ctx = stack.env.ctx.clone();
    ctx.store = meter.store(&sdk, &stack.env.table);
    let worker = Worker::Assistant(Arc::new(AssistantWorker { ctx, engine }));
    let source = integration_tests::mailroom::test_source(
        &stack.env.assistant_queue_url,
        shared::routes::ASSISTANT_WORKER,
    );
    tokio::spawn(local_gateway::sqs::poll(
        stack.env.sqs.clone(),
        source,
        worker,
    ));
    let ada = stack.env.api.register("Ada").await;
    let channel = stack.env.api.assistant_channel(&ada).await;
    let mut socket = stack.socket(&ada).await;
    // A first reply warms the path; it is not timed.
    time_reply(&stack, &mut socket, &ada, &channel, question).await;
    meter.take();
    let mut timed = Timed {
        first_delta: Vec::new(),
        complete: Vec::new(),
        deltas: 0,
        words: 0,
        cost: Metered::default(),
    };
    for _ in 0..REPLIES {
        let (first, complete, deltas, words) =
            time_reply(&stack, &mut socket, &ada, &channel, question).await;
        timed.first_delta.push(first);
        timed.complete.push(complete);
        timed.deltas += deltas;
        timed.words += words;
    }
    timed.cost = meter.take();
    timed
}

#[tokio::main]
async fn main() {
    let rules = run(Assistant::Rules(RuleBased::default()), "help").await;
    let model = StubModel {
        delay: MODEL_FIRST_TOKEN,
        piece_delay: MODEL_WORD,
        ..StubModel::answering(MODEL_ANSWER)
    };
    let model = run(engine(model.serve().await, 5_000), "What is Rust?").await;

    println!(
        "### Assistant replies, streamed\n\nAs the asker's WebSocket sees them, through the local stack as `make dev` runs it: the send over HTTP, the event router queueing the job off the table's stream, the assistant worker long-polling its queue (dev profile, DynamoDB Local and moto on the same two cores). {REPLIES} replies per engine after one warm-up. The rule engine streams its answer word by word at {} ms a word (`ASSISTANT_RULES_WORD_MS`); the stand-in model on loopback sends its first token after {} ms, then a word every {} ms, as server-sent events. Costs are the worker's DynamoDB calls per reply (the history read, the placeholder's transaction with its claim and the quota count, the stored body catching up every second, the end), metered by the SDK's consumed capacity.\n",
        RuleBased::WORD_DELAY.as_millis(),
        MODEL_FIRST_TOKEN.as_millis(),
        MODEL_WORD.as_millis(),
    );
    println!("| engine | send → first delta p50 / p99 | send → complete p50 / p99 | words | deltas per reply | DynamoDB calls per reply | write units per reply |");
    println!("|---|---|---|---|---|---|---|");
    for (name, mut timed) in [("rules", rules), ("model stand-in", model)] {
        let replies = REPLIES as f64;
        println!(
            "| {name} | {:.0} / {:.0} ms | {:.0} / {:.0} ms | {:.0} | {:.1} | {:.1} | {:.1} |",
            ms(percentile(&mut timed.first_delta, 0.5)),
            ms(percentile(&mut timed.first_delta, 0.99)),
            ms(percentile(&mut timed.complete, 0.5)),
            ms(percentile(&mut timed.complete, 0.99)),
            timed.words as f64 / replies,
            timed.deltas as f64 / replies,
            timed.cost.calls as f64 / replies,
            timed.cost.write_units() / replies,
        );
    }
}
