//! The delivery ledger: what earlier runs of a fan-out chunk or a webhook delivery achieved,
//! so a redelivered job neither repeats a push that landed nor skips one that did not.

use std::collections::BTreeSet;

use aws_sdk_dynamodb::types::AttributeValue;

use super::error::{db_error, StoreError};
use super::keys;
use super::{s, Store};
use crate::domain::{ConnectionId, Timestamp};

/// Longer than any queue keeps a job (4 days by default, 14 at most).
const LEDGER_TTL_SECONDS: i64 = 15 * 86_400;

/// What the ledger says about one job.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Ledger {
    /// Nothing recorded: no earlier run finished any of it.
    #[default]
    New,
    /// Some targets got it; the rest are to be retried.
    Partial(BTreeSet<ConnectionId>),
    /// All of it is done.
    Done,
}

impl Store {
    pub async fn ledger(&self, job: &str) -> Result<Ledger, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(keys::ledger_key(job)))
            .consistent_read(true)
            .send()
            .await
            .map_err(db_error)?;
        let Some(item) = output.item else {
            return Ok(Ledger::New);
        };
        if matches!(item.get("done"), Some(AttributeValue::Bool(true))) {
            return Ok(Ledger::Done);
        }
        let delivered = match item.get("delivered") {
            Some(AttributeValue::Ss(ids)) => ids
                .iter()
                .filter_map(|id| ConnectionId::parse(id))
                .collect(),
            _ => BTreeSet::new(),
        };
        Ok(Ledger::Partial(delivered))
    }

    /// Records a job's progress (one PutItem): all done, or the targets reached so far.
    pub async fn record_ledger(&self, job: &str, ledger: &Ledger) -> Result<(), StoreError> {
        let mut item = keys::ledger_key(job);
        item.insert("entity".into(), s("delivery_ledger"));
        item.insert(
            keys::TTL.into(),
            AttributeValue::N((Timestamp::now().unix_seconds() + LEDGER_TTL_SECONDS).to_string()),
        );
        match ledger {
            Ledger::New => return Ok(()),
            Ledger::Done => {
                item.insert("done".into(), AttributeValue::Bool(true));
            }
            Ledger::Partial(delivered) => {
                item.insert("done".into(), AttributeValue::Bool(false));
                if !delivered.is_empty() {
                    item.insert(
                        "delivered".into(),
                        AttributeValue::Ss(delivered.iter().map(ToString::to_string).collect()),
                    );
                }
            }
        }
        self.put(item).await
    }
}
