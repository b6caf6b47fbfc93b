//! Assistant replies: exactly one per user message in an assistant channel, however often the
//! job is delivered or run at once. The reply carries the `client_id` `reply:<message id>`,
//! claimed in the reply's own transaction, so a second run finds the claim and stores nothing.

use crate::assistant::{Assistant, Turn};
use crate::domain::{
    ChannelKind, ClientId, Counterpart, Message, MessageBody, MessageId, MessageRole, Order,
    PageRequest, Timestamp, UserId, UserName,
};
use crate::error::AppError;
use crate::events::DomainEvent;
use crate::queue::AssistantJob;
use crate::realtime::{self, Origin};
use crate::storage::{HistoryFilter, Inserted, Posting};
use crate::AppContext;

/// How many messages of history the engine sees.
const HISTORY: &str = "20";

/// What a reply job did.
#[derive(Debug)]
pub enum Replied {
    Replied(Box<Message>),
    /// A reply to this message exists already (a redelivery, or a concurrent run won).
    AlreadyReplied,
    /// Nothing to answer: the channel or message is gone, or is not an assistant channel's
    /// user message.
    NotApplicable(&'static str),
}

pub fn reply_claim(message: &MessageId) -> Result<ClientId, AppError> {
    Ok(ClientId::parse(&format!("reply:{message}"))?)
}

pub async fn reply(
    ctx: &AppContext,
    engine: &Assistant,
    job: &AssistantJob,
) -> Result<Replied, AppError> {
    let assistant = UserId::parse(UserId::ASSISTANT)
        .ok_or_else(|| AppError::internal("the assistant's id does not parse"))?;
    let claim = reply_claim(&job.message_id)?;
    let context = ctx
        .store
        .message_context(
            &job.channel_id,
            &assistant,
            Some(&job.message_id),
            Some(&claim),
        )
        .await?;
    let Some(channel) = context.channel else {
        return Ok(Replied::NotApplicable("the channel no longer exists"));
    };
    if channel.kind != ChannelKind::Assistant || context.membership.is_none() {
        return Ok(Replied::NotApplicable("not an assistant channel"));
    }
    let Some(question) = context
        .message
        .filter(|m| m.deleted_at.is_none() && m.role == MessageRole::User)
    else {
        return Ok(Replied::NotApplicable("no user message to answer"));
    };
    if context.claimed.is_some() {
        return Ok(Replied::AlreadyReplied);
    }

    let origin = Origin::api();
    let typing = |is_typing| DomainEvent::Typing {
        channel_id: job.channel_id.clone(),
        user_id: assistant.clone(),
        is_typing,
    };
    let pusher = super::messages::pusher_for(ctx, &channel);
    realtime::publish_ephemeral(ctx, &origin, typing(true), pusher).await;
    let page = PageRequest::parse(Some(HISTORY), None)?;
    let history = ctx
        .store
        .list_messages(
            &job.channel_id,
            None,
            Order::NewestFirst,
            &HistoryFilter::default(),
            &page,
        )
        .await?;
    // What was said up to the question: later messages get their own replies.
    let mut turns: Vec<Turn> = history
        .items
        .into_iter()
        .filter(|m| m.id <= question.id)
        .map(|m| Turn {
            role: m.role,
            text: m.body.as_str().to_string(),
        })
        .collect();
    turns.reverse();
    if turns
        .last()
        .is_none_or(|turn| turn.role != MessageRole::User)
    {
        turns.push(Turn {
            role: MessageRole::User,
            text: question.body.as_str().to_string(),
        });
    }
    let text = engine.reply(&turns).await;
    let text: String = text.chars().take(MessageBody::MAX_CHARS).collect();
    let body = MessageBody::parse(&text).or_else(|_| MessageBody::parse("…"))?;
    let message = Message {
        id: MessageId::generate(),
        channel_id: job.channel_id.clone(),
        sender: Counterpart {
            id: assistant.clone(),
            name: UserName::parse("Assistant").map_err(AppError::internal)?,
        },
        role: MessageRole::Assistant,
        body,
        parent_id: question.parent_id.clone(),
        reply_count: 0,
        reactions: Default::default(),
        mentions: Vec::new(),
        attachments: Vec::new(),
        created_at: Timestamp::now(),
        edited_at: None,
        client_id: Some(claim),
        deleted_at: None,
    };
    let posting = Posting {
        pusher,
        ..Posting::default()
    };
    let inserted = ctx.store.insert_message(&message, &posting).await;
    realtime::publish_ephemeral(ctx, &origin, typing(false), pusher).await;
    match inserted? {
        // The question's thread parent was deleted meanwhile: nothing to answer into.
        Inserted::ParentGone => Ok(Replied::NotApplicable("the thread is gone")),
        // The assistant left the channel (it is being deleted).
        Inserted::NotMember => Ok(Replied::NotApplicable("the assistant is not a member")),
        // Only direct channels carry blocks; an assistant channel never does.
        Inserted::Blocked => Ok(Replied::NotApplicable("the channel is blocked")),
        // Replies are not counted against a send window.
        Inserted::WindowMoved => Err(AppError::internal("an uncounted reply hit a send window")),
        Inserted::AttachmentTaken => Err(AppError::internal("a reply carried an attachment")),
        Inserted::Duplicate(_) => Ok(Replied::AlreadyReplied),
        Inserted::New => {
            let event = DomainEvent::MessageCreated {
                channel_id: job.channel_id.clone(),
                message: message.clone(),
            };
            realtime::publish(ctx, &origin, event, pusher).await;
            Ok(Replied::Replied(Box::new(message)))
        }
    }
}
