//! Attachments: one item per upload in its channel's partition (`CHAN#<channel>` /
//! `ATT#<id>`), and a reference in its uploader's partition (`USER#<uploader>` /
//! `ATT#<channel>#<id>`), so that purging a channel or an account finds every upload to delete.
//!
//! While an upload is on no message it sits in the `UPLOADS_UNATTACHED` partition of GSI1,
//! sorted by when it expires: the sweep reads the expired ones with a Query (no Scan), and a
//! send that attaches it takes it out in the same transaction.

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use serde::{Deserialize, Serialize};

use super::error::{db_error, done_unless_failed, StoreError};
use super::items::{from_item, to_item};
use super::keys;
use super::{s, Commit, Store, Transaction};
use crate::domain::{
    Attachment, AttachmentId, AttachmentName, AttachmentStatus, ChannelId, ContentType, MessageId,
    Timestamp, UserId,
};

pub(super) const ENTITY: &str = "attachment";

#[derive(Debug, Serialize, Deserialize)]
pub(super) struct AttachmentItem {
    pk: String,
    sk: String,
    entity: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi1pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi1sk: Option<String>,
    pub id: AttachmentId,
    pub channel_id: ChannelId,
    pub uploader_id: UserId,
    pub name: AttachmentName,
    pub content_type: ContentType,
    pub size: u64,
    pub status: AttachmentStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<MessageId>,
    pub created_at: Timestamp,
}

impl AttachmentItem {
    fn upload(self) -> (UploadRef, UserId) {
        (
            UploadRef {
                channel_id: self.channel_id,
                attachment_id: self.id,
            },
            self.uploader_id,
        )
    }
}

impl From<AttachmentItem> for Attachment {
    fn from(item: AttachmentItem) -> Self {
        Self {
            id: item.id,
            channel_id: item.channel_id,
            uploader_id: item.uploader_id,
            name: item.name,
            content_type: item.content_type,
            size: item.size,
            status: item.status,
            reason: item.reason,
            width: item.width,
            height: item.height,
            url: None,
            thumbnail_url: None,
            created_at: item.created_at,
            message_id: item.message_id,
        }
    }
}

/// An attachment item, read.
pub(super) fn attachment_from(item: super::Item) -> Result<Attachment, StoreError> {
    from_item::<AttachmentItem>(item).map(Attachment::from)
}

/// The uploader's reference to an upload.
#[derive(Debug, Serialize, Deserialize)]
struct UploadRefItem {
    pk: String,
    sk: String,
    entity: String,
    channel_id: ChannelId,
    attachment_id: AttachmentId,
}

/// An upload's place: its channel and id (its objects' keys are made of both).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadRef {
    pub channel_id: ChannelId,
    pub attachment_id: AttachmentId,
}

/// The checked state of an upload, as the worker records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckResult {
    Ready {
        width: Option<u32>,
        height: Option<u32>,
    },
    Rejected {
        reason: &'static str,
    },
}

fn unattached_sk(expires_at: i64, id: &AttachmentId) -> String {
    format!("{expires_at:012}#{id}")
}

impl Store {
    /// Records a new upload (pending) and its uploader's reference, in one transaction.
    pub async fn create_attachment(
        &self,
        attachment: &Attachment,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let key = keys::attachment_key(&attachment.channel_id, &attachment.id);
        let item = AttachmentItem {
            pk: super::string_of(&key, keys::PK),
            sk: super::string_of(&key, keys::SK),
            entity: ENTITY.into(),
            gsi1pk: Some(keys::UPLOADS_UNATTACHED.into()),
            gsi1sk: Some(unattached_sk(expires_at, &attachment.id)),
            id: attachment.id.clone(),
            channel_id: attachment.channel_id.clone(),
            uploader_id: attachment.uploader_id.clone(),
            name: attachment.name.clone(),
            content_type: attachment.content_type,
            size: attachment.size,
            status: AttachmentStatus::Pending,
            reason: None,
            width: None,
            height: None,
            message_id: None,
            created_at: attachment.created_at,
        };
        let ref_key = keys::upload_ref_key(
            &attachment.uploader_id,
            &attachment.channel_id,
            &attachment.id,
        );
        let reference = UploadRefItem {
            pk: super::string_of(&ref_key, keys::PK),
            sk: super::string_of(&ref_key, keys::SK),
            entity: "upload_ref".into(),
            channel_id: attachment.channel_id.clone(),
            attachment_id: attachment.id.clone(),
        };
        let mut tx = Transaction::<()>::new();
        tx.invariant(self.put_if_absent(to_item(&item)?, false)?)
            .invariant(self.put_if_absent(to_item(&reference)?, false)?);
        match self.commit(tx).await? {
            Commit::Done => Ok(()),
            Commit::Refused(_) => Err(StoreError::fault("a fresh attachment id was taken")),
        }
    }

    /// Attachments of a channel by id (one BatchGetItem), in the order asked.
    pub async fn attachments(
        &self,
        channel: &ChannelId,
        ids: &[AttachmentId],
    ) -> Result<Vec<Attachment>, StoreError> {
        let wanted = ids
            .iter()
            .map(|id| keys::attachment_key(channel, id))
            .collect();
        let mut found: Vec<Attachment> = self
            .batch_get(wanted, super::Read::Consistent)
            .await?
            .into_iter()
            .map(attachment_from)
            .collect::<Result<_, _>>()?;
        found.sort_by_key(|a| ids.iter().position(|id| id == &a.id));
        Ok(found)
    }

    /// Records the worker's check of a pending upload (a redelivered check of a settled one
    /// changes nothing: `false`).
    pub async fn settle_attachment(
        &self,
        upload: &UploadRef,
        result: &CheckResult,
    ) -> Result<bool, StoreError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::attachment_key(
                &upload.channel_id,
                &upload.attachment_id,
            )))
            .condition_expression("#status = :pending")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":pending", s("pending"));
        let update = match result {
            CheckResult::Ready { width, height } => {
                let mut sets = vec!["#status = :ready"];
                let mut update = update.expression_attribute_values(":ready", s("ready"));
                if let (Some(width), Some(height)) = (width, height) {
                    sets.push("width = :width, height = :height");
                    update = update
                        .expression_attribute_values(":width", AttributeValue::N(width.to_string()))
                        .expression_attribute_values(
                            ":height",
                            AttributeValue::N(height.to_string()),
                        );
                }
                update.update_expression(format!("SET {}", sets.join(", ")))
            }
            CheckResult::Rejected { reason } => update
                .update_expression("SET #status = :rejected, reason = :reason")
                .expression_attribute_values(":rejected", s("rejected"))
                .expression_attribute_values(":reason", s(*reason)),
        };
        super::error::applied(update.send().await)
    }

    /// The send's update of one attachment it takes, as the send read it (the message
    /// keeps a copy): the sender's own upload, on no other message, its status unchanged (a
    /// check settled in between makes the send read again, so the copy is never stale); it
    /// leaves the unattached index.
    pub(super) fn attach(
        &self,
        attachment: &Attachment,
        sender: &UserId,
        message: &MessageId,
    ) -> Result<TransactWriteItem, StoreError> {
        let status =
            serde_dynamo::to_attribute_value(attachment.status).map_err(StoreError::fault)?;
        Ok(TransactWriteItem::builder()
            .update(
                Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(keys::attachment_key(&attachment.channel_id, &attachment.id)))
                    .update_expression("SET message_id = :message REMOVE gsi1pk, gsi1sk")
                    .condition_expression(
                        "uploader_id = :sender AND #status = :as_read AND attribute_not_exists(message_id)",
                    )
                    .expression_attribute_names("#status", "status")
                    .expression_attribute_values(":message", s(message.as_str()))
                    .expression_attribute_values(":sender", s(sender.as_str()))
                    .expression_attribute_values(":as_read", status)
                    .build()
                    .map_err(StoreError::fault)?,
            )
            .build())
    }

    /// Uploads on no message whose time ran out by `now` (one Query of the unattached
    /// index, at most `limit`), with their uploaders.
    pub async fn expired_uploads(
        &self,
        now: Timestamp,
        limit: i32,
    ) -> Result<Vec<(UploadRef, UserId)>, StoreError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(keys::GSI1)
            .key_condition_expression("gsi1pk = :pk AND gsi1sk < :now")
            .expression_attribute_values(":pk", s(keys::UPLOADS_UNATTACHED))
            .expression_attribute_values(":now", s(format!("{:012}", now.unix_seconds())))
            .limit(limit)
            .send()
            .await
            .map_err(db_error)?;
        output
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|item| from_item::<AttachmentItem>(item).map(AttachmentItem::upload))
            .collect()
    }

    /// Up to `limit` uploads of a channel (its purge deletes them first), with their uploaders.
    pub async fn channel_uploads(
        &self,
        channel: &ChannelId,
        limit: i32,
    ) -> Result<Vec<(UploadRef, UserId)>, StoreError> {
        self.query_first_page(keys::channel_pk(channel), keys::ATTACHMENT_PREFIX, limit)
            .await?
            .into_iter()
            .map(|item| from_item::<AttachmentItem>(item).map(AttachmentItem::upload))
            .collect()
    }

    /// Up to `limit` uploads of a user (an account's purge deletes them first).
    pub async fn user_uploads(
        &self,
        user: &UserId,
        limit: i32,
    ) -> Result<Vec<UploadRef>, StoreError> {
        self.query_first_page(keys::user_pk(user), keys::UPLOAD_REF_PREFIX, limit)
            .await?
            .into_iter()
            .map(|item| {
                from_item::<UploadRefItem>(item).map(|item| UploadRef {
                    channel_id: item.channel_id,
                    attachment_id: item.attachment_id,
                })
            })
            .collect()
    }

    /// A message's copy of one of its attachments follows the attachment's check (the
    /// message lists its attachments so reading it reads nothing else).
    pub async fn refresh_attached(
        &self,
        message: &MessageId,
        attachment: &Attachment,
    ) -> Result<(), StoreError> {
        let Some(shown) = self.get_message(&attachment.channel_id, message).await? else {
            return Ok(());
        };
        let Some(index) = shown.attachments.iter().position(|a| a.id == attachment.id) else {
            return Ok(());
        };
        let value = serde_dynamo::to_attribute_value(attachment).map_err(StoreError::fault)?;
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::message_key(&attachment.channel_id, message)))
            .update_expression(format!("SET attachments[{index}] = :attachment"))
            .condition_expression(format!("attachments[{index}].id = :id"))
            .expression_attribute_values(":attachment", value)
            .expression_attribute_values(":id", s(attachment.id.as_str()))
            .send()
            .await;
        done_unless_failed(result)
    }

    /// Forgets an upload whose objects are deleted: its item and its uploader's reference.
    pub async fn forget_upload(
        &self,
        upload: &UploadRef,
        uploader: &UserId,
    ) -> Result<(), StoreError> {
        let item = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(keys::attachment_key(
                &upload.channel_id,
                &upload.attachment_id,
            )))
            .send()
            .await;
        done_unless_failed(item)?;
        let reference = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(keys::upload_ref_key(
                uploader,
                &upload.channel_id,
                &upload.attachment_id,
            )))
            .send()
            .await;
        done_unless_failed(reference)
    }
}
