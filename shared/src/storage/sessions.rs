//! Sessions on the profile: the account's session epoch and its tokens revoked one by one
//! (see `domain::SessionPolicy`). Every write made on behalf of a caller that does not read
//! the profile first carries the session as a condition, so a revoked token changes nothing.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::builders::{DeleteBuilder, UpdateBuilder};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};

use super::error::{db_error, StoreError};
use super::items::{from_item, UserItem};
use super::keys;
use super::Store;
use crate::domain::{Session, User, UserId};

/// How a write made for a caller ended.
#[derive(Debug)]
pub enum CallerWrite<T> {
    Done(T),
    /// The session condition failed: the profile as it is (`None`: the account is gone), from
    /// which the service says why.
    Refused(Option<User>),
}

/// The builders of UpdateItem, a transaction's Update and Delete share these methods but no
/// trait.
macro_rules! guard {
    ($builder:expr, $condition:expr) => {{
        let mut builder = $builder;
        for (name, attribute) in $condition.names {
            builder = builder.expression_attribute_names(name, attribute);
        }
        for (name, value) in $condition.values {
            builder = builder.expression_attribute_values(name, value);
        }
        builder
            .condition_expression($condition.expression)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
    }};
}

/// The condition "the profile exists and this session is open", with its names and values.
pub(super) struct SessionCondition {
    pub expression: String,
    pub names: Vec<(&'static str, String)>,
    pub values: Vec<(&'static str, AttributeValue)>,
}

impl SessionCondition {
    pub fn of(session: &Session) -> Self {
        // Profiles written before sessions existed have no epoch: they are in epoch 0.
        let epoch = if session.epoch == 0 {
            "(attribute_not_exists(#sep) OR #sep = :sep)"
        } else {
            "#sep = :sep"
        };
        Self {
            expression: format!(
                "attribute_exists(pk) AND {epoch} AND attribute_not_exists(#revoked.#jti)"
            ),
            names: vec![
                ("#sep", keys::SESSION_EPOCH.to_string()),
                ("#revoked", keys::REVOKED_TOKENS.to_string()),
                ("#jti", session.token_id.to_string()),
            ],
            values: vec![(":sep", AttributeValue::N(session.epoch.to_string()))],
        }
    }

    /// Adds the condition to an UpdateItem, asking for the profile back when it fails.
    pub fn apply(self, update: UpdateItemFluentBuilder) -> UpdateItemFluentBuilder {
        guard!(update, self)
    }

    /// The same on a transaction's Update or Delete of the profile.
    pub fn apply_to_update(self, update: UpdateBuilder) -> UpdateBuilder {
        guard!(update, self)
    }

    pub fn apply_to_delete(self, delete: DeleteBuilder) -> DeleteBuilder {
        guard!(delete, self)
    }
}

/// The profile a failed session condition found.
pub(super) fn refused_profile(item: Option<super::Item>) -> Result<Option<User>, StoreError> {
    item.filter(|item| !item.is_empty())
        .map(|item| from_item::<UserItem>(item).map(User::from))
        .transpose()
}

/// A failed UpdateItem.
pub(super) type UpdateError = aws_sdk_dynamodb::error::SdkError<
    aws_sdk_dynamodb::operation::update_item::UpdateItemError,
    aws_sdk_dynamodb::config::http::HttpResponse,
>;

/// What a failed condition of an UpdateItem found where it asked for the item
/// (`ReturnValuesOnConditionCheckFailure`): `None` when the update failed otherwise.
pub(super) fn condition_failure_item(err: &UpdateError) -> Option<Option<super::Item>> {
    use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
    match err.as_service_error() {
        Some(UpdateItemError::ConditionalCheckFailedException(failed)) => Some(failed.item.clone()),
        _ => None,
    }
}

/// The outcome of an UpdateItem guarded by a `SessionCondition`.
pub(super) fn guarded<T>(result: Result<T, UpdateError>) -> Result<CallerWrite<T>, StoreError> {
    match result {
        Ok(done) => Ok(CallerWrite::Done(done)),
        Err(err) => match condition_failure_item(&err) {
            Some(found) => Ok(CallerWrite::Refused(refused_profile(found)?)),
            None => Err(db_error(err)),
        },
    }
}

impl Store {
    /// Signs one token out: its `jti` joins the profile's revoked tokens until the token's own
    /// expiry; revocations of tokens that have expired since (`expired`) are dropped in the
    /// same update, so the map never outgrows one token lifetime of sign-outs.
    pub async fn revoke_token(
        &self,
        user: &UserId,
        session: &Session,
        expired: &[&str],
    ) -> Result<CallerWrite<()>, StoreError> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::user_key(user)))
            .expression_attribute_values(":exp", AttributeValue::N(session.expires_at.to_string()));
        let mut removed = Vec::with_capacity(expired.len());
        for (n, id) in expired.iter().enumerate() {
            update = update.expression_attribute_names(format!("#x{n}"), *id);
            removed.push(format!("#revoked.#x{n}"));
        }
        let expression = if removed.is_empty() {
            "SET #revoked.#jti = :exp".to_string()
        } else {
            format!("SET #revoked.#jti = :exp REMOVE {}", removed.join(", "))
        };
        let update = SessionCondition::of(session).apply(update.update_expression(expression));
        match update.send().await {
            // A profile written before sessions existed has no map to set a key in.
            Err(err) if super::error::is_validation_error(&err) => {
                self.create_map(user, keys::REVOKED_TOKENS).await?;
                Box::pin(self.revoke_token(user, session, expired)).await
            }
            result => guarded(result.map(|_| ())),
        }
    }

    /// Ends every session of the account issued until now, the caller's included: the epoch
    /// moves on and the one-by-one revocations are no longer needed.
    pub async fn end_sessions(
        &self,
        user: &UserId,
        session: &Session,
    ) -> Result<CallerWrite<u32>, StoreError> {
        let next = session.epoch + 1;
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::user_key(user)))
            // `#sep` and `#revoked` are named by the session condition.
            .update_expression("SET #sep = :next, #revoked = :none")
            .expression_attribute_values(":next", AttributeValue::N(next.to_string()))
            .expression_attribute_values(":none", AttributeValue::M(HashMap::new()));
        guarded(
            SessionCondition::of(session)
                .apply(update)
                .send()
                .await
                .map(|_| next),
        )
    }

    /// Adds an empty map attribute to a profile that has none (a nested `SET` needs it).
    pub(super) async fn create_map(
        &self,
        user: &UserId,
        attribute: &str,
    ) -> Result<(), StoreError> {
        // A failed condition: created concurrently, or the account is gone (the retried update
        // then answers that).
        super::error::done_unless_failed(
            self.client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(keys::user_key(user)))
                .update_expression("SET #map = :empty")
                .condition_expression("attribute_exists(pk) AND attribute_not_exists(#map)")
                .expression_attribute_names("#map", attribute)
                .expression_attribute_values(":empty", AttributeValue::M(HashMap::new()))
                .send()
                .await,
        )
    }
}
