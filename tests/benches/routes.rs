//! Warm latency per route through the local gateway over real HTTP, with the DynamoDB round
//! trips and the read and write capacity units DynamoDB reports (`ReturnConsumedCapacity`)
//! per request. One client, requests one after another, against a populated table: a group of
//! 10 members with 200 messages, partners, pending requests.
//!
//! Latency is this machine's, with the handlers in the dev profile in process and DynamoDB
//! Local (Java) behind them: DynamoDB Local's own time dominates. Round trips and capacity
//! units do not depend on the machine; they are what a request costs on AWS.

use std::time::{Duration, Instant};

use integration_tests::metering::{DynamoMeter, Metered};
use integration_tests::{spawn_gateway, Api, Endpoints, TestEnv, TestUser, BENCH_LIMITS};
use serde_json::{json, Value};
use shared::domain::{Email, Timestamp, User, UserName, VerificationCode};

const RUNS: usize = 100;
/// Login hashes a password (Argon2id, 19 MiB): fewer runs.
const LOGIN_RUNS: usize = 20;

struct Call {
    method: &'static str,
    path: String,
    token: Option<String>,
    body: Option<Value>,
}

fn call(method: &'static str, path: String, token: &str, body: Option<Value>) -> Call {
    Call {
        method,
        path,
        token: Some(token.to_string()),
        body,
    }
}

struct Row {
    route: &'static str,
    p50: Duration,
    p99: Duration,
    cost: Metered,
    runs: usize,
}

struct Bench {
    env: TestEnv,
    meter: DynamoMeter,
    /// Over HTTP, without the contract check (it would be timed too).
    api: Api,
}

impl Bench {
    async fn send(&self, call: &Call) -> (u16, Value) {
        self.api
            .call(
                call.method,
                &call.path,
                call.token.as_deref(),
                call.body.clone(),
            )
            .await
            .parts()
    }

    /// Runs the calls one after another; every answer must be a 2xx.
    async fn measure(&self, route: &'static str, calls: Vec<Call>) -> Row {
        let mut latencies = Vec::new();
        self.meter.take();
        for call in &calls {
            let started = Instant::now();
            let (status, body) = self.send(call).await;
            latencies.push(started.elapsed());
            assert!(
                (200..300).contains(&status),
                "{route} {}: {status} {body}",
                call.path
            );
        }
        let cost = self.meter.take();
        latencies.sort();
        let at =
            |p: f64| latencies[((latencies.len() as f64 * p).ceil() as usize).saturating_sub(1)];
        Row {
            route,
            p50: at(0.5),
            p99: at(0.99),
            cost,
            runs: calls.len(),
        }
    }

    /// `count` users created through the store (registering over HTTP would mostly measure
    /// password hashing), with tokens.
    async fn users(&self, count: usize) -> Vec<(String, String)> {
        let mut users = Vec::new();
        for i in 0..count {
            let user = User::new_account(
                Email::parse(&format!(
                    "{}@bench.example",
                    integration_tests::unique(&i.to_string())
                ))
                .expect("email"),
                UserName::parse(&format!("User {i}")).expect("name"),
                Timestamp::now(),
            );
            self.env
                .ctx
                .store
                .create_user(
                    &user,
                    "not-a-login",
                    VerificationCode::generate(),
                    Default::default(),
                )
                .await
                .expect("create a user");
            let token = self.env.ctx.tokens.issue(&user.id, 0).expect("token").token;
            users.push((user.id.to_string(), token));
        }
        users
    }

    async fn ok(
        &self,
        method: &'static str,
        path: String,
        token: &str,
        body: Option<Value>,
    ) -> Value {
        let (status, answer) = self.send(&call(method, path.clone(), token, body)).await;
        assert!(
            (200..300).contains(&status),
            "{method} {path}: {status} {answer}"
        );
        answer
    }
}

fn id(value: &Value) -> String {
    value["id"].as_str().unwrap_or_default().to_string()
}

#[tokio::main]
async fn main() {
    let mut env = TestEnv::with_settings(Endpoints::default(), &BENCH_LIMITS).await;
    let meter = DynamoMeter::default();
    let sdk = shared::context::load_sdk_config().await;
    env.ctx.store = meter.store(&sdk, &env.table);
    let api = Api::over_http(spawn_gateway(env.ctx.clone()).await).unchecked();
    let bench = Bench { env, meter, api };

    // The table: Ada with partners, a group of 10 of them with 200 messages and a thread,
    // people who sent her requests, and people to send requests to and to join a public
    // channel. A group takes only partners (consent).
    let ada: TestUser = bench.api.register("Ada").await;
    let t = ada.token.as_str();
    let members = bench.users(9).await;
    for (_, member_token) in &members {
        let request = bench
            .ok(
                "POST",
                "/partner-requests".into(),
                member_token,
                Some(json!({"recipient_id": ada.id})),
            )
            .await;
        bench
            .ok(
                "POST",
                format!("/partner-requests/{}/accept", id(&request)),
                t,
                None,
            )
            .await;
    }
    let member_ids: Vec<&str> = members.iter().map(|(id, _)| id.as_str()).collect();
    let group = id(&bench
        .ok(
            "POST",
            "/channels".into(),
            t,
            Some(json!({"name": "Team", "member_ids": member_ids})),
        )
        .await);
    let mut messages = Vec::new();
    for i in 0..200 {
        let message = bench
            .ok(
                "POST",
                format!("/channels/{group}/messages"),
                t,
                Some(json!({"body": format!("Message {i}")})),
            )
            .await;
        messages.push(id(&message));
    }
    let parent = messages[0].clone();
    for i in 0..5 {
        bench
            .ok(
                "POST",
                format!("/channels/{group}/messages"),
                &members[1].1,
                Some(json!({"body": format!("Reply {i}"), "parent_id": parent})),
            )
            .await;
    }
    let requesters = bench.users(RUNS).await;
    let mut pending = Vec::new();
    for (_, token) in &requesters {
        let request = bench
            .ok(
                "POST",
                "/partner-requests".into(),
                token,
                Some(json!({"recipient_id": ada.id})),
            )
            .await;
        pending.push(id(&request));
    }
    let recipients = bench.users(RUNS).await;
    let joiners = bench.users(RUNS).await;
    let public = id(&bench
        .ok(
            "POST",
            "/channels".into(),
            t,
            Some(json!({"name": "Open", "private": false})),
        )
        .await);
    let other = &members[1].0;
    let repeat = |method: &'static str, path: String, body: Option<Value>| -> Vec<Call> {
        (0..RUNS)
            .map(|_| call(method, path.clone(), t, body.clone()))
            .collect()
    };

    let message = &messages[100];
    // Measured in this order: the later routes change what the earlier ones read.
    let plan: Vec<(&str, Vec<Call>)> = vec![
        (
            "GET /health",
            (0..RUNS)
                .map(|_| Call {
                    method: "GET",
                    path: "/health".into(),
                    token: None,
                    body: None,
                })
                .collect(),
        ),
        (
            "POST /auth/login",
            (0..LOGIN_RUNS)
                .map(|_| Call {
                    method: "POST",
                    path: "/auth/login".into(),
                    token: None,
                    body: Some(json!({"email": ada.email, "password": ada.password})),
                })
                .collect(),
        ),
        ("GET /me", repeat("GET", "/me".into(), None)),
        (
            "PATCH /me",
            repeat("PATCH", "/me".into(), Some(json!({"name": "Ada L."}))),
        ),
        ("GET /users", repeat("GET", "/users?limit=50".into(), None)),
        (
            "GET /users/{id}",
            repeat("GET", format!("/users/{other}"), None),
        ),
        (
            "GET /users/{id}/presence",
            repeat("GET", format!("/users/{other}/presence"), None),
        ),
        (
            "GET /presence/online",
            repeat("GET", "/presence/online".into(), None),
        ),
        (
            "POST /partner-requests",
            recipients
                .iter()
                .map(|(recipient, _)| {
                    call(
                        "POST",
                        "/partner-requests".into(),
                        t,
                        Some(json!({"recipient_id": recipient})),
                    )
                })
                .collect(),
        ),
        (
            "GET /partner-requests/received",
            repeat("GET", "/partner-requests/received".into(), None),
        ),
        (
            "POST /partner-requests/{id}/accept",
            pending
                .iter()
                .map(|r| call("POST", format!("/partner-requests/{r}/accept"), t, None))
                .collect(),
        ),
        (
            "GET /partnerships",
            repeat("GET", "/partnerships?limit=50".into(), None),
        ),
        (
            "POST /channels",
            repeat(
                "POST",
                "/channels".into(),
                Some(json!({"name": "Pair", "member_ids": [other]})),
            ),
        ),
        (
            "GET /channels",
            repeat("GET", "/channels?limit=50".into(), None),
        ),
        (
            "GET /channels/{id}",
            repeat("GET", format!("/channels/{group}"), None),
        ),
        (
            "POST /channels/{id}/join",
            joiners
                .iter()
                .map(|(_, token)| call("POST", format!("/channels/{public}/join"), token, None))
                .collect(),
        ),
        (
            "POST /channels/{id}/messages",
            (0..RUNS)
                .map(|i| {
                    call(
                        "POST",
                        format!("/channels/{group}/messages"),
                        t,
                        Some(json!({"body": format!("Bench {i}")})),
                    )
                })
                .collect(),
        ),
        (
            "GET /channels/{id}/messages",
            repeat("GET", format!("/channels/{group}/messages?limit=50"), None),
        ),
        (
            "GET /channels/{id}/messages/{mid}",
            repeat("GET", format!("/channels/{group}/messages/{message}"), None),
        ),
        (
            "PATCH /channels/{id}/messages/{mid}",
            repeat(
                "PATCH",
                format!("/channels/{group}/messages/{message}"),
                Some(json!({"body": "edited"})),
            ),
        ),
        (
            "PUT …/reactions/{emoji}",
            repeat(
                "PUT",
                format!("/channels/{group}/messages/{message}/reactions/%F0%9F%91%8D"),
                None,
            ),
        ),
        (
            "GET …/{mid}/replies",
            repeat(
                "GET",
                format!("/channels/{group}/messages/{parent}/replies"),
                None,
            ),
        ),
        (
            // A member who has not read them: each mark moves the marker forward (Ada's own
            // sends moved hers past them all).
            "POST /channels/{id}/read",
            messages[100..]
                .iter()
                .take(RUNS)
                .map(|m| {
                    call(
                        "POST",
                        format!("/channels/{group}/read"),
                        &members[2].1,
                        Some(json!({"message_id": m})),
                    )
                })
                .collect(),
        ),
        (
            "GET /channels/{id}/read-receipts",
            repeat("GET", format!("/channels/{group}/read-receipts"), None),
        ),
        (
            "DELETE /channels/{id}/messages/{mid}",
            messages[1..]
                .iter()
                .take(RUNS)
                .map(|m| call("DELETE", format!("/channels/{group}/messages/{m}"), t, None))
                .collect(),
        ),
    ];
    let mut rows = Vec::new();
    for (route, calls) in plan {
        rows.push(bench.measure(route, calls).await);
    }

    println!();
    println!(
        "### Warm latency and DynamoDB cost per route\n\n\
         Through the local gateway over HTTP, one request at a time, {RUNS} per route \
         ({LOGIN_RUNS} for login), handlers in process (dev profile) on DynamoDB Local. Round \
         trips and capacity units are averages per request, as DynamoDB reports them \
         (`ReturnConsumedCapacity: TOTAL`); pushes found no connected sockets.\n"
    );
    println!("| route | p50 | p99 | DynamoDB round trips | read units | write units |");
    println!("|---|---|---|---|---|---|");
    for row in &rows {
        let runs = row.runs as f64;
        println!(
            "| `{}` | {:.1} ms | {:.1} ms | {:.1} | {:.1} | {:.1} |",
            row.route,
            row.p50.as_secs_f64() * 1000.0,
            row.p99.as_secs_f64() * 1000.0,
            row.cost.calls as f64 / runs,
            row.cost.read_units() / runs,
            row.cost.write_units() / runs,
        );
    }
    write_measured_costs(&rows);
}

/// Writes the rows for the cost model (`make cost` reads infra/cost-model/measured.json).
fn write_measured_costs(rows: &[Row]) {
    let routes: serde_json::Map<String, Value> = rows
        .iter()
        .map(|row| {
            let runs = row.runs as f64;
            let round = |x: f64| (x * 100.0).round() / 100.0;
            let figures = json!({
                "calls": round(row.cost.calls as f64 / runs),
                "read_units": round(row.cost.read_units() / runs),
                "write_units": round(row.cost.write_units() / runs),
                "p50_ms": round(row.p50.as_secs_f64() * 1000.0),
            });
            (row.route.to_string(), figures)
        })
        .collect();
    let commit = std::process::Command::new("git")
        .args(["describe", "--always", "--dirty"])
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map_or_else(|| "?".to_string(), |c| c.trim().to_string());
    let measured = json!({
        "generated_by": "make bench (tests/benches/routes.rs); do not edit by hand",
        "commit": commit,
        "routes": routes,
    });
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../infra/cost-model/measured.json"
    );
    let text = serde_json::to_string_pretty(&measured).expect("JSON") + "\n";
    std::fs::write(path, text).expect("write infra/cost-model/measured.json");
    eprintln!("wrote infra/cost-model/measured.json");
}
