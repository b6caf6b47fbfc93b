//! The OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]` annotations and
//! the types they take and answer, and the interactive reference at `/docs` (Swagger UI, its
//! assets compiled into the binary: no CDN).
//!
//! Lambda serves `openapi.json` as committed beside this crate (generated here; a test fails
//! when it is stale, `make openapi` rewrites it): building it at run time would link every
//! function's handlers into `users-api`.

use std::sync::{Arc, OnceLock};

use axum::extract::Path;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};
use shared::error::ErrorBody;
use shared::AppError;

use crate::error::ApiError;
use crate::FUNCTIONS;

/// The committed document, as Lambda serves it.
pub const OPENAPI_JSON: &str = include_str!("../openapi.json");

/// The contract's error answers, by status: the component name and what it means.
const ERROR_RESPONSES: &[(&str, &str, &str)] = &[
    ("400", "BadRequest", "`bad_request` (not JSON, wrong types, bad query parameter or cursor) or `validation_failed` (details map field → reason)"),
    ("401", "Unauthorized", "`unauthorized`: token missing, malformed, expired, of a deleted account, or bad signature"),
    ("403", "Forbidden", "`forbidden`: authenticated but not allowed"),
    ("404", "NotFound", "`not_found`"),
    ("409", "Conflict", "`conflict`: duplicate or state conflict"),
    ("413", "PayloadTooLarge", "`payload_too_large`: body over 64 KiB"),
    ("429", "RateLimited", "`rate_limited`: too many of these too fast; `Retry-After` (seconds) and `details.retry_after_seconds` say when the same request may succeed"),
    ("500", "Internal", "`internal`: logged with the request id; never shows internals"),
    ("503", "Unavailable", "`unavailable`: the table or the queue cannot be reached; retry later"),
];

/// Generates the whole document from the routers of every function.
pub fn generate() -> Value {
    let mut merged = utoipa::openapi::OpenApi::default();
    for function in FUNCTIONS {
        merged.merge(function.openapi());
    }
    // The error body is answered by the edge, not named by any handler.
    let mut schemas = vec![(
        <ErrorBody as utoipa::ToSchema>::name().into_owned(),
        <ErrorBody as utoipa::PartialSchema>::schema(),
    )];
    <ErrorBody as utoipa::ToSchema>::schemas(&mut schemas);
    let components = merged.components.get_or_insert_with(Default::default);
    components.schemas.extend(schemas);
    let mut doc = serde_json::to_value(&merged).unwrap_or_default();
    finish(&mut doc);
    doc
}

/// Adds what is the same for every operation: the document's header, bearer authentication
/// unless an operation is public (`security(())`), and the contract's error answers.
fn finish(doc: &mut Value) {
    doc["openapi"] = json!("3.1.0");
    doc["info"] = json!({
        "title": "Chat backend API",
        "version": "1.0.0",
        "description": "Partner network with real-time chat. Every non-2xx answer has the body `{\"error\": {\"code\", \"message\", \"details?\"}}`; every response carries `x-request-id`. Lists are pages of at most `limit` (1..100, default 50) items with an opaque `next_cursor` bound to the query that produced it. The WebSocket API, the queued work and the data model are described in the README.",
    });
    doc["servers"] =
        json!([{ "url": "http://127.0.0.1:3000", "description": "local gateway (make dev)" }]);
    doc["security"] = json!([{ "bearer": [] }]);
    doc["tags"] =
        json!(
            ["service", "identity", "users", "partners", "safety", "channels", "messages"]
                .map(|name| json!({ "name": name }))
        );
    let components = doc["components"]
        .as_object_mut()
        .map(std::mem::take)
        .unwrap_or_default();
    let mut components = Value::Object(components);
    components["securitySchemes"] =
        json!({ "bearer": { "type": "http", "scheme": "bearer", "bearerFormat": "JWT" } });
    let mut responses = Map::new();
    for (_, name, description) in ERROR_RESPONSES {
        responses.insert(
            (*name).into(),
            json!({ "description": description, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } }),
        );
    }
    components["responses"] = Value::Object(responses);
    doc["components"] = components;

    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for operation in paths
        .values_mut()
        .filter_map(Value::as_object_mut)
        .flat_map(|item| item.values_mut())
    {
        let public = operation["security"]
            .as_array()
            .is_some_and(|requirements| {
                requirements
                    .iter()
                    .all(|r| r.as_object().is_some_and(Map::is_empty))
            });
        if public {
            operation["security"] = json!([]);
        } else if let Some(op) = operation.as_object_mut() {
            op.remove("security");
        }
        let has_body = operation.get("requestBody").is_some();
        let has_query = operation["parameters"]
            .as_array()
            .is_some_and(|params| params.iter().any(|p| p["in"] == "query"));
        // The edge refuses a body over 64 KiB on every route, whether the route reads one.
        let mut statuses: Vec<&str> = vec!["413", "500", "503"];
        if !public {
            statuses.push("401");
        }
        if has_body {
            statuses.push("400");
        }
        if has_query {
            statuses.push("400");
        }
        let responses = &mut operation["responses"];
        for (status, name, _) in ERROR_RESPONSES {
            let declared = responses.get(*status).is_some();
            if declared || statuses.contains(status) {
                responses[*status] = json!({ "$ref": format!("#/components/responses/{name}") });
            }
        }
    }
}

/// This document
#[utoipa::path(get, path = "/openapi.json", operation_id = "openapi", tag = "service", security(()),
    responses((status = 200, description = "OpenAPI 3.1 document", body = Object)))]
pub(crate) async fn openapi_json() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON).into_response()
}

fn swagger_config() -> Arc<utoipa_swagger_ui::Config<'static>> {
    static CONFIG: OnceLock<Arc<utoipa_swagger_ui::Config<'static>>> = OnceLock::new();
    CONFIG
        .get_or_init(|| Arc::new(utoipa_swagger_ui::Config::from("/openapi.json")))
        .clone()
}

/// One file of Swagger UI. The files are stored gzipped: they go out as they are to a client
/// that accepts gzip (every browser), and inflated for one that does not.
fn swagger_file(file: &str, accepts_gzip: bool) -> Result<Response, ApiError> {
    let found = match utoipa_swagger_ui::serve(file, swagger_config()) {
        Ok(Some(found)) => found,
        Ok(None) => return Err(AppError::not_found("no such file").into()),
        Err(err) => return Err(AppError::internal(err.to_string()).into()),
    };
    let content_type = [(header::CONTENT_TYPE, found.content_type)];
    if !found.gzpipped {
        return Ok((StatusCode::OK, content_type, found.bytes.into_owned()).into_response());
    }
    if accepts_gzip {
        let encoding = [(header::CONTENT_ENCODING, "gzip")];
        return Ok((
            StatusCode::OK,
            content_type,
            encoding,
            found.bytes.into_owned(),
        )
            .into_response());
    }
    let mut inflated = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(found.bytes.as_ref()),
        &mut inflated,
    )
    .map_err(AppError::internal)?;
    Ok((StatusCode::OK, content_type, inflated).into_response())
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|coding| {
            let mut parts = coding.split(';');
            let name = parts.next().unwrap_or_default().trim();
            let refused = parts.any(|p| p.trim().replace(' ', "") == "q=0");
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

/// Interactive API reference
///
/// Swagger UI over `/openapi.json`: every route, its parameters and answers, with "try it
/// out" against this API.
#[utoipa::path(get, path = "/docs", operation_id = "apiReference", tag = "service", security(()),
    responses((status = 302, description = "To the reference page, `/docs/index.html`")))]
pub(crate) async fn reference() -> Response {
    // The page's asset links are relative, so it is served from inside `/docs/`.
    (StatusCode::FOUND, [(header::LOCATION, "/docs/index.html")]).into_response()
}

/// An asset of the API reference
#[utoipa::path(get, path = "/docs/{file}", operation_id = "apiReferenceAsset", tag = "service", security(()),
    params(("file" = String, Path, description = "index.html, a script, a stylesheet or an image")),
    responses((status = 200, description = "The file", content(("text/html"), ("text/javascript"), ("text/css"), ("image/png"))),
        (status = 404)))]
pub(crate) async fn reference_asset(
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    swagger_file(&file, accepts_gzip(&headers))
}
