//! The assistant's reply engines, behind one trait: the rule-based engine (offline, the
//! default) and an HTTP language-model engine (an OpenAI-compatible chat-completions endpoint,
//! switched on by configuration) that falls back to the rules when it fails or is slow.

mod http;
mod rules;

pub use http::{HttpEngine, HttpEngineConfig};
pub use rules::RuleBased;

use std::future::Future;

use crate::domain::MessageRole;

/// One message of the conversation the engine sees.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Turn {
    pub role: MessageRole,
    pub text: String,
}

/// Writes the assistant's next message for a conversation (oldest first; the last turn is the
/// user message to answer).
pub trait ReplyEngine {
    fn reply(&self, conversation: &[Turn]) -> impl Future<Output = Result<String, String>> + Send;
}

/// The engine a deployment runs: the rules, or the HTTP engine with the rules as fallback.
#[derive(Clone)]
pub enum Assistant {
    Rules(RuleBased),
    Http(HttpEngine),
}

impl Assistant {
    /// From the environment: `ASSISTANT_LLM_URL` set switches the HTTP engine on (see
    /// `HttpEngineConfig::from_lookup`); otherwise the rules.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        Self::from_config(HttpEngineConfig::from_lookup(lookup)?)
    }

    /// The HTTP engine with `config`, or the rules without one.
    pub fn from_config(config: Option<HttpEngineConfig>) -> Result<Self, String> {
        Ok(match config {
            Some(config) => Self::Http(HttpEngine::new(config)?),
            None => Self::Rules(RuleBased),
        })
    }

    pub fn name(&self) -> &'static str {
        match self {
            Self::Rules(_) => "rules",
            Self::Http(_) => "http",
        }
    }

    /// Never fails: the HTTP engine's failures are logged and answered by the rules.
    pub async fn reply(&self, conversation: &[Turn]) -> String {
        match self {
            Self::Rules(rules) => rules.answer(conversation),
            Self::Http(engine) => match engine.reply(conversation).await {
                Ok(text) => text,
                Err(err) => {
                    tracing::warn!(error = %err, "language-model engine failed; the rules answer");
                    RuleBased.answer(conversation)
                }
            },
        }
    }
}
