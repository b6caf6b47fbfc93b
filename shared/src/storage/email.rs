//! The email lock: one item per email event, claimed before sending, so a redelivered event
//! never mails twice.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};

use super::error::StoreError;
use super::error::{db_error, done_unless_failed};
use super::keys;
use super::{s, string_of, Store};
use crate::domain::Timestamp;

/// How long a lock is kept: beyond the notification queue's message retention (4 days), so
/// no redelivery can outlive its lock.
const LOCK_DAYS: i64 = 7;

/// A claim older than this whose email was never marked sent belongs to a worker that died
/// between claiming and finishing: whether SES accepted the email is unknown, and at most one
/// email per event wins over at least one.
const STALE_CLAIM_SECONDS: i64 = 300;

/// What claiming an email event found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmailClaim {
    /// This worker sends it.
    Claimed,
    /// Sent (or skipped) before, or claimed by a worker that died: do not send.
    Done,
    /// Another worker is sending it right now: try again later.
    InProgress,
}

const SENDING: &str = "sending";

impl Store {
    pub async fn claim_email(
        &self,
        event_id: &str,
        now: Timestamp,
    ) -> Result<EmailClaim, StoreError> {
        let mut item = keys::email_lock_key(event_id);
        item.insert("entity".into(), s("email_lock"));
        item.insert("status".into(), s(SENDING));
        item.insert("claimed_at".into(), s(now.to_string()));
        item.insert(
            keys::TTL.into(),
            AttributeValue::N((now.unix_seconds() + LOCK_DAYS * 86_400).to_string()),
        );
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let err = match result {
            Ok(_) => return Ok(EmailClaim::Claimed),
            Err(err) => err,
        };
        let Some(existing) = err.as_service_error().and_then(|e| {
            match e {
            aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(
                failed,
            ) => Some(failed.item().cloned().unwrap_or_default()),
            _ => None,
        }
        }) else {
            return Err(db_error(err));
        };
        if string_of(&existing, "status") != SENDING {
            return Ok(EmailClaim::Done);
        }
        let claimed_at = Timestamp::parse(&string_of(&existing, "claimed_at"));
        let stale = claimed_at
            .is_none_or(|at| now.unix_seconds() - at.unix_seconds() > STALE_CLAIM_SECONDS);
        if stale {
            tracing::error!(
                event_id,
                "an earlier delivery claimed this email and never finished; not sending again"
            );
            return Ok(EmailClaim::Done);
        }
        Ok(EmailClaim::InProgress)
    }

    /// Records how a claimed email ended: `sent`, or `skipped` (no one to send it to).
    pub async fn finish_email(&self, event_id: &str, status: &str) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::email_lock_key(event_id)))
            .update_expression("SET #status = :status")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":status", s(status))
            .send()
            .await
            .map_err(db_error)?;
        Ok(())
    }

    /// Gives a claim back after a failed send, so the redelivery sends it.
    pub async fn release_email(&self, event_id: &str) -> Result<(), StoreError> {
        done_unless_failed(
            self.client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(keys::email_lock_key(event_id)))
                .condition_expression("#status = :sending")
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":sending", s(SENDING))
                .send()
                .await,
        )
    }
}
