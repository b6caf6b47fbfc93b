//! Maintenance jobs: purging a deleted channel, cleaning up after a deleted account. Every
//! step is idempotent and bounded, so a job that runs out of time is queued again and a
//! redelivered one continues where the last stopped.

use std::time::Instant;

use crate::domain::{
    successor, Channel, ChannelDeleteRefused, ChannelKind, MemberRole, Membership, PageRequest,
    PairKey, Timestamp, UserId,
};
use crate::error::AppError;
use crate::queue::MaintenanceJob;
use crate::service::attachments;
use crate::service::digest::{self, DigestRun};
use crate::storage::{ChannelDeletion, Managed, UploadRef};

/// Uploads deleted per step of a purge or sweep.
const UPLOAD_PAGE: i32 = 25;
use crate::AppContext;

/// Where a job stands after a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    Done,
    /// Out of time: queue the job again.
    Unfinished,
    /// Not yet due: queue the job again, held back this many seconds.
    Later(u32),
}

pub async fn run(
    ctx: &AppContext,
    job: &MaintenanceJob,
    deadline: Instant,
) -> Result<Progress, AppError> {
    match job {
        MaintenanceJob::SendDigest { user_id, due_at } => {
            Ok(match digest::send_due(ctx, user_id, *due_at).await? {
                DigestRun::Done => Progress::Done,
                DigestRun::NotYet(seconds) => Progress::Later(seconds),
            })
        }
        MaintenanceJob::DeleteUploads { uploads } => {
            let uploads: Vec<_> = uploads
                .iter()
                .map(|job| {
                    (
                        UploadRef {
                            channel_id: job.channel_id.clone(),
                            attachment_id: job.attachment_id.clone(),
                        },
                        job.uploader_id.clone(),
                    )
                })
                .collect();
            attachments::delete_uploads(ctx, &uploads).await?;
            Ok(Progress::Done)
        }
        MaintenanceJob::SweepUploads => loop {
            let expired = ctx
                .store
                .expired_uploads(Timestamp::now(), UPLOAD_PAGE)
                .await?;
            if expired.is_empty() {
                return Ok(Progress::Done);
            }
            attachments::delete_uploads(ctx, &expired).await?;
            if Instant::now() >= deadline {
                return Ok(Progress::Unfinished);
            }
        },
        MaintenanceJob::MoveLists { channel_id } => {
            // The mark goes first: a message from now on schedules the next move, and a
            // redelivered job moves nothing twice (the moves are conditional).
            if let Some((newest, at)) = ctx.store.take_list_move(channel_id).await? {
                let members = ctx.store.channel_member_ids(channel_id).await?;
                ctx.store
                    .bump_activity(&members, &newest, channel_id, at)
                    .await?;
            }
            Ok(Progress::Done)
        }
        MaintenanceJob::PurgeChannel { channel_id, .. } => loop {
            // Its files first: their items say where their objects are.
            let uploads = ctx.store.channel_uploads(channel_id, UPLOAD_PAGE).await?;
            if !uploads.is_empty() {
                attachments::delete_uploads(ctx, &uploads).await?;
                if Instant::now() >= deadline {
                    return Ok(Progress::Unfinished);
                }
                continue;
            }
            let step = ctx.store.purge_channel_step(channel_id).await?;
            if step.done {
                tracing::info!(channel = %channel_id, "channel purged");
                return Ok(Progress::Done);
            }
            if Instant::now() >= deadline {
                return Ok(Progress::Unfinished);
            }
        },
        MaintenanceJob::CloseConnections {
            user_id,
            connection_ids,
            ..
        } => {
            let now = Timestamp::now();
            for id in connection_ids {
                close_socket(ctx, id).await;
                // Gone already (its `$disconnect` ran first) is fine: exactly one closer
                // takes it off the profile.
                ctx.store.close_connection(user_id, id, now).await?;
            }
            Ok(Progress::Done)
        }
        MaintenanceJob::PurgeAccount {
            user_id,
            connection_ids,
            ..
        } => {
            for id in connection_ids {
                close_socket(ctx, id).await;
                ctx.store.delete_connection(id).await?;
            }
            if leave_channels(ctx, user_id, deadline).await? == Progress::Unfinished {
                return Ok(Progress::Unfinished);
            }
            loop {
                let uploads = ctx.store.user_uploads(user_id, UPLOAD_PAGE).await?;
                if uploads.is_empty() {
                    break;
                }
                let uploads: Vec<_> = uploads.into_iter().map(|u| (u, user_id.clone())).collect();
                attachments::delete_uploads(ctx, &uploads).await?;
                if Instant::now() >= deadline {
                    return Ok(Progress::Unfinished);
                }
            }
            for other in ctx.store.partner_ids(user_id).await? {
                // `false`: the other side ended it first; either way it is gone.
                ctx.store.delete_partnership(user_id, &other).await?;
                if Instant::now() >= deadline {
                    return Ok(Progress::Unfinished);
                }
            }
            loop {
                let step = ctx.store.purge_user_partition_step(user_id).await?;
                if step.done {
                    tracing::info!(user = %user_id, "account cleaned up");
                    return Ok(Progress::Done);
                }
                if Instant::now() >= deadline {
                    return Ok(Progress::Unfinished);
                }
            }
        }
    }
}

/// Closes a socket through the management API. Best effort: a socket already gone (410) or
/// an API failure leaves a connection that can no longer act, since its record goes too.
async fn close_socket(ctx: &AppContext, id: &crate::domain::ConnectionId) {
    if let Some(endpoint) = &ctx.config.websocket_endpoint {
        if let Err(err) = ctx.connections.close(endpoint, id).await {
            tracing::warn!(connection = %id, error = %err.log_detail(), "closing a socket failed");
        }
    }
}

/// Takes the user out of every channel: a group it owns passes to the longest-standing admin
/// (else member); a channel it owns that no one else would keep (its assistant channel, a
/// direct channel, a group without other people) is deleted (and purged by the job the
/// router queues); from any other it leaves, and the remaining members hear `member.left`.
/// Pages are followed to the end; memberships removed meanwhile are skipped.
async fn leave_channels(
    ctx: &AppContext,
    user: &UserId,
    deadline: Instant,
) -> Result<Progress, AppError> {
    let mut page = PageRequest::parse(Some("100"), None)?;
    loop {
        let listed = ctx.store.list_member_channel_ids(user, &page).await?;
        for channel in ctx
            .store
            .get_channels(&listed.items, crate::storage::Read::Consistent)
            .await?
        {
            leave_or_delete(ctx, user, &channel).await?;
        }
        match listed.next_cursor {
            None => return Ok(Progress::Done),
            Some(cursor) => page.cursor = Some(cursor),
        }
        if Instant::now() >= deadline {
            return Ok(Progress::Unfinished);
        }
    }
}

async fn leave_or_delete(
    ctx: &AppContext,
    user: &UserId,
    channel: &Channel,
) -> Result<(), AppError> {
    let members = ctx.store.channel_members(&channel.id).await?;
    // Gone already (a concurrent run, or the channel's own purge).
    let Some(membership) = members.iter().find(|m| &m.user_id == user) else {
        return Ok(());
    };
    if membership.role == MemberRole::Owner {
        // A group passes to its successor; a direct or assistant channel, or a group with
        // nobody else in it, is nobody's without its owner.
        let heir = match channel.kind {
            ChannelKind::Group => successor(user, &members),
            ChannelKind::Direct | ChannelKind::Assistant => None,
        };
        return match heir {
            Some(heir) => match ctx.store.hand_over(membership, heir).await? {
                Managed::Done | Managed::ChannelGone => Ok(()),
                // Roles moved since the read: the job's retry reads them again.
                Managed::Stale => Err(AppError::conflict("roles changed during the hand-over")),
            },
            None => delete_orphaned(ctx, user, channel, &members).await,
        };
    }
    // `false`: already gone. Either way the remaining members hear `member.left` from the
    // router, once.
    ctx.store.remove_member(&channel.id, user).await?;
    Ok(())
}

/// Deletes a channel its deleted owner leaves to nobody (the event router queues its purge
/// off the stream).
async fn delete_orphaned(
    ctx: &AppContext,
    user: &UserId,
    channel: &Channel,
    members: &[Membership],
) -> Result<(), AppError> {
    let pair = match channel.kind {
        ChannelKind::Direct => members
            .iter()
            .find(|m| &m.user_id != user)
            .map(|other| PairKey::of(user, &other.user_id)),
        _ => None,
    };
    match ctx
        .store
        .mark_channel_deleted(channel, user, pair.as_ref(), Timestamp::now())
        .await?
    {
        ChannelDeletion::Deleted | ChannelDeletion::AlreadyGone => Ok(()),
        // The membership changed since it was read: the retry reads it again.
        ChannelDeletion::NotOwner => Err(ChannelDeleteRefused::NotOwner.into()),
    }
}
