//! TransactWriteItems with the two things every caller needs: which *named* condition failed
//! when one did (so callers decode refusals by meaning, never by position), and retries when
//! transactions merely collided.

use std::fmt::Debug;
use std::time::Duration;

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{CancellationReason, TransactWriteItem};

use super::error::{db_error, StoreError, StoreResult};
use super::{Item, Store};

/// What a failed condition of an action means.
#[derive(Clone, Copy, Debug)]
enum Meaning<C> {
    /// The operation's own outcome: the caller decodes it.
    Check(C),
    /// Only a broken invariant fails it (a fresh id already taken): a fault.
    Invariant,
    /// The action has no condition.
    Unconditional,
}

/// A transaction being built. Every action says what its condition failing would mean.
pub(super) struct Transaction<C> {
    actions: Vec<TransactWriteItem>,
    meanings: Vec<Meaning<C>>,
}

/// The conditions that failed, by name, with the item each found where one was asked for
/// (`ReturnValuesOnConditionCheckFailure`).
#[derive(Debug)]
pub(super) struct Refused<C> {
    failed: Vec<(C, Option<Item>)>,
}

/// How a transaction ended when it reached the table.
pub(super) enum Commit<C> {
    Done,
    Refused(Refused<C>),
}

impl<C: Copy + PartialEq + Debug> Transaction<C> {
    pub fn new() -> Self {
        Self {
            actions: Vec::new(),
            meanings: Vec::new(),
        }
    }

    /// An action whose condition failing is the outcome `check`.
    pub fn check(&mut self, check: C, action: TransactWriteItem) -> &mut Self {
        self.push(Meaning::Check(check), action)
    }

    /// An action whose condition can only fail if an invariant broke.
    pub fn invariant(&mut self, action: TransactWriteItem) -> &mut Self {
        self.push(Meaning::Invariant, action)
    }

    pub fn unconditional(&mut self, action: TransactWriteItem) -> &mut Self {
        self.push(Meaning::Unconditional, action)
    }

    fn push(&mut self, meaning: Meaning<C>, action: TransactWriteItem) -> &mut Self {
        self.actions.push(action);
        self.meanings.push(meaning);
        self
    }

    /// Names the failed conditions of a cancellation (reasons come one per action, in order).
    fn refusal(&self, reasons: Vec<CancellationReason>) -> StoreResult<Refused<C>> {
        let mut failed = Vec::new();
        for (reason, meaning) in reasons.into_iter().zip(&self.meanings) {
            if reason.code() != Some("ConditionalCheckFailed") {
                continue;
            }
            match meaning {
                Meaning::Check(check) => failed.push((*check, reason.item)),
                Meaning::Invariant | Meaning::Unconditional => {
                    return Err(StoreError::fault(format!(
                        "an invariant condition failed in a transaction of {:?}",
                        self.meanings
                    )))
                }
            }
        }
        Ok(Refused { failed })
    }
}

impl<C: Copy + PartialEq> Refused<C> {
    pub fn failed(&self, check: C) -> bool {
        self.failed.iter().any(|(failed, _)| *failed == check)
    }

    /// The item the failed `check` found, if its action asked for it.
    pub fn item(&self, check: C) -> Option<&Item> {
        self.failed
            .iter()
            .find(|(failed, _)| *failed == check)
            .and_then(|(_, item)| item.as_ref())
    }
}

const CONTENTION_RETRIES: u32 = 8;

impl Store {
    /// Runs one transaction. When it was cancelled only because another transaction held an
    /// item (`TransactionConflict`), it is retried as it is: its conditions are evaluated again,
    /// so a retry can never apply a change twice, and concurrent callers end with one winner
    /// and condition failures for the rest instead of all failing.
    pub(super) async fn commit<C: Copy + PartialEq + Debug>(
        &self,
        tx: Transaction<C>,
    ) -> StoreResult<Commit<C>> {
        let mut attempt = 0;
        loop {
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(tx.actions.clone()))
                // Makes the SDK's own retries of this call (after a lost response) idempotent.
                .client_request_token(uuid::Uuid::new_v4().to_string())
                .send()
                .await;
            let err = match result {
                Ok(_) => return Ok(Commit::Done),
                Err(err) => err,
            };
            let reasons = match err.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
                    cancelled.cancellation_reasons().to_vec()
                }
                Some(TransactWriteItemsError::TransactionInProgressException(_)) => Vec::new(),
                _ => return Err(db_error(err)),
            };
            let codes: Vec<&str> = reasons.iter().filter_map(|r| r.code()).collect();
            if codes.contains(&"ConditionalCheckFailed") {
                return tx.refusal(reasons).map(Commit::Refused);
            }
            let contention = codes
                .iter()
                .all(|c| matches!(*c, "None" | "TransactionConflict"));
            if !contention {
                let throttled = codes
                    .iter()
                    .any(|c| matches!(*c, "ThrottlingError" | "ProvisionedThroughputExceeded"));
                return Err(if throttled {
                    StoreError::Unavailable
                } else {
                    StoreError::fault(format!("transaction cancelled: {codes:?}"))
                });
            }
            attempt += 1;
            if attempt > CONTENTION_RETRIES {
                // Still colliding after every retry: the table is too busy for this item now.
                return Err(StoreError::Unavailable);
            }
            // Jittered backoff so colliding callers spread out.
            let jitter = u64::from(uuid::Uuid::new_v4().as_bytes()[0]) % 20;
            tokio::time::sleep(Duration::from_millis(10 * u64::from(attempt) + jitter)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::types::ConditionCheck;

    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Check {
        First,
        Second,
    }

    fn action() -> TransactWriteItem {
        TransactWriteItem::builder()
            .condition_check(
                ConditionCheck::builder()
                    .table_name("t")
                    .key("pk", aws_sdk_dynamodb::types::AttributeValue::S("k".into()))
                    .condition_expression("attribute_exists(pk)")
                    .build()
                    .expect("a complete condition check"),
            )
            .build()
    }

    fn reason(code: &str) -> CancellationReason {
        CancellationReason::builder().code(code).build()
    }

    #[test]
    fn cancellations_are_decoded_by_name_not_position() {
        let mut tx = Transaction::new();
        tx.unconditional(action())
            .check(Check::Second, action())
            .check(Check::First, action());
        let refused = tx
            .refusal(vec![
                reason("None"),
                reason("ConditionalCheckFailed"),
                reason("None"),
            ])
            .expect("a named refusal");
        assert!(refused.failed(Check::Second));
        assert!(!refused.failed(Check::First));
    }

    #[test]
    fn a_failed_invariant_is_a_fault() {
        let mut tx = Transaction::<Check>::new();
        tx.invariant(action()).check(Check::First, action());
        let result = tx.refusal(vec![reason("ConditionalCheckFailed"), reason("None")]);
        assert!(matches!(result, Err(StoreError::Fault(_))));
    }
}
