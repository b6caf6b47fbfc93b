//! The inbox: a member's view of its channels — the last message, unread and mention counts,
//! activity order, mute — as pure rules over what the store reads.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::{
    Channel, ChannelId, Counterpart, FieldErrors, Invalid, MemberRole, Message, MessageId,
    MessageRole, Timestamp, UserId,
};

/// Unread messages are counted exactly up to this many; past it, the count says "this many or
/// more".
pub const UNREAD_CAP: u32 = 100;

/// How many messages after a read marker one count reads at most: twice the cap, so the count
/// stays exact while up to half of them are the reader's own, deleted, or by users it blocked.
pub const UNREAD_SCAN: u32 = 2 * UNREAD_CAP + 1;

/// At most this many users mentioned in one message.
pub const MAX_MENTIONS: usize = 50;

/// How many characters of a body a preview shows.
pub const PREVIEW_CHARS: usize = 140;

/// The newest live message of a channel, as its summary shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LastMessage {
    pub id: MessageId,
    pub sender: Counterpart,
    pub role: MessageRole,
    /// The first 140 characters of the body
    pub preview: String,
    pub created_at: Timestamp,
}

impl LastMessage {
    pub fn of(message: &Message) -> Self {
        Self {
            id: message.id.clone(),
            sender: message.sender.clone(),
            role: message.role,
            preview: preview(message.body.as_str()),
            created_at: message.created_at,
        }
    }
}

/// The first `PREVIEW_CHARS` characters of a body.
pub fn preview(body: &str) -> String {
    body.chars().take(PREVIEW_CHARS).collect()
}

/// A message after a reader's marker, as far as counting it goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnreadCandidate {
    pub id: MessageId,
    pub sender_id: UserId,
    pub mentions: BTreeSet<UserId>,
    pub deleted: bool,
}

/// A member's unread and mention counts in one channel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UnreadCount {
    pub unread: u32,
    pub mentions: u32,
}

impl UnreadCount {
    /// Counts the live messages after `marker` that `reader` did not send and did not block
    /// the sender of, up to `UNREAD_CAP`; `mentions` are those of them naming the reader.
    /// `candidates` are what one bounded read after the marker found.
    pub fn of<'a>(
        candidates: impl IntoIterator<Item = &'a UnreadCandidate>,
        reader: &UserId,
        marker: Option<&MessageId>,
        blocked: &BTreeSet<UserId>,
    ) -> Self {
        let mut count = Self::default();
        for message in candidates {
            let after_marker = marker.is_none_or(|marker| &message.id > marker);
            if !after_marker
                || message.deleted
                || &message.sender_id == reader
                || blocked.contains(&message.sender_id)
            {
                continue;
            }
            if count.unread < UNREAD_CAP {
                count.unread += 1;
                if message.mentions.contains(reader) {
                    count.mentions += 1;
                }
            }
        }
        count
    }
}

/// A member's place in its channel list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InboxEntry {
    pub channel_id: ChannelId,
    pub role: MemberRole,
    pub muted: bool,
    /// The newest message the member's list knows of (or the channel's own id when none):
    /// ids are time-ordered, so this orders the list.
    pub activity: String,
    pub last_activity_at: Option<Timestamp>,
    pub last_read_message_id: Option<MessageId>,
    /// A direct channel the member left: hidden until a newer message.
    pub hidden_at: Option<Timestamp>,
}

impl InboxEntry {
    /// Whether the member left this (direct) channel and nothing was written since.
    pub fn is_hidden(&self) -> bool {
        match (self.hidden_at, self.last_activity_at) {
            (Some(hidden), Some(active)) => active <= hidden,
            (Some(_), None) => true,
            (None, _) => false,
        }
    }

    /// Whether anything may be unread: a message newer than the marker is known.
    pub fn may_have_unread(&self) -> bool {
        let newest_is_a_message = self.activity != self.channel_id.as_str();
        match &self.last_read_message_id {
            Some(marker) => self.activity.as_str() > marker.as_str(),
            None => newest_is_a_message,
        }
    }
}

/// A channel as the caller's channel list shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ChannelSummary {
    #[serde(flatten)]
    pub channel: Channel,
    pub role: MemberRole,
    pub muted: bool,
    /// The newest live message (null when the channel has none)
    pub last_message: Option<LastMessage>,
    /// The newest message's `created_at`, else the channel's
    pub last_activity_at: Timestamp,
    /// Live messages (replies included) after the caller's read marker that others sent,
    /// exact up to 100 (100 means "100 or more")
    #[schema(maximum = 100)]
    pub unread_count: u32,
    /// Those of them that mention the caller
    #[schema(maximum = 100)]
    pub mention_count: u32,
}

/// `GET /me/unread`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct UnreadTotals {
    /// The sum of every channel's `unread_count`
    pub total_unread_count: u32,
    /// How many channels have unread messages
    pub unread_channels: u32,
    /// The sum of every channel's `mention_count`
    pub total_mention_count: u32,
}

impl UnreadTotals {
    pub fn add(&mut self, count: UnreadCount) {
        self.total_unread_count += count.unread;
        self.total_mention_count += count.mentions;
        if count.unread > 0 {
            self.unread_channels += 1;
        }
    }
}

/// `mention_ids` as given: parseable ids, at most `MAX_MENTIONS`, duplicates folded (the
/// sender may mention itself; it is not notified).
pub fn parse_mentions(raw: &[String]) -> Result<BTreeSet<UserId>, Invalid> {
    if raw.len() > MAX_MENTIONS {
        return Err(Invalid::field(
            "mention_ids",
            format!("at most {MAX_MENTIONS} users"),
        ));
    }
    let mut ids = BTreeSet::new();
    let mut unknown = Vec::new();
    for id in raw {
        match UserId::parse(id) {
            Some(id) => {
                ids.insert(id);
            }
            None => unknown.push(id.clone()),
        }
    }
    if unknown.is_empty() {
        Ok(ids)
    } else {
        Err(not_members(unknown.iter().map(String::as_str)))
    }
}

/// The 400 for mentions of users who are not members of the channel.
pub fn not_members<'a>(ids: impl IntoIterator<Item = &'a str>) -> Invalid {
    let ids: Vec<&str> = ids.into_iter().collect();
    Invalid::Fields(FieldErrors::from([(
        "mention_ids".to_string(),
        format!("not members of this channel: {}", ids.join(",")),
    )]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(sender: &UserId, mentions: &[&UserId], deleted: bool) -> UnreadCandidate {
        UnreadCandidate {
            id: MessageId::generate(),
            sender_id: sender.clone(),
            mentions: mentions.iter().map(|u| (*u).clone()).collect(),
            deleted,
        }
    }

    #[test]
    fn counts_what_others_wrote_after_the_marker_and_caps_it() {
        let (me, ada, eve) = (UserId::generate(), UserId::generate(), UserId::generate());
        let read = candidate(&ada, &[], false);
        let mut messages = vec![read.clone()];
        messages.push(candidate(&ada, &[&me], false));
        messages.push(candidate(&me, &[], false));
        messages.push(candidate(&ada, &[&me], true));
        messages.push(candidate(&eve, &[&me], false));
        messages.push(candidate(&ada, &[], false));
        let blocked = BTreeSet::from([eve.clone()]);
        let count = UnreadCount::of(&messages, &me, Some(&read.id), &blocked);
        assert_eq!(
            count,
            UnreadCount {
                unread: 2,
                mentions: 1
            }
        );
        let nothing_read = UnreadCount::of(&messages, &me, None, &BTreeSet::new());
        assert_eq!(
            nothing_read,
            UnreadCount {
                unread: 4,
                mentions: 2
            }
        );

        let many: Vec<_> = (0..150).map(|_| candidate(&ada, &[&me], false)).collect();
        let capped = UnreadCount::of(&many, &me, None, &BTreeSet::new());
        assert_eq!(
            capped,
            UnreadCount {
                unread: UNREAD_CAP,
                mentions: UNREAD_CAP
            }
        );
    }

    #[test]
    fn an_entry_may_have_unread_once_its_activity_passes_the_marker() {
        let channel_id = ChannelId::generate();
        let message = MessageId::generate();
        let entry = InboxEntry {
            channel_id: channel_id.clone(),
            role: MemberRole::Member,
            muted: false,
            activity: channel_id.to_string(),
            last_activity_at: None,
            last_read_message_id: None,
            hidden_at: None,
        };
        assert!(!entry.may_have_unread(), "no message yet");
        let active = InboxEntry {
            activity: message.to_string(),
            ..entry.clone()
        };
        assert!(active.may_have_unread());
        let read = InboxEntry {
            last_read_message_id: Some(message.clone()),
            ..active.clone()
        };
        assert!(!read.may_have_unread());
        let left = InboxEntry {
            hidden_at: Some(Timestamp::now()),
            ..entry
        };
        assert!(left.is_hidden());
    }

    #[test]
    fn mentions_are_ids_and_at_most_fifty() {
        let ids: Vec<String> = (0..3).map(|_| UserId::generate().to_string()).collect();
        let twice = [ids.clone(), ids.clone()].concat();
        assert_eq!(parse_mentions(&twice).unwrap().len(), 3);
        assert!(parse_mentions(&["nobody".into()]).is_err());
        let too_many: Vec<String> = (0..51).map(|_| UserId::generate().to_string()).collect();
        assert!(parse_mentions(&too_many).is_err());
        assert_eq!(preview(&"é".repeat(200)).chars().count(), PREVIEW_CHARS);
    }
}
