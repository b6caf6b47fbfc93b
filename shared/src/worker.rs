//! The SQS edge shared by the queue workers: the function `main`, and a batch runner that
//! handles records concurrently and reports the failed ones (partial batch response), so a
//! bad record is retried alone and, after `maxReceiveCount` tries, lands in the dead-letter
//! queue while the rest of its batch succeeds.

use std::convert::Infallible;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use futures::{stream, StreamExt};
use serde::de::DeserializeOwned;

use crate::error::AppError;
use crate::AppContext;

/// The whole `main` of a worker: JSON logs, configuration and clients built once (`build`
/// adds the worker's own from the same SDK configuration, or names what is misconfigured),
/// then the runtime loop.
pub async fn run_worker<T, B, F, Fut>(build: B, handle: F) -> Result<(), lambda_http::Error>
where
    T: Send + Sync + 'static,
    B: FnOnce(AppContext, &aws_config::SdkConfig) -> Result<T, String>,
    F: Fn(&'static T, SqsEvent) -> Fut,
    Fut: std::future::Future<Output = Result<SqsBatchResponse, Infallible>> + Send,
{
    crate::telemetry::init();
    let config = crate::config::Config::from_env()?;
    let sdk = crate::context::load_sdk_config().await;
    let state: &'static T = Box::leak(Box::new(build(AppContext::new(config, &sdk), &sdk)?));
    lambda_http::lambda_runtime::run(lambda_http::service_fn(
        move |event: lambda_http::LambdaEvent<SqsEvent>| handle(state, event.payload),
    ))
    .await
}

/// Runs `process` on every record, `concurrency` at a time; the records it fails on are
/// reported for redelivery.
pub async fn process_batch<F, Fut>(
    event: SqsEvent,
    concurrency: usize,
    process: F,
) -> SqsBatchResponse
where
    F: Fn(SqsMessage) -> Fut,
    Fut: std::future::Future<Output = Result<(), AppError>>,
{
    let failed: Vec<String> = stream::iter(event.records)
        .map(|record| {
            let id = record.message_id.clone().unwrap_or_default();
            let receive_count = record
                .attributes
                .get("ApproximateReceiveCount")
                .cloned()
                .unwrap_or_default();
            let outcome = process(record);
            async move {
                match outcome.await {
                    Ok(()) => None,
                    Err(err) => {
                        if err.status() >= 500 {
                            tracing::error!(message_id = %id, receive_count, error = %err.log_detail(), "record failed; it will be retried");
                        } else {
                            tracing::warn!(message_id = %id, receive_count, error = %err, "record failed; it will be retried");
                        }
                        Some(id)
                    }
                }
            }
        })
        .buffer_unordered(concurrency.max(1))
        .filter_map(|failed| async move { failed })
        .collect()
        .await;
    let mut response = SqsBatchResponse::default();
    for id in failed {
        response.add_failure(id);
    }
    response
}

/// A record's body as `T`; a body that is not one is a (permanent) bad request.
pub fn body<T: DeserializeOwned>(record: &SqsMessage) -> Result<T, AppError> {
    let raw = record.body.as_deref().unwrap_or_default();
    serde_json::from_str(raw)
        .map_err(|err| AppError::BadRequest(format!("the record is not a valid job: {err}")))
}
