//! The WebSocket API on loopback, the way API Gateway runs it: each upgrade, frame and close
//! becomes the real WebSocket event for the function of its route (`$connect`, `$disconnect`,
//! `$default`, selected as template.yaml says), a `$connect` answered non-2xx refuses the
//! handshake, and `/{stage}/@connections/{id}` serves the management API the functions push
//! through (`POST` sends, `GET` describes, `DELETE` closes, unknown ids are 410 Gone).
//!
//! Limits as on AWS: 32 KB frames, 128 KB messages, 10 min idle timeout, 2 h per connection.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use futures::{SinkExt, StreamExt};
use serde_json::json;
use shared::routes::{select_ws_route, WS_CONNECT, WS_DEFAULT, WS_DISCONNECT, WS_ROUTES};
use shared::websocket::WebSocketEvent;
use shared::AppContext;
use tokio::sync::mpsc;

use crate::event::{websocket_event, WebSocketCall, WebSocketConnection};

pub const MAX_FRAME_BYTES: usize = 32 * 1024;
pub const MAX_MESSAGE_BYTES: usize = 128 * 1024;
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10 * 60);
pub const MAX_CONNECTION_LIFETIME: Duration = Duration::from_secs(2 * 3600);

/// How the gateway behaves where API Gateway leaves room.
#[derive(Clone, Debug)]
pub struct WebSocketOptions {
    /// The stage in management paths and in events (`/{stage}/@connections/{id}`).
    pub stage: String,
    /// API Gateway delivers `$disconnect` best effort. With this set, a socket that dies
    /// without a close frame gets none, which is how tests exercise the 410 clean-up.
    pub lose_abrupt_disconnects: bool,
    /// Fault injection: while above zero, each `POST @connections` answers 500 (as the
    /// management API does when it fails) and counts it down. Tests share the counter.
    pub failing_pushes: Arc<std::sync::atomic::AtomicU32>,
}

impl Default for WebSocketOptions {
    fn default() -> Self {
        Self {
            stage: "local".into(),
            lose_abrupt_disconnects: false,
            failing_pushes: Arc::default(),
        }
    }
}

enum Outgoing {
    Frame(String),
    Close,
}

struct LiveConnection {
    outbox: mpsc::UnboundedSender<Outgoing>,
    /// `$connect` succeeded. Until then the management API answers 410, as API Gateway does.
    established: bool,
    connected_at: DateTime<Utc>,
    last_active_at: DateTime<Utc>,
    source_ip: String,
    user_agent: String,
}

struct Gateway {
    ctx: AppContext,
    options: WebSocketOptions,
    connections: Mutex<HashMap<String, LiveConnection>>,
}

impl Gateway {
    fn connections(&self) -> std::sync::MutexGuard<'_, HashMap<String, LiveConnection>> {
        self.connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// The WebSocket API and its management API as one router.
pub fn websocket_router(ctx: AppContext, options: WebSocketOptions) -> Router {
    let gateway = Arc::new(Gateway {
        ctx,
        options,
        connections: Mutex::default(),
    });
    Router::new()
        .route(
            "/{stage}/@connections/{id}",
            get(describe).post(post_to).delete(close),
        )
        .fallback(upgrade)
        .with_state(gateway)
}

/// Serves the WebSocket API on `listener` until the future is dropped.
pub async fn serve_websocket(
    listener: tokio::net::TcpListener,
    ctx: AppContext,
    options: WebSocketOptions,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        websocket_router(ctx, options).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
}

/// Connection ids look like API Gateway's (`L0SM9cOFvHcCIhw=`), URL-safe.
fn new_connection_id() -> String {
    let bytes = uuid::Uuid::new_v4().into_bytes();
    base64::engine::general_purpose::URL_SAFE.encode(&bytes[..11])
}

async fn call_route(gateway: &Gateway, route_key: &str, event: serde_json::Value) -> u16 {
    let function = WS_ROUTES
        .iter()
        .find(|(key, _)| *key == route_key)
        .map(|(_, function)| *function);
    let event: WebSocketEvent = match serde_json::from_value(event) {
        Ok(event) => event,
        Err(err) => {
            tracing::error!(error = %err, "the gateway built a WebSocket event Lambda cannot read");
            return 500;
        }
    };
    let ctx = &gateway.ctx;
    let response = match function {
        Some(WS_CONNECT) => ws_connect::handle(ctx, event).await,
        Some(WS_DISCONNECT) => ws_disconnect::handle(ctx, event).await,
        Some(WS_DEFAULT) => ws_default::handle(ctx, event).await,
        _ => {
            tracing::error!(route_key, "no function serves this WebSocket route");
            return 500;
        }
    };
    let Ok(response) = response;
    u16::try_from(response.status_code).unwrap_or(500)
}

async fn upgrade(
    State(gateway): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    uri: Uri,
    request_headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let Ok(upgrade) = upgrade else {
        return (
            StatusCode::UPGRADE_REQUIRED,
            Json(json!({"message": "this is the WebSocket API; connect with ?token=<JWT>"})),
        )
            .into_response();
    };
    let headers: Vec<(String, String)> = request_headers
        .iter()
        .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.to_string())))
        .collect();
    let header = |name: &str| {
        request_headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let domain_name = header("host");
    let user_agent = header("user-agent");
    let raw_query = uri.query().unwrap_or_default().to_string();
    let connection_id = new_connection_id();
    let connected_at = Utc::now();
    let source_ip = peer.ip().to_string();

    // Known (for `GET` it is still 410) while `$connect` runs.
    let (outbox, inbox) = mpsc::unbounded_channel();
    gateway.connections().insert(
        connection_id.clone(),
        LiveConnection {
            outbox,
            established: false,
            connected_at,
            last_active_at: connected_at,
            source_ip: source_ip.clone(),
            user_agent: user_agent.clone(),
        },
    );
    let connection = OwnedConnection {
        connection_id,
        domain_name,
        connected_at_millis: connected_at.timestamp_millis(),
        source_ip,
        user_agent,
    };
    let request_id = uuid::Uuid::new_v4().to_string();
    let event = websocket_event(
        &WebSocketCall::Connect {
            headers: &headers,
            raw_query: &raw_query,
        },
        &connection.borrowed(&gateway.options.stage),
        "$connect",
        &request_id,
    );
    let status = call_route(&gateway, "$connect", event).await;
    if !(200..300).contains(&status) {
        gateway.connections().remove(&connection.connection_id);
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::FORBIDDEN);
        return (status, Json(json!({"message": "Forbidden"}))).into_response();
    }
    if let Some(live) = gateway.connections().get_mut(&connection.connection_id) {
        live.established = true;
    }
    upgrade
        .max_frame_size(MAX_FRAME_BYTES)
        .max_message_size(MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| run_connection(gateway, connection, socket, inbox))
}

/// What the gateway keeps of a connection for its events.
struct OwnedConnection {
    connection_id: String,
    domain_name: String,
    connected_at_millis: i64,
    source_ip: String,
    user_agent: String,
}

impl OwnedConnection {
    fn borrowed<'a>(&'a self, stage: &'a str) -> WebSocketConnection<'a> {
        WebSocketConnection {
            connection_id: &self.connection_id,
            domain_name: &self.domain_name,
            stage,
            connected_at_millis: self.connected_at_millis,
            source_ip: &self.source_ip,
            user_agent: &self.user_agent,
        }
    }
}

/// How a connection ended, for `$disconnect`.
struct Ending {
    status_code: u16,
    reason: &'static str,
    /// The client vanished without a close frame.
    abrupt: bool,
}

async fn run_connection(
    gateway: Arc<Gateway>,
    connection: OwnedConnection,
    socket: WebSocket,
    mut inbox: mpsc::UnboundedReceiver<Outgoing>,
) {
    let connection = Arc::new(connection);
    let (mut sink, mut stream) = socket.split();
    let lifetime = tokio::time::sleep(MAX_CONNECTION_LIFETIME);
    tokio::pin!(lifetime);
    let ending = loop {
        tokio::select! {
            outgoing = inbox.recv() => match outgoing {
                Some(Outgoing::Frame(text)) => {
                    if sink.send(Message::Text(text.into())).await.is_err() {
                        break Ending { status_code: 1006, reason: "socket lost", abrupt: true };
                    }
                }
                Some(Outgoing::Close) | None => {
                    let _ = sink.send(Message::Close(Some(CloseFrame {
                        code: 1000,
                        reason: "closed by the server".into(),
                    }))).await;
                    break Ending { status_code: 1000, reason: "closed by @connections DELETE", abrupt: false };
                }
            },
            incoming = tokio::time::timeout(IDLE_TIMEOUT, stream.next()) => match incoming {
                Err(_) => {
                    let _ = sink.send(Message::Close(Some(CloseFrame {
                        code: 1001,
                        reason: "Going away".into(),
                    }))).await;
                    break Ending { status_code: 1001, reason: "idle timeout", abrupt: false };
                }
                Ok(Some(Ok(Message::Text(text)))) => {
                    on_frame(&gateway, &connection, text.to_string(), false);
                }
                Ok(Some(Ok(Message::Binary(bytes)))) => {
                    let body = base64::engine::general_purpose::STANDARD.encode(&bytes);
                    on_frame(&gateway, &connection, body, true);
                }
                Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => {}
                Ok(Some(Ok(Message::Close(frame)))) => {
                    let code = frame.map(|f| f.code).unwrap_or(1005);
                    break Ending { status_code: code, reason: "client closed", abrupt: false };
                }
                Ok(Some(Err(_))) | Ok(None) => {
                    break Ending { status_code: 1006, reason: "socket lost", abrupt: true };
                }
            },
            _ = &mut lifetime => {
                let _ = sink.send(Message::Close(Some(CloseFrame {
                    code: 1001,
                    reason: "Going away".into(),
                }))).await;
                break Ending { status_code: 1001, reason: "connection lifetime reached", abrupt: false };
            }
        }
    };
    // Completes the closing handshake (a client's close frame is answered on flush).
    let _ = sink.close().await;
    gateway.connections().remove(&connection.connection_id);
    if ending.abrupt && gateway.options.lose_abrupt_disconnects {
        tracing::info!(connection = %connection.connection_id, "socket lost; $disconnect not delivered (lose_abrupt_disconnects)");
        return;
    }
    let event = websocket_event(
        &WebSocketCall::Disconnect {
            status_code: ending.status_code,
            reason: ending.reason,
        },
        &connection.borrowed(&gateway.options.stage),
        "$disconnect",
        &uuid::Uuid::new_v4().to_string(),
    );
    call_route(&gateway, "$disconnect", event).await;
}

/// Frames invoke their function concurrently, as on AWS (no ordering between invocations).
fn on_frame(gateway: &Arc<Gateway>, connection: &Arc<OwnedConnection>, body: String, binary: bool) {
    if let Some(live) = gateway.connections().get_mut(&connection.connection_id) {
        live.last_active_at = Utc::now();
    }
    let (gateway, connection) = (gateway.clone(), connection.clone());
    tokio::spawn(async move {
        let route_key = if binary {
            "$default"
        } else {
            select_ws_route(&body)
        };
        let event = websocket_event(
            &WebSocketCall::Message {
                body: &body,
                is_base64: binary,
            },
            &connection.borrowed(&gateway.options.stage),
            route_key,
            &uuid::Uuid::new_v4().to_string(),
        );
        call_route(&gateway, route_key, event).await;
    });
}

fn gone() -> Response {
    (
        StatusCode::GONE,
        [("x-amzn-errortype", "GoneException")],
        Json(json!({"message": null})),
    )
        .into_response()
}

fn wrong_stage() -> Response {
    (
        StatusCode::FORBIDDEN,
        [("x-amzn-errortype", "ForbiddenException")],
        Json(json!({"message": "Forbidden"})),
    )
        .into_response()
}

/// `POST /{stage}/@connections/{id}`: the body goes to the client as one frame.
async fn post_to(
    State(gateway): State<Arc<Gateway>>,
    Path((stage, id)): Path<(String, String)>,
    _headers: HeaderMap,
    body: Bytes,
) -> Response {
    if stage != gateway.options.stage {
        return wrong_stage();
    }
    let failing = &gateway.options.failing_pushes;
    let failed = failing
        .fetch_update(
            std::sync::atomic::Ordering::SeqCst,
            std::sync::atomic::Ordering::SeqCst,
            |left| left.checked_sub(1),
        )
        .is_ok();
    if failed {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    let text = String::from_utf8_lossy(&body).into_owned();
    let sent = gateway
        .connections()
        .get(&id)
        .filter(|live| live.established)
        .map(|live| live.outbox.send(Outgoing::Frame(text)).is_ok());
    match sent {
        Some(true) => StatusCode::OK.into_response(),
        _ => gone(),
    }
}

/// `GET /{stage}/@connections/{id}`: `connectedAt`, `identity`, `lastActiveAt`.
async fn describe(
    State(gateway): State<Arc<Gateway>>,
    Path((stage, id)): Path<(String, String)>,
) -> Response {
    if stage != gateway.options.stage {
        return wrong_stage();
    }
    let connections = gateway.connections();
    let Some(live) = connections.get(&id).filter(|live| live.established) else {
        return gone();
    };
    let iso = |t: &DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    Json(json!({
        "connectedAt": iso(&live.connected_at),
        "identity": {"sourceIp": live.source_ip, "userAgent": live.user_agent},
        "lastActiveAt": iso(&live.last_active_at),
    }))
    .into_response()
}

/// `DELETE /{stage}/@connections/{id}`: closes the socket (then `$disconnect` runs).
async fn close(
    State(gateway): State<Arc<Gateway>>,
    Path((stage, id)): Path<(String, String)>,
) -> Response {
    if stage != gateway.options.stage {
        return wrong_stage();
    }
    let closed = gateway
        .connections()
        .get(&id)
        .filter(|live| live.established)
        .map(|live| live.outbox.send(Outgoing::Close).is_ok());
    match closed {
        Some(true) => StatusCode::NO_CONTENT.into_response(),
        _ => gone(),
    }
}
