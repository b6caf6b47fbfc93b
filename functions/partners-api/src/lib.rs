//! `partners-api`: partner requests and partnerships. Handlers parse, call
//! `shared::service::partners`, and map the result.

use std::convert::Infallible;

use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use shared::domain::{Decision, StatusFilter};
use shared::http::{serve, ApiRequest, Reply};
use shared::service::partners;
use shared::storage::RequestDirection;
use shared::{AppContext, AppError};

/// The Lambda handler: every request gets a contract response, never an `Err`.
pub async fn handle(ctx: &AppContext, request: Request) -> Result<Response<Body>, Infallible> {
    Ok(serve(request, shared::routes::PARTNERS_API, async |req| {
        dispatch(ctx, req).await
    })
    .await)
}

#[derive(Deserialize)]
struct NewRequestBody {
    recipient_id: Option<String>,
    message: Option<String>,
}

async fn dispatch(ctx: &AppContext, req: &ApiRequest) -> Result<Reply, AppError> {
    let route = req.route_key();
    let caller = req.caller(ctx)?;
    match route {
        "POST /partner-requests" => {
            let body: NewRequestBody = req.json()?;
            let recipient = body
                .recipient_id
                .ok_or_else(|| AppError::invalid_field("recipient_id", "is required"))?;
            let request =
                partners::send_request(ctx, &caller, &recipient, body.message.as_deref()).await?;
            Reply::created(&request)
        }
        "GET /partner-requests/received" | "GET /partner-requests/sent" => {
            let direction = if route.ends_with("received") {
                RequestDirection::Received
            } else {
                RequestDirection::Sent
            };
            let filter = StatusFilter::parse(req.query("status"))?;
            let page = req.page()?;
            Reply::ok(&partners::list_requests(ctx, &caller, direction, filter, &page).await?)
        }
        "POST /partner-requests/{id}/accept" => Reply::ok(
            &partners::respond(ctx, &caller, req.path_param("id"), Decision::Accept).await?,
        ),
        "POST /partner-requests/{id}/reject" => Reply::ok(
            &partners::respond(ctx, &caller, req.path_param("id"), Decision::Reject).await?,
        ),
        "DELETE /partner-requests/{id}" => {
            partners::cancel(ctx, &caller, req.path_param("id")).await?;
            Ok(Reply::NoContent)
        }
        "GET /partnerships" => {
            Reply::ok(&partners::list_partnerships(ctx, &caller, &req.page()?).await?)
        }
        "DELETE /partnerships/{user_id}" => {
            partners::end_partnership(ctx, &caller, req.path_param("user_id")).await?;
            Ok(Reply::NoContent)
        }
        _ => Err(AppError::not_found("no such route")),
    }
}
