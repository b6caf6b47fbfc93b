//! `partners-api`: partner requests, partnerships and blocks.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use shared::domain::schema::{optional_text_input, string};
use shared::domain::{
    Decision, Page, PartnerRequest, RequestId, RequestMessage, StatusFilter, UserId,
};
use shared::service::blocks::{self, BlockView};
use shared::service::partners::{self, PartnershipEntry, Response as Answered};
use shared::storage::RequestDirection;
use shared::AppError;
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiResult;
use crate::extract::{required, Caller, Id, JsonBody, PageQuery, Params, PathParam};
use crate::AppState;

api_routes![
    [send_request],
    [list_received],
    [list_sent],
    [accept],
    [reject],
    [cancel],
    [list_partnerships],
    [end_partnership],
    [block_user, unblock_user],
    [list_blocks],
];

/// `POST /partner-requests`.
#[derive(Deserialize, ToSchema)]
#[schema(as = NewPartnerRequest)]
struct NewRequestBody {
    #[schema(required = true, nullable = false, value_type = String)]
    recipient_id: Option<String>,
    #[schema(schema_with = request_message_input)]
    message: Option<String>,
}

fn request_message_input() -> utoipa::openapi::schema::Object {
    optional_text_input(RequestMessage::MAX_CHARS)
}

/// Ask a user to become partners
///
/// 400 `validation_failed` for a request to yourself; 404 unknown recipient; 409 when a
/// pending request exists between the two in either direction or they are already partners.
#[utoipa::path(post, path = "/partner-requests", operation_id = "sendPartnerRequest", tag = "partners",
    request_body = NewRequestBody,
    responses((status = 201, description = "Pending request; an email to the recipient is queued", body = PartnerRequest),
        (status = 403, description = "One of the two blocked the other"), (status = 404), (status = 409),
        (status = 429, description = "`PARTNER_REQUESTS_PER_DAY` (20) sent in 24 h, or this recipient declined (or the sender withdrew) a request of the sender less than 24 h ago")))]
async fn send_request(
    State(ctx): State<AppState>,
    Caller(caller): Caller,
    JsonBody(body): JsonBody<NewRequestBody>,
) -> ApiResult<impl IntoResponse> {
    let recipient = required(body.recipient_id, "recipient_id")?;
    let request =
        partners::send_request(&ctx, &caller, &recipient, body.message.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(request)))
}

/// `?status=` of the request lists.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct StatusQuery {
    #[param(value_type = Option<String>, schema_with = status_filter)]
    status: Option<String>,
}

fn status_filter() -> utoipa::openapi::schema::Object {
    string()
        .enum_values(Some([
            "pending",
            "accepted",
            "rejected",
            "cancelled",
            "all",
        ]))
        .default(Some(serde_json::json!("pending")))
        .build()
}

async fn list(
    ctx: &AppState,
    caller: &shared::domain::Caller,
    direction: RequestDirection,
    status: &StatusQuery,
    page: &PageQuery,
) -> ApiResult<Json<Page<PartnerRequest>>> {
    let filter = StatusFilter::parse(status.status.as_deref())?;
    let page = page.page()?;
    Ok(Json(
        partners::list_requests(ctx, caller, direction, filter, &page).await?,
    ))
}

/// Requests sent to the caller, newest first
#[utoipa::path(get, path = "/partner-requests/received", operation_id = "listReceivedRequests", tag = "partners",
    params(StatusQuery, PageQuery),
    responses((status = 200, description = "A page of requests", body = Page<PartnerRequest>)))]
async fn list_received(
    State(ctx): State<AppState>,
    Caller(caller): Caller,
    Params(status): Params<StatusQuery>,
    Params(page): Params<PageQuery>,
) -> ApiResult<Json<Page<PartnerRequest>>> {
    list(&ctx, &caller, RequestDirection::Received, &status, &page).await
}

/// Requests the caller sent, newest first
#[utoipa::path(get, path = "/partner-requests/sent", operation_id = "listSentRequests", tag = "partners",
    params(StatusQuery, PageQuery),
    responses((status = 200, description = "A page of requests", body = Page<PartnerRequest>)))]
async fn list_sent(
    State(ctx): State<AppState>,
    Caller(caller): Caller,
    Params(status): Params<StatusQuery>,
    Params(page): Params<PageQuery>,
) -> ApiResult<Json<Page<PartnerRequest>>> {
    list(&ctx, &caller, RequestDirection::Sent, &status, &page).await
}

/// Accept a request (recipient only)
///
/// 403 when the caller is the sender; 404 unknown or caller not a party; 409 not pending.
/// Concurrent accepts make exactly one partnership and one email.
#[utoipa::path(post, path = "/partner-requests/{id}/accept", operation_id = "acceptPartnerRequest", tag = "partners",
    params(("id" = String, Path, description = "Request id")),
    responses((status = 200, description = "Accepted, with the new partnership; an email to the sender is queued", body = Answered),
        (status = 403), (status = 404), (status = 409)))]
async fn accept(
    State(ctx): State<AppState>,
    Caller(caller): Caller,
    Id(request): Id<RequestId>,
) -> ApiResult<Json<Answered>> {
    Ok(Json(
        partners::respond(&ctx, &caller, &request, Decision::Accept).await?,
    ))
}

/// Reject a request (recipient only)
#[utoipa::path(post, path = "/partner-requests/{id}/reject", operation_id = "rejectPartnerRequest", tag = "partners",
    params(("id" = String, Path, description = "Request id")),
    responses((status = 200, description = "Rejected", body = Answered),
        (status = 403), (status = 404), (status = 409)))]
async fn reject(
    State(ctx): State<AppState>,
    Caller(caller): Caller,
    Id(request): Id<RequestId>,
) -> ApiResult<Json<Answered>> {
    Ok(Json(
        partners::respond(&ctx, &caller, &request, Decision::Reject).await?,
    ))
}

/// Cancel a pending request (sender only)
#[utoipa::path(delete, path = "/partner-requests/{id}", operation_id = "cancelPartnerRequest", tag = "partners",
    params(("id" = String, Path, description = "Request id")),
    responses((status = 204, description = "Cancelled"), (status = 403), (status = 404), (status = 409)))]
async fn cancel(
    State(ctx): State<AppState>,
    Caller(caller): Caller,
    Id(request): Id<RequestId>,
) -> ApiResult<StatusCode> {
    partners::cancel(&ctx, &caller, &request).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's partners
#[utoipa::path(get, path = "/partnerships", operation_id = "listPartnerships", tag = "partners",
    params(PageQuery),
    responses((status = 200, description = "A page of partnerships", body = Page<PartnershipEntry>)))]
async fn list_partnerships(
    State(ctx): State<AppState>,
    Caller(caller): Caller,
    Params(page): Params<PageQuery>,
) -> ApiResult<Json<Page<PartnershipEntry>>> {
    Ok(Json(
        partners::list_partnerships(&ctx, &caller, &page.page()?).await?,
    ))
}

/// The other user of a partnership, as named in its path: an id that cannot name a user
/// cannot name a partner either.
struct Partner(UserId);

impl PathParam for Partner {
    fn parse_param(raw: &str) -> Result<Self, AppError> {
        UserId::parse(raw)
            .map(Self)
            .ok_or_else(shared::service::refusals::not_partners)
    }
}

/// End a partnership
#[utoipa::path(delete, path = "/partnerships/{user_id}", operation_id = "endPartnership", tag = "partners",
    params(("user_id" = String, Path, description = "The partner's user id")),
    responses((status = 204, description = "Ended for both users"), (status = 404)))]
async fn end_partnership(
    State(ctx): State<AppState>,
    Caller(caller): Caller,
    Id(Partner(other)): Id<Partner>,
) -> ApiResult<StatusCode> {
    partners::end_partnership(&ctx, &caller, &other).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A user named in a path: an id that cannot name a user is an unknown user.
struct Someone(UserId);

impl PathParam for Someone {
    fn parse_param(raw: &str) -> Result<Self, AppError> {
        UserId::parse(raw)
            .map(Self)
            .ok_or_else(|| shared::domain::NotFound::User.into())
    }
}

/// Block a user
///
/// Idempotent. A pending partner request between the two is cancelled and their partnership
/// ends; the blocked user gets 403 for a partner request to the caller, a direct channel with
/// or an add of the caller, and a send into their direct channel; the caller's devices no
/// longer get that user's messages, typing or presence, and the caller's history leaves that
/// user's messages out. The blocked user is not told.
#[utoipa::path(put, path = "/me/blocks/{user_id}", operation_id = "blockUser", tag = "safety",
    params(("user_id" = String, Path, description = "The user to block")),
    responses((status = 204, description = "Blocked (also when already blocked)"),
        (status = 400, description = "Oneself or the assistant"), (status = 404),
        (status = 409, description = "What is between the two kept changing; try again")))]
async fn block_user(
    State(ctx): State<AppState>,
    Caller(caller): Caller,
    Id(Someone(other)): Id<Someone>,
) -> ApiResult<StatusCode> {
    blocks::block(&ctx, &caller, &other).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Unblock a user
///
/// Idempotent. What the block ended stays ended: the two can ask each other to be partners
/// again.
#[utoipa::path(delete, path = "/me/blocks/{user_id}", operation_id = "unblockUser", tag = "safety",
    params(("user_id" = String, Path, description = "The user to unblock")),
    responses((status = 204, description = "Not blocked (any more); oneself and the assistant never are"), (status = 404),
        (status = 409, description = "What is between the two kept changing; try again")))]
async fn unblock_user(
    State(ctx): State<AppState>,
    Caller(caller): Caller,
    Id(Someone(other)): Id<Someone>,
) -> ApiResult<StatusCode> {
    blocks::unblock(&ctx, &caller, &other).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The users the caller blocked
#[utoipa::path(get, path = "/me/blocks", operation_id = "listBlocks", tag = "safety",
    params(PageQuery),
    responses((status = 200, description = "A page of blocks", body = Page<BlockView>)))]
async fn list_blocks(
    State(ctx): State<AppState>,
    Caller(caller): Caller,
    Params(page): Params<PageQuery>,
) -> ApiResult<Json<Page<BlockView>>> {
    Ok(Json(blocks::list(&ctx, &caller, &page.page()?).await?))
}
