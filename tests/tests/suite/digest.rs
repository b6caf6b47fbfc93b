//! The offline digest end to end on the emulators: the event router adds direct messages and
//! mentions to the digest of readers who are away, the digest's own stream record schedules
//! the maintenance job, the job closes it when due, and the closing record is the email the
//! email worker sends (read back from moto's SES). Short intervals are set by configuration.

use std::time::Duration;

use integration_tests::mailroom::{notifications_to, run_until_empty, test_source, Mailroom};
use integration_tests::{TestEnv, TestUser};
use local_gateway::sqs::Worker;
use serde_json::{json, Value};

/// Digests go out at once and at most one per `INTERVAL` seconds (long enough that the steps
/// between two messages of a test never take it, on a loaded machine too: 6 s once did).
const INTERVAL: u64 = 12;

async fn env_with_short_digests() -> TestEnv {
    TestEnv::with_settings(
        Default::default(),
        &[
            ("DIGEST_DELAY_SECONDS", "0"),
            ("DIGEST_INTERVAL_SECONDS", &INTERVAL.to_string()),
        ],
    )
    .await
}

/// Routes what was written, runs the due digest jobs, and sends the emails they caused.
async fn deliver_digests(env: &TestEnv, mail: &Mailroom, worker: &Worker) {
    env.route_changes().await;
    let source = test_source(&env.maintenance_queue_url, "maintenance-worker");
    run_until_empty(env, &source, worker).await;
    mail.deliver(env).await;
}

/// The digests moto's SES holds for `address` (partner request emails of the set-up left out).
async fn digests_to(address: &str) -> Vec<Value> {
    notifications_to(address)
        .await
        .into_iter()
        .filter(|email| {
            email["subject"]
                .as_str()
                .is_some_and(|subject| subject.ends_with(DIGEST_SUBJECT_END))
        })
        .collect()
}

const DIGEST_SUBJECT_END: &str = " while you were away";

fn subjects(emails: &[Value]) -> Vec<String> {
    emails
        .iter()
        .map(|email| email["subject"].as_str().unwrap_or_default().to_string())
        .collect()
}

async fn say(env: &TestEnv, from: &TestUser, channel: &str, body: Value) {
    env.api
        .send_message(from, channel, body)
        .await
        .assert_status(201);
}

#[tokio::test]
async fn an_away_reader_gets_one_digest_per_interval_naming_senders_and_places() {
    let env = env_with_short_digests().await;
    let mail = Mailroom::open(&env).await;
    let worker = env.maintenance_worker().await;
    let [ada, bob, cy] = env.api.register_all(["Ada", "Bob", "Cy"]).await;
    mail.verify(&env, &[&bob, &cy]).await;
    let direct = env.api.direct(&ada, &bob).await.id();
    let group = env.api.group(&ada, &[&bob, &cy], true).await;
    env.api.rename_channel(&ada, &group, "launch").await;

    // Two direct messages and a mention, while Bob is away: one email names both places.
    say(&env, &ada, &direct, json!({"body": "are you there?"})).await;
    say(&env, &ada, &direct, json!({"body": "hello?"})).await;
    say(
        &env,
        &cy,
        &group,
        json!({"body": "@Bob look", "mention_ids": [bob.id]}),
    )
    .await;
    // A message that is neither direct nor mentions him adds nothing.
    say(&env, &cy, &group, json!({"body": "anyone"})).await;
    deliver_digests(&env, &mail, &worker).await;
    let emails = digests_to(&bob.email).await;
    assert_eq!(
        subjects(&emails),
        ["Ada and Cy wrote in #launch and a direct message while you were away"],
        "{emails:#?}"
    );
    let body = emails[0]["body"].as_str().unwrap_or_default();
    assert!(body.contains("3 messages"), "{body}");
    assert!(digests_to(&cy.email).await.is_empty(), "nobody wrote to Cy");

    // Every record delivered again (the stream replayed from its start, so the digest jobs and
    // emails its records cause are queued again too) sends nothing more, and adds nothing to
    // the next digest (checked below: it names only the message written after).
    env.route_every_change_again().await;
    deliver_digests(&env, &mail, &worker).await;
    assert_eq!(digests_to(&bob.email).await.len(), 1);

    // The next message waits for the interval since the last digest.
    say(&env, &ada, &direct, json!({"body": "still?"})).await;
    deliver_digests(&env, &mail, &worker).await;
    assert_eq!(
        digests_to(&bob.email).await.len(),
        1,
        "not within the interval"
    );
    tokio::time::sleep(Duration::from_secs(INTERVAL + 1)).await;
    deliver_digests(&env, &mail, &worker).await;
    let emails = digests_to(&bob.email).await;
    assert_eq!(emails.len(), 2, "{emails:#?}");
    assert!(subjects(&emails)
        .contains(&"Ada wrote in a direct message while you were away".to_string()));
}

#[tokio::test]
async fn no_digest_for_readers_online_muted_unverified_or_blocking() {
    let env = env_with_short_digests().await;
    let mail = Mailroom::open(&env).await;
    let worker = env.maintenance_worker().await;
    let [ada, online, muted, unverified, blocking, quiet] = env
        .api
        .register_all(["Ada", "Online", "Muted", "Unverified", "Blocking", "Quiet"])
        .await;
    mail.verify(&env, &[&online, &muted, &blocking, &quiet])
        .await;
    let readers = [&online, &muted, &unverified, &blocking, &quiet];
    let group = env.api.group(&ada, &readers, true).await;
    env.connect(&online, true).await;
    env.api
        .put(&muted, &format!("/channels/{group}/mute"))
        .await
        .assert_status(204);
    env.api
        .put(&blocking, &format!("/me/blocks/{}", ada.id))
        .await
        .assert_status(204);
    env.api
        .patch(&quiet, "/me", json!({"email_notifications": false}))
        .await
        .assert_status(200);
    let ids: Vec<&str> = readers.iter().map(|r| r.id.as_str()).collect();
    say(
        &env,
        &ada,
        &group,
        json!({"body": "all of you", "mention_ids": ids}),
    )
    .await;
    deliver_digests(&env, &mail, &worker).await;
    for reader in readers {
        assert!(
            digests_to(&reader.email).await.is_empty(),
            "{} got a digest",
            reader.name
        );
    }
}
