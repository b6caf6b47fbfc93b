//! The SQS event source, the way Lambda runs one: long-polls a queue on moto, hands each batch
//! to the worker's handler as a real `SqsEvent`, deletes the records the handler did not
//! report as failed, and leaves the failed ones to reappear after the visibility timeout (and,
//! after `maxReceiveCount` receives, to move to the dead-letter queue).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use assistant_worker::AssistantWorker;
use attachment_worker::AttachmentWorker;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, MessageSystemAttributeName, QueueAttributeName,
};
use email_worker::EmailWorker;
use fanout_worker::FanoutWorker;
use maintenance_worker::MaintenanceWorker;
use serde_json::{json, Value};
use shared::routes::QueueBinding;
use webhook_worker::WebhookWorker;

use crate::bootstrap::BoxError;

/// The worker behind a queue.
#[derive(Clone)]
pub enum Worker {
    Email(Arc<EmailWorker>),
    Assistant(Arc<AssistantWorker>),
    Maintenance(Arc<MaintenanceWorker>),
    Fanout(Arc<FanoutWorker>),
    Webhook(Arc<WebhookWorker>),
    Attachment(Arc<AttachmentWorker>),
}

impl Worker {
    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        let response = match self {
            Self::Email(worker) => email_worker::handle(worker, event).await,
            Self::Assistant(worker) => assistant_worker::handle(worker, event).await,
            Self::Maintenance(worker) => maintenance_worker::handle(worker, event).await,
            Self::Fanout(worker) => fanout_worker::handle(worker, event).await,
            Self::Webhook(worker) => webhook_worker::handle(worker, event).await,
            Self::Attachment(worker) => attachment_worker::handle(worker, event).await,
        };
        let Ok(response) = response;
        response
    }
}

/// How many pollers the gateway runs on a worker's queue. Lambda scales an SQS event source
/// out with the backlog; the fan-out queue is the one whose jobs must run in parallel (the
/// chunks of one big channel's event), so it gets several.
pub fn local_pollers(function: &str) -> usize {
    if function == shared::routes::FANOUT_WORKER {
        4
    } else {
        1
    }
}

/// One queue's polling settings.
#[derive(Clone, Debug)]
pub struct EventSource {
    pub queue_url: String,
    pub batch_size: i32,
    pub visibility_timeout_seconds: i32,
    /// Long-poll wait per receive (Lambda's pollers use 20 s; shorter stops faster).
    pub wait_seconds: i32,
    /// The queue takes S3 notifications, whose bodies moto leaves incomplete.
    pub s3_notifications: bool,
}

impl EventSource {
    pub fn new(queue_url: String, binding: &QueueBinding) -> Self {
        Self {
            queue_url,
            batch_size: binding.batch_size,
            visibility_timeout_seconds: binding.visibility_timeout_seconds,
            wait_seconds: 2,
            s3_notifications: binding.function == shared::routes::ATTACHMENT_WORKER,
        }
    }
}

/// Polls `source` forever (until the task is dropped), invoking `worker` per batch.
pub async fn poll(sqs: aws_sdk_sqs::Client, source: EventSource, worker: Worker) {
    let arn = loop {
        match queue_arn(&sqs, &source.queue_url).await {
            Ok(arn) => break arn,
            Err(err) => {
                tracing::warn!(queue = source.queue_url, error = %err, "cannot read the queue yet; retrying");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
    };
    loop {
        if let Err(err) = poll_once(&sqs, &source, &arn, &worker).await {
            tracing::warn!(queue = source.queue_url, error = %err, "polling failed; retrying");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

/// One receive, one invocation, one delete. The number of records handed to the worker.
pub async fn poll_once(
    sqs: &aws_sdk_sqs::Client,
    source: &EventSource,
    arn: &str,
    worker: &Worker,
) -> Result<usize, BoxError> {
    let wait = Duration::from_secs(u64::try_from(source.wait_seconds).unwrap_or(0));
    let received = sqs
        .receive_message()
        .queue_url(&source.queue_url)
        .max_number_of_messages(source.batch_size.clamp(1, 10))
        .visibility_timeout(source.visibility_timeout_seconds)
        .wait_time_seconds(source.wait_seconds)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .message_attribute_names("All")
        // The functions' SDK config gives up on an attempt after 2 s, shorter than a long
        // poll: without this every empty poll would time out (and a message moto handed out
        // just then would wait for its visibility timeout).
        .customize()
        .config_override(
            aws_sdk_sqs::config::Builder::default().timeout_config(
                aws_sdk_sqs::config::timeout::TimeoutConfig::builder()
                    .operation_attempt_timeout(wait + Duration::from_secs(5))
                    .operation_timeout(wait + Duration::from_secs(10))
                    .build(),
            ),
        )
        .send()
        .await?;
    let messages = received.messages.unwrap_or_default();
    if messages.is_empty() {
        return Ok(0);
    }
    let records: Vec<Value> = messages
        .iter()
        .map(|message| {
            let attributes: serde_json::Map<String, Value> = message
                .attributes
                .iter()
                .flatten()
                .map(|(name, value)| (name.as_str().to_string(), json!(value)))
                .collect();
            let body = match &message.body {
                Some(body) if source.s3_notifications => Some(crate::s3_events::as_aws_sends(body)),
                other => other.clone(),
            };
            json!({
                "messageId": message.message_id,
                "receiptHandle": message.receipt_handle,
                "body": body,
                "attributes": attributes,
                "messageAttributes": {},
                "md5OfBody": message.md5_of_body,
                "eventSource": "aws:sqs",
                "eventSourceARN": arn,
                "awsRegion": arn.split(':').nth(3).unwrap_or("us-east-1"),
            })
        })
        .collect();
    let event: SqsEvent = serde_json::from_value(json!({ "Records": records }))?;
    let response = worker.handle(event).await;
    let failed: HashSet<String> = response
        .batch_item_failures
        .iter()
        .map(|failure| failure.item_identifier.clone())
        .collect();
    let ids: HashSet<&str> = messages
        .iter()
        .filter_map(|m| m.message_id.as_deref())
        .collect();
    if failed.iter().any(|id| !ids.contains(id.as_str())) {
        // As Lambda does: a failure naming no record of the batch fails the whole batch.
        tracing::error!(
            queue = source.queue_url,
            "the worker reported an unknown record; the whole batch will be retried"
        );
        return Ok(messages.len());
    }
    let done: Vec<DeleteMessageBatchRequestEntry> = messages
        .iter()
        .filter(|m| !failed.contains(m.message_id.as_deref().unwrap_or_default()))
        .enumerate()
        .filter_map(|(n, m)| {
            DeleteMessageBatchRequestEntry::builder()
                .id(n.to_string())
                .receipt_handle(m.receipt_handle.clone()?)
                .build()
                .ok()
        })
        .collect();
    if !done.is_empty() {
        let deleted = sqs
            .delete_message_batch()
            .queue_url(&source.queue_url)
            .set_entries(Some(done))
            .send()
            .await?;
        if !deleted.failed.is_empty() {
            tracing::warn!(
                queue = source.queue_url,
                failed = deleted.failed.len(),
                "some handled records could not be deleted; they will be delivered again"
            );
        }
    }
    Ok(messages.len())
}

pub async fn queue_arn(sqs: &aws_sdk_sqs::Client, url: &str) -> Result<String, BoxError> {
    Ok(sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await?
        .attributes
        .and_then(|mut attrs| attrs.remove(&QueueAttributeName::QueueArn))
        .ok_or("the queue has no ARN")?)
}
