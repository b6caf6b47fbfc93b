//! The table's stream read as changes: what a record's old and new images say happened, in
//! domain terms. The stream is the outbox: every consequence of a committed change (a push, an
//! email, an assistant job, a purge, a webhook) is derived from the items the change wrote,
//! so none can be lost between the commit and the queue. Only this module knows which item
//! shapes mean what; `service::router` decides what each change causes.

use aws_lambda_events::event::dynamodb::EventRecord;

use super::attachments::attachment_from;
use super::digest::{DigestItem, DigestNotice};
use super::error::StoreError;
use super::items::ReadVia;
use super::items::{from_item, ChannelItem, MemberItem, RequestItem, UserItem};
use super::keys;
use super::messages::{message_from, message_stamps};
use super::reports::{ReportItem, ReportNotice};
use super::retries::PushRetryItem;
use super::verification::{CodeNotice, EmailCodeItem};
use super::{string_of, Item};
use crate::domain::{
    Attachment, AttachmentStatus, Channel, ChannelId, ConnectionId, DomainEvent, IndexChange,
    Membership, Message, MessageId, PartnerRequest, Pusher, ReadMarker, ReplyStatus, RequestStatus,
    Timestamp, UserId,
};

/// One thing a stream record says happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    RequestSent(PartnerRequest),
    /// Accepted, rejected or cancelled.
    RequestAnswered(PartnerRequest),
    MessagePosted {
        message: Message,
        pusher: Pusher,
        /// The connection that sent it over WebSocket (acked, not pushed).
        origin: Option<ConnectionId>,
        assistant_channel: bool,
        direct_channel: bool,
    },
    MessageEdited {
        message: Message,
        pusher: Pusher,
    },
    MessageDeleted {
        message: Message,
        pusher: Pusher,
    },
    ReactionsChanged {
        message: Message,
        pusher: Pusher,
    },
    /// The words a message is found by changed (posted, edited, finished streaming, deleted).
    SearchTextChanged {
        channel_id: ChannelId,
        message_id: MessageId,
        change: IndexChange,
    },
    ReadMoved {
        marker: ReadMarker,
        pusher: Pusher,
    },
    /// Added or joined after the channel was created.
    /// A member reported a message: the operators are emailed.
    MessageReported(ReportNotice),
    /// An email verification code was issued (at registration or on request): it is emailed.
    VerificationCodeIssued(CodeNotice),
    /// A user's offline digest started waiting: it is due at `due_at` (epoch seconds).
    DigestScheduled {
        user_id: UserId,
        due_at: i64,
    },
    /// A digest was closed as sent: the email.
    DigestSent(DigestNotice),
    MemberJoined(Membership),
    /// Left, removed, or taken out by an account clean-up or a channel purge.
    MemberLeft(Membership),
    /// A member's role changed (the membership as it is now).
    MemberRoleChanged(Membership),
    /// Created with its founding members.
    ChannelCreated(Channel),
    /// Its name, description, privacy or slow mode changed (the channel as it is now).
    ChannelUpdated(Channel),
    /// A big channel's members' lists were marked to be moved: the move is to be scheduled.
    ListMoveMarked(ChannelId),
    /// An upload was checked (ready or rejected).
    AttachmentSettled(Attachment),
    ChannelDeleted(ChannelId),
    AccountDeleted {
        user_id: UserId,
        /// Its connections when the profile went (to close their sockets).
        connections: Vec<ConnectionId>,
    },
    /// Sessions ended (a sign-out, a sign-out everywhere, a password change): the live
    /// connections opened with their tokens, to close.
    SessionsEnded {
        user_id: UserId,
        connections: Vec<ConnectionId>,
    },
    /// A connection opened: every live connection of the user, oldest first (to hold the
    /// per-user cap).
    ConnectionOpened {
        user_id: UserId,
        live: Vec<ConnectionId>,
    },
    /// The user's first connection opened, or its last closed.
    PresenceChanged {
        user_id: UserId,
        online: bool,
        last_seen: Option<Timestamp>,
    },
    /// Pushes a request could not make (the push API failed): to be retried.
    PushRetry {
        event_id: String,
        event: DomainEvent,
        connections: Vec<(UserId, ConnectionId)>,
    },
}

/// A stream record, decoded.
#[derive(Clone, Debug)]
pub struct ChangeRecord {
    /// The record's `eventID`: the same on every redelivery of this record.
    pub event_id: String,
    /// What Lambda's partial batch response names a failed record by.
    pub sequence_number: String,
    /// When the change was written (to the second, as the stream gives it).
    pub at: Timestamp,
    pub changes: Vec<Change>,
}

/// The entities whose records can mean something; the event source mapping filters on them,
/// so claims, locks and connection items never invoke the router (template.yaml holds the
/// same list, which a test checks).
pub const ROUTED_ENTITIES: &[&str] = &[
    "partner_request",
    "message",
    "member",
    "channel",
    "user",
    "push_retry",
    "report",
    "email_code",
    "digest",
    "attachment",
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Insert,
    Modify,
    Remove,
}

/// The item a record is about (`pk|sk`): a router keeps each item's records in order.
pub fn item_of(record: &EventRecord) -> String {
    let item: Item = record.change.keys.clone().into();
    format!(
        "{}|{}",
        string_of(&item, keys::PK),
        string_of(&item, keys::SK)
    )
}

/// Decodes one record. A record of an entity that causes nothing decodes to no change; a
/// record whose images do not decode is an error (a poison record).
pub fn decode(record: &EventRecord) -> Result<ChangeRecord, StoreError> {
    let kind = match record.event_name.as_str() {
        "INSERT" => Kind::Insert,
        "MODIFY" => Kind::Modify,
        "REMOVE" => Kind::Remove,
        other => return Err(StoreError::fault(format!("unknown stream event {other:?}"))),
    };
    let new: Item = record.change.new_image.clone().into();
    let old: Item = record.change.old_image.clone().into();
    let at = Timestamp::from_unix_millis(
        record
            .change
            .approximate_creation_date_time
            .timestamp_millis(),
    )
    .unwrap_or_else(Timestamp::now);
    let image = if kind == Kind::Remove { &old } else { &new };
    let changes = match string_of(image, "entity").as_str() {
        "partner_request" => request_changes(kind, old, new)?,
        "message" => message_changes(kind, old, new)?,
        "member" => member_changes(kind, old, new)?,
        "report" if kind == Kind::Insert => {
            let item: ReportItem = from_item(new)?;
            vec![Change::MessageReported(ReportNotice::from(item))]
        }
        "email_code" if kind != Kind::Remove => {
            let after: EmailCodeItem = from_item(new)?;
            // A try counts on the item too: only a new code is news.
            let reissued = kind == Kind::Insert
                || from_item::<EmailCodeItem>(old)?.issued_at() != after.issued_at();
            if reissued {
                vec![Change::VerificationCodeIssued(CodeNotice::from(after))]
            } else {
                Vec::new()
            }
        }
        "channel" => channel_changes(kind, old, new)?,
        "attachment" if kind == Kind::Modify => {
            let (before, after) = (attachment_from(old)?, attachment_from(new)?);
            if before.status == AttachmentStatus::Pending && after.status != before.status {
                vec![Change::AttachmentSettled(after)]
            } else {
                Vec::new()
            }
        }
        "digest" if kind != Kind::Remove => digest_changes(old, new)?,
        "user" => profile_changes(kind, old, new, at)?,
        "push_retry" if kind == Kind::Insert => {
            let item: PushRetryItem = from_item(new)?;
            vec![item.into_change()?]
        }
        _ => Vec::new(),
    };
    Ok(ChangeRecord {
        event_id: record.event_id.clone(),
        sequence_number: record.change.sequence_number.clone().unwrap_or_default(),
        at,
        changes,
    })
}

/// A channel's creation, its deletion (`deleted_at` set), and changes of its settings; its
/// member count and admins change with memberships, which tell of themselves.
fn channel_changes(kind: Kind, old: Item, new: Item) -> Result<Vec<Change>, StoreError> {
    Ok(match kind {
        Kind::Insert => vec![Change::ChannelCreated(Channel::from(from_item::<
            ChannelItem,
        >(new)?))],
        Kind::Modify => {
            let (before, after): (ChannelItem, ChannelItem) = (from_item(old)?, from_item(new)?);
            if before.deleted_at.is_none() && after.deleted_at.is_some() {
                vec![Change::ChannelDeleted(after.id)]
            } else if !before.lists_move_pending && after.lists_move_pending {
                vec![Change::ListMoveMarked(after.id)]
            } else if after.deleted_at.is_none()
                && (before.name != after.name
                    || before.description != after.description
                    || before.private != after.private
                    || before.slow_mode_seconds != after.slow_mode_seconds)
            {
                vec![Change::ChannelUpdated(Channel::from(after))]
            } else {
                Vec::new()
            }
        }
        Kind::Remove => Vec::new(),
    })
}

/// A digest that starts waiting is scheduled; one closed with a new `last_sent_at` went out,
/// with what its old image held.
fn digest_changes(old: Item, new: Item) -> Result<Vec<Change>, StoreError> {
    let after: DigestItem = from_item(new)?;
    let before: Option<DigestItem> = if old.is_empty() {
        None
    } else {
        Some(from_item(old)?)
    };
    let (was_due, last_sent) = before
        .as_ref()
        .map_or((None, 0), |before| (before.due_at, before.last_sent_at));
    Ok(match (was_due, after.due_at) {
        (None, Some(due_at)) => vec![Change::DigestScheduled {
            user_id: after.user_id,
            due_at,
        }],
        (Some(_), None) if after.last_sent_at > last_sent => before
            .and_then(DigestItem::into_notice)
            .map(Change::DigestSent)
            .into_iter()
            .collect(),
        _ => Vec::new(),
    })
}

/// Requests are stored twice; the recipient's copy speaks for both.
fn request_changes(kind: Kind, old: Item, new: Item) -> Result<Vec<Change>, StoreError> {
    if kind == Kind::Remove || !string_of(&new, keys::SK).starts_with(keys::request_prefix(true)) {
        return Ok(Vec::new());
    }
    let after = PartnerRequest::from(from_item::<RequestItem>(new)?);
    Ok(match kind {
        Kind::Insert => vec![Change::RequestSent(after)],
        _ => {
            let before: RequestItem = from_item(old)?;
            let answered =
                before.status == RequestStatus::Pending && after.status != RequestStatus::Pending;
            if answered {
                vec![Change::RequestAnswered(after)]
            } else {
                Vec::new()
            }
        }
    })
}

/// A message's events, from what changed between its images: a new item is a post; a new
/// `deleted_at` a deletion; a new `edited_at`, or a streamed reply's end (a new `status`), an
/// edit; different reactions a reaction. Other changes (a thread's reply count, the text of a
/// reply still streaming, whose deltas are pushed by its writer) push nothing.
fn message_changes(kind: Kind, old: Item, new: Item) -> Result<Vec<Change>, StoreError> {
    if kind == Kind::Remove {
        return Ok(Vec::new());
    }
    let stamps = message_stamps(&new)?;
    let pusher = stamps.pusher;
    let after = message_from(new)?;
    let before = match kind {
        Kind::Insert => None,
        _ => Some(message_from(old)?),
    };
    let index = search_text_change(before.as_ref(), &after);
    let mut changes = match before {
        None => vec![Change::MessagePosted {
            message: after,
            pusher,
            origin: stamps.origin,
            assistant_channel: stamps.assistant_channel,
            direct_channel: stamps.direct_channel,
        }],
        Some(before) => message_edits(before, after, pusher),
    };
    changes.extend(index);
    Ok(changes)
}

fn message_edits(before: Message, after: Message, pusher: Pusher) -> Vec<Change> {
    if before.deleted_at.is_none() && after.deleted_at.is_some() {
        vec![Change::MessageDeleted {
            message: after,
            pusher,
        }]
    } else if after.deleted_at.is_some() {
        Vec::new()
    } else if before.edited_at != after.edited_at
        || before.status != after.status
        // A stopped reply's writer kept the text it had streamed.
        || (after.status == Some(ReplyStatus::Stopped) && before.body != after.body)
    {
        vec![Change::MessageEdited {
            message: after,
            pusher,
        }]
    } else if before.reactions != after.reactions {
        vec![Change::ReactionsChanged {
            message: after,
            pusher,
        }]
    } else {
        Vec::new()
    }
}

/// The index change between two images of a message, if its words changed. A message is
/// searchable while it is live and not a reply still being written.
fn search_text_change(before: Option<&Message>, after: &Message) -> Option<Change> {
    let change = IndexChange::between(
        before.and_then(Message::searchable_text),
        after.searchable_text(),
    );
    (!change.is_empty()).then(|| Change::SearchTextChanged {
        channel_id: after.channel_id.clone(),
        message_id: after.id.clone(),
        change,
    })
}

fn member_changes(kind: Kind, old: Item, new: Item) -> Result<Vec<Change>, StoreError> {
    Ok(match kind {
        Kind::Insert => {
            let item: MemberItem = from_item(new)?;
            if item.founding {
                Vec::new()
            } else {
                vec![Change::MemberJoined(Membership::from(item))]
            }
        }
        Kind::Remove => vec![Change::MemberLeft(Membership::from(
            from_item::<MemberItem>(old)?,
        ))],
        Kind::Modify => {
            let (before, after): (MemberItem, MemberItem) = (from_item(old)?, from_item(new)?);
            let mut changes = Vec::new();
            // A read moved the marker: `read_receipt` (a send moving it tells by itself).
            let read = after.read_via == Some(ReadVia::Read)
                && (before.last_read_message_id != after.last_read_message_id
                    || before.read_at != after.read_at);
            if read {
                if let Some(marker) = after.read_marker() {
                    changes.push(Change::ReadMoved {
                        marker,
                        pusher: after.read_pusher,
                    });
                }
            }
            if before.role != after.role {
                changes.push(Change::MemberRoleChanged(Membership::from(after)));
            }
            changes
        }
    })
}

/// Presence from the profile's connection map (live entries at the change's time); an
/// account deletion from the profile's removal.
fn profile_changes(
    kind: Kind,
    old: Item,
    new: Item,
    at: Timestamp,
) -> Result<Vec<Change>, StoreError> {
    if string_of(if kind == Kind::Remove { &old } else { &new }, keys::SK) != keys::PROFILE {
        return Ok(Vec::new());
    }
    let now = at.unix_seconds();
    match kind {
        Kind::Remove => {
            let before: UserItem = from_item(old)?;
            let connections = before
                .live_connections(now)
                .filter_map(ConnectionId::parse)
                .collect();
            Ok(vec![Change::AccountDeleted {
                user_id: before.id,
                connections,
            }])
        }
        Kind::Insert => Ok(Vec::new()),
        Kind::Modify => {
            let (before, after): (UserItem, UserItem) = (from_item(old)?, from_item(new)?);
            let mut changes = Vec::new();
            let ended = ended_session_connections(&before, &after, now);
            if !ended.is_empty() {
                changes.push(Change::SessionsEnded {
                    user_id: after.id.clone(),
                    connections: ended,
                });
            }
            let was = before.live_connections(now).count();
            let is = after.live_connections(now).count();
            if is > was {
                let mut live: Vec<(&String, &i64)> = after
                    .connections
                    .iter()
                    .filter(|(_, expires_at)| **expires_at > now)
                    .collect();
                // Every connection lives as long, so the soonest to expire opened first.
                live.sort_by(|a, b| (a.1, a.0).cmp(&(b.1, b.0)));
                changes.push(Change::ConnectionOpened {
                    user_id: after.id.clone(),
                    live: live
                        .into_iter()
                        .filter_map(|(id, _)| ConnectionId::parse(id))
                        .collect(),
                });
            }
            if (was > 0) != (is > 0) {
                changes.push(Change::PresenceChanged {
                    user_id: after.id,
                    online: is > 0,
                    last_seen: after.last_seen,
                });
            }
            Ok(changes)
        }
    }
}

/// The live connections whose token a change of the profile revoked: every one when the
/// session epoch moved on (nothing opened with the new epoch's tokens can be in the same
/// image), else those opened with a token newly signed out.
fn ended_session_connections(before: &UserItem, after: &UserItem, now: i64) -> Vec<ConnectionId> {
    let epoch_moved = after.session_epoch != before.session_epoch;
    let newly_revoked = |token: Option<&String>| {
        token.is_some_and(|token| {
            after.revoked_tokens.contains_key(token) && !before.revoked_tokens.contains_key(token)
        })
    };
    let mut ended: Vec<ConnectionId> = after
        .live_connections(now)
        .filter(|id| epoch_moved || newly_revoked(after.connection_tokens.get(*id)))
        .filter_map(ConnectionId::parse)
        .collect();
    ended.sort();
    ended
}
