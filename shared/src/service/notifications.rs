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
    /// A notification to a user whose address is not verified or who turned notification
    /// emails off: not sent, not retried.
    NotWanted,
    /// SES may have taken it (a timeout): not retried, so that it is never sent twice.
    Unknown,
}

/// What the attempt to send came to, before it is recorded.
enum Outcome {
    Sent(String),
    Gone,
    NotWanted,
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
        let (addressee, only_subscribed) = match Email::addressee(event) {
            Addressee::Subscriber(user) => (Some(user), true),
            Addressee::Account(user) => (Some(user), false),
            Addressee::Moderators => (None, false),
        };
        let address = match addressee {
            Some(addressee) => {
                let user = ctx
                    .store
                    .get_user(&addressee.id)
                    .await
                    .map_err(|err| SendError::NotSent(err.into()))?;
                if only_subscribed
                    && user
                        .as_ref()
                        .is_some_and(|u| !u.takes_notification_emails())
                {
                    return Ok(Outcome::NotWanted);
                }
                user.map(|user| user.email.as_str().to_string())
            }
            None => ctx.config.moderation_email.clone(),
        };
        let Some(address) = address else {
            return Ok(Outcome::Gone);
        };
        mailer
            .send(&address, &Email::for_event(event))
            .await
            .map(Outcome::Sent)
    }
    .await;
    match sent {
        Ok(Outcome::Sent(message_id)) => {
            // The email is out: if recording that fails, the claim goes stale and a
            // redelivery still does not send again.
            if let Err(err) = ctx.store.finish_email(&event.event_id, "sent").await {
                tracing::warn!(event_id = %event.event_id, error = %err, "email sent but not recorded");
            }
            Ok(Mailed::Sent(message_id))
        }
        Ok(Outcome::Gone) => {
            ctx.store.finish_email(&event.event_id, "skipped").await?;
            Ok(Mailed::AddresseeGone)
        }
        Ok(Outcome::NotWanted) => {
            ctx.store
                .finish_email(&event.event_id, "not wanted")
                .await?;
            Ok(Mailed::NotWanted)
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
