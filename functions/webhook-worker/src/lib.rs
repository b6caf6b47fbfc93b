//! Webhook worker: POSTs each queued event to `WEBHOOK_URL`, signed (see
//! `shared::service::webhooks`). A receiver that is down, slow (over 5 s) or answers non-2xx
//! gets the same body again after a doubling backoff; after 5 tries the queue moves it to the
//! dead-letter queue (alarmed). One job never holds up another: each is its own record.

use std::convert::Infallible;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use shared::service::webhooks::{Posted, WebhookSender};
use shared::worker::{process_batch, retry_later};
use shared::AppContext;

const CONCURRENCY: usize = 10;

pub struct WebhookWorker {
    pub ctx: AppContext,
    pub sender: WebhookSender,
}

impl WebhookWorker {
    pub fn new(ctx: AppContext, _sdk: &aws_config::SdkConfig) -> Result<Self, String> {
        Ok(Self {
            ctx,
            sender: WebhookSender::new()?,
        })
    }
}

pub async fn handle(
    worker: &WebhookWorker,
    event: SqsEvent,
) -> Result<SqsBatchResponse, Infallible> {
    let ctx = &worker.ctx;
    Ok(process_batch(event, CONCURRENCY, |record| async move {
        let body = record.body.as_deref().unwrap_or_default();
        match worker.sender.deliver(ctx, body).await {
            Ok(Posted::Delivered) => Ok(()),
            Ok(Posted::AlreadyDelivered) => {
                tracing::info!("delivered by an earlier try");
                Ok(())
            }
            Ok(Posted::NotConfigured) => {
                tracing::warn!("no WEBHOOK_URL configured; delivery dropped");
                Ok(())
            }
            Err(err) => {
                if err.status() >= 500 {
                    retry_later(
                        &ctx.webhooks,
                        &record,
                        ctx.config.limits.webhook_retry_base_seconds,
                    )
                    .await;
                }
                Err(err)
            }
        }
    })
    .await)
}
