//! Inbox benchmark (`make bench`): what a channel list page (`GET /channels`, 50 channels)
//! and the unread totals (`GET /me/unread`) cost as the unread messages behind them grow,
//! over real HTTP through the local gateway, with DynamoDB's own accounting
//! (`ReturnConsumedCapacity`). The reader is in 50 groups, one of them of 500 members: what a
//! page reads depends on its unread messages (up to the cap), never on channel sizes or on
//! how long the histories are.

use std::time::{Duration, Instant};

use futures::{stream, StreamExt};
use integration_tests::metering::{time_gets, DynamoMeter, Timed};
use integration_tests::{spawn_gateway, Api, Endpoints, TestEnv, TestUser};
use serde_json::json;

const CHANNELS: usize = 50;
const RUNS: usize = 20;
const BIG_CHANNEL_MEMBERS: u32 = 500;

struct Row {
    scenario: String,
    route: &'static str,
    timed: Timed,
}

async fn measure(
    api: &Api,
    meter: &DynamoMeter,
    reader: &TestUser,
    scenario: &str,
    route: &'static str,
) -> Row {
    Row {
        scenario: scenario.to_string(),
        route,
        timed: time_gets(api, meter, reader, route, RUNS).await,
    }
}

/// `count` more messages from `writer` into each channel (channels in parallel); the event
/// router and the fan-out workers running in the background move the reader's list.
async fn write(api: &Api, writer: &TestUser, channels: &[String], count: usize) {
    stream::iter(channels)
        .map(|channel| async move {
            for i in 0..count {
                let sent = api
                    .send_message(
                        writer,
                        channel,
                        json!({"body": format!("Unread message {i}")}),
                    )
                    .await;
                assert_eq!(sent.status, 201, "{}", sent.body);
            }
        })
        .buffer_unordered(8)
        .count()
        .await;
}

/// Waits until every channel of the reader's first page shows `unread` unread messages.
async fn caught_up(api: &Api, reader: &TestUser, unread: u64) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let page = api
            .get(reader, &format!("/channels?limit={CHANNELS}"))
            .await;
        let counts: Vec<u64> = page.body["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|c| c["unread_count"].as_u64().unwrap_or_default())
            .collect();
        if counts.len() == CHANNELS && counts.iter().all(|&n| n == unread) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the lists never caught up: {counts:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::main]
async fn main() {
    // Sends are not rate limited here: the benchmark writes thousands from one sender.
    let env = TestEnv::with_settings(Endpoints::default(), &[("SEND_BURST", "100000")]).await;
    // Only the API's DynamoDB use is metered: the router and fan-out workers running behind it
    // use the environment's own, unmetered client.
    let meter = DynamoMeter::default();
    let sdk = shared::context::load_sdk_config().await;
    let mut api_ctx = env.ctx.clone();
    api_ctx.store = meter.store(&sdk, &env.table);
    let api = Api::over_http(spawn_gateway(api_ctx).await).unchecked();
    let setup = Instant::now();
    let ada = api.register("Ada").await;
    let bob = api.register("Bob").await;
    let mut channels = Vec::new();
    for _ in 0..CHANNELS {
        channels.push(api.group(&ada, &[&bob], false).await);
    }
    env.fill_group(&channels[0], &ada, BIG_CHANNEL_MEMBERS - 2)
        .await;
    // The stream into the event router, and the queues into their workers, as `make dev`
    // runs them; from here on (the setup's 500 joins would push 500 × 500 events
    // the measures do not need, and hold the queue for minutes).
    env.spawn_event_sources_from(local_gateway::streams::Start::Latest)
        .await;
    // The maintenance worker moves a big channel's lists (the router only marks them).
    env.spawn_job_workers(aws_sdk_ses::Client::new(&sdk)).await;

    let mut rows = Vec::new();
    let mut unread = 0;
    for (more, label) in [
        (0, "0 unread each"),
        (10, "10 unread each"),
        (110, "120 unread each (over the cap of 100)"),
    ] {
        write(&api, &ada, &channels, more).await;
        unread += more;
        caught_up(&api, &bob, unread.min(100) as u64).await;
        env.until_pushes_done().await;
        for route in ["/channels?limit=50", "/me/unread"] {
            rows.push(measure(&api, &meter, &bob, label, route).await);
        }
    }

    println!(
        "### Inbox\n\nA reader in {CHANNELS} groups (one of {BIG_CHANNEL_MEMBERS} members), over real HTTP through the local gateway (dev profile, DynamoDB Local), {RUNS} runs each, after the event router caught up; setup {:.0} s. Per request: DynamoDB calls (two sequential round trips: the caller's profile ‖ its list page, then the channels ‖ one bounded count per channel with unread messages), items read and read units as DynamoDB reports them. Nothing a page reads grows with a channel's members or history: only with its unread messages, up to the cap (`UNREAD_SCAN` = 201 items per channel).\n",
        setup.elapsed().as_secs_f64()
    );
    println!(
        "| unread messages | request | p50 | p99 | DynamoDB calls | items read | read units |"
    );
    println!("|---|---|---|---|---|---|---|");
    for row in rows {
        let per = |n: u64| n as f64 / RUNS as f64;
        println!(
            "| {} | `GET {}` | {:.1} ms | {:.1} ms | {:.1} | {:.1} | {:.1} |",
            row.scenario,
            row.route,
            row.timed.p50.as_secs_f64() * 1e3,
            row.timed.p99.as_secs_f64() * 1e3,
            per(row.timed.cost.calls),
            per(row.timed.cost.items_read),
            row.timed.cost.read_units() / RUNS as f64,
        );
    }
}
