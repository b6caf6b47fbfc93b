//! SQS queues and their jobs: email events, maintenance jobs, assistant jobs, fan-out chunks and
//! webhook deliveries. The event router sends them, from the table's stream, after the change
//! they describe has committed; if a queue is down the stream record is retried, so no job is
//! lost, and every consumer is idempotent, so a retried record repeats nothing visible.

use std::collections::BTreeSet;

use aws_sdk_sqs::error::SdkError;
use serde::{Deserialize, Serialize};

use crate::domain::{
    AttachmentId, ChannelId, ConnectionId, Counterpart, MessageBody, MessageId, PartnerRequest,
    Report, RequestId, Timestamp, UserId, VerificationCode,
};
use crate::error::AppError;
use crate::events::DomainEvent;
use crate::storage::{CodeNotice, DigestNotice, ReportNotice};

/// Which email of a partner request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotificationKind {
    PartnerRequestCreated,
    PartnerRequestAccepted,
}

/// One queued email event. `event_id` is derived from what happened, so the same event always
/// has the same id and the worker can send it at most once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationEvent {
    pub event_id: String,
    #[serde(flatten)]
    pub notice: Notice,
    pub occurred_at: Timestamp,
}

/// What the email tells, by `kind`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum Notice {
    /// To the recipient, naming the sender.
    #[serde(rename = "partner_request.created")]
    PartnerRequestCreated {
        request_id: RequestId,
        sender: Counterpart,
        recipient: Counterpart,
    },
    /// To the sender, naming the recipient.
    #[serde(rename = "partner_request.accepted")]
    PartnerRequestAccepted {
        request_id: RequestId,
        sender: Counterpart,
        recipient: Counterpart,
    },
    /// To the operators (`MODERATION_EMAIL`): the report and the message as it was.
    #[serde(rename = "message.reported")]
    MessageReported {
        report: Report,
        reporter: Counterpart,
        sender: Counterpart,
        body: MessageBody,
        /// This report hid the message (`REPORTS_TO_HIDE`).
        hid: bool,
    },
    /// To the user, verified or not: the code that verifies the address.
    #[serde(rename = "email.verification")]
    EmailVerification {
        user: Counterpart,
        code: VerificationCode,
    },
    /// To a user who was away: who wrote to it and where.
    #[serde(rename = "digest")]
    Digest {
        user: Counterpart,
        senders: BTreeSet<String>,
        places: BTreeSet<String>,
        messages: u32,
    },
}

impl NotificationEvent {
    pub fn for_request(kind: NotificationKind, request: &PartnerRequest) -> Self {
        let (request_id, sender, recipient) = (
            request.id.clone(),
            request.sender.clone(),
            request.recipient.clone(),
        );
        let (suffix, notice) = match kind {
            NotificationKind::PartnerRequestCreated => (
                "created",
                Notice::PartnerRequestCreated {
                    request_id,
                    sender,
                    recipient,
                },
            ),
            NotificationKind::PartnerRequestAccepted => (
                "accepted",
                Notice::PartnerRequestAccepted {
                    request_id,
                    sender,
                    recipient,
                },
            ),
        };
        Self {
            event_id: format!("partner_request:{}:{suffix}", request.id),
            notice,
            occurred_at: request.responded_at.unwrap_or(request.created_at),
        }
    }

    /// One event per code issued: a resend is a new event, a redelivery the same.
    pub fn for_code(notice: &CodeNotice) -> Self {
        Self {
            event_id: format!(
                "email_code:{}:{}",
                notice.user.id,
                notice.issued_at.unix_seconds()
            ),
            occurred_at: notice.issued_at,
            notice: Notice::EmailVerification {
                user: notice.user.clone(),
                code: notice.code.clone(),
            },
        }
    }

    /// One event per digest (the user's and its due time): a redelivery is the same.
    pub fn for_digest(notice: &DigestNotice) -> Self {
        Self {
            event_id: format!("digest:{}:{}", notice.user.id, notice.due_at),
            occurred_at: Timestamp::from_unix_millis(notice.due_at.saturating_mul(1000))
                .unwrap_or_else(Timestamp::now),
            notice: Notice::Digest {
                user: notice.user.clone(),
                senders: notice.senders.clone(),
                places: notice.places.clone(),
                messages: notice.messages,
            },
        }
    }

    pub fn for_report(notice: &ReportNotice) -> Self {
        let report = &notice.report;
        Self {
            event_id: format!("report:{}", report.id),
            occurred_at: report.created_at,
            notice: Notice::MessageReported {
                report: report.clone(),
                reporter: Counterpart {
                    id: report.reporter_id.clone(),
                    name: notice.reporter_name.clone(),
                },
                sender: Counterpart {
                    id: notice.sender_id.clone(),
                    name: notice.sender_name.clone(),
                },
                body: notice.body.clone(),
                hid: notice.hid,
            },
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
    /// Close connections (their sockets and their records): those of ended sessions, or the
    /// oldest of a user over the connection cap.
    CloseConnections {
        user_id: UserId,
        connection_ids: Vec<ConnectionId>,
        requested_at: Timestamp,
    },
    /// Delete uploads (their objects and items): a deleted message's.
    DeleteUploads { uploads: Vec<UploadJob> },
    /// Delete the uploads on no message whose day is over (scheduled hourly).
    SweepUploads,
    /// Move a big channel's members' lists to its newest message (once for all the messages
    /// since the last move).
    MoveLists { channel_id: ChannelId },
    /// Send a user's offline digest once it is due (`due_at`, epoch seconds; the job comes
    /// back until then).
    SendDigest { user_id: UserId, due_at: i64 },
}

impl MaintenanceJob {
    pub fn close_connections(user: &UserId, connection_ids: Vec<ConnectionId>) -> Self {
        Self::CloseConnections {
            user_id: user.clone(),
            connection_ids,
            requested_at: Timestamp::now(),
        }
    }

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

/// One upload to delete.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadJob {
    pub channel_id: ChannelId,
    pub attachment_id: AttachmentId,
    pub uploader_id: UserId,
}

/// A job for the assistant worker: answer one user message of an assistant channel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssistantJob {
    pub channel_id: ChannelId,
    pub message_id: MessageId,
    pub requested_at: Timestamp,
}

/// A chunk of one event's pushes, for the fan-out worker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FanoutJob {
    /// `<event id>#<chunk>`: the same on every delivery, it names the job's delivery ledger.
    pub job_id: String,
    pub event: DomainEvent,
    pub targets: Targets,
}

/// Whom a fan-out job pushes to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Targets {
    /// Every live connection of these users, except `skip` (the sender's, which got an ack).
    Users {
        user_ids: Vec<UserId>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        skip: Option<ConnectionId>,
    },
    /// These connections (a retry of pushes that failed).
    Connections {
        connections: Vec<(UserId, ConnectionId)>,
    },
}

/// One webhook delivery: `{id, type, occurred_at, data}`, POSTed as it is serialized here.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WebhookEvent {
    /// The same on every retry, so the receiver can drop repeats.
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub occurred_at: Timestamp,
    /// The pushed event's fields, without its `type`.
    pub data: serde_json::Value,
}

impl WebhookEvent {
    pub fn of(id: String, event: &DomainEvent, fallback_time: Timestamp) -> Result<Self, AppError> {
        let mut data = serde_json::to_value(event).map_err(AppError::internal)?;
        if let Some(fields) = data.as_object_mut() {
            fields.remove("type");
        }
        Ok(Self {
            id,
            kind: event.kind().to_string(),
            occurred_at: event.occurred_at().unwrap_or(fallback_time),
            data,
        })
    }
}

/// The longest SQS holds a message back before delivering it.
pub const MAX_DELAY_SECONDS: u32 = 900;

/// SendMessageBatch takes 10 entries and 256 KiB at most; a little is kept for the envelope.
const BATCH_ENTRIES: usize = 10;
const BATCH_BYTES: usize = 240 * 1024;

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
            .map_err(queue_error)?;
        Ok(())
    }

    /// Sends every message, ten (or 240 KiB) per SendMessageBatch call; fails if any entry
    /// was not taken (the caller retries all: consumers are idempotent).
    pub async fn send_all<T: Serialize>(&self, messages: &[T]) -> Result<(), AppError> {
        let bodies = messages
            .iter()
            .map(serde_json::to_string)
            .collect::<Result<Vec<_>, _>>()
            .map_err(AppError::internal)?;
        let mut batch: Vec<aws_sdk_sqs::types::SendMessageBatchRequestEntry> = Vec::new();
        let mut bytes = 0;
        for (n, body) in bodies.into_iter().enumerate() {
            if !batch.is_empty()
                && (batch.len() == BATCH_ENTRIES || bytes + body.len() > BATCH_BYTES)
            {
                self.send_batch(std::mem::take(&mut batch)).await?;
                bytes = 0;
            }
            bytes += body.len();
            batch.push(
                aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                    .id(n.to_string())
                    .message_body(body)
                    .build()
                    .map_err(AppError::internal)?,
            );
        }
        if !batch.is_empty() {
            self.send_batch(batch).await?;
        }
        Ok(())
    }

    async fn send_batch(
        &self,
        entries: Vec<aws_sdk_sqs::types::SendMessageBatchRequestEntry>,
    ) -> Result<(), AppError> {
        let output = self
            .client
            .send_message_batch()
            .queue_url(&self.url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(queue_error)?;
        match output.failed.first() {
            None => Ok(()),
            Some(failed) => Err(AppError::internal(format!(
                "{} of a batch not queued: {} {}",
                output.failed.len(),
                failed.code,
                failed.message.as_deref().unwrap_or_default()
            ))),
        }
    }

    /// Sends a message that the queue holds back for `seconds` (at most SQS's 15 minutes).
    pub async fn send_later(&self, message: &impl Serialize, seconds: u32) -> Result<(), AppError> {
        let body = serde_json::to_string(message).map_err(AppError::internal)?;
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .delay_seconds(seconds.min(MAX_DELAY_SECONDS) as i32)
            .send()
            .await
            .map_err(queue_error)?;
        Ok(())
    }

    /// Makes a received message visible again after `seconds` (a retry's backoff).
    pub async fn retry_after(&self, receipt_handle: &str, seconds: i32) -> Result<(), AppError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(seconds)
            .send()
            .await
            .map_err(queue_error)?;
        Ok(())
    }
}

fn queue_error<E, R>(err: SdkError<E, R>) -> AppError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match err {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => {
            AppError::Unavailable("the queue")
        }
        other => AppError::internal(aws_sdk_sqs::error::DisplayErrorContext(other).to_string()),
    }
}
