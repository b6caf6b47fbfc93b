//! Domain events: every change the contract says is pushed is published here, at one point
//! of the service layer, as a typed event with the JSON shape clients receive. The real-time
//! fan-out (WebSocket connections of every recipient) subscribes to these; until it exists
//! they are logged, and tests subscribe to assert them.

use serde::Serialize;
use tokio::sync::broadcast;

use std::collections::BTreeMap;

use crate::domain::{ChannelId, Emoji, Member, Message, MessageId, ReadMarker, UserId};

/// A pushed event: `{"type": "...", "channel_id": ..., ...}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type")]
pub enum DomainEvent {
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
}

impl DomainEvent {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::MemberJoined { .. } => "member.joined",
            Self::MemberLeft { .. } => "member.left",
            Self::MessageCreated { .. } => "message.created",
            Self::MessageUpdated { .. } => "message.updated",
            Self::MessageDeleted { .. } => "message.deleted",
            Self::ReactionUpdated { .. } => "reaction.updated",
            Self::ReadReceipt { .. } => "read_receipt",
        }
    }
}

/// Where services publish events. Cloning shares the bus.
#[derive(Clone)]
pub struct EventBus {
    sender: broadcast::Sender<DomainEvent>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new()
    }
}

impl EventBus {
    pub fn new() -> Self {
        Self {
            sender: broadcast::channel(1024).0,
        }
    }

    /// Publishes a committed change. Never fails the request: an event nobody listens to is
    /// only logged.
    pub fn publish(&self, event: DomainEvent) {
        tracing::info!(event = event.kind(), "domain event");
        let _ = self.sender.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<DomainEvent> {
        self.sender.subscribe()
    }
}
