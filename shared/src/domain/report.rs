//! Reports of messages: why, and the rule that hides a message reported by enough members.

use serde::{Deserialize, Serialize};

use super::{ChannelId, Invalid, MessageId, ReportId, Timestamp, UserId};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReportReason {
    Spam,
    Harassment,
    Inappropriate,
    Other,
}

impl ReportReason {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        Ok(match raw {
            "spam" => Self::Spam,
            "harassment" => Self::Harassment,
            "inappropriate" => Self::Inappropriate,
            "other" => Self::Other,
            _ => {
                return Err(Invalid::field(
                    "reason",
                    "must be spam, harassment, inappropriate or other",
                ))
            }
        })
    }
}

/// A member's report of a message, as `POST …/reports` answers it and moderators list it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Report {
    pub id: ReportId,
    pub channel_id: ChannelId,
    pub message_id: MessageId,
    pub reporter_id: UserId,
    pub reason: ReportReason,
    pub note: Option<String>,
    pub created_at: Timestamp,
}

/// What a reporter asks: a reason and an optional note (at most 500 characters).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewReport {
    pub reason: ReportReason,
    pub note: Option<String>,
}

impl NewReport {
    pub const MAX_NOTE_CHARS: usize = 500;

    pub fn parse(reason: &str, note: Option<&str>) -> Result<Self, Invalid> {
        let reason = ReportReason::parse(reason)?;
        let note = note.map(str::trim).filter(|note| !note.is_empty());
        if note.is_some_and(|note| note.chars().count() > Self::MAX_NOTE_CHARS) {
            return Err(Invalid::field("note", "must be at most 500 characters"));
        }
        Ok(Self {
            reason,
            note: note.map(str::to_string),
        })
    }

    /// A message reported by `reports_to_hide` distinct members is hidden like a deleted one.
    pub fn hides(reports_after: u32, reports_to_hide: u32) -> bool {
        reports_after >= reports_to_hide
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_and_notes() {
        let report = NewReport::parse("spam", Some("  buy now  ")).unwrap();
        assert_eq!(
            (report.reason, report.note.as_deref()),
            (ReportReason::Spam, Some("buy now"))
        );
        assert_eq!(NewReport::parse("other", Some("   ")).unwrap().note, None);
        assert!(NewReport::parse("rude", None).is_err());
        assert!(NewReport::parse("other", Some(&"x".repeat(501))).is_err());
        assert!(NewReport::parse("other", Some(&"é".repeat(500))).is_ok());
    }

    #[test]
    fn the_third_report_hides() {
        assert!(!NewReport::hides(2, 3));
        assert!(NewReport::hides(3, 3));
    }
}
