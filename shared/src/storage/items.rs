//! Item shapes, (de)serialized with serde_dynamo. Each carries its own key attributes.

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use super::error::StoreError;
use crate::domain::{
    Channel, ChannelDescription, ChannelId, ChannelKind, ChannelName, Counterpart, Email,
    InboxEntry, LastMessage, MemberRole, Membership, MessageId, PartnerRequest, Pusher, RateWindow,
    ReadMarker, RequestId, RequestMessage, RequestStatus, SessionPolicy, Timestamp, TokenId, User,
    UserId, UserName,
};

#[derive(Debug, Serialize, Deserialize)]
pub struct UserItem {
    pub pk: String,
    pub sk: String,
    pub gsi1pk: String,
    pub gsi1sk: String,
    pub entity: String,
    pub id: UserId,
    pub email: Email,
    pub name: UserName,
    pub created_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<Timestamp>,
    /// The user's WebSocket connections: connection id → expiry (epoch seconds). Kept on the
    /// profile so presence is read with the user, and so connect and disconnect learn
    /// atomically (one conditional UpdateItem) whether they were the first or the last.
    #[serde(default)]
    pub connections: HashMap<String, i64>,
    /// The token of each connection (connection id → `jti`), so the sockets of a revoked
    /// token can be found and closed.
    #[serde(default)]
    pub connection_tokens: HashMap<String, String>,
    /// Tokens of an older session epoch are refused (sign-out everywhere, password change).
    #[serde(default)]
    pub session_epoch: u32,
    /// Tokens signed out one by one: `jti` → token expiry (epoch seconds).
    #[serde(default)]
    pub revoked_tokens: HashMap<String, i64>,
    /// The users this one blocked (a string set, changed only by `ADD`/`DELETE`).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub blocked_ids: BTreeSet<UserId>,
    /// Partner requests sent in the current window (`PARTNER_REQUESTS_PER_DAY`): its start
    /// (epoch seconds) and count, moved by each request's transaction.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub requests_since: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub requests: u32,
    /// Absent on accounts made before verification existed: those count as verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    /// Absent: on (the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_notifications: Option<bool>,
}

impl UserItem {
    /// Connection ids whose expiry is still ahead: `$disconnect` is best effort and TTL
    /// never reaches inside a map, so an entry counts only until its expiry.
    pub fn live_connections(&self, now: i64) -> impl Iterator<Item = &str> {
        live_entries(&self.connections, now)
    }
}

/// The ids of a `connections` map whose expiry is still ahead.
pub fn live_entries(connections: &HashMap<String, i64>, now: i64) -> impl Iterator<Item = &str> {
    connections
        .iter()
        .filter(move |(_, expires_at)| **expires_at > now)
        .map(|(id, _)| id.as_str())
}

impl From<UserItem> for User {
    fn from(item: UserItem) -> Self {
        let online = item
            .live_connections(Timestamp::now().unix_seconds())
            .next()
            .is_some();
        Self {
            id: item.id,
            email: item.email,
            name: item.name,
            created_at: item.created_at,
            email_verified: item.email_verified.unwrap_or(true),
            email_notifications: item.email_notifications.unwrap_or(true),
            last_seen: item.last_seen,
            online,
            sessions: SessionPolicy {
                epoch: item.session_epoch,
                revoked: item.revoked_tokens,
            },
            blocked: item.blocked_ids,
            request_window: RateWindow {
                started_at: item.requests_since,
                count: item.requests,
            },
        }
    }
}

/// The login record, keyed by the normalized email. It also makes emails unique: it is put
/// with `attribute_not_exists` in the same transaction as the user.
#[derive(Debug, Serialize, Deserialize)]
pub struct CredentialsItem {
    pub pk: String,
    pub sk: String,
    pub entity: String,
    pub user_id: UserId,
    pub password_hash: String,
}

/// One party's copy of a partner request.
#[derive(Debug, Serialize, Deserialize)]
pub struct RequestItem {
    pub pk: String,
    pub sk: String,
    pub gsi1pk: String,
    pub gsi1sk: String,
    pub entity: String,
    pub id: RequestId,
    pub sender_id: UserId,
    pub sender_name: UserName,
    pub recipient_id: UserId,
    pub recipient_name: UserName,
    pub status: RequestStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<RequestMessage>,
    pub created_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub responded_at: Option<Timestamp>,
}

impl From<RequestItem> for PartnerRequest {
    fn from(item: RequestItem) -> Self {
        Self {
            id: item.id,
            sender: Counterpart {
                id: item.sender_id,
                name: item.sender_name,
            },
            recipient: Counterpart {
                id: item.recipient_id,
                name: item.recipient_name,
            },
            status: item.status,
            message: item.message,
            created_at: item.created_at,
            responded_at: item.responded_at,
        }
    }
}

/// One side of a partnership, in the partition of `pk`'s user.
#[derive(Debug, Serialize, Deserialize)]
pub struct PartnerItem {
    pub pk: String,
    pub sk: String,
    pub entity: String,
    pub user_id: UserId,
    pub since: Timestamp,
}

/// A connection by its id, for `$disconnect` and frames (which carry only the id).
#[derive(Debug, Serialize, Deserialize)]
pub struct ConnectionItem {
    pub pk: String,
    pub sk: String,
    pub entity: String,
    pub connection_id: String,
    pub user_id: UserId,
    /// The session of the token the connection was opened with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_id: Option<TokenId>,
    #[serde(default)]
    pub session_epoch: u32,
    #[serde(default)]
    pub token_expires_at: i64,
    pub connected_at: Timestamp,
    pub expires_at: i64,
}

pub fn from_item<T: serde::de::DeserializeOwned>(item: super::Item) -> Result<T, StoreError> {
    serde_dynamo::from_item(item).map_err(|err| StoreError::fault(format!("corrupt item: {err}")))
}

pub fn to_item<T: Serialize>(value: &T) -> Result<super::Item, StoreError> {
    serde_dynamo::to_item(value).map_err(StoreError::fault)
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ChannelItem {
    pub pk: String,
    pub sk: String,
    /// Set for public channels only (sparse index of public channels).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi1pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi1sk: Option<String>,
    pub entity: String,
    pub id: ChannelId,
    pub name: ChannelName,
    #[serde(default)]
    pub description: ChannelDescription,
    pub kind: ChannelKind,
    pub private: bool,
    pub created_by: UserId,
    pub created_at: Timestamp,
    pub member_count: u32,
    #[serde(default)]
    pub slow_mode_seconds: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<Timestamp>,
    /// The newest message, deleted or not (written by the event router): a new member's list
    /// places the channel by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity_id: Option<MessageId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_activity_at: Option<Timestamp>,
    /// The newest live message, as channel lists show it (written by the event router).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_message: Option<LastMessage>,
    /// A big channel's members' lists are to be moved to its newest message (a job is
    /// scheduled; the messages meanwhile ride on it).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub lists_move_pending: bool,
}

impl From<ChannelItem> for Channel {
    fn from(item: ChannelItem) -> Self {
        Self {
            id: item.id,
            name: item.name,
            description: item.description,
            kind: item.kind,
            private: item.private,
            created_by: item.created_by,
            created_at: item.created_at,
            member_count: item.member_count,
            slow_mode_seconds: item.slow_mode_seconds,
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct MemberItem {
    pub pk: String,
    pub sk: String,
    pub gsi1pk: String,
    pub gsi1sk: String,
    /// The channel's partition, sorted by join time (`GET /channels/{id}/members`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi2pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi2sk: Option<String>,
    pub entity: String,
    pub channel_id: ChannelId,
    pub user_id: UserId,
    pub role: MemberRole,
    pub joined_at: Timestamp,
    /// Written with its channel (no `member.joined` for the founding members).
    #[serde(default)]
    pub founding: bool,
    /// When the member left a direct channel: it is listed again once a newer message is in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hidden_at: Option<Timestamp>,
    /// Who of a direct channel's two blocked the other (nobody may send while it is set).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub blocked_by: BTreeSet<UserId>,
    /// The member's sends in the current window (`SEND_BURST` per `SEND_WINDOW_SECONDS`):
    /// its start (epoch seconds) and count, moved by each send's transaction.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub sends_since: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub sends: u32,
    /// The member's latest send (epoch seconds), for the channel's slow mode.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub last_sent_at: i64,
    /// The read marker: moved forward by reads, and by the member's own sends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_read_message_id: Option<MessageId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_at: Option<Timestamp>,
    /// What moved the marker last: a read (its `read_receipt` is pushed) or a send (none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_via: Option<ReadVia>,
    /// Who pushes the `read_receipt` of the latest read.
    #[serde(default)]
    pub read_pusher: Pusher,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub muted: bool,
    /// When the newest message this member's list knows of was written (the event router
    /// moves it, with `gsi1sk`, on every message).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_activity_at: Option<Timestamp>,
}

/// What last moved a read marker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReadVia {
    Read,
    Send,
}

impl MemberItem {
    /// The member's read marker, if it has one.
    pub fn read_marker(&self) -> Option<ReadMarker> {
        Some(ReadMarker {
            channel_id: self.channel_id.clone(),
            user_id: self.user_id.clone(),
            last_read_message_id: self.last_read_message_id.clone()?,
            read_at: self.read_at?,
        })
    }
}

impl From<MemberItem> for InboxEntry {
    fn from(item: MemberItem) -> Self {
        Self {
            channel_id: item.channel_id,
            role: item.role,
            muted: item.muted,
            activity: item.gsi1sk,
            last_activity_at: item.last_activity_at,
            last_read_message_id: item.last_read_message_id,
            hidden_at: item.hidden_at,
        }
    }
}

fn is_zero<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

impl From<MemberItem> for Membership {
    fn from(item: MemberItem) -> Self {
        Self {
            channel_id: item.channel_id,
            user_id: item.user_id,
            role: item.role,
            joined_at: item.joined_at,
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct DirectItem {
    pub pk: String,
    pub sk: String,
    pub entity: String,
    pub channel_id: ChannelId,
}
