//! The assistant's reply engines, behind one trait: the rule-based engine (offline, the
//! default) and an HTTP language-model engine (an OpenAI-compatible chat-completions endpoint
//! with `stream: true`, switched on by configuration). Both stream their answer in pieces;
//! when the model fails, the reply ends `failed` with the rules' answer (`fallback`).

mod http;
mod rules;

use std::time::Duration;

use futures::stream::BoxStream;
use futures::StreamExt;

pub use crate::domain::Turn;
pub use http::{HttpEngine, HttpEngineConfig};
pub use rules::RuleBased;

/// A reply as it is written: pieces of text in order; an error ends it.
pub type Pieces = BoxStream<'static, Result<String, String>>;

/// Writes the assistant's next message for a conversation (oldest first; the last turn is the
/// user message to answer).
pub trait ReplyEngine {
    fn stream(&self, conversation: &[Turn]) -> Pieces;
}

/// The engine a deployment runs: the rules, or the HTTP engine.
#[derive(Clone)]
pub enum Assistant {
    Rules(RuleBased),
    Http(HttpEngine),
}

impl Assistant {
    /// From the environment: `ASSISTANT_LLM_URL` set switches the HTTP engine on (see
    /// `HttpEngineConfig::from_lookup`); otherwise the rules, at `ASSISTANT_RULES_WORD_MS`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let rules = RuleBased::from_lookup(&lookup)?;
        Self::from_config(HttpEngineConfig::from_lookup(lookup)?, rules)
    }

    /// The HTTP engine with `config`, or `rules` without one.
    pub fn from_config(config: Option<HttpEngineConfig>, rules: RuleBased) -> Result<Self, String> {
        Ok(match config {
            Some(config) => Self::Http(HttpEngine::new(config)?),
            None => Self::Rules(rules),
        })
    }

    pub fn name(&self) -> &'static str {
        match self {
            Self::Rules(_) => "rules",
            Self::Http(_) => "http",
        }
    }

    pub fn stream(&self, conversation: &[Turn]) -> Pieces {
        match self {
            Self::Rules(rules) => rules.stream(conversation),
            Self::Http(engine) => engine.stream(conversation),
        }
    }

    /// What a failed reply says instead: the rules' answer.
    pub fn fallback(conversation: &[Turn]) -> String {
        RuleBased::answer(conversation)
    }

    /// The whole answer at once (the fallback if the engine fails), for callers that do not
    /// stream.
    pub async fn reply(&self, conversation: &[Turn]) -> String {
        let mut pieces = self.stream(conversation);
        let mut text = String::new();
        while let Some(piece) = pieces.next().await {
            match piece {
                Ok(piece) => text.push_str(&piece),
                Err(err) => {
                    tracing::warn!(error = %err, "the engine failed; the rules answer");
                    return Self::fallback(conversation);
                }
            }
        }
        text
    }
}

impl RuleBased {
    pub fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let word_delay = match lookup("ASSISTANT_RULES_WORD_MS") {
            None => Self::WORD_DELAY,
            Some(raw) => raw
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|ms| *ms <= 5_000)
                .map(Duration::from_millis)
                .ok_or("ASSISTANT_RULES_WORD_MS must be 0 to 5000")?,
        };
        Ok(Self { word_delay })
    }
}
