//! A stand-in language model on loopback for the assistant's tests and benchmark: an
//! OpenAI-compatible `/v1/chat/completions` that streams server-sent events, slowly, cut
//! mid-stream or guarded by a key, as asked.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use serde_json::{json, Value};
use shared::assistant::{Assistant, HttpEngine, HttpEngineConfig};

/// A stand-in chat-completions endpoint on loopback, streaming as OpenAI's does.
pub async fn stub_model(reply: &'static str, delay: Duration) -> String {
    StubModel::answering(reply).after(delay).serve().await
}

/// A model endpoint that answers only requests bearing `key`, when one is given (401 else).
pub async fn stub_model_with_key(
    reply: &'static str,
    delay: Duration,
    key: Option<&'static str>,
) -> String {
    StubModel {
        key,
        ..StubModel::answering(reply).after(delay)
    }
    .serve()
    .await
}

/// How the stub answers: `reply` followed by the user's last message in brackets, as
/// server-sent events of one word each, `piece_delay` apart, after `delay`; `cut_after`
/// pieces, it drops the connection without `[DONE]`. Every request's messages go to `seen`.
#[derive(Clone)]
pub struct StubModel {
    pub reply: &'static str,
    pub delay: Duration,
    pub piece_delay: Duration,
    pub cut_after: Option<usize>,
    pub key: Option<&'static str>,
    pub seen: Arc<std::sync::Mutex<Vec<Value>>>,
}

impl StubModel {
    pub fn answering(reply: &'static str) -> Self {
        Self {
            reply,
            delay: Duration::ZERO,
            piece_delay: Duration::ZERO,
            cut_after: None,
            key: None,
            seen: Default::default(),
        }
    }

    pub fn after(self, delay: Duration) -> Self {
        Self { delay, ..self }
    }

    /// Serves on a loopback port; answers its `/v1` base URL.
    pub async fn serve(self) -> String {
        use axum::response::IntoResponse;
        use axum::routing::post;
        let app = axum::Router::new().route(
            "/v1/chat/completions",
            post(
                move |headers: axum::http::HeaderMap, axum::Json(request): axum::Json<Value>| {
                    let stub = self.clone();
                    async move {
                        let bearer = headers
                            .get("authorization")
                            .and_then(|value| value.to_str().ok())
                            .map(str::to_string);
                        if stub
                            .key
                            .is_some_and(|key| bearer != Some(format!("Bearer {key}")))
                        {
                            return axum::http::StatusCode::UNAUTHORIZED.into_response();
                        }
                        assert_eq!(request["stream"], true, "the engine asks for a stream");
                        stub.seen.lock().unwrap().push(request["messages"].clone());
                        tokio::time::sleep(stub.delay).await;
                        let last = request["messages"]
                            .as_array()
                            .and_then(|m| m.last().cloned())
                            .unwrap_or_default();
                        let text = format!(
                            "{} ({})",
                            stub.reply,
                            last["content"].as_str().unwrap_or("")
                        );
                        let words: Vec<String> =
                            text.split_inclusive(' ').map(str::to_string).collect();
                        let keep = stub.cut_after.unwrap_or(words.len());
                        let mut events: Vec<String> = words
                            .into_iter()
                            .take(keep)
                            .map(|word| {
                                let chunk =
                                    json!({"choices": [{"index": 0, "delta": {"content": word}}]});
                                format!("data: {chunk}\n\n")
                            })
                            .collect();
                        if stub.cut_after.is_none() {
                            events.push("data: [DONE]\n\n".into());
                        }
                        let pace = stub.piece_delay;
                        let body = futures::stream::iter(events).then(move |event| async move {
                            tokio::time::sleep(pace).await;
                            Ok::<_, std::convert::Infallible>(event)
                        });
                        (
                            [(axum::http::header::CONTENT_TYPE, "text/event-stream")],
                            axum::body::Body::from_stream(body),
                        )
                            .into_response()
                    }
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{address}/v1")
    }
}

pub fn engine(url: String, timeout_ms: u64) -> Assistant {
    let config = HttpEngineConfig::from_lookup(|name| match name {
        "ASSISTANT_LLM_URL" => Some(url.clone()),
        "ASSISTANT_LLM_TIMEOUT_MS" => Some(timeout_ms.to_string()),
        _ => None,
    })
    .unwrap()
    .unwrap();
    Assistant::Http(HttpEngine::new(config).unwrap())
}
