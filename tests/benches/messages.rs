//! Messaging benchmark against DynamoDB Local (`make bench`): sends 10,000 messages into one
//! channel, then pages through the whole history, and prints messages per second and the
//! DynamoDB calls each operation made (counted by an SDK interceptor on the client).

use std::time::Instant;

use futures::{stream, StreamExt};
use integration_tests::metering::DynamoMeter;
use integration_tests::TestEnv;
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
    let env = TestEnv::new().await;
    let sdk = shared::context::load_sdk_config().await;
    let counter = DynamoMeter::default();
    let ctx = AppContext::with_dynamodb((*env.ctx.config).clone(), &sdk, counter.client(&sdk));

    let new_user = shared::domain::NewUser::parse(
        &format!("{}@bench.example", integration_tests::unique("bench")),
        "Bench",
        "bench password",
    )
    .expect("valid user");
    let signed_in = users::register(&ctx, new_user).await.expect("register");
    let user = ctx.tokens.verify(&signed_in.token).expect("a valid token");
    let new_channel =
        NewChannel::parse(&user.id, "bench", None, None, &[], None).expect("valid channel");
    let channel = match channels::create(&ctx, &user, new_channel)
        .await
        .expect("channel")
    {
        channels::Created::New(view) | channels::Created::Existing(view) => view.channel.id,
    };
    counter.take();

    let started = Instant::now();
    let sent = stream::iter(0..MESSAGES)
        .map(|i| send(&ctx, &user, &channel, i))
        .buffer_unordered(CONCURRENCY)
        .filter(|ok| futures::future::ready(*ok))
        .count()
        .await;
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
    println!("### Messaging throughput\n\n{MESSAGES} messages, one channel, DynamoDB Local, {CONCURRENCY} concurrent senders.\n");
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
