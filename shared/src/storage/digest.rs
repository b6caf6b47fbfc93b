//! The offline digest of a user: one item beside its profile (`USER#<id>` / `DIGEST`) that
//! collects who wrote and where (string sets, so a redelivered message adds nothing) and
//! when it is due. Its stream records carry the rest: a digest that became due is a job for
//! the maintenance worker, and a digest closed as sent is the email (the old image holds what
//! it said), so neither can be lost between a write and a queue.

use std::collections::{BTreeSet, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};

use super::error::{done_unless_failed, StoreError};
use super::items::{from_item, MemberItem, UserItem};
use super::keys::{self, SK};
use super::{s, string_of, Store};
use crate::domain::{
    ChannelId, Counterpart, DigestEntry, DigestReader, MessageId, Timestamp, User, UserId, UserName,
};

pub(super) const ENTITY: &str = "digest";

/// A digest collects at most this many messages; the email says "… or more" past it.
pub const MAX_DIGEST_MESSAGES: usize = 100;

#[derive(Debug, Serialize, Deserialize)]
pub(super) struct DigestItem {
    pub user_id: UserId,
    /// The name to greet, as it was when the digest started.
    pub name: UserName,
    #[serde(default)]
    pub senders: BTreeSet<String>,
    #[serde(default)]
    pub places: BTreeSet<String>,
    #[serde(default)]
    pub message_ids: BTreeSet<String>,
    /// Epoch seconds; present while a digest is waiting to go out.
    #[serde(default)]
    pub due_at: Option<i64>,
    /// Epoch seconds of the last digest sent (0: never).
    #[serde(default)]
    pub last_sent_at: i64,
}

/// A digest that went out: what its email says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestNotice {
    pub user: Counterpart,
    pub senders: BTreeSet<String>,
    pub places: BTreeSet<String>,
    pub messages: u32,
    /// When it was due (epoch seconds): with the user, it names the digest.
    pub due_at: i64,
}

impl DigestItem {
    /// The notice of a digest that went out, from the item as it was before it closed.
    pub(super) fn into_notice(self) -> Option<DigestNotice> {
        Some(DigestNotice {
            user: Counterpart {
                id: self.user_id,
                name: self.name,
            },
            messages: u32::try_from(self.message_ids.len()).unwrap_or(u32::MAX),
            senders: self.senders,
            places: self.places,
            due_at: self.due_at?,
        })
    }
}

/// A recipient of a message, as the digest needs it: its profile, whether it muted the
/// channel, and when its last digest went out.
pub struct DigestRecipient {
    pub user: User,
    pub reader: DigestReader,
    pub last_sent_at: i64,
}

/// Whether a closed digest was mailed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DigestOutcome {
    /// The user is online again: what it would tell is in front of them; nothing is sent.
    Dropped,
    Sent,
}

impl Store {
    /// The profiles, memberships of `channel` and digests of `users`, for deciding whose
    /// digest a message joins (two BatchGetItems at most: 50 mentions and a direct channel).
    pub async fn digest_recipients(
        &self,
        channel: &ChannelId,
        users: &BTreeSet<UserId>,
        sender: &UserId,
    ) -> Result<Vec<DigestRecipient>, StoreError> {
        let wanted: Vec<_> = users
            .iter()
            .flat_map(|user| {
                [
                    keys::user_key(user),
                    keys::member_key(channel, user),
                    keys::digest_key(user),
                ]
            })
            .collect();
        let mut profiles = HashMap::new();
        let mut muted = HashMap::new();
        let mut sent = HashMap::new();
        for chunk in wanted.chunks(99) {
            for item in self
                .batch_get(chunk.to_vec(), super::Read::Eventual)
                .await?
            {
                let sk = string_of(&item, SK);
                if sk == keys::PROFILE {
                    let user = User::from(from_item::<UserItem>(item)?);
                    profiles.insert(user.id.clone(), user);
                } else if sk == keys::DIGEST {
                    let digest: DigestItem = from_item(item)?;
                    sent.insert(digest.user_id, digest.last_sent_at);
                } else {
                    let member: MemberItem = from_item(item)?;
                    muted.insert(member.user_id, member.muted);
                }
            }
        }
        Ok(profiles
            .into_values()
            // Not a member (any more): a mention of a former member mails nobody.
            .filter_map(|user| {
                let muted = *muted.get(&user.id)?;
                Some(DigestRecipient {
                    reader: DigestReader {
                        online: user.online,
                        takes_emails: user.takes_notification_emails(),
                        muted,
                        blocked_sender: user.blocked.contains(sender),
                    },
                    last_sent_at: sent.get(&user.id).copied().unwrap_or(0),
                    user,
                })
            })
            .collect())
    }

    /// Adds a message to `user`'s digest, which becomes due at `due_at` unless it is waiting
    /// already. Sets, so a redelivered message adds nothing; a full digest takes no more.
    pub async fn add_to_digest(
        &self,
        user: &User,
        message: &MessageId,
        entry: &DigestEntry,
        due_at: i64,
    ) -> Result<(), StoreError> {
        let set = |value: &str| AttributeValue::Ss(vec![value.to_string()]);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::digest_key(&user.id)))
            .update_expression(
                "ADD senders :sender, places :place, message_ids :message \
                 SET entity = :entity, user_id = :user, #name = :name, due_at = if_not_exists(due_at, :due)",
            )
            // A message older than the last close was in that digest, or seen by a reader who
            // came back: a redelivered record adds it to no later digest.
            .condition_expression(
                "(attribute_not_exists(closed_through) OR closed_through < :id) \
                 AND (attribute_not_exists(message_ids) OR size(message_ids) < :max OR contains(message_ids, :id))",
            )
            .expression_attribute_names("#name", "name")
            .expression_attribute_values(":sender", set(&entry.sender))
            .expression_attribute_values(":place", set(&entry.place))
            .expression_attribute_values(":message", set(message.as_str()))
            .expression_attribute_values(":id", s(message.as_str()))
            .expression_attribute_values(":entity", s(ENTITY))
            .expression_attribute_values(":user", s(user.id.as_str()))
            .expression_attribute_values(":name", s(user.name.as_str()))
            .expression_attribute_values(":due", AttributeValue::N(due_at.to_string()))
            .expression_attribute_values(
                ":max",
                AttributeValue::N(MAX_DIGEST_MESSAGES.to_string()),
            )
            .send()
            .await;
        done_unless_failed(result)
    }

    /// When `user`'s waiting digest is due, if one is.
    pub async fn digest_due_at(&self, user: &UserId) -> Result<Option<i64>, StoreError> {
        let found = self
            .batch_get(vec![keys::digest_key(user)], super::Read::Consistent)
            .await?;
        Ok(match found.into_iter().next() {
            Some(item) => from_item::<DigestItem>(item)?.due_at,
            None => None,
        })
    }

    /// Closes the digest that was due at `due_at`: its entries go, and if it was sent, so
    /// does the time it went (the stream's old image carries what the email says). A digest
    /// closed already (a redelivered job) is left alone.
    pub async fn close_digest(
        &self,
        user: &UserId,
        due_at: i64,
        outcome: DigestOutcome,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::digest_key(user)))
            .condition_expression("due_at = :due")
            .expression_attribute_values(":due", AttributeValue::N(due_at.to_string()))
            // Message ids sort by time: every message written before this close sorts below a
            // fresh one, and `add_to_digest` takes none of them again.
            .expression_attribute_values(":through", s(MessageId::generate().as_str()));
        let update = match outcome {
            DigestOutcome::Sent => update
                .update_expression(
                    "SET last_sent_at = :now, closed_through = :through \
                     REMOVE senders, places, message_ids, due_at",
                )
                .expression_attribute_values(
                    ":now",
                    AttributeValue::N(now.unix_seconds().to_string()),
                ),
            DigestOutcome::Dropped => update.update_expression(
                "SET closed_through = :through REMOVE senders, places, message_ids, due_at",
            ),
        };
        done_unless_failed(update.send().await)
    }
}
