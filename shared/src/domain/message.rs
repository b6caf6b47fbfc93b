//! Messages: what a message may contain and who may change it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{ChannelId, Counterpart, Membership, MessageId, Timestamp, UserId};
use super::{EditRefused, Invalid, MessageDeleteRefused, NotFound, ParentRefused};

/// A message body: not blank, at most 4,000 characters (kept as written).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MessageBody(String);

impl MessageBody {
    pub const MAX_CHARS: usize = 4000;

    /// A body that may be empty: a message carrying attachments needs no text.
    pub fn parse_with_attachments(raw: &str, attachments: usize) -> Result<Self, Invalid> {
        if attachments > 0 && raw.trim().is_empty() {
            return Ok(Self(String::new()));
        }
        Self::parse(raw)
    }

    /// The text of a reply being written (empty at first), cut at the limit.
    pub fn partial(text: &str) -> Self {
        Self(text.chars().take(Self::MAX_CHARS).collect())
    }

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        if raw.trim().is_empty() {
            return Err(Invalid::field("body", "must not be empty"));
        }
        if raw.chars().count() > Self::MAX_CHARS {
            return Err(Invalid::field("body", "must be at most 4000 characters"));
        }
        Ok(Self(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The sender's own id for a send, making retries idempotent: 1 to 64 visible ASCII characters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ClientId(String);

impl ClientId {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let ok = (1..=64).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_graphic());
        if !ok {
            return Err(Invalid::field(
                "client_id",
                "must be 1 to 64 visible ASCII characters",
            ));
        }
        Ok(Self(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A reaction: exactly one emoji of the Unicode list, skin-tone and ZWJ sequences included
/// (the `emojis` crate's table). Stored as sent, so one emoji is one reaction.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Emoji(String);

/// Variation selector 16: keyboards often leave it off ("❤" for "❤️").
const EMOJI_PRESENTATION: char = '\u{fe0f}';

impl Emoji {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let known = emojis::get(raw).is_some()
            || (!raw.ends_with(EMOJI_PRESENTATION)
                && emojis::get(&format!("{raw}{EMOJI_PRESENTATION}")).is_some());
        if !known {
            return Err(Invalid::field("emoji", "must be exactly one emoji"));
        }
        Ok(Self(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MessageRole {
    User,
    Assistant,
    System,
}

impl MessageRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Assistant => "assistant",
            Self::System => "system",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        match raw {
            "user" => Ok(Self::User),
            "assistant" => Ok(Self::Assistant),
            "system" => Ok(Self::System),
            _ => Err(Invalid::parameter("role", "user, assistant or system")),
        }
    }
}

/// `sender.name` is the sender's name when the message was sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Message {
    pub id: MessageId,
    pub channel_id: ChannelId,
    pub sender: Counterpart,
    pub role: MessageRole,
    pub body: MessageBody,
    pub parent_id: Option<MessageId>,
    pub reply_count: u32,
    /// emoji → ids of the users who reacted
    pub reactions: BTreeMap<Emoji, Vec<UserId>>,
    /// The users the message mentions (members of the channel)
    #[serde(default)]
    pub mentions: Vec<UserId>,
    /// Its files, with download URLs for the ready ones
    #[serde(default)]
    pub attachments: Vec<super::Attachment>,
    pub created_at: Timestamp,
    pub edited_at: Option<Timestamp>,
    pub client_id: Option<ClientId>,
    /// An assistant reply's progress (absent on other messages)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<super::ReplyStatus>,
    #[serde(skip)]
    pub deleted_at: Option<Timestamp>,
}

impl Message {
    /// An id that can name no message is answered as an unknown one.
    pub fn parse_id(raw: &str) -> Result<MessageId, NotFound> {
        MessageId::parse(raw).ok_or(NotFound::Message)
    }

    /// A message can be a reply only to a live top-level message of the same channel.
    pub fn ensure_can_be_parent(&self) -> Result<(), ParentRefused> {
        if self.deleted_at.is_some() {
            return Err(ParentRefused::Deleted);
        }
        if self.parent_id.is_some() {
            return Err(ParentRefused::IsReply);
        }
        Ok(())
    }

    /// The text search finds the message by: none while it is deleted (or hidden) or a reply
    /// still being written (its words arrive once it ends).
    pub fn searchable_text(&self) -> Option<&str> {
        let writing = self.status == Some(super::ReplyStatus::Streaming);
        (self.deleted_at.is_none() && !writing).then(|| self.body.as_str())
    }

    pub fn ensure_can_edit(&self, caller: &UserId) -> Result<(), EditRefused> {
        if self.deleted_at.is_some() {
            return Err(EditRefused::Deleted);
        }
        if &self.sender.id != caller {
            return Err(EditRefused::NotSender);
        }
        Ok(())
    }

    /// The sender or the channel's owner may delete.
    pub fn ensure_can_delete(&self, caller: &Membership) -> Result<(), MessageDeleteRefused> {
        if self.deleted_at.is_some() {
            return Err(MessageDeleteRefused::Deleted);
        }
        if self.sender.id != caller.user_id && !caller.role.manages() {
            return Err(MessageDeleteRefused::NotAllowed);
        }
        Ok(())
    }
}

/// `?order=` of a history page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    NewestFirst,
    OldestFirst,
}

impl Order {
    pub fn parse(raw: Option<&str>) -> Result<Self, Invalid> {
        match raw {
            None | Some("desc") => Ok(Self::NewestFirst),
            Some("asc") => Ok(Self::OldestFirst),
            Some(_) => Err(Invalid::parameter("order", "asc or desc")),
        }
    }
}

/// The read position of a member: `{channel_id, user_id, last_read_message_id, read_at}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReadMarker {
    pub channel_id: ChannelId,
    pub user_id: UserId,
    pub last_read_message_id: MessageId,
    pub read_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::UserName;

    #[test]
    fn bodies_are_not_blank_and_bounded() {
        assert!(MessageBody::parse(" hi ").is_ok());
        assert!(MessageBody::parse("  \n ").is_err());
        assert!(MessageBody::parse(&"é".repeat(4000)).is_ok());
        assert!(MessageBody::parse(&"é".repeat(4001)).is_err());
    }

    #[test]
    fn client_ids_and_emoji() {
        assert!(ClientId::parse("c-1:retry").is_ok());
        assert!(ClientId::parse("").is_err());
        assert!(ClientId::parse("has space").is_err());
        assert!(ClientId::parse(&"x".repeat(65)).is_err());
        for one in ["👍", "👍🏽", "❤️", "❤", "👩‍👩‍👧", "🏳️‍🌈", "🇫🇷", "1️⃣"]
        {
            assert!(Emoji::parse(one).is_ok(), "{one}");
        }
        for not_one in [
            "",
            ":thumbs_up:",
            "ok",
            "👍👍",
            "👍 ",
            "a👍",
            "\u{fe0f}",
            "🏽",
        ] {
            assert!(Emoji::parse(not_one).is_err(), "{not_one:?}");
        }
    }

    fn message(sender: &UserId) -> Message {
        Message {
            id: MessageId::generate(),
            channel_id: ChannelId::generate(),
            sender: Counterpart {
                id: sender.clone(),
                name: UserName::parse("Ada").unwrap(),
            },
            role: MessageRole::User,
            body: MessageBody::parse("hi").unwrap(),
            parent_id: None,
            reply_count: 0,
            reactions: BTreeMap::new(),
            mentions: Vec::new(),
            attachments: Vec::new(),
            created_at: Timestamp::now(),
            edited_at: None,
            client_id: None,
            status: None,
            deleted_at: None,
        }
    }

    #[test]
    fn a_message_is_searchable_while_live_and_not_being_written() {
        let mut m = message(&UserId::generate());
        assert_eq!(m.searchable_text(), Some("hi"));
        m.status = Some(super::super::ReplyStatus::Streaming);
        assert_eq!(m.searchable_text(), None);
        m.status = Some(super::super::ReplyStatus::Complete);
        assert_eq!(m.searchable_text(), Some("hi"));
        m.deleted_at = Some(Timestamp::now());
        assert_eq!(m.searchable_text(), None);
    }

    #[test]
    fn only_senders_edit_and_senders_or_managers_delete() {
        use crate::domain::MemberRole;
        let ada = UserId::generate();
        let bob = UserId::generate();
        let m = message(&ada);
        assert!(m.ensure_can_edit(&ada).is_ok());
        assert_eq!(m.ensure_can_edit(&bob), Err(EditRefused::NotSender));
        let member = |user: &UserId, role| Membership {
            channel_id: m.channel_id.clone(),
            user_id: user.clone(),
            role,
            joined_at: Timestamp::now(),
        };
        assert!(m
            .ensure_can_delete(&member(&ada, MemberRole::Member))
            .is_ok());
        for manager in [MemberRole::Owner, MemberRole::Admin] {
            assert!(m.ensure_can_delete(&member(&bob, manager)).is_ok());
        }
        assert_eq!(
            m.ensure_can_delete(&member(&bob, MemberRole::Member)),
            Err(MessageDeleteRefused::NotAllowed)
        );
        let deleted = Message {
            deleted_at: Some(Timestamp::now()),
            ..m
        };
        assert_eq!(deleted.ensure_can_edit(&ada), Err(EditRefused::Deleted));
        assert_eq!(deleted.ensure_can_be_parent(), Err(ParentRefused::Deleted));
    }
}
