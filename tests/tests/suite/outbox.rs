//! Events, durably: every consequence comes from the table's stream through the event router,
//! and each delivery path survives its failures without losing or repeating what a user sees:
//! failing pushes are retried (only the failed ones), a crashed router's re-delivered batch
//! sends no second email or reply, and webhooks are signed, retried with the same id, and
//! dead-lettered after 5 tries.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use integration_tests::stack::{Socket, Stack};
use integration_tests::{TestEnv, TestUser};
use local_gateway::streams::Invoke;
use local_gateway::websocket::WebSocketOptions;
use serde_json::Value;

/// The `message.created` frames of `id` a socket gets until `quiet` passes without a frame.
async fn copies_of(socket: &mut Socket, id: &str, quiet: Duration) -> usize {
    socket
        .drain(quiet)
        .await
        .iter()
        .filter(|f| f["type"] == "message.created" && f["message"]["id"] == id)
        .count()
}

/// Two members with a socket each, presence settled; the channel id.
async fn pair_with_sockets(stack: &Stack) -> (TestUser, TestUser, String, Socket, Socket) {
    let [ada, bob] = stack.env.api.register_all(["Ada", "Bob"]).await;
    let channel = stack.env.api.group(&ada, &[&bob], true).await;
    let mut ada_socket = stack.socket(&ada).await;
    let mut bob_socket = stack.socket(&bob).await;
    // Presence of each other arrives first; let it pass.
    ada_socket.drain(Duration::from_millis(800)).await;
    bob_socket.drain(Duration::from_millis(100)).await;
    (ada, bob, channel, ada_socket, bob_socket)
}

/// Pushes that the management API fails are retried until they land, each socket getting
/// the message exactly once: `settings` decides who pushes (the request for small channels,
/// or, with `INLINE_PUSH_MAX_MEMBERS=0`, the router's fan-out worker).
async fn failed_pushes_land_once(settings: &[(&str, &str)], failures: u32) {
    let options = WebSocketOptions::default();
    let failing = options.failing_pushes.clone();
    let mut all = vec![("FANOUT_RETRY_BASE_SECONDS", "1")];
    all.extend_from_slice(settings);
    let stack = Stack::start_with_settings(options, &all).await;
    let (ada, _bob, channel, mut ada_socket, mut bob_socket) = pair_with_sockets(&stack).await;

    failing.store(failures, Ordering::SeqCst);
    let sent = stack
        .api
        .say(&ada, &channel, "through a failing push API")
        .await;
    let first = ada_socket
        .expect("message.created", |f| f["message"]["id"] == sent.as_str())
        .await;
    assert_eq!(first["message"]["body"], "through a failing push API");
    bob_socket
        .expect("message.created", |f| f["message"]["id"] == sent.as_str())
        .await;
    assert_eq!(failing.load(Ordering::SeqCst), 0, "the failures were met");
    let quiet = Duration::from_secs(2);
    assert_eq!(
        copies_of(&mut ada_socket, &sent, quiet).await,
        0,
        "no second copy"
    );
    assert_eq!(
        copies_of(&mut bob_socket, &sent, quiet).await,
        0,
        "no second copy"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_channels_failed_pushes_are_retried_and_land_once() {
    // Both inline pushes fail: the request records them, the router retries them.
    failed_pushes_land_once(&[], 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_routed_fan_outs_failed_push_is_retried_alone_and_lands_once() {
    // One of the chunk's two pushes fails: only that one is tried again.
    failed_pushes_land_once(&[("INLINE_PUSH_MAX_MEMBERS", "0")], 1).await;
}

/// The router handles a batch, then its invocation fails as a crash would (Lambda cannot
/// tell which records were done): the source bisects and delivers every record again. The
/// jobs are queued twice; the users still get one email and one reply.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_router_crash_mid_batch_repeats_no_email_and_no_reply() {
    let env = TestEnv::new().await;
    let [ada, bob] = env.api.register_all(["Ada", "Bob"]).await;
    env.verify_email(&bob).await;
    env.api.request_partner(&ada, &bob).await;
    let assistant = env.api.assistant_channel(&ada).await;
    env.api.say(&ada, &assistant, "hello").await;

    let router = Arc::new(env.event_router());
    let crashed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let invoke: Invoke = {
        let crashed = crashed.clone();
        Box::new(move |event| {
            let (router, crashed) = (router.clone(), crashed.clone());
            Box::pin(async move {
                let response = event_router::handle(&router, event).await;
                if !crashed.swap(true, Ordering::SeqCst) {
                    return Err("the router crashed after routing the batch".to_string());
                }
                let Ok(response) = response;
                Ok(response)
            })
        })
    };
    let mut source = env.stream_source().await;
    let caught_up = source
        .poll_until_caught_up(&invoke, Duration::from_secs(30))
        .await
        .expect("poll the stream");
    assert!(caught_up, "the retried batch went through");
    assert!(
        crashed.load(Ordering::SeqCst),
        "the first invocation crashed"
    );

    let mut emails = Vec::new();
    loop {
        let batch = env.receive_batch(&env.queue_url).await;
        if batch.is_empty() {
            break;
        }
        emails.extend(
            batch
                .into_iter()
                .filter_map(|m| m.body)
                .filter(|body| !body.contains("\"email.verification\"")),
        );
    }
    assert_eq!(
        emails.len(),
        2,
        "the request's email job, queued twice: {emails:?}"
    );
    assert_eq!(emails[0], emails[1]);
    for body in &emails {
        env.enqueue(&env.queue_url, body).await;
    }

    let moto = std::env::var("MOTO_ENDPOINT").expect("MOTO_ENDPOINT (set by with-emulators.sh)");
    let sdk = shared::context::load_sdk_config().await;
    let ses = aws_sdk_ses::Client::new(&sdk);
    ses.verify_email_identity()
        .email_address(&env.ctx.config.sender_email)
        .send()
        .await
        .expect("verify the sender");
    env.spawn_job_workers(ses).await;
    let replies = || env.api.assistant_replies(&ada, &assistant);
    let to_bob = || async {
        let emails = integration_tests::sent_emails(&moto).await;
        integration_tests::notifications_to(&emails, &bob.email).len()
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    while (to_bob().await, replies().await) != (1, 1) {
        assert!(Instant::now() < deadline, "one email and one reply arrive");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        (to_bob().await, replies().await),
        (1, 1),
        "and nothing twice"
    );
}

/// What a webhook receiver saw: each request's headers and body.
#[derive(Clone, Default)]
struct Receiver {
    requests: Arc<Mutex<Vec<(HeaderMap, String)>>>,
}

impl Receiver {
    /// Answers 503 to the first two tries of each event, and to every try of an accepted
    /// request (which therefore ends in the dead-letter queue); 200 otherwise.
    async fn start(&self) -> String {
        async fn receive(
            State(receiver): State<Receiver>,
            headers: HeaderMap,
            body: String,
        ) -> StatusCode {
            let event: Value = serde_json::from_str(&body).unwrap_or_default();
            let mut requests = receiver.requests.lock().unwrap();
            requests.push((headers, body));
            let tries = requests
                .iter()
                .filter(|(_, b)| {
                    serde_json::from_str::<Value>(b).unwrap_or_default()["id"] == event["id"]
                })
                .count();
            if event["type"] == "partner_request.accepted" || tries <= 2 {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::OK
            }
        }
        let app = axum::Router::new()
            .route("/hooks", axum::routing::post(receive))
            .with_state(self.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{address}/hooks")
    }

    fn of_type(&self, kind: &str) -> Vec<(HeaderMap, Value, String)> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .map(|(h, b)| {
                (
                    h.clone(),
                    serde_json::from_str::<Value>(b).unwrap_or_default(),
                    b.clone(),
                )
            })
            .filter(|(_, event, _)| event["type"] == kind)
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_signed_retried_with_the_same_id_and_dead_lettered_after_five_tries() {
    const SECRET: &str = "webhook-test-secret";
    let receiver = Receiver::default();
    let url = receiver.start().await;
    let stack = Stack::start_with_settings(
        WebSocketOptions::default(),
        &[
            ("WEBHOOK_URL", url.as_str()),
            ("WEBHOOK_SECRET", SECRET),
            ("WEBHOOK_RETRY_BASE_SECONDS", "1"),
        ],
    )
    .await;
    let [ada, bob] = stack.env.api.register_all(["Ada", "Bob"]).await;
    let request = stack.env.api.request_partner(&ada, &bob).await;

    // Two 503s, then a 200: three tries of one delivery, the same bytes each time.
    let deadline = Instant::now() + Duration::from_secs(20);
    while receiver.of_type("partner_request.received").len() < 3 {
        assert!(Instant::now() < deadline, "three tries within 20 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let tries = receiver.of_type("partner_request.received");
    let (headers, event, body) = &tries[0];
    assert!(
        tries.iter().all(|(_, _, b)| b == body),
        "the same body (and id) on every retry"
    );
    assert_eq!(
        headers["x-webhook-signature"],
        shared::service::webhooks::signature(SECRET, body.as_bytes()).as_str()
    );
    assert_eq!(headers["x-webhook-id"], event["id"].as_str().unwrap());
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(event["data"]["request"]["id"], request.as_str());
    assert_eq!(event["data"]["request"]["recipient"]["id"], bob.id.as_str());
    assert!(event["occurred_at"]
        .as_str()
        .is_some_and(|t| t.ends_with('Z')));
    assert!(event.get("data").and_then(|d| d.get("type")).is_none());

    // A receiver that keeps failing: 5 tries, then the dead-letter queue, with the event.
    stack
        .env
        .api
        .answer_request(&bob, &request, "accept")
        .await
        .assert_status(200);
    let dead_letters = stack.env.webhook_dead_letter_url();
    let deadline = Instant::now() + Duration::from_secs(60);
    let parked = loop {
        let parked = stack.env.receive_batch(&dead_letters).await;
        if !parked.is_empty() {
            break parked;
        }
        assert!(Instant::now() < deadline, "dead-lettered within 60 s");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let parked: Value = serde_json::from_str(parked[0].body().unwrap_or_default()).unwrap();
    assert_eq!(parked["type"], "partner_request.accepted");
    let accepted = receiver.of_type("partner_request.accepted");
    assert_eq!(accepted.len(), 5, "five tries, no more");
    assert!(accepted.iter().all(|(_, e, _)| e["id"] == parked["id"]));
    // The successful delivery was not repeated meanwhile.
    assert_eq!(receiver.of_type("partner_request.received").len(), 3);
}
