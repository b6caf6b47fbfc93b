//! Attachment worker: S3 `ObjectCreated` events (through SQS) for uploaded attachments. Each
//! object is checked against what its uploader declared: its size, and its bytes against the
//! declared type (the magic number; an image must decode within a pixel limit, and gets a
//! thumbnail of at most 320 px on its long side). The attachment becomes `ready`, or
//! `rejected` with its object deleted; the event router pushes `attachment.updated`.
//! Re-delivered events change nothing (only a pending attachment is checked).

use std::convert::Infallible;
use std::io::Cursor;

use aws_lambda_events::event::s3::S3Event;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use image::imageops::FilterType;
use image::{ImageFormat, ImageReader, Limits};
use shared::domain::{Attachment, CheckRefusal, ContentType, MAX_IMAGE_PIXELS, THUMBNAIL_MAX_SIDE};
use shared::error::AppError;
use shared::service::attachments::{check_upload, InspectedImage, Inspection};
use shared::worker::process_batch;
use shared::AppContext;

/// Objects checked at once (each may be 25 MiB in memory).
const CONCURRENCY: usize = 2;

pub struct AttachmentWorker {
    pub ctx: AppContext,
}

impl AttachmentWorker {
    pub fn new(ctx: AppContext, _sdk: &aws_config::SdkConfig) -> Result<Self, String> {
        if ctx.objects.is_none() {
            return Err("ATTACHMENTS_BUCKET is not set".into());
        }
        Ok(Self { ctx })
    }
}

pub async fn handle(
    worker: &AttachmentWorker,
    event: SqsEvent,
) -> Result<SqsBatchResponse, Infallible> {
    Ok(process_batch(event, CONCURRENCY, |record| async move {
        for key in object_keys(record.body.as_deref().unwrap_or_default())? {
            check_upload(&worker.ctx, &key, inspect).await?;
        }
        Ok(())
    })
    .await)
}

/// The object keys an S3 notification (an SQS body) names, decoded. S3's test event (sent
/// when the notification is set up) names none.
pub fn object_keys(body: &str) -> Result<Vec<String>, AppError> {
    let value: serde_json::Value = serde_json::from_str(body)
        .map_err(|err| AppError::BadRequest(format!("not an S3 event: {err}")))?;
    if value.get("Event").and_then(|e| e.as_str()) == Some("s3:TestEvent") {
        return Ok(Vec::new());
    }
    let event: S3Event = serde_json::from_value(value)
        .map_err(|err| AppError::BadRequest(format!("not an S3 event: {err}")))?;
    Ok(event
        .records
        .into_iter()
        .filter(|record| {
            record
                .event_name
                .as_deref()
                .is_some_and(|name| name.starts_with("ObjectCreated:"))
        })
        .filter_map(|record| record.s3.object.key)
        // Keys come URL-encoded, with '+' for spaces.
        .map(|key| {
            percent_encoding::percent_decode_str(&key.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect())
}

/// The check of an object's bytes against its attachment's declared type.
pub fn inspect(attachment: &Attachment, bytes: &[u8]) -> Inspection {
    if !attachment.content_type.matches(bytes) {
        return Err(CheckRefusal::WrongType);
    }
    if !attachment.content_type.is_image() {
        return Ok(None);
    }
    inspect_image(attachment.content_type, bytes).map(Some)
}

/// Decodes an image within limits (its header's size is checked before any pixel is), and
/// makes a JPEG thumbnail of at most `THUMBNAIL_MAX_SIDE` on the long side.
pub fn inspect_image(kind: ContentType, bytes: &[u8]) -> Result<InspectedImage, CheckRefusal> {
    let format = match kind {
        ContentType::Png => ImageFormat::Png,
        ContentType::Jpeg => ImageFormat::Jpeg,
        ContentType::Gif => ImageFormat::Gif,
        ContentType::Webp => ImageFormat::WebP,
        _ => return Err(CheckRefusal::WrongType),
    };
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let (width, height) = reader
        .into_dimensions()
        .map_err(|_| CheckRefusal::Undecodable)?;
    if u64::from(width) * u64::from(height) > MAX_IMAGE_PIXELS {
        return Err(CheckRefusal::TooManyPixels);
    }
    reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    // Room for the decoded pixels (4 bytes each) and no more.
    limits.max_alloc = Some(MAX_IMAGE_PIXELS * 4 + (1 << 20));
    reader.limits(limits);
    let image = reader.decode().map_err(|_| CheckRefusal::Undecodable)?;
    // Never enlarged: a small image is its own thumbnail (as a JPEG).
    let thumbnail = if width.max(height) > THUMBNAIL_MAX_SIDE {
        image.resize(THUMBNAIL_MAX_SIDE, THUMBNAIL_MAX_SIDE, FilterType::Triangle)
    } else {
        image
    };
    let mut encoded = Cursor::new(Vec::new());
    thumbnail
        .to_rgb8()
        .write_to(&mut encoded, ImageFormat::Jpeg)
        .map_err(|_| CheckRefusal::Undecodable)?;
    Ok(InspectedImage {
        width,
        height,
        thumbnail: encoded.into_inner(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let image = image::RgbImage::from_pixel(width, height, image::Rgb([200, 30, 30]));
        let mut bytes = Cursor::new(Vec::new());
        image.write_to(&mut bytes, ImageFormat::Png).unwrap();
        bytes.into_inner()
    }

    #[test]
    fn an_image_is_measured_and_thumbnailed_within_320_px() {
        let inspected = inspect_image(ContentType::Png, &png(1200, 600)).unwrap();
        assert_eq!((inspected.width, inspected.height), (1200, 600));
        let thumbnail = image::load_from_memory(&inspected.thumbnail).unwrap();
        assert_eq!((thumbnail.width(), thumbnail.height()), (320, 160));
        let small = inspect_image(ContentType::Png, &png(40, 20)).unwrap();
        let thumbnail = image::load_from_memory(&small.thumbnail).unwrap();
        assert_eq!(
            (thumbnail.width(), thumbnail.height()),
            (40, 20),
            "never enlarged"
        );
    }

    #[test]
    fn a_bomb_is_refused_before_its_pixels_are_decoded() {
        // A valid PNG header claiming 100,000 × 100,000 pixels (10 gigapixels), then the
        // pixel data of one.
        let mut bomb = png(1, 1);
        bomb[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        bomb[20..24].copy_from_slice(&100_000u32.to_be_bytes());
        let crc = crc32fast::hash(&bomb[12..29]);
        bomb[29..33].copy_from_slice(&crc.to_be_bytes());
        assert_eq!(
            inspect_image(ContentType::Png, &bomb).err(),
            Some(CheckRefusal::TooManyPixels)
        );
        let mut broken = png(10, 10);
        broken.truncate(40);
        assert_eq!(
            inspect_image(ContentType::Png, &broken).err(),
            Some(CheckRefusal::Undecodable)
        );
    }

    #[test]
    fn s3_notifications_name_their_keys_decoded_and_test_events_none() {
        let test_event = r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"b"}"#;
        assert!(object_keys(test_event).unwrap().is_empty());
        let created = serde_json::json!({"Records": [{
            "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
            "eventTime": "2026-12-07T10:00:00.000Z", "eventName": "ObjectCreated:Post",
            "userIdentity": {"principalId": "AWS:AROAEXAMPLE"},
            "requestParameters": {"sourceIPAddress": "203.0.113.7"},
            "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810"},
            "s3": {"s3SchemaVersion": "1.0", "configurationId": "c",
                   "bucket": {"name": "b", "arn": "arn:aws:s3:::b"},
                   "object": {"key": "attachments%2Fc%2Fa+b", "size": 3}}
        }]});
        assert_eq!(
            object_keys(&created.to_string()).unwrap(),
            ["attachments/c/a b"]
        );
        assert!(object_keys("not json").is_err());
    }
}
