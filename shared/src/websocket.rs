//! The WebSocket edge shared by the WebSocket functions: reading an API Gateway WebSocket
//! event, the frames clients send (`action`) and receive (`type`), and the function `main`.

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use serde::{Deserialize, Serialize};

use crate::domain::{ClientId, ConnectionId, Message};
use crate::error::AppError;
use crate::AppContext;

pub type WebSocketEvent = ApiGatewayWebsocketProxyRequest;

/// The whole `main` of a WebSocket function: JSON logs, clients built once, the runtime loop.
pub async fn run_websocket<F, Fut>(handle: F, tokens: Tokens) -> Result<(), lambda_http::Error>
where
    F: Fn(&'static AppContext, WebSocketEvent) -> Fut,
    Fut: std::future::Future<Output = Result<ApiGatewayProxyResponse, std::convert::Infallible>>
        + Send,
{
    let mut clock = crate::telemetry::InitClock::start();
    crate::telemetry::init();
    clock.phase("logs");
    let ctx = AppContext::from_env_timed(&mut clock).await?;
    if tokens == Tokens::Verified {
        ctx.config.require_jwt_secret()?;
    }
    clock.finish();
    // Lives as long as the process, like the Lambda execution environment it serves.
    let ctx: &'static AppContext = Box::leak(Box::new(ctx));
    lambda_http::lambda_runtime::run(lambda_http::service_fn(
        move |event: lambda_http::LambdaEvent<WebSocketEvent>| handle(ctx, event.payload),
    ))
    .await
}

/// Whether a WebSocket function verifies tokens (`$connect`), and so needs `JWT_SECRET`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tokens {
    Verified,
    Unused,
}

/// An event as a WebSocket handler sees it.
pub struct WsRequest {
    pub connection_id: ConnectionId,
    /// The management endpoint of the API the connection is on.
    pub endpoint: String,
    pub request_id: String,
    event: WebSocketEvent,
}

impl WsRequest {
    /// Fails (500) only on an event API Gateway would never send.
    pub fn new(event: WebSocketEvent) -> Result<Self, AppError> {
        let context = &event.request_context;
        let connection_id = context
            .connection_id
            .as_deref()
            .and_then(ConnectionId::parse)
            .ok_or_else(|| AppError::internal("event without a valid connectionId"))?;
        let (Some(domain), Some(stage)) = (&context.domain_name, &context.stage) else {
            return Err(AppError::internal("event without domainName or stage"));
        };
        let endpoint = endpoint_for(domain, stage);
        let request_id = context
            .request_id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        Ok(Self {
            connection_id,
            endpoint,
            request_id,
            event,
        })
    }

    pub fn query(&self, name: &str) -> Option<&str> {
        self.event.query_string_parameters.first(name)
    }

    pub fn body(&self) -> &str {
        self.event.body.as_deref().unwrap_or_default()
    }
}

/// The management endpoint of the WebSocket API a connection arrived on, from its event's
/// `domainName` and `stage`, as AWS documents it. API Gateway is always https; the local
/// gateway listens in plain http.
pub fn endpoint_for(domain_name: &str, stage: &str) -> String {
    // API Gateway's domains are names; an IP literal or localhost is a local gateway.
    let host = match domain_name.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => domain_name,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let scheme = if host == "localhost" || host.parse::<std::net::IpAddr>().is_ok() {
        "http"
    } else {
        "https"
    };
    format!("{scheme}://{domain_name}/{stage}")
}

/// A handler's answer to API Gateway. For `$connect`, a non-2xx refuses the handshake; for
/// frames it is ignored (no route responses are configured): replies go through
/// `@connections`.
pub fn response(status: u16, error: Option<&AppError>) -> ApiGatewayProxyResponse {
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = i64::from(status);
    if let Some(error) = error {
        response.headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        response.body = serde_json::to_string(&error.body())
            .ok()
            .map(aws_lambda_events::encodings::Body::Text);
    }
    response
}

/// Runs a `$connect` or `$disconnect` handler: reads the event, performs `action`, answers 200
/// or the failure's status (for `$connect`, a non-2xx refuses the handshake).
pub async fn lifecycle<F, Fut>(
    event: WebSocketEvent,
    done: &'static str,
    action: F,
) -> ApiGatewayProxyResponse
where
    F: FnOnce(WsRequest) -> Fut,
    Fut: std::future::Future<Output = Result<(), AppError>>,
{
    let request = match WsRequest::new(event) {
        Ok(request) => request,
        Err(err) => return error_response(&err, "-"),
    };
    let (connection, request_id) = (request.connection_id.clone(), request.request_id.clone());
    match action(request).await {
        Ok(()) => {
            tracing::info!(connection = %connection, request_id, "{done}");
            response(200, None)
        }
        Err(err) => error_response(&err, &request_id),
    }
}

/// The answer for a failed `$connect` (or an unreadable event), logged like an HTTP failure.
pub fn error_response(error: &AppError, request_id: &str) -> ApiGatewayProxyResponse {
    if error.status() >= 500 {
        tracing::error!(request_id, error = %error.log_detail(), "websocket request failed");
    } else {
        tracing::info!(request_id, status = error.status(), error = %error, "websocket request refused");
    }
    response(error.status(), Some(error))
}

/// A frame a client sends, routed on `action`.
#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(tag = "action")]
pub enum ClientFrame {
    #[serde(rename = "sendMessage")]
    SendMessage {
        channel_id: String,
        /// May be absent when the frame carries attachments.
        #[serde(default)]
        body: String,
        client_id: Option<String>,
        parent_id: Option<String>,
        #[serde(default)]
        mention_ids: Vec<String>,
        #[serde(default)]
        attachment_ids: Vec<String>,
    },
    #[serde(rename = "typing")]
    Typing { channel_id: String, is_typing: bool },
    #[serde(rename = "markRead")]
    MarkRead {
        channel_id: String,
        message_id: String,
    },
    #[serde(rename = "ping")]
    Ping,
}

const ACTIONS: [&str; 4] = ["sendMessage", "typing", "markRead", "ping"];

/// A frame that could not be read, with the `client_id` it carried (echoed in the error).
#[derive(Debug)]
pub struct BadFrame {
    pub error: AppError,
    pub client_id: Option<String>,
}

impl ClientFrame {
    /// Reads a frame: JSON object with a known `action` and that action's fields.
    pub fn parse(body: &str) -> Result<Self, BadFrame> {
        let bad = |message: String, client_id: Option<String>| BadFrame {
            error: AppError::BadRequest(message),
            client_id,
        };
        let value: serde_json::Value = serde_json::from_str(body)
            .map_err(|err| bad(format!("the frame is not JSON: {err}"), None))?;
        let client_id = value
            .get("client_id")
            .and_then(|id| id.as_str())
            .map(str::to_string);
        let Some(action) = value
            .get("action")
            .and_then(|action| action.as_str())
            .map(str::to_string)
        else {
            return Err(bad(
                "a frame is a JSON object with a string `action`".into(),
                client_id,
            ));
        };
        if !ACTIONS.contains(&action.as_str()) {
            return Err(bad(
                format!(
                    "unknown action `{action}`; expected one of {}",
                    ACTIONS.join(", ")
                ),
                client_id,
            ));
        }
        serde_json::from_value(value)
            .map_err(|err| bad(format!("invalid `{action}` frame: {err}"), client_id))
    }
}

/// A frame the server sends to one connection in answer to its own frame.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ReplyFrame {
    /// `sendMessage` stored (or found, for a repeated `client_id`) the message.
    Ack {
        client_id: Option<ClientId>,
        message: Box<Message>,
    },
    Pong,
    Error {
        code: &'static str,
        message: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
        /// As in the REST error: the fields refused, or how long to wait
        /// (`retry_after_seconds`) before sending again.
        #[serde(skip_serializing_if = "Option::is_none")]
        details: Option<serde_json::Value>,
    },
}

impl ReplyFrame {
    /// The contract's error frame for a failure; internals stay in the log.
    pub fn error(error: &AppError, client_id: Option<String>) -> Self {
        let body = error.body();
        Self::Error {
            code: body.error.code,
            details: body
                .error
                .details
                .and_then(|details| serde_json::to_value(details).ok()),
            message: body.error.message,
            client_id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_action() {
        assert_eq!(
            ClientFrame::parse(r#"{"action":"ping"}"#).unwrap(),
            ClientFrame::Ping
        );
        assert_eq!(
            ClientFrame::parse(r#"{"action":"typing","channel_id":"c","is_typing":true}"#).unwrap(),
            ClientFrame::Typing {
                channel_id: "c".into(),
                is_typing: true
            }
        );
        assert!(matches!(
            ClientFrame::parse(
                r#"{"action":"sendMessage","channel_id":"c","body":"hi","client_id":"k"}"#
            ),
            Ok(ClientFrame::SendMessage {
                client_id: Some(_),
                parent_id: None,
                ..
            })
        ));
    }

    #[test]
    fn bad_frames_are_bad_requests_that_keep_the_client_id() {
        for (body, client_id) in [
            ("not json", None),
            ("[1,2]", None),
            (r#"{"action":"dance","client_id":"k1"}"#, Some("k1")),
            (
                r#"{"action":"sendMessage","body":"hi","client_id":"k2"}"#,
                Some("k2"),
            ),
            (
                r#"{"action":"typing","channel_id":"c","is_typing":"yes"}"#,
                None,
            ),
        ] {
            let bad = ClientFrame::parse(body).unwrap_err();
            assert_eq!(bad.error.code(), "bad_request", "{body}");
            assert_eq!(bad.client_id.as_deref(), client_id, "{body}");
        }
    }

    #[test]
    fn error_frames_never_show_internals() {
        let frame = ReplyFrame::error(&AppError::internal("secret table name"), Some("k".into()));
        let json = serde_json::to_string(&frame).unwrap();
        assert!(!json.contains("secret"), "{json}");
        assert!(json.contains(r#""type":"error""#) && json.contains(r#""client_id":"k""#));
    }

    #[test]
    fn endpoint_from_domain_and_stage() {
        assert_eq!(
            endpoint_for("abc123.execute-api.eu-west-1.amazonaws.com", "prod"),
            "https://abc123.execute-api.eu-west-1.amazonaws.com/prod"
        );
        assert_eq!(
            endpoint_for("127.0.0.1:3001", "local"),
            "http://127.0.0.1:3001/local"
        );
        assert_eq!(
            endpoint_for("192.168.1.20:3001", "local"),
            "http://192.168.1.20:3001/local"
        );
        assert_eq!(
            endpoint_for("[::1]:3001", "local"),
            "http://[::1]:3001/local"
        );
    }
}
