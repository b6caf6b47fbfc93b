use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_dynamodb::types::{
    AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use serde::{Deserialize, Serialize};

use super::error::db_error;
use super::error::is_condition_failure;
use super::error::StoreError;
use super::items::{from_item, to_item, ChannelItem, MemberItem, UserItem};
use super::keys::{self, GSI1, GSI1_PK, GSI1_SK, PK, SK};
use super::sessions::condition_failure_item;
use super::{s, string_of, Commit, Item, Store, Transaction};
use crate::domain::{
    Attachment, AttachmentId, Channel, ChannelId, ClientId, ConnectionId, Counterpart, Emoji,
    Membership, Message, MessageBody, MessageId, MessageRole, Order, Page, PageRequest, Pusher,
    RateWindow, ReadMarker, ReplyStatus, Timestamp, User, UserId, UserName,
};

/// How many items a search (`q`, `role`) evaluates per call at most: one bounded Query page.
pub const SEARCH_WINDOW: i32 = 200;

#[derive(Debug, Serialize, Deserialize)]
struct MessageItem {
    pk: String,
    sk: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi1pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi1sk: Option<String>,
    entity: String,
    id: MessageId,
    channel_id: ChannelId,
    sender_id: UserId,
    sender_name: UserName,
    role: MessageRole,
    body: MessageBody,
    /// Lower-cased body, for case-insensitive `q` filters.
    body_search: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    parent_id: Option<MessageId>,
    reply_count: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    mentions: Vec<UserId>,
    /// The attachments as the message shows them (a snapshot the event router refreshes
    /// when one of them is checked), so reading messages reads nothing else.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    attachments: Vec<Attachment>,
    created_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    edited_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client_id: Option<ClientId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<ReplyStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    deleted_at: Option<Timestamp>,
    /// Who pushes the event of the latest change (set by every write that makes one).
    #[serde(default)]
    pusher: Pusher,
    /// The WebSocket connection that sent it (it gets an `ack`, not the push).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    origin_connection: Option<ConnectionId>,
    /// Sent to an assistant channel: a user message there gets a reply.
    #[serde(default)]
    in_assistant_channel: bool,
    /// Sent to a direct channel: its other member may get an offline digest.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    in_direct_channel: bool,
}

/// How a new message's consequences travel (read back by the event router).
#[derive(Clone, Debug, Default)]
pub struct Posting {
    pub pusher: Pusher,
    pub origin: Option<ConnectionId>,
    pub assistant_channel: bool,
    pub direct_channel: bool,
    /// The sender's send window as read and as this send leaves it (`None`: not counted,
    /// the assistant's replies).
    pub send_window: Option<(RateWindow, RateWindow)>,
    /// An assistant reply counted against the asker's daily quota.
    pub reply_quota: Option<ReplyQuota>,
}

/// One more reply on `user`'s count for `day`, refused at `limit`.
#[derive(Clone, Debug)]
pub struct ReplyQuota {
    pub user: UserId,
    pub day: String,
    pub limit: u32,
}

#[derive(Debug, Serialize, Deserialize)]
struct ClaimItem {
    pk: String,
    sk: String,
    entity: String,
    message_id: MessageId,
}

/// A message item's pushing facts, for the event router.
pub(super) struct MessageStamps {
    pub pusher: Pusher,
    pub origin: Option<ConnectionId>,
    pub assistant_channel: bool,
    pub direct_channel: bool,
}

pub(super) fn message_stamps(item: &Item) -> Result<MessageStamps, StoreError> {
    #[derive(Deserialize)]
    struct Stamps {
        #[serde(default)]
        pusher: Pusher,
        #[serde(default)]
        origin_connection: Option<ConnectionId>,
        #[serde(default)]
        in_assistant_channel: bool,
        #[serde(default)]
        in_direct_channel: bool,
    }
    let stamps: Stamps = from_item(item.clone())?;
    Ok(MessageStamps {
        pusher: stamps.pusher,
        origin: stamps.origin_connection,
        assistant_channel: stamps.in_assistant_channel,
        direct_channel: stamps.in_direct_channel,
    })
}

pub(super) fn message_from(item: Item) -> Result<Message, StoreError> {
    let mut reactions = BTreeMap::new();
    for (name, value) in &item {
        if let (Some(emoji), AttributeValue::Ss(users)) =
            (name.strip_prefix(keys::REACTION_PREFIX), value)
        {
            if let Ok(emoji) = Emoji::parse(emoji) {
                let mut users: Vec<UserId> =
                    users.iter().filter_map(|u| UserId::parse(u)).collect();
                users.sort();
                reactions.insert(emoji, users);
            }
        }
    }
    let item: MessageItem = from_item(item)?;
    Ok(Message {
        id: item.id,
        channel_id: item.channel_id,
        sender: Counterpart {
            id: item.sender_id,
            name: item.sender_name,
        },
        role: item.role,
        body: item.body,
        parent_id: item.parent_id,
        reply_count: item.reply_count,
        reactions,
        mentions: item.mentions,
        attachments: item.attachments,
        created_at: item.created_at,
        edited_at: item.edited_at,
        client_id: item.client_id,
        status: item.status,
        deleted_at: item.deleted_at,
    })
}

/// What one read found for a message route: the channel (absent if unknown or deleted), the
/// caller's membership and profile, the message asked for, and a `client_id` claim.
#[derive(Default)]
pub struct MessageContext {
    pub channel: Option<Channel>,
    pub membership: Option<Membership>,
    pub caller: Option<User>,
    pub message: Option<Message>,
    pub claimed: Option<MessageId>,
    /// One of a direct channel's two blocked the other.
    pub blocked: bool,
    /// The caller's sends in the current window.
    pub send_window: RateWindow,
    /// The caller's latest send in the channel (epoch seconds; 0: none), for slow mode.
    pub last_sent_at: i64,
    /// How many members reported the message read.
    pub message_reports: u32,
    /// Of the users a send mentions, those who are members.
    pub mentioned_members: BTreeSet<UserId>,
    /// The attachments a send takes that exist in this channel (in no particular order).
    pub attachments: Vec<Attachment>,
}

/// Filters of a history page.
#[derive(Clone, Debug, Default)]
pub struct HistoryFilter {
    /// Lower-cased substring of the body.
    pub text: Option<String>,
    pub role: Option<MessageRole>,
}

/// A change of one user's reaction to a message.
pub struct Reaction<'a> {
    pub emoji: &'a Emoji,
    pub user: &'a UserId,
    /// Adds it, or takes it back.
    pub add: bool,
    /// How many different emoji the message may hold (`MAX_DISTINCT_REACTIONS`).
    pub max_distinct: u32,
}

/// How a reaction change ended.
#[derive(Debug)]
pub enum Reacted {
    Updated(Box<Message>),
    MessageGone,
    /// The message already holds the most different emoji it may.
    TooManyEmoji,
}

/// The message attribute holding the set of emoji reacted with.
const EMOJI_IN_USE: &str = "emoji_in_use";

fn reaction_attribute(emoji: &Emoji) -> String {
    format!("{}{}", keys::REACTION_PREFIX, emoji.as_str())
}

/// Result of storing a send.
#[derive(Debug, PartialEq, Eq)]
pub enum Inserted {
    New,
    /// The same sender already sent this `client_id` in this channel.
    Duplicate(MessageId),
    /// The sender left (or was removed) after the send was checked.
    NotMember,
    /// The parent was deleted after the send was checked.
    ParentGone,
    /// One of a direct channel's two blocked the other after the send was checked.
    Blocked,
    /// Another send of the same member in the channel committed after this one was checked:
    /// check again.
    WindowMoved,
    /// An attachment was taken by another message, or checked, after the send read it.
    AttachmentTaken,
    /// The asker has had all of today's assistant replies.
    QuotaSpent,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum SendCheck {
    ClientIdFree,
    ParentLive,
    SenderIsMember,
    /// An attachment is still the sender's, not rejected, on no other message.
    AttachmentFree,
    /// The asker's replies today are under the quota.
    QuotaLeft,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum DeleteCheck {
    MessageLive,
    /// The parent's reply count is above zero; false only if the counts broke.
    ParentCounted,
}

impl Store {
    /// One BatchGetItem for every message route's first step.
    pub async fn message_context(
        &self,
        channel: &ChannelId,
        caller: &UserId,
        message: Option<&MessageId>,
        client: Option<&ClientId>,
    ) -> Result<MessageContext, StoreError> {
        self.send_context(channel, caller, message, client, &BTreeSet::new(), &[])
            .await
    }

    /// A send's first step: as `message_context`, plus the memberships of the users the
    /// message mentions and the attachments it takes (at most `MAX_MENTIONS` and
    /// `MAX_ATTACHMENTS_PER_MESSAGE`, so it stays one BatchGetItem).
    pub async fn send_context(
        &self,
        channel: &ChannelId,
        caller: &UserId,
        message: Option<&MessageId>,
        client: Option<&ClientId>,
        mentioned: &BTreeSet<UserId>,
        attachments: &[AttachmentId],
    ) -> Result<MessageContext, StoreError> {
        let mut wanted = vec![
            keys::channel_key(channel),
            keys::member_key(channel, caller),
            keys::user_key(caller),
        ];
        wanted.extend(message.map(|m| keys::message_key(channel, m)));
        wanted.extend(client.map(|c| keys::client_key(channel, caller, c)));
        wanted.extend(
            mentioned
                .iter()
                .filter(|user| *user != caller)
                .map(|user| keys::member_key(channel, user)),
        );
        wanted.extend(
            attachments
                .iter()
                .map(|id| keys::attachment_key(channel, id)),
        );
        let mut context = MessageContext::default();
        for item in self.batch_get(wanted, super::Read::Consistent).await? {
            let sk = string_of(&item, SK);
            if sk == keys::CHANNEL_META {
                let channel: ChannelItem = from_item(item)?;
                if channel.deleted_at.is_none() {
                    context.channel = Some(Channel::from(channel));
                }
            } else if sk == keys::PROFILE {
                context.caller = Some(User::from(from_item::<UserItem>(item)?));
            } else if sk.starts_with(keys::MEMBER_PREFIX) {
                let member: MemberItem = from_item(item)?;
                if &member.user_id != caller {
                    context.mentioned_members.insert(member.user_id);
                    continue;
                }
                context.blocked = !member.blocked_by.is_empty();
                context.send_window = RateWindow {
                    started_at: member.sends_since,
                    count: member.sends,
                };
                context.last_sent_at = member.last_sent_at;
                context.membership = Some(Membership::from(member));
            } else if sk.starts_with(keys::ATTACHMENT_PREFIX) {
                context
                    .attachments
                    .push(super::attachments::attachment_from(item)?);
            } else if sk.starts_with(keys::MESSAGE_PREFIX) {
                context.message_reports = match item.get("report_count") {
                    Some(AttributeValue::N(count)) => count.parse().unwrap_or(0),
                    _ => 0,
                };
                context.message = Some(message_from(item)?);
            } else {
                context.claimed = Some(from_item::<ClaimItem>(item)?.message_id);
            }
        }
        Ok(context)
    }

    /// Stores a message in one transaction: the message, its `client_id` claim, the parent's
    /// reply count, and a check that the sender is still a member.
    pub async fn insert_message(
        &self,
        message: &Message,
        posting: &Posting,
    ) -> Result<Inserted, StoreError> {
        let key = keys::message_key(&message.channel_id, &message.id);
        let item = MessageItem {
            pk: string_of(&key, PK),
            sk: string_of(&key, SK),
            gsi1pk: message
                .parent_id
                .as_ref()
                .map(|p| keys::thread_pk(&message.channel_id, p)),
            gsi1sk: message.parent_id.as_ref().map(|_| message.id.to_string()),
            entity: "message".into(),
            id: message.id.clone(),
            channel_id: message.channel_id.clone(),
            sender_id: message.sender.id.clone(),
            sender_name: message.sender.name.clone(),
            role: message.role,
            body: message.body.clone(),
            body_search: message.body.as_str().to_lowercase(),
            parent_id: message.parent_id.clone(),
            reply_count: 0,
            mentions: message.mentions.clone(),
            attachments: message.attachments.clone(),
            created_at: message.created_at,
            edited_at: None,
            client_id: message.client_id.clone(),
            status: message.status,
            deleted_at: None,
            pusher: posting.pusher,
            origin_connection: posting.origin.clone(),
            in_assistant_channel: posting.assistant_channel,
            in_direct_channel: posting.direct_channel,
        };
        let mut tx = Transaction::new();
        tx.invariant(self.put_if_absent(to_item(&item)?, false)?);
        if let Some(client) = &message.client_id {
            let key = keys::client_key(&message.channel_id, &message.sender.id, client);
            let claim = ClaimItem {
                pk: string_of(&key, PK),
                sk: string_of(&key, SK),
                entity: "client_claim".into(),
                message_id: message.id.clone(),
            };
            tx.check(
                SendCheck::ClientIdFree,
                self.put_if_absent(to_item(&claim)?, true)?,
            );
        }
        if let Some(parent) = &message.parent_id {
            let bump = Update::builder()
                .table_name(&self.table)
                .set_key(Some(keys::message_key(&message.channel_id, parent)))
                .update_expression("SET reply_count = reply_count + :one")
                .condition_expression("attribute_exists(pk) AND attribute_not_exists(deleted_at)")
                .expression_attribute_values(":one", AttributeValue::N("1".into()))
                .build()
                .map_err(StoreError::fault)?;
            tx.check(
                SendCheck::ParentLive,
                TransactWriteItem::builder().update(bump).build(),
            );
        }
        let sender = match posting.send_window {
            Some((read, next)) => self.count_send(message, read, next)?,
            None => self.unblocked_member_check(&message.channel_id, &message.sender.id)?,
        };
        tx.check(SendCheck::SenderIsMember, sender);
        for attachment in &message.attachments {
            tx.check(
                SendCheck::AttachmentFree,
                self.attach(attachment, &message.sender.id, &message.id)?,
            );
        }
        if let Some(quota) = &posting.reply_quota {
            tx.check(SendCheck::QuotaLeft, self.count_reply(quota)?);
        }
        let refused = match self.commit(tx).await? {
            Commit::Done => return Ok(Inserted::New),
            Commit::Refused(refused) => refused,
        };
        if let Some(claim) = refused.item(SendCheck::ClientIdFree) {
            let claim = from_item::<ClaimItem>(claim.clone())?;
            return Ok(Inserted::Duplicate(claim.message_id));
        }
        Ok(
            if let Some(member) = refused.item(SendCheck::SenderIsMember) {
                if super::blocks::carries_block(member) {
                    Inserted::Blocked
                } else {
                    // Still a member, but its window moved: a send of theirs committed.
                    Inserted::WindowMoved
                }
            } else if refused.failed(SendCheck::SenderIsMember) {
                Inserted::NotMember
            } else if refused.failed(SendCheck::ParentLive) {
                Inserted::ParentGone
            } else if refused.failed(SendCheck::AttachmentFree) {
                Inserted::AttachmentTaken
            } else if refused.failed(SendCheck::QuotaLeft) {
                Inserted::QuotaSpent
            } else {
                return Err(StoreError::fault(
                    "client_id claim refused without its item",
                ));
            },
        )
    }

    pub async fn get_message(
        &self,
        channel: &ChannelId,
        id: &MessageId,
    ) -> Result<Option<Message>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(keys::message_key(channel, id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(db_error)?;
        output.item.map(message_from).transpose()
    }

    /// The send's update of the sender's membership: it exists, carries no block, and its
    /// send window is still as read; it moves to `next`. The same update records the send for
    /// slow mode, moves the sender's read marker to its message (what one writes, one has read)
    /// and its list's activity to it, so the sender's own messages never count as unread and
    /// the channel tops the sender's list at once. The item comes back when it fails.
    fn count_send(
        &self,
        message: &Message,
        read: RateWindow,
        next: RateWindow,
    ) -> Result<TransactWriteItem, StoreError> {
        let sent_at = s(message.created_at.to_string());
        let also = vec![
            (
                "last_sent_at",
                ":sent_epoch",
                AttributeValue::N(message.created_at.unix_seconds().to_string()),
            ),
            ("last_read_message_id", ":sent_id", s(message.id.as_str())),
            ("gsi1sk", ":sent_id", s(message.id.as_str())),
            ("read_at", ":sent_at", sent_at.clone()),
            ("last_activity_at", ":sent_at", sent_at),
            ("read_via", ":via_send", s("send")),
        ];
        self.window_update(
            keys::member_key(&message.channel_id, &message.sender.id),
            super::limits::WindowAttributes::SENDS,
            (read, next),
            also,
            &format!(
                "attribute_exists(pk) AND attribute_not_exists({}) AND (attribute_not_exists(last_read_message_id) OR last_read_message_id < :sent_id)",
                keys::BLOCKED_BY
            ),
        )
    }

    /// One page of a channel's history (or of one thread), deleted messages left out. With
    /// `q` or `role` it is a bounded search: one Query evaluating at most `SEARCH_WINDOW`
    /// items, returning a cursor when it stopped before the end.
    pub async fn list_messages(
        &self,
        channel: &ChannelId,
        thread: Option<&MessageId>,
        order: Order,
        filter: &HistoryFilter,
        page: &PageRequest,
    ) -> Result<Page<Message>, StoreError> {
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .scan_index_forward(order == Order::OldestFirst);
        let key_attributes: &[&str] = match thread {
            Some(parent) => {
                query = query
                    .index_name(GSI1)
                    .key_condition_expression("gsi1pk = :pk")
                    .expression_attribute_values(":pk", s(keys::thread_pk(channel, parent)));
                &[PK, SK, GSI1_PK, GSI1_SK]
            }
            None => {
                query = query
                    .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                    .expression_attribute_values(":pk", s(keys::channel_pk(channel)))
                    .expression_attribute_values(":prefix", s(keys::MESSAGE_PREFIX));
                &[PK, SK]
            }
        };
        let mut conditions = vec!["attribute_not_exists(deleted_at)".to_string()];
        if let Some(text) = &filter.text {
            conditions.push("contains(body_search, :q)".into());
            query = query.expression_attribute_values(":q", s(text.clone()));
        }
        if let Some(role) = filter.role {
            conditions.push("#role = :role".into());
            query = query
                .expression_attribute_names("#role", "role")
                .expression_attribute_values(":role", s(role.as_str()));
        }
        query = query.filter_expression(conditions.join(" AND "));
        let searching = filter.text.is_some() || filter.role.is_some();
        let window = if searching { SEARCH_WINDOW } else { 0 };
        let scope = format!(
            "messages:{channel}:{}:{order:?}:{}:{}",
            thread.map(MessageId::as_str).unwrap_or("-"),
            filter.text.as_deref().unwrap_or(""),
            filter.role.map(MessageRole::as_str).unwrap_or("")
        );
        let (items, next_cursor) = self
            .query_page_window(query, &scope, page, key_attributes, window)
            .await?;
        let items = items
            .into_iter()
            .map(message_from)
            .collect::<Result<_, _>>()?;
        Ok(Page { items, next_cursor })
    }

    /// Edits the body; only the sender, only a live message (`None` otherwise).
    pub async fn edit_message(
        &self,
        message: &Message,
        editor: &UserId,
        body: &MessageBody,
        now: Timestamp,
        pusher: Pusher,
    ) -> Result<Option<Message>, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::message_key(&message.channel_id, &message.id)))
            .update_expression(
                "SET body = :body, body_search = :search, edited_at = :now, pusher = :pusher",
            )
            .expression_attribute_values(":pusher", pusher_value(pusher)?)
            .condition_expression(
                "attribute_exists(pk) AND attribute_not_exists(deleted_at) AND sender_id = :me",
            )
            .expression_attribute_values(":body", s(body.as_str()))
            .expression_attribute_values(":search", s(body.as_str().to_lowercase()))
            .expression_attribute_values(":now", s(now.to_string()))
            .expression_attribute_values(":me", s(editor.as_str()))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        self.updated_message(result)
    }

    pub(super) fn updated_message(
        &self,
        result: Result<
            aws_sdk_dynamodb::operation::update_item::UpdateItemOutput,
            aws_sdk_dynamodb::error::SdkError<
                aws_sdk_dynamodb::operation::update_item::UpdateItemError,
            >,
        >,
    ) -> Result<Option<Message>, StoreError> {
        match result {
            Ok(output) => output
                .attributes
                .map(message_from)
                .transpose()?
                .map(Some)
                .ok_or_else(|| StoreError::fault("update returned no item")),
            Err(err) if is_condition_failure(&err) => Ok(None),
            Err(err) => Err(db_error(err)),
        }
    }

    /// Soft-deletes a message (and takes a reply out of its parent's count) in one
    /// transaction; `false` if it was already deleted.
    pub async fn delete_message(
        &self,
        message: &Message,
        now: Timestamp,
        pusher: Pusher,
    ) -> Result<bool, StoreError> {
        let hide = Update::builder()
            .table_name(&self.table)
            .set_key(Some(keys::message_key(&message.channel_id, &message.id)))
            .update_expression("SET deleted_at = :now, pusher = :pusher")
            .expression_attribute_values(":pusher", pusher_value(pusher)?)
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(deleted_at)")
            .expression_attribute_values(":now", s(now.to_string()))
            .build()
            .map_err(StoreError::fault)?;
        let mut tx = Transaction::new();
        tx.check(
            DeleteCheck::MessageLive,
            TransactWriteItem::builder().update(hide).build(),
        );
        if let Some(parent) = &message.parent_id {
            let unbump = Update::builder()
                .table_name(&self.table)
                .set_key(Some(keys::message_key(&message.channel_id, parent)))
                .update_expression("SET reply_count = reply_count - :one")
                .condition_expression("attribute_exists(pk) AND reply_count > :zero")
                .expression_attribute_values(":one", AttributeValue::N("1".into()))
                .expression_attribute_values(":zero", AttributeValue::N("0".into()))
                .build()
                .map_err(StoreError::fault)?;
            tx.check(
                DeleteCheck::ParentCounted,
                TransactWriteItem::builder().update(unbump).build(),
            );
        }
        Ok(matches!(self.commit(tx).await?, Commit::Done))
    }

    /// Adds or removes the user's reaction (idempotent set operations on a live message).
    /// The emoji in use are also kept as a set (`emoji_in_use`) so the condition of an add
    /// can cap how many different ones a message holds.
    pub async fn react(
        &self,
        channel: &ChannelId,
        message: &MessageId,
        reaction: Reaction<'_>,
        pusher: Pusher,
    ) -> Result<Reacted, StoreError> {
        let Reaction {
            emoji,
            user,
            add,
            max_distinct,
        } = reaction;
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::message_key(channel, message)))
            .expression_attribute_values(":pusher", pusher_value(pusher)?)
            .expression_attribute_names("#reaction", reaction_attribute(emoji))
            .expression_attribute_values(":user", AttributeValue::Ss(vec![user.to_string()]))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        const LIVE: &str = "attribute_exists(pk) AND attribute_not_exists(deleted_at)";
        update = if add {
            update
                .update_expression("ADD #reaction :user, #in_use :emoji SET pusher = :pusher")
                .condition_expression(format!(
                    "{LIVE} AND (attribute_not_exists(#in_use) OR contains(#in_use, :one) OR size(#in_use) < :max)"
                ))
                .expression_attribute_names("#in_use", EMOJI_IN_USE)
                .expression_attribute_values(":emoji", AttributeValue::Ss(vec![emoji.as_str().into()]))
                .expression_attribute_values(":one", s(emoji.as_str()))
                .expression_attribute_values(":max", AttributeValue::N(max_distinct.to_string()))
        } else {
            update
                .update_expression("DELETE #reaction :user SET pusher = :pusher")
                .condition_expression(LIVE)
        };
        let updated = match update.send().await {
            Ok(output) => output.attributes.unwrap_or_default(),
            Err(err) if is_condition_failure(&err) => {
                let old = condition_failure_item(&err).flatten();
                let live = old.is_some_and(|item| !item.contains_key("deleted_at"));
                return Ok(if live {
                    Reacted::TooManyEmoji
                } else {
                    Reacted::MessageGone
                });
            }
            Err(err) => return Err(db_error(err)),
        };
        let emptied = !add
            && !updated.contains_key(&reaction_attribute(emoji))
            && matches!(updated.get(EMOJI_IN_USE), Some(AttributeValue::Ss(in_use)) if in_use.iter().any(|e| e == emoji.as_str()));
        if emptied {
            self.forget_emoji(channel, message, emoji).await?;
        }
        Ok(Reacted::Updated(Box::new(message_from(updated)?)))
    }

    /// Takes an emoji nobody reacts with any more out of `emoji_in_use`, unless someone
    /// reacted with it again in between.
    async fn forget_emoji(
        &self,
        channel: &ChannelId,
        message: &MessageId,
        emoji: &Emoji,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::message_key(channel, message)))
            .update_expression("DELETE #in_use :emoji")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(#reaction)")
            .expression_attribute_names("#in_use", EMOJI_IN_USE)
            .expression_attribute_names("#reaction", reaction_attribute(emoji))
            .expression_attribute_values(":emoji", AttributeValue::Ss(vec![emoji.as_str().into()]))
            .send()
            .await;
        match result {
            Err(err) if !is_condition_failure(&err) => Err(db_error(err)),
            _ => Ok(()),
        }
    }

    /// Moves the user's read marker (on its membership) to `message` if that is further than
    /// where it is; the marker as stored and whether it moved, or `None` when the user is not
    /// a member (any more).
    pub async fn mark_read(
        &self,
        channel: &ChannelId,
        user: &UserId,
        message: &MessageId,
        now: Timestamp,
        pusher: Pusher,
    ) -> Result<Option<(ReadMarker, bool)>, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::member_key(channel, user)))
            .update_expression(
                "SET last_read_message_id = :m, read_at = :now, read_via = :read, read_pusher = :pusher",
            )
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(last_read_message_id) OR last_read_message_id < :m)",
            )
            .expression_attribute_values(":m", s(message.as_str()))
            .expression_attribute_values(":now", s(now.to_string()))
            .expression_attribute_values(":read", s("read"))
            .expression_attribute_values(":pusher", pusher_value(pusher)?)
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let (item, moved) = match result {
            Ok(output) => (output.attributes, true),
            Err(err) if is_condition_failure(&err) => {
                let Some(item) = condition_failure_item(&err).flatten() else {
                    return Ok(None);
                };
                (Some(item), false)
            }
            Err(err) => return Err(db_error(err)),
        };
        let member: MemberItem =
            from_item(item.ok_or_else(|| StoreError::fault("no membership returned"))?)?;
        Ok(member.read_marker().map(|marker| (marker, moved)))
    }

    /// Every member's read marker in a channel (members who read nothing yet have none).
    pub async fn read_markers(&self, channel: &ChannelId) -> Result<Vec<ReadMarker>, StoreError> {
        Ok(self
            .query_all_of(
                keys::channel_pk(channel),
                keys::MEMBER_PREFIX,
                Some("channel_id, user_id, last_read_message_id, read_at"),
            )
            .await?
            .into_iter()
            .map(from_item::<ReadMarkerOf>)
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .filter_map(ReadMarkerOf::into_marker)
            .collect())
    }
}

/// The read-marker attributes of a membership.
#[derive(Deserialize)]
struct ReadMarkerOf {
    channel_id: ChannelId,
    user_id: UserId,
    last_read_message_id: Option<MessageId>,
    read_at: Option<Timestamp>,
}

impl ReadMarkerOf {
    fn into_marker(self) -> Option<ReadMarker> {
        Some(ReadMarker {
            channel_id: self.channel_id,
            user_id: self.user_id,
            last_read_message_id: self.last_read_message_id?,
            read_at: self.read_at?,
        })
    }
}

/// The `pusher` attribute as DynamoDB stores it.
pub(super) fn pusher_value(pusher: Pusher) -> Result<AttributeValue, StoreError> {
    serde_dynamo::to_attribute_value(pusher).map_err(StoreError::fault)
}
