//! The offline digest: someone who is not connected and receives a direct message or a
//! mention gets one email naming the senders and channels, at most one per interval.

use std::collections::BTreeSet;

use super::{ChannelKind, ChannelName, UserId};

/// When digests go out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DigestPolicy {
    /// `DIGEST_INTERVAL_SECONDS` (900): at most one digest per user this often.
    pub interval_seconds: u32,
    /// `DIGEST_DELAY_SECONDS` (60): how long the first message waits, so that a burst makes
    /// one email and someone who comes back at once gets none.
    pub delay_seconds: u32,
}

impl Default for DigestPolicy {
    fn default() -> Self {
        Self {
            interval_seconds: 15 * 60,
            delay_seconds: 60,
        }
    }
}

impl DigestPolicy {
    /// When a digest started at `now` goes out (epoch seconds): after the delay, and not
    /// before an interval has passed since the last one went (`last_sent_at`, 0: never).
    pub fn due_at(&self, now: i64, last_sent_at: i64) -> i64 {
        let after_delay = now + i64::from(self.delay_seconds);
        if last_sent_at > 0 {
            after_delay.max(last_sent_at + i64::from(self.interval_seconds))
        } else {
            after_delay
        }
    }
}

/// What one recipient's digest says of a message: who wrote and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DigestEntry {
    pub sender: String,
    pub place: String,
}

impl DigestEntry {
    /// A direct message, or a mention in a channel (by its name).
    pub fn of(sender: &str, kind: ChannelKind, channel: &ChannelName) -> Self {
        let place = match kind {
            ChannelKind::Direct => "a direct message".to_string(),
            _ => format!("#{}", channel.as_str()),
        };
        Self {
            sender: sender.to_string(),
            place,
        }
    }
}

/// Who of a message's readers the digest is for: the other member of a direct channel and
/// the users it mentions, never its sender; the channel's kind says which apply (the
/// assistant's channel mails nobody).
pub fn digest_candidates(
    kind: ChannelKind,
    sender: &UserId,
    members: &[UserId],
    mentions: &[UserId],
) -> BTreeSet<UserId> {
    let direct: &[UserId] = match kind {
        ChannelKind::Direct => members,
        ChannelKind::Group | ChannelKind::Assistant => &[],
    };
    direct
        .iter()
        .chain(mentions)
        .filter(|user| *user != sender && user.as_str() != UserId::ASSISTANT)
        .cloned()
        .collect()
}

/// A recipient as the digest sees it when a message arrives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DigestReader {
    pub online: bool,
    /// A verified address, notification emails on.
    pub takes_emails: bool,
    pub muted: bool,
    /// The reader blocked the sender.
    pub blocked_sender: bool,
}

impl DigestReader {
    pub fn wants_digest(&self) -> bool {
        !self.online && self.takes_emails && !self.muted && !self.blocked_sender
    }
}

/// The one line an email gives a digest: "Ada and Bob wrote in a direct message and #launch".
pub fn digest_summary(senders: &BTreeSet<String>, places: &BTreeSet<String>) -> String {
    format!("{} wrote in {}", listed(senders), listed(places))
}

/// "A", "A and B", "A, B and C", "A, B, C and 2 others".
fn listed(names: &BTreeSet<String>) -> String {
    const SHOWN: usize = 3;
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    match names.as_slice() {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] if names.len() <= SHOWN => format!("{} and {last}", init.join(", ")),
        _ => {
            let others = names.len() - SHOWN;
            let plural = if others == 1 { "other" } else { "others" };
            format!("{} and {others} {plural}", names[..SHOWN].join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_digest_waits_its_delay_and_the_interval_since_the_last() {
        let policy = DigestPolicy::default();
        assert_eq!(policy.due_at(1_000, 0), 1_060);
        assert_eq!(
            policy.due_at(1_000, 500),
            1_400,
            "15 min after the last one"
        );
        assert_eq!(policy.due_at(10_000, 500), 10_060);
    }

    #[test]
    fn direct_messages_and_mentions_make_candidates_never_the_sender() {
        let (ada, bob, cy) = (UserId::generate(), UserId::generate(), UserId::generate());
        let members = [ada.clone(), bob.clone()];
        assert_eq!(
            digest_candidates(ChannelKind::Direct, &ada, &members, &[]),
            BTreeSet::from([bob.clone()])
        );
        assert_eq!(
            digest_candidates(
                ChannelKind::Group,
                &ada,
                &members,
                &[ada.clone(), cy.clone()]
            ),
            BTreeSet::from([cy])
        );
        assert!(digest_candidates(ChannelKind::Assistant, &ada, &members, &[]).is_empty());
    }

    #[test]
    fn only_an_offline_reader_who_takes_emails_and_did_not_mute_gets_one() {
        let reader = DigestReader {
            online: false,
            takes_emails: true,
            muted: false,
            blocked_sender: false,
        };
        assert!(reader.wants_digest());
        for other in [
            DigestReader {
                online: true,
                ..reader
            },
            DigestReader {
                takes_emails: false,
                ..reader
            },
            DigestReader {
                muted: true,
                ..reader
            },
            DigestReader {
                blocked_sender: true,
                ..reader
            },
        ] {
            assert!(!other.wants_digest(), "{other:?}");
        }
    }

    #[test]
    fn summaries_name_senders_and_places() {
        let set = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<BTreeSet<_>>();
        assert_eq!(
            digest_summary(&set(&["Ada"]), &set(&["a direct message"])),
            "Ada wrote in a direct message"
        );
        assert_eq!(
            digest_summary(
                &set(&["Ada", "Bob", "Cy", "Dan", "Eve"]),
                &set(&["#launch", "#ops"])
            ),
            "Ada, Bob, Cy and 2 others wrote in #launch and #ops"
        );
    }
}
