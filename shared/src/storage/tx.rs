//! TransactWriteItems with the two things every caller needs: cancellation reasons per action
//! (to tell the user *which* condition failed) and retries when transactions merely collided.

use std::time::Duration;

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{CancellationReason, TransactWriteItem};

use super::errors::db_error;
use super::Store;
use crate::error::AppError;

/// Why a transaction did not commit.
pub enum TxError {
    /// At least one condition failed; one reason per action, in order (`None` where fine).
    ConditionFailed(Vec<CancellationReason>),
    Other(AppError),
}

impl From<AppError> for TxError {
    fn from(err: AppError) -> Self {
        Self::Other(err)
    }
}

/// Index of each failed condition, from a cancellation.
pub fn failed_conditions(reasons: &[CancellationReason]) -> Vec<usize> {
    reasons
        .iter()
        .enumerate()
        .filter(|(_, r)| r.code() == Some("ConditionalCheckFailed"))
        .map(|(i, _)| i)
        .collect()
}

const CONTENTION_RETRIES: u32 = 8;

impl Store {
    /// Runs one transaction. When it was cancelled only because another transaction held an
    /// item (`TransactionConflict`), it is retried as it is: its conditions are evaluated again,
    /// so a retry can never apply a change twice, and concurrent callers end with one winner
    /// and condition failures for the rest instead of all failing.
    pub(super) async fn transact(&self, actions: Vec<TransactWriteItem>) -> Result<(), TxError> {
        let mut attempt = 0;
        loop {
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(actions.clone()))
                // Makes the SDK's own retries of this call (after a lost response) idempotent.
                .client_request_token(uuid::Uuid::new_v4().to_string())
                .send()
                .await;
            let err = match result {
                Ok(_) => return Ok(()),
                Err(err) => err,
            };
            let reasons = match err.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
                    cancelled.cancellation_reasons().to_vec()
                }
                Some(TransactWriteItemsError::TransactionInProgressException(_)) => Vec::new(),
                _ => return Err(TxError::Other(db_error(err))),
            };
            if !failed_conditions(&reasons).is_empty() {
                return Err(TxError::ConditionFailed(reasons));
            }
            let codes: Vec<&str> = reasons.iter().filter_map(|r| r.code()).collect();
            let contention = codes
                .iter()
                .all(|c| matches!(*c, "None" | "TransactionConflict"));
            if !contention {
                let throttled = codes
                    .iter()
                    .any(|c| matches!(*c, "ThrottlingError" | "ProvisionedThroughputExceeded"));
                return Err(TxError::Other(if throttled {
                    AppError::Unavailable("the database")
                } else {
                    AppError::internal(format!("transaction cancelled: {codes:?}"))
                }));
            }
            attempt += 1;
            if attempt > CONTENTION_RETRIES {
                // Still colliding after every retry: the table is too busy for this item now.
                return Err(TxError::Other(AppError::Unavailable("the database")));
            }
            // Jittered backoff so colliding callers spread out.
            let jitter = u64::from(uuid::Uuid::new_v4().as_bytes()[0]) % 20;
            tokio::time::sleep(Duration::from_millis(10 * u64::from(attempt) + jitter)).await;
        }
    }
}
