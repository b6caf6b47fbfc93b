//! An OpenAI-compatible chat-completions endpoint as a reply engine.

use std::time::Duration;

use eventsource_stream::Eventsource;
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use super::{Pieces, ReplyEngine, Turn};
use crate::domain::MessageRole;

const SYSTEM_PROMPT: &str = "You are the assistant of a chat app. Answer the user's last message helpfully and briefly, in the user's language.";
const DEFAULT_MODEL: &str = "gpt-4o-mini";
const DEFAULT_TIMEOUT_MS: u64 = 8_000;

/// `ASSISTANT_LLM_URL` (the API base, e.g. `https://api.openai.com/v1`; `/chat/completions`
/// is appended), `ASSISTANT_LLM_MODEL`, `ASSISTANT_LLM_API_KEY_SECRET` (optional: the Secrets
/// Manager secret holding the key sent as a bearer token; the worker reads it once per cold
/// start into `api_key`), `ASSISTANT_LLM_TIMEOUT_MS` (default 8000: the longest wait for the
/// answer to start and between two of its pieces; then the reply fails over to the rules).
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
        // No overall timeout: a streamed answer takes as long as it takes (the service caps
        // a reply's duration); each wait for the next piece is bounded instead.
        let client = reqwest::Client::builder()
            .connect_timeout(config.timeout.min(Duration::from_secs(2)))
            .build()
            .map_err(|err| format!("HTTP client: {err}"))?;
        Ok(Self { client, config })
    }

    fn request(&self, conversation: &[Turn]) -> reqwest::RequestBuilder {
        let messages = std::iter::once(ChatMessage {
            role: "system",
            content: SYSTEM_PROMPT.to_string(),
        })
        .chain(conversation.iter().map(|turn| ChatMessage {
            role: match turn.role {
                MessageRole::Assistant => "assistant",
                MessageRole::System => "system",
                MessageRole::User => "user",
            },
            content: turn.text.clone(),
        }))
        .collect();
        let request = ChatRequest {
            model: &self.config.model,
            messages,
            max_tokens: 512,
            stream: true,
        };
        let call = self
            .client
            .post(format!("{}/chat/completions", self.config.url))
            .json(&request);
        match &self.config.api_key {
            Some(key) => call.bearer_auth(key),
            None => call,
        }
    }
}

#[derive(Serialize)]
struct ChatRequest<'a> {
    model: &'a str,
    messages: Vec<ChatMessage>,
    max_tokens: u32,
    stream: bool,
}

#[derive(Serialize)]
struct ChatMessage {
    role: &'static str,
    content: String,
}

/// One server-sent event of a streamed chat completion.
#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Vec<ChunkChoice>,
}

#[derive(Deserialize)]
struct ChunkChoice {
    #[serde(default)]
    delta: ChunkDelta,
}

#[derive(Default, Deserialize)]
struct ChunkDelta {
    #[serde(default)]
    content: Option<String>,
}

/// The text of one event's data; `None` for the end (`[DONE]`).
fn chunk_text(data: &str) -> Option<Result<String, String>> {
    if data.trim() == "[DONE]" {
        return None;
    }
    Some(
        serde_json::from_str::<Chunk>(data)
            .map(|chunk| {
                chunk
                    .choices
                    .into_iter()
                    .filter_map(|choice| choice.delta.content)
                    .collect()
            })
            .map_err(|err| format!("unreadable chunk: {err}")),
    )
}

/// The pieces of an opened event stream: each wait bounded by `idle`; a stream that ends
/// without `[DONE]` was cut, and fails.
fn pieces<S>(events: S, idle: Duration) -> Pieces
where
    S: futures::Stream<Item = Result<eventsource_stream::Event, String>> + Send + Unpin + 'static,
{
    futures::stream::unfold(Some(events), move |events| async move {
        let mut events = events?;
        loop {
            let piece = match tokio::time::timeout(idle, events.next()).await {
                Err(_) => Err(format!("nothing within {} ms", idle.as_millis())),
                Ok(None) => Err("the stream was cut before [DONE]".to_string()),
                Ok(Some(Err(err))) => Err(err),
                Ok(Some(Ok(event))) => match chunk_text(&event.data) {
                    None => return None,
                    Some(Ok(text)) if text.is_empty() => continue,
                    Some(piece) => piece,
                },
            };
            let failed = piece.is_err();
            return Some((piece, (!failed).then_some(events)));
        }
    })
    .boxed()
}

impl ReplyEngine for HttpEngine {
    fn stream(&self, conversation: &[Turn]) -> Pieces {
        let request = self.request(conversation);
        let idle = self.config.timeout;
        let opened = async move {
            let response = tokio::time::timeout(idle, request.send())
                .await
                .map_err(|_| format!("no answer within {} ms", idle.as_millis()))?
                .map_err(|err| format!("request: {err}"))?;
            let status = response.status();
            if !status.is_success() {
                return Err(format!("the endpoint answered {status}"));
            }
            Ok(response
                .bytes_stream()
                .eventsource()
                .map(|event| event.map_err(|err| format!("stream: {err}"))))
        };
        futures::stream::once(opened)
            .flat_map(move |opened| match opened {
                Ok(events) => pieces(events, idle),
                Err(err) => futures::stream::iter([Err(err)]).boxed(),
            })
            .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_text_of_each_streamed_chunk() {
        let chunk =
            r#"{"id":"c","choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}"#;
        assert_eq!(chunk_text(chunk), Some(Ok("Hel".to_string())));
        let role_only = r#"{"choices":[{"delta":{"role":"assistant"}}]}"#;
        assert_eq!(chunk_text(role_only), Some(Ok(String::new())));
        assert_eq!(chunk_text(" [DONE]"), None);
        assert!(matches!(chunk_text("{not json"), Some(Err(_))));
    }

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
