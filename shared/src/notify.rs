//! The notification queue: events that make the email worker send a message.

use aws_sdk_sqs::error::SdkError;
use serde::{Deserialize, Serialize};

use crate::domain::{Counterpart, PartnerRequest, RequestId, Timestamp};
use crate::error::AppError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum NotificationKind {
    #[serde(rename = "partner_request.created")]
    PartnerRequestCreated,
    #[serde(rename = "partner_request.accepted")]
    PartnerRequestAccepted,
}

/// One queued email event. `event_id` is derived from the request and the kind, so the same
/// event always has the same id and the worker can send it at most once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationEvent {
    pub event_id: String,
    pub kind: NotificationKind,
    pub request_id: RequestId,
    pub sender: Counterpart,
    pub recipient: Counterpart,
    pub occurred_at: Timestamp,
}

impl NotificationEvent {
    pub fn for_request(kind: NotificationKind, request: &PartnerRequest) -> Self {
        let suffix = match kind {
            NotificationKind::PartnerRequestCreated => "created",
            NotificationKind::PartnerRequestAccepted => "accepted",
        };
        Self {
            event_id: format!("partner_request:{}:{suffix}", request.id),
            kind,
            request_id: request.id.clone(),
            sender: request.sender.clone(),
            recipient: request.recipient.clone(),
            occurred_at: request.responded_at.unwrap_or(request.created_at),
        }
    }
}

#[derive(Clone)]
pub struct Notifier {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl Notifier {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }

    pub async fn send(&self, event: &NotificationEvent) -> Result<(), AppError> {
        let body = serde_json::to_string(event).map_err(AppError::internal)?;
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .send()
            .await
            .map_err(|err| match err {
                SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => {
                    AppError::Unavailable("the notification queue")
                }
                other => {
                    AppError::internal(aws_sdk_sqs::error::DisplayErrorContext(other).to_string())
                }
            })?;
        Ok(())
    }

    /// Queues an event after the change it reports has committed. The change stands whatever
    /// happens here, so a failure is logged with the event id (for a replay) and not returned.
    pub async fn send_after_commit(&self, event: &NotificationEvent) {
        if let Err(err) = self.send(event).await {
            tracing::error!(
                event_id = %event.event_id,
                error = ?err,
                "notification not queued; the email for this event will not be sent"
            );
        }
    }
}
