//! Typed extractors: what a handler declares in its signature is parsed before it runs, and
//! every refusal is the contract's error. A route that takes [`Caller`] cannot be reached
//! without a valid token.

use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use http::request::Parts;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use shared::domain::{
    AttachmentId, Channel, ChannelId, Emoji, Message, MessageId, NotFound, PageRequest, RequestId,
    UserId,
};
use shared::error::MAX_BODY_BYTES;
use shared::AppError;
use utoipa::IntoParams;

use crate::error::ApiError;
use crate::AppState;

/// The user and session a valid bearer token speaks for. Whether the account still exists
/// and the session is still open is checked by the service against the profile it reads.
#[derive(Clone, Debug)]
pub struct Caller(pub shared::domain::Caller);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, ctx: &AppState) -> Result<Self, ApiError> {
        let token = bearer_token(&parts.headers)?;
        Ok(Self(ctx.tokens.verify(token)?))
    }
}

/// The token of `Authorization: Bearer <token>`.
pub fn bearer_token(headers: &http::HeaderMap) -> Result<&str, AppError> {
    let header = headers
        .get(http::header::AUTHORIZATION)
        .ok_or(AppError::Unauthorized("missing bearer token"))?;
    header
        .to_str()
        .ok()
        .and_then(|value| {
            let (scheme, token) = value.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .filter(|token| !token.is_empty())
        .ok_or(AppError::Unauthorized(
            "the Authorization header must be 'Bearer <token>'",
        ))
}

/// A JSON object body read as `T`: 400 when it is not JSON, not an object or of the wrong
/// types (the edge has already refused bodies over the limit with 413).
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let content_type = request
            .headers()
            .get(http::header::CONTENT_TYPE)
            .map(|value| value.to_str().unwrap_or_default().to_string());
        let bytes = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|_| AppError::PayloadTooLarge)?;
        Ok(Self(parse_json_body(content_type.as_deref(), &bytes)?))
    }
}

/// The rules of a JSON body, apart from the transport: 413 over the limit, 400 for a content
/// type other than JSON, an empty body, anything but an object, or the wrong types.
pub fn parse_json_body<T: DeserializeOwned>(
    content_type: Option<&str>,
    bytes: &[u8],
) -> Result<T, AppError> {
    if bytes.len() > MAX_BODY_BYTES {
        return Err(AppError::PayloadTooLarge);
    }
    if let Some(mime) = content_type {
        let essence = mime.split(';').next().unwrap_or_default().trim();
        if !essence.eq_ignore_ascii_case("application/json") && !essence.ends_with("+json") {
            return Err(AppError::BadRequest(
                "content-type must be application/json".into(),
            ));
        }
    }
    let Some(first) = bytes.iter().find(|byte| !byte.is_ascii_whitespace()) else {
        return Err(AppError::BadRequest("a JSON body is required".into()));
    };
    // serde reads a struct from an array too (`["hi"]` as `{"body": "hi"}`); every body of
    // the contract is an object, so anything else is refused before it is read.
    if *first != b'{' {
        return Err(AppError::BadRequest(
            "the body must be a JSON object".into(),
        ));
    }
    let not_valid = |err: serde_json::Error| {
        AppError::BadRequest(format!("the body is not valid JSON for this route: {err}"))
    };
    let mut value: serde_json::Value = serde_json::from_slice(bytes).map_err(not_valid)?;
    integral_numbers_as_integers(&mut value);
    T::deserialize(value).map_err(not_valid)
}

/// JSON Schema counts `620.0` as an integer and so do JSON clients that only have doubles;
/// serde does not, so a whole number written with a fraction is made an integer before the
/// body is read.
fn integral_numbers_as_integers(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Number(number) => {
            if let Some(whole) = number
                .as_f64()
                .filter(|_| number.is_f64())
                .and_then(exact_whole)
            {
                *number = serde_json::Number::from(whole);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(integral_numbers_as_integers),
        serde_json::Value::Object(fields) => {
            fields.values_mut().for_each(integral_numbers_as_integers)
        }
        _ => {}
    }
}

/// The integer a float stands for exactly: whole and below 2^53, where every whole f64 is exact.
fn exact_whole(float: f64) -> Option<i64> {
    const EXACT: f64 = 9_007_199_254_740_992.0;
    (float.fract() == 0.0 && float.abs() < EXACT).then_some(float as i64)
}

/// Query parameters read as `T`; a malformed query string is a 400.
pub struct Params<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Query(value) = Query::<T>::from_request_parts(parts, state)
            .await
            .map_err(|err| AppError::BadRequest(format!("bad query parameters: {err}")))?;
        Ok(Self(value))
    }
}

/// `?limit=&cursor=` of a list route.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100, default = 50)]
    limit: Option<String>,
    /// `next_cursor` of the previous page of the same query; empty means the first page;
    /// anything else is a 400.
    cursor: Option<String>,
}

impl PageQuery {
    pub fn page(&self) -> Result<PageRequest, AppError> {
        Ok(PageRequest::parse(
            self.limit.as_deref(),
            self.cursor.as_deref(),
        )?)
    }
}

/// A path parameter that names something: parsing fails into the answer that thing's
/// absence gets, so a malformed id and an unknown one look the same to the caller.
pub trait PathParam: Sized {
    fn parse_param(raw: &str) -> Result<Self, AppError>;
}

impl PathParam for ChannelId {
    fn parse_param(raw: &str) -> Result<Self, AppError> {
        Ok(Channel::parse_id(raw)?)
    }
}

impl PathParam for MessageId {
    fn parse_param(raw: &str) -> Result<Self, AppError> {
        Ok(Message::parse_id(raw)?)
    }
}

impl PathParam for RequestId {
    fn parse_param(raw: &str) -> Result<Self, AppError> {
        Ok(Self::parse(raw).ok_or(NotFound::PartnerRequest)?)
    }
}

impl PathParam for UserId {
    fn parse_param(raw: &str) -> Result<Self, AppError> {
        Ok(Self::parse(raw).ok_or(NotFound::User)?)
    }
}

impl PathParam for AttachmentId {
    fn parse_param(raw: &str) -> Result<Self, AppError> {
        Ok(Self::parse(raw).ok_or(NotFound::Attachment)?)
    }
}

impl PathParam for Emoji {
    fn parse_param(raw: &str) -> Result<Self, AppError> {
        Ok(Self::parse(raw)?)
    }
}

/// The route's path parameters, in order, parsed into their types: `Id<ChannelId>`,
/// `Ids<(ChannelId, MessageId)>`, ...
pub struct Id<T>(pub T);
pub struct Ids<T>(pub T);

async fn raw_params<S: Send + Sync>(parts: &mut Parts, state: &S) -> Result<Vec<String>, AppError> {
    let Path(params) = Path::<Vec<(String, String)>>::from_request_parts(parts, state)
        .await
        .map_err(|_| AppError::not_found("no such route"))?;
    Ok(params.into_iter().map(|(_, value)| value).collect())
}

impl<T: PathParam, S: Send + Sync> FromRequestParts<S> for Id<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Ids((id,)) = Ids::<(T,)>::from_request_parts(parts, state).await?;
        Ok(Self(id))
    }
}

/// `Ids<(A, B, ...)>` for a route with that many path parameters, each parsed in order.
macro_rules! path_ids {
    ($($param:ident),+) => {
        impl<$($param: PathParam,)+ S: Send + Sync> FromRequestParts<S> for Ids<($($param,)+)> {
            type Rejection = ApiError;

            #[allow(non_snake_case)]
            async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
                match raw_params(parts, state).await?.as_slice() {
                    [$($param),+] => Ok(Self(($($param::parse_param($param)?,)+))),
                    _ => Err(AppError::internal(
                        "the route declares another number of path parameters",
                    )
                    .into()),
                }
            }
        }
    };
}

path_ids!(A);
path_ids!(A, B);
path_ids!(A, B, C);

/// A required field of a body whose fields are all optional in serde (so a missing one is a
/// 400 `validation_failed` naming it, not a parse error).
pub fn required<T>(value: Option<T>, field: &str) -> Result<T, AppError> {
    value.ok_or_else(|| AppError::invalid_field(field, "is required"))
}

/// A JSON number that is whole, as JSON Schema's `integer` allows it written (`3` or `3.0`).
pub fn whole_number(value: serde_json::Number, field: &str) -> Result<i64, AppError> {
    value
        .as_i64()
        .or_else(|| value.as_f64().and_then(exact_whole))
        .ok_or_else(|| AppError::invalid_field(field, "must be a whole number"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_may_be_written_with_a_zero_fraction() {
        let number = |raw: &str| serde_json::from_str::<serde_json::Number>(raw).unwrap();
        assert_eq!(whole_number(number("192750"), "size").unwrap(), 192_750);
        assert_eq!(whole_number(number("192750.0"), "size").unwrap(), 192_750);
        assert_eq!(whole_number(number("-3"), "size").unwrap(), -3);
        for fractional in ["1.5", "1e300"] {
            let refused = whole_number(number(fractional), "size").unwrap_err();
            assert_eq!(refused.code(), "validation_failed", "{fractional}");
        }
    }

    #[test]
    fn a_body_may_write_whole_numbers_with_a_zero_fraction() {
        #[derive(Debug, Deserialize, PartialEq)]
        struct Settings {
            slow_mode_seconds: u32,
            nested: Vec<i64>,
        }
        let body = br#"{"slow_mode_seconds": 620.0, "nested": [-3.0, 7], "extra": 0.5}"#;
        let read: Settings = parse_json_body(Some("application/json"), body).unwrap();
        assert_eq!(
            read,
            Settings {
                slow_mode_seconds: 620,
                nested: vec![-3, 7]
            }
        );
        let fractional =
            parse_json_body::<Settings>(None, br#"{"slow_mode_seconds": 1.5, "nested": []}"#);
        assert_eq!(fractional.unwrap_err().code(), "bad_request");
    }
}
