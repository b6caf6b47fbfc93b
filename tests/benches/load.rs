//! Load (`make bench`): simulated people against the whole local stack over real HTTP and
//! WebSocket connections (the gateway, the event router, DynamoDB Local), bounded in people
//! and seconds and stopping by itself. Each person logs in, opens a socket and the inbox, then
//! until the deadline acts every 1–3 s: writes a message (a `typing` frame, the send, a
//! `typing` stop) to a partner or to a group of 8, reads history, marks read, reacts, reloads
//! the inbox, pings, or reconnects. It reports throughput, latency percentiles and errors per operation, and the
//! DynamoDB units per simulated user-minute beside what the cost model
//! (infra/cost-model) predicts for the same activity.
//!
//! `LOAD_USERS` (48, at most 400) and `LOAD_SECONDS` (60, at most 600) size it; loopback only.
//! Sends and read marks go over HTTP (the web client sends them as frames while its socket is
//! up: the cost model's `websocket_share`, set to 0 for this check).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use integration_tests::metering::{percentile, DynamoMeter, Metered};
use integration_tests::stack::{Socket, Stack};
use integration_tests::{Api, TestUser};
use serde_json::{json, Value};

const GROUP_SIZE: usize = 8;
/// The share of sends that go to the partner's direct channel; the rest go to the group.
const DIRECT_SHARE: f64 = 0.6;

/// A size from the environment, kept within `bounds` (the load stays loopback-sized).
fn setting(name: &str, default: usize, bounds: std::ops::RangeInclusive<usize>) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
        .clamp(*bounds.start(), *bounds.end())
}

/// A small deterministic generator (xorshift64*): each person's choices repeat run to run.
struct Dice(u64);

impl Dice {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// Uniform in [0, 1).
    fn roll(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Operation {
    Login,
    Connect,
    Inbox,
    Send,
    History,
    MarkRead,
    React,
}

impl Operation {
    fn label(self) -> &'static str {
        match self {
            Self::Login => "`POST /auth/login`",
            Self::Connect => "WebSocket handshake (`$connect`)",
            Self::Inbox => "`GET /channels`",
            Self::Send => "`POST /channels/{id}/messages`",
            Self::History => "`GET /channels/{id}/messages`",
            Self::MarkRead => "`POST /channels/{id}/read`",
            Self::React => "`PUT …/reactions/{emoji}`",
        }
    }
}

#[derive(Default)]
struct Tally {
    latencies: BTreeMap<Operation, Vec<Duration>>,
    errors: BTreeMap<Operation, usize>,
    sessions: usize,
    /// Frames sent (`typing` start and stop, `ping`): counted, not timed (nothing answers
    /// a `typing` frame, and a `pong` is one frame among the pushes).
    typing_frames: usize,
    pings: usize,
    direct_sends: usize,
    group_sends: usize,
    frames_received: usize,
}

/// The newest message a person knows of, per channel.
type Newest = std::collections::HashMap<String, String>;

/// One simulated person: who they are and where they write.
struct Person {
    user: TestUser,
    direct: String,
    group: String,
}

struct Run {
    api: Api,
    ws: String,
    deadline: Instant,
    tally: Mutex<Tally>,
}

impl Run {
    fn record(&self, operation: Operation, started: Instant, ok: bool) {
        let mut tally = self.tally.lock().expect("tally");
        if ok {
            tally
                .latencies
                .entry(operation)
                .or_default()
                .push(started.elapsed());
        } else {
            *tally.errors.entry(operation).or_default() += 1;
        }
    }

    async fn timed_call(
        &self,
        operation: Operation,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Value {
        let started = Instant::now();
        let (status, answer) = self.api.call(method, path, Some(token), body).await.parts();
        self.record(operation, started, (200..300).contains(&status));
        answer
    }

    async fn connect(&self, token: &str) -> Option<Socket> {
        let started = Instant::now();
        let socket = Socket::connect(&self.ws, Some(token)).await.ok();
        self.record(Operation::Connect, started, socket.is_some());
        self.tally.lock().expect("tally").sessions += 1;
        socket
    }

    /// Reads pushed frames for `wait` (a person thinking), remembering each channel's newest
    /// message.
    async fn listen(&self, socket: &mut Socket, wait: Duration, newest: &mut Newest) {
        let until = Instant::now() + wait;
        let mut received = 0;
        while let Some(left) = until.checked_duration_since(Instant::now()) {
            match socket.next_within(left).await {
                Some(frame) => {
                    received += 1;
                    let message = &frame["message"];
                    if let (Some(channel), Some(id)) =
                        (message["channel_id"].as_str(), message["id"].as_str())
                    {
                        newest.insert(channel.to_string(), id.to_string());
                    }
                }
                None => break,
            }
        }
        self.tally.lock().expect("tally").frames_received += received;
    }

    async fn live(&self, person: &Person, seed: u64) {
        let mut dice = Dice::new(seed);
        let started = Instant::now();
        let login = self
            .api
            .call(
                "POST",
                "/auth/login",
                None,
                Some(json!({"email": person.user.email, "password": person.user.password})),
            )
            .await;
        let ok = login.status == 200;
        self.record(Operation::Login, started, ok);
        let token = match login.body["token"].as_str() {
            Some(token) if ok => token.to_string(),
            _ => return,
        };
        let Some(mut socket) = self.connect(&token).await else {
            return;
        };
        self.timed_call(Operation::Inbox, "GET", "/channels", &token, None)
            .await;
        let mut newest = Newest::new();
        while Instant::now() < self.deadline {
            let think = Duration::from_millis(1000 + (dice.roll() * 2000.0) as u64);
            self.listen(&mut socket, think, &mut newest).await;
            if Instant::now() >= self.deadline {
                break;
            }
            let channel = if dice.roll() < DIRECT_SHARE {
                &person.direct
            } else {
                &person.group
            };
            match dice.roll() {
                x if x < 0.40 => {
                    socket
                        .send(json!({"action": "typing", "channel_id": channel, "is_typing": true}))
                        .await;
                    let sent = self
                        .timed_call(
                            Operation::Send,
                            "POST",
                            &format!("/channels/{channel}/messages"),
                            &token,
                            Some(json!({"body": format!("A message of the load test, {x:.6}")})),
                        )
                        .await;
                    if let Some(id) = sent["id"].as_str() {
                        newest.insert(channel.clone(), id.to_string());
                    }
                    // The web client stops its typing indicator when it sends.
                    socket
                        .send(
                            json!({"action": "typing", "channel_id": channel, "is_typing": false}),
                        )
                        .await;
                    let mut tally = self.tally.lock().expect("tally");
                    tally.typing_frames += 2;
                    if channel == &person.direct {
                        tally.direct_sends += 1;
                    } else {
                        tally.group_sends += 1;
                    }
                }
                x if x < 0.60 => {
                    self.timed_call(
                        Operation::History,
                        "GET",
                        &format!("/channels/{channel}/messages?limit=50"),
                        &token,
                        None,
                    )
                    .await;
                }
                x if x < 0.80 => {
                    if let Some(message) = newest.get(channel) {
                        self.timed_call(
                            Operation::MarkRead,
                            "POST",
                            &format!("/channels/{channel}/read"),
                            &token,
                            Some(json!({"message_id": message})),
                        )
                        .await;
                    }
                }
                x if x < 0.85 => {
                    if let Some(message) = newest.get(channel) {
                        self.timed_call(
                            Operation::React,
                            "PUT",
                            &format!(
                                "/channels/{channel}/messages/{message}/reactions/%F0%9F%91%8D"
                            ),
                            &token,
                            None,
                        )
                        .await;
                    }
                }
                x if x < 0.90 => {
                    self.timed_call(Operation::Inbox, "GET", "/channels", &token, None)
                        .await;
                }
                x if x < 0.95 => {
                    socket.send(json!({"action": "ping"})).await;
                    self.tally.lock().expect("tally").pings += 1;
                }
                _ => {
                    socket.close().await;
                    let Some(again) = self.connect(&token).await else {
                        return;
                    };
                    socket = again;
                    self.timed_call(Operation::Inbox, "GET", "/channels", &token, None)
                        .await;
                }
            }
        }
        socket.close().await;
    }
}

/// `count` people in groups of `GROUP_SIZE`, each group's owner partnered with every member
/// (a group takes only partners), and each person in one direct channel with a partner.
async fn people(api: &Api, count: usize) -> Vec<Person> {
    let users = api.register_many("Load", count).await;
    let mut people = Vec::new();
    for group in users.chunks(GROUP_SIZE) {
        let owner = &group[0];
        let members: Vec<&TestUser> = group[1..].iter().collect();
        let channel = api.group(owner, &members, true).await;
        for pair in group.chunks(2) {
            let [a, b] = pair else { continue };
            api.befriend(a, b).await;
            let direct = api.direct(a, b).await;
            assert!(direct.status < 300, "{:?}", direct.body);
            for user in [a, b] {
                people.push(Person {
                    user: user.clone(),
                    direct: direct.id(),
                    group: channel.clone(),
                });
            }
        }
    }
    people
}

/// What single operations cost in DynamoDB, each alone with the router's work for it:
/// the figures `profile.yaml` assumes for the ones no route benchmark measures.
async fn single_operations(
    api: &Api,
    ws: &str,
    meter: &DynamoMeter,
    (person, partner): (&Person, &Person),
) -> Vec<(&'static str, Metered)> {
    let settle = || tokio::time::sleep(Duration::from_millis(700));
    let token = person.user.token.as_str();
    let send = |channel: &str| {
        let path = format!("/channels/{channel}/messages");
        let body = json!({"body": "A message of the load test, 0.123456"});
        async move { api.call("POST", &path, Some(token), Some(body)).await }
    };
    settle().await;
    meter.take();
    let mut costs = Vec::new();
    let mut socket = Socket::connect(ws, Some(token)).await.expect("a socket");
    settle().await;
    costs.push(("$connect", meter.take()));
    socket
        .send(json!({"action": "typing", "channel_id": person.group, "is_typing": true}))
        .await;
    settle().await;
    costs.push(("`typing` frame in the group", meter.take()));
    let direct = send(&person.direct).await;
    settle().await;
    costs.push(("a send to the partner", meter.take()));
    send(&person.group).await;
    settle().await;
    costs.push(("a send to the group", meter.take()));
    api.call(
        "POST",
        &format!("/channels/{}/read", person.direct),
        Some(&partner.user.token),
        Some(json!({"message_id": direct.id()})),
    )
    .await;
    settle().await;
    costs.push(("the partner's read mark", meter.take()));
    api.call("GET", "/channels", Some(token), None).await;
    costs.push(("`GET /channels` (2 channels)", meter.take()));
    socket.close().await;
    settle().await;
    costs.push(("$disconnect", meter.take()));
    costs
}

#[tokio::main]
async fn main() {
    let users = setting("LOAD_USERS", 48, GROUP_SIZE..=400);
    let seconds = setting("LOAD_SECONDS", 60, 5..=600);
    let users = users.div_ceil(GROUP_SIZE) * GROUP_SIZE;
    let meter = DynamoMeter::default();
    let stack = Stack::start_metered(&meter).await;
    let api = stack.api.clone().unchecked();
    let people = people(&api, users).await;
    // What the set-up wrote reaches the router first.
    tokio::time::sleep(Duration::from_secs(2)).await;
    // people[1] is people[0]'s partner (pairs are made in order).
    let alone = single_operations(&api, &stack.ws, &meter, (&people[0], &people[1])).await;

    let run = Arc::new(Run {
        api,
        ws: stack.ws.clone(),
        deadline: Instant::now() + Duration::from_secs(seconds as u64),
        tally: Mutex::new(Tally::default()),
    });
    let started = Instant::now();
    let tasks: Vec<_> = people
        .into_iter()
        .enumerate()
        .map(|(i, person)| {
            let run = run.clone();
            tokio::spawn(async move { run.live(&person, i as u64 + 1).await })
        })
        .collect();
    for task in tasks {
        task.await.expect("a simulated person panicked");
    }
    let elapsed = started.elapsed();
    // The router's last pushes and the $disconnects land before the meter is read.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let dynamodb = meter.take();
    let tally = std::mem::take(&mut *run.tally.lock().expect("tally"));
    report(&tally, users, seconds, elapsed, &dynamodb);
    println!();
    println!("One operation alone before the run, with the router's work for it:\n");
    println!("| operation | DynamoDB calls | read units | write units |");
    println!("|---|---|---|---|");
    for (what, cost) in &alone {
        println!(
            "| {what} | {} | {:.1} | {:.1} |",
            cost.calls,
            cost.read_units(),
            cost.write_units()
        );
    }
}

fn load_model() -> cost_model::Model {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/cost-model");
    cost_model::Model::load(&dir).expect("the cost model's files")
}

fn report(tally: &Tally, users: usize, seconds: usize, elapsed: Duration, dynamodb: &Metered) {
    let secs = elapsed.as_secs_f64();
    let count = |op: Operation| tally.latencies.get(&op).map_or(0, Vec::len) as f64;
    let requests: usize =
        tally.latencies.values().map(Vec::len).sum::<usize>() + tally.typing_frames + tally.pings;
    let errors: usize = tally.errors.values().sum();
    println!();
    println!(
        "### Load: simulated people on the local stack\n\n\
         {users} people for {seconds} s over real HTTP and WebSocket connections to the local \
         gateway (dev profile, DynamoDB Local, the event router pushing), each acting every \
         1–3 s: a message (a `typing` frame, the send, a `typing` stop; {:.0} % to a partner, \
         the rest to a group of {GROUP_SIZE}), history, a read mark, a reaction, the inbox, a \
         `ping`, or a reconnect.\n",
        DIRECT_SHARE * 100.0
    );
    println!("| operation | count | errors | p50 | p95 | p99 |");
    println!("|---|---|---|---|---|---|");
    for (op, latencies) in &tally.latencies {
        let mut sorted = latencies.clone();
        sorted.sort();
        let ms = |p| percentile(&sorted, p).as_secs_f64() * 1000.0;
        println!(
            "| {} | {} | {} | {:.1} ms | {:.1} ms | {:.1} ms |",
            op.label(),
            sorted.len(),
            tally.errors.get(op).unwrap_or(&0),
            ms(0.5),
            ms(0.95),
            ms(0.99)
        );
    }
    let user_minutes = users as f64 * secs / 60.0;
    println!();
    println!(
        "Throughput: {:.1} requests and frames/s ({} `typing` and {} `ping` frames, not timed), \
         {:.1} frames received/s; errors: {errors} of {}.",
        requests as f64 / secs,
        tally.typing_frames,
        tally.pings,
        tally.frames_received as f64 / secs,
        requests + errors
    );

    // The same activity through the cost model: everyone online with one socket.
    let per_user = |n: f64| n / users as f64;
    let sends = (tally.direct_sends + tally.group_sends) as f64;
    let activity = cost_model::Activity {
        sessions: per_user(tally.sessions as f64),
        connection_minutes: secs / 60.0,
        logins: per_user(count(Operation::Login)),
        inbox_loads: per_user(count(Operation::Inbox)),
        messages_sent: per_user(sends),
        typing_frames: per_user(tally.typing_frames as f64),
        pings: per_user(tally.pings as f64),
        history_pages: per_user(count(Operation::History)),
        read_marks: per_user(count(Operation::MarkRead)),
        reactions: per_user(count(Operation::React)),
        ..cost_model::Activity::default()
    };
    let mut model = load_model();
    let profile = &mut model.profile;
    profile.channel_mix = vec![
        cost_model::ChannelShare {
            kind: "direct".into(),
            share: tally.direct_sends as f64 / sends.max(1.0),
            members: 2.0,
            assistant: false,
        },
        cost_model::ChannelShare {
            kind: "group".into(),
            share: tally.group_sends as f64 / sends.max(1.0),
            members: GROUP_SIZE as f64,
            assistant: false,
        },
    ];
    profile.online_share = 1.0;
    profile.websocket_share = 0.0;
    // Each start frame is pushed; its stop follows within the claim's 2 s and is dropped.
    profile.typing_pushed_share = 0.5;
    profile.sockets_per_online_user = 1.0;
    // A partner and the group: everyone a person's presence goes to.
    profile.contacts = GROUP_SIZE as f64;
    profile.channels_per_user = 2.0;
    // "A message of the load test, 0.123456": message, of, the, load, test, 123456.
    profile.indexed_words_per_message = 6.0;
    let predicted = model
        .usage(&activity, users as f64)
        .expect("the model prices the run");
    println!();
    println!("| per simulated user-minute | measured | cost model | measured ÷ model |");
    println!("|---|---|---|---|");
    let row = |what: &str, measured: f64, modelled: f64| {
        println!(
            "| {what} | {:.1} | {:.1} | {:.2} |",
            measured / user_minutes,
            modelled / user_minutes,
            measured / modelled
        );
    };
    row(
        "DynamoDB read units",
        dynamodb.read_units(),
        predicted.read_units,
    );
    row(
        "DynamoDB write units",
        dynamodb.write_units(),
        predicted.write_units,
    );
    println!(
        "| DynamoDB calls | {:.1} | | |",
        dynamodb.calls as f64 / user_minutes
    );
    row(
        "WebSocket messages (frames sent and pushes received)",
        (tally.typing_frames + tally.pings + tally.frames_received) as f64,
        predicted.websocket_messages,
    );
}
