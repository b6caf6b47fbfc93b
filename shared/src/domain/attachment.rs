//! Attachments: what may be uploaded (type, size, name), what the bytes must be to match
//! the declared type, and an attachment as every answer shows it.

use serde::{Deserialize, Serialize};

use super::{AttachmentId, ChannelId, FieldErrors, Invalid, MessageId, Timestamp, UserId};

/// The types an attachment may declare. Office documents are recognized by their container
/// (zip for the current formats, the compound file for the older ones).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ContentType {
    #[serde(rename = "image/png")]
    Png,
    #[serde(rename = "image/jpeg")]
    Jpeg,
    #[serde(rename = "image/gif")]
    Gif,
    #[serde(rename = "image/webp")]
    Webp,
    #[serde(rename = "application/pdf")]
    Pdf,
    #[serde(rename = "text/plain")]
    Text,
    #[serde(rename = "application/zip")]
    Zip,
    #[serde(rename = "application/vnd.openxmlformats-officedocument.wordprocessingml.document")]
    Docx,
    #[serde(rename = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")]
    Xlsx,
    #[serde(rename = "application/vnd.openxmlformats-officedocument.presentationml.presentation")]
    Pptx,
    #[serde(rename = "application/msword")]
    Doc,
    #[serde(rename = "application/vnd.ms-excel")]
    Xls,
    #[serde(rename = "application/vnd.ms-powerpoint")]
    Ppt,
}

/// What a file's first bytes say it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Container {
    Png,
    Jpeg,
    Gif,
    Webp,
    Pdf,
    Zip,
    CompoundFile,
    Text,
}

impl ContentType {
    pub const ALL: [ContentType; 13] = [
        Self::Png,
        Self::Jpeg,
        Self::Gif,
        Self::Webp,
        Self::Pdf,
        Self::Text,
        Self::Zip,
        Self::Docx,
        Self::Xlsx,
        Self::Pptx,
        Self::Doc,
        Self::Xls,
        Self::Ppt,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
            Self::Gif => "image/gif",
            Self::Webp => "image/webp",
            Self::Pdf => "application/pdf",
            Self::Text => "text/plain",
            Self::Zip => "application/zip",
            Self::Docx => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            Self::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Self::Pptx => {
                "application/vnd.openxmlformats-officedocument.presentationml.presentation"
            }
            Self::Doc => "application/msword",
            Self::Xls => "application/vnd.ms-excel",
            Self::Ppt => "application/vnd.ms-powerpoint",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        let raw = raw.trim().to_ascii_lowercase();
        Self::ALL.into_iter().find(|kind| kind.as_str() == raw)
    }

    /// Images get decoded, measured and thumbnailed.
    pub fn is_image(self) -> bool {
        matches!(self, Self::Png | Self::Jpeg | Self::Gif | Self::Webp)
    }

    fn container(self) -> Container {
        match self {
            Self::Png => Container::Png,
            Self::Jpeg => Container::Jpeg,
            Self::Gif => Container::Gif,
            Self::Webp => Container::Webp,
            Self::Pdf => Container::Pdf,
            Self::Text => Container::Text,
            Self::Zip | Self::Docx | Self::Xlsx | Self::Pptx => Container::Zip,
            Self::Doc | Self::Xls | Self::Ppt => Container::CompoundFile,
        }
    }

    /// Whether `bytes` (the whole object, or at least its start) are this type: the magic
    /// number of its container, or for text valid UTF-8 with no NUL.
    pub fn matches(self, bytes: &[u8]) -> bool {
        let starts = |magic: &[u8]| bytes.starts_with(magic);
        match self.container() {
            Container::Png => starts(b"\x89PNG\r\n\x1a\n"),
            Container::Jpeg => starts(b"\xff\xd8\xff"),
            Container::Gif => starts(b"GIF87a") || starts(b"GIF89a"),
            Container::Webp => bytes.len() >= 12 && starts(b"RIFF") && &bytes[8..12] == b"WEBP",
            Container::Pdf => starts(b"%PDF-"),
            // A local file header, or the end record of an empty archive.
            Container::Zip => starts(b"PK\x03\x04") || starts(b"PK\x05\x06"),
            Container::CompoundFile => starts(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"),
            Container::Text => std::str::from_utf8(bytes).is_ok() && !bytes.contains(&0),
        }
    }
}

/// An attachment's file name as shown: 1 to 255 characters after trimming, no control
/// characters and no path separators.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AttachmentName(String);

impl AttachmentName {
    pub const MAX_CHARS: usize = 255;

    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let name = raw.trim();
        if name.is_empty() {
            return Err("must not be empty");
        }
        if name.chars().count() > Self::MAX_CHARS {
            return Err("must be at most 255 characters");
        }
        if name
            .chars()
            .any(|c| c.is_control() || c == '/' || c == '\\')
        {
            return Err("must not contain control characters or path separators");
        }
        Ok(Self(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why an upload may not be made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UploadRefused {
    Invalid(Invalid),
    /// Over the largest attachment (`MAX_ATTACHMENT_BYTES`).
    TooLarge {
        max: u64,
    },
}

/// A validated `POST /channels/{id}/attachments`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewAttachment {
    pub name: AttachmentName,
    pub content_type: ContentType,
    pub size: u64,
}

impl NewAttachment {
    pub fn parse(
        name: &str,
        content_type: &str,
        size: i64,
        max_bytes: u64,
    ) -> Result<Self, UploadRefused> {
        let mut errors = FieldErrors::new();
        let name = AttachmentName::parse(name)
            .map_err(|reason| errors.insert("name".into(), reason.into()))
            .ok();
        let content_type = ContentType::parse(content_type);
        if content_type.is_none() {
            errors.insert(
                "content_type".into(),
                "must be one of the types attachments may have (see the API reference)".into(),
            );
        }
        let size = u64::try_from(size).ok().filter(|size| *size >= 1);
        if size.is_none() {
            errors.insert("size".into(), "must be at least 1 byte".into());
        }
        match (name, content_type, size) {
            (Some(name), Some(content_type), Some(size)) if errors.is_empty() => {
                if size > max_bytes {
                    return Err(UploadRefused::TooLarge { max: max_bytes });
                }
                Ok(Self {
                    name,
                    content_type,
                    size,
                })
            }
            _ => Err(UploadRefused::Invalid(Invalid::Fields(errors))),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AttachmentStatus {
    /// Uploaded (or about to be), not checked yet.
    Pending,
    Ready,
    /// Refused by the check; its object is deleted.
    Rejected,
}

/// Why the check refused an upload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckRefusal {
    /// The object's size is not the one declared.
    SizeMismatch,
    /// Its bytes are not the declared type.
    WrongType,
    /// An image that does not decode.
    Undecodable,
    /// An image of more pixels than `MAX_IMAGE_PIXELS` (a decompression bomb, or just huge).
    TooManyPixels,
    /// Uploaded after its form expired (S3 refuses that itself; emulators may not).
    Late,
}

impl CheckRefusal {
    /// The `reason` an attachment shows.
    pub fn reason(self) -> &'static str {
        match self {
            Self::SizeMismatch => "the file's size is not the one declared",
            Self::WrongType => "the file's content is not of the declared type",
            Self::Undecodable => "the image could not be read",
            Self::TooManyPixels => "the image has too many pixels",
            Self::Late => "the file arrived after its upload form expired",
        }
    }
}

/// What S3 says of an uploaded object, before its bytes are read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredObject {
    pub size: u64,
    pub content_type: Option<String>,
    pub uploaded_at: Timestamp,
}

/// The longest an upload started before its form expired may still be arriving.
const LATE_ARRIVAL_GRACE_MILLIS: i64 = 5 * 60 * 1000;

/// The most pixels an image may have (a 64-megapixel photo; a decompression bomb has more).
pub const MAX_IMAGE_PIXELS: u64 = 64_000_000;

/// The long side of a thumbnail, at most.
pub const THUMBNAIL_MAX_SIDE: u32 = 320;

/// At most this many attachments on one message.
pub const MAX_ATTACHMENTS_PER_MESSAGE: usize = 10;

/// An attachment as answers show it; `url` and `thumbnail_url` are presigned GET URLs, valid
/// 15 minutes, present when it is ready.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Attachment {
    pub id: AttachmentId,
    pub channel_id: ChannelId,
    pub uploader_id: UserId,
    #[schema(value_type = String)]
    pub name: AttachmentName,
    #[schema(value_type = String)]
    pub content_type: ContentType,
    pub size: u64,
    pub status: AttachmentStatus,
    /// Why it was rejected
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail_url: Option<String>,
    pub created_at: Timestamp,
    /// The message it is attached to, once it is (not shown)
    #[serde(skip)]
    pub message_id: Option<MessageId>,
}

/// Why an attachment may not go on a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttachRefused {
    /// Not found in this channel, or uploaded by someone else.
    NotYours,
    Rejected,
    /// On another message already.
    Taken,
}

impl Attachment {
    /// The checks that need no bytes: the object arrived while its form was valid (a
    /// transfer started in time may take as long again, up to 5 minutes), and it has the
    /// declared size and type.
    pub fn check_object(
        &self,
        object: &StoredObject,
        form_valid_millis: i64,
    ) -> Result<(), CheckRefusal> {
        let grace = form_valid_millis.clamp(0, LATE_ARRIVAL_GRACE_MILLIS);
        let deadline = self.created_at.unix_millis() + form_valid_millis + grace;
        if object.uploaded_at.unix_millis() > deadline {
            return Err(CheckRefusal::Late);
        }
        if object.size != self.size {
            return Err(CheckRefusal::SizeMismatch);
        }
        let declared = object.content_type.as_deref().and_then(ContentType::parse);
        if declared != Some(self.content_type) {
            return Err(CheckRefusal::WrongType);
        }
        Ok(())
    }

    /// A ready image has a thumbnail (the check makes one for every image it accepts).
    pub fn has_thumbnail(&self) -> bool {
        self.status == AttachmentStatus::Ready && self.content_type.is_image()
    }

    /// Whether `sender` may put it on a new message.
    pub fn ensure_attachable(&self, sender: &UserId) -> Result<(), AttachRefused> {
        if &self.uploader_id != sender {
            return Err(AttachRefused::NotYours);
        }
        if self.status == AttachmentStatus::Rejected {
            return Err(AttachRefused::Rejected);
        }
        if self.message_id.is_some() {
            return Err(AttachRefused::Taken);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_types_are_the_listed_ones_and_their_bytes_are_checked() {
        assert_eq!(ContentType::parse("IMAGE/PNG"), Some(ContentType::Png));
        assert_eq!(
            ContentType::parse("image/svg+xml"),
            None,
            "scripts hide in SVG"
        );
        assert_eq!(ContentType::parse("text/html"), None);
        assert!(ContentType::Png.matches(b"\x89PNG\r\n\x1a\n...."));
        assert!(!ContentType::Png.matches(b"GIF89a...."));
        assert!(ContentType::Webp.matches(b"RIFF\x00\x00\x00\x00WEBPVP8 "));
        assert!(ContentType::Docx.matches(b"PK\x03\x04...."));
        assert!(ContentType::Xls.matches(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1...."));
        assert!(ContentType::Pdf.matches(b"%PDF-1.7"));
        assert!(ContentType::Text.matches("héllo\n".as_bytes()));
        assert!(!ContentType::Text.matches(b"\x89PNG\r\n\x1a\n\x00"));
        assert!(!ContentType::Pdf.matches(b"MZ\x90\x00 an executable"));
    }

    #[test]
    fn uploads_are_named_typed_and_sized_within_the_limit() {
        let ok = NewAttachment::parse(" photo.png ", "image/png", 2048, 1 << 20).unwrap();
        assert_eq!(ok.name.as_str(), "photo.png");
        assert_eq!(
            NewAttachment::parse("big.png", "image/png", (1 << 20) + 1, 1 << 20),
            Err(UploadRefused::TooLarge { max: 1 << 20 })
        );
        for (name, kind, size) in [
            ("", "image/png", 10),
            ("a/b.png", "image/png", 10),
            ("x.exe", "application/x-msdownload", 10),
            ("empty.txt", "text/plain", 0),
            ("negative.txt", "text/plain", -5),
        ] {
            assert!(
                matches!(
                    NewAttachment::parse(name, kind, size, 1 << 20),
                    Err(UploadRefused::Invalid(_))
                ),
                "{name} {kind} {size}"
            );
        }
    }

    fn pending_png(created_at: Timestamp) -> Attachment {
        Attachment {
            id: AttachmentId::generate(),
            channel_id: ChannelId::generate(),
            uploader_id: UserId::generate(),
            name: AttachmentName::parse("a.png").unwrap(),
            content_type: ContentType::Png,
            size: 100,
            status: AttachmentStatus::Pending,
            reason: None,
            width: None,
            height: None,
            url: None,
            thumbnail_url: None,
            created_at,
            message_id: None,
        }
    }

    #[test]
    fn an_object_must_arrive_in_time_with_the_declared_size_and_type() {
        let created = Timestamp::from_unix_millis(1_000_000_000_000).unwrap();
        let attachment = pending_png(created);
        let at = |millis: i64| Timestamp::from_unix_millis(created.unix_millis() + millis).unwrap();
        let object = |size: u64, kind: &str, uploaded_at: Timestamp| StoredObject {
            size,
            content_type: Some(kind.into()),
            uploaded_at,
        };
        let valid = 15 * 60 * 1000;
        assert_eq!(
            attachment.check_object(&object(100, "image/png", at(1_000)), valid),
            Ok(())
        );
        // A transfer started in time may still be arriving (5 minutes at most).
        let late_but_in_grace = at(valid + 4 * 60 * 1000);
        assert_eq!(
            attachment.check_object(&object(100, "image/png", late_but_in_grace), valid),
            Ok(())
        );
        assert_eq!(
            attachment.check_object(&object(100, "image/png", at(valid + 6 * 60 * 1000)), valid),
            Err(CheckRefusal::Late)
        );
        // A short form gets as short a grace.
        assert_eq!(
            attachment.check_object(&object(100, "image/png", at(2_500)), 1_000),
            Err(CheckRefusal::Late)
        );
        assert_eq!(
            attachment.check_object(&object(101, "image/png", at(1_000)), valid),
            Err(CheckRefusal::SizeMismatch)
        );
        assert_eq!(
            attachment.check_object(&object(100, "application/pdf", at(1_000)), valid),
            Err(CheckRefusal::WrongType)
        );
    }
}
