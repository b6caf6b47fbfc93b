//! Connections and presence. A connection is stored twice: an item by its id (what
//! `$disconnect` and frames carry) with a TTL, and an entry `connection id → expiry` in the
//! `connections` map of its user's profile. Presence and fan-out read the profile only, so a
//! push costs one item per recipient whatever else is connected, and connect / disconnect
//! learn atomically (one UpdateItem returning the old map) whether they were the first or the
//! last connection of the user.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::error::db_error;
use super::error::StoreError;
use super::items::{from_item, live_entries, to_item, ConnectionItem, UserItem};
use super::keys;
use super::sessions::{
    condition_failure_item, refused_profile, CallerWrite, SessionCondition, UpdateError,
};
use super::{string_of, Store};
use crate::domain::{Caller, ConnectionId, Limit, PageRequest, Session, Timestamp, UserId};

/// A WebSocket connection of a user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionRecord {
    pub connection_id: ConnectionId,
    pub user_id: UserId,
    /// The session of the token it was opened with; its frames act in that session (`None`
    /// for connections stored before sessions existed, which must reconnect).
    pub session: Option<Session>,
    pub connected_at: Timestamp,
    /// Epoch seconds; beyond API Gateway's 2 h connection limit.
    pub expires_at: i64,
}

impl ConnectionRecord {
    /// API Gateway closes every connection after 2 h; the record outlives that by an hour so
    /// a live connection never looks dead, and dies on its own when `$disconnect` was lost.
    pub const LIFETIME_SECONDS: i64 = 3 * 3600;

    /// How long after connecting a 410 may only mean "still in `$connect`" (API Gateway does
    /// not deliver to a connection before its handshake completes): the `$connect` function's
    /// timeout.
    pub const CONNECT_GRACE_SECONDS: i64 = 10;

    pub fn new(connection_id: ConnectionId, caller: Caller, connected_at: Timestamp) -> Self {
        Self {
            expires_at: connected_at.unix_seconds() + Self::LIFETIME_SECONDS,
            connection_id,
            user_id: caller.id,
            session: Some(caller.session),
            connected_at,
        }
    }

    /// Who acts through this connection.
    pub fn caller(&self) -> Option<Caller> {
        Some(Caller {
            id: self.user_id.clone(),
            session: self.session.clone()?,
        })
    }
}

impl ConnectionRecord {
    pub fn may_still_be_connecting(&self, now: Timestamp) -> bool {
        now.unix_millis() - self.connected_at.unix_millis() < Self::CONNECT_GRACE_SECONDS * 1000
    }
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Presence {
    pub user_id: UserId,
    pub online: bool,
    /// Null if the user never connected
    pub last_seen: Option<Timestamp>,
}

/// What closing a connection changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Closed {
    /// No other live connection of the user remains.
    pub went_offline: bool,
    pub last_seen: Timestamp,
}

/// A failed profile update, classified.
struct UpdateFailure(UpdateError);

impl UpdateFailure {
    fn is_condition_failed(&self) -> bool {
        self.0
            .as_service_error()
            .is_some_and(|e| e.is_conditional_check_failed_exception())
    }

    /// DynamoDB refuses `SET map.key` when `map` does not exist.
    fn is_missing_map(&self) -> bool {
        super::error::is_validation_error(&self.0)
    }

    fn into_store_error(self) -> StoreError {
        db_error(self.0)
    }
}

/// How many channels' member lists are read at once when gathering a user's contacts.
const MEMBER_LIST_CONCURRENCY: usize = 8;

impl Store {
    /// Everyone who sees the user's presence: its partners and the members of its channels of
    /// at most `max_channel_members` members (150 people opening the app in one big channel
    /// must not cost 150 × 150 pushes), without the user and the assistant. Reads grow with
    /// those relations only.
    pub async fn contacts(
        &self,
        user: &UserId,
        max_channel_members: u32,
    ) -> Result<Vec<UserId>, StoreError> {
        use futures::{StreamExt, TryStreamExt};

        let mut channels = Vec::new();
        let mut page = PageRequest {
            limit: Some(Limit::MAX_PAGE),
            cursor: None,
        };
        loop {
            let found = self.list_member_channel_ids(user, &page).await?;
            channels.extend(found.items);
            match found.next_cursor {
                Some(cursor) => page.cursor = Some(cursor),
                None => break,
            }
        }
        let channels: Vec<_> = self
            .get_channels(&channels, super::Read::Eventual)
            .await?
            .into_iter()
            .filter(|channel| channel.member_count <= max_channel_members)
            .map(|channel| channel.id)
            .collect();
        let (partners, members) = tokio::try_join!(
            self.partner_ids(user),
            futures::stream::iter(channels)
                .map(|channel| async move { self.channel_members(&channel).await })
                .buffer_unordered(MEMBER_LIST_CONCURRENCY)
                .try_concat()
        )?;
        let mut contacts: Vec<UserId> = partners
            .into_iter()
            .chain(members.into_iter().map(|member| member.user_id))
            .filter(|id| id != user && id.as_str() != UserId::ASSISTANT)
            .collect();
        contacts.sort();
        contacts.dedup();
        Ok(contacts)
    }

    /// Stores a connection. Refused when the account no longer exists or the token's session
    /// has ended (the connection is then refused); otherwise whether this is the user's only
    /// live connection.
    pub async fn open_connection(
        &self,
        connection: &ConnectionRecord,
        session: &Session,
    ) -> Result<CallerWrite<bool>, StoreError> {
        let key = keys::connection_key(connection.connection_id.as_str());
        // The item by id first: if the profile update then fails, what is left is an item no
        // reader reaches by user, and it expires.
        let item = ConnectionItem {
            pk: string_of(&key, keys::PK),
            sk: string_of(&key, keys::SK),
            entity: "connection".into(),
            connection_id: connection.connection_id.to_string(),
            user_id: connection.user_id.clone(),
            token_id: Some(session.token_id.clone()),
            session_epoch: session.epoch,
            token_expires_at: session.expires_at,
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
        let before = match self.add_to_profile(connection, session).await {
            Err(err) if err.is_missing_map() => {
                // A profile written before connections (or their tokens) were kept on it:
                // give it the maps once.
                for map in [keys::CONNECTIONS, keys::CONNECTION_TOKENS] {
                    self.create_map(&connection.user_id, map).await?;
                }
                self.add_to_profile(connection, session).await
            }
            other => other,
        };
        let before = match before {
            Ok(output) => output.attributes.unwrap_or_default(),
            Err(err) if err.is_condition_failed() => {
                self.delete_connection(&connection.connection_id).await?;
                let found = condition_failure_item(&err.0).flatten();
                return Ok(CallerWrite::Refused(refused_profile(found)?));
            }
            Err(err) => return Err(err.into_store_error()),
        };
        let before: UserItem = from_item(before)?;
        let now = connection.connected_at.unix_seconds();
        let first = !before
            .live_connections(now)
            .any(|id| id != connection.connection_id.as_str());
        self.prune_expired(&before, now).await;
        Ok(CallerWrite::Done(first))
    }

    /// `connections.<id> = expiry` and `connection_tokens.<id> = jti` on the profile, if the
    /// profile exists and the session is open; the old profile back.
    async fn add_to_profile(
        &self,
        connection: &ConnectionRecord,
        session: &Session,
    ) -> Result<aws_sdk_dynamodb::operation::update_item::UpdateItemOutput, UpdateFailure> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::user_key(&connection.user_id)))
            .update_expression("SET #conns.#id = :expires, #tokens.#id = :token, last_seen = :now");
        SessionCondition::of(session)
            .apply(update)
            .expression_attribute_names("#conns", keys::CONNECTIONS)
            .expression_attribute_names("#tokens", keys::CONNECTION_TOKENS)
            .expression_attribute_values(":token", AttributeValue::S(session.token_id.to_string()))
            .expression_attribute_names("#id", connection.connection_id.as_str())
            .expression_attribute_values(
                ":expires",
                AttributeValue::N(connection.expires_at.to_string()),
            )
            .expression_attribute_values(
                ":now",
                AttributeValue::S(connection.connected_at.to_string()),
            )
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(UpdateFailure)
    }

    /// The connection with this id, if any (expired or not: callers decide).
    pub async fn connection(
        &self,
        id: &ConnectionId,
    ) -> Result<Option<ConnectionRecord>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(keys::connection_key(id.as_str())))
            // A $disconnect or a frame right after $connect must see the new item.
            .consistent_read(true)
            .send()
            .await
            .map_err(db_error)?;
        let Some(item) = output.item else {
            return Ok(None);
        };
        let item: ConnectionItem = from_item(item)?;
        Ok(Some(ConnectionRecord {
            connection_id: id.clone(),
            session: item.token_id.map(|token_id| Session {
                token_id,
                epoch: item.session_epoch,
                expires_at: item.token_expires_at,
            }),
            user_id: item.user_id,
            connected_at: item.connected_at,
            expires_at: item.expires_at,
        }))
    }

    /// Removes a connection of `user`. `Ok(None)` when it was already gone (a `$disconnect`
    /// after a 410 clean-up, or the reverse): of concurrent closers exactly one gets `Some`,
    /// so `presence` offline goes out once.
    pub async fn close_connection(
        &self,
        user: &UserId,
        id: &ConnectionId,
        now: Timestamp,
    ) -> Result<Option<Closed>, StoreError> {
        let remove = |paths: &str| {
            self.client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(keys::user_key(user)))
                .update_expression(format!("REMOVE {paths} SET last_seen = :now"))
                .condition_expression("attribute_exists(#conns.#id)")
                .expression_attribute_names("#conns", keys::CONNECTIONS)
                .expression_attribute_names("#id", id.as_str())
                .expression_attribute_values(":now", AttributeValue::S(now.to_string()))
                .return_values(ReturnValue::AllOld)
        };
        // The item goes beside the profile's update (one round trip): a reader by user that
        // still finds the entry meanwhile gets a 410 from the push and forgets it.
        let closing = async {
            let result = match remove("#conns.#id, #tokens.#id")
                .expression_attribute_names("#tokens", keys::CONNECTION_TOKENS)
                .send()
                .await
            {
                // A connection of a profile that has no token map (opened before there was one).
                Err(err) if super::error::is_validation_error(&err) => {
                    remove("#conns.#id").send().await
                }
                result => result,
            };
            let closed = match result {
                Ok(output) => {
                    let before: UserItem = from_item(output.attributes.unwrap_or_default())?;
                    let went_offline = !before
                        .live_connections(now.unix_seconds())
                        .any(|other| other != id.as_str());
                    Some(Closed {
                        went_offline,
                        last_seen: now,
                    })
                }
                Err(err)
                    if err
                        .as_service_error()
                        .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
                {
                    None
                }
                Err(err) => return Err(db_error(err)),
            };
            Ok::<_, StoreError>(closed)
        };
        let (closed, ()) = tokio::try_join!(closing, self.delete_connection(id))?;
        Ok(closed)
    }

    /// The live connections of `users`, but of those who blocked `from` (the event's actor):
    /// one BatchGetItem of their profiles per 100 users, sent at once. Reads exactly one item
    /// per user, however many connections exist.
    pub async fn live_connections(
        &self,
        users: &[UserId],
        from: Option<&UserId>,
    ) -> Result<Vec<(UserId, ConnectionId)>, StoreError> {
        #[derive(serde::Deserialize)]
        struct Connections {
            id: UserId,
            #[serde(default)]
            connections: std::collections::HashMap<String, i64>,
            #[serde(default)]
            blocked_ids: std::collections::BTreeSet<UserId>,
        }
        let now = Timestamp::now().unix_seconds();
        // Consistent: a socket opened a moment ago must get the push. Only the attributes a
        // push needs are read back.
        let attributes = ["id", keys::CONNECTIONS, keys::BLOCKED_IDS];
        let items = self
            .profile_items(users, super::Read::Consistent, &attributes)
            .await?;
        let mut connections = Vec::new();
        for item in items {
            let profile: Connections = from_item(item)?;
            if from.is_some_and(|from| profile.blocked_ids.contains(from)) {
                continue;
            }
            connections.extend(
                live_entries(&profile.connections, now)
                    .filter_map(ConnectionId::parse)
                    .map(|id| (profile.id.clone(), id)),
            );
        }
        Ok(connections)
    }

    /// Deletes a connection's item (its socket is closed separately, if at all).
    pub async fn delete_connection(&self, id: &ConnectionId) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(keys::connection_key(id.as_str())))
            .send()
            .await
            .map_err(db_error)?;
        Ok(())
    }

    /// Drops map entries whose expiry has passed (connections whose `$disconnect` was lost),
    /// so the profile does not grow. Best effort: a failure only leaves dead entries, which
    /// readers ignore anyway.
    async fn prune_expired(&self, profile: &UserItem, now: i64) {
        let expired: Vec<&String> = profile
            .connections
            .iter()
            .filter(|(_, expires_at)| **expires_at <= now)
            .map(|(id, _)| id)
            .take(50)
            .collect();
        if expired.is_empty() {
            return;
        }
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::user_key(&profile.id)))
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#conns", keys::CONNECTIONS)
            .expression_attribute_names("#tokens", keys::CONNECTION_TOKENS);
        let mut paths = Vec::with_capacity(expired.len() * 2);
        for (n, id) in expired.iter().enumerate() {
            update = update.expression_attribute_names(format!("#e{n}"), id.as_str());
            paths.push(format!("#conns.#e{n}"));
            paths.push(format!("#tokens.#e{n}"));
        }
        let result = update
            .update_expression(format!("REMOVE {}", paths.join(", ")))
            .send()
            .await;
        if let Err(err) = result {
            tracing::warn!(error = %aws_sdk_dynamodb::error::DisplayErrorContext(&err), "pruning expired connections failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gone_connection_is_kept_only_while_it_may_still_be_connecting() {
        let connected_at = Timestamp::now();
        let caller = Caller {
            id: UserId::generate(),
            session: Session {
                token_id: crate::domain::TokenId::generate(),
                epoch: 0,
                expires_at: connected_at.unix_seconds() + 60,
            },
        };
        let record =
            ConnectionRecord::new(ConnectionId::parse("abc=").unwrap(), caller, connected_at);
        let later = |secs: i64| {
            Timestamp::from_unix_millis(connected_at.unix_millis() + secs * 1000).unwrap()
        };
        assert!(record.may_still_be_connecting(later(1)));
        assert!(!record.may_still_be_connecting(later(ConnectionRecord::CONNECT_GRACE_SECONDS)));
        assert_eq!(
            record.expires_at - connected_at.unix_seconds(),
            ConnectionRecord::LIFETIME_SECONDS
        );
    }
}
