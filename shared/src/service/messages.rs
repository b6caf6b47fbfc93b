use serde::Serialize;

use super::existing_caller;
use super::refusals::{account_gone, blocked_conversation, no_longer_a_member};
use crate::domain::{
    not_members, parse_mentions, slow_mode_wait, AttachRefused, Attachment, AttachmentId, Caller,
    Channel, ChannelId, ChannelKind, ClientId, Counterpart, Emoji, Membership, Message,
    MessageBody, MessageId, MessageRole, NotFound, Order, Page, PageRequest, Pusher, RateLimit,
    ReadMarker, ReplyStatus, StopRefused, Timestamp, UserId, MAX_ATTACHMENTS_PER_MESSAGE,
    TYPING_PUSH_EVERY,
};
use crate::error::AppError;
use crate::events::DomainEvent;
use crate::realtime::{self, Origin};
use crate::storage::{
    HistoryFilter, Inserted, MessageContext, Posting, Reacted, Reaction, ReplyEnd,
};
use crate::AppContext;

/// A message as its sender writes it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Draft<'a> {
    pub body: &'a str,
    pub client_id: Option<&'a str>,
    pub parent_id: Option<&'a str>,
    /// Users the message mentions: members of the channel, at most `MAX_MENTIONS`.
    pub mention_ids: &'a [String],
    /// The sender's uploads of this channel it carries, at most `MAX_ATTACHMENTS_PER_MESSAGE`.
    pub attachment_ids: &'a [String],
}

/// Whether a send stored a new message or found the one sent before with the same
/// `client_id`.
pub enum Sent {
    New(Message),
    Duplicate(Message),
}

/// `GET /channels/{id}/messages` parameters, as received.
#[derive(Default)]
pub struct HistoryQuery<'a> {
    pub order: Option<&'a str>,
    pub q: Option<&'a str>,
    pub role: Option<&'a str>,
    pub parent_id: Option<&'a str>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ReadReceipts {
    pub items: Vec<ReadMarker>,
}

/// The checks every message route starts with: the caller's account, the channel, and
/// membership (404 for outsiders of a private channel, 403 of a public one).
pub(super) fn member_of<'a>(
    context: &'a MessageContext,
    caller: &Caller,
) -> Result<(&'a Channel, &'a Membership), AppError> {
    existing_caller(context.caller.clone(), caller)?;
    let channel = context.channel.as_ref().ok_or(NotFound::Channel)?;
    let membership = channel.ensure_member(context.membership.as_ref())?;
    Ok((channel, membership))
}

pub(super) fn live(message: Option<Message>) -> Result<Message, AppError> {
    message
        .filter(|m| m.deleted_at.is_none())
        .ok_or(NotFound::Message.into())
}

/// Sends a message: one read (channel, membership, caller, parent, `client_id` claim), one
/// transaction. The same `client_id` from the same sender in the same channel answers the
/// original message, also when the sends race. In an assistant channel the event router queues
/// the reply job, off the stream.
/// `origin` is the WebSocket connection of a `sendMessage` (which gets an ack instead of the push).
pub async fn send(
    ctx: &AppContext,
    caller: &Caller,
    channel_id: &ChannelId,
    draft: &Draft<'_>,
    origin: &Origin,
) -> Result<Sent, AppError> {
    let Draft {
        body,
        client_id,
        parent_id,
        mention_ids,
        attachment_ids,
    } = *draft;
    let attachment_ids = parse_attachment_ids(attachment_ids)?;
    let body = MessageBody::parse_with_attachments(body, attachment_ids.len())?;
    let mentioned = parse_mentions(mention_ids)?;
    let client_id = client_id.map(ClientId::parse).transpose()?;
    let parent_id = parent_id
        .map(|raw| MessageId::parse(raw).ok_or(NotFound::ParentMessage))
        .transpose()?;
    let limit = RateLimit {
        max: ctx.config.limits.send_burst,
        window_seconds: ctx.config.limits.send_window_seconds.into(),
    };
    // Another send of the same member committing in between moves its send window: the
    // checks run again on what it left.
    for _ in 0..SEND_ATTEMPTS {
        let context = ctx
            .store
            .send_context(
                channel_id,
                &caller.id,
                parent_id.as_ref(),
                client_id.as_ref(),
                &mentioned,
                &attachment_ids,
            )
            .await?;
        let (channel, membership) = member_of(&context, caller)?;
        if let Some(original) = &context.claimed {
            return original_message(ctx, channel_id, original).await;
        }
        let strangers: Vec<&str> = mentioned
            .iter()
            .filter(|user| *user != &caller.id && !context.mentioned_members.contains(*user))
            .map(UserId::as_str)
            .collect();
        if !strangers.is_empty() {
            return Err(not_members(strangers).into());
        }
        if context.blocked {
            return Err(blocked_conversation());
        }
        let attachments = attachments_to_take(&attachment_ids, &context.attachments, &caller.id)?;
        if parent_id.is_some() {
            let parent = context.message.as_ref().ok_or(NotFound::ParentMessage)?;
            parent.ensure_can_be_parent()?;
        }
        let sender = context.caller.as_ref().ok_or_else(account_gone)?;
        let now = Timestamp::now();
        if let Some(seconds) = channel.slow_mode_for(membership) {
            if let Some(wait) = slow_mode_wait(context.last_sent_at, now.unix_seconds(), seconds) {
                return Err(AppError::RateLimited {
                    message: "this channel is in slow mode; wait before sending again",
                    retry_after_seconds: wait,
                });
            }
        }
        let window = context
            .send_window
            .admit(now.unix_seconds(), limit)
            .map_err(sending_too_fast)?;
        let message = Message {
            id: MessageId::generate(),
            channel_id: channel_id.clone(),
            sender: Counterpart {
                id: sender.id.clone(),
                name: sender.name.clone(),
            },
            role: MessageRole::User,
            body: body.clone(),
            parent_id: parent_id.clone(),
            reply_count: 0,
            reactions: Default::default(),
            mentions: mentioned.iter().cloned().collect(),
            attachments: attachments.clone(),
            created_at: now,
            edited_at: None,
            client_id: client_id.clone(),
            status: None,
            deleted_at: None,
        };
        let posting = Posting {
            pusher: pusher_for(ctx, channel),
            origin: origin.connection.clone(),
            // The router queues the reply job off the stream: it cannot be lost.
            assistant_channel: channel.kind == ChannelKind::Assistant,
            direct_channel: channel.kind == ChannelKind::Direct,
            send_window: Some((context.send_window, window)),
            reply_quota: None,
        };
        match ctx.store.insert_message(&message, &posting).await? {
            Inserted::Duplicate(original) => {
                return original_message(ctx, channel_id, &original).await
            }
            Inserted::NotMember => return Err(no_longer_a_member()),
            Inserted::Blocked => return Err(blocked_conversation()),
            Inserted::ParentGone => return Err(NotFound::ParentMessage.into()),
            Inserted::WindowMoved => continue,
            // Put on another message, or checked, since the read: reading again tells
            // which (the first is refused, the second sent with the verdict).
            Inserted::AttachmentTaken => continue,
            // Only assistant replies are counted against a daily quota.
            Inserted::QuotaSpent => return Err(AppError::internal("a send hit the reply quota")),
            Inserted::New => {
                let message = with_attachment_urls(ctx, message).await?;
                let event = DomainEvent::MessageCreated {
                    channel_id: channel_id.clone(),
                    message: message.clone(),
                };
                realtime::publish(ctx, origin, event, posting.pusher).await;
                return Ok(Sent::New(message));
            }
        }
    }
    Err(sending_too_fast(1))
}

/// `attachment_ids` as given: attachment ids, at most `MAX_ATTACHMENTS_PER_MESSAGE`, each once.
fn parse_attachment_ids(raw: &[String]) -> Result<Vec<AttachmentId>, AppError> {
    if raw.len() > MAX_ATTACHMENTS_PER_MESSAGE {
        return Err(AppError::invalid_field(
            "attachment_ids",
            format!("at most {MAX_ATTACHMENTS_PER_MESSAGE} attachments"),
        ));
    }
    let mut ids = Vec::new();
    for id in raw {
        let id = AttachmentId::parse(id).ok_or_else(|| {
            AppError::invalid_field("attachment_ids", format!("{id} is not an attachment id"))
        })?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// The attachments a send takes, in the order asked: each the sender's own upload of this
/// channel, not rejected, on no other message (400 naming the first that is not).
fn attachments_to_take(
    ids: &[AttachmentId],
    found: &[Attachment],
    sender: &UserId,
) -> Result<Vec<Attachment>, AppError> {
    ids.iter()
        .map(|id| {
            let refused =
                |why: &str| AppError::invalid_field("attachment_ids", format!("{id}: {why}"));
            let attachment = found
                .iter()
                .find(|a| &a.id == id)
                .ok_or_else(|| refused("not an upload of yours in this channel"))?;
            attachment.ensure_attachable(sender).map_err(|refusal| {
                refused(match refusal {
                    AttachRefused::NotYours => "not an upload of yours in this channel",
                    AttachRefused::Rejected => "it was rejected",
                    AttachRefused::Taken => "it is on another message",
                })
            })?;
            Ok(attachment.clone())
        })
        .collect()
}

/// A message with download URLs for its ready attachments (signed here: no I/O).
pub async fn with_attachment_urls(
    ctx: &AppContext,
    mut message: Message,
) -> Result<Message, AppError> {
    let mut attachments = Vec::with_capacity(message.attachments.len());
    for attachment in std::mem::take(&mut message.attachments) {
        attachments.push(super::attachments::with_urls(ctx, attachment).await?);
    }
    message.attachments = attachments;
    Ok(message)
}

/// How often a send is checked again when the sender's other sends keep moving its window.
const SEND_ATTEMPTS: usize = 4;

fn sending_too_fast(retry_after_seconds: u64) -> AppError {
    AppError::RateLimited {
        message: "you are sending messages too fast in this channel",
        retry_after_seconds,
    }
}

/// Who pushes this channel's events (`domain::Pusher`).
pub fn pusher_for(ctx: &AppContext, channel: &Channel) -> Pusher {
    Pusher::for_channel(
        channel.member_count,
        ctx.config.limits.inline_push_max_members,
    )
}

async fn original_message(
    ctx: &AppContext,
    channel: &ChannelId,
    id: &MessageId,
) -> Result<Sent, AppError> {
    let message = ctx
        .store
        .get_message(channel, id)
        .await?
        .ok_or_else(|| AppError::internal("a client_id claim names a missing message"))?;
    if message.deleted_at.is_some() {
        return Err(AppError::conflict(
            "the message sent with this client_id has been deleted",
        ));
    }
    Ok(Sent::Duplicate(with_attachment_urls(ctx, message).await?))
}

/// One page of history (or of a thread with `parent_id`): the access check and the Query
/// run in parallel, so a page is one round trip. Messages of users the caller blocked are
/// left out.
pub async fn history(
    ctx: &AppContext,
    caller: &Caller,
    channel_id: &ChannelId,
    query: HistoryQuery<'_>,
    page: &PageRequest,
) -> Result<Page<Message>, AppError> {
    let order = Order::parse(query.order)?;
    let role = query.role.map(MessageRole::parse).transpose()?;
    let text = query
        .q
        .map(str::to_lowercase)
        .filter(|q| !q.trim().is_empty());
    if text.as_ref().is_some_and(|q| q.chars().count() > 200) {
        return Err(AppError::BadRequest(
            "q must be at most 200 characters".into(),
        ));
    }
    let thread = query.parent_id.map(Message::parse_id).transpose()?;
    let filter = HistoryFilter { text, role };
    let (context, messages) = tokio::try_join!(
        ctx.store
            .message_context(channel_id, &caller.id, thread.as_ref(), None),
        ctx.store
            .list_messages(channel_id, thread.as_ref(), order, &filter, page)
    )?;
    member_of(&context, caller)?;
    if thread.is_some() {
        live(context.message)?;
    }
    // The messages of users the caller blocked are left out (read with the same round trip:
    // the page may come back shorter than its limit; its cursor still goes on).
    let blocked = context.caller.map(|user| user.blocked).unwrap_or_default();
    let mut messages = messages;
    messages
        .items
        .retain(|message| !blocked.contains(&message.sender.id));
    let mut shown = Vec::with_capacity(messages.items.len());
    for message in messages.items {
        shown.push(with_attachment_urls(ctx, message).await?);
    }
    Ok(Page {
        items: shown,
        next_cursor: messages.next_cursor,
    })
}

/// A thread, oldest first.
pub async fn replies(
    ctx: &AppContext,
    caller: &Caller,
    channel_id: &ChannelId,
    parent: &MessageId,
    page: &PageRequest,
) -> Result<Page<Message>, AppError> {
    let query = HistoryQuery {
        order: Some("asc"),
        parent_id: Some(parent.as_str()),
        ..HistoryQuery::default()
    };
    history(ctx, caller, channel_id, query, page).await
}

pub async fn get(
    ctx: &AppContext,
    caller: &Caller,
    channel_id: &ChannelId,
    id: &MessageId,
) -> Result<Message, AppError> {
    let (message, _) = member_and_message(ctx, caller, channel_id, id).await?;
    with_attachment_urls(ctx, message).await
}

/// A route on one message's first step: the caller must be a member and the message live;
/// with who pushes the channel's events.
async fn member_and_message(
    ctx: &AppContext,
    caller: &Caller,
    channel_id: &ChannelId,
    id: &MessageId,
) -> Result<(Message, Pusher), AppError> {
    let context = ctx
        .store
        .message_context(channel_id, &caller.id, Some(id), None)
        .await?;
    let pusher = pusher_for(ctx, member_of(&context, caller)?.0);
    Ok((live(context.message)?, pusher))
}

/// Edits a message (sender only). Pushes `message.updated`.
pub async fn edit(
    ctx: &AppContext,
    caller: &Caller,
    channel_id: &ChannelId,
    id: &MessageId,
    body: &str,
) -> Result<Message, AppError> {
    let body = MessageBody::parse(body)?;
    let (message, pusher) = member_and_message(ctx, caller, channel_id, id).await?;
    message.ensure_can_edit(&caller.id)?;
    let edited = ctx
        .store
        .edit_message(&message, &caller.id, &body, Timestamp::now(), pusher)
        .await?
        .ok_or(NotFound::Message)?;
    publish_updated(ctx, &edited, pusher).await;
    with_attachment_urls(ctx, edited).await
}

/// Stops an assistant reply that is still streaming (any member). Pushes `message.updated`
/// with `status: "stopped"` and the text stored by then; its writer stops at its next store
/// and keeps the text it had streamed (`service::assistant`).
pub async fn stop_reply(
    ctx: &AppContext,
    caller: &Caller,
    channel_id: &ChannelId,
    id: &MessageId,
) -> Result<Message, AppError> {
    let (message, pusher) = member_and_message(ctx, caller, channel_id, id).await?;
    ReplyStatus::ensure_can_stop(message.status)?;
    let end = ReplyEnd {
        from: ReplyStatus::Streaming,
        status: ReplyStatus::Stopped,
        body: None,
        pusher,
    };
    let stopped = ctx
        .store
        .end_reply(channel_id, id, end)
        .await?
        .ok_or(StopRefused::NotStreaming)?;
    publish_updated(ctx, &stopped, pusher).await;
    Ok(stopped)
}

/// Pushes a changed message as `message.updated` (by `pusher`).
pub(super) async fn publish_updated(ctx: &AppContext, message: &Message, pusher: Pusher) {
    let updated = DomainEvent::MessageUpdated {
        channel_id: message.channel_id.clone(),
        message: message.clone(),
    };
    realtime::publish(ctx, &Origin::api(), updated, pusher).await;
}

/// Soft-deletes a message (sender or channel owner). Pushes `message.deleted`.
pub async fn delete(
    ctx: &AppContext,
    caller: &Caller,
    channel_id: &ChannelId,
    id: &MessageId,
) -> Result<(), AppError> {
    let context = ctx
        .store
        .message_context(channel_id, &caller.id, Some(id), None)
        .await?;
    let (channel, membership) = member_of(&context, caller)?;
    let pusher = pusher_for(ctx, channel);
    let message = live(context.message.clone())?;
    message.ensure_can_delete(membership)?;
    if !ctx
        .store
        .delete_message(&message, Timestamp::now(), pusher)
        .await?
    {
        return Err(NotFound::Message.into());
    }
    realtime::publish(
        ctx,
        &Origin::api(),
        DomainEvent::MessageDeleted {
            channel_id: channel_id.clone(),
            message_id: message.id,
        },
        pusher,
    )
    .await;
    Ok(())
}

/// Adds (`add`) or removes the caller's reaction; idempotent. Pushes `reaction.updated`.
pub async fn react(
    ctx: &AppContext,
    caller: &Caller,
    channel_id: &ChannelId,
    id: &MessageId,
    emoji: &Emoji,
    add: bool,
) -> Result<Message, AppError> {
    let context = ctx
        .store
        .message_context(channel_id, &caller.id, None, None)
        .await?;
    let pusher = pusher_for(ctx, member_of(&context, caller)?.0);
    let reaction = Reaction {
        emoji,
        user: &caller.id,
        add,
        max_distinct: ctx.config.limits.max_distinct_reactions,
    };
    let message = match ctx.store.react(channel_id, id, reaction, pusher).await? {
        Reacted::Updated(message) => *message,
        Reacted::MessageGone => return Err(NotFound::Message.into()),
        Reacted::TooManyEmoji => {
            return Err(AppError::conflict(
                "this message already has as many different reactions as it may hold",
            ))
        }
    };
    realtime::publish(
        ctx,
        &Origin::api(),
        DomainEvent::ReactionUpdated {
            channel_id: channel_id.clone(),
            message_id: message.id.clone(),
            reactions: message.reactions.clone(),
        },
        pusher,
    )
    .await;
    with_attachment_urls(ctx, message).await
}

/// Moves the caller's read marker forward to `message_id` (never back). Pushes `read_receipt`
/// when it moved.
pub async fn mark_read(
    ctx: &AppContext,
    caller: &Caller,
    channel_id: &ChannelId,
    message: &str,
    origin: &Origin,
) -> Result<ReadMarker, AppError> {
    let id = Message::parse_id(message)?;
    let context = ctx
        .store
        .message_context(channel_id, &caller.id, Some(&id), None)
        .await?;
    let pusher = pusher_for(ctx, member_of(&context, caller)?.0);
    live(context.message)?;
    let (marker, moved) = ctx
        .store
        .mark_read(channel_id, &caller.id, &id, Timestamp::now(), pusher)
        .await?
        .ok_or_else(no_longer_a_member)?;
    if moved {
        let event = DomainEvent::ReadReceipt {
            marker: marker.clone(),
        };
        realtime::publish(ctx, origin, event, pusher).await;
    }
    Ok(marker)
}

/// Tells the other members that the caller is (or stopped) typing; nothing is stored.
pub async fn typing(
    ctx: &AppContext,
    caller: &Caller,
    channel_id: &ChannelId,
    is_typing: bool,
    origin: &Origin,
) -> Result<(), AppError> {
    let context = ctx
        .store
        .message_context(channel_id, &caller.id, None, None)
        .await?;
    let (channel, _) = member_of(&context, caller)?;
    // At most one push per user and channel every `TYPING_PUSH_EVERY`: the rest are dropped.
    let claimed = ctx
        .store
        .claim_typing(channel_id, &caller.id, Timestamp::now(), TYPING_PUSH_EVERY)
        .await?;
    if !claimed {
        return Ok(());
    }
    let event = DomainEvent::Typing {
        channel_id: channel_id.clone(),
        user_id: caller.id.clone(),
        is_typing,
    };
    realtime::publish_ephemeral(ctx, origin, event, pusher_for(ctx, channel)).await;
    Ok(())
}

pub async fn read_receipts(
    ctx: &AppContext,
    caller: &Caller,
    channel_id: &ChannelId,
) -> Result<ReadReceipts, AppError> {
    let (context, items) = tokio::try_join!(
        ctx.store
            .message_context(channel_id, &caller.id, None, None),
        ctx.store.read_markers(channel_id)
    )?;
    member_of(&context, caller)?;
    Ok(ReadReceipts { items })
}
