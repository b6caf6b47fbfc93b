//! Connections and presence. A user is online while at least one of its connection items is
//! live (its `expires_at` is in the future): expired items are ignored, because `$disconnect`
//! is best effort on API Gateway and TTL deletion is late.

use std::collections::HashSet;

use aws_sdk_dynamodb::types::{AttributeValue, Select};
use futures::{stream, StreamExt, TryStreamExt};

use super::errors::db_error;
use super::items::{to_item, ConnectionItem};
use super::keys::{self, GSI1};
use super::{s, string_of, Store};
use crate::domain::{Timestamp, UserId};
use crate::error::AppError;

/// A live WebSocket connection of a user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionRecord {
    pub connection_id: String,
    pub user_id: UserId,
    pub connected_at: Timestamp,
    /// Epoch seconds; beyond API Gateway's 2 h connection limit.
    pub expires_at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Presence {
    pub user_id: UserId,
    pub online: bool,
    pub last_seen: Option<Timestamp>,
}

/// How many presence look-ups run at once for a list of users.
const PRESENCE_CONCURRENCY: usize = 16;

impl Store {
    /// Stores a connection, findable by id and (through GSI1) by user.
    pub async fn put_connection(&self, connection: &ConnectionRecord) -> Result<(), AppError> {
        let key = keys::connection_key(&connection.connection_id);
        let item = ConnectionItem {
            pk: string_of(&key, keys::PK),
            sk: string_of(&key, keys::SK),
            gsi1pk: keys::user_connections_pk(&connection.user_id),
            gsi1sk: connection.connection_id.clone(),
            entity: "connection".into(),
            connection_id: connection.connection_id.clone(),
            user_id: connection.user_id.clone(),
            connected_at: connection.connected_at,
            expires_at: connection.expires_at,
        };
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(&item)?))
            .send()
            .await
            .map_err(db_error)?;
        Ok(())
    }

    /// Whether the user has at least one live connection: one Query on GSI1 reading only that
    /// user's connection items.
    pub async fn is_online(&self, user: &UserId) -> Result<bool, AppError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI1)
            .key_condition_expression("gsi1pk = :pk")
            .filter_expression("#ttl > :now")
            .expression_attribute_names("#ttl", keys::TTL)
            .expression_attribute_values(":pk", s(keys::user_connections_pk(user)))
            .expression_attribute_values(
                ":now",
                AttributeValue::N(Timestamp::now().unix_seconds().to_string()),
            )
            .select(Select::Count)
            .send()
            .await
            .map_err(db_error)?;
        Ok(output.count > 0)
    }

    /// The subset of `users` that is online, looked up concurrently.
    pub async fn online_among(&self, users: &[UserId]) -> Result<HashSet<UserId>, AppError> {
        stream::iter(users.iter().cloned())
            .map(|user| async move { Ok::<_, AppError>((self.is_online(&user).await?, user)) })
            .buffer_unordered(PRESENCE_CONCURRENCY)
            .try_filter_map(|(online, user)| async move { Ok(online.then_some(user)) })
            .try_collect()
            .await
    }
}
