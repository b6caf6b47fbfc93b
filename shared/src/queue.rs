//! SQS queues the API writes to: email events for the email worker, maintenance jobs for the
//! maintenance worker. Messages are sent after the change they describe has committed.

use aws_sdk_sqs::error::SdkError;
use serde::{Deserialize, Serialize};

use crate::domain::{
    ChannelId, ConnectionId, Counterpart, MessageId, PartnerRequest, RequestId, Timestamp, UserId,
};
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

/// A job for the maintenance worker: `{"kind": "purge_channel", ...}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MaintenanceJob {
    /// Delete every item of a channel that was marked deleted.
    PurgeChannel {
        channel_id: ChannelId,
        requested_at: Timestamp,
    },
    /// What a deleted account leaves behind: memberships, partnerships, connections (closed
    /// too; their ids are taken from the profile before it is deleted), request copies.
    PurgeAccount {
        user_id: UserId,
        connection_ids: Vec<ConnectionId>,
        requested_at: Timestamp,
    },
}

impl MaintenanceJob {
    pub fn purge_account(user: &UserId, connection_ids: Vec<ConnectionId>) -> Self {
        Self::PurgeAccount {
            user_id: user.clone(),
            connection_ids,
            requested_at: Timestamp::now(),
        }
    }

    pub fn purge_channel(channel: &ChannelId) -> Self {
        Self::PurgeChannel {
            channel_id: channel.clone(),
            requested_at: Timestamp::now(),
        }
    }
}

/// A job for the assistant worker: answer one user message of an assistant channel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssistantJob {
    pub channel_id: ChannelId,
    pub message_id: MessageId,
    pub requested_at: Timestamp,
}

/// One SQS queue.
#[derive(Clone)]
pub struct Queue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl Queue {
    pub fn new(client: aws_sdk_sqs::Client, url: impl Into<String>) -> Self {
        Self {
            client,
            url: url.into(),
        }
    }

    pub async fn send(&self, message: &impl Serialize) -> Result<(), AppError> {
        let body = serde_json::to_string(message).map_err(AppError::internal)?;
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .send()
            .await
            .map_err(|err| match err {
                SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => {
                    AppError::Unavailable("the queue")
                }
                other => {
                    AppError::internal(aws_sdk_sqs::error::DisplayErrorContext(other).to_string())
                }
            })?;
        Ok(())
    }

    /// Sends a message about a change that has already committed. The change stands whatever
    /// happens here, so a failure is logged with what was lost (for a replay), not returned.
    pub async fn send_after_commit(&self, message: &impl Serialize, what: &str) {
        if let Err(err) = self.send(message).await {
            tracing::error!(
                message = %serde_json::to_string(message).unwrap_or_default(),
                error = ?err,
                "{what}: message not queued"
            );
        }
    }
}
