//! Test harness: every test gets its own table and queue on the emulators that
//! `infra/scripts/with-emulators.sh` started (so tests run in parallel), and calls the
//! functions' handlers with real API Gateway events, as Lambda and the local gateway do.

pub mod client;
pub mod files;
pub mod mailroom;
pub mod metering;
pub mod model;
pub mod openapi;
pub mod outage;
pub mod runtime_api;
pub mod samples;
pub mod stack;
pub mod turns;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::Value;
use shared::config::Config;
use shared::queue::Queue;
use shared::AppContext;

/// How long routing every change so far may take before a test gives up on the router.
const ROUTING_PATIENCE: Duration = Duration::from_secs(60);

pub const TEST_SECRET: &str = "integration-test-secret-0123456789abcdef";

/// Settings for benchmarks, which send, ask and get replies faster than a person may: the
/// contract's rate limits and quotas lifted.
pub const BENCH_LIMITS: [(&str, &str); 3] = [
    ("SEND_BURST", "1000000"),
    ("PARTNER_REQUESTS_PER_DAY", "1000000"),
    ("ASSISTANT_REPLIES_PER_DAY", "1000000"),
];

/// Where a test environment's services are; `None` is the shared emulators (or no
/// WebSocket API).
#[derive(Clone, Debug, Default)]
pub struct Endpoints {
    pub websocket: Option<String>,
    pub dynamodb: Option<String>,
    pub sqs: Option<String>,
}

impl Endpoints {
    pub fn dynamodb(url: String) -> Self {
        let dynamodb = Some(url);
        Self {
            dynamodb,
            ..Self::default()
        }
    }

    pub fn sqs(url: String) -> Self {
        let sqs = Some(url);
        Self {
            sqs,
            ..Self::default()
        }
    }
}

pub use client::{spawn_gateway, Answer, Api, TestUser};

pub struct TestEnv {
    pub ctx: AppContext,
    /// The API in process, over `ctx`.
    pub api: Api,
    pub sqs: aws_sdk_sqs::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub queue_url: String,
    pub maintenance_queue_url: String,
    pub assistant_queue_url: String,
    pub fanout_queue_url: String,
    pub webhook_queue_url: String,
    /// The S3 notifications of this test's attachment bucket.
    pub attachment_queue_url: String,
    pub bucket: String,
    pub s3: aws_sdk_s3::Client,
    pub table: String,
    /// The table's one reader of its stream: `route_changes`, and the background source of
    /// `spawn_event_sources` (opened on first use).
    stream: std::sync::Arc<tokio::sync::Mutex<Option<local_gateway::streams::StreamSource>>>,
    /// The DynamoDB Local this environment's table is on.
    dynamodb_url: String,
    /// Settings a test gives its functions (`WEBHOOK_URL`, limits, ...).
    settings: Vec<(String, String)>,
    /// Its turn at the shared emulators, held until it is dropped.
    _turn: turns::Turn,
}

fn require_emulators() {
    if std::env::var("AWS_ENDPOINT_URL_DYNAMODB").is_err()
        || std::env::var("AWS_ENDPOINT_URL_SQS").is_err()
    {
        panic!(
            "integration tests need DynamoDB Local and moto: run `make test`, or \
             `infra/scripts/with-emulators.sh cargo test --workspace`"
        );
    }
}

async fn create_queue(sqs: &aws_sdk_sqs::Client, prefix: &str) -> String {
    sqs.create_queue()
        .queue_name(unique(prefix))
        .attributes(QueueAttributeName::VisibilityTimeout, "300")
        .send()
        .await
        .expect("create a test queue")
        .queue_url
        .expect("queue url")
}

pub(crate) fn openapi_document() -> &'static openapi::Document {
    static DOCUMENT: std::sync::OnceLock<openapi::Document> = std::sync::OnceLock::new();
    DOCUMENT.get_or_init(openapi::Document::load)
}

/// Every email the moto at `endpoint` took through SES (`source, subject, body, destinations`).
pub async fn sent_emails(endpoint: &str) -> Vec<Value> {
    fn collect(value: &Value, found: &mut Vec<Value>) {
        match value {
            Value::Object(map) if map.contains_key("destinations") => found.push(value.clone()),
            Value::Object(map) => map.values().for_each(|v| collect(v, found)),
            Value::Array(items) => items.iter().for_each(|v| collect(v, found)),
            _ => {}
        }
    }
    let data: Value = reqwest::get(format!("{endpoint}/moto-api/data.json"))
        .await
        .expect("moto answers")
        .json()
        .await
        .expect("JSON");
    let mut found = Vec::new();
    collect(&data["ses"], &mut found);
    found
}

/// The emails of `emails` addressed to `address`.
pub fn emails_to<'a>(emails: &'a [Value], address: &str) -> Vec<&'a Value> {
    emails
        .iter()
        .filter(|m| m["destinations"].to_string().contains(address))
        .collect()
}

/// How the subject of a verification code email ends (the code leads it).
pub const CODE_SUBJECT: &str = " is your Chat verification code";

/// The emails of `emails` to `address` other than verification codes: the notifications.
pub fn notifications_to<'a>(emails: &'a [Value], address: &str) -> Vec<&'a Value> {
    emails_to(emails, address)
        .into_iter()
        .filter(|email| {
            !email["subject"]
                .as_str()
                .unwrap_or("")
                .ends_with(CODE_SUBJECT)
        })
        .collect()
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A name no other test (or earlier run against the same emulators) uses.
pub fn unique(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{n}", uuid::Uuid::new_v4().simple())
}

impl TestEnv {
    pub async fn new() -> Self {
        Self::with_websocket_endpoint(None).await
    }

    /// A fresh environment and the users `names`, registered one after another (ids are
    /// time-ordered, so they sort in this order).
    pub async fn with_users<const N: usize>(names: [&str; N]) -> (Self, [TestUser; N]) {
        let env = Self::new().await;
        let users = env.api.register_all(names).await;
        (env, users)
    }

    /// A test environment whose pushes go to the `@connections` API at `endpoint`.
    pub async fn with_websocket_endpoint(endpoint: Option<String>) -> Self {
        Self::with_endpoints(Endpoints {
            websocket: endpoint,
            ..Endpoints::default()
        })
        .await
    }

    /// A test environment on emulators of the test's own where `endpoints` names them.
    pub async fn with_endpoints(endpoints: Endpoints) -> Self {
        Self::with_settings(endpoints, &[]).await
    }

    /// As `with_endpoints`, with configuration variables of the test's (`WEBHOOK_URL`,
    /// `INLINE_PUSH_MAX_MEMBERS`, ...).
    pub async fn with_settings(endpoints: Endpoints, settings: &[(&str, &str)]) -> Self {
        Self::in_turn(endpoints, settings, turns::Turn::shared().await).await
    }

    /// As `with_settings`, holding `turn` at the shared emulators.
    pub(crate) async fn in_turn(
        endpoints: Endpoints,
        settings: &[(&str, &str)],
        turn: turns::Turn,
    ) -> Self {
        // `TEST_LOG=warn` (any filter) shows the functions' logs, for a failing test.
        if let Ok(filter) = std::env::var("TEST_LOG") {
            std::env::set_var("RUST_LOG", filter);
            std::env::set_var("LOG_FORMAT", "text");
            shared::telemetry::init();
        }
        let settings: Vec<(String, String)> = settings
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        require_emulators();
        let sdk = shared::context::load_sdk_config().await;
        let mut dynamodb = aws_sdk_dynamodb::config::Builder::from(&sdk);
        if let Some(url) = &endpoints.dynamodb {
            dynamodb = dynamodb.endpoint_url(url);
        }
        let dynamodb = aws_sdk_dynamodb::Client::from_conf(dynamodb.build());
        let mut sqs = aws_sdk_sqs::config::Builder::from(&sdk);
        if let Some(url) = &endpoints.sqs {
            sqs = sqs.endpoint_url(url);
        }
        let sqs = aws_sdk_sqs::Client::from_conf(sqs.build());
        let table = unique("test");
        shared::storage::schema::create_table(&dynamodb, &table)
            .await
            .expect("create the test table");
        let queue_url = create_queue(&sqs, "notify").await;
        let maintenance_queue_url = create_queue(&sqs, "maintenance").await;
        let assistant_queue_url = create_queue(&sqs, "assistant").await;
        let fanout_queue_url = create_queue(&sqs, "fanout").await;
        // As deployed: dead-lettered after 5 tries.
        let webhook_queue_url =
            local_gateway::bootstrap::ensure_queue(&sqs, &unique("webhooks"), 180)
                .await
                .expect("create the webhook queue");
        let attachment_queue_url = create_queue(&sqs, "attachments").await;
        let bucket = unique("files");
        let s3 = shared::objects::s3_client(&sdk);
        local_gateway::bootstrap::ensure_bucket(
            &s3,
            &bucket,
            &local_gateway::sqs::queue_arn(&sqs, &attachment_queue_url)
                .await
                .expect("the attachment queue's ARN"),
            &["*".to_string()],
        )
        .await
        .expect("create the attachment bucket");
        let config = Config::from_lookup(|name| match name {
            _ if settings.iter().any(|(k, _)| k == name) => settings
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone()),
            "TABLE_NAME" => Some(table.clone()),
            "NOTIFICATION_QUEUE_URL" => Some(queue_url.clone()),
            "MAINTENANCE_QUEUE_URL" => Some(maintenance_queue_url.clone()),
            "ASSISTANT_QUEUE_URL" => Some(assistant_queue_url.clone()),
            "FANOUT_QUEUE_URL" => Some(fanout_queue_url.clone()),
            "WEBHOOK_QUEUE_URL" => Some(webhook_queue_url.clone()),
            "ATTACHMENTS_BUCKET" => Some(bucket.clone()),
            "JWT_SECRET" => Some(TEST_SECRET.into()),
            "SENDER_EMAIL" => Some("noreply@example.com".into()),
            "WEBSOCKET_API_ENDPOINT" => endpoints.websocket.clone(),
            _ => None,
        })
        .expect("test config");
        let mut ctx = AppContext::with_dynamodb(config, &sdk, dynamodb.clone());
        if endpoints.sqs.is_some() {
            ctx.notifications = Queue::new(sqs.clone(), &queue_url);
            ctx.maintenance = Queue::new(sqs.clone(), &maintenance_queue_url);
            ctx.assistant = Queue::new(sqs.clone(), &assistant_queue_url);
            ctx.fanout = Queue::new(sqs.clone(), &fanout_queue_url);
            ctx.webhooks = Queue::new(sqs.clone(), &webhook_queue_url);
        }
        Self {
            api: Api::in_process(ctx.clone()),
            ctx,
            sqs,
            dynamodb,
            queue_url,
            maintenance_queue_url,
            assistant_queue_url,
            fanout_queue_url,
            webhook_queue_url,
            attachment_queue_url,
            bucket,
            s3,
            table,
            stream: Default::default(),
            dynamodb_url: endpoints
                .dynamodb
                .clone()
                .or_else(|| std::env::var("AWS_ENDPOINT_URL_DYNAMODB").ok())
                .expect("a DynamoDB endpoint"),
            settings,
            _turn: turn,
        }
    }

    /// The event router over this environment's context, as its Lambda function runs it.
    pub fn event_router(&self) -> event_router::EventRouter {
        event_router::EventRouter {
            ctx: self.ctx.clone(),
            dead_letters: None,
        }
    }

    fn router_invoke(&self) -> local_gateway::streams::Invoke {
        local_gateway::router_invoke(std::sync::Arc::new(self.event_router()))
    }

    /// The table's stream, from its first record, as the local gateway reads it.
    pub async fn stream_source(&self) -> local_gateway::streams::StreamSource {
        self.stream_source_from(local_gateway::streams::Start::TrimHorizon)
            .await
    }

    async fn stream_source_from(
        &self,
        start: local_gateway::streams::Start,
    ) -> local_gateway::streams::StreamSource {
        let streams = aws_sdk_dynamodbstreams::Client::from_conf(
            aws_sdk_dynamodbstreams::config::Builder::from(
                &shared::context::load_sdk_config().await,
            )
            .endpoint_url(self.dynamodb_endpoint())
            .build(),
        );
        local_gateway::streams::StreamSource::open(
            &self.dynamodb,
            streams,
            &self.table,
            shared::routes::STREAM_BINDING,
            start,
        )
        .await
        .expect("open the table's stream")
    }

    fn dynamodb_endpoint(&self) -> String {
        self.dynamodb_url.clone()
    }

    /// Hands every change written so far to the event router (in process, with the real
    /// stream events), so the jobs it queues are on their queues when this returns.
    pub async fn route_changes(&self) {
        let mut stream = self.stream.lock().await;
        if stream.is_none() {
            *stream = Some(self.stream_source().await);
        }
        let source = stream.as_mut().expect("opened above");
        self.route_until_quiet(source).await;
    }

    /// Hands every change since the table was made to the event router once more, as a
    /// stream redelivers records (in order, item by item).
    pub async fn route_every_change_again(&self) {
        let mut source = self.stream_source().await;
        self.route_until_quiet(&mut source).await;
    }

    async fn route_until_quiet(&self, source: &mut local_gateway::streams::StreamSource) {
        let caught_up = source
            .poll_until_caught_up(&self.router_invoke(), ROUTING_PATIENCE)
            .await
            .expect("read the stream");
        assert!(
            caught_up,
            "the router still failed records after {ROUTING_PATIENCE:?}"
        );
    }

    /// Runs the email, assistant and maintenance workers in the background on their queues
    /// (emails through `ses`), with a short visibility timeout so that failed records come
    /// back within a test.
    pub async fn spawn_job_workers(&self, ses: aws_sdk_ses::Client) {
        use local_gateway::sqs::Worker;
        use shared::routes::{ASSISTANT_WORKER, EMAIL_WORKER, MAINTENANCE_WORKER};

        let sdk = shared::context::load_sdk_config().await;
        let mailer = shared::email::Mailer::new(ses, &self.ctx.config.sender_email);
        let workers = [
            (
                EMAIL_WORKER,
                self.queue_url.clone(),
                Worker::Email(std::sync::Arc::new(email_worker::EmailWorker {
                    ctx: self.ctx.clone(),
                    mailer,
                })),
            ),
            (
                ASSISTANT_WORKER,
                self.assistant_queue_url.clone(),
                Worker::Assistant(std::sync::Arc::new(assistant_worker::AssistantWorker {
                    ctx: self.ctx.clone(),
                    engine: shared::assistant::Assistant::Rules(Default::default()),
                })),
            ),
            (
                MAINTENANCE_WORKER,
                self.maintenance_queue_url.clone(),
                Worker::Maintenance(std::sync::Arc::new(
                    maintenance_worker::MaintenanceWorker::new(self.ctx.clone(), &sdk)
                        .expect("maintenance worker"),
                )),
            ),
        ];
        // A short visibility timeout, so that failed records come back within a test.
        self.spawn_pollers(workers, Some(1));
    }

    /// Polls each (worker, queue) the way the local gateway does.
    fn spawn_pollers(
        &self,
        workers: impl IntoIterator<Item = (&'static str, String, local_gateway::sqs::Worker)>,
        visibility_timeout_seconds: Option<i32>,
    ) {
        use local_gateway::sqs::{local_pollers, poll, EventSource};
        use shared::routes::QUEUE_BINDINGS;

        for (function, url, worker) in workers {
            let binding = QUEUE_BINDINGS
                .iter()
                .find(|b| b.function == function)
                .expect("a queue binding");
            let mut source = EventSource::new(url, binding);
            source.wait_seconds = 1;
            if let Some(seconds) = visibility_timeout_seconds {
                source.visibility_timeout_seconds = seconds;
            }
            for _ in 0..local_pollers(function) {
                tokio::spawn(poll(self.sqs.clone(), source.clone(), worker.clone()));
            }
        }
    }

    /// Runs the local event sources in the background, as `make dev` does: the table's stream
    /// into the event router, and the fan-out, webhook and attachment queues into their
    /// workers.
    pub async fn spawn_event_sources(&self) {
        self.spawn_event_sources_from(local_gateway::streams::Start::TrimHorizon)
            .await
    }

    /// As `spawn_event_sources`, reading the stream from `start` (`Latest`: what a benchmark
    /// set up before is not routed).
    pub async fn spawn_event_sources_from(&self, start: local_gateway::streams::Start) {
        use local_gateway::sqs::Worker;
        use shared::routes::{ATTACHMENT_WORKER, FANOUT_WORKER, WEBHOOK_WORKER};

        // The same reader `route_changes` uses, so a test may also wait for it to catch up.
        {
            let mut stream = self.stream.lock().await;
            if stream.is_none() {
                *stream = Some(self.stream_source_from(start).await);
            }
        }
        let (stream, invoke) = (self.stream.clone(), self.router_invoke());
        tokio::spawn(async move {
            loop {
                let handed = match stream.lock().await.as_mut() {
                    Some(source) => source.poll_once(&invoke).await.unwrap_or(0),
                    None => 0,
                };
                if handed == 0 {
                    tokio::time::sleep(shared::routes::STREAM_BINDING.poll_interval()).await;
                }
            }
        });
        let sdk = shared::context::load_sdk_config().await;
        let workers = [
            (
                FANOUT_WORKER,
                self.fanout_queue_url.clone(),
                Worker::Fanout(std::sync::Arc::new(
                    fanout_worker::FanoutWorker::new(self.ctx.clone(), &sdk)
                        .expect("fan-out worker"),
                )),
            ),
            (
                WEBHOOK_WORKER,
                self.webhook_queue_url.clone(),
                Worker::Webhook(std::sync::Arc::new(
                    webhook_worker::WebhookWorker::new(self.ctx.clone(), &sdk)
                        .expect("webhook worker"),
                )),
            ),
            (
                ATTACHMENT_WORKER,
                self.attachment_queue_url.clone(),
                Worker::Attachment(std::sync::Arc::new(
                    attachment_worker::AttachmentWorker::new(self.ctx.clone(), &sdk)
                        .expect("attachment worker"),
                )),
            ),
        ];
        self.spawn_pollers(workers, None);
    }

    /// The maintenance worker over this environment's context, as its function runs it.
    pub async fn maintenance_worker(&self) -> local_gateway::sqs::Worker {
        local_gateway::sqs::Worker::Maintenance(std::sync::Arc::new(
            maintenance_worker::MaintenanceWorker::new(
                self.ctx.clone(),
                &shared::context::load_sdk_config().await,
            )
            .expect("maintenance worker"),
        ))
    }

    /// Routes what was written, then runs the maintenance jobs that queued until none is
    /// left; how many ran.
    pub async fn run_maintenance(&self) -> usize {
        let source = mailroom::test_source(
            &self.maintenance_queue_url,
            shared::routes::MAINTENANCE_WORKER,
        );
        mailroom::run_until_empty(self, &source, &self.maintenance_worker().await).await
    }

    /// A fresh queue of this test's on its moto.
    pub async fn new_queue(&self, prefix: &str) -> String {
        create_queue(&self.sqs, prefix).await
    }

    /// Swaps the context (a broken dependency, a metered client); the in-process API follows.
    pub fn set_ctx(&mut self, ctx: AppContext) {
        self.api = Api::in_process(ctx.clone());
        self.ctx = ctx;
    }

    /// The environment a function's bootstrap binary needs to run against this test's table
    /// and queues (the emulator endpoints included).
    pub fn function_env(&self) -> Vec<(String, String)> {
        let mut vars: Vec<(String, String)> = std::env::vars()
            .filter(|(k, _)| k.starts_with("AWS_") && !k.starts_with("AWS_LAMBDA"))
            .collect();
        vars.extend([
            ("TABLE_NAME".into(), self.table.clone()),
            ("NOTIFICATION_QUEUE_URL".into(), self.queue_url.clone()),
            (
                "MAINTENANCE_QUEUE_URL".into(),
                self.maintenance_queue_url.clone(),
            ),
            (
                "ASSISTANT_QUEUE_URL".into(),
                self.assistant_queue_url.clone(),
            ),
            ("FANOUT_QUEUE_URL".into(), self.fanout_queue_url.clone()),
            ("WEBHOOK_QUEUE_URL".into(), self.webhook_queue_url.clone()),
            ("ATTACHMENTS_BUCKET".into(), self.bucket.clone()),
            ("JWT_SECRET".into(), TEST_SECRET.into()),
            ("SENDER_EMAIL".into(), "noreply@example.com".into()),
            ("RUST_LOG".into(), "warn".into()),
        ]);
        vars.extend(self.settings.iter().cloned());
        vars
    }

    /// `count` users made through the store, with tokens (registering hundreds over HTTP would
    /// mostly measure password hashing); they cannot log in with a password.
    pub async fn quick_users(&self, prefix: &str, count: usize) -> Vec<TestUser> {
        use futures::StreamExt;
        use shared::domain::{Email, Timestamp, User, UserName, VerificationCode};

        let store = &self.ctx.store;
        futures::stream::iter(0..count)
            .map(|i| async move {
                let email = format!("{}@fill.example", unique(&i.to_string()));
                let user = User::new_account(
                    Email::parse(&email).expect("email"),
                    UserName::parse(&format!("{prefix} {i}")).expect("name"),
                    Timestamp::now(),
                );
                store
                    .create_user(
                        &user,
                        "not-a-login",
                        VerificationCode::generate(),
                        Default::default(),
                    )
                    .await
                    .expect("create a user");
                TestUser {
                    token: self.ctx.tokens.issue(&user.id, 0).expect("a token").token,
                    id: user.id.to_string(),
                    name: user.name.as_str().to_string(),
                    email,
                    password: String::new(),
                }
            })
            .buffer_unordered(16)
            .collect()
            .await
    }

    /// Adds `count` fresh members to the group `channel` of `owner` through the store.
    pub async fn fill_group(&self, channel: &str, owner: &TestUser, count: u32) {
        let users = self.quick_users("Member", count as usize).await;
        self.add_to_group(channel, owner, &users).await;
    }

    /// Puts `users` into the group `channel` of `owner` through the store: into a public one
    /// they join themselves; into a private one the owner adds them, after they became its
    /// partners over the API (each asks, the owner accepts).
    pub async fn add_to_group(&self, channel: &str, owner: &TestUser, users: &[TestUser]) {
        use futures::StreamExt;
        use shared::domain::{ChannelId, MemberRole, Membership, Timestamp, UserId};
        use shared::storage::Admission;

        let store = &self.ctx.store;
        let max = self.ctx.config.limits.max_group_members;
        let channel_id = ChannelId::parse(channel).expect("channel id");
        let owner_id = UserId::parse(&owner.id).expect("owner id");
        let channel = store
            .channel_access(&channel_id, &owner_id, &[])
            .await
            .expect("read the channel")
            .channel
            .expect("the channel exists");
        futures::stream::iter(users)
            .map(|user| {
                let (channel, owner_id) = (&channel, &owner_id);
                async move {
                    let admission = if channel.private {
                        self.api.befriend(user, owner).await;
                        Admission::AddedBy(owner_id)
                    } else {
                        Admission::Joined
                    };
                    let membership = Membership {
                        channel_id: channel.id.clone(),
                        user_id: UserId::parse(&user.id).expect("user id"),
                        role: MemberRole::Member,
                        joined_at: Timestamp::now(),
                    };
                    let added = store
                        .add_member(channel, &membership, admission, max, None)
                        .await
                        .expect("add a member");
                    assert_eq!(added, shared::storage::MemberAdded::Added);
                }
            })
            .buffer_unordered(16)
            .collect::<Vec<()>>()
            .await;
    }

    /// The connections stored for `user` (read the way the fan-out reads them).
    pub async fn connections_of(
        &self,
        user: &shared::domain::UserId,
    ) -> Vec<(shared::domain::UserId, shared::domain::ConnectionId)> {
        self.ctx
            .store
            .live_connections(std::slice::from_ref(user), None)
            .await
            .expect("read the stored connections")
    }

    /// Opens a connection of `user` through the store, as `$connect` would (`live: false`:
    /// one whose expiry has passed, as a lost `$disconnect` leaves it).
    pub async fn connect(&self, user: &TestUser, live: bool) {
        use shared::domain::{ConnectionId, Timestamp};
        use shared::storage::ConnectionRecord;

        let now = Timestamp::now();
        let id = ConnectionId::parse(&unique("conn")).expect("a connection id");
        let caller = self.ctx.tokens.verify(&user.token).expect("a valid token");
        let session = caller.session.clone();
        let mut record = ConnectionRecord::new(id, caller, now);
        if !live {
            record.expires_at = now.unix_seconds() - 1;
        }
        self.ctx
            .store
            .open_connection(&record, &session)
            .await
            .expect("open a connection");
    }

    /// The verification code `user` was last sent (as the email carries it).
    pub async fn email_code(&self, user: &TestUser) -> String {
        let id = shared::domain::UserId::parse(&user.id).expect("a user id");
        self.ctx
            .store
            .outstanding_email_code(&id)
            .await
            .expect("read the code")
            .expect("a code is outstanding")
            .code
            .as_str()
            .to_string()
    }

    /// Verifies `user`'s email with the code it was sent, as the person would.
    pub async fn verify_email(&self, user: &TestUser) {
        let code = self.email_code(user).await;
        let answer = self
            .api
            .call(
                "POST",
                "/auth/verify-email",
                Some(&user.token),
                Some(serde_json::json!({ "code": code })),
            )
            .await;
        assert_eq!(
            answer.status, 200,
            "verify {}: {:?}",
            user.name, answer.body
        );
    }

    /// Puts `body` on the queue at `queue_url`, as a producer (or a redelivery) would.
    pub async fn enqueue(&self, queue_url: &str, body: &str) {
        self.sqs
            .send_message()
            .queue_url(queue_url)
            .message_body(body)
            .send()
            .await
            .expect("send to the test queue");
    }

    /// Every message on the test's notification queue (each read once), after the event
    /// router has handled the changes so far (as with every `queued_*`), except the
    /// verification codes every registration queues (`queued_codes`).
    pub async fn queued_messages(&self) -> Vec<Value> {
        let (_, others) = self.queued_emails().await;
        others
    }

    /// The verification code events on the notification queue (each read once).
    pub async fn queued_codes(&self) -> Vec<Value> {
        let (codes, _) = self.queued_emails().await;
        codes
    }

    async fn queued_emails(&self) -> (Vec<Value>, Vec<Value>) {
        self.drain(&self.queue_url)
            .await
            .into_iter()
            .partition(|event| event["kind"] == "email.verification")
    }

    /// Every job now on the test's maintenance queue (each read once).
    pub async fn queued_jobs(&self) -> Vec<Value> {
        self.drain(&self.maintenance_queue_url).await
    }

    /// Every job now on the test's assistant queue (each read once).
    pub async fn queued_assistant_jobs(&self) -> Vec<Value> {
        self.drain(&self.assistant_queue_url).await
    }

    /// Every message on `queue_url` once the router has handled every change so far.
    /// Every fan-out job on the test's queue (each read once), after routing.
    pub async fn queued_pushes(&self) -> Vec<shared::queue::FanoutJob> {
        self.drain(&self.fanout_queue_url)
            .await
            .into_iter()
            .map(|job| serde_json::from_value(job).expect("a fan-out job"))
            .collect()
    }

    /// Where webhook deliveries go after 5 failed tries.
    pub fn webhook_dead_letter_url(&self) -> String {
        format!("{}-dlq", self.webhook_queue_url)
    }

    /// Every webhook delivery on the test's queue (each read once), after routing.
    pub async fn queued_webhooks(&self) -> Vec<Value> {
        self.drain(&self.webhook_queue_url).await
    }

    async fn drain(&self, queue_url: &str) -> Vec<Value> {
        self.route_changes().await;
        let mut messages = Vec::new();
        loop {
            let batch = self.receive_batch(queue_url).await;
            if batch.is_empty() {
                return messages;
            }
            for message in batch {
                messages.push(
                    serde_json::from_str(message.body().unwrap_or("null")).expect("JSON message"),
                );
            }
        }
    }

    /// One receive of up to 10 messages at `queue_url`, without waiting (each is then
    /// invisible for the queue's visibility timeout).
    pub async fn receive_batch(&self, queue_url: &str) -> Vec<aws_sdk_sqs::types::Message> {
        self.sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(0)
            .send()
            .await
            .expect("receive from the test queue")
            .messages
            .unwrap_or_default()
    }

    /// Waits briefly so that queue reads see every message sent before (moto is immediate,
    /// SQS is not).
    pub async fn settle() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    /// Routes every change so far, then waits until the fan-out workers have pushed every job
    /// (the queue empty, nothing in flight, three checks in a row): a test that measures or
    /// loads the stack starts with it idle.
    pub async fn until_pushes_done(&self) {
        use aws_sdk_sqs::types::QueueAttributeName::{
            ApproximateNumberOfMessages, ApproximateNumberOfMessagesNotVisible,
        };
        self.route_changes().await;
        let mut quiet = 0;
        while quiet < 3 {
            let attributes = self
                .sqs
                .get_queue_attributes()
                .queue_url(&self.fanout_queue_url)
                .attribute_names(ApproximateNumberOfMessages)
                .attribute_names(ApproximateNumberOfMessagesNotVisible)
                .send()
                .await
                .expect("queue attributes")
                .attributes
                .unwrap_or_default();
            let waiting: u64 = attributes
                .values()
                .map(|n| n.parse::<u64>().unwrap_or(0))
                .sum();
            quiet = if waiting == 0 { quiet + 1 } else { 0 };
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}
