//! Attachments: the presigned upload a member asks for, an attachment with fresh download
//! URLs, the worker's check of an uploaded object, and deleting uploads with what they were
//! on. The bytes never pass through a function: clients upload to and download from S3.

use std::time::Duration;

use serde::Serialize;

use super::messages::member_of;
use crate::domain::Caller;
use crate::domain::{
    Attachment, AttachmentId, AttachmentStatus, ChannelId, CheckRefusal, NewAttachment, NotFound,
    Timestamp, UploadRefused,
};
use crate::error::AppError;
use crate::objects::{object_key, thumbnail_key, Objects, UploadForm};
use crate::storage::{CheckResult, UploadRef};
use crate::AppContext;

/// `POST /channels/{id}/attachments`: the attachment (pending) and how to upload it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Upload {
    pub attachment: Attachment,
    pub upload: UploadForm,
    /// When the upload form stops working
    pub expires_at: Timestamp,
}

fn objects(ctx: &AppContext) -> Result<&Objects, AppError> {
    ctx.objects
        .as_ref()
        .ok_or(AppError::Unavailable("file storage"))
}

impl From<UploadRefused> for AppError {
    fn from(refused: UploadRefused) -> Self {
        match refused {
            UploadRefused::Invalid(invalid) => invalid.into(),
            UploadRefused::TooLarge { max } => {
                AppError::TooLarge(format!("an attachment may have at most {max} bytes"))
            }
        }
    }
}

/// A member asks to upload a file: the attachment is recorded (pending; deleted after a day
/// unless a message takes it) and a presigned upload of exactly that file is answered.
pub async fn start_upload(
    ctx: &AppContext,
    caller: &Caller,
    channel_id: &ChannelId,
    name: &str,
    content_type: &str,
    size: i64,
) -> Result<Upload, AppError> {
    let objects = objects(ctx)?;
    let new = NewAttachment::parse(
        name,
        content_type,
        size,
        ctx.config.limits.max_attachment_bytes,
    )?;
    let context = ctx
        .store
        .message_context(channel_id, &caller.id, None, None)
        .await?;
    member_of(&context, caller)?;
    let now = Timestamp::now();
    let attachment = Attachment {
        id: AttachmentId::generate(),
        channel_id: channel_id.clone(),
        uploader_id: caller.id.clone(),
        name: new.name,
        content_type: new.content_type,
        size: new.size,
        status: AttachmentStatus::Pending,
        reason: None,
        width: None,
        height: None,
        url: None,
        thumbnail_url: None,
        created_at: now,
        message_id: None,
    };
    let limits = &ctx.config.limits;
    ctx.store
        .create_attachment(
            &attachment,
            now.unix_seconds() + i64::from(limits.unattached_upload_seconds),
        )
        .await?;
    let valid_for = Duration::from_secs(u64::from(limits.upload_url_seconds));
    let upload = objects
        .upload_form(
            &object_key(channel_id, &attachment.id),
            attachment.content_type.as_str(),
            attachment.size,
            valid_for,
        )
        .await?;
    let expires_at = Timestamp::from_unix_millis(
        now.unix_millis() + i64::from(limits.upload_url_seconds) * 1000,
    )
    .unwrap_or(now);
    Ok(Upload {
        attachment,
        upload,
        expires_at,
    })
}

/// `GET /channels/{id}/attachments/{aid}`: for members, with download URLs when ready.
pub async fn get(
    ctx: &AppContext,
    caller: &Caller,
    channel_id: &ChannelId,
    id: &AttachmentId,
) -> Result<Attachment, AppError> {
    let (context, found) = tokio::try_join!(
        ctx.store
            .message_context(channel_id, &caller.id, None, None),
        ctx.store.attachments(channel_id, std::slice::from_ref(id))
    )?;
    member_of(&context, caller)?;
    let attachment = found.into_iter().next().ok_or(NotFound::Attachment)?;
    with_urls(ctx, attachment).await
}

/// An attachment with presigned download URLs when it is ready (no I/O: signing is local).
pub async fn with_urls(
    ctx: &AppContext,
    mut attachment: Attachment,
) -> Result<Attachment, AppError> {
    if attachment.status == AttachmentStatus::Ready {
        let objects = objects(ctx)?;
        attachment.url = Some(
            objects
                .download_url(&object_key(&attachment.channel_id, &attachment.id))
                .await?,
        );
        if attachment.has_thumbnail() {
            attachment.thumbnail_url = Some(
                objects
                    .download_url(&thumbnail_key(&attachment.channel_id, &attachment.id))
                    .await?,
            );
        }
    }
    Ok(attachment)
}

/// What the worker's inspection of an object's bytes found (`Ok`: a ready file, with an
/// image's size and thumbnail).
pub type Inspection = Result<Option<InspectedImage>, CheckRefusal>;

/// A decoded image: its size and a thumbnail (JPEG).
pub struct InspectedImage {
    pub width: u32,
    pub height: u32,
    pub thumbnail: Vec<u8>,
}

/// Checks one uploaded object (an S3 event's key) against its attachment: its size, then its
/// bytes with `inspect` (the type's magic number, and for images a bounded decode and a
/// thumbnail). A pending attachment becomes ready, or rejected with its object deleted; a
/// settled one (a redelivered event) or an unknown key changes nothing.
pub async fn check_upload(
    ctx: &AppContext,
    key: &str,
    inspect: impl FnOnce(&Attachment, &[u8]) -> Inspection,
) -> Result<(), AppError> {
    let objects = objects(ctx)?;
    let Some(upload) = crate::objects::upload_of(key) else {
        tracing::warn!(key, "an object outside the attachment keys; ignored");
        return Ok(());
    };
    let found = ctx
        .store
        .attachments(
            &upload.channel_id,
            std::slice::from_ref(&upload.attachment_id),
        )
        .await?;
    let Some(attachment) = found.into_iter().next() else {
        // Swept or deleted already: the object has no owner.
        objects.delete(&[key.to_string()]).await?;
        return Ok(());
    };
    if attachment.status != AttachmentStatus::Pending {
        return Ok(());
    }
    let Some(object) = objects.head(key).await? else {
        return Ok(());
    };
    let form_valid_millis = i64::from(ctx.config.limits.upload_url_seconds) * 1000;
    let verdict = match attachment.check_object(&object, form_valid_millis) {
        Ok(()) => {
            let bytes = objects.read(key).await?;
            inspect(&attachment, &bytes)
        }
        Err(refusal) => Err(refusal),
    };
    let result = match verdict {
        Ok(image) => {
            let (width, height) = match image {
                Some(image) => {
                    objects
                        .write(
                            &thumbnail_key(&upload.channel_id, &upload.attachment_id),
                            image.thumbnail,
                            "image/jpeg",
                        )
                        .await?;
                    (Some(image.width), Some(image.height))
                }
                None => (None, None),
            };
            CheckResult::Ready { width, height }
        }
        Err(refusal) => {
            objects.delete(&[key.to_string()]).await?;
            CheckResult::Rejected {
                reason: refusal.reason(),
            }
        }
    };
    ctx.store.settle_attachment(&upload, &result).await?;
    Ok(())
}

/// Deletes uploads: their objects first (thumbnails included), then their items.
pub async fn delete_uploads(
    ctx: &AppContext,
    uploads: &[(UploadRef, crate::domain::UserId)],
) -> Result<(), AppError> {
    let objects = objects(ctx)?;
    for (upload, uploader) in uploads {
        objects
            .delete(&[
                object_key(&upload.channel_id, &upload.attachment_id),
                thumbnail_key(&upload.channel_id, &upload.attachment_id),
            ])
            .await?;
        ctx.store.forget_upload(upload, uploader).await?;
    }
    Ok(())
}
