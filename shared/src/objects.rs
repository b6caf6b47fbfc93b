//! Attachment objects in S3: presigned uploads and downloads for clients, and the reads,
//! writes and deletes of the workers.
//!
//! An upload is a presigned POST form, because its policy is what makes S3 itself enforce
//! the declared upload: the exact key, `Content-Type` and size (`content-length-range`), for
//! 15 minutes. (A presigned PUT cannot bound the size on every S3 implementation.) The
//! policy is signed with SigV4 from the function's own credentials; the signing primitives
//! are `aws-sigv4`'s, the SDK's own.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::ProvideCredentials;
use aws_sdk_s3::presigning::PresigningConfig;
use base64::Engine;
use serde::Serialize;

use crate::error::AppError;

use crate::domain::{AttachmentId, ChannelId, StoredObject, Timestamp};
use crate::storage::UploadRef;

/// The prefix of uploaded objects (the bucket notifies the attachment worker of these only).
pub const OBJECT_PREFIX: &str = "attachments/";
const THUMBNAIL_PREFIX: &str = "thumbnails/";

/// Where an attachment's file is: `attachments/<channel>/<attachment>` (its bucket
/// notification goes to the attachment worker).
pub fn object_key(channel: &ChannelId, attachment: &AttachmentId) -> String {
    format!("{OBJECT_PREFIX}{channel}/{attachment}")
}

/// Where an image attachment's thumbnail is (outside the notified prefix).
pub fn thumbnail_key(channel: &ChannelId, attachment: &AttachmentId) -> String {
    format!("{THUMBNAIL_PREFIX}{channel}/{attachment}")
}

/// The upload an object key is of (S3 events carry keys URL-encoded; this takes them decoded).
pub fn upload_of(key: &str) -> Option<UploadRef> {
    let (channel, attachment) = key.strip_prefix(OBJECT_PREFIX)?.split_once('/')?;
    Some(UploadRef {
        channel_id: ChannelId::parse(channel)?,
        attachment_id: AttachmentId::parse(attachment)?,
    })
}

/// How long a presigned download works.
pub const PRESIGNED_FOR: Duration = Duration::from_secs(15 * 60);

/// A presigned upload, as `POST /channels/{id}/attachments` answers it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct UploadForm {
    /// Always `POST`: a multipart form of `fields`, then the file as the field `file`
    pub method: &'static str,
    pub url: String,
    pub fields: BTreeMap<String, String>,
}

/// An S3 client; path-style for an emulator (`AWS_ENDPOINT_URL_S3`), which serves buckets by
/// path, not by host name.
pub fn s3_client(sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let emulated =
        std::env::var("AWS_ENDPOINT_URL_S3").is_ok() || std::env::var("AWS_ENDPOINT_URL").is_ok();
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(emulated)
            .build(),
    )
}

/// The attachment bucket.
#[derive(Clone)]
pub struct Objects {
    client: aws_sdk_s3::Client,
    credentials: aws_credential_types::provider::SharedCredentialsProvider,
    region: String,
    bucket: String,
    /// Where uploads go: the bucket's own address on AWS, or `<endpoint>/<bucket>` for an
    /// S3 emulator at `AWS_ENDPOINT_URL_S3` (path-style).
    upload_url: String,
}

impl Objects {
    pub fn new(sdk: &aws_config::SdkConfig, bucket: &str) -> Result<Self, AppError> {
        let region = sdk
            .region()
            .map(|region| region.to_string())
            .ok_or_else(|| AppError::internal("no AWS region configured"))?;
        let credentials = sdk
            .credentials_provider()
            .ok_or_else(|| AppError::internal("no AWS credentials provider"))?;
        let endpoint = std::env::var("AWS_ENDPOINT_URL_S3")
            .or_else(|_| std::env::var("AWS_ENDPOINT_URL"))
            .ok();
        let upload_url = match &endpoint {
            Some(endpoint) => format!("{}/{bucket}", endpoint.trim_end_matches('/')),
            None => format!("https://{bucket}.s3.{region}.amazonaws.com"),
        };
        Ok(Self {
            client: s3_client(sdk),
            credentials,
            region,
            bucket: bucket.to_string(),
            upload_url,
        })
    }

    /// A form that uploads exactly `size` bytes of `content_type` to `key`, for `valid_for`
    /// from now.
    pub async fn upload_form(
        &self,
        key: &str,
        content_type: &str,
        size: u64,
        valid_for: Duration,
    ) -> Result<UploadForm, AppError> {
        let credentials = self
            .credentials
            .provide_credentials()
            .await
            .map_err(AppError::internal)?;
        let now = SystemTime::now();
        let stamp = chrono::DateTime::<chrono::Utc>::from(now);
        let date = stamp.format("%Y%m%d").to_string();
        let amz_date = stamp.format("%Y%m%dT%H%M%SZ").to_string();
        let expiration = (stamp + valid_for)
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string();
        let credential = format!(
            "{}/{date}/{}/s3/aws4_request",
            credentials.access_key_id(),
            self.region
        );
        let mut fields = BTreeMap::from([
            ("key".to_string(), key.to_string()),
            ("Content-Type".to_string(), content_type.to_string()),
            (
                "x-amz-algorithm".to_string(),
                "AWS4-HMAC-SHA256".to_string(),
            ),
            ("x-amz-credential".to_string(), credential),
            ("x-amz-date".to_string(), amz_date),
        ]);
        if let Some(token) = credentials.session_token() {
            fields.insert("x-amz-security-token".into(), token.to_string());
        }
        let mut conditions: Vec<serde_json::Value> = vec![
            serde_json::json!({ "bucket": self.bucket }),
            serde_json::json!(["content-length-range", size, size]),
        ];
        conditions.extend(
            fields
                .iter()
                .map(|(name, value)| serde_json::json!({ name: value })),
        );
        let policy = serde_json::json!({ "expiration": expiration, "conditions": conditions });
        let policy = base64::engine::general_purpose::STANDARD.encode(policy.to_string());
        let signing_key = aws_sigv4::sign::v4::generate_signing_key(
            credentials.secret_access_key(),
            now,
            &self.region,
            "s3",
        );
        let signature = aws_sigv4::sign::v4::calculate_signature(signing_key, policy.as_bytes());
        fields.insert("policy".into(), policy);
        fields.insert("x-amz-signature".into(), signature);
        Ok(UploadForm {
            method: "POST",
            url: self.upload_url.clone(),
            fields,
        })
    }

    /// A presigned GET of `key`, valid `PRESIGNED_FOR`.
    pub async fn download_url(&self, key: &str) -> Result<String, AppError> {
        let config = PresigningConfig::expires_in(PRESIGNED_FOR).map_err(AppError::internal)?;
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(config)
            .await
            .map_err(AppError::internal)?;
        Ok(request.uri().to_string())
    }

    /// What S3 says of `key` (size, type, when it was uploaded), if it exists.
    pub async fn head(&self, key: &str) -> Result<Option<StoredObject>, AppError> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(head) => Ok(Some(StoredObject {
                size: u64::try_from(head.content_length().unwrap_or(0)).unwrap_or(0),
                content_type: head.content_type().map(str::to_string),
                uploaded_at: head
                    .last_modified()
                    .and_then(|at| at.to_millis().ok())
                    .and_then(Timestamp::from_unix_millis)
                    .unwrap_or_else(Timestamp::now),
            })),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(None),
            Err(err) => Err(s3_error(err)),
        }
    }

    /// The bytes of `key`.
    pub async fn read(&self, key: &str) -> Result<Vec<u8>, AppError> {
        let object = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(s3_error)?;
        let bytes = object.body.collect().await.map_err(AppError::internal)?;
        Ok(bytes.into_bytes().to_vec())
    }

    pub async fn write(
        &self,
        key: &str,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> Result<(), AppError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(bytes.into())
            .send()
            .await
            .map_err(s3_error)?;
        Ok(())
    }

    /// Deletes `keys` (gone already is fine).
    pub async fn delete(&self, keys: &[String]) -> Result<(), AppError> {
        for key in keys {
            self.client
                .delete_object()
                .bucket(&self.bucket)
                .key(key)
                .send()
                .await
                .map_err(s3_error)?;
        }
        Ok(())
    }
}

/// An S3 failure: unreachable is a retryable 503, anything else a fault.
fn s3_error<E, R>(err: aws_sdk_s3::error::SdkError<E, R>) -> AppError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match err {
        aws_sdk_s3::error::SdkError::DispatchFailure(_)
        | aws_sdk_s3::error::SdkError::TimeoutError(_) => AppError::Unavailable("file storage"),
        other => AppError::internal(aws_sdk_s3::error::DisplayErrorContext(other).to_string()),
    }
}
