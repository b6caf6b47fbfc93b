//! The monthly AWS bill of a usage profile (`make cost`).
//!
//! Three inputs, each a file beside this crate: the profile (`profile.yaml`: what a daily user
//! does, the channel size mix, the costs of operations no route benchmark measures), the
//! per-route costs `make bench` measures (`measured.json`, written by
//! `tests/benches/routes.rs`), and the AWS list prices (`prices.yaml`, dated). [`Model::usage`]
//! turns activity into billable quantities; [`Prices::bill`] prices them.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not valid: {message}")]
    Parse { path: String, message: String },
    #[error("measured.json has no figures for `{0}`: run the routes benchmark (`make bench`)")]
    MissingRoute(String),
}

fn read_file<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, ModelError> {
    let text = std::fs::read_to_string(path).map_err(|source| ModelError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let parsed = if path.extension().is_some_and(|e| e == "json") {
        serde_json::from_str(&text).map_err(|e| e.to_string())
    } else {
        serde_yaml::from_str(&text).map_err(|e| e.to_string())
    };
    parsed.map_err(|message| ModelError::Parse {
        path: path.display().to_string(),
        message,
    })
}

/// A unit price that drops past a monthly volume.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    /// This price applies up to this volume a month (cumulative, in the unit the price is
    /// for: millions of requests, GB); `None`: the rest.
    pub up_to: Option<f64>,
    pub price: f64,
}

/// The cost of `volume` a month under `tiers` (the last of which is unbounded: `Prices::load`
/// checks it).
pub fn tiered(volume: f64, tiers: &[Tier]) -> f64 {
    let (mut cost, mut below) = (0.0, 0.0);
    for tier in tiers {
        let top = tier.up_to.unwrap_or(f64::INFINITY);
        cost += (volume.min(top) - below).max(0.0) * tier.price;
        below = top;
        if volume <= top {
            break;
        }
    }
    cost
}

/// The price of the first unit under `tiers`, for the report.
pub fn first_price(tiers: &[Tier]) -> f64 {
    tiers.first().map_or(0.0, |t| t.price)
}

fn invalid(path: &str, message: impl Into<String>) -> ModelError {
    ModelError::Parse {
        path: path.to_string(),
        message: message.into(),
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prices {
    pub checked: String,
    pub region: String,
    pub sources: Vec<String>,
    pub lambda: LambdaPrices,
    pub http_api: HttpApiPrices,
    pub websocket: WebSocketPrices,
    pub dynamodb: DynamoDbPrices,
    pub sqs: SqsPrices,
    pub ses: SesPrices,
    pub s3: S3Prices,
    /// Internet data transfer out, per GB.
    pub data_transfer_out_gb: Vec<Tier>,
    pub cloudwatch: CloudWatchPrices,
    pub secrets_manager: SecretsManagerPrices,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LambdaPrices {
    pub requests_per_million: f64,
    pub gb_second: f64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpApiPrices {
    pub requests_per_million: Vec<Tier>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebSocketPrices {
    pub messages_per_million: Vec<Tier>,
    pub connection_minutes_per_million: f64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DynamoDbPrices {
    pub write_request_units_per_million: f64,
    pub read_request_units_per_million: f64,
    pub storage_gb_month: f64,
    pub backup_gb_month: f64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqsPrices {
    pub requests_per_million: f64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SesPrices {
    pub emails_per_thousand: f64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Prices {
    pub storage_gb_month: Vec<Tier>,
    pub puts_per_thousand: f64,
    pub gets_per_thousand: f64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudWatchPrices {
    pub logs_ingested_gb: f64,
    pub logs_stored_gb_month: f64,
    pub alarm_month: f64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretsManagerPrices {
    pub secret_month: f64,
}

/// What one user does in a period (a day, in the profile).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Activity {
    #[serde(default)]
    pub sessions: f64,
    #[serde(default)]
    pub connection_minutes: f64,
    #[serde(default)]
    pub logins: f64,
    #[serde(default)]
    pub inbox_loads: f64,
    #[serde(default)]
    pub messages_sent: f64,
    #[serde(default)]
    pub typing_frames: f64,
    /// `ping` frames (each answered with a `pong`).
    #[serde(default)]
    pub pings: f64,
    #[serde(default)]
    pub history_pages: f64,
    #[serde(default)]
    pub read_marks: f64,
    #[serde(default)]
    pub reactions: f64,
    #[serde(default)]
    pub edits: f64,
    #[serde(default)]
    pub partner_requests: f64,
    #[serde(default)]
    pub digest_emails: f64,
    #[serde(default)]
    pub attachments: f64,
}

/// A share of the messages, sent in channels of `members`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelShare {
    pub kind: String,
    pub share: f64,
    pub members: f64,
    /// An assistant channel: each message also gets a streamed reply.
    #[serde(default)]
    pub assistant: bool,
}

/// DynamoDB units and function time of one operation.
#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperationCost {
    pub read_units: f64,
    pub write_units: f64,
    pub lambda_ms: f64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Operations {
    pub connect: OperationCost,
    pub disconnect: OperationCost,
    pub typing: OperationCost,
    /// A `ping` frame: the connection item read, a `pong` sent back.
    pub ping: OperationCost,
    /// What a frame adds to the HTTP route it stands for (a send or a read mark over the
    /// socket): the connection item, read to know the caller.
    pub frame_read_units: f64,
    pub push_read_units_per_member: f64,
    /// What the router reads for a message (the channel, the digest's candidates).
    pub router_read_units_per_message: f64,
    /// Moving a member's channel-list entry to the newest message (its membership and
    /// the index it orders).
    pub list_move_write_units_per_member: f64,
    /// Messages that share one list move in a channel above the inline limit (the moves
    /// wait `LIST_MOVE_SECONDS` and serve every message of that while).
    pub messages_per_list_move_in_big_channels: f64,
    /// `GET /channels`: read units per channel of the page, and beside them.
    pub inbox_read_units_per_channel: f64,
    pub inbox_read_units_base: f64,
    pub inline_push_max_members: f64,
    pub fanout_chunk: f64,
    pub fanout_chunk_units: OperationCost,
    pub router_records_per_invocation: f64,
    pub router_lambda_ms: f64,
    pub presence_read_units_per_contact: f64,
    pub presence_lambda_ms: f64,
    pub assistant_reply: OperationCost,
    pub assistant_deltas_per_reply: f64,
    pub email: OperationCost,
    pub attachment_upload: OperationCost,
    pub attachment_check: OperationCost,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttachmentProfile {
    pub mean_mb: f64,
    pub thumbnail_kb: f64,
    pub views: f64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageProfile {
    pub bytes_per_message: f64,
    pub months_kept: f64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deployment {
    pub memory_mb: f64,
    pub users_api_memory_mb: f64,
    pub attachment_worker_memory_mb: f64,
    pub alarms: f64,
    pub secrets: f64,
    /// Queues a Lambda event source polls (long polling, whether or not anything comes).
    pub polled_queues: f64,
    pub log_bytes_per_invocation: f64,
    /// The template's `LogRetentionDays` default.
    pub log_retention_days: f64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub daily_users: Vec<u64>,
    pub days_per_month: f64,
    pub per_user_per_day: Activity,
    pub channel_mix: Vec<ChannelShare>,
    pub online_share: f64,
    pub sockets_per_online_user: f64,
    /// The share of sends and read marks made as WebSocket frames (the web client's way)
    /// rather than HTTP requests.
    pub websocket_share: f64,
    /// The mean size of an HTTP answer or a pushed frame, out to the internet.
    pub mean_response_kb: f64,
    /// The share of `typing` frames that win their claim and are pushed (the rest come
    /// within `TYPING_PUSH_EVERY` of the sender's last push).
    pub typing_pushed_share: f64,
    pub contacts: f64,
    /// Channels a user is a member of (each a row of the inbox).
    pub channels_per_user: f64,
    /// Distinct words of two or more characters a message's search index holds.
    pub indexed_words_per_message: f64,
    pub operations: Operations,
    pub attachment: AttachmentProfile,
    pub storage: StorageProfile,
    pub deployment: Deployment,
}

/// One route's cost as the routes benchmark measured it (averages per request).
#[derive(Clone, Copy, Debug, Deserialize)]
pub struct RouteCost {
    pub calls: f64,
    pub read_units: f64,
    pub write_units: f64,
    pub p50_ms: f64,
}

/// `measured.json`: what `make bench` measured, per route label.
#[derive(Clone, Debug, Deserialize)]
pub struct Measured {
    pub commit: String,
    pub routes: BTreeMap<String, RouteCost>,
}

impl Measured {
    fn route(&self, label: &str) -> Result<OperationCost, ModelError> {
        self.routes
            .get(label)
            .map(|r| OperationCost {
                read_units: r.read_units,
                write_units: r.write_units,
                lambda_ms: r.p50_ms,
            })
            .ok_or_else(|| ModelError::MissingRoute(label.to_string()))
    }
}

/// The routes of the routes benchmark the model bills.
pub mod routes {
    pub const LOGIN: &str = "POST /auth/login";
    pub const INBOX: &str = "GET /channels";
    pub const SEND: &str = "POST /channels/{id}/messages";
    pub const HISTORY: &str = "GET /channels/{id}/messages";
    pub const READ_MARK: &str = "POST /channels/{id}/read";
    pub const REACTION: &str = "PUT …/reactions/{emoji}";
    pub const EDIT: &str = "PATCH /channels/{id}/messages/{mid}";
    pub const PARTNER_REQUEST: &str = "POST /partner-requests";
    pub const ACCEPT: &str = "POST /partner-requests/{id}/accept";
    pub const ALL: [&str; 9] = [
        LOGIN,
        INBOX,
        SEND,
        HISTORY,
        READ_MARK,
        REACTION,
        EDIT,
        PARTNER_REQUEST,
        ACCEPT,
    ];
}

/// Declares `Usage` and its field-wise sum, naming each field once.
macro_rules! usage {
    ($($(#[$doc:meta])* $field:ident),* $(,)?) => {
        /// Billable quantities of a period.
        #[derive(Clone, Debug, Default, PartialEq)]
        pub struct Usage {
            $($(#[$doc])* pub $field: f64,)*
        }

        impl Usage {
            /// Adds `other`, `times` over.
            fn add(&mut self, other: &Usage, times: f64) {
                $(self.$field += other.$field * times;)*
            }
        }
    };
}

usage! {
    http_requests,
    websocket_messages,
    connection_minutes,
    lambda_requests,
    lambda_gb_seconds,
    read_units,
    write_units,
    sqs_requests,
    emails,
    s3_puts,
    s3_gets,
    /// Attachment downloads, out to the internet.
    attachment_transfer_gb,
    /// HTTP answers and pushed frames, out to the internet.
    api_transfer_gb,
    log_gb,
    /// What the period adds to the table.
    table_gb_added,
    /// What the period adds to the bucket.
    bucket_gb_added,
}

/// An SQS message costs its send, its receive and its delete (batching lowers the last two;
/// the model does not count on it).
const SQS_REQUESTS_PER_MESSAGE: f64 = 3.0;
const GB: f64 = 1024.0 * 1024.0 * 1024.0;

impl Usage {
    fn lambda(&mut self, invocations: f64, ms: f64, memory_mb: f64) {
        self.lambda_requests += invocations;
        self.lambda_gb_seconds += invocations * ms / 1000.0 * memory_mb / 1024.0;
    }

    fn dynamodb(&mut self, times: f64, cost: &OperationCost) {
        self.read_units += times * cost.read_units;
        self.write_units += times * cost.write_units;
    }

    fn queued(&mut self, messages: f64) {
        self.sqs_requests += messages * SQS_REQUESTS_PER_MESSAGE;
    }
}

/// The profile and the measured route costs together.
#[derive(Clone, Debug)]
pub struct Model {
    pub profile: Profile,
    pub measured: Measured,
}

impl Model {
    /// Reads `profile.yaml` and `measured.json` from `dir`.
    pub fn load(dir: &Path) -> Result<Self, ModelError> {
        let model = Self {
            profile: read_file(&dir.join("profile.yaml"))?,
            measured: read_file(&dir.join("measured.json"))?,
        };
        for label in routes::ALL {
            model.measured.route(label)?;
        }
        model.profile.check()?;
        Ok(model)
    }

    /// The billable quantities of `users` each doing `activity` (the period is the
    /// activity's: a day of the profile, or a benchmark's run).
    pub fn usage(&self, activity: &Activity, users: f64) -> Result<Usage, ModelError> {
        let p = &self.profile;
        let ops = &p.operations;
        let memory = p.deployment.memory_mb;
        let route = |label| self.measured.route(label);
        let mut per_user = Usage::default();
        let u = &mut per_user;

        // Every write reaches the event router through the table's stream.
        let mut stream_records = 0.0;
        let http = |u: &mut Usage, times: f64, cost: &OperationCost, memory_mb: f64| {
            u.http_requests += times;
            u.lambda(times, cost.lambda_ms, memory_mb);
            u.dynamodb(times, cost);
        };
        // A route a client may also use as a frame: that share is a WebSocket message in
        // (its answer is the push) and reads the connection item first.
        let http_or_frame = |u: &mut Usage, times: f64, cost: &OperationCost| {
            let frames = times * p.websocket_share;
            http(u, times - frames, cost, memory);
            u.websocket_messages += frames;
            u.lambda(frames, cost.lambda_ms, memory);
            u.dynamodb(frames, cost);
            u.read_units += frames * ops.frame_read_units;
        };
        // The sockets of a channel's other members that a push reaches, and the reads of its
        // audience; above the inline limit, the fan-out jobs too.
        let push = |u: &mut Usage, times: f64, members: f64| {
            let sockets = (members - 1.0).max(0.0) * p.online_share * p.sockets_per_online_user;
            u.websocket_messages += times * sockets;
            u.read_units += times * members * ops.push_read_units_per_member;
            if members > ops.inline_push_max_members {
                let chunks = (members / ops.fanout_chunk).ceil();
                u.queued(times * chunks);
                u.lambda(times * chunks, ops.fanout_chunk_units.lambda_ms, memory);
                u.dynamodb(times * chunks, &ops.fanout_chunk_units);
            }
        };
        let mix_total: f64 = p.channel_mix.iter().map(|c| c.share).sum();
        let in_every_channel = |u: &mut Usage, times: f64| {
            for channel in &p.channel_mix {
                push(u, times * channel.share / mix_total, channel.members);
            }
        };

        // Sessions: a socket opened and closed, presence both times.
        let sessions = activity.sessions;
        u.connection_minutes += activity.connection_minutes;
        u.lambda(sessions, ops.connect.lambda_ms, memory);
        u.dynamodb(sessions, &ops.connect);
        u.lambda(sessions, ops.disconnect.lambda_ms, memory);
        u.dynamodb(sessions, &ops.disconnect);
        stream_records += 2.0 * sessions;
        let inbox = OperationCost {
            read_units: ops.inbox_read_units_base
                + ops.inbox_read_units_per_channel * p.channels_per_user,
            ..route(routes::INBOX)?
        };
        http(u, activity.inbox_loads, &inbox, memory);
        let presence_events = 2.0 * sessions;
        u.read_units += presence_events * ops.presence_read_units_per_contact * p.contacts;
        u.lambda(presence_events, ops.presence_lambda_ms, memory);
        u.queued(presence_events);
        u.websocket_messages +=
            presence_events * p.contacts * p.online_share * p.sockets_per_online_user;

        http(
            u,
            activity.logins,
            &route(routes::LOGIN)?,
            p.deployment.users_api_memory_mb,
        );

        // Messages. The routes benchmark runs without a WebSocket API, so its send is the
        // request's own cost; `push` adds the pushes' reads for each channel size.
        let send = route(routes::SEND)?;
        let sent = activity.messages_sent;
        stream_records += sent;
        u.table_gb_added += sent * p.storage.bytes_per_message / GB;
        // Behind each: the search index (a write per word), the router's reads, and every
        // other member's channel list moved to it (shared by a burst in a big channel).
        u.write_units += sent * p.indexed_words_per_message;
        u.read_units += sent * ops.router_read_units_per_message;
        for channel in &p.channel_mix {
            let times = sent * channel.share / mix_total;
            http_or_frame(u, times, &send);
            push(u, times, channel.members);
            let moves = if channel.members > ops.inline_push_max_members {
                times / ops.messages_per_list_move_in_big_channels
            } else {
                times
            };
            u.write_units +=
                moves * (channel.members - 1.0).max(0.0) * ops.list_move_write_units_per_member;
            if channel.assistant {
                // The job, the worker streaming its reply, and the pushes to the asker.
                u.queued(times);
                u.lambda(times, ops.assistant_reply.lambda_ms, memory);
                u.dynamodb(times, &ops.assistant_reply);
                u.websocket_messages +=
                    times * (ops.assistant_deltas_per_reply + 2.0) * p.sockets_per_online_user;
                stream_records += 2.0 * times;
            }
        }

        // Frames and routes whose events go to the whole channel. A `typing` frame within
        // `TYPING_PUSH_EVERY` of its sender's last push fails its claim and pushes nothing.
        let typing = activity.typing_frames;
        let pushed = typing * p.typing_pushed_share;
        u.websocket_messages += typing;
        u.lambda(typing, ops.typing.lambda_ms, memory);
        u.read_units += typing * ops.typing.read_units;
        u.write_units += pushed * ops.typing.write_units;
        in_every_channel(u, pushed);
        stream_records += pushed;
        http_or_frame(u, activity.read_marks, &route(routes::READ_MARK)?);
        for (times, label) in [
            (activity.reactions, routes::REACTION),
            (activity.edits, routes::EDIT),
        ] {
            http(u, times, &route(label)?, memory);
        }
        for times in [activity.read_marks, activity.reactions, activity.edits] {
            in_every_channel(u, times);
            stream_records += times;
        }
        // Pings: a frame in, a `pong` out.
        u.websocket_messages += 2.0 * activity.pings;
        u.lambda(activity.pings, ops.ping.lambda_ms, memory);
        u.dynamodb(activity.pings, &ops.ping);
        http(u, activity.history_pages, &route(routes::HISTORY)?, memory);

        // Partner requests, each accepted: two routes, two emails, pushes to the two people.
        let requests = activity.partner_requests;
        http(u, requests, &route(routes::PARTNER_REQUEST)?, memory);
        http(u, requests, &route(routes::ACCEPT)?, memory);
        u.websocket_messages += 2.0 * requests * p.sockets_per_online_user;
        stream_records += 2.0 * requests;
        let emails = 2.0 * requests + activity.digest_emails;
        u.emails += emails;
        u.queued(emails);
        u.lambda(emails, ops.email.lambda_ms, memory);
        u.dynamodb(emails, &ops.email);

        // Attachments: the upload form, the upload, S3's notification to the worker, its
        // check and thumbnail, the downloads.
        let files = activity.attachments;
        let a = &p.attachment;
        http(u, files, &ops.attachment_upload, memory);
        u.s3_puts += 2.0 * files;
        u.s3_gets += files * (1.0 + a.views);
        u.queued(files);
        u.lambda(
            files,
            ops.attachment_check.lambda_ms,
            p.deployment.attachment_worker_memory_mb,
        );
        u.dynamodb(files, &ops.attachment_check);
        u.attachment_transfer_gb += files * a.views * a.mean_mb / 1024.0;
        u.bucket_gb_added += files * (a.mean_mb + a.thumbnail_kb / 1024.0) / 1024.0;
        stream_records += files;

        // The router, in batches.
        u.lambda(
            stream_records / ops.router_records_per_invocation,
            ops.router_lambda_ms,
            memory,
        );

        u.api_transfer_gb +=
            (u.http_requests + u.websocket_messages) * p.mean_response_kb / (1024.0 * 1024.0);
        u.log_gb += u.lambda_requests * p.deployment.log_bytes_per_invocation / GB;
        let mut total = Usage::default();
        total.add(&per_user, users);
        Ok(total)
    }

    /// A month at `daily_users`: the profile's day, every day, with the table and bucket
    /// holding `months_kept` months.
    pub fn month(&self, daily_users: f64) -> Result<Month, ModelError> {
        let days = self.profile.days_per_month;
        let mut usage = Usage::default();
        usage.add(
            &self.usage(&self.profile.per_user_per_day, daily_users)?,
            days,
        );
        let kept = self.profile.storage.months_kept;
        Ok(Month {
            table_gb: usage.table_gb_added * kept,
            bucket_gb: usage.bucket_gb_added * kept,
            usage,
            ..self.idle_month()
        })
    }

    /// A month with no users: what the deployment costs by being there.
    pub fn idle_month(&self) -> Month {
        let d = &self.profile.deployment;
        // Each SQS event source long-polls with 5 pollers, 20 s per poll, whether or not
        // anything comes (AWS may drop to 2 on a quiet queue without `MaximumConcurrency`:
        // this is the upper figure).
        let polls_per_queue_day = 5.0 * 3.0 * 60.0 * 24.0;
        Month {
            idle_sqs_requests: d.polled_queues * polls_per_queue_day * self.profile.days_per_month,
            logs_kept_months: d.log_retention_days / self.profile.days_per_month,
            ..Month::default()
        }
    }
}

impl Profile {
    /// Refuses a profile whose bill would be NaN or silently incomplete.
    fn check(&self) -> Result<(), ModelError> {
        let fail = |message: &str| Err(invalid("profile.yaml", message));
        if self.daily_users.is_empty() {
            return fail("daily_users names no size");
        }
        if self.channel_mix.iter().map(|c| c.share).sum::<f64>() <= 0.0 {
            return fail("channel_mix shares add up to nothing");
        }
        let ops = &self.operations;
        for (name, value) in [
            ("days_per_month", self.days_per_month),
            ("fanout_chunk", ops.fanout_chunk),
            (
                "router_records_per_invocation",
                ops.router_records_per_invocation,
            ),
            (
                "messages_per_list_move_in_big_channels",
                ops.messages_per_list_move_in_big_channels,
            ),
        ] {
            if value <= 0.0 {
                return Err(invalid("profile.yaml", format!("{name} must be above 0")));
            }
        }
        Ok(())
    }
}

/// A month's usage, with what the table and bucket hold.
#[derive(Clone, Debug, Default)]
pub struct Month {
    pub usage: Usage,
    pub table_gb: f64,
    pub bucket_gb: f64,
    /// The event sources' long polls of empty queues.
    pub idle_sqs_requests: f64,
    /// How many months of logs CloudWatch keeps at once.
    pub logs_kept_months: f64,
}

/// One priced quantity.
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    pub service: &'static str,
    pub item: &'static str,
    pub quantity: f64,
    pub unit: &'static str,
    /// The list price it was billed at, as the report prints it.
    pub price: String,
    pub cost: f64,
}

#[derive(Clone, Debug)]
pub struct Bill {
    pub lines: Vec<Line>,
}

impl Bill {
    pub fn total(&self) -> f64 {
        self.lines.iter().map(|l| l.cost).sum()
    }

    /// Cost per service, in the order services first appear.
    pub fn by_service(&self) -> Vec<(&'static str, f64)> {
        let mut services: Vec<(&'static str, f64)> = Vec::new();
        for line in &self.lines {
            match services.iter_mut().find(|(s, _)| *s == line.service) {
                Some((_, cost)) => *cost += line.cost,
                None => services.push((line.service, line.cost)),
            }
        }
        services
    }
}

impl Prices {
    pub fn load(path: &Path) -> Result<Self, ModelError> {
        let prices: Self = read_file(path)?;
        for tiers in [
            &prices.http_api.requests_per_million,
            &prices.websocket.messages_per_million,
            &prices.s3.storage_gb_month,
            &prices.data_transfer_out_gb,
        ] {
            if tiers.last().is_none_or(|t| t.up_to.is_some()) {
                return Err(invalid(
                    &path.display().to_string(),
                    "each tier list ends with an unbounded tier",
                ));
            }
        }
        Ok(prices)
    }

    /// The month's bill, with the deployment's fixed costs (alarms, secrets, idle polling).
    pub fn bill(&self, month: &Month, deployment: &Deployment) -> Bill {
        let u = &month.usage;
        let priced = |(service, item, quantity, unit, rate): Row| {
            let (price, cost) = rate.price(quantity);
            Line {
                service,
                item,
                quantity,
                unit,
                price,
                cost,
            }
        };
        let sqs_requests = u.sqs_requests + month.idle_sqs_requests;
        let usage: [Row; 11] = [
            (
                "Lambda",
                "requests",
                u.lambda_requests,
                "requests",
                Rate::PerMillion(self.lambda.requests_per_million),
            ),
            (
                "Lambda",
                "compute (arm64)",
                u.lambda_gb_seconds,
                "GB-s",
                Rate::Each(self.lambda.gb_second, "GB-s"),
            ),
            (
                "API Gateway HTTP API",
                "requests",
                u.http_requests,
                "requests",
                Rate::TieredMillions(&self.http_api.requests_per_million),
            ),
            (
                "API Gateway WebSocket",
                "messages (frames in, pushes out)",
                u.websocket_messages,
                "messages",
                Rate::TieredMillions(&self.websocket.messages_per_million),
            ),
            (
                "API Gateway WebSocket",
                "connection minutes",
                u.connection_minutes,
                "minutes",
                Rate::PerMillion(self.websocket.connection_minutes_per_million),
            ),
            (
                "DynamoDB",
                "reads (on demand)",
                u.read_units,
                "read units",
                Rate::PerMillion(self.dynamodb.read_request_units_per_million),
            ),
            (
                "DynamoDB",
                "writes (on demand)",
                u.write_units,
                "write units",
                Rate::PerMillion(self.dynamodb.write_request_units_per_million),
            ),
            (
                "DynamoDB",
                "storage",
                month.table_gb,
                "GB",
                Rate::Each(self.dynamodb.storage_gb_month, "GB-month"),
            ),
            (
                "DynamoDB",
                "point-in-time recovery",
                month.table_gb,
                "GB",
                Rate::Each(self.dynamodb.backup_gb_month, "GB-month"),
            ),
            (
                "SQS",
                "requests (idle polling included)",
                sqs_requests,
                "requests",
                Rate::PerMillion(self.sqs.requests_per_million),
            ),
            (
                "SES",
                "emails",
                u.emails,
                "emails",
                Rate::PerThousand(self.ses.emails_per_thousand),
            ),
        ];
        let mut lines: Vec<Line> = usage.into_iter().map(priced).collect();

        // S3's requests have two prices; its storage is tiered.
        lines.push(Line {
            service: "S3",
            item: "requests",
            quantity: u.s3_puts + u.s3_gets,
            unit: "requests",
            price: format!(
                "${} per thousand PUTs, ${} per thousand GETs",
                self.s3.puts_per_thousand, self.s3.gets_per_thousand
            ),
            cost: u.s3_puts / 1000.0 * self.s3.puts_per_thousand
                + u.s3_gets / 1000.0 * self.s3.gets_per_thousand,
        });
        lines.push(priced((
            "S3",
            "storage",
            month.bucket_gb,
            "GB",
            Rate::Tiered(&self.s3.storage_gb_month, "GB-month"),
        )));

        // One tiered price for all the data out, shared by its two lines by volume.
        let transfer_gb = u.attachment_transfer_gb + u.api_transfer_gb;
        let (price, transfer) = Rate::Tiered(&self.data_transfer_out_gb, "GB").price(transfer_gb);
        for (item, gb) in [
            ("attachment downloads", u.attachment_transfer_gb),
            ("HTTP answers and pushes", u.api_transfer_gb),
        ] {
            lines.push(Line {
                service: "Data transfer out",
                item,
                quantity: gb,
                unit: "GB",
                price: price.clone(),
                cost: if transfer_gb > 0.0 {
                    transfer * gb / transfer_gb
                } else {
                    0.0
                },
            });
        }

        let fixed: [Row; 4] = [
            (
                "CloudWatch",
                "logs ingested",
                u.log_gb,
                "GB",
                Rate::Each(self.cloudwatch.logs_ingested_gb, "GB"),
            ),
            (
                "CloudWatch",
                "logs kept",
                u.log_gb * month.logs_kept_months,
                "GB",
                Rate::Each(self.cloudwatch.logs_stored_gb_month, "GB-month"),
            ),
            (
                "CloudWatch",
                "alarms",
                deployment.alarms,
                "alarms",
                Rate::Each(self.cloudwatch.alarm_month, "alarm-month"),
            ),
            (
                "Secrets Manager",
                "secrets",
                deployment.secrets,
                "secrets",
                Rate::Each(self.secrets_manager.secret_month, "secret-month"),
            ),
        ];
        lines.extend(fixed.into_iter().map(priced));
        Bill { lines }
    }
}

/// A bill line before pricing: service, item, quantity, unit, and how it is priced.
type Row<'a> = (&'static str, &'static str, f64, &'static str, Rate<'a>);

/// How a quantity is priced.
enum Rate<'a> {
    /// A price per unit; the unit as the report names it ("GB-month").
    Each(f64, &'static str),
    PerMillion(f64),
    PerThousand(f64),
    /// Tiers over millions of the quantity.
    TieredMillions(&'a [Tier]),
    /// Tiers over the quantity itself, in the unit named.
    Tiered(&'a [Tier], &'static str),
}

impl Rate<'_> {
    /// The list price as the report prints it, and the cost of `quantity`.
    fn price(&self, quantity: f64) -> (String, f64) {
        let described = |tiers: &[Tier], per: &str| {
            let rest: Vec<String> = tiers
                .iter()
                .skip(1)
                .map(|t| format!("${}", t.price))
                .collect();
            let first = format!("${} per {per}", first_price(tiers));
            match rest.is_empty() {
                true => first,
                false => format!("{first}, then {}", rest.join(", ")),
            }
        };
        match *self {
            Rate::Each(price, per) => (format!("${price} per {per}"), quantity * price),
            Rate::PerMillion(price) => (
                format!("${price} per million"),
                quantity / 1_000_000.0 * price,
            ),
            Rate::PerThousand(price) => {
                (format!("${price} per thousand"), quantity / 1000.0 * price)
            }
            Rate::TieredMillions(tiers) => (
                described(tiers, "million"),
                tiered(quantity / 1_000_000.0, tiers),
            ),
            Rate::Tiered(tiers, per) => (described(tiers, per), tiered(quantity, tiers)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cost(read_units: f64, write_units: f64, lambda_ms: f64) -> OperationCost {
        OperationCost {
            read_units,
            write_units,
            lambda_ms,
        }
    }

    /// A model small enough to check by hand: one kind of channel, everyone online with one
    /// socket, each push read 1 unit per member, functions at 1 GB.
    fn model(members: f64) -> Model {
        let free = OperationCost::default();
        let profile = Profile {
            daily_users: vec![1000],
            days_per_month: 30.0,
            per_user_per_day: Activity::default(),
            channel_mix: vec![ChannelShare {
                kind: "group".into(),
                share: 1.0,
                members,
                assistant: false,
            }],
            online_share: 1.0,
            sockets_per_online_user: 1.0,
            websocket_share: 0.0,
            mean_response_kb: 0.0,
            typing_pushed_share: 1.0,
            contacts: 0.0,
            channels_per_user: 1.0,
            indexed_words_per_message: 0.0,
            operations: Operations {
                connect: free,
                disconnect: free,
                typing: free,
                ping: free,
                frame_read_units: 1.0,
                push_read_units_per_member: 1.0,
                router_read_units_per_message: 0.0,
                list_move_write_units_per_member: 0.0,
                messages_per_list_move_in_big_channels: 1.0,
                inbox_read_units_per_channel: 0.0,
                inbox_read_units_base: 0.0,
                inline_push_max_members: 50.0,
                fanout_chunk: 200.0,
                fanout_chunk_units: cost(1.0, 1.0, 100.0),
                router_records_per_invocation: 10.0,
                router_lambda_ms: 20.0,
                presence_read_units_per_contact: 0.0,
                presence_lambda_ms: 0.0,
                assistant_reply: free,
                assistant_deltas_per_reply: 0.0,
                email: free,
                attachment_upload: free,
                attachment_check: free,
            },
            attachment: AttachmentProfile {
                mean_mb: 1.0,
                thumbnail_kb: 0.0,
                views: 0.0,
            },
            storage: StorageProfile {
                bytes_per_message: 1024.0,
                months_kept: 12.0,
            },
            deployment: Deployment {
                memory_mb: 1024.0,
                users_api_memory_mb: 1024.0,
                attachment_worker_memory_mb: 1024.0,
                alarms: 10.0,
                secrets: 1.0,
                polled_queues: 0.0,
                log_bytes_per_invocation: 0.0,
                log_retention_days: 30.0,
            },
        };
        let route = |read_units, write_units| RouteCost {
            calls: 2.0,
            read_units,
            write_units,
            p50_ms: 100.0,
        };
        let routes = routes::ALL
            .iter()
            .map(|label| (label.to_string(), route(0.0, 0.0)))
            .chain([(routes::SEND.to_string(), route(2.0, 4.0))])
            .collect();
        Model {
            profile,
            measured: Measured {
                commit: "test".into(),
                routes,
            },
        }
    }

    fn messages(count: f64) -> Activity {
        Activity {
            messages_sent: count,
            ..Activity::default()
        }
    }

    #[test]
    fn a_direct_message_costs_its_send_its_push_and_a_tenth_of_a_router_call() {
        let usage = model(2.0).usage(&messages(1.0), 1000.0).unwrap();
        assert_eq!(usage.http_requests, 1000.0);
        // The send's own 2 read units, and 1 per member for the push's audience.
        assert_eq!(usage.read_units, 4000.0);
        assert_eq!(usage.write_units, 4000.0);
        // The other member's one socket.
        assert_eq!(usage.websocket_messages, 1000.0);
        assert_eq!(usage.sqs_requests, 0.0);
        // The send: 100 ms at 1 GB; the router: a tenth of an invocation of 20 ms.
        assert!((usage.lambda_requests - 1100.0).abs() < 1e-9);
        assert!((usage.lambda_gb_seconds - 102.0).abs() < 1e-9);
        assert!((usage.table_gb_added - 1000.0 * 1024.0 / GB).abs() < 1e-15);
    }

    #[test]
    fn a_big_channel_adds_fanout_jobs_of_200_members() {
        let usage = model(500.0).usage(&messages(1.0), 1.0).unwrap();
        // 3 chunks: each an SQS message (send, receive, delete), an invocation, its ledger.
        assert_eq!(usage.sqs_requests, 9.0);
        assert_eq!(usage.websocket_messages, 499.0);
        assert_eq!(usage.read_units, 2.0 + 500.0 + 3.0);
        assert_eq!(usage.write_units, 4.0 + 3.0);
        assert!((usage.lambda_requests - (1.0 + 3.0 + 0.1)).abs() < 1e-9);
    }

    #[test]
    fn a_message_moves_every_other_members_list_and_indexes_its_words() {
        let mut model = model(8.0);
        model.profile.indexed_words_per_message = 6.0;
        model.profile.operations.list_move_write_units_per_member = 5.0;
        let usage = model.usage(&messages(1.0), 1.0).unwrap();
        // The send's 4, a write per word, 5 for each of the 7 other members' lists.
        assert_eq!(usage.write_units, 4.0 + 6.0 + 35.0);
        // Above the inline limit, three messages share a move.
        let mut big = self::model(501.0);
        big.profile.operations.list_move_write_units_per_member = 5.0;
        big.profile
            .operations
            .messages_per_list_move_in_big_channels = 3.0;
        big.profile.operations.fanout_chunk_units = OperationCost::default();
        let usage = big.usage(&messages(3.0), 1.0).unwrap();
        assert_eq!(usage.write_units, 3.0 * 4.0 + 500.0 * 5.0);
    }

    #[test]
    fn nothing_done_costs_nothing() {
        let usage = model(2.0).usage(&Activity::default(), 1000.0).unwrap();
        assert_eq!(usage, Usage::default());
    }

    #[test]
    fn tiers_price_each_part_of_the_volume_at_its_own_rate() {
        let tiers = [
            Tier {
                up_to: Some(300.0),
                price: 1.0,
            },
            Tier {
                up_to: None,
                price: 0.9,
            },
        ];
        assert_eq!(tiered(100.0, &tiers), 100.0);
        assert_eq!(tiered(300.0, &tiers), 300.0);
        assert!((tiered(400.0, &tiers) - 390.0).abs() < 1e-9);
    }

    /// Round prices, so that the bill can be checked by hand (not the repository's file,
    /// which is there to be updated).
    fn prices() -> Prices {
        let flat = |price| vec![Tier { up_to: None, price }];
        Prices {
            checked: "test".into(),
            region: "test".into(),
            sources: Vec::new(),
            lambda: LambdaPrices {
                requests_per_million: 0.2,
                gb_second: 0.00001,
            },
            http_api: HttpApiPrices {
                requests_per_million: vec![
                    Tier {
                        up_to: Some(0.1),
                        price: 1.0,
                    },
                    Tier {
                        up_to: None,
                        price: 0.5,
                    },
                ],
            },
            websocket: WebSocketPrices {
                messages_per_million: flat(1.0),
                connection_minutes_per_million: 0.25,
            },
            dynamodb: DynamoDbPrices {
                write_request_units_per_million: 0.5,
                read_request_units_per_million: 0.1,
                storage_gb_month: 0.25,
                backup_gb_month: 0.2,
            },
            sqs: SqsPrices {
                requests_per_million: 0.4,
            },
            ses: SesPrices {
                emails_per_thousand: 0.1,
            },
            s3: S3Prices {
                storage_gb_month: flat(0.02),
                puts_per_thousand: 0.005,
                gets_per_thousand: 0.0004,
            },
            data_transfer_out_gb: flat(0.1),
            cloudwatch: CloudWatchPrices {
                logs_ingested_gb: 0.5,
                logs_stored_gb_month: 0.03,
                alarm_month: 0.1,
            },
            secrets_manager: SecretsManagerPrices { secret_month: 0.4 },
        }
    }

    #[test]
    fn the_bill_prices_a_month_by_hand() {
        let mut model = model(2.0);
        model.profile.per_user_per_day = messages(10.0);
        // 1,000 users × 10 messages × 30 days: 300,000 sends.
        let month = model.month(1000.0).unwrap();
        let bill = prices().bill(&month, &model.profile.deployment);
        let item = |service: &str, item: &str| {
            bill.lines
                .iter()
                .find(|l| l.service == service && l.item.starts_with(item))
                .unwrap()
                .cost
        };
        let near = |a: f64, b: f64| assert!((a - b).abs() < 1e-9, "{a} ≠ {b}");
        // 100,000 requests at $1.00 a million, the other 200,000 at $0.50.
        near(item("API Gateway HTTP API", "requests"), 0.1 + 0.1);
        // 1.2 million read units at $0.10 a million, 1.2 million write units at $0.50.
        near(item("DynamoDB", "reads"), 0.12);
        near(item("DynamoDB", "writes"), 0.6);
        // 300,000 pushes at $1.00 a million.
        near(item("API Gateway WebSocket", "messages"), 0.3);
        // 330,000 invocations at $0.20 a million; 30,600 GB-s at $0.00001.
        near(item("Lambda", "requests"), 0.066);
        near(item("Lambda", "compute"), 0.306);
        // 12 months of 300,000 KB: 3.43 GB at $0.25, and its backups at $0.20.
        let table_gb = 12.0 * 300_000.0 / 1024.0 / 1024.0;
        near(item("DynamoDB", "storage"), table_gb * 0.25);
        near(item("DynamoDB", "point-in-time"), table_gb * 0.2);
        near(item("CloudWatch", "alarms"), 1.0);
        near(item("Secrets Manager", "secrets"), 0.4);
        // Nothing was queued and no queue is polled.
        near(item("SQS", "requests"), 0.0);
    }

    #[test]
    fn a_send_over_the_socket_is_a_frame_that_reads_its_connection() {
        let mut model = model(2.0);
        model.profile.websocket_share = 1.0;
        let usage = model.usage(&messages(1.0), 1.0).unwrap();
        assert_eq!(usage.http_requests, 0.0);
        // The frame in, the push to the other member's socket.
        assert_eq!(usage.websocket_messages, 2.0);
        // The connection item, then as over HTTP.
        assert_eq!(usage.read_units, 1.0 + 2.0 + 2.0);
    }

    #[test]
    fn an_idle_deployment_pays_its_alarms_secret_and_empty_polls() {
        let mut model = model(2.0);
        model.profile.deployment.polled_queues = 6.0;
        let bill = prices().bill(&model.idle_month(), &model.profile.deployment);
        // 6 queues × 5 pollers × 3 polls a minute × 43,200 minutes at $0.40 a million.
        let polls = 6.0 * 5.0 * 3.0 * 43_200.0;
        assert!((bill.total() - (1.0 + 0.4 + polls / 1e6 * 0.4)).abs() < 1e-9);
    }

    #[test]
    fn a_profile_that_would_bill_nan_is_refused() {
        let mut model = model(2.0);
        model.profile.channel_mix[0].share = 0.0;
        assert!(model.profile.check().is_err());
        let mut model = self::model(2.0);
        model.profile.daily_users.clear();
        assert!(model.profile.check().is_err());
        assert!(self::model(2.0).profile.check().is_ok());
    }

    #[test]
    fn the_repository_files_load_and_bill_every_size() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        let model = Model::load(dir).unwrap();
        let prices = Prices::load(&dir.join("prices.yaml")).unwrap();
        let totals: Vec<f64> = model
            .profile
            .daily_users
            .iter()
            .map(|&users| {
                let month = model.month(users as f64).unwrap();
                prices.bill(&month, &model.profile.deployment).total()
            })
            .collect();
        // Ten times the users costs more, and less than ten times as much plus the floor.
        assert!(totals
            .windows(2)
            .all(|w| w[1] > w[0] && w[1] < 10.0 * w[0] + 10.0));
    }
}
