//! Sessions: signing one token out, every token out, changing the password, confirming an
//! account deletion with the password, and the sockets of ended sessions and over the
//! per-user cap being closed (through the event router and the maintenance worker).

use std::time::Duration;

use integration_tests::stack::{Socket, Stack};
use integration_tests::{TestEnv, TestUser};
use serde_json::json;
use shared::domain::UserId;

/// The same account on another device: a second sign-in, with a token of its own.
async fn another_device(env: &TestEnv, user: &TestUser) -> TestUser {
    let answer = env.api.login(&user.email, &user.password).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    TestUser {
        token: answer.body["token"].as_str().unwrap().to_string(),
        ..user.clone()
    }
}

async fn status_of_me(env: &TestEnv, user: &TestUser) -> u16 {
    env.api.get(user, "/me").await.status
}

#[tokio::test]
async fn signing_out_ends_that_token_only() {
    let (env, [ada]) = TestEnv::with_users(["Ada"]).await;
    let phone = another_device(&env, &ada).await;

    env.api
        .post(&ada, "/auth/logout", None)
        .await
        .assert_status(204);
    let refused = env.api.get(&ada, "/me").await;
    assert_eq!(
        (refused.status, refused.code()),
        (401, "unauthorized"),
        "{:?}",
        refused.body
    );
    for (method, path) in [("GET", "/channels"), ("POST", "/auth/logout")] {
        let answer = env.api.call_as(&ada, method, path, None).await;
        assert_eq!(answer.status, 401, "{method} {path}");
    }
    let rename = env.api.patch(&ada, "/me", json!({"name": "Eve"})).await;
    assert_eq!(rename.status, 401, "a signed-out token renames nothing");
    assert_eq!(status_of_me(&env, &phone).await, 200, "the other device");
    let me = env.api.get(&phone, "/me").await;
    assert_eq!(me.body["name"], "Ada");
}

#[tokio::test]
async fn signing_out_everywhere_ends_every_token_until_now() {
    let (env, [ada, bob]) = TestEnv::with_users(["Ada", "Bob"]).await;
    let phone = another_device(&env, &ada).await;
    env.api
        .post(&phone, "/auth/logout-all", None)
        .await
        .assert_status(204);
    assert_eq!(status_of_me(&env, &ada).await, 401);
    assert_eq!(status_of_me(&env, &phone).await, 401);
    assert_eq!(status_of_me(&env, &bob).await, 200, "other accounts");
    let fresh = another_device(&env, &ada).await;
    assert_eq!(status_of_me(&env, &fresh).await, 200, "a new sign-in works");
}

#[tokio::test]
async fn changing_the_password_needs_the_current_one_and_ends_other_sessions() {
    let (env, [ada]) = TestEnv::with_users(["Ada"]).await;
    let phone = another_device(&env, &ada).await;
    let change =
        |current: &str, new: &str| json!({"current_password": current, "new_password": new});

    let wrong = env
        .api
        .post(
            &ada,
            "/me/password",
            change("not the password", "a new password"),
        )
        .await;
    assert_eq!((wrong.status, wrong.code()), (403, "forbidden"));
    let short = env
        .api
        .post(&ada, "/me/password", change(&ada.password, "short"))
        .await;
    assert_eq!((short.status, short.code()), (400, "validation_failed"));
    assert!(short.body["error"]["details"]["new_password"].is_string());
    let missing = env.api.post(&ada, "/me/password", json!({})).await;
    assert_eq!(missing.status, 400);
    assert_eq!(
        status_of_me(&env, &phone).await,
        200,
        "refusals change nothing"
    );

    let changed = env
        .api
        .post(
            &ada,
            "/me/password",
            change(&ada.password, "a new password"),
        )
        .await;
    assert_eq!(changed.status, 200, "{:?}", changed.body);
    let renewed = TestUser {
        token: changed.body["token"].as_str().unwrap().to_string(),
        password: "a new password".to_string(),
        ..ada.clone()
    };
    assert_eq!(status_of_me(&env, &renewed).await, 200);
    assert_eq!(status_of_me(&env, &ada).await, 401, "the old token");
    assert_eq!(status_of_me(&env, &phone).await, 401, "the other device");
    assert_eq!(env.api.login(&ada.email, &ada.password).await.status, 401);
    assert_eq!(
        env.api.login(&ada.email, "a new password").await.status,
        200
    );
}

#[tokio::test]
async fn deleting_the_account_needs_its_password() {
    let (env, [ada]) = TestEnv::with_users(["Ada"]).await;
    let without = env.api.call_as(&ada, "DELETE", "/me", None).await;
    assert_eq!(without.status, 400);
    let empty = env
        .api
        .call_as(&ada, "DELETE", "/me", Some(json!({})))
        .await;
    assert_eq!((empty.status, empty.code()), (400, "validation_failed"));
    assert!(empty.body["error"]["details"]["password"].is_string());
    let wrong = env
        .api
        .call_as(
            &ada,
            "DELETE",
            "/me",
            Some(json!({"password": "guessing now"})),
        )
        .await;
    assert_eq!((wrong.status, wrong.code()), (403, "forbidden"));
    assert_eq!(status_of_me(&env, &ada).await, 200, "still there");
    env.api.delete_account(&ada).await.assert_status(204);
    assert_eq!(status_of_me(&env, &ada).await, 401);
}

/// How long the router and the maintenance worker may take to close a socket.
const CLOSING: Duration = Duration::from_secs(10);

/// The whole stack with the job workers too (the maintenance worker closes the sockets).
async fn stack_with_workers(settings: &[(&str, &str)]) -> Stack {
    let stack = Stack::start_with_settings(Default::default(), settings).await;
    let sdk = shared::context::load_sdk_config().await;
    stack
        .env
        .spawn_job_workers(aws_sdk_ses::Client::new(&sdk))
        .await;
    stack
}

#[tokio::test]
async fn the_sockets_of_ended_sessions_are_closed_and_cannot_connect_again() {
    let stack = stack_with_workers(&[]).await;
    let ada = stack.env.api.register("Ada").await;
    let phone = another_device(&stack.env, &ada).await;
    let mut laptop_socket = stack.socket(&ada).await;
    let mut phone_socket = stack.socket(&phone).await;

    stack
        .api
        .post(&ada, "/auth/logout", None)
        .await
        .assert_status(204);
    assert!(
        laptop_socket.closed_within(CLOSING).await,
        "the signed-out token's socket is closed"
    );
    assert!(
        !phone_socket.closed_within(Duration::from_millis(500)).await,
        "the other device stays connected"
    );
    phone_socket.send(json!({"action": "ping"})).await;
    phone_socket.expect("pong", |_| true).await;
    assert_eq!(
        Socket::connect(&stack.ws, Some(&ada.token)).await.err(),
        Some(401),
        "a signed-out token cannot connect"
    );

    stack
        .api
        .post(&phone, "/auth/logout-all", None)
        .await
        .assert_status(204);
    assert!(phone_socket.closed_within(CLOSING).await);
    // The socket closes a moment before its record goes.
    let id = UserId::parse(&ada.id).unwrap();
    let started = std::time::Instant::now();
    while !stack.env.connections_of(&id).await.is_empty() {
        assert!(
            started.elapsed() < CLOSING,
            "no connection of an ended session is left"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn one_connection_over_the_cap_closes_the_oldest() {
    let stack = stack_with_workers(&[("MAX_CONNECTIONS_PER_USER", "3")]).await;
    let ada = stack.env.api.register("Ada").await;
    let mut oldest = stack.socket(&ada).await;
    // Connections are ordered by when they opened, to the second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let mut others = Vec::new();
    for _ in 0..2 {
        others.push(stack.socket(&ada).await);
    }
    assert!(
        !oldest.closed_within(Duration::from_millis(500)).await,
        "at the cap"
    );
    let mut newest = stack.socket(&ada).await;
    assert!(
        oldest.closed_within(CLOSING).await,
        "one over: the oldest goes"
    );
    for socket in others.iter_mut().chain([&mut newest]) {
        socket.send(json!({"action": "ping"})).await;
        socket.expect("pong", |_| true).await;
    }
    let id = UserId::parse(&ada.id).unwrap();
    let started = std::time::Instant::now();
    while stack.env.connections_of(&id).await.len() != 3 {
        assert!(started.elapsed() < CLOSING, "the oldest's record goes too");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
