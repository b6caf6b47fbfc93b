//! An OpenAI-compatible chat-completions endpoint as a reply engine.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{ReplyEngine, Turn};
use crate::domain::MessageRole;

const SYSTEM_PROMPT: &str = "You are the assistant of a chat app. Answer the user's last message helpfully and briefly, in the user's language.";
const DEFAULT_MODEL: &str = "gpt-4o-mini";
const DEFAULT_TIMEOUT_MS: u64 = 8_000;

/// `ASSISTANT_LLM_URL` (the API base, e.g. `https://api.openai.com/v1`; `/chat/completions`
/// is appended), `ASSISTANT_LLM_MODEL`, `ASSISTANT_LLM_API_KEY_SECRET` (optional: the Secrets
/// Manager secret holding the key sent as a bearer token; the worker reads it once per cold
/// start into `api_key`), `ASSISTANT_LLM_TIMEOUT_MS` (default 8000; the worker's timeout leaves
/// room for the fallback).
#[derive(Clone, PartialEq, Eq)]
pub struct HttpEngineConfig {
    pub url: String,
    pub model: String,
    pub api_key_secret: Option<String>,
    pub api_key: Option<String>,
    pub timeout: Duration,
}

impl std::fmt::Debug for HttpEngineConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpEngineConfig")
            .field("url", &self.url)
            .field("model", &self.model)
            .field("api_key_secret", &self.api_key_secret)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl HttpEngineConfig {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, String> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let Some(url) = get("ASSISTANT_LLM_URL") else {
            return Ok(None);
        };
        if !url.starts_with("https://") && !url.starts_with("http://") {
            return Err("ASSISTANT_LLM_URL must be an http(s) URL".into());
        }
        let timeout_ms = match get("ASSISTANT_LLM_TIMEOUT_MS") {
            None => DEFAULT_TIMEOUT_MS,
            Some(raw) => raw
                .parse::<u64>()
                .ok()
                .filter(|ms| (100..=25_000).contains(ms))
                .ok_or("ASSISTANT_LLM_TIMEOUT_MS must be 100 to 25000")?,
        };
        Ok(Some(Self {
            url: url.trim_end_matches('/').to_string(),
            model: get("ASSISTANT_LLM_MODEL").unwrap_or_else(|| DEFAULT_MODEL.into()),
            api_key_secret: get("ASSISTANT_LLM_API_KEY_SECRET"),
            api_key: None,
            timeout: Duration::from_millis(timeout_ms),
        }))
    }
}

#[derive(Clone)]
pub struct HttpEngine {
    client: reqwest::Client,
    config: HttpEngineConfig,
}

impl HttpEngine {
    pub fn new(config: HttpEngineConfig) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(2)))
            .build()
            .map_err(|err| format!("HTTP client: {err}"))?;
        Ok(Self { client, config })
    }
}

#[derive(Serialize)]
struct ChatRequest<'a> {
    model: &'a str,
    messages: Vec<ChatMessage<'a>>,
    max_tokens: u32,
}

#[derive(Serialize)]
struct ChatMessage<'a> {
    role: &'a str,
    content: &'a str,
}

#[derive(Deserialize)]
struct ChatResponse {
    choices: Vec<Choice>,
}

#[derive(Deserialize)]
struct Choice {
    message: ChoiceMessage,
}

#[derive(Deserialize)]
struct ChoiceMessage {
    content: Option<String>,
}

impl ReplyEngine for HttpEngine {
    async fn reply(&self, conversation: &[Turn]) -> Result<String, String> {
        let messages = std::iter::once(ChatMessage {
            role: "system",
            content: SYSTEM_PROMPT,
        })
        .chain(conversation.iter().map(|turn| ChatMessage {
            role: match turn.role {
                MessageRole::Assistant => "assistant",
                MessageRole::System => "system",
                MessageRole::User => "user",
            },
            content: &turn.text,
        }))
        .collect();
        let request = ChatRequest {
            model: &self.config.model,
            messages,
            max_tokens: 512,
        };
        let mut call = self
            .client
            .post(format!("{}/chat/completions", self.config.url))
            .json(&request);
        if let Some(key) = &self.config.api_key {
            call = call.bearer_auth(key);
        }
        let response = call.send().await.map_err(|err| format!("request: {err}"))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("the endpoint answered {status}"));
        }
        let body: ChatResponse = response
            .json()
            .await
            .map_err(|err| format!("unreadable answer: {err}"))?;
        body.choices
            .into_iter()
            .next()
            .and_then(|choice| choice.message.content)
            .map(|text| text.trim().to_string())
            .filter(|text| !text.is_empty())
            .ok_or_else(|| "the answer has no message".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_unless_a_url_is_set() {
        assert_eq!(HttpEngineConfig::from_lookup(|_| None), Ok(None));
        let config = HttpEngineConfig::from_lookup(|name| match name {
            "ASSISTANT_LLM_URL" => Some("http://127.0.0.1:9/v1/".into()),
            "ASSISTANT_LLM_TIMEOUT_MS" => Some("500".into()),
            _ => None,
        })
        .unwrap()
        .unwrap();
        assert_eq!(config.url, "http://127.0.0.1:9/v1");
        assert_eq!(config.model, DEFAULT_MODEL);
        assert_eq!(config.timeout, Duration::from_millis(500));
        assert!(HttpEngineConfig::from_lookup(|name| match name {
            "ASSISTANT_LLM_URL" => Some("ftp://x".into()),
            _ => None,
        })
        .is_err());
    }
}
