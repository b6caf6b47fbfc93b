//! Fan-out benchmark (`make bench`): one channel of 500 members, each with 2 WebSocket
//! connections to the local gateway (1,000 real sockets). For each of 20 sends it measures the
//! time from the send to the last socket receiving the message, and the DynamoDB round trips
//! and items read; then it stores 10,000 connections of unrelated users and measures the same
//! send again: the items read must not change (no Scan; the cost follows the recipients).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures::{stream, StreamExt};
use integration_tests::metering::{DynamoMeter, Metered};
use integration_tests::{unique, TestEnv};
use local_gateway::websocket::{serve_websocket, WebSocketOptions};
use shared::domain::{
    ChannelId, ConnectionId, Email, MemberRole, Membership, NewChannel, Timestamp, User, UserId,
    UserName, MAX_GROUP_MEMBERS,
};
use shared::events::DomainEvent;
use shared::realtime::{self, Origin};
use shared::service::channels;
use shared::service::messages::{self, Sent};
use shared::storage::{Admission, ConnectionRecord};
use shared::AppContext;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

const CONNECTIONS_PER_MEMBER: usize = 2;
const SENDS: usize = 20;
const UNRELATED_USERS: usize = 1_000;
const UNRELATED_CONNECTIONS_EACH: usize = 10;
const SETUP_CONCURRENCY: usize = 32;

#[tokio::main]
async fn main() {
    run().await;
}

async fn new_user(ctx: &AppContext, name: &str) -> UserId {
    let user = User {
        id: UserId::generate(),
        email: Email::parse(&format!("{}@bench.example", unique("fanout"))).expect("email"),
        name: UserName::parse(name).expect("name"),
        created_at: Timestamp::now(),
        last_seen: None,
        online: false,
    };
    // Registering over HTTP would mostly measure password hashing.
    ctx.store
        .create_user(&user, "not-a-login")
        .await
        .expect("user");
    user.id
}

/// Users named `{prefix} {i}` for each `i` of `range`, created concurrently.
async fn new_users(ctx: &AppContext, prefix: &str, range: std::ops::Range<usize>) -> Vec<UserId> {
    stream::iter(range)
        .map(|i| async move { new_user(ctx, &format!("{prefix} {i}")).await })
        .buffer_unordered(SETUP_CONCURRENCY)
        .collect()
        .await
}

async fn run() {
    let ws_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let ws_address = ws_listener.local_addr().expect("address");
    let options = WebSocketOptions::default();
    let endpoint = format!("http://{ws_address}/{}", options.stage);
    let env = TestEnv::with_websocket_endpoint(Some(endpoint)).await;
    let sdk = shared::context::load_sdk_config().await;
    let meter = DynamoMeter::default();
    let ctx = AppContext::with_dynamodb((*env.ctx.config).clone(), &sdk, meter.client(&sdk));
    let gateway_ctx = ctx.clone();
    tokio::spawn(async move { serve_websocket(ws_listener, gateway_ctx, options).await });

    // 500 users, connected before they share a channel: each first connection announces
    // presence to the user's contacts, and a user with none costs nothing to announce.
    let setup = Instant::now();
    let owner = new_user(&ctx, "Owner").await;
    let members = new_users(&ctx, "Member", 1..MAX_GROUP_MEMBERS as usize).await;
    let everyone: Vec<UserId> = std::iter::once(owner.clone())
        .chain(members.clone())
        .collect();

    // 1,000 sockets; each reports (message id, arrival) for every message.created.
    let (arrivals, mut arrived) = mpsc::unbounded_channel::<(String, Instant)>();
    let ws = format!("ws://{ws_address}");
    let sockets = stream::iter(
        everyone
            .iter()
            .flat_map(|user| std::iter::repeat_n(user, CONNECTIONS_PER_MEMBER)),
    )
    .map(|user| {
        let token = ctx.tokens.issue(user).expect("token");
        let (url, arrivals) = (format!("{ws}/?token={token}"), arrivals.clone());
        async move {
            let (mut socket, _) = tokio_tungstenite::connect_async(url)
                .await
                .expect("connect");
            tokio::spawn(async move {
                while let Some(Ok(frame)) = socket.next().await {
                    let Message::Text(text) = frame else { continue };
                    let now = Instant::now();
                    let event: serde_json::Value = serde_json::from_str(&text).expect("JSON");
                    if event["type"] == "message.created" {
                        let id = event["message"]["id"].as_str().unwrap_or_default();
                        let _ = arrivals.send((id.to_string(), now));
                    }
                }
            });
        }
    })
    .buffer_unordered(SETUP_CONCURRENCY)
    .count()
    .await;
    let expected = everyone.len() * CONNECTIONS_PER_MEMBER;
    assert_eq!(sockets, expected);

    // The channel: the owner and 499 members.
    let new_channel = NewChannel::parse(&owner, "fan-out", None, &[], None).expect("channel");
    let channel = match channels::create(&ctx, &owner, new_channel)
        .await
        .expect("create")
    {
        channels::Created::New(view) | channels::Created::Existing(view) => view.channel,
    };
    stream::iter(members)
        .map(|user| {
            let (ctx, channel, owner) = (&ctx, &channel, &owner);
            async move {
                let membership = Membership {
                    channel_id: channel.id.clone(),
                    user_id: user,
                    role: MemberRole::Member,
                    joined_at: Timestamp::now(),
                };
                ctx.store
                    .add_member(channel, &membership, Admission::AddedBy(owner))
                    .await
                    .expect("member");
            }
        })
        .buffer_unordered(SETUP_CONCURRENCY)
        .count()
        .await;
    let setup_secs = setup.elapsed().as_secs_f64();

    let channel_id = channel.id.to_string();
    let mut latencies = Vec::with_capacity(SENDS);
    let mut metered = Vec::with_capacity(SENDS);
    for i in 0..SENDS {
        let (latency, cost) =
            send_and_wait(&ctx, &meter, &owner, &channel_id, i, expected, &mut arrived).await;
        latencies.push(latency);
        metered.push(cost);
    }
    latencies.sort();
    let percentile = |p: f64| {
        latencies[((latencies.len() as f64 * p).ceil() as usize - 1).min(latencies.len() - 1)]
    };
    let (p50, p99) = (percentile(0.50), percentile(0.99));
    let typical = metered[SENDS / 2];

    // The fan-out alone (recipients, connections, pushes) of one event.
    let event = DomainEvent::Typing {
        channel_id: ChannelId::parse(&channel_id).expect("id"),
        user_id: owner.clone(),
        is_typing: true,
    };
    meter.take();
    let (report, _) = realtime::deliver(&ctx, &Origin::api(), &event)
        .await
        .expect("deliver");
    let fanout_only = meter.take();

    // 10,000 connections of users unrelated to the channel, then the same send again.
    let unrelated = new_users(&ctx, "Unrelated", 0..UNRELATED_USERS).await;
    stream::iter(
        unrelated
            .iter()
            .flat_map(|user| (0..UNRELATED_CONNECTIONS_EACH).map(move |n| (user, n))),
    )
    .map(|(user, n)| {
        let ctx = &ctx;
        async move {
            let id = ConnectionId::parse(&format!("unrelated-{user}-{n}")).expect("id");
            let record = ConnectionRecord::new(id, user.clone(), Timestamp::now());
            ctx.store.open_connection(&record).await.expect("stored");
        }
    })
    .buffer_unordered(SETUP_CONCURRENCY)
    .count()
    .await;
    meter.take();
    let (latency_after, after) = send_and_wait(
        &ctx,
        &meter,
        &owner,
        &channel_id,
        SENDS,
        expected,
        &mut arrived,
    )
    .await;

    println!();
    println!(
        "### WebSocket fan-out\n\nOne channel, {} members x {CONNECTIONS_PER_MEMBER} connections = {expected} sockets on the local gateway, DynamoDB Local, {SENDS} sends (setup {setup_secs:.0} s).\n",
        everyone.len()
    );
    println!("| measure | value |");
    println!("|---|---|");
    println!(
        "| send → last of {expected} deliveries, p50 | {} ms |",
        p50.as_millis()
    );
    println!(
        "| send → last of {expected} deliveries, p99 | {} ms |",
        p99.as_millis()
    );
    println!(
        "| DynamoDB round trips per send (send + fan-out) | {} |",
        typical.calls
    );
    println!(
        "| items read per send (send + fan-out) | {} |",
        typical.items_read
    );
    println!(
        "| fan-out alone: round trips / items read / pushes | {} / {} / {} |",
        fanout_only.calls, fanout_only.items_read, report.delivered
    );
    println!(
        "| items read per send with 0 unrelated connections stored | {} |",
        typical.items_read
    );
    println!(
        "| items read per send with {} unrelated connections stored | {} (send → last delivery {} ms) |",
        UNRELATED_USERS * UNRELATED_CONNECTIONS_EACH,
        after.items_read,
        latency_after.as_millis()
    );
    assert_eq!(
        after, typical,
        "the cost of a push depends only on its recipients"
    );
}

/// Sends one message as the REST route does (the push happens before it returns) and waits
/// until every socket has it; the time to the last delivery, and the DynamoDB cost.
async fn send_and_wait(
    ctx: &AppContext,
    meter: &DynamoMeter,
    sender: &UserId,
    channel: &str,
    i: usize,
    expected: usize,
    arrived: &mut mpsc::UnboundedReceiver<(String, Instant)>,
) -> (Duration, Metered) {
    meter.take();
    let started = Instant::now();
    let channel = shared::domain::ChannelId::parse(channel).expect("a channel id");
    let sent = messages::send(
        ctx,
        sender,
        &channel,
        &format!("fan-out {i}"),
        None,
        None,
        &Origin::api(),
    )
    .await
    .expect("send");
    let cost = meter.take();
    let Sent::New(message) = sent else {
        panic!("a new message")
    };
    let id = message.id.to_string();
    let mut last = HashMap::<String, (usize, Instant)>::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (got, at) = tokio::time::timeout_at(deadline, arrived.recv())
            .await
            .expect("every socket received the message within 30 s")
            .expect("sockets alive");
        let entry = last.entry(got).or_insert((0, at));
        entry.0 += 1;
        entry.1 = entry.1.max(at);
        if entry.0 == expected && last.contains_key(&id) && last[&id].0 == expected {
            return (last[&id].1 - started, cost);
        }
    }
}
