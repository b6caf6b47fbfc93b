//! Every refusal of the domain and every failure of the store, as the contract's errors. The
//! layers below return values (`domain::*Refused`, `domain::Invalid`, `storage::StoreError`
//! and the store's outcome enums); this is where they get a status and the words a caller
//! reads, and where the answers several services share are worded once.

use crate::domain::{
    AccessRefused, AddRefused, AnswerRefused, ChannelDeleteRefused, Decision, EditRefused, Invalid,
    JoinRefused, LeaveRefused, MessageDeleteRefused, NotFound, ParentRefused, RoleRefused,
    SettingsRefused, StopRefused, UserId,
};
use crate::error::AppError;
use crate::storage::{CursorRejected, StoreError};

/// A token whose account was deleted: every route answers it the same way.
pub fn account_gone() -> AppError {
    AppError::Unauthorized("the account no longer exists")
}

/// A token signed out, or older than a sign-out everywhere or a password change.
pub fn session_ended() -> AppError {
    AppError::Unauthorized("this session has ended; sign in again")
}

pub fn not_partners() -> AppError {
    AppError::not_found("you are not partners")
}

/// Users put into a channel (or a direct channel opened) by someone they are not partners
/// with: consent comes from the partnership. `details.not_partners` lists them.
pub fn consent_missing(others: &[&UserId]) -> AppError {
    let ids: Vec<&str> = others.iter().map(|id| id.as_str()).collect();
    AppError::ForbiddenFor {
        message: "you can only do this with your partners",
        details: [("not_partners".to_string(), ids.join(","))].into(),
    }
}

/// Anything between two users one of whom blocked the other (a send into their direct
/// channel, a partner request): the same words whichever of the two asks.
pub fn blocked_conversation() -> AppError {
    AppError::forbidden("one of you has blocked the other")
}

pub fn already_partners() -> AppError {
    AppError::conflict("you are already partners")
}

pub fn already_member() -> AppError {
    AppError::conflict("already a member")
}

/// A send whose sender left the channel between the check and the write.
pub fn no_longer_a_member() -> AppError {
    AppError::forbidden("you are not a member of this channel")
}

pub fn no_longer_pending() -> AppError {
    AppError::conflict("the partner request is no longer pending")
}

impl From<StoreError> for AppError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable => AppError::Unavailable("the database"),
            StoreError::Cursor(CursorRejected::Invalid) => {
                AppError::BadRequest("cursor is invalid".into())
            }
            StoreError::Cursor(CursorRejected::OtherQuery) => {
                AppError::BadRequest("cursor belongs to a different query".into())
            }
            StoreError::Fault(cause) => AppError::Internal(cause),
        }
    }
}

impl From<Invalid> for AppError {
    fn from(invalid: Invalid) -> Self {
        match invalid {
            Invalid::Fields(fields) => AppError::Validation(fields),
            Invalid::Parameter { name, expected } => {
                AppError::BadRequest(format!("{name} must be {expected}"))
            }
        }
    }
}

impl From<NotFound> for AppError {
    fn from(missing: NotFound) -> Self {
        AppError::not_found(match missing {
            NotFound::Channel => "channel not found",
            NotFound::Message => "message not found",
            NotFound::ParentMessage => "parent message not found",
            NotFound::User => "user not found",
            NotFound::PartnerRequest => "partner request not found",
            NotFound::Attachment => "attachment not found",
        })
    }
}

impl From<AccessRefused> for AppError {
    fn from(refused: AccessRefused) -> Self {
        match refused {
            AccessRefused::NotFound => NotFound::Channel.into(),
            AccessRefused::NotMember => AppError::forbidden("join the channel first"),
        }
    }
}

impl From<AddRefused> for AppError {
    fn from(refused: AddRefused) -> Self {
        match refused {
            AddRefused::NotFound => NotFound::Channel.into(),
            AddRefused::NotMember => AppError::forbidden("only members can add members"),
            AddRefused::FixedMembers(kind) => AppError::BadRequest(format!(
                "members cannot be added to a {} channel",
                kind.as_str()
            )),
        }
    }
}

impl From<JoinRefused> for AppError {
    fn from(refused: JoinRefused) -> Self {
        match refused {
            JoinRefused::AlreadyMember => AppError::conflict("you are already a member"),
            JoinRefused::Private => AppError::forbidden("this channel is private"),
        }
    }
}

impl From<LeaveRefused> for AppError {
    fn from(refused: LeaveRefused) -> Self {
        match refused {
            LeaveRefused::NotFound => NotFound::Channel.into(),
            LeaveRefused::NotMember => AppError::conflict("you are not a member"),
        }
    }
}

impl From<SettingsRefused> for AppError {
    fn from(refused: SettingsRefused) -> Self {
        match refused {
            SettingsRefused::NotFound => NotFound::Channel.into(),
            SettingsRefused::NotMember => AppError::forbidden("join the channel first"),
            SettingsRefused::NotManager => {
                AppError::forbidden("only the owner and admins change a channel's settings")
            }
            SettingsRefused::FixedSettings(kind) => {
                AppError::BadRequest(format!("a {} channel has no settings", kind.as_str()))
            }
            SettingsRefused::Invalid(invalid) => invalid.into(),
        }
    }
}

impl From<RoleRefused> for AppError {
    fn from(refused: RoleRefused) -> Self {
        match refused {
            RoleRefused::NotFound => NotFound::Channel.into(),
            RoleRefused::NotMember => AppError::forbidden("join the channel first"),
            RoleRefused::OwnerOnly => AppError::forbidden("only the channel's owner can do this"),
            RoleRefused::ManagersOnly => {
                AppError::forbidden("only the channel's owner and admins can do this")
            }
            RoleRefused::FixedMembers(kind) => AppError::BadRequest(format!(
                "a {} channel's members have fixed roles",
                kind.as_str()
            )),
            RoleRefused::NoSuchMember => {
                AppError::not_found("that user is not a member of this channel")
            }
            RoleRefused::TargetIsOwner => AppError::forbidden("the owner cannot be removed"),
            RoleRefused::AdminOverAdmin => {
                AppError::forbidden("an admin can remove members, not other admins")
            }
            RoleRefused::Yourself => AppError::BadRequest(
                "name another member (to leave, use POST /channels/{id}/leave)".into(),
            ),
        }
    }
}

/// A managing change whose premises kept moving under it (other managers at work).
pub fn channel_busy() -> AppError {
    AppError::conflict("the channel's members changed meanwhile; try again")
}

impl From<ChannelDeleteRefused> for AppError {
    fn from(refused: ChannelDeleteRefused) -> Self {
        match refused {
            ChannelDeleteRefused::NotFound => NotFound::Channel.into(),
            ChannelDeleteRefused::NotOwner => {
                AppError::forbidden("only the owner can delete a channel")
            }
        }
    }
}

impl From<ParentRefused> for AppError {
    fn from(refused: ParentRefused) -> Self {
        match refused {
            ParentRefused::Deleted => NotFound::ParentMessage.into(),
            ParentRefused::IsReply => {
                AppError::invalid_field("parent_id", "replies go to the thread's first message")
            }
        }
    }
}

impl From<EditRefused> for AppError {
    fn from(refused: EditRefused) -> Self {
        match refused {
            EditRefused::Deleted => NotFound::Message.into(),
            EditRefused::NotSender => AppError::forbidden("only the sender can edit a message"),
        }
    }
}

impl From<StopRefused> for AppError {
    fn from(refused: StopRefused) -> Self {
        match refused {
            StopRefused::NotStreaming => {
                AppError::conflict("only an assistant reply that is still streaming can be stopped")
            }
        }
    }
}

impl From<MessageDeleteRefused> for AppError {
    fn from(refused: MessageDeleteRefused) -> Self {
        match refused {
            MessageDeleteRefused::Deleted => NotFound::Message.into(),
            MessageDeleteRefused::NotAllowed => {
                AppError::forbidden("only the sender, the owner or an admin can delete a message")
            }
        }
    }
}

impl From<AnswerRefused> for AppError {
    fn from(refused: AnswerRefused) -> Self {
        match refused {
            AnswerRefused::RecipientOnly(decision) => {
                let verb = match decision {
                    Decision::Accept => "accept",
                    Decision::Reject => "reject",
                };
                AppError::forbidden(format!("only the recipient can {verb} a partner request"))
            }
            AnswerRefused::SenderOnly => {
                AppError::forbidden("only the sender can cancel a partner request")
            }
            AnswerRefused::NotFound => NotFound::PartnerRequest.into(),
            AnswerRefused::AlreadyAnswered(status) => {
                AppError::conflict(format!("the partner request is already {status}"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_faults_keep_their_cause_for_the_log_only() {
        let err = AppError::from(StoreError::fault("table chat: access denied"));
        assert_eq!(err.status(), 500);
        assert!(err.log_detail().contains("access denied"));
        let body = serde_json::to_string(&err.body()).expect("serializable");
        assert!(!body.contains("access denied"), "{body}");
        assert_eq!(AppError::from(StoreError::Unavailable).status(), 503);
    }

    #[test]
    fn parameters_are_named_in_the_message() {
        let err = AppError::from(Invalid::parameter("order", "asc or desc"));
        assert_eq!(err.status(), 400);
        assert_eq!(err.to_string(), "order must be asc or desc");
    }
}
