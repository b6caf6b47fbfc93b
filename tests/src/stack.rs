//! The local stack of a test: the gateway's HTTP and WebSocket APIs on free loopback ports,
//! over the test's own table and queues, and WebSocket clients that talk to it.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use local_gateway::websocket::{serve_websocket, WebSocketOptions};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::turns::Turn;
use crate::{spawn_gateway, Api, TestEnv, TestUser};

/// How long a test waits for an event that should come.
pub const EVENT_TIMEOUT: Duration = Duration::from_secs(5);

pub struct Stack {
    pub env: TestEnv,
    /// `http://127.0.0.1:port`
    pub http: String,
    /// `ws://127.0.0.1:port`
    pub ws: String,
    /// The `@connections` endpoint, `http://127.0.0.1:port/stage`.
    pub management: String,
    /// The API over real HTTP, through the gateway.
    pub api: Api,
}

impl Stack {
    pub async fn start() -> Self {
        Self::start_with(WebSocketOptions::default()).await
    }

    pub async fn start_with(options: WebSocketOptions) -> Self {
        Self::start_with_settings(options, &[]).await
    }

    /// A stack whose functions get these configuration variables too.
    pub async fn start_with_settings(options: WebSocketOptions, settings: &[(&str, &str)]) -> Self {
        Self::start_inner(options, settings, None, Turn::shared().await).await
    }

    /// A stack for a test that loads the emulators like a crowd: it waits for the running
    /// tests to finish and runs with none beside it (see `turns`).
    pub async fn start_alone() -> Self {
        Self::start_inner(WebSocketOptions::default(), &[], None, Turn::alone().await).await
    }

    /// A stack whose every DynamoDB call (routes, frames, the router and the fan-out workers)
    /// `meter` sees.
    pub async fn start_metered(meter: &crate::metering::DynamoMeter) -> Self {
        Self::start_inner(
            WebSocketOptions::default(),
            &[],
            Some(meter),
            Turn::shared().await,
        )
        .await
    }

    async fn start_inner(
        options: WebSocketOptions,
        settings: &[(&str, &str)],
        meter: Option<&crate::metering::DynamoMeter>,
        turn: Turn,
    ) -> Self {
        let ws_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the WebSocket port");
        let ws_address = ws_listener.local_addr().expect("local address");
        let management = format!("http://{ws_address}/{}", options.stage);
        let mut env = TestEnv::in_turn(
            crate::Endpoints {
                websocket: Some(management.clone()),
                ..crate::Endpoints::default()
            },
            settings,
            turn,
        )
        .await;
        if let Some(meter) = meter {
            let sdk = shared::context::load_sdk_config().await;
            let config = (*env.ctx.config).clone();
            env.set_ctx(shared::AppContext::with_dynamodb(
                config,
                &sdk,
                meter.client(&sdk),
            ));
        }
        env.spawn_event_sources().await;
        let http = spawn_gateway(env.ctx.clone()).await;
        let ws_ctx = env.ctx.clone();
        tokio::spawn(async move { serve_websocket(ws_listener, ws_ctx, options).await });
        Self {
            env,
            api: Api::over_http(http.clone()),
            http,
            ws: format!("ws://{ws_address}"),
            management,
        }
    }

    /// Opens a socket for `user`; panics if refused.
    pub async fn socket(&self, user: &TestUser) -> Socket {
        Socket::connect(&self.ws, Some(&user.token))
            .await
            .unwrap_or_else(|status| panic!("connection refused with {status}"))
    }

    /// A `@connections` client as the functions build it.
    pub async fn management_client(&self) -> aws_sdk_apigatewaymanagement::Client {
        let sdk = shared::context::load_sdk_config().await;
        let config = aws_sdk_apigatewaymanagement::config::Builder::from(&sdk)
            .endpoint_url(&self.management)
            .build();
        aws_sdk_apigatewaymanagement::Client::from_conf(config)
    }
}

/// A WebSocket client.
pub struct Socket {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// One assistant reply as a client saw it stream.
pub struct StreamedReply {
    pub created: Value,
    pub deltas: Vec<Value>,
    pub ended: Value,
}

impl StreamedReply {
    /// The deltas' text, in order, after checking their `seq` runs 0, 1, 2… without a gap.
    pub fn streamed_text(&self) -> String {
        for (n, delta) in self.deltas.iter().enumerate() {
            assert_eq!(
                delta["seq"], n as u64,
                "deltas in order, no gap: {:?}",
                self.deltas
            );
        }
        self.deltas
            .iter()
            .map(|delta| delta["delta"].as_str().expect("a delta's text"))
            .collect()
    }

    pub fn body(&self) -> &str {
        self.ended["message"]["body"].as_str().expect("a body")
    }

    pub fn status(&self) -> &str {
        self.ended["message"]["status"].as_str().expect("a status")
    }
}

impl Socket {
    /// Connects with `?token=`; `Err(status)` when the handshake is refused.
    pub async fn connect(ws: &str, token: Option<&str>) -> Result<Self, u16> {
        let url = match token {
            Some(token) => format!("{ws}/?token={token}"),
            None => format!("{ws}/"),
        };
        match tokio_tungstenite::connect_async(url).await {
            Ok((stream, _)) => Ok(Self { stream }),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                Err(response.status().as_u16())
            }
            Err(err) => panic!("WebSocket connection failed: {err}"),
        }
    }

    /// Connects as the web client does: a handshake refused with a 5xx (the table busy for a
    /// moment) is retried after a jittered, growing pause until `within` has passed. `Err`
    /// carries the last refusal; the `Ok` also counts the refusals before the success.
    pub async fn connect_like_a_client(
        ws: &str,
        token: &str,
        within: Duration,
    ) -> Result<(Self, u32), u16> {
        let deadline = tokio::time::Instant::now() + within;
        let mut refusals = 0u32;
        loop {
            match Self::connect(ws, Some(token)).await {
                Ok(socket) => return Ok((socket, refusals)),
                Err(status) if status >= 500 && tokio::time::Instant::now() < deadline => {
                    refusals += 1;
                    let jitter = u64::from(uuid::Uuid::new_v4().as_bytes()[0]);
                    let pause = (250u64 << refusals.min(3)) + jitter;
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                }
                Err(status) => return Err(status),
            }
        }
    }

    pub async fn send(&mut self, frame: Value) {
        self.send_text(&frame.to_string()).await
    }

    pub async fn send_text(&mut self, text: &str) {
        self.stream
            .send(Message::Text(text.into()))
            .await
            .expect("send a frame");
    }

    /// The next JSON frame, or `None` if none comes within `wait` (or the socket closed).
    pub async fn next_within(&mut self, wait: Duration) -> Option<Value> {
        loop {
            match tokio::time::timeout(wait, self.stream.next()).await {
                Ok(Some(Ok(Message::Text(text)))) => {
                    return Some(serde_json::from_str(&text).expect("frames are JSON"))
                }
                Ok(Some(Ok(Message::Close(_)))) | Ok(None) | Ok(Some(Err(_))) | Err(_) => {
                    return None
                }
                Ok(Some(Ok(_))) => continue,
            }
        }
    }

    /// Waits for the first frame of `kind` for which `matches` holds; frames before it are
    /// skipped. Panics after `EVENT_TIMEOUT`, listing what arrived.
    pub async fn expect(&mut self, kind: &str, matches: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + EVENT_TIMEOUT;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_within(left).await {
                Some(frame) if frame["type"] == kind && matches(&frame) => return frame,
                Some(frame) => seen.push(frame),
                None => panic!("no `{kind}` frame within {EVENT_TIMEOUT:?}; got {seen:#?}"),
            }
        }
    }

    /// Asserts that no frame of `kind` matching `matches` arrives within `wait`.
    pub async fn expect_none(
        &mut self,
        kind: &str,
        wait: Duration,
        matches: impl Fn(&Value) -> bool,
    ) {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return;
            }
            match self.next_within(left).await {
                Some(frame) if frame["type"] == kind && matches(&frame) => {
                    panic!("unexpected `{kind}` frame: {frame}")
                }
                Some(_) => continue,
                None => return,
            }
        }
    }

    /// The next assistant reply as it streams: its `message.created`, the `message.delta`
    /// frames of it, and the `message.updated` that ends it (any status but `streaming`).
    pub async fn expect_streamed_reply(&mut self) -> StreamedReply {
        let created = self
            .expect("message.created", |f| f["message"]["role"] == "assistant")
            .await;
        let id = created["message"]["id"].clone();
        let (mut deltas, deadline) = (Vec::new(), tokio::time::Instant::now() + EVENT_TIMEOUT);
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let Some(frame) = self.next_within(left).await else {
                panic!("reply {id} did not end within {EVENT_TIMEOUT:?}; deltas: {deltas:?}");
            };
            match frame["type"].as_str() {
                Some("message.delta") if frame["message_id"] == id => deltas.push(frame),
                Some("message.updated")
                    if frame["message"]["id"] == id
                        && frame["message"]["status"] != "streaming" =>
                {
                    return StreamedReply {
                        created,
                        deltas,
                        ended: frame,
                    }
                }
                _ => {}
            }
        }
    }

    /// Every frame that arrives until `quiet` passes without one.
    pub async fn drain(&mut self, quiet: Duration) -> Vec<Value> {
        let mut frames = Vec::new();
        while let Some(frame) = self.next_within(quiet).await {
            frames.push(frame);
        }
        frames
    }

    /// Sends a close frame and waits for the server's.
    pub async fn close(mut self) {
        let _ = self.stream.close(None).await;
        while let Some(Ok(_)) = self.stream.next().await {}
    }

    /// Drops the TCP connection without a close frame, like a killed process.
    pub fn kill(self) {
        drop(self.stream);
    }

    /// Whether the server closed the socket (within `wait`).
    pub async fn closed_within(&mut self, wait: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(left, self.stream.next()).await {
                Err(_) => return false,
                Ok(Some(Ok(Message::Close(_)))) | Ok(None) | Ok(Some(Err(_))) => return true,
                Ok(Some(Ok(_))) => continue,
            }
        }
    }
}
