//! The contract's error type: every failure maps to one status, one code and a message that
//! is safe to show. Internal causes are logged, never returned.

use std::collections::BTreeMap;

use serde::Serialize;

/// Bodies above this are refused with 413 before parsing.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Field name → reason, for `validation_failed`.
pub use crate::domain::FieldErrors;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    BadRequest(String),
    #[error("the request is invalid")]
    Validation(FieldErrors),
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("{0}")]
    Forbidden(String),
    /// 403 naming what was refused in `details` (e.g. the users who are not partners).
    #[error("{message}")]
    ForbiddenFor {
        message: &'static str,
        details: FieldErrors,
    },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("the request body is larger than {MAX_BODY_BYTES} bytes")]
    PayloadTooLarge,
    /// 413 for something declared larger than it may be (an attachment's size).
    #[error("{0}")]
    TooLarge(String),
    /// 429: a rate limit; the same request may succeed after `retry_after_seconds`
    /// (`Retry-After` and `details.retry_after_seconds`).
    #[error("{message}")]
    RateLimited {
        message: &'static str,
        retry_after_seconds: u64,
    },
    /// A dependency (the table, the queue) could not be reached; retrying later may succeed.
    #[error("{0} is unavailable")]
    Unavailable(&'static str),
    #[error("internal error")]
    Internal(#[source] BoxError),
}

/// The JSON body of every non-2xx answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody<'a> {
    pub error: ErrorDetail<'a>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail<'a> {
    #[schema(schema_with = error_codes)]
    pub code: &'static str,
    pub message: String,
    /// For validation_failed: field → reason; for some refusals, what was refused (text);
    /// for rate_limited: `retry_after_seconds` (a number)
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<BTreeMap<String, serde_json::Value>>)]
    pub details: Option<Details<'a>>,
}

/// The `details` of an error body.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Details<'a> {
    Fields(&'a FieldErrors),
    RetryAfter { retry_after_seconds: u64 },
}

/// Every code an error body may carry.
pub const ERROR_CODES: &[&str] = &[
    "bad_request",
    "validation_failed",
    "unauthorized",
    "forbidden",
    "not_found",
    "conflict",
    "payload_too_large",
    "rate_limited",
    "internal",
    "unavailable",
];

fn error_codes() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(ERROR_CODES.iter().copied()))
        .build()
}

impl AppError {
    pub fn internal(err: impl Into<BoxError>) -> Self {
        Self::Internal(err.into())
    }

    /// The whole story, cause included: for logs only, never for callers.
    pub fn log_detail(&self) -> String {
        match self {
            Self::Internal(source) => format!("internal error: {source}"),
            other => other.to_string(),
        }
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        Self::NotFound(what.into())
    }

    pub fn conflict(what: impl Into<String>) -> Self {
        Self::Conflict(what.into())
    }

    pub fn forbidden(what: impl Into<String>) -> Self {
        Self::Forbidden(what.into())
    }

    pub fn invalid_field(field: &str, reason: impl Into<String>) -> Self {
        Self::Validation(BTreeMap::from([(field.to_string(), reason.into())]))
    }

    /// Seconds to wait before the same request may succeed (the `Retry-After` header).
    pub fn retry_after_seconds(&self) -> Option<u64> {
        match self {
            Self::RateLimited {
                retry_after_seconds,
                ..
            } => Some(*retry_after_seconds),
            _ => None,
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            Self::BadRequest(_) | Self::Validation(_) => 400,
            Self::Unauthorized(_) => 401,
            Self::Forbidden(_) | Self::ForbiddenFor { .. } => 403,
            Self::NotFound(_) => 404,
            Self::Conflict(_) => 409,
            Self::PayloadTooLarge | Self::TooLarge(_) => 413,
            Self::RateLimited { .. } => 429,
            Self::Unavailable(_) => 503,
            Self::Internal(_) => 500,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad_request",
            Self::Validation(_) => "validation_failed",
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden(_) | Self::ForbiddenFor { .. } => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::Conflict(_) => "conflict",
            Self::PayloadTooLarge | Self::TooLarge(_) => "payload_too_large",
            Self::RateLimited { .. } => "rate_limited",
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal",
        }
    }

    pub fn body(&self) -> ErrorBody<'_> {
        let message = match self {
            Self::Internal(_) => "an internal error occurred; it has been logged".to_string(),
            Self::Unavailable(what) => {
                format!("{what} is temporarily unavailable; retry shortly")
            }
            other => other.to_string(),
        };
        let details = match self {
            Self::Validation(fields)
            | Self::ForbiddenFor {
                details: fields, ..
            } => Some(Details::Fields(fields)),
            Self::RateLimited {
                retry_after_seconds,
                ..
            } => Some(Details::RetryAfter {
                retry_after_seconds: *retry_after_seconds,
            }),
            _ => None,
        };
        ErrorBody {
            error: ErrorDetail {
                code: self.code(),
                message,
                details,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_never_show_their_cause() {
        let err = AppError::internal("table chat-prod: credentials expired at 10:00");
        let json = serde_json::to_string(&err.body()).unwrap();
        assert!(!json.contains("credentials"), "{json}");
        assert_eq!(err.status(), 500);
        assert!(json.contains(r#""code":"internal""#));
    }

    #[test]
    fn rate_limits_say_when_to_come_back() {
        let err = AppError::RateLimited {
            message: "too many sends",
            retry_after_seconds: 7,
        };
        let json = serde_json::to_value(err.body()).unwrap();
        assert_eq!(json["error"]["code"], "rate_limited");
        assert_eq!(json["error"]["details"]["retry_after_seconds"], 7);
        assert_eq!((err.status(), err.retry_after_seconds()), (429, Some(7)));
    }

    #[test]
    fn validation_errors_carry_their_fields() {
        let err = AppError::invalid_field("email", "must contain @");
        let json = serde_json::to_value(err.body()).unwrap();
        assert_eq!(json["error"]["code"], "validation_failed");
        assert_eq!(json["error"]["details"]["email"], "must contain @");
        assert_eq!(err.status(), 400);
    }
}
