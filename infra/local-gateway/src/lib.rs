//! The local gateway: serves the HTTP API on loopback the way API Gateway does, turning each
//! request into the real HTTP API v2 event and calling the handler of the function that owns
//! the route (the same code Lambda runs); the WebSocket API and its `@connections` management
//! API likewise (`websocket`), and the web client at `/` (`web`). Also creates the table and
//! queues on start-up.

pub mod bootstrap;
pub mod event;
pub mod mailbox;
pub mod s3_events;
pub mod sqs;
pub mod streams;
pub mod web;
pub mod websocket;

use std::net::SocketAddr;
use std::sync::Arc;

use api::routes::match_route;
use axum::body::{to_bytes, Body};
use axum::extract::{ConnectInfo, Request};
use axum::response::{IntoResponse, Response};
use axum::Router;
use shared::AppContext;

use event::{http_api_event, to_lambda_request, HttpCall};

/// The largest body the gateway forwards; API Gateway's own limit is 10 MB, and the handlers
/// refuse anything over 64 KiB with 413 themselves.
const GATEWAY_BODY_LIMIT: usize = 10 * 1024 * 1024;

/// The functions' routers, each as its Lambda function runs it.
#[derive(Clone)]
pub struct Functions(Arc<Vec<(api::Function, Router)>>);

impl Functions {
    pub fn new(ctx: AppContext) -> Self {
        let ctx = Arc::new(ctx);
        Self(Arc::new(
            api::FUNCTIONS
                .iter()
                .map(|function| (*function, function.router(ctx.clone())))
                .collect(),
        ))
    }

    /// Calls the function `name` with the request Lambda would hand it.
    pub async fn call(
        &self,
        name: &str,
        request: lambda_http::Request,
    ) -> Option<http::Response<Body>> {
        let (function, router) = self.0.iter().find(|(function, _)| function.name == name)?;
        Some(function.call(router, request).await)
    }
}

/// The HTTP API as an axum router in front of the functions.
pub fn http_router(ctx: AppContext) -> Router {
    let functions = Functions::new(ctx);
    Router::new().fallback(
        move |ConnectInfo(peer): ConnectInfo<SocketAddr>, request: Request| {
            let functions = functions.clone();
            async move { forward(&functions, peer, request).await }
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

async fn forward(functions: &Functions, peer: SocketAddr, request: Request) -> Response {
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
    match functions.call(found.route.function, lambda_request).await {
        Some(response) => response,
        None => {
            tracing::error!(
                function = found.route.function,
                "route owned by a function the gateway does not host"
            );
            gateway_error(500, "internal", "an internal error occurred", &request_id)
        }
    }
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

/// The event router as the stream event source invokes it: in its own task, so a panic
/// fails the invocation (and is bisected) instead of the source.
pub fn router_invoke(router: Arc<event_router::EventRouter>) -> streams::Invoke {
    Box::new(move |event| {
        let router = router.clone();
        Box::pin(async move {
            let handled = tokio::spawn(async move { event_router::handle(&router, event).await });
            match handled.await {
                Ok(Ok(response)) => Ok(response),
                Ok(Err(never)) => match never {},
                Err(err) => Err(format!("the router failed: {err}")),
            }
        })
    })
}
