//! Email worker: a batch of email events from SQS → one SES email each, at most once per
//! event (see `shared::service::notifications`).

use std::convert::Infallible;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use shared::email::Mailer;
use shared::queue::NotificationEvent;
use shared::service::notifications::{send_email, Mailed};
use shared::worker::{body, process_batch};
use shared::AppContext;

/// SES's default sending rate is 14 emails/s; a batch of 10 at once stays below it.
const CONCURRENCY: usize = 10;

pub struct EmailWorker {
    pub ctx: AppContext,
    pub mailer: Mailer,
}

impl EmailWorker {
    pub fn new(ctx: AppContext, sdk: &aws_config::SdkConfig) -> Result<Self, String> {
        let mailer = Mailer::new(aws_sdk_ses::Client::new(sdk), &ctx.config.sender_email);
        Ok(Self { ctx, mailer })
    }
}

pub async fn handle(worker: &EmailWorker, event: SqsEvent) -> Result<SqsBatchResponse, Infallible> {
    Ok(process_batch(event, CONCURRENCY, |record| async move {
        let event: NotificationEvent = body(&record)?;
        let event_id = event.event_id.as_str();
        match send_email(&worker.ctx, &worker.mailer, &event).await? {
            Mailed::Sent(ses_id) => tracing::info!(event_id, ses_id, "email sent"),
            Mailed::Duplicate => tracing::info!(event_id, "already sent by an earlier delivery"),
            Mailed::AddresseeGone => {
                tracing::warn!(
                    event_id,
                    "the addressee's account no longer exists; not sent"
                )
            }
            Mailed::NotWanted => tracing::info!(
                event_id,
                "the addressee takes no notification emails (unverified or turned off); not sent"
            ),
            // Logged where it happened; not retried, so never sent twice.
            Mailed::Unknown => {}
        }
        Ok(())
    })
    .await)
}
