//! Real-time delivery: a domain event goes to its audience's user ids, then to their live
//! connections (one profile read per recipient, never a Scan), then to `PostToConnection`
//! calls made concurrently with a bound. A 410 deletes that connection on first sight (the
//! profile's change then tells its contacts, through the stream, if it went offline).
//!
//! Who pushes is the change's `Pusher`: the request itself for small channels (it answers
//! after its pushes, because a Lambda function is frozen once it answers), or the event
//! router, which splits the audience into fan-out jobs (`chunks`). A push the request could
//! not make is written to the table as a push retry, which the router hands to the fan-out
//! worker: a failing push API delays pushes, never loses them.

use futures::{stream, StreamExt};
use serde::Serialize;

pub use crate::connections_api::{ConnectionsApi, Delivery};

use crate::domain::{ChannelId, ConnectionId, Pusher, Timestamp, UserId};
use crate::error::AppError;
use crate::events::{Audience, DomainEvent};
use crate::queue::{FanoutJob, Targets, WebhookEvent};
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

/// What one delivery did (for logs and the benchmark).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Delivered {
    pub recipients: usize,
    pub connections: usize,
    pub delivered: usize,
    pub gone: usize,
    pub failed: usize,
}

/// What pushing to a set of connections did, connection by connection.
#[derive(Debug, Default)]
pub struct Pushed {
    pub report: Delivered,
    /// Delivered, or gone (410): nothing more to do for these.
    pub settled: Vec<ConnectionId>,
    /// To try again.
    pub failed: Vec<(UserId, ConnectionId)>,
}

/// Publishes a committed change. A message sent over WebSocket is acked to its sending
/// connection first (before the fan-out, so the sender does not wait for it). When the
/// request is the change's pusher, its audience's connections get it now, and those the push
/// API failed for are recorded for a retry; otherwise the router pushes it from the stream.
pub async fn publish(ctx: &AppContext, origin: &Origin, event: DomainEvent, pusher: Pusher) {
    ack(ctx, origin, &event).await;
    if pusher == Pusher::Router {
        return;
    }
    ctx.events.publish(event.clone());
    let pushed = match deliver(ctx, origin, &event).await {
        Ok(pushed) => pushed,
        Err(err) => {
            // The audience could not be read: the whole event goes to the retry record,
            // whose fan-out reads it again.
            tracing::warn!(event = event.kind(), error = %err.log_detail(), "inline push failed");
            retry_later(ctx, &event, Vec::new()).await;
            return;
        }
    };
    tracing::debug!(event = event.kind(), report = ?pushed.report, "pushed");
    if !pushed.failed.is_empty() {
        retry_later(ctx, &event, pushed.failed).await;
    }
}

/// Publishes what is never stored (`typing`): pushed now by whoever the channel's size says,
/// at most once, and sent to the webhook; lost if a dependency is down, like the keystroke.
pub async fn publish_ephemeral(
    ctx: &AppContext,
    origin: &Origin,
    event: DomainEvent,
    pusher: Pusher,
) {
    let event_id = uuid::Uuid::now_v7().to_string();
    if ctx.config.webhook.is_some() {
        let sent = match WebhookEvent::of(event_id.clone(), &event, Timestamp::now()) {
            Ok(webhook) => ctx.webhooks.send(&webhook).await,
            Err(err) => Err(err),
        };
        if let Err(err) = sent {
            tracing::warn!(event = event.kind(), error = %err.log_detail(), "webhook of an ephemeral event not queued");
        }
    }
    ctx.events.publish(event.clone());
    let pushed = match pusher {
        Pusher::Request => deliver(ctx, origin, &event).await.map(|_| ()),
        Pusher::Router => match recipients(ctx, event.audience()).await {
            Ok(users) => {
                let jobs = chunks(ctx, &event_id, &event, users, None);
                ctx.fanout.send_all(&jobs).await
            }
            Err(err) => Err(err),
        },
    };
    if let Err(err) = pushed {
        tracing::warn!(event = event.kind(), error = %err.log_detail(), "ephemeral event not pushed");
    }
}

/// Who gets a streaming reply's deltas: the channel's members, read once, and their live
/// connections, read again on `refresh` (so a device that connects mid-reply joins in).
/// Deltas are pushed at most once and never retried: the stored body and the final
/// `message.updated` carry the whole text to whoever missed one.
pub struct StreamAudience {
    members: Vec<UserId>,
    connections: Vec<(UserId, ConnectionId)>,
}

impl StreamAudience {
    pub async fn of(ctx: &AppContext, channel: &ChannelId) -> Result<Self, AppError> {
        let everyone = Audience::Channel {
            channel_id: channel.clone(),
            except: None,
            also: None,
        };
        let members = recipients(ctx, everyone).await?;
        let mut audience = Self {
            members,
            connections: Vec::new(),
        };
        audience.refresh(ctx).await?;
        Ok(audience)
    }

    pub async fn refresh(&mut self, ctx: &AppContext) -> Result<(), AppError> {
        self.connections = ctx.store.live_connections(&self.members, None).await?;
        Ok(())
    }

    pub async fn push(&mut self, ctx: &AppContext, event: &DomainEvent) {
        let Some(endpoint) = ctx.config.websocket_endpoint.as_deref() else {
            return;
        };
        match push_to(ctx, endpoint, event, self.connections.clone()).await {
            // `push_to` forgot the gone ones: read who is left.
            Ok(pushed) if pushed.report.gone > 0 => {
                if let Err(err) = self.refresh(ctx).await {
                    tracing::warn!(error = %err.log_detail(), "delta audience not refreshed");
                }
            }
            Ok(_) => {}
            Err(err) => {
                tracing::warn!(event = event.kind(), error = %err.log_detail(), "delta not pushed")
            }
        }
    }
}

/// The sending connection of a WebSocket `sendMessage` gets its `ack`.
async fn ack(ctx: &AppContext, origin: &Origin, event: &DomainEvent) {
    if let (DomainEvent::MessageCreated { message, .. }, Some(connection), Some(endpoint)) =
        (event, &origin.connection, origin.endpoint(ctx))
    {
        let ack = ReplyFrame::Ack {
            client_id: message.client_id.clone(),
            message: Box::new(message.clone()),
        };
        reply(ctx, endpoint, connection, Some(&message.sender.id), &ack).await;
    }
}

/// Writes the pushes to retry to the table (empty `connections`: the whole audience).
async fn retry_later(
    ctx: &AppContext,
    event: &DomainEvent,
    connections: Vec<(UserId, ConnectionId)>,
) {
    let attempt = uuid::Uuid::now_v7().to_string();
    let connections = if connections.is_empty() {
        match recipients(ctx, event.audience()).await {
            Ok(users) => match ctx.store.live_connections(&users, event.actor()).await {
                Ok(connections) => connections,
                Err(err) => return lost(event, &err.into()),
            },
            Err(err) => return lost(event, &err),
        }
    } else {
        connections
    };
    if let Err(err) = ctx
        .store
        .record_push_retry(&attempt, event, &connections)
        .await
    {
        lost(event, &err.into());
    }
}

fn lost(event: &DomainEvent, err: &AppError) {
    tracing::error!(event = event.kind(), error = %err.log_detail(), "pushes neither made nor recorded for a retry");
}

/// Delivers one event to its audience's live connections, now.
pub async fn deliver(
    ctx: &AppContext,
    origin: &Origin,
    event: &DomainEvent,
) -> Result<Pushed, AppError> {
    let Some(endpoint) = origin.endpoint(ctx) else {
        tracing::debug!(
            event = event.kind(),
            "no WebSocket endpoint configured; nothing pushed"
        );
        return Ok(Pushed::default());
    };
    let recipients = recipients(ctx, event.audience()).await?;
    let connections = ctx
        .store
        .live_connections(&recipients, event.actor())
        .await?;
    // The sending connection of a WebSocket `sendMessage` gets its `ack` instead; the one
    // that sent a `markRead` knows already.
    let skip = match event {
        DomainEvent::MessageCreated { .. } | DomainEvent::ReadReceipt { .. } => {
            origin.connection.as_ref()
        }
        _ => None,
    };
    let targets: Vec<(UserId, ConnectionId)> = connections
        .into_iter()
        .filter(|(_, id)| Some(id) != skip)
        .collect();
    let mut pushed = push_to(ctx, endpoint, event, targets).await?;
    pushed.report.recipients = recipients.len();
    Ok(pushed)
}

/// Runs one fan-out job: the connections of its users (or the ones it names), minus those an
/// earlier run of the same job reached (its delivery ledger). `Err` when some pushes failed:
/// the queue delivers the job again, and only those are tried then.
pub async fn run_fanout(ctx: &AppContext, job: &FanoutJob) -> Result<Delivered, AppError> {
    use crate::storage::Ledger;

    let mut settled = match ctx.store.ledger(&job.job_id).await? {
        Ledger::Done => return Ok(Delivered::default()),
        Ledger::Partial(settled) => settled,
        Ledger::New => Default::default(),
    };
    let pushed = push_chunk(ctx, job, &settled).await?;
    if pushed.failed.is_empty() {
        ctx.store.record_ledger(&job.job_id, &Ledger::Done).await?;
        return Ok(pushed.report);
    }
    settled.extend(pushed.settled);
    ctx.store
        .record_ledger(&job.job_id, &Ledger::Partial(settled))
        .await?;
    Err(AppError::Unavailable("the push API"))
}

/// The pushes of one fan-out job: its users' live connections (or the connections it names),
/// minus those settled by an earlier run.
async fn push_chunk(
    ctx: &AppContext,
    job: &FanoutJob,
    settled: &std::collections::BTreeSet<ConnectionId>,
) -> Result<Pushed, AppError> {
    let Some(endpoint) = ctx.config.websocket_endpoint.as_deref() else {
        tracing::debug!(
            job = job.job_id,
            "no WebSocket endpoint configured; nothing pushed"
        );
        return Ok(Pushed::default());
    };
    let (recipients, targets) = match &job.targets {
        Targets::Users { user_ids, skip } => {
            let connections = ctx
                .store
                .live_connections(user_ids, job.event.actor())
                .await?;
            let targets = connections
                .into_iter()
                .filter(|(_, id)| Some(id) != skip.as_ref())
                .collect();
            (user_ids.len(), targets)
        }
        Targets::Connections { connections } => (connections.len(), connections.clone()),
    };
    let targets: Vec<_> = targets
        .into_iter()
        .filter(|(_, id)| !settled.contains(id))
        .collect();
    ctx.events.publish(job.event.clone());
    let mut pushed = push_to(ctx, endpoint, &job.event, targets).await?;
    pushed.report.recipients = recipients;
    Ok(pushed)
}

/// Pushes `event` to each connection (`PUSH_CONCURRENCY` at a time); forgets the gone ones.
pub async fn push_to(
    ctx: &AppContext,
    endpoint: &str,
    event: &DomainEvent,
    targets: Vec<(UserId, ConnectionId)>,
) -> Result<Pushed, AppError> {
    let frame = serde_json::to_vec(event).map_err(AppError::internal)?;
    let mut pushed = Pushed::default();
    pushed.report.connections = targets.len();
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
    let mut gone = Vec::new();
    for (user, id, outcome) in outcomes {
        match outcome {
            Ok(Delivery::Delivered) => {
                pushed.report.delivered += 1;
                pushed.settled.push(id);
            }
            Ok(Delivery::Gone) => {
                pushed.report.gone += 1;
                pushed.settled.push(id.clone());
                gone.push((user, id));
            }
            Err(err) => {
                pushed.report.failed += 1;
                tracing::warn!(connection = %id, error = %err.log_detail(), "push to a connection failed");
                pushed.failed.push((user, id));
            }
        }
    }
    // The gone ones are forgotten all at once, not one after another.
    stream::iter(gone)
        .for_each_concurrent(PUSH_CONCURRENCY, |(user, id)| async move {
            if let Err(err) = forget_gone_connection(ctx, &user, &id).await {
                tracing::warn!(connection = %id, error = %err.log_detail(), "forgetting a gone connection failed");
            }
        })
        .await;
    Ok(pushed)
}

/// Splits an audience into fan-out jobs of at most `FANOUT_CHUNK_USERS` users each, which
/// the fan-out worker runs in parallel.
pub fn chunks(
    ctx: &AppContext,
    event_id: &str,
    event: &DomainEvent,
    users: Vec<UserId>,
    skip: Option<ConnectionId>,
) -> Vec<FanoutJob> {
    users
        .chunks(ctx.config.limits.fanout_chunk_users.max(1))
        .enumerate()
        .map(|(n, chunk)| FanoutJob {
            job_id: format!("{event_id}#{n}"),
            event: event.clone(),
            targets: Targets::Users {
                user_ids: chunk.to_vec(),
                skip: skip.clone(),
            },
        })
        .collect()
}

/// Deletes a connection the management API called gone, unless it may still be in its
/// `$connect` (API Gateway answers 410 until the handshake completes).
pub async fn forget_gone_connection(
    ctx: &AppContext,
    user: &UserId,
    id: &ConnectionId,
) -> Result<(), AppError> {
    if let Some(record) = ctx.store.connection(id).await? {
        if record.may_still_be_connecting(Timestamp::now()) {
            tracing::info!(connection = %id, "410 during the connect grace period; kept");
            return Ok(());
        }
    }
    ctx.store
        .close_connection(user, id, Timestamp::now())
        .await?;
    Ok(())
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
        (Ok(Delivery::Gone), Some(user)) => {
            if let Err(err) = forget_gone_connection(ctx, user, connection).await {
                tracing::warn!(error = %err.log_detail(), "forgetting a gone connection failed")
            }
        }
        (Ok(_), _) => {}
        (Err(err), _) => {
            tracing::warn!(connection = %connection, error = %err.log_detail(), "reply failed")
        }
    }
}

/// The user ids an audience stands for: a channel's members (every page), a user's contacts
/// (partners, and co-members of channels up to `PRESENCE_MAX_CHANNEL_MEMBERS`), or users.
pub async fn recipients(ctx: &AppContext, audience: Audience) -> Result<Vec<UserId>, AppError> {
    match audience {
        Audience::Users(users) => Ok(users),
        Audience::ContactsOf(user) => Ok(ctx
            .store
            .contacts(&user, ctx.config.limits.presence_max_channel_members)
            .await?),
        Audience::Channel {
            channel_id,
            except,
            also,
        } => {
            let members = ctx.store.channel_member_ids(&channel_id).await?;
            Ok(members
                .into_iter()
                .chain(also)
                .filter(|user| Some(user) != except.as_ref() && user.as_str() != UserId::ASSISTANT)
                .collect())
        }
    }
}
