//! Sends an `Email` with SES (v1 `SendEmail`), from the configured sender.

use aws_sdk_ses::error::{DisplayErrorContext, SdkError};
use aws_sdk_ses::types::{Body, Content, Destination, Message};

use super::Email;
use crate::error::AppError;

/// Why an email was not (known to be) sent.
#[derive(Debug)]
pub enum SendError {
    /// Nothing reached SES, or SES refused it: sending again is safe.
    NotSent(AppError),
    /// SES may have accepted it (a timeout, an unreadable answer): sending again may duplicate.
    Unknown(AppError),
}

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
    pub async fn send(&self, to: &str, email: &Email) -> Result<String, SendError> {
        let content = |text: &str| {
            Content::builder()
                .data(text)
                .charset("UTF-8")
                .build()
                .map_err(|err| SendError::NotSent(AppError::internal(err)))
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
                // The connection failed (SES unreachable), or SES answered with an error:
                // nothing was accepted.
                SdkError::DispatchFailure(ref failure) if failure.is_io() => {
                    SendError::NotSent(AppError::Unavailable("the mail service"))
                }
                SdkError::ServiceError(_) | SdkError::ConstructionFailure(_) => SendError::NotSent(
                    AppError::internal(format!("SendEmail failed: {}", DisplayErrorContext(err))),
                ),
                // A timeout or a broken response: SES may have accepted the email.
                other => SendError::Unknown(AppError::internal(format!(
                    "SendEmail outcome unknown: {}",
                    DisplayErrorContext(other)
                ))),
            })?;
        Ok(output.message_id)
    }
}
