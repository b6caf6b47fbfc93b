//! Maintenance jobs: purging a deleted channel, cleaning up after a deleted account. Every
//! step is idempotent and bounded, so a job that runs out of time is queued again and a
//! redelivered one continues where the last stopped.

use std::collections::HashSet;
use std::time::Instant;

use crate::domain::{PageRequest, UserId};
use crate::error::AppError;
use crate::events::DomainEvent;
use crate::queue::MaintenanceJob;
use crate::AppContext;

/// Where a job stands after a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    Done,
    /// Out of time: queue the job again.
    Unfinished,
}

pub async fn run(
    ctx: &AppContext,
    job: &MaintenanceJob,
    deadline: Instant,
) -> Result<Progress, AppError> {
    match job {
        MaintenanceJob::PurgeChannel { channel_id, .. } => loop {
            let step = ctx.store.purge_channel_step(channel_id).await?;
            if step.done {
                tracing::info!(channel = %channel_id, "channel purged");
                return Ok(Progress::Done);
            }
            if Instant::now() >= deadline {
                return Ok(Progress::Unfinished);
            }
        },
        MaintenanceJob::PurgeAccount {
            user_id,
            connection_ids,
            ..
        } => {
            for id in connection_ids {
                if let Some(endpoint) = &ctx.config.websocket_endpoint {
                    if let Err(err) = ctx.connections.close(endpoint, id).await {
                        tracing::warn!(connection = %id, error = %err.log_detail(), "closing a deleted account's socket failed");
                    }
                }
                ctx.store.delete_connection(id).await?;
            }
            if leave_channels(ctx, user_id, deadline).await? == Progress::Unfinished {
                return Ok(Progress::Unfinished);
            }
            for other in ctx.store.partner_ids(user_id).await? {
                match ctx.store.delete_partnership(user_id, &other).await {
                    Ok(()) | Err(AppError::NotFound(_)) => {}
                    Err(err) => return Err(err),
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

/// Removes the user from every channel (counts and read markers kept right), telling the
/// remaining members.
async fn leave_channels(
    ctx: &AppContext,
    user: &UserId,
    deadline: Instant,
) -> Result<Progress, AppError> {
    let mut seen = HashSet::new();
    loop {
        let page = PageRequest::parse(Some("100"), None)?;
        let channels = ctx.store.list_member_channel_ids(user, &page).await?;
        let fresh: Vec<_> = channels
            .items
            .into_iter()
            .filter(|id| seen.insert(id.clone()))
            .collect();
        if fresh.is_empty() {
            return Ok(Progress::Done);
        }
        for channel in fresh {
            match ctx.store.remove_member(&channel, user).await {
                Ok(()) => {
                    ctx.publish(DomainEvent::MemberLeft {
                        channel_id: channel,
                        user_id: user.clone(),
                    })
                    .await
                }
                // Already gone (a concurrent run, or the channel's own purge).
                Err(AppError::Conflict(_)) => {}
                Err(err) => return Err(err),
            }
        }
        if Instant::now() >= deadline {
            return Ok(Progress::Unfinished);
        }
    }
}
