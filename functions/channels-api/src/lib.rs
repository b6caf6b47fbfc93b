//! `channels-api`: channels, membership and messages. Handlers parse, call
//! `shared::service::{channels, messages}`, and map the result.

use std::convert::Infallible;

use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use shared::domain::{ChannelKind, NewChannel};
use shared::http::{serve, ApiRequest, Reply};
use shared::realtime::Origin;
use shared::service::channels::{self, Created};
use shared::service::messages::{self, HistoryQuery, Sent};
use shared::{AppContext, AppError};

/// The Lambda handler: every request gets a contract response, never an `Err`.
pub async fn handle(ctx: &AppContext, request: Request) -> Result<Response<Body>, Infallible> {
    Ok(serve(request, shared::routes::CHANNELS_API, async |req| {
        dispatch(ctx, req).await
    })
    .await)
}

#[derive(Deserialize)]
struct NewChannelBody {
    name: Option<String>,
    kind: Option<ChannelKind>,
    member_ids: Option<Vec<String>>,
    private: Option<bool>,
}

#[derive(Deserialize)]
struct AddMemberBody {
    user_id: Option<String>,
}

#[derive(Deserialize)]
struct SendBody {
    body: Option<String>,
    client_id: Option<String>,
    parent_id: Option<String>,
}

#[derive(Deserialize)]
struct EditBody {
    body: Option<String>,
}

#[derive(Deserialize)]
struct ReadBody {
    message_id: Option<String>,
}

fn required(value: Option<String>, field: &str) -> Result<String, AppError> {
    value.ok_or_else(|| AppError::invalid_field(field, "is required"))
}

async fn dispatch(ctx: &AppContext, req: &ApiRequest) -> Result<Reply, AppError> {
    let route = req.route_key();
    let caller = req.caller(ctx)?;
    let id = req.path_param("id");
    match route {
        "POST /channels" => {
            let body: NewChannelBody = req.json()?;
            let new = NewChannel::parse(
                &caller,
                body.name.as_deref().unwrap_or_default(),
                body.kind,
                body.member_ids.as_deref().unwrap_or_default(),
                body.private,
            )?;
            match channels::create(ctx, &caller, new).await? {
                Created::New(view) => Reply::created(&view),
                Created::Existing(view) => Reply::ok(&view),
            }
        }
        "GET /channels" => Reply::ok(&channels::list_mine(ctx, &caller, &req.page()?).await?),
        "GET /channels/public" => {
            Reply::ok(&channels::list_public(ctx, &caller, &req.page()?).await?)
        }
        "GET /channels/{id}" => Reply::ok(&channels::get(ctx, &caller, id).await?),
        "POST /channels/{id}/members" => {
            let body: AddMemberBody = req.json()?;
            let user = required(body.user_id, "user_id")?;
            Reply::ok(&channels::add_member(ctx, &caller, id, &user).await?)
        }
        "POST /channels/{id}/join" => Reply::ok(&channels::join(ctx, &caller, id).await?),
        "POST /channels/{id}/leave" => {
            channels::leave(ctx, &caller, id).await?;
            Ok(Reply::NoContent)
        }
        "DELETE /channels/{id}" => {
            channels::delete(ctx, &caller, id).await?;
            Ok(Reply::NoContent)
        }
        "POST /channels/{id}/messages" => {
            let body: SendBody = req.json()?;
            let text = required(body.body, "body")?;
            let sent = messages::send(
                ctx,
                &caller,
                id,
                &text,
                body.client_id.as_deref(),
                body.parent_id.as_deref(),
                &Origin::api(),
            )
            .await?;
            match sent {
                Sent::New(message) => Reply::created(&message),
                Sent::Duplicate(message) => Reply::ok(&message),
            }
        }
        "GET /channels/{id}/messages" => {
            let query = HistoryQuery {
                order: req.query("order"),
                q: req.query("q"),
                role: req.query("role"),
                parent_id: req.query("parent_id"),
            };
            Reply::ok(&messages::history(ctx, &caller, id, query, &req.page()?).await?)
        }
        "GET /channels/{id}/messages/{mid}" => {
            Reply::ok(&messages::get(ctx, &caller, id, req.path_param("mid")).await?)
        }
        "PATCH /channels/{id}/messages/{mid}" => {
            let body: EditBody = req.json()?;
            let text = required(body.body, "body")?;
            Reply::ok(&messages::edit(ctx, &caller, id, req.path_param("mid"), &text).await?)
        }
        "DELETE /channels/{id}/messages/{mid}" => {
            messages::delete(ctx, &caller, id, req.path_param("mid")).await?;
            Ok(Reply::NoContent)
        }
        "GET /channels/{id}/messages/{mid}/replies" => {
            let page = req.page()?;
            Reply::ok(&messages::replies(ctx, &caller, id, req.path_param("mid"), &page).await?)
        }
        "PUT /channels/{id}/messages/{mid}/reactions/{emoji}"
        | "DELETE /channels/{id}/messages/{mid}/reactions/{emoji}" => {
            let add = route.starts_with("PUT");
            let (mid, emoji) = (req.path_param("mid"), req.path_param("emoji"));
            Reply::ok(&messages::react(ctx, &caller, id, mid, emoji, add).await?)
        }
        "POST /channels/{id}/read" => {
            let body: ReadBody = req.json()?;
            let message = required(body.message_id, "message_id")?;
            Reply::ok(&messages::mark_read(ctx, &caller, id, &message, &Origin::api()).await?)
        }
        "GET /channels/{id}/read-receipts" => {
            Reply::ok(&messages::read_receipts(ctx, &caller, id).await?)
        }
        _ => Err(AppError::not_found("no such route")),
    }
}
