//! The inbox: a member's channels by activity, what is unread after its marker, and the
//! channel's newest message.
//!
//! - A membership's `gsi1sk` is the newest message its member's list knows of (or the
//!   channel's own id before the first message). Ids are UUIDv7, so a Query of the member's
//!   GSI1 partition, newest first, *is* the channel list in activity order, a page at a time.
//!   The send moves the sender's own membership in its transaction; the event router moves
//!   everyone else's afterwards (`bump_activity`), off the request path.
//! - The channel item keeps its newest live message (`last_message`) and its newest message
//!   (`activity_id`, `last_activity_at`), written by the event router from the stream.
//! - Unread messages are counted from one bounded Query after the member's read marker
//!   (`UNREAD_SCAN` items at most), only for channels whose activity passed the marker.

use std::collections::{BTreeSet, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use futures::{stream, StreamExt, TryStreamExt};
use serde::Deserialize;

use super::error::{db_error, done_unless_failed, StoreError};
use super::items::{from_item, ChannelItem, MemberItem};
use super::keys;
use super::messages::message_from;
use super::{s, Store, BY_GSI1};
use crate::domain::{
    Channel, ChannelId, InboxEntry, LastMessage, Message, MessageId, Page, PageRequest, Timestamp,
    UnreadCandidate, UserId, UNREAD_SCAN,
};

/// What a channel item says of the channel's activity.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChannelActivity {
    /// The newest live message.
    pub last_message: Option<LastMessage>,
    /// When the newest message (deleted or not) was written.
    pub last_activity_at: Option<Timestamp>,
}

/// How many conditional updates of memberships run at once.
const BUMP_CONCURRENCY: usize = 32;

/// How many of a channel's newest messages are looked through for the newest one a reader
/// may see (deleted and blocked users' messages are skipped).
const NEWEST_LIVE_SCAN: i32 = 50;

#[derive(Deserialize)]
struct CandidateItem {
    id: MessageId,
    sender_id: UserId,
    #[serde(default)]
    mentions: BTreeSet<UserId>,
    #[serde(default)]
    deleted_at: Option<Timestamp>,
}

impl Store {
    /// One page of `user`'s channel list, newest activity first.
    pub async fn inbox_page(
        &self,
        user: &UserId,
        page: &PageRequest,
    ) -> Result<Page<InboxEntry>, StoreError> {
        let scope = format!("inbox:{user}");
        let page = self
            .index_page::<MemberItem>(BY_GSI1, keys::user_channels_pk(user), &scope, page, true)
            .await?;
        Ok(page.map(InboxEntry::from))
    }

    /// Every channel entry of `user` (its whole list: a few 1 MB Query pages at most).
    pub async fn inbox_entries(&self, user: &UserId) -> Result<Vec<InboxEntry>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(keys::GSI1)
            .key_condition_expression("gsi1pk = :pk")
            .expression_attribute_values(":pk", s(keys::user_channels_pk(user)));
        self.every_page(query)
            .await?
            .into_iter()
            .map(|item| from_item::<MemberItem>(item).map(InboxEntry::from))
            .collect()
    }

    /// Channels with their activity, by id (one BatchGetItem per 100, eventually consistent:
    /// a list may be a moment old); deleted ones left out.
    pub async fn channels_with_activity(
        &self,
        ids: &[ChannelId],
    ) -> Result<HashMap<ChannelId, (Channel, ChannelActivity)>, StoreError> {
        let batches = ids.chunks(100).map(|chunk| {
            self.batch_get(
                chunk.iter().map(keys::channel_key).collect(),
                super::Read::Eventual,
            )
        });
        let mut found = HashMap::new();
        for item in futures::future::try_join_all(batches)
            .await?
            .into_iter()
            .flatten()
        {
            let item: ChannelItem = from_item(item)?;
            if item.deleted_at.is_some() {
                continue;
            }
            let activity = ChannelActivity {
                last_message: item.last_message.clone(),
                last_activity_at: item.last_activity_at,
            };
            let channel = Channel::from(item);
            found.insert(channel.id.clone(), (channel, activity));
        }
        Ok(found)
    }

    /// The messages after `marker` (all of them without one), oldest first: one Query of at
    /// most `UNREAD_SCAN` items, reading back only what counting needs.
    pub async fn unread_candidates(
        &self,
        channel: &ChannelId,
        marker: Option<&MessageId>,
    ) -> Result<Vec<UnreadCandidate>, StoreError> {
        let from = match marker {
            Some(marker) => format!("{}{marker}", keys::MESSAGE_PREFIX),
            None => keys::MESSAGE_PREFIX.to_string(),
        };
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
            .expression_attribute_values(":pk", s(keys::channel_pk(channel)))
            .expression_attribute_values(":from", s(from))
            .expression_attribute_values(":to", s(keys::MESSAGES_END))
            .projection_expression("id, sender_id, mentions, deleted_at")
            .limit(UNREAD_SCAN as i32)
            .send()
            .await
            .map_err(db_error)?;
        output
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|item| {
                from_item::<CandidateItem>(item).map(|item| UnreadCandidate {
                    id: item.id,
                    sender_id: item.sender_id,
                    mentions: item.mentions,
                    deleted: item.deleted_at.is_some(),
                })
            })
            .collect()
    }

    /// The newest live message of a channel not sent by any of `skipping` (among its newest
    /// `NEWEST_LIVE_SCAN` messages).
    pub async fn newest_live_message(
        &self,
        channel: &ChannelId,
        skipping: &BTreeSet<UserId>,
    ) -> Result<Option<Message>, StoreError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .filter_expression("attribute_not_exists(deleted_at)")
            .expression_attribute_values(":pk", s(keys::channel_pk(channel)))
            .expression_attribute_values(":prefix", s(keys::MESSAGE_PREFIX))
            .scan_index_forward(false)
            .limit(NEWEST_LIVE_SCAN)
            .consistent_read(true)
            .send()
            .await
            .map_err(db_error)?;
        for item in output.items.unwrap_or_default() {
            let message = message_from(item)?;
            if !skipping.contains(&message.sender.id) {
                return Ok(Some(message));
            }
        }
        Ok(None)
    }

    /// Moves each of `users`' lists to `message` (its channel comes first): an update of each
    /// membership on condition that it exists and knows of nothing newer, so a redelivery, a
    /// late bump or a member who left changes nothing.
    pub async fn bump_activity(
        &self,
        users: &[UserId],
        message: &MessageId,
        channel: &ChannelId,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        let bumps: Vec<_> = users
            .iter()
            .map(|user| async move {
                let result = self
                    .client
                    .update_item()
                    .table_name(&self.table)
                    .set_key(Some(keys::member_key(channel, user)))
                    .update_expression("SET gsi1sk = :id, last_activity_at = :at")
                    .condition_expression("attribute_exists(pk) AND gsi1sk < :id")
                    .expression_attribute_values(":id", s(message.as_str()))
                    .expression_attribute_values(":at", s(at.to_string()))
                    .send()
                    .await;
                done_unless_failed(result)
            })
            .collect();
        stream::iter(bumps)
            .buffer_unordered(BUMP_CONCURRENCY)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }

    /// Records a new message on its channel item: the newest message, and the newest live one
    /// (unless a newer message is recorded already; a deleted channel is left alone).
    pub async fn record_activity(&self, message: &Message) -> Result<(), StoreError> {
        let last = preview_value(message)?;
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::channel_key(&message.channel_id)))
            .update_expression(
                "SET activity_id = :id, last_activity_at = :at, last_message = :last",
            )
            .condition_expression(
                "attribute_exists(pk) AND attribute_not_exists(deleted_at) AND (attribute_not_exists(activity_id) OR activity_id < :id)",
            )
            .expression_attribute_values(":id", s(message.id.as_str()))
            .expression_attribute_values(":at", s(message.created_at.to_string()))
            .expression_attribute_values(":last", last)
            .send()
            .await;
        done_unless_failed(result)
    }

    /// Marks a big channel's members' lists to be moved, unless a move is pending already
    /// (its stream record schedules the job that moves them).
    pub async fn mark_lists_to_move(&self, channel: &ChannelId) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::channel_key(channel)))
            .update_expression("SET lists_move_pending = :true")
            .condition_expression(
                "attribute_exists(pk) AND attribute_not_exists(deleted_at) AND attribute_not_exists(lists_move_pending)",
            )
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .send()
            .await;
        done_unless_failed(result)
    }

    /// Takes a channel's pending list move: the mark goes (messages from now on mark it
    /// again) and the channel's newest message, to move the lists to, comes back.
    pub async fn take_list_move(
        &self,
        channel: &ChannelId,
    ) -> Result<Option<(MessageId, Timestamp)>, StoreError> {
        let output = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::channel_key(channel)))
            .update_expression("REMOVE lists_move_pending")
            .condition_expression("attribute_exists(pk)")
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .send()
            .await;
        let item = match output {
            Ok(output) => output.attributes.unwrap_or_default(),
            Err(err) if super::error::is_condition_failure(&err) => return Ok(None),
            Err(err) => return Err(super::error::db_error(err)),
        };
        let channel: ChannelItem = from_item(item)?;
        Ok(
            match (
                channel.deleted_at,
                channel.activity_id,
                channel.last_activity_at,
            ) {
                (None, Some(id), Some(at)) => Some((id, at)),
                _ => None,
            },
        )
    }

    /// A message was edited: the channel's preview follows if it shows that message.
    pub async fn refresh_last_message(&self, message: &Message) -> Result<(), StoreError> {
        let last = preview_value(message)?;
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::channel_key(&message.channel_id)))
            .update_expression("SET last_message = :last")
            .condition_expression("last_message.id = :id")
            .expression_attribute_values(":id", s(message.id.as_str()))
            .expression_attribute_values(":last", last)
            .send()
            .await;
        done_unless_failed(result)
    }

    /// A message was deleted (or hidden by reports): if the channel's preview showed it, the
    /// newest live message takes its place (or none is left).
    pub async fn forget_last_message(
        &self,
        channel: &ChannelId,
        deleted: &MessageId,
    ) -> Result<(), StoreError> {
        let newest = self.newest_live_message(channel, &BTreeSet::new()).await?;
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::channel_key(channel)))
            .condition_expression("last_message.id = :deleted")
            .expression_attribute_values(":deleted", s(deleted.as_str()));
        let update = match newest {
            Some(message) => update
                .update_expression("SET last_message = :last")
                .expression_attribute_values(":last", preview_value(&message)?),
            None => update.update_expression("REMOVE last_message"),
        };
        done_unless_failed(update.send().await)
    }

    /// Mutes or unmutes `channel` for `user`; `false` when `user` is not a member.
    pub async fn set_muted(
        &self,
        channel: &ChannelId,
        user: &UserId,
        muted: bool,
    ) -> Result<bool, StoreError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::member_key(channel, user)))
            .condition_expression("attribute_exists(pk)");
        let update = if muted {
            update
                .update_expression("SET muted = :muted")
                .expression_attribute_values(":muted", AttributeValue::Bool(true))
        } else {
            update.update_expression("REMOVE muted")
        };
        super::error::applied(update.send().await)
    }
}

/// A message as the channel item keeps it for previews (`last_message`).
fn preview_value(message: &Message) -> Result<AttributeValue, StoreError> {
    serde_dynamo::to_attribute_value(LastMessage::of(message)).map_err(StoreError::fault)
}
