//! Who pushes a change's event to the WebSocket connections of its audience.

use serde::{Deserialize, Serialize};

/// The request that made a change pushes the events of small channels itself, before it
/// answers: a two-person chat must not wait for a stream hop. The event router pushes
/// everything else (big channels, presence, memberships, partner requests), split into chunks
/// handled in parallel, so the sender of a message to thousands never waits for them. The
/// choice is written on the changed item, so the router knows which events it owns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pusher {
    Request,
    /// Also what an item written before the choice existed means.
    #[default]
    Router,
}

impl Pusher {
    /// `Request` for channels of at most `inline_max_members` members.
    pub fn for_channel(member_count: u32, inline_max_members: u32) -> Self {
        if member_count <= inline_max_members {
            Self::Request
        } else {
            Self::Router
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_channels_are_pushed_by_the_request_and_big_ones_by_the_router() {
        assert_eq!(Pusher::for_channel(2, 50), Pusher::Request);
        assert_eq!(Pusher::for_channel(50, 50), Pusher::Request);
        assert_eq!(Pusher::for_channel(51, 50), Pusher::Router);
        assert_eq!(Pusher::for_channel(2, 0), Pusher::Router);
    }
}
