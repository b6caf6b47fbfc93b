//! The HTTP edge shared by every REST function: reading an API Gateway HTTP API (v2) request
//! and writing the contract's responses (JSON, `x-request-id`, the error shape).

use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::domain::{PageRequest, UserId};
use crate::error::AppError;
use crate::AppContext;

/// Bodies above this are refused with 413 before parsing.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The whole `main` of an HTTP API function: JSON logs, configuration and clients built once
/// (a missing variable stops the function naming it), then the Lambda runtime loop.
pub async fn run_api<F, Fut>(handle: F) -> Result<(), lambda_http::Error>
where
    F: Fn(&'static AppContext, Request) -> Fut,
    Fut: std::future::Future<Output = Result<Response<Body>, std::convert::Infallible>> + Send,
{
    crate::telemetry::init();
    // Lives as long as the process, like the Lambda execution environment it serves.
    let ctx: &'static AppContext = Box::leak(Box::new(AppContext::from_env().await?));
    lambda_http::run(lambda_http::service_fn(move |request| handle(ctx, request))).await
}

/// One HTTP API request of the function `function`, from event to response: a route this
/// function does not own is a 404 and a body over [`MAX_BODY_BYTES`] a 413, whatever the
/// route, before `dispatch` sees either; every outcome becomes a contract response.
pub async fn serve(
    request: Request,
    function: &str,
    dispatch: impl AsyncFnOnce(&ApiRequest) -> Result<Reply, AppError>,
) -> Response<Body> {
    let request = ApiRequest::new(request);
    let result = match request.admit(function) {
        Ok(()) => dispatch(&request).await,
        Err(refused) => Err(refused),
    };
    respond(&request, result)
}

/// A request as a handler sees it.
pub struct ApiRequest {
    inner: Request,
    route_key: String,
    request_id: String,
}

impl ApiRequest {
    pub fn new(inner: Request) -> Self {
        let (route_key, request_id) = match inner.request_context_ref() {
            Some(RequestContext::ApiGatewayV2(ctx)) => {
                (ctx.route_key.clone(), ctx.request_id.clone())
            }
            _ => (None, None),
        };
        let route_key =
            route_key.unwrap_or_else(|| format!("{} {}", inner.method(), inner.uri().path()));
        let request_id = request_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        Self {
            inner,
            route_key,
            request_id,
        }
    }

    /// Refuses what no handler of `function` should see: a route it does not own, a body
    /// too large to read.
    fn admit(&self, function: &str) -> Result<(), AppError> {
        let route = self.route_key();
        if !crate::routes::ROUTES
            .iter()
            .any(|r| r.function == function && r.key() == route)
        {
            return Err(AppError::not_found("no such route"));
        }
        if self.body_bytes().len() > MAX_BODY_BYTES {
            return Err(AppError::PayloadTooLarge);
        }
        Ok(())
    }

    fn body_bytes(&self) -> &[u8] {
        match self.inner.body() {
            Body::Empty => &[],
            Body::Text(text) => text.as_bytes(),
            Body::Binary(bytes) => bytes,
            _ => &[],
        }
    }

    /// `"METHOD /path/{param}"`, as API Gateway matched it.
    pub fn route_key(&self) -> &str {
        &self.route_key
    }

    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    /// A path parameter; empty if absent (so parsing it as an id fails into a 404).
    pub fn path_param(&self, name: &str) -> &str {
        self.inner
            .path_parameters_ref()
            .and_then(|params| params.first(name))
            .unwrap_or_default()
    }

    pub fn query(&self, name: &str) -> Option<&str> {
        self.inner
            .query_string_parameters_ref()
            .and_then(|params| params.first(name))
    }

    /// `?limit=&cursor=`.
    pub fn page(&self) -> Result<PageRequest, AppError> {
        PageRequest::parse(self.query("limit"), self.query("cursor"))
    }

    /// The user a valid bearer token speaks for. Whether the account still exists is checked
    /// by the service with its first read.
    pub fn caller(&self, ctx: &AppContext) -> Result<UserId, AppError> {
        let header = self
            .inner
            .headers()
            .get(http::header::AUTHORIZATION)
            .ok_or(AppError::Unauthorized("missing bearer token"))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|value| {
                let (scheme, token) = value.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .filter(|token| !token.is_empty())
            .ok_or(AppError::Unauthorized(
                "the Authorization header must be 'Bearer <token>'",
            ))?;
        ctx.tokens.verify(token)
    }

    /// The JSON body as `T`: 413 when too large, 400 when not JSON or of the wrong types.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, AppError> {
        let bytes = self.body_bytes();
        if bytes.len() > MAX_BODY_BYTES {
            return Err(AppError::PayloadTooLarge);
        }
        if let Some(content_type) = self.inner.headers().get(http::header::CONTENT_TYPE) {
            let mime = content_type.to_str().unwrap_or_default();
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
        // serde reads a struct from an array too (`["hi"]` as `{"body": "hi"}`); every body
        // of the contract is an object, so anything else is refused before it is read.
        if *first != b'{' {
            return Err(AppError::BadRequest(
                "the body must be a JSON object".into(),
            ));
        }
        serde_json::from_slice(bytes).map_err(|err| {
            AppError::BadRequest(format!("the body is not valid JSON for this route: {err}"))
        })
    }
}

/// A successful answer.
pub enum Reply {
    Json(u16, serde_json::Value),
    NoContent,
}

impl Reply {
    pub fn ok(body: &impl Serialize) -> Result<Self, AppError> {
        Self::with_status(200, body)
    }

    pub fn created(body: &impl Serialize) -> Result<Self, AppError> {
        Self::with_status(201, body)
    }

    pub fn with_status(status: u16, body: &impl Serialize) -> Result<Self, AppError> {
        Ok(Self::Json(
            status,
            serde_json::to_value(body).map_err(AppError::internal)?,
        ))
    }
}

/// Turns a handler's result into the HTTP response, logging failures with the request id.
pub fn respond(request: &ApiRequest, result: Result<Reply, AppError>) -> Response<Body> {
    let (status, body) = match result {
        Ok(Reply::Json(status, value)) => (status, Some(value.to_string())),
        Ok(Reply::NoContent) => (204, None),
        Err(err) => {
            if err.status() >= 500 {
                tracing::error!(
                    request_id = request.request_id(),
                    route = request.route_key(),
                    error = ?err,
                    "request failed"
                );
            } else {
                tracing::info!(
                    request_id = request.request_id(),
                    route = request.route_key(),
                    status = err.status(),
                    code = err.code(),
                    "request refused"
                );
            }
            let body = serde_json::to_string(&err.body()).unwrap_or_default();
            (err.status(), Some(body))
        }
    };
    let mut builder = Response::builder()
        .status(status)
        .header("x-request-id", request.request_id())
        .header(http::header::CACHE_CONTROL, "no-store");
    if body.is_some() {
        builder = builder.header(http::header::CONTENT_TYPE, "application/json");
    }
    if status == 503 {
        // A dependency is briefly unreachable: tell clients when a retry is worth it.
        builder = builder.header(http::header::RETRY_AFTER, "1");
    }
    let body = body.map_or(Body::Empty, Body::Text);
    // Only a status or header value that is not valid HTTP can fail here, and all are fixed
    // above; fall back to a bare 500 rather than panicking.
    builder.body(body).unwrap_or_else(|_| {
        let mut fallback = Response::new(Body::Empty);
        *fallback.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
        fallback
    })
}
