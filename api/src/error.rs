//! The edge's error: an [`AppError`] answered in the contract's shape. The failure is kept
//! on the response (as [`Failure`]) so the edge middleware logs it with the request id.

use axum::response::{IntoResponse, Response};
use shared::AppError;

/// Any failure of a handler or an extractor.
#[derive(Debug)]
pub struct ApiError(pub AppError);

impl<E: Into<AppError>> From<E> for ApiError {
    fn from(err: E) -> Self {
        Self(err.into())
    }
}

/// What the edge logs of a failed request (never sent to the caller).
#[derive(Clone, Debug)]
pub struct Failure {
    pub status: u16,
    pub code: &'static str,
    pub detail: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let err = self.0;
        let status = http::StatusCode::from_u16(err.status())
            .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, axum::Json(err.body())).into_response();
        if let Some(seconds) = err.retry_after_seconds() {
            response
                .headers_mut()
                .insert(http::header::RETRY_AFTER, http::HeaderValue::from(seconds));
        }
        response.extensions_mut().insert(Failure {
            status: err.status(),
            code: err.code(),
            detail: err.log_detail(),
        });
        response
    }
}

/// A handler's result.
pub type ApiResult<T> = Result<T, ApiError>;
