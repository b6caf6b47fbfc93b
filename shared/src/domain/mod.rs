//! The domain: newtypes that parse input once, and the rules of users, partner requests and
//! partnerships. Nothing here performs I/O, so every rule is unit-tested directly.

mod attachment;
mod channel;
mod delivery;
mod digest;
mod event;
mod ids;
mod inbox;
mod message;
mod page;
mod partner;
mod rate;
mod refusal;
mod reply;
mod report;
pub mod schema;
mod search;
mod session;
mod time;
mod user;
mod verification;

pub use attachment::{
    AttachRefused, Attachment, AttachmentName, AttachmentStatus, CheckRefusal, ContentType,
    NewAttachment, StoredObject, UploadRefused, MAX_ATTACHMENTS_PER_MESSAGE, MAX_IMAGE_PIXELS,
    THUMBNAIL_MAX_SIDE,
};
pub use channel::{
    successor, Channel, ChannelDescription, ChannelKind, ChannelName, ChannelSettings, ChannelView,
    Leaving, Member, MemberRole, Membership, NewChannel, MAX_INITIAL_MEMBERS,
    MAX_SLOW_MODE_SECONDS,
};
pub use delivery::Pusher;
pub use digest::{digest_candidates, digest_summary, DigestEntry, DigestPolicy, DigestReader};
pub use event::{Audience, DomainEvent};
pub use ids::{
    AttachmentId, ChannelId, ConnectionId, MessageId, ReportId, RequestId, TokenId, UserId,
};
pub use inbox::{
    not_members, parse_mentions, preview, ChannelSummary, InboxEntry, LastMessage, UnreadCandidate,
    UnreadCount, UnreadTotals, MAX_MENTIONS, UNREAD_CAP, UNREAD_SCAN,
};
pub use message::{ClientId, Emoji, Message, MessageBody, MessageRole, Order, ReadMarker};
pub use page::{Limit, Page, PageRequest};
pub use partner::{
    Counterpart, Decision, PairKey, PartnerRequest, Partnership, RequestMessage, RequestStatus,
    StatusFilter,
};
pub use rate::{slow_mode_wait, LoginAttempts, RateLimit, RateWindow, TYPING_PUSH_EVERY};
pub use refusal::{
    AccessRefused, AddRefused, AnswerRefused, ChannelDeleteRefused, EditRefused, FieldErrors,
    Invalid, JoinRefused, LeaveRefused, MessageDeleteRefused, NotFound, ParentRefused, RoleRefused,
    SettingsRefused, StopRefused,
};
pub use reply::{
    prompt_turns, quota_day, quota_reply, Delta, ReplyProgress, ReplyStatus, Turn, ABANDONED_AFTER,
    DELTA_EVERY, REPLY_MAX_DURATION, STORE_EVERY,
};
pub use report::{NewReport, Report, ReportReason};
pub use search::{
    indexed_words, ChannelRef, IndexChange, Lookup, SearchHit, SearchQuery, MAX_INDEXED_WORDS,
    MAX_QUERY_CHARS, MIN_QUERY_CHARS,
};
pub use session::{Caller, Session, SessionPolicy};
pub use time::Timestamp;
pub use user::{Email, NewUser, Password, ProfileChanges, PublicUser, User, UserName};
pub use verification::{CodePolicy, CodeRefused, IssuedCode, VerificationCode, CODE_TRIES};
