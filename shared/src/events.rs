//! The in-process bus of pushed events (for logs, and for tests that assert them); the events
//! themselves and their audiences are domain types (`domain::DomainEvent`).

use tokio::sync::broadcast;

pub use crate::domain::{Audience, DomainEvent};

/// Where services publish events. Cloning shares the bus.
#[derive(Clone)]
pub struct EventBus {
    sender: broadcast::Sender<DomainEvent>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new()
    }
}

impl EventBus {
    pub fn new() -> Self {
        Self {
            sender: broadcast::channel(1024).0,
        }
    }

    /// Publishes a committed change. Never fails the request: an event nobody listens to is
    /// only logged.
    pub fn publish(&self, event: DomainEvent) {
        tracing::info!(event = event.kind(), "domain event");
        let _ = self.sender.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<DomainEvent> {
        self.sender.subscribe()
    }
}
