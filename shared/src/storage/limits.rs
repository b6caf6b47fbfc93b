//! Counters of the rate limits that have no write of their own to ride on: failed logins
//! (an item beside the email's credentials, read with them, with TTL) and the typing
//! throttle (a timestamp on the membership). The send burst and the partner request quota
//! ride on the send's and the request's own transactions.

use aws_sdk_dynamodb::types::{
    AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use serde::Deserialize;

use super::error::{applied, db_error, StoreError};
use super::items::{from_item, CredentialsItem};
use super::keys::{self, SK};
use super::{string_of, Read, Store};
use crate::domain::{ChannelId, Email, LoginAttempts, RateWindow, Timestamp, UserId};

/// Failed logins are forgotten a day after the last one.
const ATTEMPTS_TTL_SECONDS: i64 = 24 * 60 * 60;

#[derive(Deserialize)]
struct AttemptsItem {
    #[serde(default)]
    failures: u32,
    #[serde(default)]
    locked_until: i64,
}

impl From<AttemptsItem> for LoginAttempts {
    fn from(item: AttemptsItem) -> Self {
        Self {
            failures: item.failures,
            locked_until: item.locked_until,
        }
    }
}

/// The two attributes of a counted window on an item: its start and its count.
#[derive(Clone, Copy)]
pub(super) struct WindowAttributes {
    since: &'static str,
    count: &'static str,
}

impl WindowAttributes {
    /// A member's sends in its channel.
    pub const SENDS: Self = Self {
        since: "sends_since",
        count: "sends",
    };
    /// A user's partner requests (on the profile).
    pub const REQUESTS: Self = Self {
        since: "requests_since",
        count: "requests",
    };
}

/// Another attribute the counted event sets on the same item: its name, the placeholder of
/// its value (which the condition may use too), and the value.
pub(super) type AlsoSet<'a> = (&'a str, &'a str, AttributeValue);

impl Store {
    /// A transaction action moving the window `attributes` of the item at `key` from `read`
    /// to `next` (and setting `also`), on condition that it is still as read and that
    /// `condition` holds; the item comes back when it fails (a moved window: read it again).
    pub(super) fn window_update(
        &self,
        key: super::Item,
        attributes: WindowAttributes,
        (read, next): (RateWindow, RateWindow),
        also: Vec<AlsoSet<'_>>,
        condition: &str,
    ) -> Result<TransactWriteItem, StoreError> {
        let as_read = if read == RateWindow::default() {
            "attribute_not_exists(#since)"
        } else {
            "#since = :read_since AND #count = :read_count"
        };
        let number = |n: i64| AttributeValue::N(n.to_string());
        let mut sets = "SET #since = :since, #count = :count".to_string();
        for (name, placeholder, _) in &also {
            sets.push_str(&format!(", {name} = {placeholder}"));
        }
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression(sets)
            .condition_expression(format!("{condition} AND ({as_read})"))
            .expression_attribute_names("#since", attributes.since)
            .expression_attribute_names("#count", attributes.count)
            .expression_attribute_values(":since", number(next.started_at))
            .expression_attribute_values(":count", number(next.count.into()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        for (_, placeholder, value) in also {
            update = update.expression_attribute_values(placeholder, value);
        }
        if read != RateWindow::default() {
            update = update
                .expression_attribute_values(":read_since", number(read.started_at))
                .expression_attribute_values(":read_count", number(read.count.into()));
        }
        Ok(TransactWriteItem::builder()
            .update(update.build().map_err(StoreError::fault)?)
            .build())
    }

    /// The user id and password hash stored for an email, if any, and its failed logins: one
    /// BatchGetItem.
    pub async fn find_credentials(
        &self,
        email: &Email,
    ) -> Result<(Option<(UserId, String)>, LoginAttempts), StoreError> {
        let wanted = vec![
            self.credentials_key(email),
            keys::login_attempts_key(&email.normalized()),
        ];
        let (mut credentials, mut attempts) = (None, LoginAttempts::default());
        for item in self.batch_get(wanted, Read::Consistent).await? {
            if string_of(&item, SK) == keys::CREDENTIALS {
                let found: CredentialsItem = from_item(item)?;
                credentials = Some((found.user_id, found.password_hash));
            } else {
                attempts = from_item::<AttemptsItem>(item)?.into();
            }
        }
        Ok((credentials, attempts))
    }

    /// Counts a failed login (atomically: parallel failures all count) and locks the email
    /// when the domain says so; the attempts as they now stand.
    pub async fn record_login_failure(
        &self,
        email: &Email,
        now: Timestamp,
    ) -> Result<LoginAttempts, StoreError> {
        let key = keys::login_attempts_key(&email.normalized());
        let now = now.unix_seconds();
        let counted = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key.clone()))
            .update_expression("ADD failures :one SET entity = :entity, expires_at = :ttl")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":entity", AttributeValue::S("login_attempts".into()))
            .expression_attribute_values(
                ":ttl",
                AttributeValue::N((now + ATTEMPTS_TTL_SECONDS).to_string()),
            )
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(db_error)?;
        let mut attempts: LoginAttempts =
            from_item::<AttemptsItem>(counted.attributes.unwrap_or_default())?.into();
        if let Some(until) = LoginAttempts::lock_after(attempts.failures, now) {
            self.client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key))
                .update_expression("SET locked_until = :until")
                .expression_attribute_values(":until", AttributeValue::N(until.to_string()))
                .send()
                .await
                .map_err(db_error)?;
            attempts.locked_until = until;
        }
        Ok(attempts)
    }

    /// A successful login forgets the failures.
    pub async fn forget_login_failures(&self, email: &Email) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(keys::login_attempts_key(&email.normalized())))
            .send()
            .await
            .map_err(db_error)?;
        Ok(())
    }

    /// Claims the member's next `typing` push in the channel: `false` (drop the frame) when
    /// one went out less than `every` ago, or the user is not a member.
    pub async fn claim_typing(
        &self,
        channel: &ChannelId,
        user: &UserId,
        now: Timestamp,
        every: std::time::Duration,
    ) -> Result<bool, StoreError> {
        let now = now.unix_millis();
        let before = now - i64::try_from(every.as_millis()).unwrap_or(i64::MAX);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::member_key(channel, user)))
            .update_expression("SET typing_at = :now")
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(typing_at) OR typing_at <= :before)",
            )
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .expression_attribute_values(":before", AttributeValue::N(before.to_string()))
            .send()
            .await;
        applied(result)
    }
}
