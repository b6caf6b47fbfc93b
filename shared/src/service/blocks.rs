//! Blocks: `PUT`/`DELETE /me/blocks/{user_id}` and `GET /me/blocks`. What a block changes is
//! written in one transaction (`storage::blocks`); the checks that honour it read nothing
//! extra (partner requests, sends into the direct channel, pushes, history).

use futures::TryFutureExt;
use serde::Serialize;

use super::refusals::account_gone;
use super::{existing_caller, require_caller};
use crate::domain::{
    Caller, Counterpart, NotFound, Page, PageRequest, PartnerRequest, Timestamp, UserId,
};
use crate::error::AppError;
use crate::storage::{BlockContext, BlockWritten};
use crate::AppContext;

/// `{user: {id, name}, since}`.
#[derive(Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = Block)]
pub struct BlockView {
    pub user: Counterpart,
    pub since: Timestamp,
}

/// How often a block is read again when a request or the direct channel between the two
/// changed under it.
const ATTEMPTS: usize = 3;

fn still_moving() -> AppError {
    AppError::conflict("what is between you two changed meanwhile; try again")
}

/// Whether a written block (or unblock) is settled; `false`: read again.
fn settled(written: BlockWritten) -> Result<bool, AppError> {
    match written {
        BlockWritten::Done | BlockWritten::Unchanged => Ok(true),
        BlockWritten::CallerGone => Err(account_gone()),
        BlockWritten::Moved => Ok(false),
    }
}

/// Reads what the block touches; refuses a deleted caller and an unknown user.
async fn context(
    ctx: &AppContext,
    caller: &Caller,
    other: &UserId,
) -> Result<BlockContext, AppError> {
    PartnerRequest::ensure_blockable(&caller.id, other)?;
    let context = ctx.store.block_context(&caller.id, other).await?;
    existing_caller(context.caller.clone(), caller)?;
    if context.other.is_none() {
        return Err(NotFound::User.into());
    }
    Ok(context)
}

/// Blocks `other` (idempotent): the request pending between them is cancelled, their
/// partnership ends, and `other` can no longer ask, write into their direct channel or reach
/// the caller's devices; the caller's history leaves `other`'s messages out. One read (two
/// with a pending request), one transaction.
pub async fn block(ctx: &AppContext, caller: &Caller, other: &UserId) -> Result<(), AppError> {
    for _ in 0..ATTEMPTS {
        let context = context(ctx, caller, other).await?;
        if context.blocked_since.is_some() {
            return Ok(());
        }
        let now = Timestamp::now();
        let cancelled = match &context.pending_request {
            Some(id) => {
                let (_, request) = ctx.store.find_request_for(&caller.id, id).await?;
                let request = request.ok_or_else(|| {
                    AppError::internal("the pair names a request neither party holds")
                })?;
                Some(request.closed_by_block(now)?)
            }
            None => None,
        };
        let written = ctx
            .store
            .block(
                &caller.id,
                other,
                now,
                cancelled.as_ref(),
                context.direct_channel.as_ref(),
            )
            .await?;
        if settled(written)? {
            return Ok(());
        }
    }
    Err(still_moving())
}

/// Takes a block back (idempotent). What it ended stays ended: a partnership is asked for
/// again.
pub async fn unblock(ctx: &AppContext, caller: &Caller, other: &UserId) -> Result<(), AppError> {
    // Oneself and the assistant are never blocked: nothing to take back.
    if PartnerRequest::ensure_blockable(&caller.id, other).is_err() {
        return Ok(());
    }
    for _ in 0..ATTEMPTS {
        let context = context(ctx, caller, other).await?;
        if context.blocked_since.is_none() {
            return Ok(());
        }
        let written = ctx
            .store
            .unblock(&caller.id, other, context.direct_channel.as_ref())
            .await?;
        if settled(written)? {
            return Ok(());
        }
    }
    Err(still_moving())
}

/// The users the caller blocked, with their current names (deleted accounts left out).
pub async fn list(
    ctx: &AppContext,
    caller: &Caller,
    page: &PageRequest,
) -> Result<Page<BlockView>, AppError> {
    let (_, blocks) = tokio::try_join!(
        require_caller(ctx, caller),
        ctx.store
            .list_blocks(&caller.id, page)
            .err_into::<AppError>()
    )?;
    let ids: Vec<UserId> = blocks.items.iter().map(|b| b.user_id.clone()).collect();
    let users = ctx.store.get_users_for_display(&ids).await?;
    Ok(Page {
        items: blocks
            .items
            .into_iter()
            .filter_map(|block| {
                let user = users.get(&block.user_id)?;
                Some(BlockView {
                    user: Counterpart {
                        id: user.id.clone(),
                        name: user.name.clone(),
                    },
                    since: block.since,
                })
            })
            .collect(),
        next_cursor: blocks.next_cursor,
    })
}
