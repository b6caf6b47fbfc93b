//! Counts what a DynamoDB client does, for benchmarks: requests sent (retries included), items
//! read (items returned by GetItem, BatchGetItem and Query), and the read and write capacity
//! units DynamoDB reports, through an SDK interceptor that asks every request for
//! `ReturnConsumedCapacity: TOTAL` (the application's own requests never pay for that).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use aws_sdk_dynamodb::config::interceptors::{
    BeforeSerializationInterceptorContextMut, BeforeTransmitInterceptorContextRef,
    FinalizerInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::operation::batch_get_item::{BatchGetItemInput, BatchGetItemOutput};
use aws_sdk_dynamodb::operation::batch_write_item::{BatchWriteItemInput, BatchWriteItemOutput};
use aws_sdk_dynamodb::operation::delete_item::{DeleteItemInput, DeleteItemOutput};
use aws_sdk_dynamodb::operation::get_item::{GetItemInput, GetItemOutput};
use aws_sdk_dynamodb::operation::put_item::{PutItemInput, PutItemOutput};
use aws_sdk_dynamodb::operation::query::{QueryInput, QueryOutput};
use aws_sdk_dynamodb::operation::transact_get_items::{
    TransactGetItemsInput, TransactGetItemsOutput,
};
use aws_sdk_dynamodb::operation::transact_write_items::{
    TransactWriteItemsInput, TransactWriteItemsOutput,
};
use aws_sdk_dynamodb::operation::update_item::{UpdateItemInput, UpdateItemOutput};
use aws_sdk_dynamodb::types::{ConsumedCapacity, ReturnConsumedCapacity};

#[derive(Debug, Clone, Default)]
pub struct DynamoMeter {
    calls: Arc<AtomicU64>,
    items_read: Arc<AtomicU64>,
    /// Capacity units in thousandths, so they add up atomically.
    read_milliunits: Arc<AtomicU64>,
    write_milliunits: Arc<AtomicU64>,
}

/// What happened since the last `take`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Metered {
    pub calls: u64,
    pub items_read: u64,
    /// Read and write capacity units consumed, in thousandths.
    pub read_milliunits: u64,
    pub write_milliunits: u64,
}

impl Metered {
    pub fn read_units(&self) -> f64 {
        self.read_milliunits as f64 / 1000.0
    }

    pub fn write_units(&self) -> f64 {
        self.write_milliunits as f64 / 1000.0
    }
}

impl DynamoMeter {
    /// A DynamoDB client whose every call this meter sees.
    pub fn client(&self, sdk: &aws_config::SdkConfig) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(sdk)
                .interceptor(self.clone())
                .build(),
        )
    }

    /// The store of `table` over a client this meter sees, as the functions build theirs.
    pub fn store(&self, sdk: &aws_config::SdkConfig, table: &str) -> shared::storage::Store {
        shared::storage::Store::new(
            self.client(sdk),
            table,
            shared::storage::CursorCodec::new(Some(crate::TEST_SECRET)),
        )
    }

    pub fn take(&self) -> Metered {
        Metered {
            calls: self.calls.swap(0, Ordering::Relaxed),
            items_read: self.items_read.swap(0, Ordering::Relaxed),
            read_milliunits: self.read_milliunits.swap(0, Ordering::Relaxed),
            write_milliunits: self.write_milliunits.swap(0, Ordering::Relaxed),
        }
    }
}

/// Sets `ReturnConsumedCapacity: TOTAL` on whichever of the listed inputs `input` is.
macro_rules! ask_for_consumed_capacity {
    ($input:expr, $($kind:ty),+ $(,)?) => {{
        let input = $input;
        $(
            if let Some(input) = input.downcast_mut::<$kind>() {
                input.return_consumed_capacity = Some(ReturnConsumedCapacity::Total);
            }
        )+
    }};
}

/// The capacity units (`units` of the reported capacities) of whichever listed output
/// `output` is; 0 for any other.
macro_rules! consumed_units {
    ($output:expr, $units:expr, $($kind:ty),+ $(,)?) => {{
        let output = $output;
        let mut found = 0;
        $(
            if let Some(o) = output.downcast_ref::<$kind>() {
                found = $units(&o.consumed_capacity().into_iter().collect::<Vec<_>>());
            }
        )+
        found
    }};
}

impl Intercept for DynamoMeter {
    fn name(&self) -> &'static str {
        "DynamoMeter"
    }

    fn modify_before_serialization(
        &self,
        context: &mut BeforeSerializationInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        ask_for_consumed_capacity!(
            context.input_mut(),
            GetItemInput,
            QueryInput,
            BatchGetItemInput,
            TransactGetItemsInput,
            PutItemInput,
            UpdateItemInput,
            DeleteItemInput,
            TransactWriteItemsInput,
            BatchWriteItemInput,
        );
        Ok(())
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(Ok(output)) = context.output_or_error() else {
            return Ok(());
        };
        let items = if let Some(query) = output.downcast_ref::<QueryOutput>() {
            query.count().max(0) as u64
        } else if let Some(batch) = output.downcast_ref::<BatchGetItemOutput>() {
            batch
                .responses()
                .map(|tables| tables.values().map(|items| items.len() as u64).sum())
                .unwrap_or(0)
        } else if let Some(get) = output.downcast_ref::<GetItemOutput>() {
            u64::from(get.item().is_some())
        } else {
            0
        };
        self.items_read.fetch_add(items, Ordering::Relaxed);
        let units = |capacity: &[&ConsumedCapacity]| -> u64 {
            capacity
                .iter()
                .map(|c| (c.capacity_units().unwrap_or(0.0) * 1000.0).round() as u64)
                .sum()
        };
        // Single-item operations report one optional capacity, batches and transactions a
        // list: `.into_iter()` reads both the same way.
        let read = consumed_units!(
            output,
            units,
            GetItemOutput,
            QueryOutput,
            BatchGetItemOutput,
            TransactGetItemsOutput,
        );
        let write = consumed_units!(
            output,
            units,
            PutItemOutput,
            UpdateItemOutput,
            DeleteItemOutput,
            TransactWriteItemsOutput,
            BatchWriteItemOutput,
        );
        self.read_milliunits.fetch_add(read, Ordering::Relaxed);
        self.write_milliunits.fetch_add(write, Ordering::Relaxed);
        Ok(())
    }
}

/// The `p` quantile (0–1) of `sorted` durations: the smallest at or above that share.
pub fn percentile(sorted: &[std::time::Duration], p: f64) -> std::time::Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

/// What `runs` timed requests of one kind took and cost.
pub struct Timed {
    pub p50: std::time::Duration,
    pub p99: std::time::Duration,
    /// What the meter saw over all of them.
    pub cost: Metered,
    /// The last answer's body.
    pub last: serde_json::Value,
}

/// `runs` GETs of `path` by `user`, one after another, each answered 200.
pub async fn time_gets(
    api: &crate::Api,
    meter: &DynamoMeter,
    user: &crate::TestUser,
    path: &str,
    runs: usize,
) -> Timed {
    let mut latencies = Vec::with_capacity(runs);
    let mut last = serde_json::Value::Null;
    meter.take();
    for _ in 0..runs {
        let started = std::time::Instant::now();
        let answer = api.get(user, path).await;
        latencies.push(started.elapsed());
        assert_eq!(answer.status, 200, "{path}: {}", answer.body);
        last = answer.body;
    }
    let cost = meter.take();
    latencies.sort();
    Timed {
        p50: percentile(&latencies, 0.5),
        p99: percentile(&latencies, 0.99),
        cost,
        last,
    }
}
