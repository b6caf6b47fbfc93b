//! Notification emails: the message for each email event, rendered from the templates kept
//! beside this file (text and HTML), and the SES adapter that sends them.

mod ses;

pub use ses::{Mailer, SendError};

use crate::domain::Counterpart;
use crate::queue::{NotificationEvent, NotificationKind};

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

impl Email {
    /// Who the email of an event goes to: the recipient of a new request, the sender of an
    /// accepted one.
    pub fn addressee(event: &NotificationEvent) -> &Counterpart {
        match event.kind {
            NotificationKind::PartnerRequestCreated => &event.recipient,
            NotificationKind::PartnerRequestAccepted => &event.sender,
        }
    }

    /// The email for an event; names are the ones carried by the event (as they were when
    /// it happened).
    pub fn for_event(event: &NotificationEvent) -> Self {
        let (subject, text, html) = match event.kind {
            NotificationKind::PartnerRequestCreated => (
                format!("New partner request from {}", event.sender.name.as_str()),
                CREATED_TEXT,
                CREATED_HTML,
            ),
            NotificationKind::PartnerRequestAccepted => (
                format!(
                    "Partner request accepted by {}",
                    event.recipient.name.as_str()
                ),
                ACCEPTED_TEXT,
                ACCEPTED_HTML,
            ),
        };
        let (sender, recipient) = (event.sender.name.as_str(), event.recipient.name.as_str());
        let fill = |template: &str, escape: fn(&str) -> String| {
            template
                .replace("{{sender}}", &escape(sender))
                .replace("{{recipient}}", &escape(recipient))
        };
        Self {
            subject,
            text: fill(text, str::to_string),
            html: fill(html, escape_html),
        }
    }
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
    use crate::domain::{RequestId, Timestamp, UserId, UserName};

    fn event(kind: NotificationKind) -> NotificationEvent {
        let party = |name: &str| Counterpart {
            id: UserId::generate(),
            name: UserName::parse(name).unwrap(),
        };
        NotificationEvent {
            event_id: "partner_request:x:created".into(),
            kind,
            request_id: RequestId::generate(),
            sender: party("Ada <script>"),
            recipient: party("Bob"),
            occurred_at: Timestamp::now(),
        }
    }

    #[test]
    fn a_new_request_mails_the_recipient_naming_the_sender() {
        let event = event(NotificationKind::PartnerRequestCreated);
        assert_eq!(Email::addressee(&event).name.as_str(), "Bob");
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
        assert_eq!(Email::addressee(&event).name.as_str(), "Ada <script>");
        let email = Email::for_event(&event);
        assert_eq!(email.subject, "Partner request accepted by Bob");
        assert!(email.text.contains("Bob accepted your partner request"));
        assert!(!email.text.contains("{{"));
    }
}
