//! Domain events: every change the contract says is pushed, as a typed event with the JSON
//! shape clients receive (`{"type": "...", ...}`), and who receives it (`audience`, a pure
//! rule).

use serde::{Deserialize, Serialize};

use std::collections::BTreeMap;

use super::{
    Attachment, ChannelId, ChannelView, Emoji, Member, Message, MessageId, PartnerRequest,
    Partnership, ReadMarker, Timestamp, UserId,
};

/// A pushed event: `{"type": "...", "channel_id": ..., ...}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum DomainEvent {
    /// To the members a channel is created with.
    #[serde(rename = "channel.created")]
    ChannelCreated { channel: ChannelView },
    /// Its name, description, privacy or slow mode changed.
    #[serde(rename = "channel.updated")]
    ChannelUpdated { channel: ChannelView },
    #[serde(rename = "channel.deleted")]
    ChannelDeleted { channel_id: ChannelId },
    /// A member's role changed (a role change, a transfer, a hand-over).
    #[serde(rename = "member.updated")]
    MemberUpdated {
        channel_id: ChannelId,
        member: Member,
    },
    /// Removed by the owner or an admin; the removed member's devices hear it too.
    #[serde(rename = "member.removed")]
    MemberRemoved {
        channel_id: ChannelId,
        user_id: UserId,
    },
    /// An upload was checked: to its uploader's devices, and once it is on a message, to the
    /// channel's members.
    #[serde(rename = "attachment.updated")]
    AttachmentUpdated {
        channel_id: ChannelId,
        attachment: Attachment,
    },
    #[serde(rename = "member.joined")]
    MemberJoined {
        channel_id: ChannelId,
        member: Member,
    },
    #[serde(rename = "member.left")]
    MemberLeft {
        channel_id: ChannelId,
        user_id: UserId,
    },
    #[serde(rename = "message.created")]
    MessageCreated {
        channel_id: ChannelId,
        message: Message,
    },
    #[serde(rename = "message.updated")]
    MessageUpdated {
        channel_id: ChannelId,
        message: Message,
    },
    /// The next piece of a streaming assistant reply (`seq` from 0, no gaps); never stored
    /// as such: the reply's stored body catches up with the deltas every second.
    #[serde(rename = "message.delta")]
    MessageDelta {
        channel_id: ChannelId,
        message_id: MessageId,
        seq: u64,
        delta: String,
    },
    #[serde(rename = "message.deleted")]
    MessageDeleted {
        channel_id: ChannelId,
        message_id: MessageId,
    },
    #[serde(rename = "reaction.updated")]
    ReactionUpdated {
        channel_id: ChannelId,
        message_id: MessageId,
        reactions: BTreeMap<Emoji, Vec<UserId>>,
    },
    /// The marker carries its `channel_id`.
    #[serde(rename = "read_receipt")]
    ReadReceipt {
        #[serde(flatten)]
        marker: ReadMarker,
    },
    /// Never stored; goes to the other members only.
    #[serde(rename = "typing")]
    Typing {
        channel_id: ChannelId,
        user_id: UserId,
        is_typing: bool,
    },
    /// A user came online (first connection) or went offline (last one closed).
    #[serde(rename = "presence")]
    Presence {
        user_id: UserId,
        online: bool,
        last_seen: Option<Timestamp>,
    },
    #[serde(rename = "partner_request.received")]
    PartnerRequestReceived { request: PartnerRequest },
    #[serde(rename = "partner_request.accepted")]
    PartnerRequestAccepted {
        request: PartnerRequest,
        partnership: Partnership,
    },
    #[serde(rename = "partner_request.rejected")]
    PartnerRequestRejected { request: PartnerRequest },
}

/// Who receives an event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Audience {
    /// Every member of the channel but `except`, plus `also` (a user who just left it).
    Channel {
        channel_id: ChannelId,
        except: Option<UserId>,
        also: Option<UserId>,
    },
    /// These users.
    Users(Vec<UserId>),
    /// The user's partners and channel co-members.
    ContactsOf(UserId),
}

impl Audience {
    fn channel(channel_id: &ChannelId) -> Self {
        Self::Channel {
            channel_id: channel_id.clone(),
            except: None,
            also: None,
        }
    }

    /// The members, and `user`, who just left or was removed.
    fn channel_and(channel_id: &ChannelId, user: &UserId) -> Self {
        Self::Channel {
            channel_id: channel_id.clone(),
            except: None,
            also: Some(user.clone()),
        }
    }
}

impl DomainEvent {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::ChannelCreated { .. } => "channel.created",
            Self::AttachmentUpdated { .. } => "attachment.updated",
            Self::ChannelUpdated { .. } => "channel.updated",
            Self::ChannelDeleted { .. } => "channel.deleted",
            Self::MemberUpdated { .. } => "member.updated",
            Self::MemberRemoved { .. } => "member.removed",
            Self::MemberJoined { .. } => "member.joined",
            Self::MemberLeft { .. } => "member.left",
            Self::MessageCreated { .. } => "message.created",
            Self::MessageUpdated { .. } => "message.updated",
            Self::MessageDelta { .. } => "message.delta",
            Self::MessageDeleted { .. } => "message.deleted",
            Self::ReactionUpdated { .. } => "reaction.updated",
            Self::ReadReceipt { .. } => "read_receipt",
            Self::Typing { .. } => "typing",
            Self::Presence { .. } => "presence",
            Self::PartnerRequestReceived { .. } => "partner_request.received",
            Self::PartnerRequestAccepted { .. } => "partner_request.accepted",
            Self::PartnerRequestRejected { .. } => "partner_request.rejected",
        }
    }

    /// When the change happened, where the event carries it.
    pub fn occurred_at(&self) -> Option<Timestamp> {
        match self {
            Self::ChannelCreated { channel } => Some(channel.channel.created_at),
            Self::MemberJoined { member, .. } => Some(member.joined_at),
            Self::MessageCreated { message, .. } => Some(message.created_at),
            Self::MessageUpdated { message, .. } => message.edited_at,
            Self::ReadReceipt { marker } => Some(marker.read_at),
            Self::Presence { last_seen, .. } => *last_seen,
            Self::PartnerRequestReceived { request } => Some(request.created_at),
            Self::PartnerRequestAccepted { request, .. }
            | Self::PartnerRequestRejected { request } => request.responded_at,
            Self::MemberLeft { .. }
            | Self::AttachmentUpdated { .. }
            | Self::ChannelUpdated { .. }
            | Self::ChannelDeleted { .. }
            | Self::MemberUpdated { .. }
            | Self::MemberRemoved { .. }
            | Self::MessageDeleted { .. }
            | Self::MessageDelta { .. }
            | Self::ReactionUpdated { .. }
            | Self::Typing { .. } => None,
        }
    }

    /// The channel an event belongs to, if any.
    pub fn channel_id(&self) -> Option<&ChannelId> {
        match self {
            Self::ChannelCreated { channel } | Self::ChannelUpdated { channel } => {
                Some(&channel.channel.id)
            }
            Self::ChannelDeleted { channel_id }
            | Self::AttachmentUpdated { channel_id, .. }
            | Self::MemberUpdated { channel_id, .. }
            | Self::MemberRemoved { channel_id, .. }
            | Self::MemberJoined { channel_id, .. }
            | Self::MemberLeft { channel_id, .. }
            | Self::MessageCreated { channel_id, .. }
            | Self::MessageUpdated { channel_id, .. }
            | Self::MessageDelta { channel_id, .. }
            | Self::MessageDeleted { channel_id, .. }
            | Self::ReactionUpdated { channel_id, .. }
            | Self::Typing { channel_id, .. } => Some(channel_id),
            Self::ReadReceipt { marker } => Some(&marker.channel_id),
            Self::Presence { .. }
            | Self::PartnerRequestReceived { .. }
            | Self::PartnerRequestAccepted { .. }
            | Self::PartnerRequestRejected { .. } => None,
        }
    }

    /// The contract's recipients: channel events go to every member (so every device of the
    /// actor stays in step too), except typing, which goes to the others; the
    /// leaver hears its own `member.left`; presence goes to partners and co-members; a request
    /// event to the party it concerns.
    /// The user whose doing the event shows (a message's sender, who types, whose presence):
    /// recipients who blocked that user are not sent it.
    pub fn actor(&self) -> Option<&UserId> {
        match self {
            Self::MessageCreated { message, .. } | Self::MessageUpdated { message, .. } => {
                Some(&message.sender.id)
            }
            Self::Typing { user_id, .. } | Self::Presence { user_id, .. } => Some(user_id),
            _ => None,
        }
    }

    pub fn audience(&self) -> Audience {
        match self {
            Self::ChannelCreated { channel } | Self::ChannelUpdated { channel } => {
                Audience::channel(&channel.channel.id)
            }
            Self::MemberRemoved {
                channel_id,
                user_id,
            }
            | Self::MemberLeft {
                channel_id,
                user_id,
            } => Audience::channel_and(channel_id, user_id),
            Self::ChannelDeleted { channel_id } | Self::MemberUpdated { channel_id, .. } => {
                Audience::channel(channel_id)
            }
            Self::AttachmentUpdated {
                channel_id,
                attachment,
            } => match attachment.message_id {
                Some(_) => Audience::channel(channel_id),
                None => Audience::Users(vec![attachment.uploader_id.clone()]),
            },
            Self::MessageCreated { channel_id, .. }
            | Self::MessageUpdated { channel_id, .. }
            | Self::MessageDelta { channel_id, .. }
            | Self::MessageDeleted { channel_id, .. }
            | Self::ReactionUpdated { channel_id, .. }
            | Self::MemberJoined { channel_id, .. } => Audience::channel(channel_id),
            // The reader's own other devices too, so every one clears its badge.
            Self::ReadReceipt { marker } => Audience::channel(&marker.channel_id),
            Self::Typing {
                channel_id,
                user_id,
                ..
            } => Audience::Channel {
                channel_id: channel_id.clone(),
                except: Some(user_id.clone()),
                also: None,
            },
            Self::Presence { user_id, .. } => Audience::ContactsOf(user_id.clone()),
            Self::PartnerRequestReceived { request } => {
                Audience::Users(vec![request.recipient.id.clone()])
            }
            Self::PartnerRequestAccepted { request, .. }
            | Self::PartnerRequestRejected { request } => {
                Audience::Users(vec![request.sender.id.clone()])
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Counterpart, RequestStatus, UserName};

    fn user(n: u8) -> UserId {
        UserId::parse(&format!("0190f1b2-3c4d-7e5f-8a9b-0c1d2e3f4a{n:02x}")).unwrap()
    }

    fn request() -> PartnerRequest {
        let party = |id: UserId, name: &str| Counterpart {
            id,
            name: UserName::parse(name).unwrap(),
        };
        PartnerRequest {
            id: crate::domain::RequestId::generate(),
            sender: party(user(1), "Ada"),
            recipient: party(user(2), "Bob"),
            status: RequestStatus::Pending,
            message: None,
            created_at: Timestamp::now(),
            responded_at: None,
        }
    }

    #[test]
    fn typing_and_read_receipts_skip_their_author_and_the_leaver_hears_its_leave() {
        let channel_id = ChannelId::generate();
        let typing = DomainEvent::Typing {
            channel_id: channel_id.clone(),
            user_id: user(1),
            is_typing: true,
        };
        assert_eq!(
            typing.audience(),
            Audience::Channel {
                channel_id: channel_id.clone(),
                except: Some(user(1)),
                also: None
            }
        );
        let left = DomainEvent::MemberLeft {
            channel_id: channel_id.clone(),
            user_id: user(3),
        };
        assert_eq!(
            left.audience(),
            Audience::Channel {
                channel_id,
                except: None,
                also: Some(user(3))
            }
        );
    }

    #[test]
    fn request_events_go_to_the_party_they_concern() {
        let received = DomainEvent::PartnerRequestReceived { request: request() };
        assert_eq!(received.audience(), Audience::Users(vec![user(2)]));
        let rejected = DomainEvent::PartnerRequestRejected { request: request() };
        assert_eq!(rejected.audience(), Audience::Users(vec![user(1)]));
        let json = serde_json::to_value(&rejected).unwrap();
        assert_eq!(json["type"], "partner_request.rejected");
        assert_eq!(json["request"]["sender"]["name"], "Ada");
    }

    #[test]
    fn the_actor_is_whose_doing_a_blocker_must_not_see() {
        let ada = UserId::generate();
        let typing = DomainEvent::Typing {
            channel_id: ChannelId::generate(),
            user_id: ada.clone(),
            is_typing: true,
        };
        assert_eq!(typing.actor(), Some(&ada));
        let left = DomainEvent::MemberLeft {
            channel_id: ChannelId::generate(),
            user_id: ada,
        };
        assert_eq!(
            left.actor(),
            None,
            "a leave is the channel's news, not the leaver's doing"
        );
    }

    #[test]
    fn presence_goes_to_contacts_in_the_contract_shape() {
        let event = DomainEvent::Presence {
            user_id: user(4),
            online: false,
            last_seen: None,
        };
        assert_eq!(event.audience(), Audience::ContactsOf(user(4)));
        assert_eq!(
            serde_json::to_value(&event).unwrap(),
            serde_json::json!({"type": "presence", "user_id": user(4), "online": false, "last_seen": null})
        );
    }
}
