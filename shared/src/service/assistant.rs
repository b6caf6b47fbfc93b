//! Assistant replies, streamed: exactly one per user message in an assistant channel, however
//! often the job is delivered or run at once.
//!
//! The reply is stored at once, empty and `streaming`, in one transaction with its claim (the
//! `client_id` `reply:<message id>`: a second run finds it and stores nothing) and the asker's
//! daily count. Its text follows as `message.delta` pushes (at most one per 100 ms), the stored
//! body catching up every second; it ends `complete`, `failed` (the model failed: the rules'
//! answer), or `stopped` by a member (the writer notices at its next store). Every write after
//! the first is conditional on the reply still streaming, so a stop and the writer never both
//! win. A reply left streaming by a run that died is finished as `failed` by the next delivery
//! of its job.

use std::time::Instant;

use futures::StreamExt;

use crate::assistant::Assistant;
use crate::domain::{
    prompt_turns, quota_day, quota_reply, ChannelKind, ClientId, Counterpart, Delta, Message,
    MessageBody, MessageId, MessageRole, Order, PageRequest, Pusher, ReplyProgress, ReplyStatus,
    Timestamp, Turn, UserId, UserName, ABANDONED_AFTER, DELTA_EVERY, REPLY_MAX_DURATION,
};
use crate::error::AppError;
use crate::events::DomainEvent;
use crate::queue::AssistantJob;
use crate::realtime::{self, Origin, StreamAudience};
use crate::storage::{HistoryFilter, Inserted, Posting, ReplyEnd, ReplyQuota};
use crate::AppContext;

/// How many messages of history are read for the prompt (then cut to its character budget).
const HISTORY: &str = "40";

/// What a reply job did.
#[derive(Debug)]
pub enum Replied {
    /// The reply as it ended (`complete`, `failed`, or `stopped` while it streamed).
    Replied(Box<Message>),
    /// A reply to this message exists already (a redelivery, or a concurrent run won).
    AlreadyReplied,
    /// A reply left streaming by a run that died, now finished as `failed`.
    Recovered(Box<Message>),
    /// Nothing to answer: the channel or message is gone, or is not an assistant channel's
    /// user message.
    NotApplicable(&'static str),
}

pub fn reply_claim(message: &MessageId) -> Result<ClientId, AppError> {
    Ok(ClientId::parse(&format!("reply:{message}"))?)
}

fn assistant_id() -> Result<UserId, AppError> {
    UserId::parse(UserId::ASSISTANT)
        .ok_or_else(|| AppError::internal("the assistant's id does not parse"))
}

pub async fn reply(
    ctx: &AppContext,
    engine: &Assistant,
    job: &AssistantJob,
) -> Result<Replied, AppError> {
    let assistant = assistant_id()?;
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
    let pusher = super::messages::pusher_for(ctx, &channel);
    if let Some(earlier) = context.claimed {
        return finish_abandoned(ctx, &question, &earlier, pusher).await;
    }

    let turns = conversation(ctx, &question).await?;
    let limit = ctx.config.limits.assistant_replies_per_day;
    let mut reply = Message {
        id: MessageId::generate(),
        channel_id: job.channel_id.clone(),
        sender: Counterpart {
            id: assistant,
            name: UserName::parse("Assistant").map_err(AppError::internal)?,
        },
        role: MessageRole::Assistant,
        body: MessageBody::partial(""),
        parent_id: question.parent_id.clone(),
        reply_count: 0,
        reactions: Default::default(),
        mentions: Vec::new(),
        attachments: Vec::new(),
        created_at: Timestamp::now(),
        edited_at: None,
        client_id: Some(claim),
        status: Some(ReplyStatus::Streaming),
        deleted_at: None,
    };
    let counted = Posting {
        pusher,
        reply_quota: Some(ReplyQuota {
            user: question.sender.id.clone(),
            day: quota_day(reply.created_at),
            limit,
        }),
        ..Posting::default()
    };
    let mut inserted = ctx.store.insert_message(&reply, &counted).await?;
    if inserted == Inserted::QuotaSpent {
        // Over the quota: a short reply saying so, itself not counted.
        reply.body = quota_reply(limit);
        reply.status = Some(ReplyStatus::Complete);
        let uncounted = Posting {
            pusher,
            ..Posting::default()
        };
        inserted = ctx.store.insert_message(&reply, &uncounted).await?;
    }
    match inserted {
        // The question's thread parent was deleted meanwhile: nothing to answer into.
        Inserted::ParentGone => return Ok(Replied::NotApplicable("the thread is gone")),
        // The assistant left the channel (it is being deleted).
        Inserted::NotMember => return Ok(Replied::NotApplicable("the assistant is not a member")),
        // Only direct channels carry blocks; an assistant channel never does.
        Inserted::Blocked => return Ok(Replied::NotApplicable("the channel is blocked")),
        Inserted::Duplicate(_) => return Ok(Replied::AlreadyReplied),
        // Replies are not counted against a send window and carry no attachment; an
        // uncounted reply is never over the quota.
        Inserted::WindowMoved | Inserted::AttachmentTaken | Inserted::QuotaSpent => {
            return Err(AppError::internal(format!(
                "a reply was refused: {inserted:?}"
            )))
        }
        Inserted::New => {}
    }
    let origin = Origin::api();
    let created = DomainEvent::MessageCreated {
        channel_id: job.channel_id.clone(),
        message: reply.clone(),
    };
    realtime::publish(ctx, &origin, created, pusher).await;
    if reply.status != Some(ReplyStatus::Streaming) {
        return Ok(Replied::Replied(Box::new(reply)));
    }
    let written = write(ctx, engine, &reply, &turns).await?;
    let ended = match written {
        // A member stopped it: the stop pushed its `message.updated` with the text stored by
        // then, up to a second behind what was streamed; the reply keeps what was streamed.
        Written::Stopped(streamed) => {
            end(ctx, &reply, Transition::KEEP_STREAMED, &streamed, pusher).await?
        }
        Written::Complete(text) => {
            match end(
                ctx,
                &reply,
                Transition::streaming_to(ReplyStatus::Complete),
                &text,
                pusher,
            )
            .await?
            {
                Some(ended) => Some(ended),
                // Stopped in its last second.
                None => end(ctx, &reply, Transition::KEEP_STREAMED, &text, pusher).await?,
            }
        }
        Written::Failed => {
            let fallback = MessageBody::partial(&Assistant::fallback(&turns));
            end(
                ctx,
                &reply,
                Transition::streaming_to(ReplyStatus::Failed),
                &fallback,
                pusher,
            )
            .await?
        }
    };
    Ok(match ended {
        Some(message) => Replied::Replied(Box::new(message)),
        // Stopped while it failed, or deleted meanwhile: as it stands.
        None => Replied::Replied(Box::new(
            ctx.store
                .get_message(&reply.channel_id, &reply.id)
                .await?
                .ok_or_else(|| AppError::internal("a reply is gone"))?,
        )),
    })
}

/// What the prompt carries: the history up to the question (later messages get their own
/// replies), newest first back to `ASSISTANT_CONTEXT_CHARS`, oldest first.
async fn conversation(ctx: &AppContext, question: &Message) -> Result<Vec<Turn>, AppError> {
    let page = PageRequest::parse(Some(HISTORY), None)?;
    let history = ctx
        .store
        .list_messages(
            &question.channel_id,
            None,
            Order::NewestFirst,
            &HistoryFilter::default(),
            &page,
        )
        .await?;
    let question_turn = Turn {
        role: MessageRole::User,
        text: question.body.as_str().to_string(),
    };
    let earlier = history
        .items
        .into_iter()
        .filter(|m| m.id < question.id && !m.body.as_str().is_empty())
        .map(|m| Turn {
            role: m.role,
            text: m.body.as_str().to_string(),
        });
    let newest_first = std::iter::once(question_turn).chain(earlier).collect();
    Ok(prompt_turns(
        newest_first,
        ctx.config.limits.assistant_context_chars as usize,
    ))
}

/// How the writing of a reply ended.
enum Written {
    Complete(MessageBody),
    /// The engine failed (or wrote nothing): the rules answer instead.
    Failed,
    /// A member stopped it, after this text was streamed.
    Stopped(MessageBody),
}

/// Streams the engine's answer into the stored reply: deltas pushed as they are due, the body
/// stored every second (which is where a stop is noticed), for at most `REPLY_MAX_DURATION`.
async fn write(
    ctx: &AppContext,
    engine: &Assistant,
    reply: &Message,
    turns: &[Turn],
) -> Result<Written, AppError> {
    let started = Instant::now();
    let mut audience = match StreamAudience::of(ctx, &reply.channel_id).await {
        Ok(audience) => Some(audience),
        Err(err) => {
            // The final `message.updated` still carries the whole text.
            tracing::warn!(error = %err.log_detail(), "no deltas for this reply");
            None
        }
    };
    let mut pieces = engine.stream(turns);
    let mut progress = ReplyProgress::new(started);
    let mut ticks = tokio::time::interval(DELTA_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let deadline = tokio::time::sleep(REPLY_MAX_DURATION);
    tokio::pin!(deadline);
    let failed = loop {
        tokio::select! {
            piece = pieces.next() => match piece {
                None => break false,
                Some(Err(err)) => {
                    tracing::warn!(error = %err, "the engine failed; the rules answer");
                    break true;
                }
                Some(Ok(piece)) => {
                    if !progress.push(&piece) {
                        break false;
                    }
                }
            },
            _ = ticks.tick() => {}
            _ = &mut deadline => {
                tracing::info!("the reply reached its longest duration");
                break false;
            }
        }
        let now = Instant::now();
        if let (Some(delta), Some(audience)) = (progress.due_delta(now), audience.as_mut()) {
            audience.push(ctx, &delta_event(reply, delta)).await;
        }
        if let Some(body) = progress.due_store(now) {
            if !ctx
                .store
                .store_reply_text(&reply.channel_id, &reply.id, &body)
                .await?
            {
                return Ok(Written::Stopped(MessageBody::partial(
                    progress.pushed_text(),
                )));
            }
            if let Some(audience) = audience.as_mut() {
                if let Err(err) = audience.refresh(ctx).await {
                    tracing::warn!(error = %err.log_detail(), "delta audience not refreshed");
                }
            }
        }
    };
    if failed || progress.text().trim().is_empty() {
        return Ok(Written::Failed);
    }
    // The last piece goes as a delta too, in its turn, so the deltas add up to the reply.
    tokio::time::sleep_until(progress.next_delta_at(Instant::now()).into()).await;
    if let (Some(delta), Some(audience)) = (progress.due_delta(Instant::now()), audience.as_mut()) {
        audience.push(ctx, &delta_event(reply, delta)).await;
    }
    Ok(Written::Complete(MessageBody::partial(progress.text())))
}

fn delta_event(reply: &Message, delta: Delta) -> DomainEvent {
    DomainEvent::MessageDelta {
        channel_id: reply.channel_id.clone(),
        message_id: reply.id.clone(),
        seq: delta.seq,
        delta: delta.text,
    }
}

/// A reply's last write: from which status to which.
#[derive(Clone, Copy)]
struct Transition {
    from: ReplyStatus,
    to: ReplyStatus,
}

impl Transition {
    /// A stopped reply's writer keeps the text it had streamed.
    const KEEP_STREAMED: Self = Self {
        from: ReplyStatus::Stopped,
        to: ReplyStatus::Stopped,
    };

    fn streaming_to(to: ReplyStatus) -> Self {
        Self {
            from: ReplyStatus::Streaming,
            to,
        }
    }
}

/// Ends a reply with `body` and pushes its `message.updated`; `None` if it is not in the
/// transition's `from` status (any more).
async fn end(
    ctx: &AppContext,
    reply: &Message,
    transition: Transition,
    body: &MessageBody,
    pusher: Pusher,
) -> Result<Option<Message>, AppError> {
    let ending = ReplyEnd {
        from: transition.from,
        status: transition.to,
        body: Some(body),
        pusher,
    };
    let Some(ended) = ctx
        .store
        .end_reply(&reply.channel_id, &reply.id, ending)
        .await?
    else {
        return Ok(None);
    };
    super::messages::publish_updated(ctx, &ended, pusher).await;
    Ok(Some(ended))
}

/// A job whose reply exists: nothing to do, unless that reply was left streaming long ago by
/// a run that died; then it ends `failed` with the rules' answer.
async fn finish_abandoned(
    ctx: &AppContext,
    question: &Message,
    earlier: &MessageId,
    pusher: Pusher,
) -> Result<Replied, AppError> {
    let Some(reply) = ctx.store.get_message(&question.channel_id, earlier).await? else {
        return Ok(Replied::AlreadyReplied);
    };
    let age = Timestamp::now().unix_millis() - reply.created_at.unix_millis();
    let abandoned =
        reply.status == Some(ReplyStatus::Streaming) && age >= ABANDONED_AFTER.as_millis() as i64;
    if !abandoned {
        return Ok(Replied::AlreadyReplied);
    }
    let turns = conversation(ctx, question).await?;
    let fallback = MessageBody::partial(&Assistant::fallback(&turns));
    Ok(
        match end(
            ctx,
            &reply,
            Transition::streaming_to(ReplyStatus::Failed),
            &fallback,
            pusher,
        )
        .await?
        {
            Some(ended) => Replied::Recovered(Box::new(ended)),
            None => Replied::AlreadyReplied,
        },
    )
}
