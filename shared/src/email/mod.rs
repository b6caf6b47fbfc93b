//! Notification emails: the message for each email event, rendered from the templates kept
//! beside this file (text and HTML), and the SES adapter that sends them.

mod ses;

pub use ses::{Mailer, SendError};

use crate::domain::{digest_summary, Counterpart};
use crate::queue::{Notice, NotificationEvent};

/// A rendered email to one user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email {
    pub subject: String,
    pub text: String,
    pub html: String,
}

const CREATED_TEXT: &str = include_str!("templates/partner_request_created.txt");
const CREATED_HTML: &str = include_str!("templates/partner_request_created.html");
const ACCEPTED_TEXT: &str = include_str!("templates/partner_request_accepted.txt");
const ACCEPTED_HTML: &str = include_str!("templates/partner_request_accepted.html");
const REPORTED_TEXT: &str = include_str!("templates/message_reported.txt");
const REPORTED_HTML: &str = include_str!("templates/message_reported.html");
const VERIFICATION_TEXT: &str = include_str!("templates/email_verification.txt");
const VERIFICATION_HTML: &str = include_str!("templates/email_verification.html");
const DIGEST_TEXT: &str = include_str!("templates/digest.txt");
const DIGEST_HTML: &str = include_str!("templates/digest.html");

/// Who an email goes to.
#[derive(Debug, PartialEq, Eq)]
pub enum Addressee<'a> {
    /// A user who takes notification emails (a verified address, notifications on), at the
    /// address their account has when the email is sent.
    Subscriber(&'a Counterpart),
    /// A user at their account's address, verified or not (the verification code itself).
    Account(&'a Counterpart),
    /// The operators (`MODERATION_EMAIL`).
    Moderators,
}

impl Email {
    /// Who the email of an event goes to: the recipient of a new request, the sender of an
    /// accepted one (if they take notifications), the account of a code, the operators for a
    /// report.
    pub fn addressee(event: &NotificationEvent) -> Addressee<'_> {
        match &event.notice {
            Notice::PartnerRequestCreated { recipient, .. } => Addressee::Subscriber(recipient),
            Notice::PartnerRequestAccepted { sender, .. } => Addressee::Subscriber(sender),
            Notice::EmailVerification { user, .. } => Addressee::Account(user),
            Notice::Digest { user, .. } => Addressee::Subscriber(user),
            Notice::MessageReported { .. } => Addressee::Moderators,
        }
    }

    /// The email for an event; names are the ones carried by the event (as they were when
    /// it happened). Every value filled in is escaped in the HTML part.
    pub fn for_event(event: &NotificationEvent) -> Self {
        let (subject, text, html, values): (String, &str, &str, Vec<(&str, String)>) =
            match &event.notice {
                Notice::PartnerRequestCreated {
                    sender, recipient, ..
                } => (
                    format!("New partner request from {}", sender.name.as_str()),
                    CREATED_TEXT,
                    CREATED_HTML,
                    parties(sender, recipient),
                ),
                Notice::PartnerRequestAccepted {
                    sender, recipient, ..
                } => (
                    format!("Partner request accepted by {}", recipient.name.as_str()),
                    ACCEPTED_TEXT,
                    ACCEPTED_HTML,
                    parties(sender, recipient),
                ),
                Notice::EmailVerification { user, code } => (
                    // The code leads the subject, so a notification preview shows it.
                    format!("{} is your Chat verification code", code.as_str()),
                    VERIFICATION_TEXT,
                    VERIFICATION_HTML,
                    vec![
                        ("name", user.name.as_str().to_string()),
                        ("code", code.as_str().to_string()),
                    ],
                ),
                Notice::Digest {
                    user,
                    senders,
                    places,
                    messages,
                } => {
                    let count = match *messages {
                        1 => "1 message".to_string(),
                        n if n as usize >= crate::storage::MAX_DIGEST_MESSAGES => {
                            format!("{n} messages or more")
                        }
                        n => format!("{n} messages"),
                    };
                    let summary = digest_summary(senders, places);
                    (
                        format!("{summary} while you were away"),
                        DIGEST_TEXT,
                        DIGEST_HTML,
                        vec![
                            ("name", user.name.as_str().to_string()),
                            ("summary", summary),
                            ("messages", count),
                        ],
                    )
                }
                Notice::MessageReported {
                    report,
                    reporter,
                    sender,
                    body,
                    hid,
                } => {
                    let reason = serde_json::to_value(report.reason)
                        .ok()
                        .and_then(|reason| reason.as_str().map(str::to_string))
                        .unwrap_or_default();
                    (
                        format!("Report ({reason}) of a message by {}", sender.name.as_str()),
                        REPORTED_TEXT,
                        REPORTED_HTML,
                        vec![
                            ("reason", reason),
                            ("channel_id", report.channel_id.to_string()),
                            ("message_id", report.message_id.to_string()),
                            ("sender", sender.name.as_str().to_string()),
                            ("sender_id", sender.id.to_string()),
                            ("reporter", reporter.name.as_str().to_string()),
                            ("reporter_id", reporter.id.to_string()),
                            (
                                "note",
                                report.note.clone().unwrap_or_else(|| "(none)".into()),
                            ),
                            ("hid", if *hid { "yes" } else { "no" }.into()),
                            ("body", body.as_str().to_string()),
                        ],
                    )
                }
            };
        Self {
            subject,
            text: fill(text, &values, str::to_string),
            html: fill(html, &values, escape_html),
        }
    }
}

/// The template with each `{{key}}` replaced by its escaped value, in one pass: a value is
/// never read as a template (a message body saying `{{note}}` stays as it is).
fn fill(template: &str, values: &[(&str, String)], escape: fn(&str) -> String) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        match values.iter().find(|(key, _)| *key == &after[..end]) {
            Some((_, value)) => out.push_str(&escape(value)),
            None => out.push_str(&rest[start..start + end + 4]),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

fn parties(sender: &Counterpart, recipient: &Counterpart) -> Vec<(&'static str, String)> {
    vec![
        ("sender", sender.name.as_str().to_string()),
        ("recipient", recipient.name.as_str().to_string()),
    ]
}

/// User names are free text: in HTML they must not become markup.
fn escape_html(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Timestamp, UserId, UserName};
    use crate::queue::NotificationKind;

    fn event(kind: NotificationKind) -> NotificationEvent {
        let party = |name: &str| Counterpart {
            id: UserId::generate(),
            name: UserName::parse(name).unwrap(),
        };
        let request = crate::domain::PartnerRequest::new(
            party("Ada <script>"),
            party("Bob"),
            None,
            Timestamp::now(),
        )
        .unwrap();
        NotificationEvent::for_request(kind, &request)
    }

    #[test]
    fn a_new_request_mails_the_recipient_naming_the_sender() {
        let event = event(NotificationKind::PartnerRequestCreated);
        assert!(
            matches!(Email::addressee(&event), Addressee::Subscriber(bob) if bob.name.as_str() == "Bob")
        );
        let email = Email::for_event(&event);
        assert_eq!(email.subject, "New partner request from Ada <script>");
        assert!(email.text.contains("Hello Bob,"));
        assert!(email.text.contains("Ada <script> would like"));
        assert!(email.html.contains("<strong>Ada &lt;script&gt;</strong>"));
        assert!(!email.html.contains("<script>"));
    }

    #[test]
    fn an_acceptance_mails_the_sender_naming_the_recipient() {
        let event = event(NotificationKind::PartnerRequestAccepted);
        assert!(
            matches!(Email::addressee(&event), Addressee::Subscriber(ada) if ada.name.as_str() == "Ada <script>")
        );
        let email = Email::for_event(&event);
        assert_eq!(email.subject, "Partner request accepted by Bob");
        assert!(email.text.contains("Bob accepted your partner request"));
        assert!(!email.text.contains("{{"));
    }

    #[test]
    fn a_code_goes_to_the_account_whether_verified_or_not() {
        let user = Counterpart {
            id: UserId::generate(),
            name: UserName::parse("Ada & co").unwrap(),
        };
        let notice = crate::storage::CodeNotice {
            user,
            code: crate::domain::VerificationCode::parse("042917").unwrap(),
            issued_at: Timestamp::now(),
        };
        let event = NotificationEvent::for_code(&notice);
        assert!(matches!(Email::addressee(&event), Addressee::Account(_)));
        let email = Email::for_event(&event);
        assert_eq!(email.subject, "042917 is your Chat verification code");
        assert!(email.text.contains("Hello Ada & co,"));
        assert!(email.text.contains("    042917\n"));
        assert!(email.html.contains("Ada &amp; co"));
        let again = NotificationEvent::for_code(&notice);
        assert_eq!(
            again.event_id, event.event_id,
            "a redelivery is the same event"
        );
    }

    #[test]
    fn a_report_mails_the_moderators_with_the_message_escaped() {
        use crate::domain::{ChannelId, MessageBody, MessageId, Report, ReportId, ReportReason};
        let party = |name: &str| Counterpart {
            id: UserId::generate(),
            name: UserName::parse(name).unwrap(),
        };
        let (reporter, sender) = (party("Bob"), party("Mallory"));
        let event = NotificationEvent {
            event_id: "report:x".into(),
            occurred_at: Timestamp::now(),
            notice: Notice::MessageReported {
                report: Report {
                    id: ReportId::generate(),
                    channel_id: ChannelId::generate(),
                    message_id: MessageId::generate(),
                    reporter_id: reporter.id.clone(),
                    reason: ReportReason::Harassment,
                    note: None,
                    created_at: Timestamp::now(),
                },
                reporter,
                sender,
                body: MessageBody::parse("<b>you</b> {{note}}").unwrap(),
                hid: true,
            },
        };
        assert_eq!(Email::addressee(&event), Addressee::Moderators);
        let email = Email::for_event(&event);
        assert_eq!(email.subject, "Report (harassment) of a message by Mallory");
        assert!(email.text.contains("Note: (none)"));
        assert!(email.text.contains("Hidden by this report: yes"));
        assert!(email.html.contains("&lt;b&gt;you&lt;/b&gt; {{note}}"));
        assert!(
            email.text.contains("<b>you</b> {{note}}"),
            "a value is never a template"
        );
        assert!(!email.text.contains("{{reason}}"));
    }
}
