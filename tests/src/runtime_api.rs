//! A minimal Lambda Runtime API (the interface Lambda offers a `provided.al2023` bootstrap):
//! starts a function's real binary with `AWS_LAMBDA_RUNTIME_API` pointing here, hands it
//! events through `/invocation/next`, and collects what it posts back.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot, Mutex};

/// What the function did with one event.
#[derive(Debug)]
pub enum Outcome {
    Response(Value),
    Error(Value),
}

struct Pending {
    id: String,
    event: Value,
}

#[derive(Clone)]
struct Shared {
    next: Arc<Mutex<mpsc::Receiver<Pending>>>,
    waiting: Arc<Mutex<HashMap<String, oneshot::Sender<Outcome>>>>,
    init_error: Arc<Mutex<Option<Value>>>,
    /// When the function first asked for an event: the end of its init phase.
    first_poll: Arc<std::sync::OnceLock<Instant>>,
    /// The function's own account of its init (`phases` of its `initialized` log line).
    init_phases: Arc<std::sync::OnceLock<String>>,
}

pub struct RuntimeHarness {
    child: Child,
    events: mpsc::Sender<Pending>,
    shared: Shared,
    /// When the process was spawned.
    pub started: Instant,
}

/// `target/<profile>/<name>`, next to the test binary's own `deps/` folder.
pub fn binary_path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is not built: run `cargo build --workspace --bins` first (make test does)",
        path.display()
    );
    path
}

async fn next(State(shared): State<Shared>) -> (HeaderMap, String) {
    shared.first_poll.get_or_init(Instant::now);
    let pending = shared.next.lock().await.recv().await;
    let mut headers = HeaderMap::new();
    let Some(pending) = pending else {
        // The harness is gone; the function will be killed.
        return (headers, "{}".into());
    };
    let deadline = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() + 30_000)
        .unwrap_or_default();
    let insert = |headers: &mut HeaderMap, name: &'static str, value: String| {
        if let Ok(value) = value.parse() {
            headers.insert(name, value);
        }
    };
    // As Lambda's: the runtime clients of interpreted languages parse the event by it.
    insert(&mut headers, "content-type", "application/json".into());
    insert(
        &mut headers,
        "lambda-runtime-aws-request-id",
        pending.id.clone(),
    );
    insert(
        &mut headers,
        "lambda-runtime-deadline-ms",
        deadline.to_string(),
    );
    insert(
        &mut headers,
        "lambda-runtime-invoked-function-arn",
        "arn:aws:lambda:us-east-1:000000000000:function:local".into(),
    );
    insert(
        &mut headers,
        "lambda-runtime-trace-id",
        "Root=1-00000000-000000000000000000000000".into(),
    );
    (headers, pending.event.to_string())
}

/// `POST /invocation/{id}/response` or `/invocation/{id}/error`.
async fn outcome(
    State(shared): State<Shared>,
    UrlPath((id, kind)): UrlPath<(String, String)>,
    body: String,
) -> StatusCode {
    let outcome = match kind.as_str() {
        "response" => Outcome::Response(parse(&body)),
        "error" => Outcome::Error(parse(&body)),
        _ => return StatusCode::NOT_FOUND,
    };
    deliver(&shared, &id, outcome).await
}

async fn init_error(State(shared): State<Shared>, body: String) -> StatusCode {
    *shared.init_error.lock().await = Some(parse(&body));
    StatusCode::ACCEPTED
}

/// Passes the function's log lines (its standard output) on to our standard error, keeping the
/// phases of its `initialized` line.
async fn read_logs(logs: tokio::process::ChildStdout, phases: Arc<std::sync::OnceLock<String>>) {
    use tokio::io::AsyncBufReadExt;
    let mut lines = tokio::io::BufReader::new(logs).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let logged: Value = serde_json::from_str(&line).unwrap_or_default();
        match logged["phases"].as_str() {
            Some(init) if logged["message"] == "initialized" => {
                let _ = phases.set(init.to_string());
            }
            _ => eprintln!("{line}"),
        }
    }
}

fn parse(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_string()))
}

async fn deliver(shared: &Shared, id: &str, outcome: Outcome) -> StatusCode {
    match shared.waiting.lock().await.remove(id) {
        Some(waiter) => {
            let _ = waiter.send(outcome);
            StatusCode::ACCEPTED
        }
        None => StatusCode::NOT_FOUND,
    }
}

/// What to start as the function: a program, its arguments, the folder it starts in.
#[derive(Clone, Debug)]
pub struct Launch {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub dir: Option<PathBuf>,
    /// The function's name in its environment (`AWS_LAMBDA_FUNCTION_NAME`).
    pub name: String,
}

impl Launch {
    /// A `provided.al2023` bootstrap: the binary alone.
    pub fn binary(binary: &Path) -> Self {
        Self {
            program: binary.to_path_buf(),
            args: Vec::new(),
            dir: None,
            name: binary
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .to_string(),
        }
    }
}

impl RuntimeHarness {
    /// Starts `binary` as Lambda would, with `env` added to a Lambda-like environment.
    pub async fn start(binary: &Path, env: &[(String, String)]) -> Self {
        Self::launch(&Launch::binary(binary), env).await
    }

    /// Starts `launch` as Lambda would (a runtime interface client for an interpreted
    /// language, or a binary), with `env` added to a Lambda-like environment.
    pub async fn launch(launch: &Launch, env: &[(String, String)]) -> Self {
        let (events, receiver) = mpsc::channel(16);
        let shared = Shared {
            next: Arc::new(Mutex::new(receiver)),
            waiting: Arc::default(),
            init_error: Arc::default(),
            first_poll: Arc::default(),
            init_phases: Arc::default(),
        };
        let router = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route("/2018-06-01/runtime/invocation/{id}/{kind}", post(outcome))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind runtime API");
        let address = listener.local_addr().expect("runtime API address");
        tokio::spawn(async move { axum::serve(listener, router).await });

        let name = &launch.name;
        let region = env
            .iter()
            .find(|(k, _)| k == "AWS_REGION")
            .map_or("us-east-1".to_string(), |(_, v)| v.clone());
        let started = Instant::now();
        let mut command = Command::new(&launch.program);
        command
            .args(&launch.args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "local")
            // Lambda sets both (boto3 reads the second).
            .env("AWS_REGION", &region)
            .env("AWS_DEFAULT_REGION", &region)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        if let Some(dir) = &launch.dir {
            // Where Lambda unpacks the code, and where the runtime clients look for handlers.
            command.current_dir(dir).env("LAMBDA_TASK_ROOT", dir);
        }
        let mut child = command
            .spawn()
            .unwrap_or_else(|err| panic!("spawn {}: {err}", launch.program.display()));
        if let Some(logs) = child.stdout.take() {
            tokio::spawn(read_logs(logs, shared.init_phases.clone()));
        }
        Self {
            child,
            events,
            shared,
            started,
        }
    }

    /// Sends one event and waits (at most 30 s) for the function's answer.
    pub async fn invoke(&mut self, event: Value) -> Outcome {
        let id = uuid::Uuid::new_v4().to_string();
        let (sender, receiver) = oneshot::channel();
        self.shared.waiting.lock().await.insert(id.clone(), sender);
        self.events
            .send(Pending { id, event })
            .await
            .expect("runtime API alive");
        match tokio::time::timeout(Duration::from_secs(30), receiver).await {
            Ok(Ok(outcome)) => outcome,
            _ => {
                let init = self.shared.init_error.lock().await.clone();
                let status = self.child.try_wait().ok().flatten();
                panic!("no answer within 30 s (init error: {init:?}, exit: {status:?})")
            }
        }
    }

    /// How long the process took from spawn to its first request for an event (Lambda's
    /// "Init Duration"), once it has asked.
    pub fn init_duration(&self) -> Option<Duration> {
        self.shared
            .first_poll
            .get()
            .map(|polled| polled.duration_since(self.started))
    }

    /// The phases the function logged for its init (`name=microseconds`, space-separated),
    /// once it has logged them.
    pub fn init_phases(&self) -> Option<&str> {
        self.shared.init_phases.get().map(String::as_str)
    }

    /// The process id, for memory readings.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }
}
