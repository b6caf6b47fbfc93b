use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Delete, TransactWriteItem, Update};

use super::items::{from_item, to_item, ChannelItem, DirectItem, MemberItem, UserItem};
use super::keys::{self, GSI1, GSI1_PK, GSI1_SK, PK, SK};
use super::tx::{failed_conditions, TxError};
use super::{s, string_of, Item, Store};
use crate::domain::{
    Channel, ChannelId, MemberRole, Membership, Page, PageRequest, PairKey, Timestamp, User,
    UserId, MAX_GROUP_MEMBERS,
};
use crate::error::AppError;

/// What one read of a channel found for a caller: the channel (absent if unknown or deleted),
/// the caller's membership, and the profiles asked for alongside.
pub struct ChannelAccess {
    pub channel: Option<Channel>,
    pub membership: Option<Membership>,
    pub users: Vec<User>,
}

/// How a new member gets in.
#[derive(Clone, Copy)]
pub enum Admission<'a> {
    /// Added by `by`, who must still be a member when the write commits.
    AddedBy(&'a UserId),
    /// Joined by themselves: the channel must be public.
    Joined,
}

fn member_item(membership: &Membership) -> MemberItem {
    let key = keys::member_key(&membership.channel_id, &membership.user_id);
    MemberItem {
        pk: string_of(&key, PK),
        sk: string_of(&key, SK),
        gsi1pk: keys::user_channels_pk(&membership.user_id),
        gsi1sk: membership.channel_id.to_string(),
        entity: "member".into(),
        channel_id: membership.channel_id.clone(),
        user_id: membership.user_id.clone(),
        role: membership.role,
        joined_at: membership.joined_at,
    }
}

fn live_channel(item: ChannelItem) -> Option<Channel> {
    item.deleted_at.is_none().then(|| Channel::from(item))
}

impl Store {
    fn must_exist(&self, key: Item, condition: &str) -> Result<TransactWriteItem, AppError> {
        Ok(TransactWriteItem::builder()
            .condition_check(
                ConditionCheck::builder()
                    .table_name(&self.table)
                    .set_key(Some(key))
                    .condition_expression(condition)
                    .build()
                    .map_err(AppError::internal)?,
            )
            .build())
    }

    /// Creates a channel with its first members in one transaction. A direct channel also
    /// claims its pair: if the pair already has one, nothing is written and its id is returned.
    pub async fn create_channel(
        &self,
        channel: &Channel,
        members: &[Membership],
        direct_pair: Option<&PairKey>,
    ) -> Result<Option<ChannelId>, AppError> {
        let key = keys::channel_key(&channel.id);
        let public = !channel.private;
        let item = ChannelItem {
            pk: string_of(&key, PK),
            sk: string_of(&key, SK),
            gsi1pk: public.then(|| keys::PUBLIC_CHANNELS.to_string()),
            gsi1sk: public.then(|| channel.id.to_string()),
            entity: "channel".into(),
            id: channel.id.clone(),
            name: channel.name.clone(),
            kind: channel.kind,
            private: channel.private,
            created_by: channel.created_by.clone(),
            created_at: channel.created_at,
            member_count: channel.member_count,
            deleted_at: None,
        };
        let mut actions = vec![self.put_if_absent(to_item(&item)?, false)?];
        for member in members {
            actions.push(self.put_if_absent(to_item(&member_item(member))?, false)?);
        }
        if let Some(pair) = direct_pair {
            let key = keys::direct_key(pair);
            let claim = DirectItem {
                pk: string_of(&key, PK),
                sk: string_of(&key, SK),
                entity: "direct_channel".into(),
                channel_id: channel.id.clone(),
            };
            actions.push(self.put_if_absent(to_item(&claim)?, true)?);
        }
        let claim_index = actions.len() - 1;
        match self.transact(actions).await {
            Ok(()) => Ok(None),
            Err(TxError::ConditionFailed(reasons))
                if direct_pair.is_some() && failed_conditions(&reasons) == [claim_index] =>
            {
                let existing = reasons[claim_index]
                    .item()
                    .cloned()
                    .map(from_item::<DirectItem>)
                    .transpose()?
                    .ok_or_else(|| AppError::internal("direct claim without its item"))?;
                Ok(Some(existing.channel_id))
            }
            Err(TxError::ConditionFailed(_)) => Err(AppError::internal("channel id collision")),
            Err(TxError::Other(err)) => Err(err),
        }
    }

    /// One BatchGetItem: the channel, `member`'s membership, and the given user profiles.
    pub async fn channel_access(
        &self,
        channel: &ChannelId,
        member: &UserId,
        users: &[UserId],
    ) -> Result<ChannelAccess, AppError> {
        let mut wanted = vec![
            keys::channel_key(channel),
            keys::member_key(channel, member),
        ];
        wanted.extend(users.iter().map(keys::user_key));
        let mut access = ChannelAccess {
            channel: None,
            membership: None,
            users: Vec::new(),
        };
        for item in self.batch_get(wanted, super::Read::Consistent).await? {
            let sk = string_of(&item, SK);
            if sk == keys::CHANNEL_META {
                access.channel = live_channel(from_item(item)?);
            } else if sk == keys::PROFILE {
                access.users.push(User::from(from_item::<UserItem>(item)?));
            } else {
                access.membership = Some(Membership::from(from_item::<MemberItem>(item)?));
            }
        }
        Ok(access)
    }

    /// Every member of a channel (at most 500, far below one Query page).
    pub async fn channel_members(&self, channel: &ChannelId) -> Result<Vec<Membership>, AppError> {
        self.query_all(keys::channel_pk(channel), keys::MEMBER_PREFIX)
            .await?
            .into_iter()
            .map(|item| from_item::<MemberItem>(item).map(Membership::from))
            .collect()
    }

    /// Adds a member: the membership, the channel's count (below the group limit, channel not
    /// deleted, public for a self-join) and the admission's checks, in one transaction.
    pub async fn add_member(
        &self,
        channel: &Channel,
        membership: &Membership,
        admission: Admission<'_>,
    ) -> Result<(), AppError> {
        let mut condition =
            "attribute_exists(pk) AND attribute_not_exists(deleted_at) AND member_count < :max"
                .to_string();
        if matches!(admission, Admission::Joined) {
            condition.push_str(" AND #private = :false");
        }
        let mut count = Update::builder()
            .table_name(&self.table)
            .set_key(Some(keys::channel_key(&channel.id)))
            .update_expression("SET member_count = member_count + :one")
            .condition_expression(condition)
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":max", AttributeValue::N(MAX_GROUP_MEMBERS.to_string()));
        if matches!(admission, Admission::Joined) {
            count = count
                .expression_attribute_names("#private", "private")
                .expression_attribute_values(":false", AttributeValue::Bool(false));
        }
        let mut actions = vec![
            self.put_if_absent(to_item(&member_item(membership))?, false)?,
            TransactWriteItem::builder()
                .update(count.build().map_err(AppError::internal)?)
                .build(),
            self.must_exist(keys::user_key(&membership.user_id), "attribute_exists(pk)")?,
        ];
        if let Admission::AddedBy(by) = admission {
            actions
                .push(self.must_exist(keys::member_key(&channel.id, by), "attribute_exists(pk)")?);
        }
        match self.transact(actions).await {
            Ok(()) => Ok(()),
            Err(TxError::ConditionFailed(reasons)) => {
                let failed = failed_conditions(&reasons);
                Err(if failed.contains(&0) {
                    AppError::conflict("already a member")
                } else if failed.contains(&3) {
                    AppError::forbidden("only members can add members")
                } else if failed.contains(&2) {
                    match admission {
                        Admission::Joined => AppError::Unauthorized("the account no longer exists"),
                        Admission::AddedBy(_) => AppError::not_found("user not found"),
                    }
                } else {
                    // The channel changed since it was read: deleted, full, or made private.
                    AppError::conflict("the channel is full or no longer open to new members")
                })
            }
            Err(TxError::Other(err)) => Err(err),
        }
    }

    /// Removes a member (and their read marker) and decrements the count; 409 if not a member.
    pub async fn remove_member(&self, channel: &ChannelId, user: &UserId) -> Result<(), AppError> {
        let leave = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(keys::member_key(channel, user)))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(AppError::internal)?;
        let count = Update::builder()
            .table_name(&self.table)
            .set_key(Some(keys::channel_key(channel)))
            .update_expression("SET member_count = member_count - :one")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .build()
            .map_err(AppError::internal)?;
        // The member's read marker goes too, so read receipts list members only.
        let marker = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(keys::read_key(channel, user)))
            .build()
            .map_err(AppError::internal)?;
        let actions = vec![
            TransactWriteItem::builder().delete(leave).build(),
            TransactWriteItem::builder().update(count).build(),
            TransactWriteItem::builder().delete(marker).build(),
        ];
        match self.transact(actions).await {
            Ok(()) => Ok(()),
            Err(TxError::ConditionFailed(_)) => Err(AppError::conflict("you are not a member")),
            Err(TxError::Other(err)) => Err(err),
        }
    }

    /// Hides a channel at once (every read treats it as gone, the public index drops it) and
    /// frees a direct pair; its items are purged later by the maintenance worker.
    pub async fn mark_channel_deleted(
        &self,
        channel: &Channel,
        owner: &UserId,
        direct_pair: Option<&PairKey>,
        now: Timestamp,
    ) -> Result<(), AppError> {
        let hide = Update::builder()
            .table_name(&self.table)
            .set_key(Some(keys::channel_key(&channel.id)))
            .update_expression("SET deleted_at = :now REMOVE gsi1pk, gsi1sk")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(deleted_at)")
            .expression_attribute_values(":now", s(now.to_string()))
            .build()
            .map_err(AppError::internal)?;
        let mut actions = vec![
            TransactWriteItem::builder().update(hide).build(),
            self.must_exist_with_role(&channel.id, owner, MemberRole::Owner)?,
        ];
        if let Some(pair) = direct_pair {
            let release = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(keys::direct_key(pair)))
                .build()
                .map_err(AppError::internal)?;
            actions.push(TransactWriteItem::builder().delete(release).build());
        }
        match self.transact(actions).await {
            Ok(()) => Ok(()),
            Err(TxError::ConditionFailed(reasons)) => {
                Err(if failed_conditions(&reasons).contains(&1) {
                    AppError::forbidden("only the owner can delete a channel")
                } else {
                    Channel::not_found()
                })
            }
            Err(TxError::Other(err)) => Err(err),
        }
    }

    fn must_exist_with_role(
        &self,
        channel: &ChannelId,
        user: &UserId,
        role: MemberRole,
    ) -> Result<TransactWriteItem, AppError> {
        let role = match role {
            MemberRole::Owner => "owner",
            MemberRole::Member => "member",
        };
        Ok(TransactWriteItem::builder()
            .condition_check(
                ConditionCheck::builder()
                    .table_name(&self.table)
                    .set_key(Some(keys::member_key(channel, user)))
                    .condition_expression("#role = :role")
                    .expression_attribute_names("#role", "role")
                    .expression_attribute_values(":role", s(role))
                    .build()
                    .map_err(AppError::internal)?,
            )
            .build())
    }

    /// One page of the channels a user belongs to (ids, in channel id order).
    pub async fn list_member_channel_ids(
        &self,
        user: &UserId,
        page: &PageRequest,
    ) -> Result<Page<ChannelId>, AppError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI1)
            .key_condition_expression("gsi1pk = :pk")
            .expression_attribute_values(":pk", s(keys::user_channels_pk(user)));
        let (items, next_cursor) = self
            .query_page(
                query,
                &format!("channels:{user}"),
                page,
                &[PK, SK, GSI1_PK, GSI1_SK],
            )
            .await?;
        let items = items
            .into_iter()
            .map(|item| from_item::<MemberItem>(item).map(|m| m.channel_id))
            .collect::<Result<_, _>>()?;
        Ok(Page { items, next_cursor })
    }

    /// Channels by id (one BatchGetItem per 100, sent at once), deleted ones left out, in the
    /// given order.
    pub async fn get_channels(
        &self,
        ids: &[ChannelId],
        read: super::Read,
    ) -> Result<Vec<Channel>, AppError> {
        let batches = ids
            .chunks(100)
            .map(|chunk| self.batch_get(chunk.iter().map(keys::channel_key).collect(), read));
        let mut found = std::collections::HashMap::new();
        for item in futures::future::try_join_all(batches)
            .await?
            .into_iter()
            .flatten()
        {
            if let Some(channel) = live_channel(from_item(item)?) {
                found.insert(channel.id.clone(), channel);
            }
        }
        Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
    }

    /// One page of public channels, oldest first.
    pub async fn list_public_channels(
        &self,
        page: &PageRequest,
    ) -> Result<Page<Channel>, AppError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI1)
            .key_condition_expression("gsi1pk = :pk")
            .expression_attribute_values(":pk", s(keys::PUBLIC_CHANNELS));
        let (items, next_cursor) = self
            .query_page(query, "channels:public", page, &[PK, SK, GSI1_PK, GSI1_SK])
            .await?;
        let items = items
            .into_iter()
            .map(|item| from_item::<ChannelItem>(item).map(Channel::from))
            .collect::<Result<_, _>>()?;
        Ok(Page { items, next_cursor })
    }
}
