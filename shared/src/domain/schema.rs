//! How the domain's values appear in the OpenAPI document. Each newtype's JSON Schema states
//! the rule its `parse` enforces (trimmed lengths, no control characters), so the generated
//! document, its readers and schemathesis know the rules the code applies.

use std::borrow::Cow;

use serde_json::json;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::RefOr;

/// The characters `str::trim` removes, as the body of a regex character class.
const SPACE: &str = r"\t\n\x0B\x0C\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";
/// Control characters (`char::is_control`), as the body of a character class.
const CONTROL: &str = r"\x00-\x1F\x7F-\x9F";

/// Control characters but the tab and the line feed (free text keeps its lines).
const CONTROL_BUT_LINES: &str = r"\x00-\x08\x0B-\x1F\x7F-\x9F";

/// 1 to `max` characters once surrounding whitespace is trimmed, none of them a control
/// character: names of users and channels.
pub fn trimmed_name_pattern(max: usize) -> String {
    name_pattern_without(max, CONTROL)
}

/// As [`trimmed_name_pattern`], with no path separator either: file names.
pub fn file_name_pattern(max: usize) -> String {
    name_pattern_without(max, &format!("{CONTROL}/\\\\"))
}

fn name_pattern_without(max: usize, refused: &str) -> String {
    let inner = max - 2;
    format!(
        "^[{SPACE}]*[^{refused}{SPACE}](?:[^{refused}]{{0,{inner}}}[^{refused}{SPACE}])?[{SPACE}]*$"
    )
}

/// At most `max` characters once trimmed; blank allowed (optional free text).
pub fn trimmed_text_pattern(max: usize) -> String {
    let inner = max - 2;
    format!("^[{SPACE}]*(?:[^{SPACE}](?:[\\s\\S]{{0,{inner}}}[^{SPACE}])?)?[{SPACE}]*$")
}

/// As [`trimmed_text_pattern`], with no control character once trimmed but tabs and line
/// breaks: descriptions.
pub fn trimmed_lines_pattern(max: usize) -> String {
    let inner = max - 2;
    let refused = CONTROL_BUT_LINES;
    format!(
        "^[{SPACE}]*(?:[^{refused}{SPACE}](?:[^{refused}]{{0,{inner}}}[^{refused}{SPACE}])?)?[{SPACE}]*$"
    )
}

/// Not only whitespace.
pub fn not_blank_pattern() -> String {
    format!("[^{SPACE}]")
}

pub fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

/// An optional free text of at most `max` characters after trimming: a string or null, blank
/// or null meaning none.
pub fn optional_text_input(max: usize) -> utoipa::openapi::schema::Object {
    string()
        .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
            Type::String,
            Type::Null,
        ]))
        .pattern(Some(trimmed_text_pattern(max)))
        .description(Some(format!(
            "At most {max} characters after trimming surrounding whitespace; blank or null means none"
        )))
        .build()
}

/// A display name as typed in a request: the pattern of [`trimmed_name_pattern`].
pub fn name_input(max: usize, what: &str) -> ObjectBuilder {
    string()
        .pattern(Some(trimmed_name_pattern(max)))
        .description(Some(format!(
        "{what}: 1–{max} characters after trimming surrounding whitespace, no control characters"
    )))
}

/// Implements `ToSchema` for a type from a builder expression, under a component name.
macro_rules! schema {
    ($ty:ty, $name:literal, $schema:expr) => {
        impl utoipa::PartialSchema for $ty {
            fn schema() -> RefOr<Schema> {
                $schema.into()
            }
        }
        impl utoipa::ToSchema for $ty {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed($name)
            }
        }
    };
}

use super::{
    AttachmentId, ChannelId, ChannelName, ClientId, Email, Emoji, MessageBody, MessageId, ReportId,
    RequestId, RequestMessage, Timestamp, UserId, UserName,
};

fn id() -> ObjectBuilder {
    string().description(Some("Opaque id (UUIDv7: ids sort by creation time)"))
}

// Every id is one component: clients treat them all as opaque strings.
schema!(UserId, "Id", id());
schema!(ChannelId, "Id", id());
schema!(MessageId, "Id", id());
schema!(RequestId, "Id", id());
schema!(ReportId, "Id", id());
schema!(AttachmentId, "Id", id());

schema!(
    Timestamp,
    "Timestamp",
    string()
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
        .description(Some("RFC 3339 UTC with milliseconds"))
        .examples([json!("2026-11-21T10:00:00.123Z")])
);
schema!(
    Email,
    "Email",
    string()
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Email)))
        .max_length(Some(254))
);
schema!(
    UserName,
    "UserName",
    string()
        .min_length(Some(1))
        .max_length(Some(UserName::MAX_CHARS))
);
schema!(
    ChannelName,
    "ChannelName",
    string()
        .min_length(Some(1))
        .max_length(Some(ChannelName::MAX_CHARS))
);
schema!(
    MessageBody,
    "MessageBody",
    string()
        .max_length(Some(MessageBody::MAX_CHARS))
        .description(Some("Empty only when the message carries attachments"))
);
schema!(
    ClientId,
    "ClientId",
    string().pattern(Some(r"^[!-~]{1,64}$")).description(Some(
        "The sender's own id of a send (1–64 visible ASCII characters)"
    ))
);
schema!(
    Emoji,
    "Emoji",
    string().min_length(Some(1)).max_length(Some(32))
);
schema!(
    RequestMessage,
    "RequestMessage",
    string()
        .min_length(Some(1))
        .max_length(Some(RequestMessage::MAX_CHARS))
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_patterns_allow_at_most_the_limit_after_trimming() {
        assert_eq!(
            trimmed_name_pattern(50),
            concat!(
                r"^[\t\n\x0B\x0C\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*",
                r"[^\x00-\x1F\x7F-\x9F\t\n\x0B\x0C\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]",
                r"(?:[^\x00-\x1F\x7F-\x9F]{0,48}",
                r"[^\x00-\x1F\x7F-\x9F\t\n\x0B\x0C\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000])?",
                r"[\t\n\x0B\x0C\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$"
            )
        );
    }

    #[test]
    fn file_names_refuse_separators_and_descriptions_keep_their_lines() {
        assert!(file_name_pattern(255).contains(r"[^\x00-\x1F\x7F-\x9F/\\"));
        let lines = trimmed_lines_pattern(500);
        assert!(
            lines.contains(r"[^\x00-\x08\x0B-\x1F\x7F-\x9F]{0,498}"),
            "{lines}"
        );
    }
}
