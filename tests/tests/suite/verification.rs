//! Email verification and notification settings: the code's tries, expiry and resend limit,
//! parallel guesses, and `PATCH /me` `email_notifications`, through the users-api handler on
//! DynamoDB Local. (The code's email itself: `workers`.)

use std::time::Duration;

use futures::future::join_all;
use integration_tests::{Answer, TestEnv, TestUser};
use serde_json::json;

async fn verify(env: &TestEnv, user: &TestUser, code: &str) -> Answer {
    env.api
        .call(
            "POST",
            "/auth/verify-email",
            Some(&user.token),
            Some(json!({ "code": code })),
        )
        .await
}

async fn resend(env: &TestEnv, user: &TestUser) -> Answer {
    env.api
        .call("POST", "/auth/verify-email/resend", Some(&user.token), None)
        .await
}

async fn me(env: &TestEnv, user: &TestUser) -> serde_json::Value {
    let answer = env.api.call("GET", "/me", Some(&user.token), None).await;
    answer.assert_status(200);
    answer.body
}

/// A six-digit code that is not `code`.
fn other_than(code: &str) -> String {
    let last = code.as_bytes()[5] - b'0';
    format!("{}{}", &code[..5], (last + 1) % 10)
}

fn refused_because(answer: &Answer, reason: &str) {
    answer.assert_error(400, "validation_failed", "a refused code");
    assert_eq!(answer.body["error"]["details"]["code"], reason);
}

#[tokio::test]
async fn a_new_account_is_unverified_until_its_code_is_entered() {
    let (env, [ada]) = TestEnv::with_users(["Ada"]).await;
    let before = me(&env, &ada).await;
    assert_eq!(before["email_verified"], false);
    assert_eq!(before["email_notifications"], true);

    let code = env.email_code(&ada).await;
    refused_because(&verify(&env, &ada, &other_than(&code)).await, "is wrong");
    // Spaces around the code are forgiven (it is often pasted).
    let verified = verify(&env, &ada, &format!(" {code} ")).await;
    verified.assert_status(200);
    assert_eq!(verified.body["email_verified"], true);
    assert_eq!(verified.body["id"], ada.id.as_str());
    assert_eq!(me(&env, &ada).await["email_verified"], true);

    // Verifying again is harmless; a new code is not needed any more.
    verify(&env, &ada, &code).await.assert_status(200);
    resend(&env, &ada)
        .await
        .assert_error(409, "conflict", "a resend once verified");
}

#[tokio::test]
async fn five_wrong_codes_use_a_code_up_and_only_a_new_one_works() {
    let env =
        TestEnv::with_settings(Default::default(), &[("EMAIL_CODE_RESEND_SECONDS", "1")]).await;
    let ada = env.api.register("Ada").await;
    let code = env.email_code(&ada).await;
    for _ in 0..5 {
        refused_because(&verify(&env, &ada, &other_than(&code)).await, "is wrong");
    }
    refused_because(
        &verify(&env, &ada, &code).await,
        "was tried too many times; ask for a new one",
    );
    assert_eq!(me(&env, &ada).await["email_verified"], false);

    tokio::time::sleep(Duration::from_millis(1100)).await;
    resend(&env, &ada).await.assert_status(204);
    let new_code = env.email_code(&ada).await;
    verify(&env, &ada, &new_code).await.assert_status(200);
}

#[tokio::test]
async fn parallel_guesses_get_five_tries_between_them() {
    let (env, [ada]) = TestEnv::with_users(["Ada"]).await;
    let code = env.email_code(&ada).await;
    // Twenty guesses at once, none right: each try is counted before it is compared, so only
    // five of them are compared at all.
    let wrong = other_than(&code);
    let answers = join_all((0..20).map(|_| verify(&env, &ada, &wrong))).await;
    let reasons: Vec<&str> = answers
        .iter()
        .map(|answer| {
            answer.body["error"]["details"]["code"]
                .as_str()
                .unwrap_or("")
        })
        .collect();
    assert_eq!(reasons.iter().filter(|r| **r == "is wrong").count(), 5);
    assert_eq!(
        reasons
            .iter()
            .filter(|r| **r == "was tried too many times; ask for a new one")
            .count(),
        15
    );
    refused_because(
        &verify(&env, &ada, &code).await,
        "was tried too many times; ask for a new one",
    );
}

#[tokio::test]
async fn a_code_expires_and_a_resend_waits_its_interval() {
    let env =
        TestEnv::with_settings(Default::default(), &[("EMAIL_CODE_VALID_SECONDS", "1")]).await;
    let ada = env.api.register("Ada").await;
    let code = env.email_code(&ada).await;
    // The registration's code went out just now: a resend waits for the minute.
    let too_soon = resend(&env, &ada).await;
    too_soon.assert_error(429, "rate_limited", "a resend within the minute");
    let wait: u64 = too_soon.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");

    tokio::time::sleep(Duration::from_millis(2100)).await;
    refused_because(
        &verify(&env, &ada, &code).await,
        "has expired; ask for a new one",
    );
}

#[tokio::test]
async fn malformed_codes_are_validation_failures_that_cost_no_try() {
    let (env, [ada]) = TestEnv::with_users(["Ada"]).await;
    for bad in ["12a456", "12345", "1234567", ""] {
        refused_because(
            &verify(&env, &ada, bad).await,
            "must be the 6-digit code from the email",
        );
    }
    let missing = env
        .api
        .call(
            "POST",
            "/auth/verify-email",
            Some(&ada.token),
            Some(json!({})),
        )
        .await;
    missing.assert_error(400, "validation_failed", "no code");
    // None of those counted: the right code still works.
    let code = env.email_code(&ada).await;
    verify(&env, &ada, &code).await.assert_status(200);
}

#[tokio::test]
async fn notification_emails_can_be_switched_off_and_on() {
    let (env, [ada]) = TestEnv::with_users(["Ada"]).await;
    let (env, ada) = (&env, &ada);
    let patch = |body| async move {
        env.api
            .call("PATCH", "/me", Some(&ada.token), Some(body))
            .await
    };
    let off = patch(json!({"email_notifications": false})).await;
    off.assert_status(200);
    assert_eq!(off.body["email_notifications"], false);
    assert_eq!(off.body["name"], "Ada");

    let renamed = patch(json!({"name": "Ada L."})).await;
    assert_eq!(renamed.body["name"], "Ada L.");
    assert_eq!(renamed.body["email_notifications"], false, "left as it was");

    for unchanged in [
        json!({}),
        json!({"name": null, "email_notifications": null}),
    ] {
        let same = patch(unchanged).await;
        same.assert_status(200);
        assert_eq!(
            (&same.body["name"], &same.body["email_notifications"]),
            (&json!("Ada L."), &json!(false)),
            "nothing (or null) changes nothing"
        );
    }
    patch(json!({"email_notifications": "no"}))
        .await
        .assert_status(400);
    let on = patch(json!({"email_notifications": true, "name": "Ada"})).await;
    assert_eq!(
        (
            on.body["email_notifications"].clone(),
            on.body["name"].clone()
        ),
        (json!(true), json!("Ada"))
    );
}
