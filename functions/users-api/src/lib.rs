//! `users-api`: identity (register, login, me), users, presence reads, health and the
//! OpenAPI document. Handlers parse, call `shared::service`, and map the result.

use std::convert::Infallible;

use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use shared::domain::{NewUser, UserName};
use shared::http::{serve, ApiRequest, Reply};
use shared::service::users;
use shared::{AppContext, AppError};

/// The Lambda handler: every request gets a contract response, never an `Err`.
pub async fn handle(ctx: &AppContext, request: Request) -> Result<Response<Body>, Infallible> {
    Ok(serve(request, shared::routes::USERS_API, async |req| {
        dispatch(ctx, req).await
    })
    .await)
}

#[derive(Deserialize)]
struct RegisterBody {
    email: Option<String>,
    name: Option<String>,
    password: Option<String>,
}

#[derive(Deserialize)]
struct LoginBody {
    email: Option<String>,
    password: Option<String>,
}

#[derive(Deserialize)]
struct RenameBody {
    name: Option<String>,
}

async fn dispatch(ctx: &AppContext, req: &ApiRequest) -> Result<Reply, AppError> {
    match req.route_key() {
        "GET /health" => health(ctx).await,
        "GET /openapi.json" => Reply::ok(
            &serde_json::from_str::<serde_json::Value>(shared::openapi::OPENAPI_JSON)
                .map_err(AppError::internal)?,
        ),
        "POST /auth/register" => {
            let body: RegisterBody = req.json()?;
            let new = NewUser::parse(
                body.email.as_deref().unwrap_or_default(),
                body.name.as_deref().unwrap_or_default(),
                body.password.as_deref().unwrap_or_default(),
            )?;
            Reply::created(&users::register(ctx, new).await?)
        }
        "POST /auth/login" => {
            let body: LoginBody = req.json()?;
            let mut missing = shared::error::FieldErrors::new();
            for (field, value) in [("email", &body.email), ("password", &body.password)] {
                if value.is_none() {
                    missing.insert(field.into(), "is required".into());
                }
            }
            let (Some(email), Some(password), true) =
                (body.email, body.password, missing.is_empty())
            else {
                return Err(AppError::Validation(missing));
            };
            let session = users::login(ctx, &email, &password).await?;
            Reply::ok(&session)
        }
        "GET /me" => Reply::ok(&users::me(ctx, &req.caller(ctx)?).await?),
        "PATCH /me" => {
            let caller = req.caller(ctx)?;
            let body: RenameBody = req.json()?;
            let name = UserName::parse(body.name.as_deref().unwrap_or_default())
                .map_err(|reason| AppError::invalid_field("name", reason))?;
            Reply::ok(&users::rename(ctx, &caller, name).await?)
        }
        "DELETE /me" => {
            users::delete_account(ctx, &req.caller(ctx)?).await?;
            Ok(Reply::NoContent)
        }
        "GET /users" => {
            let caller = req.caller(ctx)?;
            Reply::ok(&users::list_users(ctx, &caller, &req.page()?).await?)
        }
        "GET /users/{id}" => {
            let caller = req.caller(ctx)?;
            Reply::ok(&users::get_user(ctx, &caller, req.path_param("id")).await?)
        }
        "GET /users/{id}/presence" => {
            let caller = req.caller(ctx)?;
            Reply::ok(&users::presence(ctx, &caller, req.path_param("id")).await?)
        }
        "GET /presence/online" => {
            let caller = req.caller(ctx)?;
            let items = users::online_contacts(ctx, &caller).await?;
            Reply::ok(&serde_json::json!({ "items": items }))
        }
        _ => Err(AppError::not_found("no such route")),
    }
}

/// 200 `{"status":"ok"}`, or 503 naming the dependency that cannot be reached.
async fn health(ctx: &AppContext) -> Result<Reply, AppError> {
    match ctx.store.ping().await {
        Ok(()) => Reply::ok(&serde_json::json!({ "status": "ok" })),
        Err(err) => {
            tracing::warn!(error = ?err, "health check failed");
            Reply::with_status(
                503,
                &serde_json::json!({ "error": {
                    "code": "unavailable",
                    "message": "the table cannot be reached",
                    "details": { "dependency": "dynamodb" },
                }}),
            )
        }
    }
}
