//! `channels-api`: channels and membership. Handlers parse, call
//! `shared::service::channels`, and map the result.

use std::convert::Infallible;

use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use shared::domain::{ChannelKind, NewChannel};
use shared::http::{respond, ApiRequest, Reply};
use shared::service::channels::{self, Created};
use shared::{AppContext, AppError};

/// The Lambda handler: every request gets a contract response, never an `Err`.
pub async fn handle(ctx: &AppContext, request: Request) -> Result<Response<Body>, Infallible> {
    let request = ApiRequest::new(request);
    let result = dispatch(ctx, &request).await;
    Ok(respond(&request, result))
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

async fn dispatch(ctx: &AppContext, req: &ApiRequest) -> Result<Reply, AppError> {
    let route = req.route_key();
    if !shared::routes::ROUTES
        .iter()
        .any(|r| r.function == shared::routes::CHANNELS_API && r.key() == route)
    {
        return Err(AppError::not_found("no such route"));
    }
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
            let user = body
                .user_id
                .ok_or_else(|| AppError::invalid_field("user_id", "is required"))?;
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
        _ => Err(AppError::not_found("no such route")),
    }
}
