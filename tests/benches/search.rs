//! Search benchmark (`make bench`): what `GET /search/messages` reads and how long it takes
//! over a 10,000-message channel and across 50 channels, by how common the words are, over
//! real HTTP through the local gateway with DynamoDB's own accounting. The messages are sent
//! through the API and indexed by the event router off the table's stream, as `make dev` runs
//! it; how long a new message takes to become findable is measured the same way.

use std::time::{Duration, Instant};

use futures::{stream, StreamExt};
use integration_tests::metering::{time_gets, DynamoMeter, Timed};
use integration_tests::{spawn_gateway, Api, Endpoints, TestEnv, TestUser};
use shared::domain::indexed_words;

const BIG_CHANNEL_MESSAGES: usize = 10_000;
const CHANNELS: usize = 50;
const MESSAGES_PER_CHANNEL: usize = 100;
const RUNS: usize = 20;
const VOCABULARY: usize = 500;

/// The `i`th message: four words of a 500-word vocabulary, `common` in every other message,
/// `zebra` in every hundredth.
fn text(i: usize) -> String {
    let word = |n: usize| format!("word{}", (i * 7919 + n * 104_729) % VOCABULARY);
    let mut text = format!("{} {} {} {}", word(1), word(2), word(3), word(4));
    if i.is_multiple_of(2) {
        text.push_str(" common");
    }
    if i.is_multiple_of(100) {
        text.push_str(" zebra");
    }
    text
}

/// Sends `messages` (channel, text), each sender's to one channel in order (a member's sends
/// to one channel contend for its send window), 16 senders or channels at a time.
async fn send_all(api: &Api, messages: Vec<(&TestUser, String, String)>) {
    let mut queues: Vec<Vec<(&TestUser, String, String)>> = Vec::new();
    for message in messages {
        match queues
            .iter_mut()
            .find(|queue| queue[0].0.id == message.0.id && queue[0].1 == message.1)
        {
            Some(queue) => queue.push(message),
            None => queues.push(vec![message]),
        }
    }
    stream::iter(queues)
        .map(|queue| async move {
            for (writer, channel, body) in queue {
                api.say(writer, &channel, &body).await;
            }
        })
        .buffer_unordered(16)
        .count()
        .await;
}

/// How many messages a search finds, over every page.
async fn count_found(api: &Api, reader: &TestUser, query: &str) -> usize {
    let (mut found, mut cursor) = (0, String::new());
    loop {
        let page = api
            .get(
                reader,
                &format!("/search/messages?{query}&limit=100&cursor={cursor}"),
            )
            .await;
        assert_eq!(page.status, 200, "{}", page.body);
        found += page.body["items"].as_array().map_or(0, Vec::len);
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = next.to_string(),
            None => return found,
        }
    }
}

/// Waits until a search finds `expected` messages; how long that took.
async fn findable(api: &Api, reader: &TestUser, query: &str, expected: usize) -> Duration {
    let started = Instant::now();
    while count_found(api, reader, query).await < expected {
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "{query} never found {expected} messages"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    started.elapsed()
}

struct Row {
    scenario: &'static str,
    query: String,
    found: usize,
    timed: Timed,
}

async fn measure(
    api: &Api,
    meter: &DynamoMeter,
    reader: &TestUser,
    scenario: &'static str,
    query: String,
) -> Row {
    let path = format!("/search/messages?{query}&limit=50");
    let timed = time_gets(api, meter, reader, &path, RUNS).await;
    Row {
        scenario,
        query,
        found: timed.last["items"].as_array().map_or(0, Vec::len),
        timed,
    }
}

#[tokio::main]
async fn main() {
    let env = TestEnv::with_settings(Endpoints::default(), &integration_tests::BENCH_LIMITS).await;
    let meter = DynamoMeter::default();
    let sdk = shared::context::load_sdk_config().await;
    let mut api_ctx = env.ctx.clone();
    api_ctx.store = meter.store(&sdk, &env.table);
    let api = Api::over_http(spawn_gateway(api_ctx).await).unchecked();
    let ada = api.register("Ada").await;
    let bob = api.register("Bob").await;
    // The stream into the event router, which writes the index.
    env.spawn_event_sources().await;

    let setup = Instant::now();
    let senders = api.register_many("Sender", 16).await;
    let big = api
        .group(&ada, &senders.iter().collect::<Vec<_>>(), true)
        .await;
    send_all(
        &api,
        (0..BIG_CHANNEL_MESSAGES)
            .map(|i| (&senders[i % senders.len()], big.clone(), text(i)))
            .collect(),
    )
    .await;
    let mut small = Vec::new();
    for _ in 0..CHANNELS {
        small.push(api.group(&ada, &[&bob], true).await);
    }
    send_all(
        &api,
        (0..CHANNELS * MESSAGES_PER_CHANNEL)
            .map(|i| (&bob, small[i % CHANNELS].clone(), text(i)))
            .collect(),
    )
    .await;
    // Every `zebra` message indexed: 100 in the big channel, 50 in the small ones.
    findable(&api, &ada, "q=zebra", 150).await;
    let setup = setup.elapsed();
    let words: Vec<usize> = (0..1000).map(|i| indexed_words(&text(i)).len()).collect();
    let index_per_message = words.iter().sum::<usize>() as f64 / words.len() as f64;

    // A new message becomes findable: send → first search that finds it.
    let mut lags = Vec::new();
    for i in 0..5 {
        let word = format!("fresh{i}x");
        api.say(&bob, &small[0], &format!("a {word} message")).await;
        lags.push(findable(&api, &ada, &format!("q={word}"), 1).await);
    }
    lags.sort();

    let in_big = |q: &str| format!("q={q}&channel_id={big}");
    let across = |q: &str| format!("q={q}");
    let cases: [(&'static str, String); 9] = [
        ("10,000-message channel", in_big("zebra")),
        ("10,000-message channel", in_big("common")),
        ("10,000-message channel", in_big("common%20zeb")),
        ("10,000-message channel", in_big("zeb")),
        ("10,000-message channel", in_big("word1%20word2")),
        ("10,000-message channel", in_big("nothing")),
        ("all 51 channels", across("zebra")),
        ("all 51 channels", across("common")),
        ("all 51 channels", across("nothing")),
    ];
    let mut rows = Vec::new();
    for (scenario, query) in cases {
        rows.push(measure(&api, &meter, &ada, scenario, query).await);
    }

    println!(
        "### Search\n\nOne reader over real HTTP through the local gateway (dev profile, DynamoDB Local), {RUNS} runs each of a first page of 50: a channel of {BIG_CHANNEL_MESSAGES} messages, and {CHANNELS} more channels of {MESSAGES_PER_CHANNEL} messages (4 words of a {VOCABULARY}-word vocabulary each, `common` in every other message, `zebra` in every hundredth), sent through the API and indexed by the event router off the stream (setup {:.0} s). Index items written per message: {index_per_message:.1} on average here (one per distinct word of 2+ characters, at most 64). A new message was findable {:.0} ms (p50) after its send answered (5 runs).\n",
        setup.as_secs_f64(),
        lags[lags.len() / 2].as_secs_f64() * 1e3,
    );
    println!("| searched | query | found | p50 | p99 | DynamoDB calls | items read | read units |");
    println!("|---|---|---|---|---|---|---|---|");
    for row in rows {
        let per = |n: u64| n as f64 / RUNS as f64;
        let query = row.query.split("&channel_id").next().unwrap_or_default();
        println!(
            "| {} | `{}` | {} | {:.1} ms | {:.1} ms | {:.1} | {:.1} | {:.1} |",
            row.scenario,
            query.replace("%20", " "),
            row.found,
            row.timed.p50.as_secs_f64() * 1e3,
            row.timed.p99.as_secs_f64() * 1e3,
            per(row.timed.cost.calls),
            per(row.timed.cost.items_read),
            row.timed.cost.read_units() / RUNS as f64,
        );
    }
}
