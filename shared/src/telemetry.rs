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

/// Times the phases of a cold start and logs them once, as `initialized` with `phases`
/// (`name=microseconds`, space-separated) and `init_us`: CloudWatch's Init Duration, broken
/// down (what is left of it is the process start and the runtime's first poll).
pub struct InitClock {
    started: std::time::Instant,
    last: std::time::Instant,
    phases: Vec<(&'static str, u128)>,
}

impl InitClock {
    pub fn start() -> Self {
        let now = std::time::Instant::now();
        Self {
            started: now,
            last: now,
            phases: Vec::new(),
        }
    }

    /// Ends the phase `name`, begun at the previous one's end.
    pub fn phase(&mut self, name: &'static str) {
        let now = std::time::Instant::now();
        self.phases
            .push((name, now.duration_since(self.last).as_micros()));
        self.last = now;
    }

    pub fn finish(self) {
        let phases: Vec<String> = self
            .phases
            .iter()
            .map(|(name, micros)| format!("{name}={micros}"))
            .collect();
        tracing::info!(
            phases = phases.join(" "),
            init_us = self.started.elapsed().as_micros() as u64,
            "initialized"
        );
    }
}
