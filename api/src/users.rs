//! `users-api`: identity (register, login, me), users, presence, health and the API's own
//! documents (`/openapi.json`, `/docs`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use shared::domain::schema::{name_input, string};
use shared::domain::{
    NewUser, Page, ProfileChanges, PublicUser, UnreadTotals, User, UserId, UserName,
};
use shared::service::channels;
use shared::service::users::{self, NewToken, OnlineContact, SignedIn};
use shared::storage::Presence;
use shared::AppError;
use utoipa::openapi::schema::{SchemaType, Type};
use utoipa::ToSchema;

use crate::docs::{
    __path_openapi_json, __path_reference, __path_reference_asset, openapi_json, reference,
    reference_asset,
};
use crate::error::ApiResult;
use crate::extract::{Caller, Id, JsonBody, PageQuery, Params};
use crate::AppState;

api_routes![
    [health],
    [openapi_json],
    [reference],
    [reference_asset],
    [register],
    [login],
    [logout],
    [logout_everywhere],
    [change_password],
    [verify_email],
    [resend_verification],
    [me, update_me, delete_account],
    [unread],
    [list_users],
    [get_user],
    [presence],
    [online_contacts],
];

/// `{"status": "ok"}`.
#[derive(serde::Serialize, ToSchema)]
struct Health {
    #[schema(schema_with = health_ok)]
    status: &'static str,
}

fn health_ok() -> utoipa::openapi::schema::Object {
    string().enum_values(Some(["ok"])).build()
}

/// Liveness and table reachability
#[utoipa::path(get, path = "/health", operation_id = "health", tag = "service", security(()),
    responses((status = 200, description = "The table answers", body = Health), (status = 503)))]
async fn health(State(ctx): State<AppState>) -> axum::response::Response {
    match ctx.store.ping().await {
        Ok(()) => Json(Health { status: "ok" }).into_response(),
        Err(err) => {
            tracing::warn!(error = ?err, "health check failed");
            let body = serde_json::json!({ "error": {
                "code": "unavailable",
                "message": "the table cannot be reached",
                "details": { "dependency": "dynamodb" },
            }});
            (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
        }
    }
}

/// `POST /auth/register`.
#[derive(Deserialize, ToSchema)]
#[schema(as = RegisterRequest)]
struct RegisterBody {
    #[schema(required = true, nullable = false, value_type = String, format = Email, max_length = 254)]
    email: Option<String>,
    #[schema(required = true, schema_with = user_name_input)]
    name: Option<String>,
    #[schema(required = true, nullable = false, value_type = String, min_length = 8, max_length = 256)]
    password: Option<String>,
}

fn user_name_input() -> utoipa::openapi::schema::Object {
    name_input(UserName::MAX_CHARS, "Display name").build()
}

/// Create an account
///
/// Email unique case-insensitively (409); name 1–50 characters after trimming; password at
/// least 8 characters, stored as an Argon2id hash.
#[utoipa::path(post, path = "/auth/register", operation_id = "register", tag = "identity", security(()),
    request_body = RegisterBody,
    responses((status = 201, description = "Registered and signed in", body = SignedIn), (status = 409)))]
async fn register(
    State(ctx): State<AppState>,
    JsonBody(body): JsonBody<RegisterBody>,
) -> ApiResult<impl IntoResponse> {
    let new = NewUser::parse(
        body.email.as_deref().unwrap_or_default(),
        body.name.as_deref().unwrap_or_default(),
        body.password.as_deref().unwrap_or_default(),
    )?;
    Ok((StatusCode::CREATED, Json(users::register(&ctx, new).await?)))
}

/// `POST /auth/login`.
#[derive(Deserialize, ToSchema)]
#[schema(as = LoginRequest)]
struct LoginBody {
    #[schema(required = true, nullable = false, value_type = String)]
    email: Option<String>,
    #[schema(required = true, nullable = false, value_type = String)]
    password: Option<String>,
}

/// Sign in
///
/// A wrong email and a wrong password get the same 401. Missing fields are 400
/// `validation_failed`. Five failures for one email lock it (429 with `Retry-After`).
#[utoipa::path(post, path = "/auth/login", operation_id = "login", tag = "identity", security(()),
    request_body = LoginBody,
    responses((status = 200, description = "Signed in", body = SignedIn), (status = 401),
        (status = 429, description = "5 failed sign-ins locked this email: 30 s, doubling with each further failure up to 15 min (even the right password waits)")))]
async fn login(
    State(ctx): State<AppState>,
    JsonBody(body): JsonBody<LoginBody>,
) -> ApiResult<Json<SignedIn>> {
    let mut missing = shared::error::FieldErrors::new();
    for (field, value) in [("email", &body.email), ("password", &body.password)] {
        if value.is_none() {
            missing.insert(field.into(), "is required".into());
        }
    }
    let (Some(email), Some(password), true) = (body.email, body.password, missing.is_empty())
    else {
        return Err(AppError::Validation(missing).into());
    };
    Ok(Json(users::login(&ctx, &email, &password).await?))
}

/// The caller, with email
#[utoipa::path(get, path = "/me", operation_id = "getMe", tag = "identity",
    responses((status = 200, description = "The caller", body = User)))]
async fn me(State(ctx): State<AppState>, Caller(caller): Caller) -> ApiResult<Json<User>> {
    Ok(Json(users::me(&ctx, &caller).await?))
}

/// The caller's unread totals
///
/// Over every channel the caller is in: the sum of their `unread_count` and `mention_count`
/// (each exact up to 100), and how many channels have unread messages.
#[utoipa::path(get, path = "/me/unread", operation_id = "getUnreadTotals", tag = "channels",
    responses((status = 200, description = "The caller's totals", body = UnreadTotals)))]
async fn unread(
    State(ctx): State<AppState>,
    Caller(caller): Caller,
) -> ApiResult<Json<UnreadTotals>> {
    Ok(Json(channels::unread_totals(&ctx, &caller).await?))
}

/// `PATCH /me`: the fields to change; one left out (or null) stays as it is.
#[derive(Deserialize, ToSchema)]
#[schema(as = UpdateMeRequest)]
struct UpdateMeBody {
    #[schema(schema_with = nullable_user_name_input)]
    name: Option<String>,
    /// Partner request and digest emails (to a verified address); null: unchanged
    email_notifications: Option<bool>,
}

fn nullable_user_name_input() -> utoipa::openapi::schema::Object {
    name_input(UserName::MAX_CHARS, "Display name (null: unchanged)")
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .build()
}

/// Rename the caller or switch its notification emails
///
/// `name`, `email_notifications`, both, or neither (an empty change answers the user as it is).
#[utoipa::path(patch, path = "/me", operation_id = "updateMe", tag = "identity",
    request_body = UpdateMeBody,
    responses((status = 200, description = "Updated", body = User)))]
async fn update_me(
    State(ctx): State<AppState>,
    Caller(caller): Caller,
    JsonBody(body): JsonBody<UpdateMeBody>,
) -> ApiResult<Json<User>> {
    let changes = ProfileChanges::parse(body.name.as_deref(), body.email_notifications)?;
    Ok(Json(users::update_me(&ctx, &caller, &changes).await?))
}

/// `POST /auth/verify-email`.
#[derive(Deserialize, ToSchema)]
#[schema(as = VerifyEmailRequest)]
struct VerifyEmailBody {
    /// The 6-digit code from the email
    #[schema(required = true, nullable = false, value_type = String, pattern = "^\\s*[0-9]{6}\\s*$")]
    code: Option<String>,
}

/// Verify the caller's email address
///
/// With the 6-digit code emailed at registration (or by the latest resend), valid 24 h. A
/// wrong or expired code is 400 `validation_failed` on `code`; after 5 wrong tries only a new
/// code works. An address verified already answers the user as it is.
#[utoipa::path(post, path = "/auth/verify-email", operation_id = "verifyEmail", tag = "identity",
    request_body = VerifyEmailBody,
    responses((status = 200, description = "Verified", body = User)))]
async fn verify_email(
    State(ctx): State<AppState>,
    Caller(caller): Caller,
    JsonBody(body): JsonBody<VerifyEmailBody>,
) -> ApiResult<Json<User>> {
    let code = required(body.code, "code")?;
    Ok(Json(users::verify_email(&ctx, &caller, &code).await?))
}

/// Email the caller a new verification code
///
/// The previous code stops working. At most one per minute (429 with `Retry-After`).
#[utoipa::path(post, path = "/auth/verify-email/resend", operation_id = "resendVerification", tag = "identity",
    responses((status = 204, description = "A new code is on its way"),
        (status = 409, description = "The address is verified already"),
        (status = 429, description = "A code was sent less than a minute ago")))]
async fn resend_verification(
    State(ctx): State<AppState>,
    Caller(caller): Caller,
) -> ApiResult<StatusCode> {
    users::resend_verification(&ctx, &caller).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /me`.
#[derive(Deserialize, ToSchema)]
#[schema(as = DeleteMeRequest)]
struct DeleteAccountBody {
    /// The account's password, confirming the deletion
    #[schema(required = true, nullable = false, value_type = String)]
    password: Option<String>,
}

/// Delete the caller's account
///
/// The password confirms it: 400 without it, 403 when it is wrong.
#[utoipa::path(delete, path = "/me", operation_id = "deleteMe", tag = "identity",
    request_body = DeleteAccountBody,
    responses((status = 204, description = "Deleted; the account's tokens stop working at once"),
        (status = 403, description = "Wrong password"),
        (status = 429, description = "The email is locked after failed passwords (as for sign-in)")))]
async fn delete_account(
    State(ctx): State<AppState>,
    Caller(caller): Caller,
    JsonBody(body): JsonBody<DeleteAccountBody>,
) -> ApiResult<StatusCode> {
    let password = required(body.password, "password")?;
    users::delete_account(&ctx, &caller, &password).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A required field of a body: 400 `validation_failed` naming it when absent.
fn required(value: Option<String>, field: &str) -> Result<String, AppError> {
    value.ok_or_else(|| AppError::invalid_field(field, "is required"))
}

/// Sign this token out
///
/// The token stops working at once; WebSocket connections opened with it are closed.
#[utoipa::path(post, path = "/auth/logout", operation_id = "logout", tag = "identity",
    responses((status = 204, description = "Signed out")))]
async fn logout(State(ctx): State<AppState>, Caller(caller): Caller) -> ApiResult<StatusCode> {
    users::logout(&ctx, &caller).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sign out everywhere
///
/// Every token of the account issued until now stops working (this one too); their
/// WebSocket connections are closed.
#[utoipa::path(post, path = "/auth/logout-all", operation_id = "logoutAll", tag = "identity",
    responses((status = 204, description = "Every session ended")))]
async fn logout_everywhere(
    State(ctx): State<AppState>,
    Caller(caller): Caller,
) -> ApiResult<StatusCode> {
    users::logout_everywhere(&ctx, &caller).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /me/password`.
#[derive(Deserialize, ToSchema)]
#[schema(as = ChangePasswordRequest)]
struct ChangePasswordBody {
    #[schema(required = true, nullable = false, value_type = String)]
    current_password: Option<String>,
    #[schema(required = true, nullable = false, value_type = String, min_length = 8, max_length = 256)]
    new_password: Option<String>,
}

/// Change the password
///
/// The current password confirms it (403 when wrong). Every other token of the account stops
/// working and their WebSocket connections are closed; the answer carries the caller's new
/// token.
#[utoipa::path(post, path = "/me/password", operation_id = "changePassword", tag = "identity",
    request_body = ChangePasswordBody,
    responses((status = 200, description = "Changed", body = NewToken),
        (status = 403, description = "Wrong current password"),
        (status = 429, description = "The email is locked after failed passwords (as for sign-in)")))]
async fn change_password(
    State(ctx): State<AppState>,
    Caller(caller): Caller,
    JsonBody(body): JsonBody<ChangePasswordBody>,
) -> ApiResult<Json<NewToken>> {
    let current = required(body.current_password, "current_password")?;
    let new = required(body.new_password, "new_password")?;
    Ok(Json(
        users::change_password(&ctx, &caller, &current, &new).await?,
    ))
}

/// Every user, oldest first
#[utoipa::path(get, path = "/users", operation_id = "listUsers", tag = "users", params(PageQuery),
    responses((status = 200, description = "A page of users", body = Page<PublicUser>)))]
async fn list_users(
    State(ctx): State<AppState>,
    Caller(caller): Caller,
    Params(query): Params<PageQuery>,
) -> ApiResult<Json<Page<PublicUser>>> {
    Ok(Json(
        users::list_users(&ctx, &caller, &query.page()?).await?,
    ))
}

/// One user
#[utoipa::path(get, path = "/users/{id}", operation_id = "getUser", tag = "users",
    params(("id" = String, Path, description = "User id")),
    responses((status = 200, description = "The user", body = PublicUser), (status = 404)))]
async fn get_user(
    State(ctx): State<AppState>,
    Caller(caller): Caller,
    Id(user): Id<UserId>,
) -> ApiResult<Json<PublicUser>> {
    Ok(Json(users::get_user(&ctx, &caller, &user).await?))
}

/// Whether a user is online
///
/// Only for the caller, its partners and the members of its channels (403 for anyone else).
/// Online while the user holds at least one live WebSocket connection. `last_seen` is the
/// time of the user's latest connect or disconnect (null if it never connected). The same
/// data drives the `presence` events of the WebSocket API.
#[utoipa::path(get, path = "/users/{id}/presence", operation_id = "getPresence", tag = "users",
    params(("id" = String, Path, description = "User id")),
    responses((status = 200, description = "Presence", body = Presence),
        (status = 403, description = "Neither the caller, a partner nor a co-member of one of the caller's channels"),
        (status = 404)))]
async fn presence(
    State(ctx): State<AppState>,
    Caller(caller): Caller,
    Id(user): Id<UserId>,
) -> ApiResult<Json<Presence>> {
    Ok(Json(users::presence(&ctx, &caller, &user).await?))
}

/// `{"items": [...]}` of online contacts.
#[derive(serde::Serialize, ToSchema)]
struct OnlineContacts {
    items: Vec<OnlineContact>,
}

/// Online users among the caller's partners and channel co-members
///
/// Partners and members of the caller's channels (the assistant and the caller excluded)
/// that hold at least one live WebSocket connection, ordered by user id.
#[utoipa::path(get, path = "/presence/online", operation_id = "listOnline", tag = "users",
    responses((status = 200, description = "Online contacts", body = OnlineContacts)))]
async fn online_contacts(
    State(ctx): State<AppState>,
    Caller(caller): Caller,
) -> ApiResult<Json<OnlineContacts>> {
    let items = users::online_contacts(&ctx, &caller).await?;
    Ok(Json(OnlineContacts { items }))
}
