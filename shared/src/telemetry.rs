//! Structured logs: JSON lines for CloudWatch (one object per event, request ids included).

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber once. `RUST_LOG` overrides the default `info` level;
/// `LOG_FORMAT=text` gives human-readable lines for local runs.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let result = if std::env::var("LOG_FORMAT").as_deref() == Ok("text") {
        builder.try_init()
    } else {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .without_time() // CloudWatch stamps every line itself.
            .try_init()
    };
    // A second init (tests, local gateway hosting several functions) keeps the first subscriber.
    let _ = result;
}
