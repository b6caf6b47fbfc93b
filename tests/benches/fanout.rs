//! Fan-out benchmark (`make bench`): what a sender waits for, and how long delivery takes, as
//! a channel grows from 2 members to 5,000, through the whole local stack: the send as the
//! REST handler makes it, the table's stream read by the local event source, the event router,
//! the fan-out queue on moto and its workers, real WebSockets on the local gateway.
//!
//! Scenarios, in one run: 2 members (1 socket each) pushed by the request, the same channel
//! pushed by the router (`INLINE_PUSH_MAX_MEMBERS=0`), 500 members × 2 sockets (1,000), and
//! 5,000 members × 1 socket. For each: the sender's answer time, send → last delivery
//! p50/p99, and the DynamoDB calls, items read and write units per send, of the request and
//! of the router and fan-out behind it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures::{stream, StreamExt};
use integration_tests::metering::{percentile, DynamoMeter, Metered};
use integration_tests::{unique, Endpoints, TestEnv};
use local_gateway::streams::Start;
use local_gateway::websocket::{serve_websocket, WebSocketOptions};
use shared::domain::{
    Channel, ChannelId, Email, MemberRole, Membership, NewChannel, Timestamp, User, UserId,
    UserName, VerificationCode,
};
use shared::realtime::Origin;
use shared::service::channels;
use shared::service::messages::{self, Draft, Sent};
use shared::storage::{Admission, MemberAdded};
use shared::AppContext;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

const SMALL_SENDS: usize = 50;
const BIG_SENDS: usize = 10;
const SETUP_CONCURRENCY: usize = 32;

#[tokio::main]
async fn main() {
    run().await;
}

async fn new_user(ctx: &AppContext, name: &str) -> UserId {
    let user = User::new_account(
        Email::parse(&format!("{}@bench.example", unique("fanout"))).expect("email"),
        UserName::parse(name).expect("name"),
        Timestamp::now(),
    );
    // Registering over HTTP would mostly measure password hashing.
    ctx.store
        .create_user(
            &user,
            "not-a-login",
            VerificationCode::generate(),
            Default::default(),
        )
        .await
        .expect("user");
    user.id
}

#[derive(serde::Deserialize)]
struct Frame<'a> {
    #[serde(rename = "type", borrow)]
    kind: &'a str,
    #[serde(borrow)]
    message: Option<FrameMessage<'a>>,
}

#[derive(serde::Deserialize)]
struct FrameMessage<'a> {
    id: &'a str,
}

/// Sockets report (message id, arrival) for every `message.created` they get.
type Arrivals = mpsc::UnboundedSender<(String, Instant)>;

/// A group of `members` users with `sockets_each` sockets each; the channel and its owner.
async fn channel_with_sockets(
    ctx: &AppContext,
    ws: &str,
    members: usize,
    sockets_each: usize,
    arrivals: &Arrivals,
) -> (Channel, UserId) {
    let users: Vec<UserId> = stream::iter(0..members)
        .map(|i| async move { new_user(ctx, &format!("Member {i}")).await })
        .buffer_unordered(SETUP_CONCURRENCY)
        .collect()
        .await;
    let owner = users[0].clone();
    stream::iter(
        users
            .iter()
            .flat_map(|u| std::iter::repeat_n(u, sockets_each)),
    )
    .map(|user| {
        let token = ctx.tokens.issue(user, 0).expect("token").token;
        let (url, arrivals) = (format!("{ws}/?token={token}"), arrivals.clone());
        async move {
            let (mut socket, _) = tokio_tungstenite::connect_async(url)
                .await
                .expect("connect");
            tokio::spawn(async move {
                while let Some(Ok(frame)) = socket.next().await {
                    let Message::Text(text) = frame else { continue };
                    let now = Instant::now();
                    // Only what the measure needs is decoded: 5,000 sockets share two cores
                    // with the whole stack.
                    let frame: Frame = serde_json::from_str(&text).expect("JSON");
                    if let (Some(message), "message.created") = (frame.message, frame.kind) {
                        let _ = arrivals.send((message.id.to_string(), now));
                    }
                }
            });
        }
    })
    .buffer_unordered(SETUP_CONCURRENCY)
    .count()
    .await;
    // Public, so members join by themselves (an add needs a partnership with the adder).
    let new_channel =
        NewChannel::parse(&owner, "fan-out", None, None, &[], Some(false)).expect("channel");
    let channel = match channels::create(ctx, &caller_of(ctx, &owner), new_channel)
        .await
        .expect("create")
    {
        channels::Created::New(view) | channels::Created::Existing(view) => view.channel,
    };
    stream::iter(users.into_iter().skip(1))
        .map(|user| {
            let channel = &channel;
            async move {
                let membership = Membership {
                    channel_id: channel.id.clone(),
                    user_id: user,
                    role: MemberRole::Member,
                    joined_at: Timestamp::now(),
                };
                let added = ctx
                    .store
                    .add_member(
                        channel,
                        &membership,
                        Admission::Joined,
                        ctx.config.limits.max_group_members,
                        None,
                    )
                    .await
                    .expect("member");
                assert_eq!(added, MemberAdded::Added);
            }
        })
        .buffer_unordered(SETUP_CONCURRENCY)
        .count()
        .await;
    (channel, owner)
}

/// One scenario's figures.
struct Measured {
    name: String,
    sockets: usize,
    answer_p50: Duration,
    delivery_p50: Duration,
    delivery_p99: Duration,
    request: Metered,
    behind: Metered,
}

/// `sends` messages from `sender` into `channel`, each awaited on all `sockets`; the meters
/// are the request's and the one behind it.
async fn measure(
    name: &str,
    ctx: &AppContext,
    (request_meter, behind_meter): (&DynamoMeter, &DynamoMeter),
    (channel, sender, sockets): (&ChannelId, &UserId, usize),
    sends: usize,
    arrived: &mut mpsc::UnboundedReceiver<(String, Instant)>,
) -> Measured {
    let (mut answers, mut deliveries) = (Vec::new(), Vec::new());
    let (mut request, mut behind) = (Vec::new(), Vec::new());
    let sender = &caller_of(ctx, sender);
    for i in 0..sends {
        request_meter.take();
        behind_meter.take();
        let started = Instant::now();
        let sent = messages::send(
            ctx,
            sender,
            channel,
            &Draft {
                body: &format!("{name} {i}"),
                ..Draft::default()
            },
            &Origin::api(),
        )
        .await
        .expect("send");
        answers.push(started.elapsed());
        request.push(request_meter.take());
        let Sent::New(message) = sent else {
            panic!("a new message")
        };
        let id = message.id.to_string();
        let mut got: HashMap<String, (usize, Instant)> = HashMap::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let Ok(arrival) = tokio::time::timeout_at(deadline, arrived.recv()).await else {
                let reached = got.get(&id).map_or(0, |(n, _)| *n);
                let members = ctx.store.channel_member_ids(channel).await;
                let live = match &members {
                    Ok(members) => format!("{:?}", ctx.store.live_connections(members, None).await),
                    Err(err) => err.to_string(),
                };
                panic!("{name}: message {i} reached {reached} of {sockets} sockets within 60 s; members {members:?}, live connections {live}");
            };
            let (message, at) = arrival.expect("sockets alive");
            let entry = got.entry(message).or_insert((0, at));
            entry.0 += 1;
            entry.1 = entry.1.max(at);
            if got.get(&id).is_some_and(|(n, _)| *n == sockets) {
                deliveries.push(got[&id].1 - started);
                break;
            }
        }
        // The ledger writes of the last chunks land just after their pushes.
        tokio::time::sleep(Duration::from_millis(200)).await;
        behind.push(behind_meter.take());
    }
    answers.sort();
    deliveries.sort();
    let typical = |costs: &[Metered]| costs[costs.len() / 2];
    Measured {
        name: name.to_string(),
        sockets,
        answer_p50: percentile(&answers, 0.5),
        delivery_p50: percentile(&deliveries, 0.5),
        delivery_p99: percentile(&deliveries, 0.99),
        request: typical(&request),
        behind: typical(&behind),
    }
}

async fn run() {
    let ws_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let ws_address = ws_listener.local_addr().expect("address");
    let options = WebSocketOptions::default();
    let endpoint = format!("http://{ws_address}/{}", options.stage);
    let mut env = TestEnv::with_endpoints(Endpoints {
        websocket: Some(endpoint),
        ..Endpoints::default()
    })
    .await;
    let sdk = shared::context::load_sdk_config().await;
    // The router, the fan-out workers and the gateway's $connect on one meter; the sends on
    // their own.
    let (request_meter, behind_meter) = (DynamoMeter::default(), DynamoMeter::default());
    env.set_ctx(AppContext::with_dynamodb(
        (*env.ctx.config).clone(),
        &sdk,
        behind_meter.client(&sdk),
    ));
    let request_ctx = |inline_max: u32| {
        let mut config = (*env.ctx.config).clone();
        config.limits.inline_push_max_members = inline_max;
        // The benchmark sends faster than a person may.
        config.limits.send_burst = u32::MAX;
        let mut ctx = AppContext::with_dynamodb(config, &sdk, request_meter.client(&sdk));
        ctx.fanout = env.ctx.fanout.clone();
        ctx.webhooks = env.ctx.webhooks.clone();
        ctx
    };
    let sender_ctx = request_ctx(env.ctx.config.limits.inline_push_max_members);
    let routed_ctx = request_ctx(0);
    let gateway_ctx = env.ctx.clone();
    tokio::spawn(async move { serve_websocket(ws_listener, gateway_ctx, options).await });

    let (arrivals, mut arrived) = mpsc::unbounded_channel();
    let ws = format!("ws://{ws_address}");
    let setup = Instant::now();
    let ctx = env.ctx.clone();
    let (pair, pair_owner) = channel_with_sockets(&ctx, &ws, 2, 1, &arrivals).await;
    let (thousand, thousand_owner) = channel_with_sockets(&ctx, &ws, 500, 2, &arrivals).await;
    let (big, big_owner) = channel_with_sockets(&ctx, &ws, 5_000, 1, &arrivals).await;
    let setup_secs = setup.elapsed().as_secs_f64();
    // What the setup wrote is not routed (its member.joined pushes would be 12.5 million).
    env.spawn_event_sources_from(Start::Latest).await;
    // The maintenance worker too: it moves a big channel's lists once per burst of messages.
    env.spawn_job_workers(aws_sdk_ses::Client::new(&sdk)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let scenarios = [
        (
            "2 members, pushed by the request",
            &sender_ctx,
            &pair,
            &pair_owner,
            2,
            SMALL_SENDS,
        ),
        (
            "2 members, pushed by the router",
            &routed_ctx,
            &pair,
            &pair_owner,
            2,
            SMALL_SENDS,
        ),
        (
            "500 members × 2 sockets",
            &sender_ctx,
            &thousand,
            &thousand_owner,
            1_000,
            BIG_SENDS,
        ),
        (
            "5,000 members × 1 socket",
            &sender_ctx,
            &big,
            &big_owner,
            5_000,
            BIG_SENDS,
        ),
    ];
    let mut results = Vec::new();
    for (name, ctx, channel, owner, sockets, sends) in scenarios {
        let meters = (&request_meter, &behind_meter);
        let target = (&channel.id, owner, sockets);
        eprintln!("fan-out benchmark: {name}");
        results.push(measure(name, ctx, meters, target, sends, &mut arrived).await);
    }

    // The reads behind one 5,000-member fan-out, alone: where its time goes here.
    let started = Instant::now();
    let ids = ctx
        .store
        .channel_member_ids(&big.id)
        .await
        .expect("members");
    let members_read = started.elapsed();
    let chunks = ids.chunks(ctx.config.limits.fanout_chunk_users);
    futures::future::try_join_all(chunks.map(|chunk| ctx.store.live_connections(chunk, None)))
        .await
        .expect("connections");
    let reads = started.elapsed();

    println!();
    println!("### WebSocket fan-out\n\nThe whole local stack (table stream → event router → fan-out queue on moto → 4 fan-out pollers → real sockets on the local gateway) in one optimized process, DynamoDB Local; {SMALL_SENDS} sends to the 2-member channel, {BIG_SENDS} to each big one (setup {setup_secs:.0} s). \"Request\" is the send's own DynamoDB use; \"behind\" is the router's and the fan-out workers' per send.\n");
    println!("| channel | sockets | sender's answer, p50 | send → last delivery, p50 | p99 | request: calls / items read / write units | behind: calls / items read / write units |");
    println!("|---|---|---|---|---|---|---|");
    for m in &results {
        println!(
            "| {} | {} | {:.1} ms | {:.1} ms | {:.1} ms | {} / {} / {:.1} | {} / {} / {:.1} |",
            m.name,
            m.sockets,
            m.answer_p50.as_secs_f64() * 1000.0,
            m.delivery_p50.as_secs_f64() * 1000.0,
            m.delivery_p99.as_secs_f64() * 1000.0,
            m.request.calls,
            m.request.items_read,
            m.request.write_units(),
            m.behind.calls,
            m.behind.items_read,
            m.behind.write_units(),
        );
    }
    let ratio = results[3].answer_p50.as_secs_f64() / results[0].answer_p50.as_secs_f64();
    println!();
    println!(
        "Sender's answer at 5,000 members ÷ at 2: **{ratio:.2}** (target ≤ 1.2). Delivery p99: {:.0} ms at 1,000 sockets (target < 1,000), {:.0} ms at 5,000 (target < 2,000).",
        results[2].delivery_p99.as_secs_f64() * 1000.0,
        results[3].delivery_p99.as_secs_f64() * 1000.0
    );
    println!(
        "The reads behind one 5,000-member fan-out, alone on DynamoDB Local: the member ids {:.0} ms, then every member's connections (25 chunks at once) {:.0} ms in all.",
        members_read.as_secs_f64() * 1000.0,
        reads.as_secs_f64() * 1000.0
    );
    println!();
    println!("Command: `infra/scripts/with-emulators.sh cargo bench --profile bench-opt -p integration-tests --bench fanout` (optimized like the functions, without fat LTO)");
}

/// `user` signed in, as the services take it.
fn caller_of(ctx: &AppContext, user: &UserId) -> shared::domain::Caller {
    let token = ctx.tokens.issue(user, 0).expect("token").token;
    ctx.tokens.verify(&token).expect("a valid token")
}
