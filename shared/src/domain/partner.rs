//! Partner requests and partnerships: who may do what to a request, and in which state.
//! Storage enforces the same rules atomically with conditions; these functions decide the
//! answer a caller gets and are the single source of the messages.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{AnswerRefused, Invalid};
use super::{RequestId, Timestamp, UserId, UserName};

/// A user as named inside a request or partnership: `{id, name}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = UserRef)]
pub struct Counterpart {
    pub id: UserId,
    pub name: UserName,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RequestStatus {
    Pending,
    Accepted,
    Rejected,
    Cancelled,
}

impl RequestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Accepted => "accepted",
            Self::Rejected => "rejected",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "pending" => Some(Self::Pending),
            "accepted" => Some(Self::Accepted),
            "rejected" => Some(Self::Rejected),
            "cancelled" => Some(Self::Cancelled),
            _ => None,
        }
    }
}

impl fmt::Display for RequestStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `?status=` of the request lists: one status (default `pending`) or `all`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusFilter {
    Only(RequestStatus),
    All,
}

impl StatusFilter {
    pub fn parse(raw: Option<&str>) -> Result<Self, Invalid> {
        match raw {
            None => Ok(Self::Only(RequestStatus::Pending)),
            Some("all") => Ok(Self::All),
            Some(other) => RequestStatus::parse(other).map(Self::Only).ok_or_else(|| {
                Invalid::parameter(
                    "status",
                    "one of pending, accepted, rejected, cancelled, all",
                )
            }),
        }
    }
}

/// The optional note sent with a request: trimmed, at most 500 characters; blank means none.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RequestMessage(String);

impl RequestMessage {
    pub const MAX_CHARS: usize = 500;

    pub fn parse(raw: Option<&str>) -> Result<Option<Self>, Invalid> {
        let Some(text) = raw.map(str::trim).filter(|t| !t.is_empty()) else {
            return Ok(None);
        };
        if text.chars().count() > Self::MAX_CHARS {
            return Err(Invalid::field("message", "must be at most 500 characters"));
        }
        Ok(Some(Self(text.to_string())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The two users of a pair, in a fixed order, whatever the direction of the request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PairKey {
    pub low: UserId,
    pub high: UserId,
}

impl PairKey {
    pub fn of(a: &UserId, b: &UserId) -> Self {
        let (low, high) = if a <= b { (a, b) } else { (b, a) };
        Self {
            low: low.clone(),
            high: high.clone(),
        }
    }
}

/// Names are those of the users when the request was sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PartnerRequest {
    pub id: RequestId,
    pub sender: Counterpart,
    pub recipient: Counterpart,
    pub status: RequestStatus,
    pub message: Option<RequestMessage>,
    pub created_at: Timestamp,
    pub responded_at: Option<Timestamp>,
}

/// What a recipient does with a pending request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Accept,
    Reject,
}

impl PartnerRequest {
    /// A new pending request. Sending one to yourself is a validation error, checked before
    /// anything is read.
    /// Anyone but oneself and the assistant can be blocked.
    pub fn ensure_blockable(caller: &UserId, other: &UserId) -> Result<(), Invalid> {
        if caller == other {
            return Err(Invalid::field("user_id", "you cannot block yourself"));
        }
        if other.as_str() == UserId::ASSISTANT {
            return Err(Invalid::field("user_id", "the assistant cannot be blocked"));
        }
        Ok(())
    }

    pub fn ensure_not_self(sender: &UserId, recipient: &UserId) -> Result<(), Invalid> {
        if sender == recipient {
            return Err(Invalid::field(
                "recipient_id",
                "you cannot send a partner request to yourself",
            ));
        }
        Ok(())
    }

    pub fn new(
        sender: Counterpart,
        recipient: Counterpart,
        message: Option<RequestMessage>,
        now: Timestamp,
    ) -> Result<Self, Invalid> {
        Self::ensure_not_self(&sender.id, &recipient.id)?;
        Ok(Self {
            id: RequestId::generate(),
            sender,
            recipient,
            status: RequestStatus::Pending,
            message,
            created_at: now,
            responded_at: None,
        })
    }

    /// The recipient accepts or rejects. The sender gets 403, anyone else 404 (they may not
    /// learn the request exists), and a request that is no longer pending 409.
    pub fn respond(
        &self,
        caller: &UserId,
        decision: Decision,
        now: Timestamp,
    ) -> Result<Self, AnswerRefused> {
        if caller == &self.sender.id {
            return Err(AnswerRefused::RecipientOnly(decision));
        }
        if caller != &self.recipient.id {
            return Err(AnswerRefused::NotFound);
        }
        self.ensure_pending()?;
        let status = match decision {
            Decision::Accept => RequestStatus::Accepted,
            Decision::Reject => RequestStatus::Rejected,
        };
        Ok(self.with_status(status, now))
    }

    /// The sender withdraws a pending request; the recipient gets 403, anyone else 404.
    pub fn cancel(&self, caller: &UserId, now: Timestamp) -> Result<Self, AnswerRefused> {
        if caller == &self.recipient.id {
            return Err(AnswerRefused::SenderOnly);
        }
        if caller != &self.sender.id {
            return Err(AnswerRefused::NotFound);
        }
        self.ensure_pending()?;
        Ok(self.with_status(RequestStatus::Cancelled, now))
    }

    /// A pending request ended because one of the two blocked the other: cancelled.
    pub fn closed_by_block(&self, now: Timestamp) -> Result<Self, AnswerRefused> {
        self.ensure_pending()?;
        Ok(self.with_status(RequestStatus::Cancelled, now))
    }

    fn ensure_pending(&self) -> Result<(), AnswerRefused> {
        if self.status != RequestStatus::Pending {
            return Err(AnswerRefused::AlreadyAnswered(self.status));
        }
        Ok(())
    }

    fn with_status(&self, status: RequestStatus, now: Timestamp) -> Self {
        Self {
            status,
            responded_at: Some(now),
            ..self.clone()
        }
    }
}

/// Two users who accepted each other: `{user_ids, since}`, ids in a fixed order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Partnership {
    pub user_ids: [UserId; 2],
    pub since: Timestamp,
}

impl Partnership {
    pub fn between(a: &UserId, b: &UserId, since: Timestamp) -> Self {
        let pair = PairKey::of(a, b);
        Self {
            user_ids: [pair.low, pair.high],
            since,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(name: &str) -> Counterpart {
        Counterpart {
            id: UserId::generate(),
            name: UserName::parse(name).unwrap(),
        }
    }

    fn pending() -> PartnerRequest {
        PartnerRequest::new(person("Ada"), person("Bob"), None, Timestamp::now()).unwrap()
    }

    #[test]
    fn a_request_to_yourself_is_invalid() {
        let ada = person("Ada");
        let err = PartnerRequest::new(ada.clone(), ada, None, Timestamp::now()).unwrap_err();
        assert!(matches!(err, Invalid::Fields(fields) if fields.contains_key("recipient_id")));
    }

    #[test]
    fn only_the_recipient_responds_and_only_once() {
        let request = pending();
        let now = Timestamp::now();
        let sender = request.sender.id.clone();
        let recipient = request.recipient.id.clone();
        let stranger = UserId::generate();

        assert_eq!(
            request.respond(&sender, Decision::Accept, now),
            Err(AnswerRefused::RecipientOnly(Decision::Accept))
        );
        assert_eq!(
            request.respond(&stranger, Decision::Accept, now),
            Err(AnswerRefused::NotFound)
        );
        let accepted = request.respond(&recipient, Decision::Accept, now).unwrap();
        assert_eq!(accepted.status, RequestStatus::Accepted);
        assert_eq!(accepted.responded_at, Some(now));
        assert_eq!(
            accepted.respond(&recipient, Decision::Reject, now),
            Err(AnswerRefused::AlreadyAnswered(RequestStatus::Accepted))
        );
        // The role check comes first: the sender learns 403 even after the request was answered.
        assert_eq!(
            accepted.respond(&sender, Decision::Reject, now),
            Err(AnswerRefused::RecipientOnly(Decision::Reject))
        );
    }

    #[test]
    fn only_the_sender_cancels_a_pending_request() {
        let request = pending();
        let now = Timestamp::now();
        assert_eq!(
            request.cancel(&request.recipient.id, now),
            Err(AnswerRefused::SenderOnly)
        );
        assert_eq!(
            request.cancel(&UserId::generate(), now),
            Err(AnswerRefused::NotFound)
        );
        let cancelled = request.cancel(&request.sender.id, now).unwrap();
        assert_eq!(cancelled.status, RequestStatus::Cancelled);
        assert_eq!(
            cancelled.cancel(&request.sender.id, now),
            Err(AnswerRefused::AlreadyAnswered(RequestStatus::Cancelled))
        );
    }

    #[test]
    fn pair_keys_ignore_direction() {
        let (a, b) = (UserId::generate(), UserId::generate());
        assert_eq!(PairKey::of(&a, &b), PairKey::of(&b, &a));
    }

    #[test]
    fn status_filter_defaults_to_pending() {
        assert_eq!(
            StatusFilter::parse(None).unwrap(),
            StatusFilter::Only(RequestStatus::Pending)
        );
        assert_eq!(StatusFilter::parse(Some("all")).unwrap(), StatusFilter::All);
        assert!(StatusFilter::parse(Some("open")).is_err());
    }

    #[test]
    fn request_messages_are_optional_and_bounded() {
        assert_eq!(RequestMessage::parse(None).unwrap(), None);
        assert_eq!(RequestMessage::parse(Some("   ")).unwrap(), None);
        assert_eq!(
            RequestMessage::parse(Some(" hi "))
                .unwrap()
                .unwrap()
                .as_str(),
            "hi"
        );
        assert!(RequestMessage::parse(Some(&"x".repeat(501))).is_err());
    }
}
