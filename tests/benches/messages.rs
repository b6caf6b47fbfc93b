//! Messaging benchmark against DynamoDB Local (`make bench`): 16 members send 10,000 messages
//! into one public channel, then one pages through the whole history; it prints messages per
//! second and the DynamoDB calls each operation made (counted by an SDK interceptor on the
//! client). Each member sends one message at a time, as a person's client does: a member's
//! sends claim its own send window, so one member's concurrent sends would contend.

use std::time::Instant;

use integration_tests::metering::DynamoMeter;
use integration_tests::{Endpoints, TestEnv, BENCH_LIMITS};
use shared::domain::{NewChannel, PageRequest};
use shared::realtime::Origin;
use shared::service::messages::{self, Draft, HistoryQuery, Sent};
use shared::service::{channels, users};
use shared::AppContext;

const MESSAGES: usize = 10_000;
const CONCURRENCY: usize = 16;
const PAGE: &str = "100";

#[tokio::main]
async fn main() {
    run().await;
}

async fn run() {
    let env = TestEnv::with_settings(Endpoints::default(), &BENCH_LIMITS).await;
    let sdk = shared::context::load_sdk_config().await;
    let counter = DynamoMeter::default();
    let ctx = AppContext::with_dynamodb((*env.ctx.config).clone(), &sdk, counter.client(&sdk));

    let mut senders = Vec::new();
    for i in 0..CONCURRENCY {
        let new_user = shared::domain::NewUser::parse(
            &format!("{}@bench.example", integration_tests::unique("bench")),
            &format!("Bench {i}"),
            "bench password",
        )
        .expect("valid user");
        let signed_in = users::register(&ctx, new_user).await.expect("register");
        senders.push(ctx.tokens.verify(&signed_in.token).expect("a valid token"));
    }
    let user = senders[0].clone();
    let new_channel =
        NewChannel::parse(&user.id, "bench", None, None, &[], Some(false)).expect("valid channel");
    let channel = match channels::create(&ctx, &user, new_channel)
        .await
        .expect("channel")
    {
        channels::Created::New(view) | channels::Created::Existing(view) => view.channel.id,
    };
    for sender in &senders[1..] {
        channels::join(&ctx, sender, &channel).await.expect("join");
    }
    counter.take();

    let started = Instant::now();
    let per_sender = MESSAGES / CONCURRENCY;
    let sent: usize = futures::future::join_all(senders.iter().enumerate().map(|(s, sender)| {
        let (ctx, channel) = (&ctx, &channel);
        async move {
            let mut ok = 0;
            for i in 0..per_sender {
                ok += usize::from(send(ctx, sender, channel, s * per_sender + i).await);
            }
            ok
        }
    }))
    .await
    .into_iter()
    .sum();
    let send_secs = started.elapsed().as_secs_f64();
    let send_calls = counter.take().calls;
    assert_eq!(sent, MESSAGES, "every send succeeded");

    let started = Instant::now();
    let (mut pages, mut read, mut cursor) = (0u64, 0usize, None::<String>);
    loop {
        let page = PageRequest::parse(Some(PAGE), cursor.as_deref()).expect("page");
        let result = messages::history(&ctx, &user, &channel, HistoryQuery::default(), &page)
            .await
            .expect("history page");
        pages += 1;
        read += result.items.len();
        cursor = result.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    let page_secs = started.elapsed().as_secs_f64();
    let page_calls = counter.take().calls;
    assert_eq!(read, MESSAGES, "the whole history was read");

    let started = Instant::now();
    let query = HistoryQuery {
        q: Some("message 9999"),
        ..HistoryQuery::default()
    };
    let page = PageRequest::parse(Some("50"), None).expect("page");
    let found = messages::history(&ctx, &user, &channel, query, &page)
        .await
        .expect("search")
        .items
        .len();
    let search_ms = started.elapsed().as_secs_f64() * 1000.0;
    let search_calls = counter.take().calls;

    println!();
    println!("### Messaging throughput\n\n{MESSAGES} messages, one channel, DynamoDB Local, {CONCURRENCY} members sending at once.\n");
    println!("| operation | throughput | DynamoDB calls per operation |");
    println!("|---|---|---|");
    println!(
        "| send a message | {:.0} messages/s | {:.2} |",
        MESSAGES as f64 / send_secs,
        send_calls as f64 / MESSAGES as f64
    );
    println!(
        "| read history, pages of {PAGE} (newest first) | {:.0} messages/s ({pages} pages) | {:.2} per page |",
        read as f64 / page_secs,
        page_calls as f64 / pages as f64
    );
    println!(
        "| search `q` (one bounded page of 200) | {search_ms:.1} ms, {found} found | {search_calls} |"
    );
}

async fn send(
    ctx: &AppContext,
    user: &shared::domain::Caller,
    channel: &shared::domain::ChannelId,
    i: usize,
) -> bool {
    matches!(
        messages::send(
            ctx,
            user,
            channel,
            &Draft {
                body: &format!("Message {i} of the benchmark"),
                ..Draft::default()
            },
            &Origin::api(),
        )
        .await,
        Ok(Sent::New(_))
    )
}
