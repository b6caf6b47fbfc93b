//! Cold start, warm invocations, memory and size of every function's release binary, under
//! the project's Lambda Runtime API emulator (`integration_tests::runtime_api`), beside a
//! hello-world `lambda_runtime` binary measured in the same run: the ratio to it is the
//! figure that carries over to other machines.
//!
//! The binaries are the release profile the functions deploy with, built for this machine
//! (`make bench` builds them into target/release; `BENCH_RELEASE_DIR` points elsewhere).
//! A cold start is process spawn → the function's answer to its first event; the init part
//! is spawn → its first request for an event. Peak RSS is the process's high-water mark
//! (VmHWM) after the cold event and 100 warm ones.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use integration_tests::runtime_api::{Launch, Outcome, RuntimeHarness};
use integration_tests::{samples, TestEnv};
use serde_json::{json, Value};

const COLD_RUNS: usize = 15;
const WARM_RUNS: usize = 100;

fn release_dir() -> PathBuf {
    std::env::var_os("BENCH_RELEASE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/release"))
}

/// The event `events/{function}/{name}` of `samples` (function, name, event).
fn sample(samples: &[(String, String, Value)], function: &str, name: &str) -> Value {
    samples
        .iter()
        .find(|(f, n, _)| f == function && n == name)
        .map(|(_, _, event)| event.clone())
        .unwrap_or_else(|| panic!("events/{function}/{name} exists"))
}

/// The send of the comparison with the peers (its label).
const SEND: &str = "POST /channels/{id}/messages";

/// The sample send, to `channel`, without a `client_id` (each one a new message).
fn send_event(rest_event: impl Fn(&str, &str) -> Value, channel: &str) -> Value {
    let mut event = rest_event("channels-api", "send-message.json");
    let path = format!("/channels/{channel}/messages");
    event["rawPath"] = json!(path);
    event["requestContext"]["http"]["path"] = json!(path);
    event["pathParameters"]["id"] = json!(channel);
    event["body"] = json!(r#"{"body": "Hello team"}"#);
    event
}

/// The event each function gets: a real request of its own kind, with a valid token where
/// one is needed, so the cold start includes the first DynamoDB round trip.
fn events(
    token: &str,
    connections: &str,
    channel: &str,
) -> Vec<(&'static str, &'static str, Value)> {
    let rest: Vec<_> = samples::load()
        .into_iter()
        .map(|s| (s.function, s.name, s.event))
        .collect();
    let rest_event = |function: &str, name: &str| -> Value {
        let mut event = sample(&rest, function, name);
        event["headers"]["authorization"] = json!(format!("Bearer {token}"));
        event
    };
    let websocket: Vec<_> = samples::load_websocket()
        .into_iter()
        .map(|s| (s.function, s.name, s.event))
        .collect();
    let ws_event = |function: &str, name: &str| -> Value {
        let mut event = sample(&websocket, function, name);
        // Pushes (the pong, presence) go to a stand-in `@connections` API that accepts them.
        event["requestContext"]["domainName"] = json!(connections);
        event["requestContext"]["stage"] = json!("local");
        if event["queryStringParameters"].is_object() {
            event["queryStringParameters"]["token"] = json!(token);
        }
        event
    };
    let batches = samples::load_worker_batches();
    let batch = |function: &str| -> Value {
        batches
            .iter()
            .find(|(f, ..)| f == function)
            .map(|(_, _, event)| event.clone())
            .unwrap_or_else(|| panic!("a sample batch for {function}"))
    };
    vec![
        (
            "hello-lambda",
            "{\"hello\":\"world\"}",
            json!({"hello": "world"}),
        ),
        (
            "users-api",
            "GET /me",
            rest_event("users-api", "get-me.json"),
        ),
        (
            "partners-api",
            "GET /partner-requests/received",
            rest_event("partners-api", "list-received.json"),
        ),
        (
            "channels-api",
            "GET /channels",
            rest_event("channels-api", "list-channels.json"),
        ),
        ("channels-api", SEND, send_event(rest_event, channel)),
        (
            "ws-connect",
            "$connect",
            ws_event("ws-connect", "connect.json"),
        ),
        (
            "ws-disconnect",
            "$disconnect",
            ws_event("ws-disconnect", "disconnect.json"),
        ),
        ("ws-default", "ping", ws_event("ws-default", "ping.json")),
        ("email-worker", "batch of 2", batch("email-worker")),
        ("assistant-worker", "batch of 2", batch("assistant-worker")),
        (
            "maintenance-worker",
            "batch of 2",
            batch("maintenance-worker"),
        ),
    ]
}

/// An `@connections` API that accepts every post (200), as API Gateway does for a live
/// connection; its `host:port`. Pushes then cost what they cost on AWS: one round trip.
async fn accepting_connections_api() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address").to_string();
    let router = axum::Router::new().fallback(|| async { axum::http::StatusCode::OK });
    tokio::spawn(async move { axum::serve(listener, router).await });
    address
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).saturating_sub(1)]
}

fn ms(duration: Duration) -> String {
    format!("{:.1}", duration.as_secs_f64() * 1000.0)
}

/// The process's peak resident set, in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmHWM:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kib| kib.parse().ok())
        })
        .unwrap_or(0)
}

struct Measured {
    function: &'static str,
    event: &'static str,
    cold_p50: Duration,
    cold_max: Duration,
    init_p50: Duration,
    warm_p50: Duration,
    warm_p99: Duration,
    peak_rss_kib: u64,
    size_bytes: u64,
    /// The init's phases as the function logged them (medians), then what is left of the
    /// init: the process's start and the runtime's first poll.
    breakdown: Vec<(String, Duration)>,
}

/// `name=microseconds name=microseconds …` → the phases.
fn phases(logged: &str) -> Vec<(String, Duration)> {
    logged
        .split_whitespace()
        .filter_map(|phase| {
            let (name, micros) = phase.split_once('=')?;
            Some((
                name.to_string(),
                Duration::from_micros(micros.parse().ok()?),
            ))
        })
        .collect()
}

/// Each phase's median over the runs, and the rest of each run's init (its median).
fn breakdown(runs: &[(Duration, Vec<(String, Duration)>)]) -> Vec<(String, Duration)> {
    let Some((_, first)) = runs.first() else {
        return Vec::new();
    };
    let median = |mut samples: Vec<Duration>| {
        samples.sort();
        percentile(&samples, 0.5)
    };
    let mut rows: Vec<(String, Duration)> = first
        .iter()
        .map(|(name, _)| {
            let samples = runs
                .iter()
                .filter_map(|(_, phases)| phases.iter().find(|(n, _)| n == name).map(|p| p.1))
                .collect();
            (name.clone(), median(samples))
        })
        .collect();
    let rest = runs
        .iter()
        .map(|(init, phases)| init.saturating_sub(phases.iter().map(|p| p.1).sum()))
        .collect();
    rows.push(("process and runtime".into(), median(rest)));
    rows
}

/// One of our release binaries.
fn ours(function: &str) -> (Launch, u64) {
    let binary = release_dir().join(function);
    assert!(
        binary.exists(),
        "{} is not built: `make bench` builds the release binaries first",
        binary.display()
    );
    let size = std::fs::metadata(&binary).map(|m| m.len()).unwrap_or(0);
    (Launch::binary(&binary), size)
}

async fn measure(
    function: &'static str,
    label: &'static str,
    event: &Value,
    env: &[(String, String)],
) -> Measured {
    let (launch, size_bytes) = ours(function);
    measure_launch(function, label, &launch, size_bytes, event, env).await
}

async fn measure_launch(
    function: &'static str,
    label: &'static str,
    launch: &Launch,
    size_bytes: u64,
    event: &Value,
    env: &[(String, String)],
) -> Measured {
    let mut cold = Vec::new();
    let mut init = Vec::new();
    let mut warm = Vec::new();
    let mut peak = 0;
    let mut logged = Vec::new();
    for run in 0..COLD_RUNS {
        let started = Instant::now();
        let mut harness = RuntimeHarness::launch(launch, env).await;
        let outcome = harness.invoke(event.clone()).await;
        cold.push(started.elapsed());
        // An answer, and for a request a success: a refusal would time a different path.
        let answered = match &outcome {
            Outcome::Response(response) => response["statusCode"]
                .as_u64()
                .is_none_or(|status| status < 400),
            Outcome::Error(_) => false,
        };
        assert!(answered, "{function} {label}: {outcome:?}");
        let init_duration = harness.init_duration().unwrap_or_default();
        init.push(init_duration);
        // The log line is read from a pipe: give the reader a moment.
        for _ in 0..50 {
            if harness.init_phases().is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        if let Some(init_phases) = harness.init_phases() {
            logged.push((init_duration, phases(init_phases)));
        }
        if run == 0 {
            for _ in 0..WARM_RUNS {
                let started = Instant::now();
                harness.invoke(event.clone()).await;
                warm.push(started.elapsed());
            }
            peak = harness.pid().map(peak_rss_kib).unwrap_or(0);
        }
    }
    cold.sort();
    init.sort();
    warm.sort();
    Measured {
        function,
        event: label,
        cold_p50: percentile(&cold, 0.5),
        cold_max: cold.last().copied().unwrap_or_default(),
        init_p50: percentile(&init, 0.5),
        warm_p50: percentile(&warm, 0.5),
        warm_p99: percentile(&warm, 0.99),
        peak_rss_kib: peak,
        size_bytes,
        breakdown: breakdown(&logged),
    }
}

#[tokio::main]
async fn main() {
    let env = TestEnv::new().await;
    let user = env.api.register("Bench").await;
    // Quiet, but for the `initialized` line with the init's phases.
    let function_env: Vec<(String, String)> = env
        .function_env()
        .into_iter()
        .map(|(name, value)| match name.as_str() {
            "RUST_LOG" => (name, "warn,shared::telemetry=info".to_string()),
            _ => (name, value),
        })
        // 115 sends in a few seconds are no burst to refuse here.
        .chain([("SEND_BURST".to_string(), "1000000".to_string())])
        .collect();
    let connections = accepting_connections_api().await;
    let mut results = Vec::new();
    let channel = env.api.group(&user, &[], false).await;
    let events = events(&user.token, &connections, &channel);
    for (function, label, event) in &events {
        results.push(measure(function, label, event, &function_env).await);
    }
    let baseline = results
        .iter()
        .find(|m| m.function == "hello-lambda")
        .map(|m| m.cold_p50)
        .unwrap_or(Duration::from_millis(1));
    let baseline_init = results
        .iter()
        .find(|m| m.function == "hello-lambda")
        .map(|m| m.init_p50)
        .unwrap_or(Duration::from_millis(1));

    println!();
    println!(
        "### Cold start, warm invocations, memory and size per function\n\n\
         Release binaries ({arch}, this machine) under the project's Lambda Runtime API \
         emulator, 128 MB configured; DynamoDB Local and moto behind them, and a stand-in \
         `@connections` API that accepts every push. {COLD_RUNS} cold starts and {WARM_RUNS} \
         warm invocations per function.\n",
        arch = std::env::consts::ARCH
    );
    println!(
        "| function | event | cold start p50 (max) | × hello world | init p50 | init × hello world | warm p50 / p99 | peak RSS | binary |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for m in &results {
        println!(
            "| {} | {} | {} ms ({} ms) | {:.1} | {} ms | {:.1} | {} / {} ms | {:.1} MB | {:.2} MB |",
            m.function,
            m.event,
            ms(m.cold_p50),
            ms(m.cold_max),
            m.cold_p50.as_secs_f64() / baseline.as_secs_f64(),
            ms(m.init_p50),
            m.init_p50.as_secs_f64() / baseline_init.as_secs_f64(),
            ms(m.warm_p50),
            ms(m.warm_p99),
            m.peak_rss_kib as f64 / 1024.0,
            m.size_bytes as f64 / 1_000_000.0,
        );
    }
    println!(
        "\nWhere the init goes (medians of the phases each function logs in its `initialized` line; \
         \"process and runtime\" is the rest: the process's start, and the Lambda runtime's start \
         and first poll):\n"
    );
    println!("| function | init p50 | phases |");
    println!("|---|---|---|");
    for m in results.iter().filter(|m| !m.breakdown.is_empty()) {
        let phases: Vec<String> = m
            .breakdown
            .iter()
            .map(|(name, took)| format!("{name} {} ms", ms(*took)))
            .collect();
        println!(
            "| {} | {} ms | {} |",
            m.function,
            ms(m.init_p50),
            phases.join(", ")
        );
    }
    let worst = results.iter().map(|m| m.peak_rss_kib).max().unwrap_or(0);
    println!(
        "\nHighest peak RSS: {:.1} MB (target ≤ 32 MB; Lambda's 128 MB setting leaves {:.0} MB).",
        worst as f64 / 1024.0,
        128.0 - worst as f64 / 1024.0
    );

    peers(&results, &events, &function_env).await;
}

/// The runtime interface client and package of each peer baseline (`infra/baselines/`), as
/// `infra/scripts/install-peers.sh` installs them under `.local/peers/`.
fn peer_launches() -> Vec<(&'static str, Launch, u64)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let peers = root.join(".local/peers");
    let python = peers.join("python/bin/python");
    let node_dir = peers.join("node");
    let node_client = node_dir.join("node_modules/aws-lambda-ric/bin/index.mjs");
    let mut launches = Vec::new();
    if python.exists() {
        let code = root.join("infra/baselines/python-fastapi");
        let size = dir_size(&peers.join("python/lib")) + dir_size(&code);
        launches.push((
            "Python: FastAPI + Mangum + boto3 on awslambdaric",
            Launch {
                program: python,
                args: vec!["-m".into(), "awslambdaric".into(), "app.handler".into()],
                dir: Some(code),
                name: "python-baseline".into(),
            },
            size,
        ));
    }
    if node_client.exists() {
        launches.push((
            "Node: AWS SDK v3 on aws-lambda-ric",
            Launch {
                program: "node".into(),
                args: vec![node_client.to_string_lossy().into(), "index.handler".into()],
                dir: Some(node_dir.clone()),
                name: "node-baseline".into(),
            },
            dir_size(&node_dir),
        ));
    }
    launches
}

/// The bytes of every file under `dir`.
fn dir_size(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(kind) if kind.is_dir() => dir_size(&entry.path()),
            Ok(kind) if kind.is_file() => entry.metadata().map(|m| m.len()).unwrap_or(0),
            _ => 0,
        })
        .sum()
}

/// The same three operations on the stacks a team would otherwise pick, beside ours.
async fn peers(
    ours: &[Measured],
    events: &[(&'static str, &'static str, Value)],
    env: &[(String, String)],
) {
    let compared = [
        ("users-api", "GET /me"),
        ("channels-api", SEND),
        ("ws-connect", "$connect"),
    ];
    let launches = peer_launches();
    println!("\n#### Beside the peers\n");
    if launches.is_empty() {
        println!("The peer baselines are not installed (`infra/scripts/install-peers.sh`; `make bench` runs it).");
        return;
    }
    println!(
        "The same operations written as those stacks are normally written (`infra/baselines/`), \
         under the same Runtime API emulator and DynamoDB Local, {COLD_RUNS} cold starts and \
         {WARM_RUNS} warm invocations each; package is the code with its dependencies as \
         installed (ours: the binary). \"÷ ours\": the peer's figure over ours (above 1: ours \
         is faster or smaller).\n"
    );
    println!("| operation | stack | cold start p50 | init p50 | warm p50 / p99 | peak RSS | package | cold ÷ ours | init ÷ ours | warm p50 ÷ ours | RSS ÷ ours |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for (function, operation) in compared {
        let Some(our) = ours
            .iter()
            .find(|m| m.function == function && m.event == operation)
        else {
            continue;
        };
        let Some((_, _, event)) = events
            .iter()
            .find(|(f, l, _)| *f == function && *l == operation)
        else {
            continue;
        };
        let row = |stack: &str, m: &Measured| {
            println!(
                "| {operation} | {stack} | {} ms | {} ms | {} / {} ms | {:.1} MB | {:.1} MB | {:.1} | {:.1} | {:.1} | {:.1} |",
                ms(m.cold_p50),
                ms(m.init_p50),
                ms(m.warm_p50),
                ms(m.warm_p99),
                m.peak_rss_kib as f64 / 1024.0,
                m.size_bytes as f64 / 1_000_000.0,
                m.cold_p50.as_secs_f64() / our.cold_p50.as_secs_f64(),
                m.init_p50.as_secs_f64() / our.init_p50.as_secs_f64(),
                m.warm_p50.as_secs_f64() / our.warm_p50.as_secs_f64(),
                m.peak_rss_kib as f64 / our.peak_rss_kib.max(1) as f64,
            );
        };
        row("Rust (ours)", our);
        for (stack, launch, size) in &launches {
            let measured = measure_launch(stack, operation, launch, *size, event, env).await;
            row(stack, &measured);
        }
    }
}
