//! What wraps every route of every function: the 404 for what no route matches, the 413 for
//! a body over the limit (before any handler reads it), and on every answer `x-request-id`,
//! `cache-control: no-store`, `retry-after` on a 503, and a log line for each failure.

use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use lambda_http::request::RequestContext;
use lambda_http::RequestExt as _;
use shared::error::MAX_BODY_BYTES;
use shared::AppError;

use crate::error::{ApiError, Failure};
use crate::AppState;

pub fn finish(router: Router<AppState>) -> Router<AppState> {
    router
        .fallback(no_such_route)
        .method_not_allowed_fallback(no_such_route)
        .layer(axum::middleware::from_fn(around))
}

async fn no_such_route() -> ApiError {
    ApiError(AppError::not_found("no such route"))
}

async fn around(request: Request, next: Next) -> Response {
    let (request_id, route_key) = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => (ctx.request_id.clone(), ctx.route_key.clone()),
        _ => (None, None),
    };
    let request_id = request_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let route = route_key.unwrap_or_else(|| {
        let path = request
            .extensions()
            .get::<MatchedPath>()
            .map_or(request.uri().path(), MatchedPath::as_str);
        format!("{} {path}", request.method())
    });
    let (parts, body) = request.into_parts();
    // Lambda hands the whole body over at once; reading it here costs no extra wait.
    let mut response = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(bytes) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(_) => ApiError(AppError::PayloadTooLarge).into_response(),
    };
    if let Some(failure) = response.extensions().get::<Failure>() {
        if failure.status >= 500 {
            tracing::error!(request_id, route, error = failure.detail, "request failed");
        } else {
            tracing::info!(
                request_id,
                route,
                status = failure.status,
                code = failure.code,
                "request refused"
            );
        }
    }
    let headers = response.headers_mut();
    if let Ok(value) = http::HeaderValue::from_str(&request_id) {
        headers.insert("x-request-id", value);
    }
    headers.insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    if response.status() == http::StatusCode::SERVICE_UNAVAILABLE {
        // A dependency is briefly unreachable: tell clients when a retry is worth it.
        response.headers_mut().insert(
            http::header::RETRY_AFTER,
            http::HeaderValue::from_static("1"),
        );
    }
    response
}
