//! Webhook deliveries: every pushed event is POSTed to `WEBHOOK_URL` as
//! `{id, type, occurred_at, data}`, signed `X-Webhook-Signature: sha256=<hex HMAC-SHA256 of
//! the body>` with `WEBHOOK_SECRET`. The body is sent exactly as queued, so a retry carries the
//! same bytes, the same `id` and the same signature; the delivery ledger keeps a redelivered
//! job that already got a 2xx from being POSTed again.

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::WebhookTarget;
use crate::error::AppError;
use crate::queue::WebhookEvent;
use crate::storage::Ledger;
use crate::AppContext;

pub const SIGNATURE_HEADER: &str = "x-webhook-signature";
/// The event's id again, so a receiver can drop a repeat without parsing the body.
pub const ID_HEADER: &str = "x-webhook-id";

/// How long a receiver may take to answer; a slower one is retried later.
const RECEIVER_TIMEOUT: Duration = Duration::from_secs(5);

/// `sha256=<hex HMAC-SHA256 of body, keyed with secret>`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    // HMAC takes keys of any length; this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// What a delivery attempt did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Posted {
    /// The receiver answered 2xx.
    Delivered,
    /// An earlier delivery of the same job got its 2xx.
    AlreadyDelivered,
    /// No webhook is configured (any more): nothing to do.
    NotConfigured,
}

/// POSTs webhook bodies with one HTTP client per function instance.
#[derive(Clone)]
pub struct WebhookSender {
    client: reqwest::Client,
}

impl WebhookSender {
    pub fn new() -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(RECEIVER_TIMEOUT)
            .build()
            .map_err(|err| format!("the webhook HTTP client: {err}"))?;
        Ok(Self { client })
    }

    /// Delivers one queued body; `Err` (to retry) unless the receiver answered 2xx.
    pub async fn deliver(&self, ctx: &AppContext, body: &str) -> Result<Posted, AppError> {
        let event: WebhookEvent = serde_json::from_str(body)
            .map_err(|err| AppError::BadRequest(format!("not a webhook event: {err}")))?;
        let Some(target) = &ctx.config.webhook else {
            return Ok(Posted::NotConfigured);
        };
        let job = format!("webhook#{}", event.id);
        if ctx.store.ledger(&job).await? == Ledger::Done {
            return Ok(Posted::AlreadyDelivered);
        }
        self.post(target, &event.id, body).await?;
        ctx.store.record_ledger(&job, &Ledger::Done).await?;
        Ok(Posted::Delivered)
    }

    async fn post(&self, target: &WebhookTarget, id: &str, body: &str) -> Result<(), AppError> {
        let response = self
            .client
            .post(&target.url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, signature(&target.secret, body.as_bytes()))
            .header(ID_HEADER, id)
            .body(body.to_string())
            .send()
            .await
            .map_err(|err| {
                tracing::warn!(error = %err, "webhook receiver unreachable");
                AppError::Unavailable("the webhook receiver")
            })?;
        if response.status().is_success() {
            Ok(())
        } else {
            tracing::warn!(
                status = response.status().as_u16(),
                "webhook receiver refused the delivery"
            );
            Err(AppError::Unavailable("the webhook receiver"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_with_hmac_sha256_in_hex() {
        // RFC 4231, test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
