//! `$default`: every client frame, routed on `action`. Answers go to the sending connection
//! through `@connections` (`ack`, `pong`, `error`); a bad frame gets an `error` frame and the
//! connection stays open.

use std::convert::Infallible;

use aws_lambda_events::apigw::ApiGatewayProxyResponse;
use shared::domain::{Caller, Channel, UserId};
use shared::error::AppError;
use shared::realtime::{self, Origin};
use shared::service::messages::{self, Draft, Sent};
use shared::service::realtime as connections;
use shared::websocket::{
    error_response, response, ClientFrame, ReplyFrame, WebSocketEvent, WsRequest,
};
use shared::AppContext;

pub async fn handle(
    ctx: &AppContext,
    event: WebSocketEvent,
) -> Result<ApiGatewayProxyResponse, Infallible> {
    let binary = event.is_base64_encoded;
    let request = match WsRequest::new(event) {
        Ok(request) => request,
        Err(err) => return Ok(error_response(&err, "-")),
    };
    let caller = match connections::connection_caller(ctx, &request.connection_id).await {
        Ok(caller) => caller,
        Err(err) => {
            // A socket whose connection is not (or no longer) registered cannot act: say why,
            // then close it so the client reconnects.
            reply_error(ctx, &request, None, &err, None).await;
            if let Err(err) = ctx
                .connections
                .close(&request.endpoint, &request.connection_id)
                .await
            {
                tracing::warn!(error = %err.log_detail(), "closing an unregistered connection failed");
            }
            return Ok(response(200, None));
        }
    };
    let frame = if binary {
        Err(shared::websocket::BadFrame {
            error: AppError::BadRequest("frames are JSON text, not binary".into()),
            client_id: None,
        })
    } else {
        ClientFrame::parse(request.body())
    };
    let reply = match frame {
        Ok(frame) => act(ctx, &request, &caller, frame).await,
        Err(bad) => Some(ReplyFrame::error(&bad.error, bad.client_id)),
    };
    if let Some(reply) = reply {
        if let ReplyFrame::Error { code, message, .. } = &reply {
            tracing::info!(request_id = %request.request_id, code, message, "frame refused");
        }
        realtime::reply(
            ctx,
            &request.endpoint,
            &request.connection_id,
            Some(&caller.id),
            &reply,
        )
        .await;
    }
    // Ignored by API Gateway (no route response is configured); the answer went out above.
    Ok(response(200, None))
}

/// Performs one frame; what to answer the sender, if anything.
async fn act(
    ctx: &AppContext,
    request: &WsRequest,
    user: &Caller,
    frame: ClientFrame,
) -> Option<ReplyFrame> {
    let origin = Origin {
        endpoint: Some(request.endpoint.clone()),
        connection: Some(request.connection_id.clone()),
    };
    let failed = |err: AppError, client_id: Option<String>| {
        if err.status() >= 500 {
            tracing::error!(request_id = %request.request_id, error = %err.log_detail(), "frame failed");
        }
        Some(ReplyFrame::error(&err, client_id))
    };
    match frame {
        ClientFrame::Ping => Some(ReplyFrame::Pong),
        ClientFrame::SendMessage {
            channel_id,
            body,
            client_id,
            parent_id,
            mention_ids,
            attachment_ids,
        } => {
            let sent = async {
                let channel = Channel::parse_id(&channel_id)?;
                let draft = Draft {
                    body: &body,
                    client_id: client_id.as_deref(),
                    parent_id: parent_id.as_deref(),
                    mention_ids: &mention_ids,
                    attachment_ids: &attachment_ids,
                };
                messages::send(ctx, user, &channel, &draft, &origin).await
            }
            .await;
            match sent {
                // Acked by the publication, before the fan-out.
                Ok(Sent::New(_)) => None,
                // Nothing is published for a repeat: ack the original here.
                Ok(Sent::Duplicate(message)) => Some(ReplyFrame::Ack {
                    client_id: message.client_id.clone(),
                    message: Box::new(message),
                }),
                Err(err) => failed(err, client_id),
            }
        }
        ClientFrame::Typing {
            channel_id,
            is_typing,
        } => match async {
            let channel = Channel::parse_id(&channel_id)?;
            messages::typing(ctx, user, &channel, is_typing, &origin).await
        }
        .await
        {
            Ok(()) => None,
            Err(err) => failed(err, None),
        },
        ClientFrame::MarkRead {
            channel_id,
            message_id,
        } => match async {
            let channel = Channel::parse_id(&channel_id)?;
            messages::mark_read(ctx, user, &channel, &message_id, &origin).await
        }
        .await
        {
            Ok(_) => None,
            Err(err) => failed(err, None),
        },
    }
}

async fn reply_error(
    ctx: &AppContext,
    request: &WsRequest,
    user: Option<&UserId>,
    err: &AppError,
    client_id: Option<String>,
) {
    tracing::info!(request_id = %request.request_id, error = %err.log_detail(), "frame refused");
    let frame = ReplyFrame::error(err, client_id);
    realtime::reply(ctx, &request.endpoint, &request.connection_id, user, &frame).await;
}
