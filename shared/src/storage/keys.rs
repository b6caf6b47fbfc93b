//! Key formats of the single table. Nothing outside `storage` builds or parses these.

use super::{s, Item};
use crate::domain::{ChannelId, ClientId, MessageId, PairKey, RequestId, RequestStatus, UserId};

pub const PK: &str = "pk";
pub const SK: &str = "sk";
pub const GSI1: &str = "gsi1";
pub const GSI1_PK: &str = "gsi1pk";
pub const GSI1_SK: &str = "gsi1sk";
/// A channel's members by join time (sparse: only member items carry it).
pub const GSI2: &str = "gsi2";
pub const GSI2_PK: &str = "gsi2pk";
pub const GSI2_SK: &str = "gsi2sk";
/// Epoch seconds after which an item is dead; DynamoDB's TTL deletes it eventually, and
/// readers filter on it because deletion is late (and never happens in DynamoDB Local).
pub const TTL: &str = "expires_at";

pub const PROFILE: &str = "PROFILE";
pub const CREDENTIALS: &str = "CREDENTIALS";
/// Failed logins of an email, beside its credentials.
pub const LOGIN_ATTEMPTS: &str = "LOGIN_ATTEMPTS";
/// An account's email verification code, beside its profile.
pub const EMAIL_CODE: &str = "EMAIL_CODE";
pub const PAIR: &str = "PAIR";
pub const CONNECTION: &str = "CONN";
/// The GSI1 partition that lists every user.
pub const ALL_USERS: &str = "USERS";

pub fn user_pk(user: &UserId) -> String {
    format!("USER#{user}")
}

pub fn key(pk: impl Into<String>, sk: impl Into<String>) -> Item {
    Item::from([(PK.to_string(), s(pk)), (SK.to_string(), s(sk))])
}

pub fn user_key(user: &UserId) -> Item {
    key(user_pk(user), PROFILE)
}

/// An account's offline digest, beside its profile.
pub const DIGEST: &str = "DIGEST";

pub fn digest_key(user: &UserId) -> Item {
    key(user_pk(user), DIGEST)
}

/// A user's assistant replies of one UTC day (`YYYY-MM-DD`), with TTL.
pub fn reply_quota_key(user: &UserId, day: &str) -> Item {
    key(user_pk(user), format!("REPLIES#{day}"))
}

pub fn email_code_key(user: &UserId) -> Item {
    key(user_pk(user), EMAIL_CODE)
}

pub fn credentials_pk(normalized_email: &str) -> String {
    format!("EMAIL#{normalized_email}")
}

/// The failed logins of an email, beside its credentials.
pub fn login_attempts_key(normalized_email: &str) -> Item {
    key(credentials_pk(normalized_email), LOGIN_ATTEMPTS)
}

pub fn pair_key(pair: &PairKey) -> Item {
    key(format!("PAIR#{}#{}", pair.low, pair.high), PAIR)
}

/// Prefix of the sort keys of a user's partnership items.
pub const PARTNER_PREFIX: &str = "PARTNER#";

pub fn partner_sk(other: &UserId) -> String {
    format!("{PARTNER_PREFIX}{other}")
}

/// Prefix of the sort keys of the users a user blocked.
pub const BLOCK_PREFIX: &str = "BLOCK#";

/// `owner`'s block of `other`.
pub fn block_key(owner: &UserId, other: &UserId) -> Item {
    key(user_pk(owner), format!("{BLOCK_PREFIX}{other}"))
}

/// The profile's set of the users its owner blocked (read with the connections by pushes).
pub const BLOCKED_IDS: &str = "blocked_ids";
/// The pair item's and a direct membership's set of who blocked whom.
pub const BLOCKED_BY: &str = "blocked_by";

/// `owner`'s side of its partnership with `other`.
pub fn partner_key(owner: &UserId, other: &UserId) -> Item {
    key(user_pk(owner), partner_sk(other))
}

/// A request is stored twice, once in each party's partition ("IN" for the recipient,
/// "OUT" for the sender), so each side lists and finds it with a key lookup.
pub fn request_prefix(incoming: bool) -> &'static str {
    if incoming {
        "PREQ#IN#"
    } else {
        "PREQ#OUT#"
    }
}

pub fn request_sk(incoming: bool, id: &RequestId) -> String {
    format!("{}{id}", request_prefix(incoming))
}

/// GSI1 partition of one party's requests of one status.
pub fn request_status_pk(owner: &UserId, incoming: bool, status: RequestStatus) -> String {
    format!("{}#{}{status}", user_pk(owner), request_prefix(incoming))
}

pub fn connection_key(connection_id: &str) -> Item {
    key(format!("CONN#{connection_id}"), CONNECTION)
}

/// The lock of one email event (worker idempotency).
pub fn email_lock_key(event_id: &str) -> Item {
    key(format!("EMAIL_SENT#{event_id}"), "LOCK")
}

/// Pushes to retry (see `storage::retries`).
pub fn push_retry_key(event_id: &str) -> Item {
    key(format!("RETRY#{event_id}"), "RETRY")
}

/// The delivery ledger of one fan-out chunk or webhook delivery.
pub fn ledger_key(job: &str) -> Item {
    key(format!("DELIVERY#{job}"), "LEDGER")
}

/// The map attribute of the user's profile that holds its connections.
pub const CONNECTIONS: &str = "connections";
/// The profile's map of connection id → the `jti` of the token it was opened with.
pub const CONNECTION_TOKENS: &str = "connection_tokens";
/// The profile's session epoch and its tokens revoked one by one.
pub const SESSION_EPOCH: &str = "session_epoch";
pub const REVOKED_TOKENS: &str = "revoked_tokens";

pub const CHANNEL_META: &str = "META";
pub const MEMBER_PREFIX: &str = "MEMBER#";
/// The GSI1 partition listing public channels.
pub const PUBLIC_CHANNELS: &str = "PUBLIC_CHANNELS";

pub fn channel_pk(channel: &ChannelId) -> String {
    format!("CHAN#{channel}")
}

pub fn channel_key(channel: &ChannelId) -> Item {
    key(channel_pk(channel), CHANNEL_META)
}

pub fn member_key(channel: &ChannelId, user: &UserId) -> Item {
    key(channel_pk(channel), format!("{MEMBER_PREFIX}{user}"))
}

/// GSI2 sort key of a membership: join time, then user (ties broken the same way everywhere).
pub fn member_by_join_sk(joined_at: &crate::domain::Timestamp, user: &UserId) -> String {
    format!("{MEMBER_PREFIX}{joined_at}#{user}")
}

/// GSI1 partition of a user's memberships.
/// On the channel item, one attribute per admin: `admin#<user id>` = when it joined (so the
/// longest-standing admin, who takes over from a leaving owner, is read with the channel).
pub const ADMIN_PREFIX: &str = "admin#";

pub fn admin_attribute(user: &UserId) -> String {
    format!("{ADMIN_PREFIX}{user}")
}

/// The mark a removal leaves beside the membership it deleted (so the stream tells a removal
/// from a leave): one per membership, by the member's join time.
pub fn removal_key(
    channel: &ChannelId,
    user: &UserId,
    joined_at: &crate::domain::Timestamp,
) -> Item {
    key(channel_pk(channel), format!("REMOVAL#{user}#{joined_at}"))
}

/// Prefix of an upload's sort key in its channel's partition.
pub const ATTACHMENT_PREFIX: &str = "ATT#";

/// An upload, in its channel's partition.
pub fn attachment_key(channel: &ChannelId, attachment: &crate::domain::AttachmentId) -> Item {
    key(
        channel_pk(channel),
        format!("{ATTACHMENT_PREFIX}{attachment}"),
    )
}

/// Prefix of the uploader's references to its uploads.
pub const UPLOAD_REF_PREFIX: &str = "ATT#";

/// The uploader's reference to an upload (so an account's purge finds its uploads).
pub fn upload_ref_key(
    uploader: &UserId,
    channel: &ChannelId,
    attachment: &crate::domain::AttachmentId,
) -> Item {
    key(
        user_pk(uploader),
        format!("{UPLOAD_REF_PREFIX}{channel}#{attachment}"),
    )
}

/// The GSI1 partition of uploads on no message, by when they expire (the sweep's).
pub const UPLOADS_UNATTACHED: &str = "UPLOADS_UNATTACHED";

pub fn user_channels_pk(user: &UserId) -> String {
    format!("{}#CHAN", user_pk(user))
}

/// The claim that makes a pair's direct channel unique.
pub fn direct_key(pair: &PairKey) -> Item {
    key(format!("DIRECT#{}#{}", pair.low, pair.high), "DIRECT")
}

pub const MESSAGE_PREFIX: &str = "MSG#";
/// Sorts after every message of a channel (`$` follows `#`): the end of a range of messages.
pub const MESSAGES_END: &str = "MSG$";
/// Prefix of the sort keys of a channel's reports.
pub const REPORT_PREFIX: &str = "REPORT#";

/// `reporter`'s report of `message` (one per member and message).
pub fn report_key(channel: &ChannelId, message: &MessageId, reporter: &UserId) -> Item {
    key(
        channel_pk(channel),
        format!("{REPORT_PREFIX}{message}#{reporter}"),
    )
}
/// Reactions are top-level string sets named `react#<emoji>` (users who reacted), so adding
/// and removing one is an atomic, idempotent `ADD`/`DELETE` on the message item.
pub const REACTION_PREFIX: &str = "react#";

/// Prefix of a channel's search index: an item `WORD#<word>#<message id>` for each word a
/// message is found by, in the channel's own partition (so a channel's purge takes its index
/// with it, and a word's messages read newest first in one Query).
pub const WORD_PREFIX: &str = "WORD#";

/// The start of the sort keys of `word`'s index items: the whole word (`WORD#fri#`) or every
/// word beginning so (`WORD#fri`). Words are letters and digits, so `#` ends one.
pub fn word_sk_start(word: &str, whole: bool) -> String {
    format!("{WORD_PREFIX}{word}{}", if whole { "#" } else { "" })
}

pub fn word_key(channel: &ChannelId, word: &str, message: &MessageId) -> Item {
    key(
        channel_pk(channel),
        format!("{}{message}", word_sk_start(word, true)),
    )
}

/// The message of an index item's sort key.
pub fn message_of_word_sk(sk: &str) -> Option<&str> {
    sk.strip_prefix(WORD_PREFIX)?
        .rsplit_once('#')
        .map(|(_, id)| id)
}

pub fn message_key(channel: &ChannelId, message: &MessageId) -> Item {
    key(channel_pk(channel), format!("{MESSAGE_PREFIX}{message}"))
}

/// GSI1 partition of a thread's replies.
pub fn thread_pk(channel: &ChannelId, parent: &MessageId) -> String {
    format!("THREAD#{channel}#{parent}")
}

/// The idempotency claim of a `client_id`, per sender and channel.
pub fn client_key(channel: &ChannelId, sender: &UserId, client: &ClientId) -> Item {
    key(
        channel_pk(channel),
        format!("CLIENT#{sender}#{}", client.as_str()),
    )
}
