//! Pushes a request could not make: written to the table (as durable as the change that
//! caused them), read off the stream by the event router, retried by the fan-out worker.

use serde::{Deserialize, Serialize};

use super::changes::Change;
use super::error::StoreError;
use super::items::to_item;
use super::keys;
use super::Store;
use crate::domain::{ConnectionId, DomainEvent, Timestamp, UserId};

/// Kept a day: the stream holds a record for 24 hours, after which the item means nothing.
const RETRY_TTL_SECONDS: i64 = 86_400;

#[derive(Debug, Serialize, Deserialize)]
pub(super) struct PushRetryItem {
    pk: String,
    sk: String,
    entity: String,
    event_id: String,
    /// The event as pushed (JSON).
    event: String,
    connections: Vec<(UserId, ConnectionId)>,
    expires_at: i64,
}

impl PushRetryItem {
    pub fn into_change(self) -> Result<Change, StoreError> {
        let event = serde_json::from_str(&self.event)
            .map_err(|err| StoreError::fault(format!("corrupt push retry: {err}")))?;
        Ok(Change::PushRetry {
            event_id: self.event_id,
            event,
            connections: self.connections,
        })
    }
}

impl Store {
    /// Records pushes to retry. `event_id` names the attempt (unique per event and request).
    pub async fn record_push_retry(
        &self,
        event_id: &str,
        event: &DomainEvent,
        connections: &[(UserId, ConnectionId)],
    ) -> Result<(), StoreError> {
        let key = keys::push_retry_key(event_id);
        let item = PushRetryItem {
            pk: super::string_of(&key, keys::PK),
            sk: super::string_of(&key, keys::SK),
            entity: "push_retry".into(),
            event_id: event_id.to_string(),
            event: serde_json::to_string(event).map_err(StoreError::fault)?,
            connections: connections.to_vec(),
            expires_at: Timestamp::now().unix_seconds() + RETRY_TTL_SECONDS,
        };
        // `expires_at` is the table's TTL attribute (`keys::TTL`).
        self.put(to_item(&item)?).await
    }
}
