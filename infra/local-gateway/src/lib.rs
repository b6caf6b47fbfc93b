//! The local gateway: serves the HTTP API on loopback the way API Gateway does, turning each
//! request into the real HTTP API v2 event and calling the handler of the function that owns
//! the route (the same code Lambda runs); the WebSocket API and its `@connections` management
//! API likewise (`websocket`), and the web client at `/` (`web`). Also creates the table and
//! queues on start-up.

pub mod bootstrap;
pub mod event;
pub mod sqs;
pub mod web;
pub mod websocket;

use std::net::SocketAddr;

use axum::body::{to_bytes, Body};
use axum::extract::{ConnectInfo, Request};
use axum::response::{IntoResponse, Response};
use axum::Router;
use shared::routes::{match_route, CHANNELS_API, PARTNERS_API, USERS_API};
use shared::AppContext;

use event::{http_api_event, to_lambda_request, HttpCall};

/// The largest body the gateway forwards; API Gateway's own limit is 10 MB, and the handlers
/// refuse anything over 64 KiB with 413 themselves.
const GATEWAY_BODY_LIMIT: usize = 10 * 1024 * 1024;

/// The HTTP API as an axum router over the functions' handlers.
pub fn http_router(ctx: AppContext) -> Router {
    Router::new().fallback(
        move |ConnectInfo(peer): ConnectInfo<SocketAddr>, request: Request| {
            let ctx = ctx.clone();
            async move { forward(&ctx, peer, request).await }
        },
    )
}

/// Serves the HTTP API on `listener` until the future is dropped.
pub async fn serve_http(listener: tokio::net::TcpListener, ctx: AppContext) -> std::io::Result<()> {
    axum::serve(
        listener,
        http_router(ctx).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
}

async fn forward(ctx: &AppContext, peer: SocketAddr, request: Request) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let (parts, body) = request.into_parts();
    let Some(found) = match_route(parts.method.as_str(), parts.uri.path()) else {
        if parts.method == http::Method::GET || parts.method == http::Method::HEAD {
            if let Some(page) = web::file(&web::web_root(), parts.uri.path()).await {
                return page;
            }
        }
        return gateway_error(404, "not_found", "no such route", &request_id);
    };
    let Ok(body) = to_bytes(body, GATEWAY_BODY_LIMIT).await else {
        return gateway_error(
            413,
            "payload_too_large",
            "the request body is too large",
            &request_id,
        );
    };
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.to_string())))
        .collect();
    let call = HttpCall {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        raw_query: parts.uri.query().unwrap_or_default(),
        headers: &headers,
        body: &body,
        source_ip: &peer.ip().to_string(),
    };
    let event = http_api_event(
        &call,
        &found.route.key(),
        &found.path_parameters,
        &request_id,
    );
    let lambda_request = match to_lambda_request(&event) {
        Ok(request) => request,
        Err(err) => {
            tracing::error!(error = %err, "the gateway built an event lambda_http cannot read");
            return gateway_error(500, "internal", "an internal error occurred", &request_id);
        }
    };
    let response = match found.route.function {
        USERS_API => users_api::handle(ctx, lambda_request).await,
        PARTNERS_API => partners_api::handle(ctx, lambda_request).await,
        CHANNELS_API => channels_api::handle(ctx, lambda_request).await,
        other => {
            tracing::error!(
                function = other,
                "route owned by a function the gateway does not host"
            );
            return gateway_error(500, "internal", "an internal error occurred", &request_id);
        }
    };
    let Ok(response) = response;
    let (parts, body) = response.into_parts();
    Response::from_parts(parts, Body::from(body.to_vec()))
}

fn gateway_error(status: u16, code: &str, message: &str, request_id: &str) -> Response {
    let body = serde_json::json!({ "error": { "code": code, "message": message } });
    let status =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [
            ("content-type", "application/json".to_string()),
            ("x-request-id", request_id.to_string()),
        ],
        body.to_string(),
    )
        .into_response()
}
