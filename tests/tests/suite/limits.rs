//! Rate limits, each answered with 429, `Retry-After` and `details.retry_after_seconds`: the
//! login lockout, the send burst, the daily partner requests, and the typing throttle.

use std::time::Duration;

use futures::future::join_all;
use integration_tests::stack::Stack;
use integration_tests::{Answer, TestEnv};
use serde_json::json;

fn retry_after(answer: &Answer) -> u64 {
    answer.assert_error(429, "rate_limited", "a rate limit");
    let seconds = answer.body["error"]["details"]["retry_after_seconds"]
        .as_u64()
        .expect("retry_after_seconds");
    assert_eq!(answer.headers["retry-after"], seconds.to_string().as_str());
    seconds
}

#[tokio::test]
async fn five_failed_logins_lock_the_email_even_for_the_right_password() {
    let (env, [ada, bob]) = TestEnv::with_users(["Ada", "Bob"]).await;
    // Four failures, then a success: the count starts again.
    for _ in 0..4 {
        env.api
            .login(&ada.email, "wrong password")
            .await
            .assert_status(401);
    }
    env.api
        .login(&ada.email, &ada.password)
        .await
        .assert_status(200);
    for _ in 0..5 {
        env.api
            .login(&ada.email, "wrong password")
            .await
            .assert_status(401);
    }
    let locked = env.api.login(&ada.email, &ada.password).await;
    let wait = retry_after(&locked);
    assert!((29..=30).contains(&wait), "{wait}");
    env.api
        .login(&bob.email, &bob.password)
        .await
        .assert_status(200);
    // The password check of a destructive operation is locked with it.
    env.api
        .call_as(
            &ada,
            "DELETE",
            "/me",
            Some(json!({"password": ada.password})),
        )
        .await
        .assert_error(429, "rate_limited", "DELETE /me while locked");
    // An unknown email counts and locks the same way, so a lock reveals nothing.
    for _ in 0..5 {
        env.api
            .login("nobody@example.com", "wrong password")
            .await
            .assert_status(401);
    }
    retry_after(&env.api.login("nobody@example.com", "wrong password").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_member_sends_at_most_its_burst_per_window() {
    let settings = [("SEND_BURST", "3"), ("SEND_WINDOW_SECONDS", "2")];
    let env = TestEnv::with_settings(Default::default(), &settings).await;
    let [ada, bob] = env.api.register_all(["Ada", "Bob"]).await;
    let channel = env.api.group(&ada, &[&bob], true).await;
    let path = format!("/channels/{channel}/messages");
    let body = |i: usize| json!({"body": format!("burst {i}"), "client_id": format!("c{i}")});
    let sends = (0..10).map(|i| env.api.post(&ada, &path, body(i)));
    let answers = join_all(sends).await;
    let sent = answers.iter().filter(|a| a.status == 201).count();
    assert_eq!(sent, 3, "exactly the burst gets in, at once too");
    let refused: Vec<&Answer> = answers.iter().filter(|a| a.status != 201).collect();
    for answer in &refused {
        assert!(retry_after(answer) <= 2);
    }
    // A retry of a sent message (same client_id) is never limited; Bob has a window of his own.
    let first = answers.iter().position(|a| a.status == 201).unwrap();
    env.api
        .post(&ada, &path, body(first))
        .await
        .assert_status(200);
    env.api
        .post(&bob, &path, json!({"body": "mine"}))
        .await
        .assert_status(201);
    tokio::time::sleep(Duration::from_secs(2)).await;
    env.api
        .post(&ada, &path, json!({"body": "after the window"}))
        .await
        .assert_status(201);
    let history = env.api.history(&ada, &channel, "?limit=100").await;
    assert_eq!(history.body["items"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn partner_requests_are_limited_per_day() {
    let env =
        TestEnv::with_settings(Default::default(), &[("PARTNER_REQUESTS_PER_DAY", "2")]).await;
    let [ada, bob, cy, dan] = env.api.register_all(["Ada", "Bob", "Cy", "Dan"]).await;
    for other in [&bob, &cy] {
        env.api.request_partner(&ada, other).await;
    }
    let third = env
        .api
        .send_request(&ada, json!({"recipient_id": dan.id}))
        .await;
    let wait = retry_after(&third);
    assert!((86_000..=86_400).contains(&wait), "{wait}");
    env.api.request_partner(&dan, &ada).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typing_is_pushed_at_most_once_per_two_seconds() {
    let stack = Stack::start().await;
    let [ada, bob] = stack.api.register_all(["Ada", "Bob"]).await;
    let channel = stack.api.group(&ada, &[&bob], true).await;
    let mut ada_socket = stack.socket(&ada).await;
    let mut bob_socket = stack.socket(&bob).await;
    bob_socket.drain(Duration::from_millis(300)).await;
    for _ in 0..5 {
        ada_socket
            .send(json!({"action": "typing", "channel_id": channel, "is_typing": true}))
            .await;
    }
    let frames = bob_socket.drain(Duration::from_millis(800)).await;
    let typing = frames.iter().filter(|f| f["type"] == "typing").count();
    assert_eq!(typing, 1, "one push of five frames: {frames:?}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    ada_socket
        .send(json!({"action": "typing", "channel_id": channel, "is_typing": false}))
        .await;
    bob_socket
        .expect("typing", |f| f["is_typing"] == false)
        .await;
}
