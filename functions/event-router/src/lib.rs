//! Event router: the consumer of the table's stream (DynamoDB Streams → Lambda, batches of
//! up to 100 records, `ReportBatchItemFailures`, bisect on error, an on-failure queue). Each
//! record is decoded into changes (`shared::storage::changes`) and its consequences queued
//! (`shared::service::router`).
//!
//! Order and failures: records of one item are handled in stream order, items concurrently.
//! A record that fails (a queue or the table unreachable) is reported, and so are the later
//! records of its item, so Lambda re-delivers from there; the consumers are idempotent, so
//! records re-delivered after one that failed repeat nothing visible. A record that can never
//! succeed (its images do not decode) is a poison record: it goes to the dead-letter queue
//! with its content and never holds up the records after it.

use std::collections::BTreeMap;
use std::convert::Infallible;

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use futures::{stream, StreamExt};
use shared::queue::Queue;
use shared::service::router::route;
use shared::storage::changes::{decode, item_of};
use shared::AppContext;

/// Items whose records are routed at once.
const CONCURRENCY: usize = 16;

pub struct EventRouter {
    pub ctx: AppContext,
    /// `ROUTER_DEAD_LETTER_URL`: where poison records go (the event source mapping's
    /// on-failure destination is the same queue, for records that ran out of retries).
    pub dead_letters: Option<Queue>,
}

impl EventRouter {
    pub fn new(ctx: AppContext, sdk: &aws_config::SdkConfig) -> Result<Self, String> {
        let dead_letters = std::env::var("ROUTER_DEAD_LETTER_URL")
            .ok()
            .filter(|url| !url.is_empty())
            .map(|url| Queue::new(aws_sdk_sqs::Client::new(sdk), url));
        Ok(Self { ctx, dead_letters })
    }
}

/// How one record ended.
enum Outcome {
    Done,
    /// To be re-delivered (with every later record of its item).
    Failed,
}

pub async fn handle(
    router: &EventRouter,
    event: Event,
) -> Result<DynamoDbEventResponse, Infallible> {
    // Each item's records, in stream order.
    let mut by_item: BTreeMap<String, Vec<EventRecord>> = BTreeMap::new();
    for record in event.records {
        by_item.entry(item_of(&record)).or_default().push(record);
    }
    let failed: Vec<String> = stream::iter(by_item.into_values())
        .map(|records| route_item(router, records))
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<Vec<String>>>()
        .await
        .into_iter()
        .flatten()
        .collect();
    let mut response = DynamoDbEventResponse::default();
    for sequence_number in failed {
        let mut failure = DynamoDbBatchItemFailure::default();
        failure.item_identifier = Some(sequence_number);
        response.batch_item_failures.push(failure);
    }
    Ok(response)
}

/// Routes one item's records in order; the sequence numbers of the failed one and after.
async fn route_item(router: &EventRouter, records: Vec<EventRecord>) -> Vec<String> {
    let mut records = records.into_iter();
    while let Some(record) = records.next() {
        if let Outcome::Failed = route_record(router, &record).await {
            return std::iter::once(record)
                .chain(records)
                .filter_map(|record| record.change.sequence_number)
                .collect();
        }
    }
    Vec::new()
}

async fn route_record(router: &EventRouter, record: &EventRecord) -> Outcome {
    let decoded = match decode(record) {
        Ok(decoded) => decoded,
        Err(err) => return park(router, record, &err.to_string()).await,
    };
    if decoded.changes.is_empty() {
        return Outcome::Done;
    }
    match route(&router.ctx, &decoded).await {
        Ok(outbox) => {
            tracing::debug!(
                event_id = decoded.event_id,
                fanout = outbox.fanout.len(),
                emails = outbox.emails.len(),
                assistant = outbox.assistant.len(),
                maintenance = outbox.maintenance.len(),
                webhooks = outbox.webhooks.len(),
                "routed"
            );
            Outcome::Done
        }
        Err(err) => {
            tracing::warn!(event_id = decoded.event_id, error = %err.log_detail(), "routing failed; the record will be retried");
            Outcome::Failed
        }
    }
}

/// Sends a poison record to the dead-letter queue, content and reason, so it can be looked
/// at and replayed; if that queue cannot take it now, the record is retried instead.
async fn park(router: &EventRouter, record: &EventRecord, reason: &str) -> Outcome {
    tracing::error!(event_id = record.event_id, reason, "poison stream record");
    let Some(dead_letters) = &router.dead_letters else {
        return Outcome::Done;
    };
    let parked = serde_json::json!({ "reason": reason, "record": record });
    match dead_letters.send(&parked).await {
        Ok(()) => Outcome::Done,
        Err(err) => {
            tracing::warn!(error = %err.log_detail(), "the dead-letter queue did not take a poison record");
            Outcome::Failed
        }
    }
}
