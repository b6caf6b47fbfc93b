//! Why the domain refuses something, as values: one enum per rule, naming every way it can
//! say no. Nothing here knows HTTP or words an answer; `service::refusals` does both, in one
//! place. The reasons in `Invalid::Fields` are the exception: they state the rule a field
//! breaks ("must not be empty") and travel to the caller as the contract's `details`.

use std::collections::BTreeMap;

use super::{ChannelKind, Decision, RequestStatus};

/// Field name → the rule it breaks.
pub type FieldErrors = BTreeMap<String, String>;

/// Input that breaks the rules of its fields or parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Invalid {
    /// Body fields, every broken one at once.
    Fields(FieldErrors),
    /// A query parameter outside its values: `name` must be `expected`.
    Parameter {
        name: &'static str,
        expected: String,
    },
}

impl Invalid {
    pub fn field(name: &str, rule: impl Into<String>) -> Self {
        Self::Fields(BTreeMap::from([(name.to_string(), rule.into())]))
    }

    pub fn parameter(name: &'static str, expected: impl Into<String>) -> Self {
        Self::Parameter {
            name,
            expected: expected.into(),
        }
    }
}

/// Something an id names that does not exist, or that the caller may not know exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotFound {
    Channel,
    Message,
    /// The message a reply names as its parent.
    ParentMessage,
    User,
    PartnerRequest,
    Attachment,
}

/// Reading or writing a channel's messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessRefused {
    /// Private, and the caller is not in it (or unknown, or deleted).
    NotFound,
    /// Public, but the caller has not joined.
    NotMember,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddRefused {
    NotFound,
    NotMember,
    /// Only group channels take new members.
    FixedMembers(ChannelKind),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JoinRefused {
    AlreadyMember,
    Private,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaveRefused {
    NotFound,
    NotMember,
}

/// Changing a channel's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SettingsRefused {
    NotFound,
    NotMember,
    /// Only the owner and admins change settings.
    NotManager,
    /// A direct channel has none.
    FixedSettings(ChannelKind),
    /// A setting the channel's kind does not have.
    Invalid(Invalid),
}

/// Changing a member's role, removing a member, handing over ownership.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoleRefused {
    NotFound,
    NotMember,
    OwnerOnly,
    /// The owner and admins only.
    ManagersOnly,
    /// Only groups have members to manage.
    FixedMembers(ChannelKind),
    /// The user named is not a member of the channel.
    NoSuchMember,
    /// The owner is never removed (and changes role only by handing the channel over).
    TargetIsOwner,
    /// An admin removes members, not other admins.
    AdminOverAdmin,
    /// The caller named itself (leave, or keep the role).
    Yourself,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelDeleteRefused {
    NotFound,
    NotOwner,
}

/// Replying to a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParentRefused {
    Deleted,
    /// Threads are one level deep: replies go to the thread's first message.
    IsReply,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EditRefused {
    Deleted,
    NotSender,
}

/// Stopping a streamed reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopRefused {
    /// Not an assistant reply, or one that is no longer streaming.
    NotStreaming,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageDeleteRefused {
    Deleted,
    /// Neither the sender nor the channel's owner or an admin.
    NotAllowed,
}

/// Accepting, rejecting or cancelling a partner request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnswerRefused {
    /// The sender tried to accept or reject.
    RecipientOnly(Decision),
    /// The recipient tried to cancel.
    SenderOnly,
    /// The caller is not a party to it.
    NotFound,
    AlreadyAnswered(RequestStatus),
}
