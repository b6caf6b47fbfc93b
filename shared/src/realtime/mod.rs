//! Real-time delivery: a domain event goes to its audience's user ids, then to their live
//! connections (one profile read per recipient, never a Scan), then to `PostToConnection`
//! calls made concurrently with a bound. A 410 deletes that connection on first sight (and,
//! if it was the user's last, tells its contacts it went offline).
//!
//! Pushes happen before the request returns: a Lambda function is frozen once it answers, so
//! work left running would stall until the next invocation. A failed push is logged and never
//! fails the change that caused it, which is already committed.

use std::collections::VecDeque;

use futures::{stream, StreamExt};
use serde::Serialize;

pub use crate::connections_api::{ConnectionsApi, Delivery};

use crate::domain::{ConnectionId, Timestamp, UserId};
use crate::error::AppError;
use crate::events::{Audience, DomainEvent};
use crate::websocket::ReplyFrame;
use crate::AppContext;

/// How many `PostToConnection` calls one fan-out keeps in flight.
pub const PUSH_CONCURRENCY: usize = 64;

/// Where a change came from, as far as pushes care.
#[derive(Clone, Debug, Default)]
pub struct Origin {
    /// The management endpoint of the WebSocket API the request arrived on; pushes caused by
    /// REST requests use the configured `WEBSOCKET_API_ENDPOINT`.
    pub endpoint: Option<String>,
    /// The connection that sent the change over WebSocket; a new message is acked to it
    /// rather than pushed.
    pub connection: Option<ConnectionId>,
}

impl Origin {
    /// A change made through the REST API.
    pub fn api() -> Self {
        Self::default()
    }

    /// A change made by the WebSocket API at `endpoint` (not by a connection's frame).
    pub fn api_at(endpoint: &str) -> Self {
        Self {
            endpoint: Some(endpoint.to_string()),
            connection: None,
        }
    }

    fn endpoint<'a>(&'a self, ctx: &'a AppContext) -> Option<&'a str> {
        self.endpoint
            .as_deref()
            .or(ctx.config.websocket_endpoint.as_deref())
    }
}

/// What one event's delivery did (for logs and the benchmark).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Delivered {
    pub recipients: usize,
    pub connections: usize,
    pub delivered: usize,
    pub gone: usize,
    pub failed: usize,
}

/// Publishes a committed change: to the in-process bus, then to every live connection of its
/// audience. A message sent over WebSocket is acked to its sending connection first (before
/// the fan-out, so the sender does not wait for it). Presence changes caused by 410 clean-ups
/// are published in turn.
pub async fn publish(ctx: &AppContext, origin: &Origin, event: DomainEvent) {
    if let (DomainEvent::MessageCreated { message, .. }, Some(connection), Some(endpoint)) =
        (&event, &origin.connection, origin.endpoint(ctx))
    {
        let ack = ReplyFrame::Ack {
            client_id: message.client_id.clone(),
            message: message.clone(),
        };
        reply(ctx, endpoint, connection, Some(&message.sender.id), &ack).await;
    }
    let mut pending = VecDeque::from([event]);
    while let Some(event) = pending.pop_front() {
        ctx.events.publish(event.clone());
        match deliver(ctx, origin, &event).await {
            Ok((report, offline)) => {
                tracing::debug!(event = event.kind(), ?report, "pushed");
                pending.extend(offline);
            }
            Err(err) => {
                tracing::warn!(event = event.kind(), error = %err.log_detail(), "push failed")
            }
        }
    }
}

/// Delivers one event; returns what happened and the `presence` events of users whose last
/// connection turned out to be gone.
pub async fn deliver(
    ctx: &AppContext,
    origin: &Origin,
    event: &DomainEvent,
) -> Result<(Delivered, Vec<DomainEvent>), AppError> {
    let Some(endpoint) = origin.endpoint(ctx) else {
        tracing::debug!(
            event = event.kind(),
            "no WebSocket endpoint configured; nothing pushed"
        );
        return Ok(Default::default());
    };
    let recipients = recipients(ctx, event.audience()).await?;
    let connections = ctx.store.live_connections(&recipients).await?;
    let frame = serde_json::to_vec(event).map_err(AppError::internal)?;
    // The sending connection of a WebSocket `sendMessage` gets its `ack` instead.
    let skip = match event {
        DomainEvent::MessageCreated { .. } => origin.connection.as_ref(),
        _ => None,
    };
    let mut report = Delivered {
        recipients: recipients.len(),
        ..Default::default()
    };
    let targets: Vec<(UserId, ConnectionId)> = connections
        .into_iter()
        .filter(|(_, id)| Some(id) != skip)
        .collect();
    report.connections = targets.len();
    let outcomes: Vec<_> = stream::iter(targets)
        .map(|(user, id)| {
            let frame = frame.clone();
            async move {
                let outcome = ctx.connections.post(endpoint, &id, frame).await;
                (user, id, outcome)
            }
        })
        .buffer_unordered(PUSH_CONCURRENCY)
        .collect()
        .await;
    let mut offline = Vec::new();
    for (user, id, outcome) in outcomes {
        match outcome {
            Ok(Delivery::Delivered) => report.delivered += 1,
            Ok(Delivery::Gone) => {
                report.gone += 1;
                match forget_gone_connection(ctx, &user, &id).await {
                    Ok(presence) => offline.extend(presence),
                    Err(err) => {
                        tracing::warn!(connection = %id, error = %err.log_detail(), "forgetting a gone connection failed")
                    }
                }
            }
            Err(err) => {
                report.failed += 1;
                tracing::warn!(connection = %id, error = %err.log_detail(), "push to a connection failed");
            }
        }
    }
    Ok((report, offline))
}

/// Deletes a connection the management API called gone, unless it may still be in its
/// `$connect` (API Gateway answers 410 until the handshake completes); the `presence` event to
/// publish if it was the user's last.
pub async fn forget_gone_connection(
    ctx: &AppContext,
    user: &UserId,
    id: &ConnectionId,
) -> Result<Option<DomainEvent>, AppError> {
    if let Some(record) = ctx.store.connection(id).await? {
        if record.may_still_be_connecting(Timestamp::now()) {
            tracing::info!(connection = %id, "410 during the connect grace period; kept");
            return Ok(None);
        }
    }
    forget_connection(ctx, user, id).await
}

/// Deletes a connection; the `presence` event to publish if it was the user's last.
pub async fn forget_connection(
    ctx: &AppContext,
    user: &UserId,
    id: &ConnectionId,
) -> Result<Option<DomainEvent>, AppError> {
    let closed = ctx
        .store
        .close_connection(user, id, Timestamp::now())
        .await?;
    Ok(closed
        .filter(|closed| closed.went_offline)
        .map(|closed| DomainEvent::Presence {
            user_id: user.clone(),
            online: false,
            last_seen: Some(closed.last_seen),
        }))
}

/// Sends a frame to one connection (an `ack`, `pong` or `error` to the sender). A gone
/// connection of a known user is forgotten.
pub async fn reply(
    ctx: &AppContext,
    endpoint: &str,
    connection: &ConnectionId,
    user: Option<&UserId>,
    frame: &impl Serialize,
) {
    let frame = match serde_json::to_vec(frame) {
        Ok(frame) => frame,
        Err(err) => {
            tracing::error!(error = %err, "unserializable frame");
            return;
        }
    };
    match (
        ctx.connections.post(endpoint, connection, frame).await,
        user,
    ) {
        (Ok(Delivery::Gone), Some(user)) => match forget_gone_connection(ctx, user, connection)
            .await
        {
            Ok(Some(presence)) => Box::pin(publish(ctx, &Origin::api_at(endpoint), presence)).await,
            Ok(None) => {}
            Err(err) => {
                tracing::warn!(error = %err.log_detail(), "forgetting a gone connection failed")
            }
        },
        (Ok(_), _) => {}
        (Err(err), _) => {
            tracing::warn!(connection = %connection, error = %err.log_detail(), "reply failed")
        }
    }
}

/// The user ids an audience stands for.
async fn recipients(ctx: &AppContext, audience: Audience) -> Result<Vec<UserId>, AppError> {
    match audience {
        Audience::Users(users) => Ok(users),
        Audience::ContactsOf(user) => Ok(ctx.store.contacts(&user).await?),
        Audience::Channel {
            channel_id,
            except,
            also,
        } => {
            let members = ctx.store.channel_members(&channel_id).await?;
            Ok(members
                .into_iter()
                .map(|member| member.user_id)
                .chain(also)
                .filter(|user| Some(user) != except.as_ref() && user.as_str() != UserId::ASSISTANT)
                .collect())
        }
    }
}
