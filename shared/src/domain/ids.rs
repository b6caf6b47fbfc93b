use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A user id: a UUIDv7 in canonical form, or the built-in assistant's fixed id.
/// Anything else cannot name a user, so parsing fails (and routes answer 404).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserId(String);

impl UserId {
    pub const ASSISTANT: &'static str = "assistant";

    pub fn generate() -> Self {
        Self(Uuid::now_v7().to_string())
    }

    pub fn parse(raw: &str) -> Option<Self> {
        if raw == Self::ASSISTANT {
            return Some(Self(raw.to_string()));
        }
        canonical_uuid(raw).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An API Gateway WebSocket connection id (`L0SM9cOFvHcCIhw=` on AWS). Opaque, but bounded
/// and printable, because it becomes part of a key and of a management API path.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ConnectionId(String);

impl ConnectionId {
    const MAX_LEN: usize = 128;

    pub fn parse(raw: &str) -> Option<Self> {
        let printable = raw.bytes().all(|b| b.is_ascii_graphic());
        (!raw.is_empty() && raw.len() <= Self::MAX_LEN && printable && !raw.contains('#'))
            .then(|| Self(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An id that is a UUIDv7 (ids sort by creation time), parsed only from its canonical form.
macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn generate() -> Self {
                Self(Uuid::now_v7().to_string())
            }

            /// Anything but a canonical UUID names nothing, so parsing fails (and routes 404).
            pub fn parse(raw: &str) -> Option<Self> {
                canonical_uuid(raw).map(Self)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

uuid_id!(
    /// A partner request id.
    RequestId
);
uuid_id!(
    /// A channel id.
    ChannelId
);
uuid_id!(
    /// A message id: sorting message ids sorts messages by time.
    MessageId
);
uuid_id!(
    /// A report of a message.
    ReportId
);
uuid_id!(
    /// An uploaded file.
    AttachmentId
);
uuid_id!(
    /// A token's `jti`: one per issued token, so one token can be revoked alone.
    TokenId
);

/// Only the canonical lowercase hyphenated form is accepted, so one id has one spelling
/// (and one key in the table).
fn canonical_uuid(raw: &str) -> Option<String> {
    let parsed = Uuid::try_parse(raw).ok()?;
    let canonical = parsed.hyphenated().to_string();
    (canonical == raw).then_some(canonical)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_parse_and_sort_by_time() {
        let first = UserId::generate();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let second = UserId::generate();
        assert!(first < second);
        assert_eq!(UserId::parse(first.as_str()), Some(first));
    }

    #[test]
    fn rejects_anything_that_is_not_a_canonical_id() {
        for raw in [
            "",
            "abc",
            "USER#1",
            "0190F1B2-3C4D-7E5F-8A9B-0C1D2E3F4A5B",
            "0190f1b23c4d7e5f8a9b0c1d2e3f4a5b",
            "0190f1b2-3c4d-7e5f-8a9b-0c1d2e3f4a5b#x",
        ] {
            assert_eq!(UserId::parse(raw), None, "{raw}");
            assert_eq!(RequestId::parse(raw), None, "{raw}");
        }
        assert!(UserId::parse("assistant").is_some());
        assert!(RequestId::parse("assistant").is_none());
    }

    #[test]
    fn connection_ids_are_bounded_printable_and_key_safe() {
        assert!(ConnectionId::parse("L0SM9cOFvHcCIhw=").is_some());
        let too_long = "a".repeat(129);
        for raw in ["", "a b", "a#b", "tab\t", too_long.as_str()] {
            assert_eq!(ConnectionId::parse(raw), None, "{raw:?}");
        }
    }
}
