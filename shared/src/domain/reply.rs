//! Streamed assistant replies: the status of a reply, the pace of its deltas and stored body,
//! what of the history goes into the prompt, and the daily quota. No I/O: the assistant
//! service drives these with the clock and the engine's pieces.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{MessageBody, MessageRole, StopRefused, Timestamp};

/// Where an assistant reply stands; user messages have none.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReplyStatus {
    /// Being written: `message.delta` events carry its text, the stored body follows.
    Streaming,
    Complete,
    /// The language model failed; the body is the rule engine's answer.
    Failed,
    /// A member stopped it; the body is what was written by then.
    Stopped,
}

impl ReplyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Streaming => "streaming",
            Self::Complete => "complete",
            Self::Failed => "failed",
            Self::Stopped => "stopped",
        }
    }

    /// Only a reply still streaming can be stopped.
    pub fn ensure_can_stop(status: Option<Self>) -> Result<(), StopRefused> {
        match status {
            Some(Self::Streaming) => Ok(()),
            _ => Err(StopRefused::NotStreaming),
        }
    }
}

/// At most one `message.delta` per this long.
pub const DELTA_EVERY: Duration = Duration::from_millis(100);
/// The stored body catches up at least this often, so a reconnecting client reads it.
pub const STORE_EVERY: Duration = Duration::from_secs(1);
/// The longest a reply streams; what is written by then is the reply.
pub const REPLY_MAX_DURATION: Duration = Duration::from_secs(60);
/// A reply still `streaming` this long after it was created has no writer left (a worker
/// that crashed): a redelivered job finishes it as `failed`.
pub const ABANDONED_AFTER: Duration = Duration::from_secs(90);

/// One `message.delta`: the text written since the previous one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delta {
    pub seq: u64,
    pub text: String,
}

/// A reply being written: the text so far, how much of it went out as deltas and into the
/// stored body, and when.
#[derive(Debug)]
pub struct ReplyProgress {
    text: String,
    chars: usize,
    pushed: usize,
    stored: usize,
    next_seq: u64,
    last_delta: Option<Instant>,
    last_store: Instant,
    full: bool,
}

impl ReplyProgress {
    pub fn new(started: Instant) -> Self {
        Self {
            text: String::new(),
            chars: 0,
            pushed: 0,
            stored: 0,
            next_seq: 0,
            last_delta: None,
            last_store: started,
            full: false,
        }
    }

    /// Appends a piece of the engine's answer, up to the body's limit; `false` once full
    /// (the rest is cut, as a model's `max_tokens` would).
    pub fn push(&mut self, piece: &str) -> bool {
        for c in piece.chars() {
            if self.chars == MessageBody::MAX_CHARS {
                self.full = true;
                return false;
            }
            self.text.push(c);
            self.chars += 1;
        }
        true
    }

    pub fn is_full(&self) -> bool {
        self.full
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// The text pushed as deltas so far.
    pub fn pushed_text(&self) -> &str {
        &self.text[..self.pushed]
    }

    /// The delta due at `now`: the unpushed text, if the last delta is at least
    /// `DELTA_EVERY` old.
    pub fn due_delta(&mut self, now: Instant) -> Option<Delta> {
        let unpushed = &self.text[self.pushed..];
        let paced = self
            .last_delta
            .is_none_or(|last| now.duration_since(last) >= DELTA_EVERY);
        if unpushed.is_empty() || !paced {
            return None;
        }
        let delta = Delta {
            seq: self.next_seq,
            text: unpushed.to_string(),
        };
        self.next_seq += 1;
        self.pushed = self.text.len();
        self.last_delta = Some(now);
        Some(delta)
    }

    /// When the next delta may go (at once if none went yet).
    pub fn next_delta_at(&self, now: Instant) -> Instant {
        self.last_delta
            .map_or(now, |last| (last + DELTA_EVERY).max(now))
    }

    /// The body to store at `now`, if there is new text and the last store is at least
    /// `STORE_EVERY` old.
    pub fn due_store(&mut self, now: Instant) -> Option<MessageBody> {
        if self.stored == self.text.len() || now.duration_since(self.last_store) < STORE_EVERY {
            return None;
        }
        self.stored = self.text.len();
        self.last_store = now;
        Some(MessageBody::partial(&self.text))
    }
}

/// One turn of the conversation as the prompt gets it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Turn {
    pub role: MessageRole,
    pub text: String,
}

/// The turns the prompt carries: the newest first back from the question (which is always
/// there), as long as their text stays within `budget` characters; returned oldest first.
pub fn prompt_turns(newest_first: Vec<Turn>, budget: usize) -> Vec<Turn> {
    let mut used = 0;
    let mut kept: Vec<Turn> = Vec::new();
    for turn in newest_first {
        let size = turn.text.chars().count();
        if !kept.is_empty() && used + size > budget {
            break;
        }
        used += size;
        kept.push(turn);
    }
    kept.reverse();
    kept
}

/// The quota's day: replies are counted per user per UTC day.
pub fn quota_day(at: Timestamp) -> String {
    at.to_string().chars().take(10).collect()
}

/// What a user over the daily quota is answered.
pub fn quota_reply(limit: u32) -> MessageBody {
    MessageBody::partial(&format!(
        "You have reached today's limit of {limit} assistant replies. I'll be glad to help again tomorrow."
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_are_paced_and_numbered_without_gaps() {
        let start = Instant::now();
        let mut progress = ReplyProgress::new(start);
        assert_eq!(progress.due_delta(start), None, "nothing written yet");
        progress.push("Hello");
        let first = progress.due_delta(start).unwrap();
        assert_eq!((first.seq, first.text.as_str()), (0, "Hello"));
        progress.push(" world");
        assert_eq!(
            progress.due_delta(start + Duration::from_millis(50)),
            None,
            "within 100 ms of the last one"
        );
        progress.push("!");
        let second = progress.due_delta(start + DELTA_EVERY).unwrap();
        assert_eq!((second.seq, second.text.as_str()), (1, " world!"));
        assert_eq!(progress.due_delta(start + DELTA_EVERY * 5), None);
        progress.push(" Bye.");
        let at = progress.next_delta_at(start + DELTA_EVERY);
        assert_eq!(at, start + DELTA_EVERY * 2, "the last piece waits its turn");
        assert_eq!(progress.pushed_text(), "Hello world!");
        assert_eq!(progress.due_delta(at).unwrap().seq, 2);
        assert_eq!(progress.pushed_text(), "Hello world! Bye.");
    }

    #[test]
    fn the_body_is_stored_at_most_every_second_and_only_when_it_grew() {
        let start = Instant::now();
        let mut progress = ReplyProgress::new(start);
        progress.push("one");
        assert!(progress
            .due_store(start + Duration::from_millis(999))
            .is_none());
        let stored = progress.due_store(start + STORE_EVERY).unwrap();
        assert_eq!(stored.as_str(), "one");
        assert!(progress.due_store(start + STORE_EVERY * 3).is_none());
        progress.push(" two");
        assert_eq!(
            progress
                .due_store(start + STORE_EVERY * 3)
                .unwrap()
                .as_str(),
            "one two"
        );
    }

    #[test]
    fn a_reply_stops_at_the_body_limit() {
        let mut progress = ReplyProgress::new(Instant::now());
        let long = "é".repeat(MessageBody::MAX_CHARS - 1);
        assert!(progress.push(&long));
        assert!(!progress.push("xyz"));
        assert!(progress.is_full());
        assert_eq!(progress.text().chars().count(), MessageBody::MAX_CHARS);
    }

    #[test]
    fn the_prompt_keeps_the_newest_turns_within_the_budget() {
        let turn = |text: &str| Turn {
            role: MessageRole::User,
            text: text.into(),
        };
        let newest_first = vec![turn("question"), turn("12345"), turn("older"), turn("x")];
        let kept = prompt_turns(newest_first.clone(), 18);
        let texts: Vec<&str> = kept.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(texts, ["older", "12345", "question"]);
        // The question is always there, even past the budget.
        let kept = prompt_turns(newest_first, 3);
        assert_eq!(kept, vec![turn("question")]);
    }

    #[test]
    fn the_quota_counts_per_utc_day() {
        let at = Timestamp::parse("2026-12-07T23:59:59.000Z").unwrap();
        assert_eq!(quota_day(at), "2026-12-07");
        assert!(quota_reply(200).as_str().contains("200"));
    }

    #[test]
    fn only_a_streaming_reply_stops() {
        assert!(ReplyStatus::ensure_can_stop(Some(ReplyStatus::Streaming)).is_ok());
        for status in [
            None,
            Some(ReplyStatus::Complete),
            Some(ReplyStatus::Failed),
            Some(ReplyStatus::Stopped),
        ] {
            assert_eq!(
                ReplyStatus::ensure_can_stop(status),
                Err(StopRefused::NotStreaming)
            );
        }
    }
}
