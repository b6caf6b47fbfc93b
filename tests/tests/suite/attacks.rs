//! The attacks of issue 15, replayed as an attacker would run them against a victim: each is
//! refused with the contract's answer, the victim's state is what it was before, and no
//! email reaches the victim beyond the one the contract allows. (How each limit counts and
//! heals is pinned in `limits`, `sessions` and `safety`; this file is the attacker's view.)

use integration_tests::mailroom::{notifications_to, Mailroom};
use integration_tests::{Answer, TestEnv, TestUser};
use serde_json::{json, Value};

/// What of the victim's an attack could change, read as the victim sees it.
#[derive(Debug, PartialEq)]
struct VictimState {
    channels: Value,
    partnerships: Value,
    requests: Value,
    blocks: Value,
}

async fn victim_state(env: &TestEnv, victim: &TestUser) -> VictimState {
    let read = |path: &'static str| async move {
        let answer = env.api.get(victim, path).await;
        answer.assert_status(200);
        answer.body["items"].clone()
    };
    VictimState {
        channels: read("/channels").await,
        partnerships: read("/partnerships").await,
        requests: read("/partner-requests/received?status=all").await,
        blocks: read("/me/blocks").await,
    }
}

/// A victim with a verified address (so notification emails would reach it), the code's
/// email already sent, and an attacker.
async fn victim_and_attacker(env: &TestEnv, mail: &Mailroom) -> (TestUser, TestUser) {
    let [victim, attacker] = env.api.register_all(["Vic", "Eve"]).await;
    mail.verify(env, &[&victim]).await;
    (victim, attacker)
}

/// `POST /channels` of a direct channel, as the attacker sends it (no partnership made first).
async fn open_direct(env: &TestEnv, from: &TestUser, to: &TestUser) -> Answer {
    let body = json!({"name": "hi", "kind": "direct", "member_ids": [to.id]});
    env.api.create_channel(from, body).await
}

#[track_caller]
fn refused(answer: &Answer, status: u16, what: &str) {
    assert_eq!(answer.status, status, "{what}: {}", answer.body);
    assert!(
        answer.body["error"]["code"].is_string(),
        "{what}: the contract's error shape: {}",
        answer.body
    );
}

/// A stranger reads nobody's presence, opens no direct channel with them, and puts them in
/// no group, private or not.
#[tokio::test]
async fn a_stranger_can_neither_watch_nor_pull_anyone_into_a_channel() {
    let env = TestEnv::new().await;
    let mail = Mailroom::open(&env).await;
    let (vic, eve) = victim_and_attacker(&env, &mail).await;
    let before = victim_state(&env, &vic).await;

    let presence = format!("/users/{}/presence", vic.id);
    refused(&env.api.get(&eve, &presence).await, 403, "presence");
    refused(
        &open_direct(&env, &eve, &vic).await,
        403,
        "a direct channel with a stranger",
    );
    for private in [true, false] {
        let group = env
            .api
            .create_channel(
                &eve,
                json!({"name": "Trap", "member_ids": [vic.id], "private": private}),
            )
            .await;
        refused(&group, 403, "a group made with the stranger in it");
        assert_eq!(
            group.body["error"]["details"]["not_partners"],
            vic.id.as_str()
        );
    }
    let own = env.api.group(&eve, &[], true).await;
    refused(
        &env.api.add_member(&eve, &own, &vic.id).await,
        403,
        "adding the stranger to a group",
    );

    assert_eq!(victim_state(&env, &vic).await, before, "nothing changed");
    mail.deliver(&env).await;
    assert!(notifications_to(&vic.email).await.is_empty());
}

/// Ten request-then-withdraw loops: one request gets through (and one email); every later
/// one waits a day, so the victim's inbox holds one email, not ten.
#[tokio::test]
async fn request_and_withdraw_loops_mail_the_victim_once() {
    let env = TestEnv::new().await;
    let mail = Mailroom::open(&env).await;
    let (vic, eve) = victim_and_attacker(&env, &mail).await;

    let first = env.api.request_partner(&eve, &vic).await;
    env.api
        .delete(&eve, &format!("/partner-requests/{first}"))
        .await
        .assert_status(204);
    for _ in 0..9 {
        let again = env
            .api
            .send_request(&eve, json!({"recipient_id": vic.id}))
            .await;
        refused(&again, 429, "asking again within a day");
        assert!(again.headers.contains_key("retry-after"));
    }

    mail.deliver(&env).await;
    let emails = notifications_to(&vic.email).await;
    assert_eq!(emails.len(), 1, "{emails:#?}");
    let received = victim_state(&env, &vic).await.requests;
    assert_eq!(received.as_array().map(Vec::len), Some(1), "{received}");
    assert_eq!(received[0]["status"], "cancelled");
}

/// Free-text "reactions" are refused, and distinct emoji stop at the cap: the message stays
/// as small as 20 emoji make it.
#[tokio::test]
async fn reaction_spam_stops_at_the_cap() {
    let (env, [vic, eve]) = TestEnv::with_users(["Vic", "Eve"]).await;
    let channel = env.api.group(&vic, &[], false).await;
    env.api.join(&eve, &channel).await.assert_status(200);
    let message = env.api.say(&vic, &channel, "hello all").await;
    let react = |emoji: String| {
        let path = format!("/channels/{channel}/messages/{message}/reactions/{emoji}");
        let (env, eve) = (&env, &eve);
        async move { env.api.put(eve, &path).await }
    };

    for text in ["lol", "spam%20spam", "🙂🙂", "a🙂"] {
        refused(&react(text.to_string()).await, 400, "not one emoji");
    }
    // 40 different emoji, one after the other: the first 20 land, the rest are 409s.
    let emoji: Vec<String> = ('\u{1F600}'..='\u{1F627}').map(String::from).collect();
    let mut accepted = 0;
    for (n, emoji) in emoji.into_iter().enumerate() {
        let answer = react(emoji).await;
        if n < 20 {
            answer.assert_status(200);
            accepted += 1;
        } else {
            refused(&answer, 409, "a 21st distinct emoji");
        }
    }
    assert_eq!(accepted, 20);
    let stored = env
        .api
        .get(&vic, &format!("/channels/{channel}/messages/{message}"))
        .await;
    let reactions = stored.body["reactions"].as_object().expect("reactions");
    assert_eq!(reactions.len(), 20, "{reactions:?}");
}

/// Sixty wrong passwords in a row: five 401s, then 429s with `Retry-After` (the right
/// password too), and the account is as it was.
#[tokio::test]
async fn password_guessing_is_locked_out() {
    let env = TestEnv::new().await;
    let mail = Mailroom::open(&env).await;
    let (vic, _) = victim_and_attacker(&env, &mail).await;
    let before = victim_state(&env, &vic).await;
    let mut statuses = Vec::new();
    for n in 0..60 {
        let guess = env
            .api
            .login(&vic.email, &format!("guess number {n}"))
            .await;
        if guess.status == 429 {
            assert!(guess.headers.contains_key("retry-after"), "{guess:?}");
        }
        statuses.push(guess.status);
    }
    assert_eq!(&statuses[..5], [401; 5]);
    assert!(statuses[5..].iter().all(|&s| s == 429), "{statuses:?}");
    refused(
        &env.api.login(&vic.email, &vic.password).await,
        429,
        "the right password while locked",
    );
    assert_eq!(victim_state(&env, &vic).await, before);
    mail.deliver(&env).await;
    assert!(notifications_to(&vic.email).await.is_empty());
}

/// A stolen token: its owner ends it, and while it lived it could not delete the account
/// (that takes the password).
#[tokio::test]
async fn a_stolen_token_cannot_delete_the_account_and_can_be_ended() {
    let (env, [vic]) = TestEnv::with_users(["Vic"]).await;
    let stolen = env.api.login(&vic.email, &vic.password).await;
    let thief = TestUser {
        token: stolen.body["token"].as_str().expect("a token").to_string(),
        ..vic.clone()
    };
    refused(
        &env.api.call_as(&thief, "DELETE", "/me", None).await,
        400,
        "no password",
    );
    refused(
        &env.api
            .call_as(&thief, "DELETE", "/me", Some(json!({"password": "guess"})))
            .await,
        403,
        "a wrong password",
    );
    // The owner signs out everywhere: the thief's token is dead, the account alive.
    env.api
        .post(&vic, "/auth/logout-all", None)
        .await
        .assert_status(204);
    refused(&env.api.get(&thief, "/me").await, 401, "the stolen token");
    env.api
        .login(&vic.email, &vic.password)
        .await
        .assert_status(200);
}

/// After the victim blocks a former partner, the attacker reaches the victim nowhere: no
/// request, no direct channel, no message into the old one, no group add, and no email.
#[tokio::test]
async fn a_blocked_user_reaches_the_blocker_nowhere_and_mails_nothing() {
    let env = TestEnv::new().await;
    let mail = Mailroom::open(&env).await;
    let (vic, eve) = victim_and_attacker(&env, &mail).await;
    env.api.make_partners(&eve, &vic).await;
    let direct = env.api.direct(&eve, &vic).await.id();
    env.api
        .put(&vic, &format!("/me/blocks/{}", eve.id))
        .await
        .assert_status(204);
    mail.deliver(&env).await;
    let before = victim_state(&env, &vic).await;
    let mailed_before = notifications_to(&vic.email).await.len();

    refused(
        &env.api
            .send_request(&eve, json!({"recipient_id": vic.id}))
            .await,
        403,
        "a partner request",
    );
    refused(
        &open_direct(&env, &eve, &vic).await,
        403,
        "a new direct channel",
    );
    refused(
        &env.api
            .send_message(&eve, &direct, json!({"body": "you can't hide"}))
            .await,
        403,
        "a message into the old direct channel",
    );
    let own = env.api.group(&eve, &[], true).await;
    refused(
        &env.api.add_member(&eve, &own, &vic.id).await,
        403,
        "a group add",
    );

    assert_eq!(victim_state(&env, &vic).await, before, "nothing changed");
    mail.deliver(&env).await;
    assert_eq!(
        notifications_to(&vic.email).await.len(),
        mailed_before,
        "no email"
    );
}
