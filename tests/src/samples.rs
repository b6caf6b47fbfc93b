//! The sample events of `events/`, in the order they can be replayed against an empty table.

use std::path::PathBuf;

use api::routes::Route;
use serde_json::Value;
use shared::routes::{QUEUE_BINDINGS, WS_ROUTES};

pub struct Sample {
    pub function: String,
    pub name: String,
    pub event: Value,
    pub route: &'static Route,
}

impl Sample {
    /// The status the function answers with on a fresh table: registration and login of the
    /// sample account succeed; routes needing a token get 401 (the files carry a placeholder).
    pub fn expected_status(&self) -> u16 {
        match self.name.as_str() {
            "register.json" => 201,
            "login.json" => 200,
            _ if self.route.auth => 401,
            _ => 200,
        }
    }
}

/// Every file of `events/<function>/`, register.json first in each folder.
pub fn load() -> Vec<Sample> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../events");
    let mut found = Vec::new();
    for dir in std::fs::read_dir(&root).expect("events/ exists") {
        let dir = dir.expect("events/ entry").path();
        if !dir.is_dir() {
            continue;
        }
        let function = dir
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        if is_websocket_function(&function) || is_worker(&function) {
            continue;
        }
        for (name, event) in events_in(&dir) {
            let route_key = event["routeKey"].as_str().unwrap_or_default().to_string();
            let route = api::routes::table()
                .iter()
                .find(|r| r.key() == route_key)
                .unwrap_or_else(|| panic!("{function}/{name}: {route_key} is not a route"));
            found.push(Sample {
                function: function.clone(),
                name,
                event,
                route,
            });
        }
    }
    found.sort_by_key(|s| {
        (
            s.function.clone(),
            s.name != "register.json",
            s.name.clone(),
        )
    });
    found
}

fn is_worker(function: &str) -> bool {
    QUEUE_BINDINGS.iter().any(|b| b.function == function)
        || function == shared::routes::STREAM_BINDING.function
}

/// The SQS batches of `events/<worker>/`: (worker, file name, event).
pub fn load_worker_batches() -> Vec<(String, String, Value)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../events");
    let mut found = Vec::new();
    for binding in QUEUE_BINDINGS {
        for (name, event) in events_in(&root.join(binding.function)) {
            found.push((binding.function.to_string(), name, event));
        }
    }
    found.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    found
}

/// The DynamoDB stream batches of `events/event-router/`.
pub fn load_stream_batches() -> Vec<Value> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../events");
    events_in(&root.join(shared::routes::STREAM_BINDING.function))
        .into_iter()
        .map(|(_, event)| event)
        .collect()
}

fn is_websocket_function(function: &str) -> bool {
    WS_ROUTES.iter().any(|(_, f)| *f == function)
}

/// A WebSocket API event of `events/ws-*/`.
pub struct WebSocketSample {
    pub function: String,
    pub name: String,
    pub event: Value,
}

/// Every file of the WebSocket functions' folders, each checked to carry the route key of
/// its function.
pub fn load_websocket() -> Vec<WebSocketSample> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../events");
    let mut found = Vec::new();
    for (route_key, function) in WS_ROUTES {
        for (name, event) in events_in(&root.join(function)) {
            assert_eq!(
                event["requestContext"]["routeKey"], *route_key,
                "{function}/{name} carries its route key"
            );
            found.push(WebSocketSample {
                function: function.to_string(),
                name,
                event,
            });
        }
    }
    found.sort_by(|a, b| (&a.function, &a.name).cmp(&(&b.function, &b.name)));
    found
}

/// The JSON files of a folder, by file name.
fn events_in(dir: &std::path::Path) -> Vec<(String, Value)> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|_| panic!("{} exists", dir.display()))
        .map(|file| {
            let path = file.expect("event file").path();
            let name = path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .to_string();
            let event = serde_json::from_str(&std::fs::read_to_string(&path).expect("readable"))
                .unwrap_or_else(|err| panic!("{}: {err}", path.display()));
            (name, event)
        })
        .collect()
}
