//! Races, gathered in one place: the outcomes the contract promises when requests arrive at
//! the same time. They hold because every decision is a conditional write or a transaction,
//! never read-then-write. Each test has its requests in flight at once (their DynamoDB calls
//! overlap; the handlers interleave on one task) and repeats where one round could pass by luck.

use futures::future::join_all;
use integration_tests::client::tally;
use integration_tests::TestEnv;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn opposite_requests_at_once_yield_one_created_and_one_conflict() {
    let env = TestEnv::new().await;
    for round in 0..5 {
        let ada = env.api.register("Ada").await;
        let bob = env.api.register("Bob").await;
        let (a, b) = tokio::join!(
            env.api.send_request(&ada, json!({"recipient_id": bob.id})),
            env.api.send_request(&bob, json!({"recipient_id": ada.id})),
        );
        let mut statuses = [a.status, b.status];
        statuses.sort();
        assert_eq!(
            statuses,
            [201, 409],
            "round {round}: {:?} / {:?}",
            a.body,
            b.body
        );
        let pending = env.api.get(&ada, "/partner-requests/received").await.body["items"]
            .as_array()
            .unwrap()
            .len()
            + env.api.get(&bob, "/partner-requests/received").await.body["items"]
                .as_array()
                .unwrap()
                .len();
        assert_eq!(pending, 1, "round {round}: exactly one stored request");
    }
    TestEnv::settle().await;
    assert_eq!(
        env.queued_messages().await.len(),
        5,
        "one email event per stored request"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_accepts_make_one_partnership_and_one_email() {
    let (env, [ada, bob]) = TestEnv::with_users(["Ada", "Bob"]).await;
    let id = env.api.request_partner(&ada, &bob).await;
    TestEnv::settle().await;
    env.queued_messages().await; // the "created" event

    let path = format!("/partner-requests/{id}/accept");
    let answers = join_all((0..20).map(|_| env.api.post(&bob, &path, None))).await;
    let (ok, conflicts) = tally(&answers, 200);
    assert_eq!(
        (ok, conflicts),
        (1, 19),
        "{:?}",
        answers.iter().map(|a| a.status).collect::<Vec<_>>()
    );

    for user in [&ada, &bob] {
        let list = env.api.partnerships(user).await;
        assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
    }
    TestEnv::settle().await;
    let events = env.queued_messages().await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["kind"], "partner_request.accepted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn accept_and_reject_racing_have_one_winner() {
    let (env, [ada, bob]) = TestEnv::with_users(["Ada", "Bob"]).await;
    let id = env.api.request_partner(&ada, &bob).await;
    let calls = (0..10).map(|i| {
        let path = if i % 2 == 0 {
            format!("/partner-requests/{id}/accept")
        } else {
            format!("/partner-requests/{id}/reject")
        };
        let env = &env;
        let token = bob.token.clone();
        async move { env.api.call("POST", &path, Some(&token), None).await }
    });
    let answers = join_all(calls).await;
    let winners: Vec<_> = answers.iter().filter(|a| a.status == 200).collect();
    assert_eq!(winners.len(), 1);
    assert_eq!(answers.iter().filter(|a| a.status == 409).count(), 9);
    let status = winners[0].body["status"].as_str().unwrap();
    let sent = env.api.get(&ada, "/partner-requests/sent?status=all").await;
    assert_eq!(
        sent.body["items"][0]["status"], status,
        "both copies agree with the winner"
    );
    let partners = env.api.partnerships(&ada).await.body["items"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(partners, usize::from(status == "accepted"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_registrations_of_one_email_create_one_account() {
    let env = TestEnv::new().await;
    let email = format!("{}@example.com", integration_tests::unique("same"));
    let answers = join_all((0..8).map(|i| {
        env.api.try_register(
            json!({"email": email, "name": format!("N{i}"), "password": "password123"}),
        )
    }))
    .await;
    let mut statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    statuses.sort();
    assert_eq!(statuses, [201, 409, 409, 409, 409, 409, 409, 409]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_identical_sends_store_one_message() {
    let (env, [ada, bob]) = TestEnv::with_users(["Ada", "Bob"]).await;
    let id = env.api.group(&ada, &[&bob], true).await;
    let body = json!({"body": "once", "client_id": "retry-me"});
    let answers = join_all((0..50).map(|_| env.api.send_message(&ada, &id, body.clone()))).await;
    let created = answers.iter().filter(|a| a.status == 201).count();
    let repeated = answers.iter().filter(|a| a.status == 200).count();
    assert_eq!(
        (created, repeated),
        (1, 49),
        "{:?}",
        answers.iter().map(|a| a.status).collect::<Vec<_>>()
    );
    let first = &answers[0].body["id"];
    assert!(
        answers.iter().all(|a| a.body["id"] == *first),
        "all answer the original"
    );
    let history = env.api.history(&ada, &id, "").await;
    assert_eq!(history.body["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(history.body["items"][0]["body"], "once");

    // A retry after the message was deleted does not bring its body back.
    let doomed = env
        .api
        .send_message(&ada, &id, json!({"body": "oops", "client_id": "doomed"}))
        .await;
    env.api
        .delete(
            &ada,
            &format!(
                "/channels/{id}/messages/{}",
                doomed.body["id"].as_str().unwrap()
            ),
        )
        .await;
    let retry = env
        .api
        .send_message(&ada, &id, json!({"body": "oops", "client_id": "doomed"}))
        .await;
    assert_eq!((retry.status, retry.code()), (409, "conflict"));
    assert!(!retry.body.to_string().contains("oops"));

    // The key is (sender, channel, client_id): another sender's same client_id is a new message.
    env.api
        .send_message(&bob, &id, body.clone())
        .await
        .assert_status(201);
    env.api
        .send_message(&ada, &id, body)
        .await
        .assert_status(200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_joins_add_each_member_once() {
    let (env, [ada, bob]) = TestEnv::with_users(["Ada", "Bob"]).await;
    let public = env.api.group(&ada, &[], false).await;
    let path = format!("/channels/{public}/join");
    let answers = join_all((0..10).map(|_| env.api.post(&bob, &path, None))).await;
    assert_eq!(answers.iter().filter(|a| a.status == 200).count(), 1);
    assert_eq!(answers.iter().filter(|a| a.status == 409).count(), 9);
    let channel = env.api.channel(&ada, &public).await;
    assert_eq!(channel.body["member_count"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_reactions_keep_every_user_once_per_emoji() {
    let (env, [ada]) = TestEnv::with_users(["Ada"]).await;
    let mut people = vec![ada.clone()];
    for i in 0..7 {
        people.push(env.api.register(&format!("Reactor {i}")).await);
    }
    let members: Vec<_> = people[1..].iter().collect();
    let id = env.api.group(&ada, &members, true).await;
    let message = env.api.say(&ada, &id, "react to me").await;
    let path = |emoji: &str| format!("/channels/{id}/messages/{message}/reactions/{emoji}");
    let env = &env;
    let (thumbs, party) = ("%F0%9F%91%8D", "%F0%9F%8E%89"); // 👍 🎉

    // Everyone adds both emojis twice, all at once.
    let adds = people.iter().flat_map(|user| {
        [thumbs, party, thumbs, party]
            .into_iter()
            .map(|emoji| {
                let path = path(emoji);
                async move { env.api.put(user, &path).await }
            })
            .collect::<Vec<_>>()
    });
    let answers = join_all(adds).await;
    assert!(answers.iter().all(|a| a.status == 200), "{answers:?}");
    let message_now = env.api.history(&ada, &id, "?limit=1").await;
    let reactions = &message_now.body["items"][0]["reactions"];
    let mut everyone: Vec<Value> = people.iter().map(|p| json!(p.id)).collect();
    everyone.sort_by_key(|v| v.to_string());
    for emoji in ["👍", "🎉"] {
        let mut users = reactions[emoji].as_array().cloned().unwrap_or_default();
        users.sort_by_key(|v| v.to_string());
        assert_eq!(users, everyone, "{emoji}: {reactions}");
    }

    // Everyone removes 👍 while adding ❤️ at once: 👍 disappears, ❤️ has everyone.
    let heart = "%E2%9D%A4";
    let changes = people.iter().flat_map(|user| {
        [("DELETE", path(thumbs)), ("PUT", path(heart))].map(|(method, path)| async move {
            env.api.call(method, &path, Some(&user.token), None).await
        })
    });
    let answers = join_all(changes).await;
    assert!(answers.iter().all(|a| a.status == 200), "{answers:?}");
    let after = env.api.history(&ada, &id, "?limit=1").await;
    let reactions = &after.body["items"][0]["reactions"];
    assert!(reactions.get("👍").is_none(), "{reactions}");
    assert_eq!(reactions["❤"].as_array().map(Vec::len), Some(people.len()));
    assert_eq!(reactions["🎉"].as_array().map(Vec::len), Some(people.len()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_read_markers_end_at_the_newest_message() {
    // 30 sends in a row: past the default send burst.
    let env = TestEnv::with_settings(Default::default(), &[("SEND_BURST", "100")]).await;
    let [ada, bob] = env.api.register_all(["Ada", "Bob"]).await;
    let id = env.api.group(&ada, &[&bob], true).await;
    for round in 0..3 {
        let mut messages = Vec::new();
        for i in 0..10 {
            messages.push(
                env.api
                    .say(&ada, &id, &format!("round {round} message {i}"))
                    .await,
            );
        }
        let newest = messages.last().cloned().unwrap_or_default();
        // Every marker at once, newest first so a late older one would be a regression.
        let path = format!("/channels/{id}/read");
        let marks = messages
            .iter()
            .rev()
            .map(|message| env.api.post(&bob, &path, json!({ "message_id": message })));
        let answers = join_all(marks).await;
        assert!(answers.iter().all(|a| a.status == 200), "{answers:?}");
        let receipts = env.api.read_receipts(&ada, &id).await;
        let bobs = receipts.body["items"]
            .as_array()
            .and_then(|items| items.iter().find(|r| r["user_id"] == json!(bob.id)))
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            bobs["last_read_message_id"],
            json!(newest),
            "round {round}: {receipts:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_joins_past_the_member_limit_admit_exactly_the_free_places() {
    const MAX_GROUP_MEMBERS: u32 = 40;
    let env = TestEnv::with_settings(Default::default(), &[("MAX_GROUP_MEMBERS", "40")]).await;
    let [ada] = env.api.register_all(["Ada"]).await;
    let id = env.api.group(&ada, &[], false).await;
    let free = 4;
    env.fill_group(&id, &ada, MAX_GROUP_MEMBERS - 1 - free)
        .await;
    let mut joiners = Vec::new();
    for i in 0..12 {
        joiners.push(env.api.register(&format!("Joiner {i}")).await);
    }
    let path = format!("/channels/{id}/join");
    let answers = join_all(joiners.iter().map(|user| env.api.post(user, &path, None))).await;
    let (joined, refused) = tally(&answers, 200);
    assert_eq!(
        (joined, refused),
        (free as usize, joiners.len() - free as usize),
        "{:?}",
        answers.iter().map(|a| a.status).collect::<Vec<_>>()
    );
    let channel = env.api.channel(&ada, &id).await;
    assert_eq!(channel.body["member_count"], MAX_GROUP_MEMBERS);
    assert_eq!(
        channel.body["members"].as_array().map(Vec::len),
        Some(MAX_GROUP_MEMBERS as usize)
    );
}
