//! Creates what the template creates on AWS, against the emulators: the table (from the one
//! definition in `shared`), the queues with their dead-letter queues, the verified sender.

use aws_sdk_sqs::types::QueueAttributeName;

/// Tries before a message moves to the dead-letter queue (as in template.yaml).
pub const MAX_RECEIVE_COUNT: u32 = 5;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Creates the table if it is missing (`true`), and gives a table made before the event
/// router existed its stream.
pub async fn ensure_table(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Result<bool, BoxError> {
    let created = shared::storage::schema::create_table(client, table)
        .await
        .map_err(|err| format!("cannot create table {table}: {err:?}"))?;
    if !created {
        shared::storage::schema::ensure_stream(client, table)
            .await
            .map_err(|err| format!("cannot enable the stream of {table}: {err:?}"))?;
    }
    tracing::info!(table, created, "table ready");
    Ok(created)
}

/// Creates `name` and `name-dlq` (idempotent) and returns the main queue's URL.
pub async fn ensure_queue(
    client: &aws_sdk_sqs::Client,
    name: &str,
    visibility_timeout_seconds: i32,
) -> Result<String, BoxError> {
    let dlq_url = client
        .create_queue()
        .queue_name(format!("{name}-dlq"))
        .send()
        .await?
        .queue_url
        .ok_or("no dead-letter queue URL")?;
    let dlq_arn = client
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await?
        .attributes
        .and_then(|mut attrs| attrs.remove(&QueueAttributeName::QueueArn))
        .ok_or("no dead-letter queue ARN")?;
    let redrive = serde_json::json!({
        "deadLetterTargetArn": dlq_arn,
        "maxReceiveCount": MAX_RECEIVE_COUNT.to_string(),
    });
    let url = client
        .create_queue()
        .queue_name(name)
        .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
        .attributes(
            QueueAttributeName::VisibilityTimeout,
            visibility_timeout_seconds.to_string(),
        )
        .send()
        .await?
        .queue_url
        .ok_or("no queue URL")?;
    tracing::info!(queue = name, url, "queue ready");
    Ok(url)
}

/// SES refuses mail from unverified senders; moto verifies at once.
pub async fn verify_sender(client: &aws_sdk_ses::Client, sender: &str) -> Result<(), BoxError> {
    client
        .verify_email_identity()
        .email_address(sender)
        .send()
        .await?;
    tracing::info!(sender, "SES sender verified");
    Ok(())
}

/// Creates the attachment bucket as template.yaml does (idempotent): CORS for the web
/// client's uploads and downloads from `origins`, and its `ObjectCreated` notifications for
/// `attachments/` to the queue `queue_arn`. moto sends them itself (NOTES).
pub async fn ensure_bucket(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    queue_arn: &str,
    origins: &[String],
) -> Result<(), BoxError> {
    use aws_sdk_s3::types::{
        CorsConfiguration, CorsRule, Event, FilterRule, FilterRuleName, NotificationConfiguration,
        NotificationConfigurationFilter, QueueConfiguration, S3KeyFilter,
    };

    match client.create_bucket().bucket(bucket).send().await {
        Ok(_) => {}
        Err(err)
            if err.as_service_error().is_some_and(|e| {
                e.is_bucket_already_owned_by_you() || e.is_bucket_already_exists()
            }) => {}
        Err(err) => return Err(err.into()),
    }
    let cors = CorsRule::builder()
        .set_allowed_origins(Some(origins.to_vec()))
        .allowed_methods("POST")
        .allowed_methods("GET")
        .allowed_headers("*")
        .max_age_seconds(3000)
        .build()?;
    client
        .put_bucket_cors()
        .bucket(bucket)
        .cors_configuration(CorsConfiguration::builder().cors_rules(cors).build()?)
        .send()
        .await?;
    let uploads = QueueConfiguration::builder()
        .queue_arn(queue_arn)
        .events(Event::from("s3:ObjectCreated:*"))
        .filter(
            NotificationConfigurationFilter::builder()
                .key(
                    S3KeyFilter::builder()
                        .filter_rules(
                            FilterRule::builder()
                                .name(FilterRuleName::Prefix)
                                .value(shared::objects::OBJECT_PREFIX)
                                .build(),
                        )
                        .build(),
                )
                .build(),
        )
        .build()?;
    client
        .put_bucket_notification_configuration()
        .bucket(bucket)
        .notification_configuration(
            NotificationConfiguration::builder()
                .queue_configurations(uploads)
                .build(),
        )
        .send()
        .await?;
    tracing::info!(bucket, "attachment bucket ready");
    Ok(())
}
