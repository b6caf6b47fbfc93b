//! Email events: one email per event, whatever the queue redelivers.

use crate::domain::Timestamp;
use crate::email::{Addressee, Email, Mailer, SendError};
use crate::error::AppError;
use crate::queue::NotificationEvent;
use crate::storage::EmailClaim;
use crate::AppContext;

/// What handling an email event did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mailed {
    /// Sent; the SES message id.
    Sent(String),
    /// Sent (or skipped) by an earlier delivery of the same event.
    Duplicate,
    /// The addressee's account no longer exists (or, for the operators, no `MODERATION_EMAIL`
    /// is configured): nothing to send, nothing to retry.
    AddresseeGone,
    /// SES may have taken it (a timeout): not retried, so that it is never sent twice.
    Unknown,
}

/// Claims the event's lock, reads the addressee's current email address, renders and sends.
/// A failure before SES accepted the email releases the lock and fails, so the redelivery
/// tries again; another worker sending the same event right now is a (retryable) conflict.
pub async fn send_email(
    ctx: &AppContext,
    mailer: &Mailer,
    event: &NotificationEvent,
) -> Result<Mailed, AppError> {
    match ctx
        .store
        .claim_email(&event.event_id, Timestamp::now())
        .await?
    {
        EmailClaim::Done => return Ok(Mailed::Duplicate),
        EmailClaim::InProgress => {
            return Err(AppError::conflict(
                "another delivery of this email event is being sent",
            ))
        }
        EmailClaim::Claimed => {}
    }
    let sent = async {
        let address = match Email::addressee(event) {
            Addressee::User(addressee) => ctx
                .store
                .get_user(&addressee.id)
                .await
                .map_err(|err| SendError::NotSent(err.into()))?
                .map(|user| user.email.as_str().to_string()),
            Addressee::Moderators => ctx.config.moderation_email.clone(),
        };
        let Some(address) = address else {
            return Ok(None);
        };
        mailer
            .send(&address, &Email::for_event(event))
            .await
            .map(Some)
    }
    .await;
    match sent {
        Ok(Some(message_id)) => {
            // The email is out: if recording that fails, the claim goes stale and a
            // redelivery still does not send again.
            if let Err(err) = ctx.store.finish_email(&event.event_id, "sent").await {
                tracing::warn!(event_id = %event.event_id, error = %err, "email sent but not recorded");
            }
            Ok(Mailed::Sent(message_id))
        }
        Ok(None) => {
            ctx.store.finish_email(&event.event_id, "skipped").await?;
            Ok(Mailed::AddresseeGone)
        }
        Err(SendError::NotSent(err)) => {
            ctx.store.release_email(&event.event_id).await?;
            Err(err)
        }
        // At most one email per event: keep the claim, so no redelivery sends it again.
        Err(SendError::Unknown(err)) => {
            tracing::error!(event_id = %event.event_id, error = %err.log_detail(), "email may or may not have been sent; not retrying");
            Ok(Mailed::Unknown)
        }
    }
}
