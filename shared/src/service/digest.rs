//! The offline digest: which messages join whose digest (from the event router), and sending
//! a digest once it is due (from the maintenance worker). The email itself goes through the
//! email worker, from the stream record of the digest closing as sent.

use std::collections::BTreeSet;

use crate::domain::{digest_candidates, ChannelKind, DigestEntry, Message, Timestamp, UserId};
use crate::error::AppError;
use crate::storage::{DigestOutcome, Read};
use crate::AppContext;

/// Adds a new message to the digest of each reader it concerns who is away: the other member
/// of a direct channel, and the users it mentions (offline, with a verified address and
/// notification emails on, the channel not muted, the sender not blocked).
pub async fn note_message(
    ctx: &AppContext,
    message: &Message,
    direct_channel: bool,
) -> Result<(), AppError> {
    if !direct_channel && message.mentions.is_empty() {
        return Ok(());
    }
    let channel_id = &message.channel_id;
    let (channels, members) = tokio::try_join!(
        ctx.store
            .get_channels(std::slice::from_ref(channel_id), Read::Eventual),
        async {
            if direct_channel {
                ctx.store.channel_member_ids(channel_id).await
            } else {
                Ok(Vec::new())
            }
        }
    )?;
    let Some(channel) = channels.into_iter().next() else {
        return Ok(());
    };
    let kind = if direct_channel {
        ChannelKind::Direct
    } else {
        channel.kind
    };
    let candidates: BTreeSet<UserId> =
        digest_candidates(kind, &message.sender.id, &members, &message.mentions);
    if candidates.is_empty() {
        return Ok(());
    }
    let entry = DigestEntry::of(message.sender.name.as_str(), kind, &channel.name);
    let policy = ctx.config.limits.digest;
    let now = message.created_at.unix_seconds();
    let recipients = ctx
        .store
        .digest_recipients(channel_id, &candidates, &message.sender.id)
        .await?;
    let additions = recipients
        .iter()
        .filter(|recipient| recipient.reader.wants_digest())
        .map(|recipient| {
            let due_at = policy.due_at(now, recipient.last_sent_at);
            ctx.store
                .add_to_digest(&recipient.user, &message.id, &entry, due_at)
        });
    futures::future::try_join_all(additions).await?;
    Ok(())
}

/// How a due digest job ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DigestRun {
    Done,
    /// Not due yet: run again in this many seconds.
    NotYet(u32),
}

/// Sends `user`'s digest that is due at `due_at`, unless it was sent already (a redelivered
/// job) or the user is back online (it is dropped: they see it all now).
pub async fn send_due(ctx: &AppContext, user: &UserId, due_at: i64) -> Result<DigestRun, AppError> {
    if ctx.store.digest_due_at(user).await? != Some(due_at) {
        return Ok(DigestRun::Done);
    }
    let now = Timestamp::now();
    let wait = due_at - now.unix_seconds();
    if wait > 0 {
        return Ok(DigestRun::NotYet(u32::try_from(wait).unwrap_or(u32::MAX)));
    }
    let outcome = match ctx.store.get_user(user).await? {
        Some(profile) if !profile.online => DigestOutcome::Sent,
        _ => DigestOutcome::Dropped,
    };
    ctx.store.close_digest(user, due_at, outcome, now).await?;
    Ok(DigestRun::Done)
}
