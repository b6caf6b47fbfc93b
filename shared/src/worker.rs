//! The edge shared by the queue and stream workers: the function `main`, and a batch runner that
//! handles records concurrently and reports the failed ones (partial batch response), so a
//! bad record is retried alone and, after `maxReceiveCount` tries, lands in the dead-letter
//! queue while the rest of its batch succeeds.

use std::convert::Infallible;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use futures::{stream, StreamExt};
use serde::de::DeserializeOwned;

use crate::error::AppError;
use crate::AppContext;

/// The whole `main` of a worker (an SQS or stream consumer): JSON logs, configuration and
/// clients built once (`build` adds the worker's own from the same SDK configuration, or names
/// what is misconfigured), then the runtime loop.
pub async fn run_worker<T, E, R, B, F, Fut>(build: B, handle: F) -> Result<(), lambda_http::Error>
where
    T: Send + Sync + 'static,
    E: serde::de::DeserializeOwned + Send + 'static,
    R: serde::Serialize + Send + 'static,
    B: FnOnce(AppContext, &aws_config::SdkConfig) -> Result<T, String>,
    F: Fn(&'static T, E) -> Fut,
    Fut: std::future::Future<Output = Result<R, Infallible>> + Send,
{
    run_worker_built(|ctx, sdk| std::future::ready(build(ctx, &sdk)), handle).await
}

/// As `run_worker`, for a worker whose state is built asynchronously (a secret it reads once
/// at the start of the instance).
pub async fn run_worker_built<T, E, R, B, Built, F, Fut>(
    build: B,
    handle: F,
) -> Result<(), lambda_http::Error>
where
    T: Send + Sync + 'static,
    E: serde::de::DeserializeOwned + Send + 'static,
    R: serde::Serialize + Send + 'static,
    B: FnOnce(AppContext, aws_config::SdkConfig) -> Built,
    Built: std::future::Future<Output = Result<T, String>>,
    F: Fn(&'static T, E) -> Fut,
    Fut: std::future::Future<Output = Result<R, Infallible>> + Send,
{
    let mut clock = crate::telemetry::InitClock::start();
    crate::telemetry::init();
    clock.phase("logs");
    let config = crate::config::Config::from_env()?;
    clock.phase("config");
    let sdk = crate::context::load_sdk_config().await;
    clock.phase("aws_config");
    let ctx = AppContext::new(config, &sdk);
    clock.phase("clients");
    let state: &'static T = Box::leak(Box::new(build(ctx, sdk).await?));
    clock.phase("worker");
    clock.finish();
    lambda_http::lambda_runtime::run(lambda_http::service_fn(
        move |event: lambda_http::LambdaEvent<E>| handle(state, event.payload),
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

/// Sets a failed record's next delivery `base` × 2^(tries − 1) seconds out (at most 15 min),
/// so a failing dependency is retried with backoff rather than at the visibility timeout.
/// Best effort: if this fails, the record still comes back after its visibility timeout.
pub async fn retry_later(queue: &crate::queue::Queue, record: &SqsMessage, base_seconds: u32) {
    let tries = record
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|count| count.parse::<u32>().ok())
        .unwrap_or(1);
    let Some(receipt) = record.receipt_handle.as_deref() else {
        return;
    };
    if let Err(err) = queue
        .retry_after(receipt, backoff_seconds(base_seconds, tries))
        .await
    {
        tracing::warn!(error = %err.log_detail(), "could not set the retry's backoff");
    }
}

/// The wait before retry `tries` (1 after the first delivery): `base` doubled each time, at
/// most 15 minutes.
pub fn backoff_seconds(base: u32, tries: u32) -> i32 {
    let exponent = tries.saturating_sub(1).min(16);
    let seconds = u64::from(base.max(1)) << exponent;
    seconds.min(900) as i32
}

/// A record's body as `T`; a body that is not one is a (permanent) bad request.
pub fn body<T: DeserializeOwned>(record: &SqsMessage) -> Result<T, AppError> {
    let raw = record.body.as_deref().unwrap_or_default();
    serde_json::from_str(raw)
        .map_err(|err| AppError::BadRequest(format!("the record is not a valid job: {err}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_up_to_a_cap() {
        assert_eq!(backoff_seconds(30, 1), 30);
        assert_eq!(backoff_seconds(30, 2), 60);
        assert_eq!(backoff_seconds(30, 4), 240);
        assert_eq!(backoff_seconds(30, 40), 900);
        assert_eq!(backoff_seconds(0, 1), 1);
    }
}
