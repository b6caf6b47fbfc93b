//! Counts what a DynamoDB client does, for benchmarks: requests sent (retries included) and
//! items read (items returned by GetItem, BatchGetItem and Query), through an SDK interceptor.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use aws_sdk_dynamodb::config::interceptors::{
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemOutput;
use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
use aws_sdk_dynamodb::operation::query::QueryOutput;

#[derive(Debug, Clone, Default)]
pub struct DynamoMeter {
    calls: Arc<AtomicU64>,
    items_read: Arc<AtomicU64>,
}

/// What happened since the last `take`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Metered {
    pub calls: u64,
    pub items_read: u64,
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

    pub fn take(&self) -> Metered {
        Metered {
            calls: self.calls.swap(0, Ordering::Relaxed),
            items_read: self.items_read.swap(0, Ordering::Relaxed),
        }
    }
}

impl Intercept for DynamoMeter {
    fn name(&self) -> &'static str {
        "DynamoMeter"
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
        Ok(())
    }
}
