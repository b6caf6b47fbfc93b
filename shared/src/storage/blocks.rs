//! Blocks. A block is an item in the blocker's partition (`BLOCK#<id>`, for the list) and is
//! mirrored where the checks already read: the pair item (`blocked_by`: partner requests
//! refuse it in their own transaction), the blocker's profile (`blocked_ids`: pushes and
//! history leave the blocked user out) and both memberships of the pair's direct channel
//! (`blocked_by`: a send refuses it). Blocking and unblocking change all of them in one
//! transaction.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
    Update,
};
use serde::{Deserialize, Serialize};

use super::error::StoreError;
use super::items::{from_item, to_item, DirectItem, UserItem};
use super::keys::{self, PK, SK};
use super::{s, string_of, Commit, Item, Read, Store, Transaction};
use crate::domain::{
    ChannelId, Page, PageRequest, PairKey, PartnerRequest, RequestId, Timestamp, User, UserId,
};

#[derive(Serialize, Deserialize)]
struct BlockItem {
    pk: String,
    sk: String,
    entity: String,
    user_id: UserId,
    since: Timestamp,
}

/// One user the owner blocked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockEntry {
    pub user_id: UserId,
    pub since: Timestamp,
}

/// What blocking or unblocking `other` must change, read in one BatchGetItem.
#[derive(Debug, Default)]
pub struct BlockContext {
    pub caller: Option<User>,
    pub other: Option<User>,
    /// When the caller blocked `other`, if it did.
    pub blocked_since: Option<Timestamp>,
    /// The request pending between the two, in either direction.
    pub pending_request: Option<RequestId>,
    pub direct_channel: Option<ChannelId>,
}

/// How writing a block (or its removal) ended.
#[derive(Debug, PartialEq, Eq)]
pub enum BlockWritten {
    Done,
    /// Nothing to do: already blocked (or, for an unblock, not blocked).
    Unchanged,
    /// The caller's account is gone.
    CallerGone,
    /// A request or the direct channel changed since the context was read: read it again.
    Moved,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum BlockCheck {
    Block,
    CallerExists,
    AsRead,
}

fn set_of(id: &UserId) -> AttributeValue {
    AttributeValue::Ss(vec![id.to_string()])
}

/// `ADD` (or `DELETE`) `id` to the string set `attribute` of the item at `key`, which must
/// exist.
fn set_change(
    table: &str,
    key: Item,
    attribute: &str,
    id: &UserId,
    add: bool,
) -> Result<TransactWriteItem, StoreError> {
    let verb = if add { "ADD" } else { "DELETE" };
    let update = Update::builder()
        .table_name(table)
        .set_key(Some(key))
        .update_expression(format!("{verb} #set :id"))
        .condition_expression("attribute_exists(pk)")
        .expression_attribute_names("#set", attribute)
        .expression_attribute_values(":id", set_of(id))
        .build()
        .map_err(StoreError::fault)?;
    Ok(TransactWriteItem::builder().update(update).build())
}

impl Store {
    /// Both profiles, the caller's block item, the pair item and the pair's direct channel
    /// claim: one BatchGetItem.
    pub async fn block_context(
        &self,
        caller: &UserId,
        other: &UserId,
    ) -> Result<BlockContext, StoreError> {
        let pair = PairKey::of(caller, other);
        let wanted = vec![
            keys::user_key(caller),
            keys::user_key(other),
            keys::block_key(caller, other),
            keys::pair_key(&pair),
            keys::direct_key(&pair),
        ];
        let mut context = BlockContext::default();
        for item in self.batch_get(wanted, Read::Consistent).await? {
            let sk = string_of(&item, SK);
            if sk == keys::PROFILE {
                let user = User::from(from_item::<UserItem>(item)?);
                if user.id == *caller {
                    context.caller = Some(user);
                } else {
                    context.other = Some(user);
                }
            } else if sk.starts_with(keys::BLOCK_PREFIX) {
                context.blocked_since = Some(from_item::<BlockItem>(item)?.since);
            } else if sk == keys::PAIR {
                context.pending_request = match item.get("pending_request_id") {
                    Some(AttributeValue::S(id)) => RequestId::parse(id),
                    _ => None,
                };
            } else {
                context.direct_channel = Some(from_item::<DirectItem>(item)?.channel_id);
            }
        }
        Ok(context)
    }

    /// `caller` blocks `other`, in one transaction: the block item; the pair item gets
    /// `blocked_by` and loses its partnership and pending request (`cancelled`: the request's
    /// copies, as the caller read them); both partnership items go; the caller's profile gets
    /// `other` in `blocked_ids`; the direct channel's memberships get `blocked_by`.
    pub async fn block(
        &self,
        caller: &UserId,
        other: &UserId,
        since: Timestamp,
        cancelled: Option<&PartnerRequest>,
        direct: Option<&ChannelId>,
    ) -> Result<BlockWritten, StoreError> {
        let key = keys::block_key(caller, other);
        let item = BlockItem {
            pk: string_of(&key, PK),
            sk: string_of(&key, SK),
            entity: "block".into(),
            user_id: other.clone(),
            since,
        };
        let mut pair = Update::builder()
            .table_name(&self.table)
            .set_key(Some(keys::pair_key(&PairKey::of(caller, other))))
            .update_expression("ADD #blocked :me REMOVE partners_since, pending_request_id")
            .expression_attribute_names("#blocked", keys::BLOCKED_BY)
            .expression_attribute_values(":me", set_of(caller));
        pair = match cancelled {
            Some(request) => pair
                .condition_expression("pending_request_id = :pending")
                .expression_attribute_values(":pending", s(request.id.as_str())),
            None => pair.condition_expression("attribute_not_exists(pending_request_id)"),
        };
        let unpartner = |owner: &UserId, partner: &UserId| {
            Delete::builder()
                .table_name(&self.table)
                .set_key(Some(keys::partner_key(owner, partner)))
                .build()
                .map(|delete| TransactWriteItem::builder().delete(delete).build())
                .map_err(StoreError::fault)
        };
        let mut tx = Transaction::new();
        tx.check(
            BlockCheck::Block,
            self.put_if_absent(to_item(&item)?, false)?,
        )
        .check(
            BlockCheck::AsRead,
            TransactWriteItem::builder()
                .update(pair.build().map_err(StoreError::fault)?)
                .build(),
        )
        .unconditional(unpartner(caller, other)?)
        .unconditional(unpartner(other, caller)?);
        if let Some(request) = cancelled {
            for action in self.request_status_updates(request)? {
                tx.check(BlockCheck::AsRead, action);
            }
        }
        self.mark_block(&mut tx, caller, other, direct, true)?;
        self.commit_block(tx).await
    }

    /// Takes `caller`'s block of `other` back (one transaction); what the block ended
    /// (partnership, requests) stays ended.
    pub async fn unblock(
        &self,
        caller: &UserId,
        other: &UserId,
        direct: Option<&ChannelId>,
    ) -> Result<BlockWritten, StoreError> {
        let remove = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(keys::block_key(caller, other)))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(StoreError::fault)?;
        let pair = Update::builder()
            .table_name(&self.table)
            .set_key(Some(keys::pair_key(&PairKey::of(caller, other))))
            .update_expression("DELETE #blocked :me")
            .expression_attribute_names("#blocked", keys::BLOCKED_BY)
            .expression_attribute_values(":me", set_of(caller))
            .build()
            .map_err(StoreError::fault)?;
        let mut tx = Transaction::new();
        tx.check(
            BlockCheck::Block,
            TransactWriteItem::builder().delete(remove).build(),
        )
        .unconditional(TransactWriteItem::builder().update(pair).build());
        self.mark_block(&mut tx, caller, other, direct, false)?;
        self.commit_block(tx).await
    }

    /// Adds (or takes back) `caller`'s block where the checks read it: `other` in the caller's
    /// `blocked_ids` (the profile must exist), and `blocked_by` on both memberships of the
    /// pair's direct channel, if they have one.
    fn mark_block(
        &self,
        tx: &mut Transaction<BlockCheck>,
        caller: &UserId,
        other: &UserId,
        direct: Option<&ChannelId>,
        add: bool,
    ) -> Result<(), StoreError> {
        let profile = keys::user_key(caller);
        tx.check(
            BlockCheck::CallerExists,
            set_change(&self.table, profile, keys::BLOCKED_IDS, other, add)?,
        );
        if let Some(channel) = direct {
            for user in [caller, other] {
                let member = keys::member_key(channel, user);
                tx.check(
                    BlockCheck::AsRead,
                    set_change(&self.table, member, keys::BLOCKED_BY, caller, add)?,
                );
            }
        }
        Ok(())
    }

    async fn commit_block(&self, tx: Transaction<BlockCheck>) -> Result<BlockWritten, StoreError> {
        Ok(match self.commit(tx).await? {
            Commit::Done => BlockWritten::Done,
            Commit::Refused(refused) if refused.failed(BlockCheck::Block) => {
                BlockWritten::Unchanged
            }
            Commit::Refused(refused) if refused.failed(BlockCheck::CallerExists) => {
                BlockWritten::CallerGone
            }
            Commit::Refused(_) => BlockWritten::Moved,
        })
    }

    /// One page of the users `owner` blocked, in id order.
    pub async fn list_blocks(
        &self,
        owner: &UserId,
        page: &PageRequest,
    ) -> Result<Page<BlockEntry>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(keys::user_pk(owner)))
            .expression_attribute_values(":prefix", s(keys::BLOCK_PREFIX));
        let (items, next_cursor) = self
            .query_page(query, &format!("blocks:{owner}"), page, &[PK, SK])
            .await?;
        let items = items
            .into_iter()
            .map(|item| {
                from_item::<BlockItem>(item).map(|block| BlockEntry {
                    user_id: block.user_id,
                    since: block.since,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Page { items, next_cursor })
    }

    /// A check, for another transaction, that `member`'s membership exists and nobody blocked
    /// anybody in the channel (only direct memberships carry `blocked_by`); the item comes
    /// back when it fails.
    pub(super) fn unblocked_member_check(
        &self,
        channel: &ChannelId,
        member: &UserId,
    ) -> Result<TransactWriteItem, StoreError> {
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(keys::member_key(channel, member)))
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(#blocked)")
            .expression_attribute_names("#blocked", keys::BLOCKED_BY)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(StoreError::fault)?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }
}

/// Whether an item (a membership, a pair) carries a block.
pub(super) fn carries_block(item: &HashMap<String, AttributeValue>) -> bool {
    item.contains_key(keys::BLOCKED_BY)
}
