//! Sends an `Email` with SES (v1 `SendEmail`), from the configured sender.

use aws_sdk_ses::error::{DisplayErrorContext, SdkError};
use aws_sdk_ses::types::{Body, Content, Destination, Message};

use super::Email;
use crate::error::AppError;

#[derive(Clone)]
pub struct Mailer {
    client: aws_sdk_ses::Client,
    sender: String,
}

impl Mailer {
    pub fn new(client: aws_sdk_ses::Client, sender: impl Into<String>) -> Self {
        Self {
            client,
            sender: sender.into(),
        }
    }

    /// Sends one email; the SES message id.
    pub async fn send(&self, to: &str, email: &Email) -> Result<String, AppError> {
        let content = |text: &str| {
            Content::builder()
                .data(text)
                .charset("UTF-8")
                .build()
                .map_err(AppError::internal)
        };
        let message = Message::builder()
            .subject(content(&email.subject)?)
            .body(
                Body::builder()
                    .text(content(&email.text)?)
                    .html(content(&email.html)?)
                    .build(),
            )
            .build();
        let output = self
            .client
            .send_email()
            .source(&self.sender)
            .destination(Destination::builder().to_addresses(to).build())
            .message(message)
            .send()
            .await
            .map_err(|err| match err {
                SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => {
                    AppError::Unavailable("the mail service")
                }
                other => {
                    AppError::internal(format!("SendEmail failed: {}", DisplayErrorContext(other)))
                }
            })?;
        Ok(output.message_id)
    }
}
