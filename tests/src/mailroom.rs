//! Emails in a test: the event router and the email worker run on demand over the test's own
//! queue (so a test knows every email it caused has been handled when `deliver` returns), and
//! what moto's SES took, by address.

use std::sync::Arc;

use local_gateway::sqs::{poll_once, queue_arn, EventSource, Worker};
use serde_json::Value;
use shared::routes::{QueueBinding, EMAIL_WORKER, QUEUE_BINDINGS};

use crate::{TestEnv, TestUser};

/// The address the test emails come from (verified on moto by `Mailroom::open`).
pub const SENDER: &str = "noreply@example.com";

/// The template's binding of `function` to its queue.
pub fn binding(function: &str) -> &'static QueueBinding {
    QUEUE_BINDINGS
        .iter()
        .find(|b| b.function == function)
        .expect("a queue binding")
}

/// A test's event source for `function` on `queue_url`: the binding's batch size, a short
/// visibility timeout so that failed records come back within the test, short polls.
pub fn test_source(queue_url: &str, function: &str) -> EventSource {
    let mut source = EventSource::new(queue_url.to_string(), binding(function));
    source.visibility_timeout_seconds = 1;
    source.wait_seconds = 1;
    source
}

/// Routes the changes so far (the router queues their jobs), then polls `source` into
/// `worker` until a poll finds nothing; answers how many records were handled.
pub async fn run_until_empty(env: &TestEnv, source: &EventSource, worker: &Worker) -> usize {
    env.route_changes().await;
    let arn = queue_arn(&env.sqs, &source.queue_url).await.expect("arn");
    let mut handled = 0;
    loop {
        let n = poll_once(&env.sqs, source, &arn, worker)
            .await
            .expect("poll");
        if n == 0 {
            return handled;
        }
        handled += n;
    }
}

/// The email worker of a test, over the test's notification queue.
pub struct Mailroom {
    pub source: EventSource,
    pub worker: Worker,
}

impl Mailroom {
    pub async fn open(env: &TestEnv) -> Self {
        Self::on_queue(env, &env.queue_url).await
    }

    /// The email worker polling `queue_url` instead of the test's notification queue.
    pub async fn on_queue(env: &TestEnv, queue_url: &str) -> Self {
        Self {
            source: test_source(queue_url, EMAIL_WORKER),
            worker: email_worker(env).await,
        }
    }

    /// Routes the changes so far and sends every email they caused; answers how many email
    /// events were handled.
    pub async fn deliver(&self, env: &TestEnv) -> usize {
        run_until_empty(env, &self.source, &self.worker).await
    }

    /// Verifies each user's address and sends the code emails, so that what the queue holds
    /// next is the test's own.
    pub async fn verify(&self, env: &TestEnv, users: &[&TestUser]) {
        for user in users {
            env.verify_email(user).await;
        }
        self.deliver(env).await;
    }
}

/// The email worker as its function builds it, with the test sender verified on moto.
pub async fn email_worker(env: &TestEnv) -> Worker {
    let sdk = shared::context::load_sdk_config().await;
    let ses = aws_sdk_ses::Client::new(&sdk);
    ses.verify_email_identity()
        .email_address(SENDER)
        .send()
        .await
        .expect("verify the sender on moto");
    Worker::Email(Arc::new(
        email_worker::EmailWorker::new(env.ctx.clone(), &sdk).expect("worker"),
    ))
}

async fn moto_emails() -> Vec<Value> {
    let moto = std::env::var("MOTO_ENDPOINT").expect("MOTO_ENDPOINT (set by with-emulators.sh)");
    crate::sent_emails(&moto).await
}

/// Every email moto's SES holds for `address`, verification codes included.
pub async fn all_emails_to(address: &str) -> Vec<Value> {
    let emails = moto_emails().await;
    crate::emails_to(&emails, address)
        .into_iter()
        .cloned()
        .collect()
}

/// The notification emails moto's SES holds for `address` (its verification codes left out).
pub async fn notifications_to(address: &str) -> Vec<Value> {
    let emails = moto_emails().await;
    crate::notifications_to(&emails, address)
        .into_iter()
        .cloned()
        .collect()
}
