use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Delete, TransactWriteItem, Update};

use super::error::{applied, db_error, StoreError};
use super::items::{from_item, to_item, ChannelItem, DirectItem, MemberItem, UserItem};
use super::keys::{self, PK, SK};
use super::{s, string_of, Commit, Store, Transaction, BY_GSI1, BY_GSI2};
use crate::domain::{
    Channel, ChannelId, MemberRole, Membership, MessageId, Page, PageRequest, PairKey, Timestamp,
    User, UserId,
};

/// What one read of a channel found for a caller: the channel (absent if unknown or deleted),
/// the caller's membership, and the profiles asked for alongside.
pub struct ChannelAccess {
    pub channel: Option<Channel>,
    /// The channel's newest message, deleted or not (as the event router last recorded it).
    pub activity: Option<MessageId>,
    /// The channel's admins (with when they joined).
    pub admins: Vec<Membership>,
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

/// How creating a channel ended.
#[derive(Debug, PartialEq, Eq)]
pub enum ChannelCreated {
    Created,
    /// The pair already has a direct channel (this one): nothing was written.
    DirectExists(ChannelId),
    /// The two of a direct channel are not (or no longer) partners: nothing was written.
    NotPartners,
}

/// How adding a member ended.
#[derive(Debug, PartialEq, Eq)]
pub enum MemberAdded {
    Added,
    AlreadyMember,
    /// The member who was adding left before the write.
    AdderLeft,
    /// The account being added no longer exists.
    UserGone,
    /// The account being added is not (or no longer) a partner of the one adding it.
    NotPartners,
    /// The channel changed since it was read: deleted, full, or made private.
    ChannelClosed,
}

/// How deleting a channel ended.
#[derive(Debug, PartialEq, Eq)]
pub enum ChannelDeletion {
    Deleted,
    /// The caller is not (or no longer) the channel's owner.
    NotOwner,
    /// Someone deleted it first.
    AlreadyGone,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum CreateCheck {
    PairFree,
    Partners,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum AddCheck {
    NotYetMember,
    ChannelOpen,
    UserExists,
    AdderIsMember,
    Partners,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum LeaveCheck {
    IsMember,
    ChannelExists,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum DeleteCheck {
    ChannelLive,
    CallerMayDelete,
}

/// A new membership; `activity` places the channel in the member's list: the channel's
/// newest message, or the channel itself when it has none.
fn member_item(membership: &Membership, founding: bool, activity: &str) -> MemberItem {
    let key = keys::member_key(&membership.channel_id, &membership.user_id);
    MemberItem {
        pk: string_of(&key, PK),
        sk: string_of(&key, SK),
        gsi1pk: keys::user_channels_pk(&membership.user_id),
        gsi1sk: activity.to_string(),
        gsi2pk: Some(keys::channel_pk(&membership.channel_id)),
        gsi2sk: Some(keys::member_by_join_sk(
            &membership.joined_at,
            &membership.user_id,
        )),
        entity: "member".into(),
        channel_id: membership.channel_id.clone(),
        user_id: membership.user_id.clone(),
        role: membership.role,
        joined_at: membership.joined_at,
        founding,
        hidden_at: None,
        blocked_by: Default::default(),
        sends_since: 0,
        sends: 0,
        last_sent_at: 0,
        last_read_message_id: None,
        read_at: None,
        read_via: None,
        read_pusher: Default::default(),
        muted: false,
        last_activity_at: None,
    }
}

fn live_channel(item: ChannelItem) -> Option<Channel> {
    item.deleted_at.is_none().then(|| Channel::from(item))
}

impl Store {
    /// Creates a channel with its first members in one transaction. A direct channel also
    /// claims its pair: if the pair already has one, nothing is written and its id is returned.
    pub async fn create_channel(
        &self,
        channel: &Channel,
        members: &[Membership],
        direct_pair: Option<&PairKey>,
    ) -> Result<ChannelCreated, StoreError> {
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
            description: channel.description.clone(),
            kind: channel.kind,
            private: channel.private,
            created_by: channel.created_by.clone(),
            created_at: channel.created_at,
            member_count: channel.member_count,
            slow_mode_seconds: channel.slow_mode_seconds,
            deleted_at: None,
            activity_id: None,
            last_activity_at: None,
            last_message: None,
            lists_move_pending: false,
        };
        let mut tx = Transaction::new();
        tx.invariant(self.put_if_absent(to_item(&item)?, false)?);
        for member in members {
            let item = member_item(member, true, channel.id.as_str());
            tx.invariant(self.put_if_absent(to_item(&item)?, false)?);
        }
        if let Some(pair) = direct_pair {
            let key = keys::direct_key(pair);
            let claim = DirectItem {
                pk: string_of(&key, PK),
                sk: string_of(&key, SK),
                entity: "direct_channel".into(),
                channel_id: channel.id.clone(),
            };
            tx.check(
                CreateCheck::PairFree,
                self.put_if_absent(to_item(&claim)?, true)?,
            );
            tx.check(
                CreateCheck::Partners,
                self.exists_check(keys::partner_key(&pair.low, &pair.high))?,
            );
        }
        match self.commit(tx).await? {
            Commit::Done => Ok(ChannelCreated::Created),
            Commit::Refused(refused) if refused.failed(CreateCheck::Partners) => {
                Ok(ChannelCreated::NotPartners)
            }
            Commit::Refused(refused) => {
                let existing = refused
                    .item(CreateCheck::PairFree)
                    .cloned()
                    .map(from_item::<DirectItem>)
                    .transpose()?
                    .ok_or_else(|| StoreError::fault("direct claim without its item"))?;
                Ok(ChannelCreated::DirectExists(existing.channel_id))
            }
        }
    }

    /// The pair's direct channel, if it has one (its claim, read consistently).
    pub async fn direct_channel(&self, pair: &PairKey) -> Result<Option<ChannelId>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(keys::direct_key(pair)))
            .consistent_read(true)
            .send()
            .await
            .map_err(db_error)?;
        Ok(output
            .item
            .map(from_item::<DirectItem>)
            .transpose()?
            .map(|claim| claim.channel_id))
    }

    /// One BatchGetItem: the channel, `member`'s membership, and the given user profiles.
    pub async fn channel_access(
        &self,
        channel: &ChannelId,
        member: &UserId,
        users: &[UserId],
    ) -> Result<ChannelAccess, StoreError> {
        let mut wanted = vec![
            keys::channel_key(channel),
            keys::member_key(channel, member),
        ];
        wanted.extend(users.iter().map(keys::user_key));
        let mut access = ChannelAccess {
            channel: None,
            activity: None,
            admins: Vec::new(),
            membership: None,
            users: Vec::new(),
        };
        for item in self.batch_get(wanted, super::Read::Consistent).await? {
            let sk = string_of(&item, SK);
            if sk == keys::CHANNEL_META {
                access.admins = super::roles::channel_admins(&item);
                let channel: ChannelItem = from_item(item)?;
                access.activity = channel.activity_id.clone();
                access.channel = live_channel(channel);
            } else if sk == keys::PROFILE {
                access.users.push(User::from(from_item::<UserItem>(item)?));
            } else {
                access.membership = Some(Membership::from(from_item::<MemberItem>(item)?));
            }
        }
        Ok(access)
    }

    /// `user`'s membership of `channel`, if any (read consistently).
    pub async fn membership(
        &self,
        channel: &ChannelId,
        user: &UserId,
    ) -> Result<Option<Membership>, StoreError> {
        self.batch_get(
            vec![keys::member_key(channel, user)],
            super::Read::Consistent,
        )
        .await?
        .into_iter()
        .next()
        .map(|item| from_item::<MemberItem>(item).map(Membership::from))
        .transpose()
    }

    /// One page of a channel's members, first joined first (GSI2: a member who joined in the
    /// last moment may be missing from it for that moment).
    pub async fn members_by_join(
        &self,
        channel: &ChannelId,
        page: &PageRequest,
    ) -> Result<Page<Membership>, StoreError> {
        let scope = format!("members:{channel}");
        let page = self
            .index_page::<MemberItem>(BY_GSI2, keys::channel_pk(channel), &scope, page, false)
            .await?;
        Ok(page.map(Membership::from))
    }

    /// The ids of every member of a channel, for fan-outs: only `user_id` is read back, so
    /// 10,000 members fit in one Query page.
    pub async fn channel_member_ids(&self, channel: &ChannelId) -> Result<Vec<UserId>, StoreError> {
        #[derive(serde::Deserialize)]
        struct Id {
            user_id: UserId,
        }
        self.query_all_of(
            keys::channel_pk(channel),
            keys::MEMBER_PREFIX,
            Some("user_id"),
        )
        .await?
        .into_iter()
        .map(|item| from_item::<Id>(item).map(|id| id.user_id))
        .collect()
    }

    /// Every member of a channel (up to `MAX_GROUP_MEMBERS`: a few 1 MB Query pages at most),
    /// for clean-ups.
    pub async fn channel_members(
        &self,
        channel: &ChannelId,
    ) -> Result<Vec<Membership>, StoreError> {
        self.query_all(keys::channel_pk(channel), keys::MEMBER_PREFIX)
            .await?
            .into_iter()
            .map(|item| from_item::<MemberItem>(item).map(Membership::from))
            .collect()
    }

    /// Adds a member: the membership, the channel's count (below `max_members`, channel not
    /// deleted, public for a self-join) and the admission's checks, in one transaction.
    /// `activity` is the channel's newest message, if any: the new member's list places the
    /// channel by it.
    pub async fn add_member(
        &self,
        channel: &Channel,
        membership: &Membership,
        admission: Admission<'_>,
        max_members: u32,
        activity: Option<&MessageId>,
    ) -> Result<MemberAdded, StoreError> {
        let activity = activity.map_or(channel.id.as_str(), MessageId::as_str);
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
            .expression_attribute_values(":max", AttributeValue::N(max_members.to_string()));
        if matches!(admission, Admission::Joined) {
            count = count
                .expression_attribute_names("#private", "private")
                .expression_attribute_values(":false", AttributeValue::Bool(false));
        }
        let mut tx = Transaction::new();
        tx.check(
            AddCheck::NotYetMember,
            self.put_if_absent(to_item(&member_item(membership, false, activity))?, false)?,
        )
        .check(
            AddCheck::ChannelOpen,
            TransactWriteItem::builder()
                .update(count.build().map_err(StoreError::fault)?)
                .build(),
        )
        .check(
            AddCheck::UserExists,
            self.exists_check(keys::user_key(&membership.user_id))?,
        );
        if let Admission::AddedBy(by) = admission {
            tx.check(
                AddCheck::AdderIsMember,
                self.exists_check(keys::member_key(&channel.id, by))?,
            )
            .check(
                AddCheck::Partners,
                self.exists_check(keys::partner_key(by, &membership.user_id))?,
            );
        }
        Ok(match self.commit(tx).await? {
            Commit::Done => MemberAdded::Added,
            Commit::Refused(refused) if refused.failed(AddCheck::NotYetMember) => {
                MemberAdded::AlreadyMember
            }
            Commit::Refused(refused) if refused.failed(AddCheck::AdderIsMember) => {
                MemberAdded::AdderLeft
            }
            Commit::Refused(refused) if refused.failed(AddCheck::UserExists) => {
                MemberAdded::UserGone
            }
            Commit::Refused(refused) if refused.failed(AddCheck::Partners) => {
                MemberAdded::NotPartners
            }
            Commit::Refused(_) => MemberAdded::ChannelClosed,
        })
    }

    /// Removes a member (and their read marker) and decrements the count; `false` if they
    /// were not a member.
    pub async fn remove_member(
        &self,
        channel: &ChannelId,
        user: &UserId,
    ) -> Result<bool, StoreError> {
        let leave = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(keys::member_key(channel, user)))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(StoreError::fault)?;
        // An admin who leaves stops being one (a no-op for anyone else).
        let count = Update::builder()
            .table_name(&self.table)
            .set_key(Some(keys::channel_key(channel)))
            .update_expression("SET member_count = member_count - :one REMOVE #admin")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#admin", keys::admin_attribute(user))
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .build()
            .map_err(StoreError::fault)?;
        let mut tx = Transaction::new();
        tx.check(
            LeaveCheck::IsMember,
            TransactWriteItem::builder().delete(leave).build(),
        )
        // Gone only while a deleted channel is being purged: as good as not a member.
        .check(
            LeaveCheck::ChannelExists,
            TransactWriteItem::builder().update(count).build(),
        );
        Ok(matches!(self.commit(tx).await?, Commit::Done))
    }

    /// Hides a channel at once (every read treats it as gone, the public index drops it) and
    /// frees a direct pair; its items are purged later by the maintenance worker.
    /// `by` must be the owner, or any member where the channel allows that
    /// (`Channel::deletable_by_any_member`).
    pub async fn mark_channel_deleted(
        &self,
        channel: &Channel,
        by: &UserId,
        direct_pair: Option<&PairKey>,
        now: Timestamp,
    ) -> Result<ChannelDeletion, StoreError> {
        let hide = Update::builder()
            .table_name(&self.table)
            .set_key(Some(keys::channel_key(&channel.id)))
            .update_expression("SET deleted_at = :now REMOVE gsi1pk, gsi1sk")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(deleted_at)")
            .expression_attribute_values(":now", s(now.to_string()))
            .build()
            .map_err(StoreError::fault)?;
        let mut tx = Transaction::new();
        tx.check(
            DeleteCheck::ChannelLive,
            TransactWriteItem::builder().update(hide).build(),
        )
        .check(
            DeleteCheck::CallerMayDelete,
            if channel.deletable_by_any_member() {
                self.exists_check(keys::member_key(&channel.id, by))?
            } else {
                self.must_exist_with_role(&channel.id, by, MemberRole::Owner)?
            },
        );
        if let Some(pair) = direct_pair {
            let release = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(keys::direct_key(pair)))
                .build()
                .map_err(StoreError::fault)?;
            tx.unconditional(TransactWriteItem::builder().delete(release).build());
        }
        Ok(match self.commit(tx).await? {
            Commit::Done => ChannelDeletion::Deleted,
            Commit::Refused(refused) if refused.failed(DeleteCheck::CallerMayDelete) => {
                ChannelDeletion::NotOwner
            }
            Commit::Refused(_) => ChannelDeletion::AlreadyGone,
        })
    }

    fn must_exist_with_role(
        &self,
        channel: &ChannelId,
        user: &UserId,
        role: MemberRole,
    ) -> Result<TransactWriteItem, StoreError> {
        let role = role.as_str();
        Ok(TransactWriteItem::builder()
            .condition_check(
                ConditionCheck::builder()
                    .table_name(&self.table)
                    .set_key(Some(keys::member_key(channel, user)))
                    .condition_expression("#role = :role")
                    .expression_attribute_names("#role", "role")
                    .expression_attribute_values(":role", s(role))
                    .build()
                    .map_err(StoreError::fault)?,
            )
            .build())
    }

    /// Whether `other` is a member of one of `user`'s channels, given the first page of
    /// `user`'s channel ids (read beside whatever came before): the memberships of `other`
    /// in them by BatchGetItem, then the next page of 100, until one is found. Reads grow
    /// with `user`'s channels only.
    pub async fn shares_a_channel(
        &self,
        user: &UserId,
        other: &UserId,
        first_page: Page<ChannelId>,
    ) -> Result<bool, StoreError> {
        let mut channels = first_page;
        loop {
            let keys = channels
                .items
                .iter()
                .map(|channel| keys::member_key(channel, other))
                .collect();
            if !self
                .batch_get(keys, super::Read::Eventual)
                .await?
                .is_empty()
            {
                return Ok(true);
            }
            match channels.next_cursor {
                Some(cursor) => {
                    let page = PageRequest {
                        limit: Some(crate::domain::Limit::MAX_PAGE),
                        cursor: Some(cursor),
                    };
                    channels = self.list_member_channel_ids(user, &page).await?;
                }
                None => return Ok(false),
            }
        }
    }

    /// One page of the channels a user belongs to (ids, by activity, oldest first).
    pub async fn list_member_channel_ids(
        &self,
        user: &UserId,
        page: &PageRequest,
    ) -> Result<Page<ChannelId>, StoreError> {
        let scope = format!("channels:{user}");
        let page = self
            .index_page::<MemberItem>(BY_GSI1, keys::user_channels_pk(user), &scope, page, false)
            .await?;
        Ok(page.map(|member| member.channel_id))
    }

    /// Hides a direct channel from `user`'s list until a message newer than `since` (`None`:
    /// shows it again); `false` when `user` is not a member.
    pub async fn hide_channel(
        &self,
        channel: &ChannelId,
        user: &UserId,
        since: Option<Timestamp>,
    ) -> Result<bool, StoreError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::member_key(channel, user)))
            .condition_expression("attribute_exists(pk)");
        let result = match since {
            Some(since) => update
                .update_expression("SET hidden_at = :since")
                .expression_attribute_values(":since", s(since.to_string())),
            None => update.update_expression("REMOVE hidden_at"),
        }
        .send()
        .await;
        applied(result)
    }

    /// Channels by id (one BatchGetItem per 100, sent at once), deleted ones left out, in the
    /// given order.
    pub async fn get_channels(
        &self,
        ids: &[ChannelId],
        read: super::Read,
    ) -> Result<Vec<Channel>, StoreError> {
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
    ) -> Result<Page<Channel>, StoreError> {
        let partition = keys::PUBLIC_CHANNELS.to_string();
        let page = self
            .index_page::<ChannelItem>(BY_GSI1, partition, "channels:public", page, false)
            .await?;
        Ok(page.map(Channel::from))
    }
}
