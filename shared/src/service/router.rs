//! The event router: what each committed change causes. It reads the table's stream (the
//! outbox, see `storage::changes`) and hands every consequence to the queue of the worker that
//! carries it out: pushes (in chunks, to the fan-out worker), emails, assistant jobs, purges and
//! webhooks. A record is done only when all of its jobs are queued; otherwise it is retried,
//! and since every worker is idempotent a retry repeats nothing anyone sees.

use crate::domain::{
    Member, Membership, MessageRole, Partnership, Pusher, RequestStatus, Timestamp,
};
use crate::error::AppError;
use crate::events::DomainEvent;
use crate::queue::MAX_DELAY_SECONDS;
use crate::queue::{
    AssistantJob, FanoutJob, MaintenanceJob, NotificationEvent, NotificationKind, Targets,
    UploadJob, WebhookEvent,
};
use crate::realtime::{chunks, recipients};
use crate::service::{attachments, channels, digest, messages};
use crate::storage::changes::{Change, ChangeRecord};
use crate::AppContext;

/// Everything one record causes, queued together.
#[derive(Debug, Default)]
pub struct Outbox {
    pub fanout: Vec<FanoutJob>,
    pub emails: Vec<NotificationEvent>,
    pub assistant: Vec<AssistantJob>,
    pub maintenance: Vec<MaintenanceJob>,
    /// Maintenance jobs the queue holds back for a while (seconds).
    pub maintenance_later: Vec<(MaintenanceJob, u32)>,
    pub webhooks: Vec<WebhookEvent>,
}

impl Outbox {
    pub fn is_empty(&self) -> bool {
        self.fanout.is_empty()
            && self.emails.is_empty()
            && self.assistant.is_empty()
            && self.maintenance.is_empty()
            && self.maintenance_later.is_empty()
            && self.webhooks.is_empty()
    }

    /// Queues everything at once (one SendMessageBatch per ten jobs and queue).
    pub async fn send(&self, ctx: &AppContext) -> Result<(), AppError> {
        tokio::try_join!(
            ctx.fanout.send_all(&self.fanout),
            ctx.notifications.send_all(&self.emails),
            ctx.assistant.send_all(&self.assistant),
            ctx.maintenance.send_all(&self.maintenance),
            futures::future::try_join_all(
                self.maintenance_later
                    .iter()
                    .map(|(job, seconds)| ctx.maintenance.send_later(job, *seconds))
            ),
            ctx.webhooks.send_all(&self.webhooks),
        )?;
        Ok(())
    }
}

/// Routes one record: plans its consequences, then queues them.
pub async fn route(ctx: &AppContext, record: &ChangeRecord) -> Result<Outbox, AppError> {
    let mut outbox = Outbox::default();
    for (n, change) in record.changes.iter().enumerate() {
        // A record's own id for its first change, so ids stay short and stable.
        let event_id = match n {
            0 => record.event_id.clone(),
            n => format!("{}.{n}", record.event_id),
        };
        plan(ctx, &event_id, record.at, change, &mut outbox).await?;
    }
    if !outbox.is_empty() {
        outbox.send(ctx).await?;
    }
    Ok(outbox)
}

/// What one change causes.
async fn plan(
    ctx: &AppContext,
    event_id: &str,
    at: Timestamp,
    change: &Change,
    outbox: &mut Outbox,
) -> Result<(), AppError> {
    let event = |event: DomainEvent, pusher: Pusher| Planned {
        event_id,
        at,
        event,
        pusher,
        skip: None,
    };
    let planned = match change {
        Change::RequestSent(request) => {
            outbox.emails.push(NotificationEvent::for_request(
                NotificationKind::PartnerRequestCreated,
                request,
            ));
            event(
                DomainEvent::PartnerRequestReceived {
                    request: request.clone(),
                },
                Pusher::Router,
            )
        }
        Change::RequestAnswered(request) => match request.status {
            RequestStatus::Accepted => {
                outbox.emails.push(NotificationEvent::for_request(
                    NotificationKind::PartnerRequestAccepted,
                    request,
                ));
                let since = request.responded_at.unwrap_or(at);
                let partnership =
                    Partnership::between(&request.sender.id, &request.recipient.id, since);
                event(
                    DomainEvent::PartnerRequestAccepted {
                        request: request.clone(),
                        partnership,
                    },
                    Pusher::Router,
                )
            }
            RequestStatus::Rejected => event(
                DomainEvent::PartnerRequestRejected {
                    request: request.clone(),
                },
                Pusher::Router,
            ),
            RequestStatus::Cancelled | RequestStatus::Pending => return Ok(()),
        },
        Change::MessagePosted {
            message,
            pusher,
            origin,
            assistant_channel,
            direct_channel,
        } => {
            if *assistant_channel && message.role == MessageRole::User {
                outbox.assistant.push(AssistantJob {
                    channel_id: message.channel_id.clone(),
                    message_id: message.id.clone(),
                    requested_at: message.created_at,
                });
            }
            tokio::try_join!(
                record_activity(ctx, message, *pusher),
                digest::note_message(ctx, message, *direct_channel)
            )?;
            Planned {
                skip: origin.clone(),
                ..event(
                    DomainEvent::MessageCreated {
                        channel_id: message.channel_id.clone(),
                        message: messages::with_attachment_urls(ctx, message.clone()).await?,
                    },
                    *pusher,
                )
            }
        }
        Change::MessageEdited { message, pusher } => {
            ctx.store.refresh_last_message(message).await?;
            event(
                DomainEvent::MessageUpdated {
                    channel_id: message.channel_id.clone(),
                    message: messages::with_attachment_urls(ctx, message.clone()).await?,
                },
                *pusher,
            )
        }
        Change::MessageDeleted { message, pusher } => {
            ctx.store
                .forget_last_message(&message.channel_id, &message.id)
                .await?;
            // Its files go with it.
            if !message.attachments.is_empty() {
                outbox.maintenance.push(MaintenanceJob::DeleteUploads {
                    uploads: message
                        .attachments
                        .iter()
                        .map(|attachment| UploadJob {
                            channel_id: attachment.channel_id.clone(),
                            attachment_id: attachment.id.clone(),
                            uploader_id: attachment.uploader_id.clone(),
                        })
                        .collect(),
                });
            }
            event(
                DomainEvent::MessageDeleted {
                    channel_id: message.channel_id.clone(),
                    message_id: message.id.clone(),
                },
                *pusher,
            )
        }
        Change::SearchTextChanged {
            channel_id,
            message_id,
            change,
        } => {
            ctx.store
                .update_search_index(channel_id, message_id, change)
                .await?;
            return Ok(());
        }
        Change::ReactionsChanged { message, pusher } => event(
            DomainEvent::ReactionUpdated {
                channel_id: message.channel_id.clone(),
                message_id: message.id.clone(),
                reactions: message.reactions.clone(),
            },
            *pusher,
        ),
        Change::ReadMoved { marker, pusher } => event(
            DomainEvent::ReadReceipt {
                marker: marker.clone(),
            },
            *pusher,
        ),
        Change::MemberJoined(membership) => {
            // Its account went meanwhile: the clean-up takes the membership out again.
            let Some(member) = shown_member(ctx, membership).await? else {
                return Ok(());
            };
            event(
                DomainEvent::MemberJoined {
                    channel_id: membership.channel_id.clone(),
                    member,
                },
                Pusher::Router,
            )
        }
        Change::MemberLeft(membership) => {
            // A deleted channel's purge removes every membership: nobody is told.
            let (live, removed) = tokio::try_join!(
                ctx.store.get_channels(
                    std::slice::from_ref(&membership.channel_id),
                    crate::storage::Read::Consistent,
                ),
                ctx.store.was_removed(membership)
            )?;
            if live.is_empty() {
                return Ok(());
            }
            let (channel_id, user_id) = (membership.channel_id.clone(), membership.user_id.clone());
            let left = if removed {
                DomainEvent::MemberRemoved {
                    channel_id,
                    user_id,
                }
            } else {
                DomainEvent::MemberLeft {
                    channel_id,
                    user_id,
                }
            };
            event(left, Pusher::Router)
        }
        Change::MemberRoleChanged(membership) => {
            let Some(member) = shown_member(ctx, membership).await? else {
                return Ok(());
            };
            event(
                DomainEvent::MemberUpdated {
                    channel_id: membership.channel_id.clone(),
                    member,
                },
                Pusher::Router,
            )
        }
        Change::ChannelCreated(channel) => event(
            DomainEvent::ChannelCreated {
                channel: channels::founded(ctx, channel.clone()).await?,
            },
            Pusher::Router,
        ),
        Change::AttachmentSettled(attachment) => {
            if let Some(message) = &attachment.message_id {
                ctx.store.refresh_attached(message, attachment).await?;
            }
            let shown = attachments::with_urls(ctx, attachment.clone()).await?;
            event(
                DomainEvent::AttachmentUpdated {
                    channel_id: attachment.channel_id.clone(),
                    attachment: shown,
                },
                Pusher::Router,
            )
        }
        Change::ListMoveMarked(channel_id) => {
            outbox.maintenance_later.push((
                MaintenanceJob::MoveLists {
                    channel_id: channel_id.clone(),
                },
                ctx.config.limits.list_move_seconds,
            ));
            return Ok(());
        }
        Change::ChannelUpdated(channel) => event(
            DomainEvent::ChannelUpdated {
                channel: channels::shown(ctx, channel.clone()).await?,
            },
            Pusher::Router,
        ),
        Change::ChannelDeleted(channel_id) => {
            // The members are read for the push before the purge is queued (with it).
            outbox
                .maintenance
                .push(MaintenanceJob::purge_channel(channel_id));
            event(
                DomainEvent::ChannelDeleted {
                    channel_id: channel_id.clone(),
                },
                Pusher::Router,
            )
        }
        Change::AccountDeleted {
            user_id,
            connections,
        } => {
            outbox
                .maintenance
                .push(MaintenanceJob::purge_account(user_id, connections.clone()));
            return Ok(());
        }
        Change::MessageReported(notice) => {
            outbox.emails.push(NotificationEvent::for_report(notice));
            return Ok(());
        }
        Change::DigestScheduled { user_id, due_at } => {
            // Held back until due (a redelivered record late: less, or not at all).
            let wait =
                (due_at - Timestamp::now().unix_seconds()).clamp(0, i64::from(MAX_DELAY_SECONDS));
            outbox.maintenance_later.push((
                MaintenanceJob::SendDigest {
                    user_id: user_id.clone(),
                    due_at: *due_at,
                },
                wait as u32,
            ));
            return Ok(());
        }
        Change::DigestSent(notice) => {
            outbox.emails.push(NotificationEvent::for_digest(notice));
            return Ok(());
        }
        Change::VerificationCodeIssued(notice) => {
            outbox.emails.push(NotificationEvent::for_code(notice));
            return Ok(());
        }
        Change::SessionsEnded {
            user_id,
            connections,
        } => {
            outbox.maintenance.push(MaintenanceJob::close_connections(
                user_id,
                connections.clone(),
            ));
            return Ok(());
        }
        Change::ConnectionOpened { user_id, live } => {
            let cap = ctx.config.limits.max_connections_per_user as usize;
            if live.len() > cap {
                let oldest = live[..live.len() - cap].to_vec();
                outbox
                    .maintenance
                    .push(MaintenanceJob::close_connections(user_id, oldest));
            }
            return Ok(());
        }
        Change::PresenceChanged {
            user_id,
            online,
            last_seen,
        } => event(
            DomainEvent::Presence {
                user_id: user_id.clone(),
                online: *online,
                last_seen: *last_seen,
            },
            Pusher::Router,
        ),
        Change::PushRetry {
            event_id,
            event,
            connections,
        } => {
            // Its webhook went with the change itself.
            outbox.fanout.push(FanoutJob {
                job_id: format!("{event_id}#retry"),
                event: event.clone(),
                targets: Targets::Connections {
                    connections: connections.clone(),
                },
            });
            return Ok(());
        }
    };
    planned.into_jobs(ctx, outbox).await
}

/// A membership as channels show it (the member's current name), unless its account is gone.
async fn shown_member(
    ctx: &AppContext,
    membership: &Membership,
) -> Result<Option<Member>, AppError> {
    let users = ctx
        .store
        .get_users_for_display(std::slice::from_ref(&membership.user_id))
        .await?;
    Ok(users.get(&membership.user_id).map(|user| Member {
        user_id: membership.user_id.clone(),
        name: user.name.clone(),
        role: membership.role,
        joined_at: membership.joined_at,
    }))
}

/// A new message is the channel's newest: its channel item records it (the preview of every
/// member's list), and every member's list moves it to the top. A channel the request pushed
/// to has its members' lists moved here, for each message; a bigger one is marked, and one
/// move a moment later serves every message of that moment (its cost is a write per member,
/// and a busy channel of thousands would otherwise pay it per message). Every write is
/// conditional on nothing newer being recorded, so a redelivered record changes nothing.
async fn record_activity(
    ctx: &AppContext,
    message: &crate::domain::Message,
    pusher: Pusher,
) -> Result<(), AppError> {
    let lists = async {
        if pusher != Pusher::Request {
            return ctx.store.mark_lists_to_move(&message.channel_id).await;
        }
        let members = ctx.store.channel_member_ids(&message.channel_id).await?;
        ctx.store
            .bump_activity(
                &members,
                &message.id,
                &message.channel_id,
                message.created_at,
            )
            .await
    };
    tokio::try_join!(ctx.store.record_activity(message), lists)?;
    Ok(())
}

/// A pushed event and who pushes it.
struct Planned<'a> {
    event_id: &'a str,
    at: Timestamp,
    event: DomainEvent,
    pusher: Pusher,
    skip: Option<crate::domain::ConnectionId>,
}

impl Planned<'_> {
    /// The webhook of every pushed event; the pushes themselves when the router owns them.
    async fn into_jobs(self, ctx: &AppContext, outbox: &mut Outbox) -> Result<(), AppError> {
        if ctx.config.webhook.is_some() {
            outbox.webhooks.push(WebhookEvent::of(
                self.event_id.to_string(),
                &self.event,
                self.at,
            )?);
        }
        if self.pusher == Pusher::Router {
            let users = recipients(ctx, self.event.audience()).await?;
            outbox
                .fanout
                .extend(chunks(ctx, self.event_id, &self.event, users, self.skip));
        }
        Ok(())
    }
}
