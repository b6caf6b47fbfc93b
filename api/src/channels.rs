//! `channels-api`: channels, membership and messages.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use shared::domain::schema::{
    file_name_pattern, name_input, not_blank_pattern, optional_text_input, string,
    trimmed_lines_pattern,
};
use shared::domain::{
    Attachment, AttachmentId, AttachmentName, Channel, ChannelDescription, ChannelId, ChannelKind,
    ChannelName, ChannelSettings, ChannelSummary, ContentType, Emoji, Member, MemberRole, Message,
    MessageBody, MessageId, NewChannel, NewReport, NotFound, Page, ReadMarker, Report,
    ReportReason, SearchHit, UserId, MAX_INITIAL_MEMBERS, MAX_MENTIONS, MAX_QUERY_CHARS,
    MAX_SLOW_MODE_SECONDS, MIN_QUERY_CHARS,
};
use shared::realtime::Origin;
use shared::service::attachments::{self, Upload};
use shared::service::channels::{self, ChannelView, Created};
use shared::service::messages::{self, Draft, HistoryQuery, ReadReceipts, Sent};
use shared::service::reports;
use shared::service::search;
use shared::AppError;
use utoipa::openapi::schema::{SchemaType, Type};
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiResult;
use crate::extract::{required, whole_number, Caller, Id, Ids, JsonBody, PageQuery, Params};
use crate::AppState;

api_routes![
    [create, list_mine],
    [list_public],
    [get, delete, update],
    [add_member, list_members],
    [set_role, remove_member],
    [transfer],
    [mute, unmute],
    [start_upload],
    [get_attachment],
    [join],
    [leave],
    [send, history],
    [get_message, edit, delete_message],
    [replies],
    [stop_reply],
    [react, unreact],
    [mark_read],
    [read_receipts],
    [report_message],
    [list_reports],
    [search_messages],
];

/// A JSON answer with `status`: 201 for what was made, 200 for what was found.
fn made<T: serde::Serialize>(new: bool, body: T) -> Response {
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    (status, Json(body)).into_response()
}

/// `POST /channels`.
#[derive(Deserialize, ToSchema)]
#[schema(as = NewChannel)]
struct NewChannelBody {
    #[schema(required = true, schema_with = channel_name_input)]
    name: Option<String>,
    #[schema(schema_with = description_input)]
    description: Option<String>,
    /// (null means the default)
    #[schema(default = "group")]
    kind: Option<ChannelKind>,
    /// (null means the default)
    #[schema(max_items = 97)]
    member_ids: Option<Vec<String>>,
    /// (null means the default)
    #[schema(default = true)]
    private: Option<bool>,
}

fn channel_name_input() -> utoipa::openapi::schema::Object {
    name_input(ChannelName::MAX_CHARS, "Channel name").build()
}

const _: () = assert!(
    MAX_INITIAL_MEMBERS == 97,
    "the OpenAPI maxItems of member_ids"
);

/// Create a channel
///
/// `kind` defaults to `group`, `private` to true. 400 `validation_failed` lists unknown ids
/// in `details.unknown_member_ids` and duplicate ones (the creator included) in
/// `details.duplicate_member_ids`. A `direct` channel has exactly one other member, and an
/// existing direct channel of the pair is answered with 200. An `assistant` channel has no
/// other members; the assistant (user id `assistant`) joins it. Direct and assistant channels
/// are always private. At most 97 `member_ids` at creation (one transaction); a group grows
/// to `MAX_GROUP_MEMBERS` (10,000) with `POST /channels/{id}/members`.
#[utoipa::path(post, path = "/channels", operation_id = "createChannel", tag = "channels",
    request_body = NewChannelBody,
    responses((status = 201, description = "Created; the caller is its owner", body = ChannelView),
        (status = 200, description = "The pair's existing direct channel (listed again for a caller who had left it)", body = ChannelView),
        (status = 403, description = "Someone named is not the caller's partner (`details.not_partners`)")))]
async fn create(
    State(ctx): State<AppState>,
    Caller(caller): Caller,
    JsonBody(body): JsonBody<NewChannelBody>,
) -> ApiResult<Response> {
    let new = NewChannel::parse(
        &caller.id,
        body.name.as_deref().unwrap_or_default(),
        body.description.as_deref(),
        body.kind,
        body.member_ids.as_deref().unwrap_or_default(),
        body.private,
    )?;
    Ok(match channels::create(&ctx, &caller, new).await? {
        Created::New(view) => made(true, view),
        Created::Existing(view) => made(false, view),
    })
}

/// The caller's channels, newest activity first
///
/// Summaries a channel list renders without further calls: the last message, the unread
/// and mention counts (exact up to 100), the caller's role and mute. Ordered by
/// `last_activity_at`, newest first, across pages. A direct channel the caller left is
/// missing until its next message, so a page may hold fewer than `limit` items.
#[utoipa::path(get, path = "/channels", operation_id = "listMyChannels", tag = "channels",
    params(PageQuery),
    responses((status = 200, description = "A page of channel summaries", body = Page<ChannelSummary>)))]
async fn list_mine(
    State(ctx): State<AppState>,
    Caller(caller): Caller,
    Params(page): Params<PageQuery>,
) -> ApiResult<Json<Page<ChannelSummary>>> {
    Ok(Json(
        channels::list_mine(&ctx, &caller, &page.page()?).await?,
    ))
}

/// Public channels, oldest first
#[utoipa::path(get, path = "/channels/public", operation_id = "listPublicChannels", tag = "channels",
    params(PageQuery),
    responses((status = 200, description = "A page of channels", body = Page<Channel>)))]
async fn list_public(
    State(ctx): State<AppState>,
    Caller(caller): Caller,
    Params(page): Params<PageQuery>,
) -> ApiResult<Json<Page<Channel>>> {
    Ok(Json(
        channels::list_public(&ctx, &caller, &page.page()?).await?,
    ))
}

/// A channel with its members
///
/// 404 for an unknown channel, and for a private one the caller is not a member of.
#[utoipa::path(get, path = "/channels/{id}", operation_id = "getChannel", tag = "channels",
    params(("id" = String, Path, description = "Channel id")),
    responses((status = 200, description = "The channel", body = ChannelView), (status = 404)))]
async fn get(
    State(ctx): State<AppState>,
    Caller(caller): Caller,
    Id(channel): Id<ChannelId>,
) -> ApiResult<Json<ChannelView>> {
    Ok(Json(channels::get(&ctx, &caller, &channel).await?))
}

/// Delete a channel (owner only)
#[utoipa::path(delete, path = "/channels/{id}", operation_id = "deleteChannel", tag = "channels",
    params(("id" = String, Path, description = "Channel id")),
    responses((status = 204, description = "Hidden at once; its messages are purged asynchronously"),
        (status = 403, description = "Not the owner (a direct channel: not one of the two)"), (status = 404)))]
async fn delete(
    State(ctx): State<AppState>,
    Caller(caller): Caller,
    Id(channel): Id<ChannelId>,
) -> ApiResult<StatusCode> {
    channels::delete(&ctx, &caller, &channel).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /channels/{id}/members`.
#[derive(Deserialize, ToSchema)]
#[schema(as = AddMemberRequest)]
struct AddMemberBody {
    #[schema(required = true, nullable = false, value_type = String)]
    user_id: Option<String>,
}

/// Add a member (members of a group channel)
///
/// 403 when the caller is not a member; 404 unknown user (or channel); 409 already a member
/// or the group is full (`MAX_GROUP_MEMBERS`, 10,000 by default); 400 for direct and assistant
/// channels.
#[utoipa::path(post, path = "/channels/{id}/members", operation_id = "addChannelMember", tag = "channels",
    params(("id" = String, Path, description = "Channel id")),
    request_body = AddMemberBody,
    responses((status = 200, description = "The channel; `member.joined` is pushed", body = ChannelView),
        (status = 403, description = "The caller is not a member, or the user is not the caller's partner (`details.not_partners`)"),
        (status = 404), (status = 409)))]
async fn add_member(
    State(ctx): State<AppState>,
    Caller(caller): Caller,
    Id(channel): Id<ChannelId>,
    JsonBody(body): JsonBody<AddMemberBody>,
) -> ApiResult<Json<ChannelView>> {
    let user = required(body.user_id, "user_id")?;
    Ok(Json(
        channels::add_member(&ctx, &caller, &channel, &user).await?,
    ))
}

/// A channel's members, first joined first
///
/// Every member, a page at a time (a channel answer shows the first 100 only). As visible as
/// the channel: 404 for an unknown channel, and for a private one the caller is not a member of.
#[utoipa::path(get, path = "/channels/{id}/members", operation_id = "listChannelMembers", tag = "channels",
    params(("id" = String, Path, description = "Channel id"), PageQuery),
    responses((status = 200, description = "A page of members", body = Page<Member>), (status = 404)))]
async fn list_members(
    State(ctx): State<AppState>,
    Caller(caller): Caller,
    Id(channel): Id<ChannelId>,
    Params(page): Params<PageQuery>,
) -> ApiResult<Json<Page<Member>>> {
    Ok(Json(
        channels::members(&ctx, &caller, &channel, &page.page()?).await?,
    ))
}

/// `PATCH /channels/{id}`: the settings to change; one left out (or null) stays as it is.
#[derive(Deserialize, ToSchema)]
#[schema(as = ChannelChanges)]
struct ChannelChangesBody {
    #[schema(schema_with = nullable_channel_name_input)]
    name: Option<String>,
    /// null: unchanged
    #[schema(schema_with = description_input)]
    description: Option<String>,
    /// Groups only; null: unchanged
    private: Option<bool>,
    /// Groups only: a member (not the owner or an admin) sends at most one message per this
    /// many seconds (0 turns it off); null: unchanged
    #[schema(minimum = 0, maximum = 3600)]
    slow_mode_seconds: Option<i64>,
}

fn nullable_channel_name_input() -> utoipa::openapi::schema::Object {
    name_input(ChannelName::MAX_CHARS, "Channel name (null: unchanged)")
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .build()
}

const _: () = assert!(
    MAX_SLOW_MODE_SECONDS == 3600,
    "the OpenAPI maximum of slow_mode_seconds"
);

/// Change a channel's settings
///
/// The owner or an admin; the fields given change (an empty change answers the channel as it
/// is). Groups have every setting; an assistant channel only `name` and `description`; a
/// direct channel none (400). 403 for other members, 404 for outsiders of a private channel.
#[utoipa::path(patch, path = "/channels/{id}", operation_id = "updateChannel", tag = "channels",
    params(("id" = String, Path, description = "Channel id")),
    request_body = ChannelChangesBody,
    responses((status = 200, description = "The channel as changed; `channel.updated` is pushed", body = ChannelView),
        (status = 403), (status = 404), (status = 409, description = "The channel's roles changed meanwhile; try again")))]
async fn update(
    State(ctx): State<AppState>,
    Caller(caller): Caller,
    Id(channel): Id<ChannelId>,
    JsonBody(body): JsonBody<ChannelChangesBody>,
) -> ApiResult<Json<ChannelView>> {
    let settings = ChannelSettings::parse(
        body.name.as_deref(),
        body.description.as_deref(),
        body.private,
        body.slow_mode_seconds,
    )?;
    Ok(Json(
        channels::update(&ctx, &caller, &channel, &settings).await?,
    ))
}

/// `PATCH /channels/{id}/members/{user_id}`.
#[derive(Deserialize, ToSchema)]
#[schema(as = RoleChange)]
struct RoleBody {
    /// `admin` or `member` (ownership passes with `POST /channels/{id}/owner`)
    #[schema(required = true, nullable = false, value_type = String, pattern = "^(admin|member)$")]
    role: Option<String>,
}

/// Change a member's role
///
/// The owner makes a member an admin, or an admin a member (a group only). 400 for an unknown
/// role or the owner itself; 403 for anyone but the owner; 404 when the user is not a member.
#[utoipa::path(patch, path = "/channels/{id}/members/{user_id}", operation_id = "setMemberRole", tag = "channels",
    params(("id" = String, Path, description = "Channel id"), ("user_id" = String, Path, description = "The member's user id")),
    request_body = RoleBody,
    responses((status = 200, description = "The member with its new role; `member.updated` is pushed", body = Member),
        (status = 403), (status = 404), (status = 409)))]
async fn set_role(
    State(ctx): State<AppState>,
    Caller(caller): Caller,
    Ids((channel, user)): Ids<(ChannelId, UserId)>,
    JsonBody(body): JsonBody<RoleBody>,
) -> ApiResult<Json<Member>> {
    let role = required(body.role, "role")?;
    let role = MemberRole::parse_assignable(&role)
        .map_err(|reason| AppError::invalid_field("role", reason))?;
    Ok(Json(
        channels::set_role(&ctx, &caller, &channel, &user, role).await?,
    ))
}

/// Remove a member
///
/// The owner removes anyone else; an admin removes members (not admins, never the owner). A
/// group only. 400 for the caller itself (leave instead); 403 as said; 404 when the user is
/// not a member.
#[utoipa::path(delete, path = "/channels/{id}/members/{user_id}", operation_id = "removeMember", tag = "channels",
    params(("id" = String, Path, description = "Channel id"), ("user_id" = String, Path, description = "The member's user id")),
    responses((status = 204, description = "Removed; `member.removed` is pushed to the remaining members and the removed member's devices"),
        (status = 400), (status = 403), (status = 404), (status = 409)))]
async fn remove_member(
    State(ctx): State<AppState>,
    Caller(caller): Caller,
    Ids((channel, user)): Ids<(ChannelId, UserId)>,
) -> ApiResult<StatusCode> {
    channels::remove(&ctx, &caller, &channel, &user).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /channels/{id}/owner`.
#[derive(Deserialize, ToSchema)]
#[schema(as = OwnershipTransfer)]
struct TransferBody {
    /// The member who becomes the owner
    #[schema(required = true, nullable = false, value_type = String)]
    user_id: Option<String>,
}

/// Hand a channel over to another member
///
/// By the owner, to a member of the group; the old owner becomes an admin. 400 for the caller
/// itself; 403 for anyone but the owner; 404 when the user is not a member.
#[utoipa::path(post, path = "/channels/{id}/owner", operation_id = "transferOwnership", tag = "channels",
    params(("id" = String, Path, description = "Channel id")),
    request_body = TransferBody,
    responses((status = 200, description = "The channel with its new owner; `member.updated` is pushed for both", body = ChannelView),
        (status = 403), (status = 404), (status = 409)))]
async fn transfer(
    State(ctx): State<AppState>,
    Caller(caller): Caller,
    Id(channel): Id<ChannelId>,
    JsonBody(body): JsonBody<TransferBody>,
) -> ApiResult<Json<ChannelView>> {
    let user = required(body.user_id, "user_id")?;
    let user = UserId::parse(&user).ok_or(NotFound::User)?;
    Ok(Json(
        channels::transfer(&ctx, &caller, &channel, &user).await?,
    ))
}

/// `POST /channels/{id}/attachments`.
#[derive(Deserialize, ToSchema)]
#[schema(as = NewUpload)]
struct UploadBody {
    #[schema(required = true, nullable = false, schema_with = file_name_input)]
    name: Option<String>,
    /// One of the types attachments may have
    #[schema(required = true, nullable = false, value_type = String, schema_with = content_type_input)]
    content_type: Option<String>,
    /// Bytes: 1 to `MAX_ATTACHMENT_BYTES` (25 MiB by default: 413 above)
    #[schema(required = true, nullable = false, value_type = i64, minimum = 1, maximum = 26214400)]
    size: Option<serde_json::Number>,
}

fn file_name_input() -> utoipa::openapi::schema::Object {
    string()
        .pattern(Some(file_name_pattern(AttachmentName::MAX_CHARS)))
        .description(Some(
            "The file's name: 1–255 characters after trimming, no control characters, no path \
             separators",
        ))
        .build()
}

/// A channel's description as typed: a string or null (none).
fn description_input() -> utoipa::openapi::schema::Object {
    string()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .pattern(Some(trimmed_lines_pattern(ChannelDescription::MAX_CHARS)))
        .description(Some(
            "0–500 characters after trimming surrounding whitespace; tabs and line breaks, no \
             other control characters; null means none",
        ))
        .build()
}

fn content_type_input() -> utoipa::openapi::schema::Object {
    string()
        .enum_values(Some(ContentType::ALL.map(ContentType::as_str)))
        .description(Some(
            "The file's type; the upload must be exactly this type and size",
        ))
        .build()
}

/// Start an upload
///
/// A member declares a file (name, type, size) and gets a presigned S3 upload of exactly that
/// file: a POST form, valid 15 minutes (`expires_at`), whose policy S3 enforces (the key, the
/// type, the size). The attachment is `pending` until the worker has checked the uploaded
/// bytes, then `ready` or `rejected`; `attachment.updated` is pushed to the uploader. An
/// upload on no message is deleted after 24 h. 413 over `MAX_ATTACHMENT_BYTES`; 400 for a
/// type outside the list.
#[utoipa::path(post, path = "/channels/{id}/attachments", operation_id = "startUpload", tag = "messages",
    params(("id" = String, Path, description = "Channel id")),
    request_body = UploadBody,
    responses((status = 201, description = "The attachment (pending) and its upload form", body = Upload),
        (status = 403), (status = 404)))]
async fn start_upload(
    State(ctx): State<AppState>,
    Caller(caller): Caller,
    Id(channel): Id<ChannelId>,
    JsonBody(body): JsonBody<UploadBody>,
) -> ApiResult<Response> {
    let name = required(body.name, "name")?;
    let content_type = required(body.content_type, "content_type")?;
    let size = whole_number(required(body.size, "size")?, "size")?;
    let upload =
        attachments::start_upload(&ctx, &caller, &channel, &name, &content_type, size).await?;
    Ok(made(true, upload))
}

/// An attachment
///
/// For members; `url` and `thumbnail_url` (images) are presigned downloads, valid 15 minutes,
/// present once it is ready.
#[utoipa::path(get, path = "/channels/{id}/attachments/{aid}", operation_id = "getAttachment", tag = "messages",
    params(("id" = String, Path, description = "Channel id"), ("aid" = String, Path, description = "Attachment id")),
    responses((status = 200, description = "The attachment", body = Attachment), (status = 403), (status = 404)))]
async fn get_attachment(
    State(ctx): State<AppState>,
    Caller(caller): Caller,
    Ids((channel, attachment)): Ids<(ChannelId, AttachmentId)>,
) -> ApiResult<Json<Attachment>> {
    Ok(Json(
        attachments::get(&ctx, &caller, &channel, &attachment).await?,
    ))
}

/// Mute a channel
///
/// For the caller only (members): its summary says `muted`, and it sends the caller no
/// offline email. Idempotent.
#[utoipa::path(put, path = "/channels/{id}/mute", operation_id = "muteChannel", tag = "channels",
    params(("id" = String, Path, description = "Channel id")),
    responses((status = 204, description = "Muted"), (status = 403), (status = 404)))]
async fn mute(
    State(ctx): State<AppState>,
    Caller(caller): Caller,
    Id(channel): Id<ChannelId>,
) -> ApiResult<StatusCode> {
    channels::set_muted(&ctx, &caller, &channel, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Unmute a channel
///
/// Idempotent.
#[utoipa::path(delete, path = "/channels/{id}/mute", operation_id = "unmuteChannel", tag = "channels",
    params(("id" = String, Path, description = "Channel id")),
    responses((status = 204, description = "Not muted"), (status = 403), (status = 404)))]
async fn unmute(
    State(ctx): State<AppState>,
    Caller(caller): Caller,
    Id(channel): Id<ChannelId>,
) -> ApiResult<StatusCode> {
    channels::set_muted(&ctx, &caller, &channel, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Join a public channel
///
/// 403 private; 409 already a member or full.
#[utoipa::path(post, path = "/channels/{id}/join", operation_id = "joinChannel", tag = "channels",
    params(("id" = String, Path, description = "Channel id")),
    responses((status = 200, description = "The channel; `member.joined` is pushed", body = ChannelView),
        (status = 403), (status = 404), (status = 409)))]
async fn join(
    State(ctx): State<AppState>,
    Caller(caller): Caller,
    Id(channel): Id<ChannelId>,
) -> ApiResult<Json<ChannelView>> {
    Ok(Json(channels::join(&ctx, &caller, &channel).await?))
}

/// Leave a channel
///
/// 409 when the caller is not a member (404 if the channel is private). The owner hands the
/// channel over on the way out: to the longest-standing admin, else the longest-standing
/// member (`member.updated`); a channel with nobody else in it is deleted.
#[utoipa::path(post, path = "/channels/{id}/leave", operation_id = "leaveChannel", tag = "channels",
    params(("id" = String, Path, description = "Channel id")),
    responses((status = 204, description = "Left; `member.left` is pushed. A direct channel is only hidden from the caller's `GET /channels` until its next message (nobody is told)"),
        (status = 404), (status = 409)))]
async fn leave(
    State(ctx): State<AppState>,
    Caller(caller): Caller,
    Id(channel): Id<ChannelId>,
) -> ApiResult<StatusCode> {
    channels::leave(&ctx, &caller, &channel).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /channels/{id}/messages`.
#[derive(Deserialize, ToSchema)]
#[schema(as = SendMessage)]
struct SendBody {
    #[schema(schema_with = message_body_input)]
    body: Option<String>,
    /// Makes retries idempotent: 1–64 visible ASCII characters, unique per sender and channel
    #[schema(pattern = r"^[!-~]{1,64}$", min_length = 1, max_length = 64)]
    client_id: Option<String>,
    /// Reply in this message's thread
    parent_id: Option<String>,
    /// Users the message mentions: members of the channel, at most 50 (null means none)
    #[schema(max_items = 50)]
    mention_ids: Option<Vec<String>>,
    /// The caller's uploads of this channel to carry (at most 10, each on no other message and
    /// not rejected); with any, `body` may be empty (null means none)
    #[schema(max_items = 10)]
    attachment_ids: Option<Vec<String>>,
}

const _: () = assert!(MAX_MENTIONS == 50, "the OpenAPI maxItems of mention_ids");

fn message_body_input() -> utoipa::openapi::schema::Object {
    string()
        .max_length(Some(MessageBody::MAX_CHARS))
        .description(Some(
            "Up to 4000 characters, not only whitespace; may be empty or absent only when \
             `attachment_ids` names at least one file",
        ))
        .build()
}

/// Send a message
///
/// 400 when `body` is blank (with no attachments) or over 4,000 characters; 400 when
/// `attachment_ids` names more than 10, or one that is not the caller's upload of this
/// channel, is rejected, or is on another message (`details.attachment_ids`). 403 when the caller is not a member of
/// a public channel; 404 for an unknown channel or a private one the caller is not a member
/// of. 404 when `parent_id` is not a live message of this channel; 400 when it is itself a
/// reply. 400 when `mention_ids` names someone who is not a member (`details.mention_ids`).
/// 409 when a retried `client_id` names a message that has since been deleted. 429 when the
/// caller sends too fast, or faster than the channel's slow mode allows (`Retry-After`).
#[utoipa::path(post, path = "/channels/{id}/messages", operation_id = "sendMessage", tag = "messages",
    params(("id" = String, Path, description = "Channel id")),
    request_body = SendBody,
    responses((status = 201, description = "Stored; `message.created` is pushed; in an assistant channel one reply job is queued", body = Message),
        (status = 200, description = "The message sent before with the same `client_id` (same sender, same channel)", body = Message),
        (status = 403, description = "Not a member, or a direct channel one of whose two blocked the other"), (status = 404), (status = 409),
        (status = 429, description = "More than `SEND_BURST` (20) sends by the caller in this channel within `SEND_WINDOW_SECONDS` (10), or a second send of a member within the channel's `slow_mode_seconds`")))]
async fn send(
    State(ctx): State<AppState>,
    Caller(caller): Caller,
    Id(channel): Id<ChannelId>,
    JsonBody(body): JsonBody<SendBody>,
) -> ApiResult<Response> {
    let attachment_ids = body.attachment_ids.unwrap_or_default();
    // A message of files needs no text.
    let text = match body.body {
        None if !attachment_ids.is_empty() => String::new(),
        text => required(text, "body")?,
    };
    let mention_ids = body.mention_ids.unwrap_or_default();
    let draft = Draft {
        body: &text,
        client_id: body.client_id.as_deref(),
        parent_id: body.parent_id.as_deref(),
        mention_ids: &mention_ids,
        attachment_ids: &attachment_ids,
    };
    let sent = messages::send(&ctx, &caller, &channel, &draft, &Origin::api()).await?;
    Ok(match sent {
        Sent::New(message) => made(true, message),
        Sent::Duplicate(message) => made(false, message),
    })
}

/// `GET /channels/{id}/messages` filters.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct HistoryParams {
    /// `desc`: newest first
    #[param(value_type = Option<String>, schema_with = order_param)]
    order: Option<String>,
    /// Case-insensitive substring of the body. A search evaluates at most 200 messages per
    /// call and returns `next_cursor` when it stopped early, so a page may hold fewer than
    /// `limit` items before the end.
    #[param(max_length = 200)]
    q: Option<String>,
    /// Only messages of this role
    #[param(value_type = Option<String>, schema_with = role_param)]
    role: Option<String>,
    /// Only the replies of this message
    parent_id: Option<String>,
}

fn order_param() -> utoipa::openapi::schema::Object {
    string()
        .enum_values(Some(["desc", "asc"]))
        .default(Some(serde_json::json!("desc")))
        .build()
}

fn role_param() -> utoipa::openapi::schema::Object {
    string()
        .enum_values(Some(["user", "assistant", "system"]))
        .build()
}

/// History, one page
///
/// 403 when the caller is not a member of a public channel; 404 for an unknown channel or a
/// private one the caller is not a member of.
#[utoipa::path(get, path = "/channels/{id}/messages", operation_id = "listMessages", tag = "messages",
    params(("id" = String, Path, description = "Channel id"), PageQuery, HistoryParams),
    responses((status = 200, description = "A page of messages (deleted ones left out)", body = Page<Message>),
        (status = 403), (status = 404)))]
async fn history(
    State(ctx): State<AppState>,
    Caller(caller): Caller,
    Id(channel): Id<ChannelId>,
    Params(page): Params<PageQuery>,
    Params(filters): Params<HistoryParams>,
) -> ApiResult<Json<Page<Message>>> {
    let query = HistoryQuery {
        order: filters.order.as_deref(),
        q: filters.q.as_deref(),
        role: filters.role.as_deref(),
        parent_id: filters.parent_id.as_deref(),
    };
    let page = page.page()?;
    Ok(Json(
        messages::history(&ctx, &caller, &channel, query, &page).await?,
    ))
}

/// `GET /search/messages` parameters.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct SearchParams {
    /// Words to find, case and accents folded (`café` finds `Cafe`): every word must occur
    /// in a message, the last one as the beginning of a word (`launch fri` finds "the launch
    /// is on Friday"). Words are runs of letters and digits; a query without a word of at
    /// least 2 of them finds nothing.
    #[param(required = true, min_length = 2, max_length = 100)]
    q: Option<String>,
    /// Search this channel only (404 as for its history when the caller may not read it)
    channel_id: Option<String>,
}

const _: () = assert!(
    MIN_QUERY_CHARS == 2 && MAX_QUERY_CHARS == 100,
    "the OpenAPI bounds of q"
);

/// Search messages
///
/// Live messages of every channel the caller is a member of (or of `channel_id`), newest
/// first, each with its channel. Deleted or hidden messages and those of users the caller
/// blocked never match; a new message is found within seconds (the index is written off the
/// request path). A caller in more than 100 channels is asked for `channel_id` (400). A page
/// reads at most 500 candidates: it may hold fewer than `limit` results and still have a
/// `next_cursor`. The longer words a last word begins are read up to 1,000 index entries per
/// channel: past that (a prefix as common as `co`) what they find is incomplete.
#[utoipa::path(get, path = "/search/messages", operation_id = "searchMessages", tag = "messages",
    params(PageQuery, SearchParams),
    responses((status = 200, description = "A page of the messages found, newest first", body = Page<SearchHit>),
        (status = 400, description = "`q` missing or outside 2–100 characters, a bad cursor, or more than 100 channels without `channel_id`"),
        (status = 403, description = "`channel_id` names a public channel the caller is not a member of"),
        (status = 404, description = "`channel_id` names no channel the caller may read")))]
async fn search_messages(
    State(ctx): State<AppState>,
    Caller(caller): Caller,
    Params(page): Params<PageQuery>,
    Params(params): Params<SearchParams>,
) -> ApiResult<Json<Page<SearchHit>>> {
    let q = required(params.q, "q")?;
    let channel = params
        .channel_id
        .as_deref()
        .map(|raw| ChannelId::parse(raw).ok_or(NotFound::Channel))
        .transpose()?;
    let page = page.page()?;
    Ok(Json(
        search::search(&ctx, &caller, &q, channel.as_ref(), &page).await?,
    ))
}

/// One message
///
/// 404 for an unknown or deleted message.
#[utoipa::path(get, path = "/channels/{id}/messages/{mid}", operation_id = "getMessage", tag = "messages",
    params(("id" = String, Path, description = "Channel id"), ("mid" = String, Path, description = "Message id")),
    responses((status = 200, description = "The message", body = Message), (status = 403), (status = 404)))]
async fn get_message(
    State(ctx): State<AppState>,
    Caller(caller): Caller,
    Ids((channel, message)): Ids<(ChannelId, MessageId)>,
) -> ApiResult<Json<Message>> {
    Ok(Json(
        messages::get(&ctx, &caller, &channel, &message).await?,
    ))
}

/// `PATCH /channels/{id}/messages/{mid}`.
#[derive(Deserialize, ToSchema)]
#[schema(as = EditMessage)]
struct EditBody {
    #[schema(required = true, schema_with = edited_body_input)]
    body: Option<String>,
}

/// An edit's body: never empty (an edit keeps the message's files, not its emptiness).
fn edited_body_input() -> utoipa::openapi::schema::Object {
    string()
        .min_length(Some(1))
        .max_length(Some(MessageBody::MAX_CHARS))
        .pattern(Some(not_blank_pattern()))
        .description(Some("1 to 4000 characters, not only whitespace"))
        .build()
}

/// Edit a message (sender only)
///
/// 409 when the message has reached DynamoDB's 400 KB item size (only reachable with
/// thousands of distinct reactions).
#[utoipa::path(patch, path = "/channels/{id}/messages/{mid}", operation_id = "editMessage", tag = "messages",
    params(("id" = String, Path, description = "Channel id"), ("mid" = String, Path, description = "Message id")),
    request_body = EditBody,
    responses((status = 200, description = "Edited, with `edited_at`; `message.updated` is pushed", body = Message),
        (status = 403), (status = 404), (status = 409)))]
async fn edit(
    State(ctx): State<AppState>,
    Caller(caller): Caller,
    Ids((channel, message)): Ids<(ChannelId, MessageId)>,
    JsonBody(body): JsonBody<EditBody>,
) -> ApiResult<Json<Message>> {
    let text = required(body.body, "body")?;
    Ok(Json(
        messages::edit(&ctx, &caller, &channel, &message, &text).await?,
    ))
}

/// Delete a message (its sender, the channel's owner or an admin)
///
/// 404 when already deleted.
#[utoipa::path(delete, path = "/channels/{id}/messages/{mid}", operation_id = "deleteMessage", tag = "messages",
    params(("id" = String, Path, description = "Channel id"), ("mid" = String, Path, description = "Message id")),
    responses((status = 204, description = "Soft-deleted; `message.deleted` is pushed"), (status = 403), (status = 404)))]
async fn delete_message(
    State(ctx): State<AppState>,
    Caller(caller): Caller,
    Ids((channel, message)): Ids<(ChannelId, MessageId)>,
) -> ApiResult<StatusCode> {
    messages::delete(&ctx, &caller, &channel, &message).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Stop an assistant reply that is still streaming (any member)
///
/// Answers the reply with the text stored by then; its writer stops within a second and keeps
/// the text it had streamed (one more `message.updated`). 409 for a message that is not a
/// streaming reply (any more).
#[utoipa::path(post, path = "/channels/{id}/messages/{mid}/stop", operation_id = "stopReply", tag = "messages",
    params(("id" = String, Path, description = "Channel id"), ("mid" = String, Path, description = "Message id")),
    responses((status = 200, description = "The reply with `status: \"stopped\"`; `message.updated` is pushed", body = Message),
        (status = 403), (status = 404), (status = 409)))]
async fn stop_reply(
    State(ctx): State<AppState>,
    Caller(caller): Caller,
    Ids((channel, message)): Ids<(ChannelId, MessageId)>,
) -> ApiResult<Json<Message>> {
    Ok(Json(
        messages::stop_reply(&ctx, &caller, &channel, &message).await?,
    ))
}

/// A thread, oldest first
#[utoipa::path(get, path = "/channels/{id}/messages/{mid}/replies", operation_id = "listReplies", tag = "messages",
    params(("id" = String, Path, description = "Channel id"), ("mid" = String, Path, description = "Message id"), PageQuery),
    responses((status = 200, description = "A page of replies", body = Page<Message>), (status = 403), (status = 404)))]
async fn replies(
    State(ctx): State<AppState>,
    Caller(caller): Caller,
    Ids((channel, message)): Ids<(ChannelId, MessageId)>,
    Params(page): Params<PageQuery>,
) -> ApiResult<Json<Page<Message>>> {
    let page = page.page()?;
    Ok(Json(
        messages::replies(&ctx, &caller, &channel, &message, &page).await?,
    ))
}

/// React (idempotent)
///
/// 409 when the message already holds `MAX_DISTINCT_REACTIONS` different emoji.
#[utoipa::path(put, path = "/channels/{id}/messages/{mid}/reactions/{emoji}", operation_id = "addReaction", tag = "messages",
    params(("id" = String, Path, description = "Channel id"), ("mid" = String, Path, description = "Message id"),
        ("emoji" = String, Path, pattern = r"^[^\x00-\x1F\x7F-\x9F\t\n\x0B\x0C\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]{1,32}$", description = "Exactly one emoji (skin tones and ZWJ sequences included), URL-encoded")),
    responses((status = 200, description = "The message; `reaction.updated` is pushed", body = Message),
        (status = 400, description = "Not exactly one emoji"), (status = 403), (status = 404),
        (status = 409, description = "The message already holds `MAX_DISTINCT_REACTIONS` (20) different emoji")))]
async fn react(
    State(ctx): State<AppState>,
    Caller(caller): Caller,
    Ids((channel, message, emoji)): Ids<(ChannelId, MessageId, Emoji)>,
) -> ApiResult<Json<Message>> {
    Ok(Json(
        messages::react(&ctx, &caller, &channel, &message, &emoji, true).await?,
    ))
}

/// Take a reaction back (idempotent)
#[utoipa::path(delete, path = "/channels/{id}/messages/{mid}/reactions/{emoji}", operation_id = "removeReaction", tag = "messages",
    params(("id" = String, Path, description = "Channel id"), ("mid" = String, Path, description = "Message id"),
        ("emoji" = String, Path, pattern = r"^[^\x00-\x1F\x7F-\x9F\t\n\x0B\x0C\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]{1,32}$", description = "Exactly one emoji, URL-encoded")),
    responses((status = 200, description = "The message; `reaction.updated` is pushed", body = Message),
        (status = 400), (status = 403), (status = 404)))]
async fn unreact(
    State(ctx): State<AppState>,
    Caller(caller): Caller,
    Ids((channel, message, emoji)): Ids<(ChannelId, MessageId, Emoji)>,
) -> ApiResult<Json<Message>> {
    Ok(Json(
        messages::react(&ctx, &caller, &channel, &message, &emoji, false).await?,
    ))
}

/// `POST /channels/{id}/read`.
#[derive(Deserialize, ToSchema)]
#[schema(as = MarkReadRequest)]
struct ReadBody {
    #[schema(required = true, nullable = false, value_type = String)]
    message_id: Option<String>,
}

/// Move the caller's read marker
///
/// 404 when the message is not in this channel.
#[utoipa::path(post, path = "/channels/{id}/read", operation_id = "markRead", tag = "messages",
    params(("id" = String, Path, description = "Channel id")),
    request_body = ReadBody,
    responses((status = 200, description = "The marker; it only moves forward (an older message leaves it where it is); `read_receipt` is pushed when it moved", body = ReadMarker),
        (status = 403), (status = 404)))]
async fn mark_read(
    State(ctx): State<AppState>,
    Caller(caller): Caller,
    Id(channel): Id<ChannelId>,
    JsonBody(body): JsonBody<ReadBody>,
) -> ApiResult<Json<ReadMarker>> {
    let message = required(body.message_id, "message_id")?;
    Ok(Json(
        messages::mark_read(&ctx, &caller, &channel, &message, &Origin::api()).await?,
    ))
}

/// Every member's read marker
#[utoipa::path(get, path = "/channels/{id}/read-receipts", operation_id = "listReadReceipts", tag = "messages",
    params(("id" = String, Path, description = "Channel id")),
    responses((status = 200, description = "Read markers", body = ReadReceipts), (status = 403), (status = 404)))]
async fn read_receipts(
    State(ctx): State<AppState>,
    Caller(caller): Caller,
    Id(channel): Id<ChannelId>,
) -> ApiResult<Json<ReadReceipts>> {
    Ok(Json(
        messages::read_receipts(&ctx, &caller, &channel).await?,
    ))
}

/// `POST /channels/{id}/messages/{mid}/reports`.
#[derive(Deserialize, ToSchema)]
#[schema(as = NewReport)]
struct ReportBody {
    #[schema(required = true, nullable = false, value_type = ReportReason)]
    reason: Option<String>,
    #[schema(schema_with = report_note_input)]
    note: Option<String>,
}

fn report_note_input() -> utoipa::openapi::schema::Object {
    optional_text_input(NewReport::MAX_NOTE_CHARS)
}

/// Report a message (members only)
///
/// A second report of the same message by the same member is 409. A message reported by
/// `REPORTS_TO_HIDE` (3) distinct members is hidden like a deleted one (`message.deleted` is
/// pushed). Every report is emailed to `MODERATION_EMAIL`.
#[utoipa::path(post, path = "/channels/{id}/messages/{mid}/reports", operation_id = "reportMessage", tag = "safety",
    params(("id" = String, Path, description = "Channel id"), ("mid" = String, Path, description = "Message id")),
    request_body = ReportBody,
    responses((status = 201, description = "Filed", body = Report),
        (status = 403), (status = 404), (status = 409, description = "Already reported by the caller")))]
async fn report_message(
    State(ctx): State<AppState>,
    Caller(caller): Caller,
    Ids((channel, message)): Ids<(ChannelId, MessageId)>,
    JsonBody(body): JsonBody<ReportBody>,
) -> ApiResult<(StatusCode, Json<Report>)> {
    let reason = required(body.reason, "reason")?;
    let new = NewReport::parse(&reason, body.note.as_deref())?;
    let report = reports::report(&ctx, &caller, &channel, &message, new).await?;
    Ok((StatusCode::CREATED, Json(report)))
}

/// The channel's reports (owner and admins)
#[utoipa::path(get, path = "/channels/{id}/reports", operation_id = "listReports", tag = "safety",
    params(("id" = String, Path, description = "Channel id"), PageQuery),
    responses((status = 200, description = "A page of reports, by message", body = Page<Report>),
        (status = 403, description = "Neither the channel's owner nor an admin"), (status = 404)))]
async fn list_reports(
    State(ctx): State<AppState>,
    Caller(caller): Caller,
    Id(channel): Id<ChannelId>,
    Params(page): Params<PageQuery>,
) -> ApiResult<Json<Page<Report>>> {
    Ok(Json(
        reports::list(&ctx, &caller, &channel, &page.page()?).await?,
    ))
}
