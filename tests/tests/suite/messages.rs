//! Messages: every row of the contract's Messages section, through the channels-api handler
//! on DynamoDB Local, with the pushed domain events and the assistant queue on moto.

use futures::future::join_all;
use integration_tests::{Answer, TestEnv, TestUser};
use serde_json::{json, Value};
use shared::domain::UserId;
use shared::events::DomainEvent;

async fn send(env: &TestEnv, user: &TestUser, channel: &str, body: Value) -> Answer {
    env.api.send_message(user, channel, body).await
}

#[tokio::test]
async fn sending_stores_and_publishes_a_message() {
    let (env, [ada, bob]) = TestEnv::with_users(["Ada", "Bob"]).await;
    let id = env.api.group(&ada, &[&bob], true).await;
    let mut events = env.ctx.events.subscribe();

    let answer = send(
        &env,
        &ada,
        &id,
        json!({"body": "Hello *team*", "client_id": "c-1"}),
    )
    .await;
    assert_eq!(answer.status, 201, "{:?}", answer.body);
    let message = &answer.body;
    assert_eq!(message["channel_id"], id.as_str());
    assert_eq!(message["sender"], json!({"id": ada.id, "name": "Ada"}));
    assert_eq!(
        (message["role"].as_str(), message["body"].as_str()),
        (Some("user"), Some("Hello *team*"))
    );
    assert_eq!(
        (message["parent_id"].clone(), message["reply_count"].clone()),
        (Value::Null, json!(0))
    );
    assert_eq!(
        (message["reactions"].clone(), message["edited_at"].clone()),
        (json!({}), Value::Null)
    );
    assert_eq!(message["client_id"], "c-1");
    match events.try_recv() {
        Ok(DomainEvent::MessageCreated {
            message: pushed, ..
        }) => assert_eq!(pushed.id.as_str(), message["id"]),
        other => panic!("expected message.created, got {other:?}"),
    }
    let got = env
        .api
        .get(
            &bob,
            &format!(
                "/channels/{id}/messages/{}",
                message["id"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(got.body, *message);
    TestEnv::settle().await;
    assert!(
        env.queued_assistant_jobs().await.is_empty(),
        "no assistant outside assistant channels"
    );
}

#[tokio::test]
async fn send_errors() {
    let (env, [ada, eve]) = TestEnv::with_users(["Ada", "Eve"]).await;
    let private = env.api.group(&ada, &[], true).await;
    let public = env.api.group(&ada, &[], false).await;
    let other = env.api.group(&ada, &[], true).await;

    for body in [
        json!({"body": "   "}),
        json!({"body": "x".repeat(4001)}),
        json!({}),
    ] {
        let answer = send(&env, &ada, &private, body).await;
        assert_eq!((answer.status, answer.code()), (400, "validation_failed"));
    }
    assert_eq!(
        send(&env, &ada, &private, json!({"body": "x".repeat(4000)}))
            .await
            .status,
        201
    );
    assert_eq!(
        send(&env, &ada, &private, json!({"body": 5})).await.code(),
        "bad_request"
    );

    let outsider_public = send(&env, &eve, &public, json!({"body": "hi"})).await;
    assert_eq!(
        (outsider_public.status, outsider_public.code()),
        (403, "forbidden")
    );
    let outsider_private = send(&env, &eve, &private, json!({"body": "hi"})).await;
    assert_eq!(outsider_private.status, 404);
    let unknown = send(
        &env,
        &ada,
        &UserId::generate().to_string(),
        json!({"body": "hi"}),
    )
    .await;
    assert_eq!(unknown.status, 404);

    let elsewhere = env.api.say(&ada, &other, "in another channel").await;
    for parent in [
        elsewhere,
        UserId::generate().to_string(),
        "nope".to_string(),
    ] {
        let answer = send(
            &env,
            &ada,
            &private,
            json!({"body": "re", "parent_id": parent}),
        )
        .await;
        answer.assert_error(404, "not_found", &parent);
    }
    let root = env.api.say(&ada, &private, "root").await;
    let reply = send(
        &env,
        &ada,
        &private,
        json!({"body": "re", "parent_id": root}),
    )
    .await;
    let nested = send(
        &env,
        &ada,
        &private,
        json!({"body": "re re", "parent_id": reply.body["id"]}),
    )
    .await;
    assert_eq!(nested.code(), "validation_failed");
}

#[tokio::test]
async fn history_pages_in_both_orders_and_filters() {
    let (env, [ada]) = TestEnv::with_users(["Ada"]).await;
    let id = env.api.group(&ada, &[], true).await;
    for i in 0..7 {
        env.api
            .say(
                &ada,
                &id,
                &format!("Message {i}{}", if i % 3 == 0 { " about Rust" } else { "" }),
            )
            .await;
    }
    let deleted = env.api.say(&ada, &id, "gone about rust").await;
    env.api
        .delete(&ada, &format!("/channels/{id}/messages/{deleted}"))
        .await;

    let mut newest_first = Vec::new();
    let mut path = format!("/channels/{id}/messages?limit=3");
    loop {
        let page = env.api.get(&ada, &path).await;
        assert_eq!(page.status, 200, "{:?}", page.body);
        newest_first.extend(page.item_strings("body"));
        match page.body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/channels/{id}/messages?limit=3&cursor={cursor}"),
            None => break,
        }
    }
    let expected: Vec<String> = (0..7)
        .rev()
        .map(|i| format!("Message {i}{}", if i % 3 == 0 { " about Rust" } else { "" }))
        .collect();
    assert_eq!(newest_first, expected, "deleted messages are left out");
    let oldest = env.api.history(&ada, &id, "?order=asc&limit=2").await;
    assert_eq!(
        oldest.item_strings("body"),
        ["Message 0 about Rust", "Message 1"]
    );

    let search = env.api.history(&ada, &id, "?q=RUST").await;
    assert_eq!(
        search.item_strings("body"),
        [
            "Message 6 about Rust",
            "Message 3 about Rust",
            "Message 0 about Rust"
        ]
    );
    let by_role = env.api.history(&ada, &id, "?role=assistant").await;
    assert_eq!(by_role.body["items"], json!([]));
    let users = env.api.history(&ada, &id, "?role=user&limit=100").await;
    assert_eq!(users.item_strings("body").len(), 7);

    for bad in ["order=sideways", "role=robot", "limit=0", "cursor=forged"] {
        let answer = env
            .api
            .get(&ada, &format!("/channels/{id}/messages?{bad}"))
            .await;
        answer.assert_error(400, "bad_request", bad);
    }
    let first = env.api.history(&ada, &id, "?limit=1").await;
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let other_query = env
        .api
        .get(
            &ada,
            &format!("/channels/{id}/messages?order=asc&cursor={cursor}"),
        )
        .await;
    assert_eq!(
        other_query.code(),
        "bad_request",
        "a cursor is bound to its query"
    );
}

#[tokio::test]
async fn threads_count_their_replies() {
    let (env, [ada, bob]) = TestEnv::with_users(["Ada", "Bob"]).await;
    let id = env.api.group(&ada, &[&bob], true).await;
    let root = env.api.say(&ada, &id, "root").await;
    let mut replies = Vec::new();
    for (user, text) in [(&bob, "first"), (&ada, "second"), (&bob, "third")] {
        let answer = send(&env, user, &id, json!({"body": text, "parent_id": root})).await;
        assert_eq!(answer.body["parent_id"], root.as_str());
        replies.push(answer.body["id"].as_str().unwrap().to_string());
    }
    let thread = env
        .api
        .get(&bob, &format!("/channels/{id}/messages/{root}/replies"))
        .await;
    assert_eq!(
        thread.item_strings("body"),
        ["first", "second", "third"],
        "oldest first"
    );
    let filtered = env
        .api
        .get(
            &bob,
            &format!("/channels/{id}/messages?parent_id={root}&order=asc"),
        )
        .await;
    assert_eq!(filtered.item_strings("body"), ["first", "second", "third"]);
    let parent = env
        .api
        .get(&ada, &format!("/channels/{id}/messages/{root}"))
        .await;
    assert_eq!(parent.body["reply_count"], 3);

    env.api
        .delete(&ada, &format!("/channels/{id}/messages/{}", replies[1]))
        .await;
    let parent = env
        .api
        .get(&ada, &format!("/channels/{id}/messages/{root}"))
        .await;
    assert_eq!(
        parent.body["reply_count"], 2,
        "a deleted reply leaves the count"
    );
    let thread = env
        .api
        .get(&bob, &format!("/channels/{id}/messages/{root}/replies"))
        .await;
    assert_eq!(thread.item_strings("body"), ["first", "third"]);
    let unknown = UserId::generate();
    let replies = format!("/channels/{id}/messages/{unknown}/replies");
    env.api.get(&bob, &replies).await.assert_status(404);
}

#[tokio::test]
async fn editing_and_deleting() {
    let (env, [ada, bob, cy]) = TestEnv::with_users(["Ada", "Bob", "Cy"]).await;
    let id = env.api.group(&ada, &[&bob, &cy], true).await;
    let bobs = env.api.say(&bob, &id, "typo").await;
    let mut events = env.ctx.events.subscribe();
    let path = format!("/channels/{id}/messages/{bobs}");

    let not_sender = env.api.patch(&ada, &path, json!({"body": "fixed"})).await;
    assert_eq!((not_sender.status, not_sender.code()), (403, "forbidden"));
    let empty = env.api.patch(&bob, &path, json!({"body": " "})).await;
    assert_eq!(empty.code(), "validation_failed");
    let edited = env.api.patch(&bob, &path, json!({"body": "fixed"})).await;
    assert_eq!(edited.status, 200);
    assert_eq!(edited.body["body"], "fixed");
    assert!(edited.body["edited_at"].is_string());
    assert!(matches!(
        events.try_recv(),
        Ok(DomainEvent::MessageUpdated { .. })
    ));

    let by_member = env.api.delete(&cy, &path).await;
    by_member.assert_error(403, "forbidden", "neither sender nor owner");
    assert_eq!(
        env.api.delete(&ada, &path).await.status,
        204,
        "the owner may"
    );
    assert!(matches!(
        events.try_recv(),
        Ok(DomainEvent::MessageDeleted { .. })
    ));
    let again = env.api.delete(&bob, &path).await;
    assert_eq!((again.status, again.code()), (404, "not_found"));
    env.api.get(&bob, &path).await.assert_status(404);
    env.api
        .patch(&bob, &path, json!({"body": "x"}))
        .await
        .assert_status(404);

    let own = env.api.say(&cy, &id, "mine").await;
    env.api
        .delete(&cy, &format!("/channels/{id}/messages/{own}"))
        .await
        .assert_status(204);
}

#[tokio::test]
async fn reactions_are_idempotent_per_user() {
    let (env, [ada, bob]) = TestEnv::with_users(["Ada", "Bob"]).await;
    let id = env.api.group(&ada, &[&bob], true).await;
    let message = env.api.say(&ada, &id, "react to me").await;
    let thumbs = "%F0%9F%91%8D"; // 👍
    let path = |emoji: &str| format!("/channels/{id}/messages/{message}/reactions/{emoji}");
    let mut events = env.ctx.events.subscribe();

    for _ in 0..2 {
        let answer = env.api.put(&ada, &path(thumbs)).await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.body["reactions"], json!({"👍": [ada.id]}));
    }
    let both = env.api.put(&bob, &path(thumbs)).await;
    let mut expected = vec![ada.id.clone(), bob.id.clone()];
    expected.sort();
    assert_eq!(both.body["reactions"]["👍"], json!(expected));
    let party = env.api.put(&bob, &path("%F0%9F%8E%89")).await;
    assert_eq!(party.body["reactions"]["🎉"], json!([bob.id]));
    match events.try_recv() {
        Ok(DomainEvent::ReactionUpdated { message_id, .. }) => {
            assert_eq!(message_id.as_str(), message)
        }
        other => panic!("expected reaction.updated, got {other:?}"),
    }

    let removed = env.api.delete(&ada, &path(thumbs)).await;
    assert_eq!(removed.body["reactions"]["👍"], json!([bob.id]));
    let removed_again = env.api.delete(&ada, &path(thumbs)).await;
    assert_eq!(removed_again.status, 200);
    assert_eq!(removed_again.body["reactions"]["👍"], json!([bob.id]));

    for not_one_emoji in ["x", ":tada:", "%F0%9F%91%8D%F0%9F%91%8D"] {
        env.api.put(&ada, &path(not_one_emoji)).await.assert_error(
            400,
            "validation_failed",
            not_one_emoji,
        );
    }
    let unknown = UserId::generate();
    let reaction = format!("/channels/{id}/messages/{unknown}/reactions/{thumbs}");
    env.api.put(&ada, &reaction).await.assert_status(404);

    // Concurrent reactions by many users all land.
    let mut users = Vec::new();
    for i in 0..8 {
        let user = env.api.register(&format!("Fan{i}")).await;
        env.api.befriend(&ada, &user).await;
        env.api.add_member(&ada, &id, &user.id).await;
        users.push(user);
    }
    let heart = path("%E2%9D%A4");
    join_all(users.iter().map(|u| env.api.put(u, &heart))).await;
    let got = env
        .api
        .get(&ada, &format!("/channels/{id}/messages/{message}"))
        .await;
    assert_eq!(got.body["reactions"]["❤"].as_array().unwrap().len(), 8);
}

/// A message holds at most `MAX_DISTINCT_REACTIONS` (20) different emoji: a 21st is 409, one
/// already there still takes more people, and taking the last of one back frees its place.
#[tokio::test]
async fn a_message_holds_at_most_twenty_different_emoji() {
    let (env, [ada, bob]) = TestEnv::with_users(["Ada", "Bob"]).await;
    let id = env.api.group(&ada, &[&bob], true).await;
    let message = env.api.say(&ada, &id, "react to me").await;
    let path = |emoji: &str| {
        let encoded: String = emoji.bytes().map(|b| format!("%{b:02X}")).collect();
        format!("/channels/{id}/messages/{message}/reactions/{encoded}")
    };
    let emoji: Vec<&str> = "😀 😂 😍 🤔 😎 😭 😡 👍 👎 👏 🙏 🔥 🎉 ❤️ 💯 👀 🚀 ✅ 🙌 🤝 🍕"
        .split(' ')
        .collect();
    for one in &emoji[..20] {
        env.api.put(&ada, &path(one)).await.assert_status(200);
    }
    let twenty_first = env.api.put(&ada, &path(emoji[20])).await;
    twenty_first.assert_error(409, "conflict", "a 21st emoji");
    let more = env.api.put(&bob, &path(emoji[0])).await;
    assert_eq!(more.status, 200, "an emoji in use takes more people");
    assert_eq!(more.body["reactions"].as_object().unwrap().len(), 20);

    env.api
        .delete(&ada, &path(emoji[1]))
        .await
        .assert_status(200);
    let freed = env.api.put(&bob, &path(emoji[20])).await;
    assert_eq!(
        freed.status, 200,
        "the last one taken back frees a place: {:?}",
        freed.body
    );
    env.api
        .delete(&ada, &path(emoji[0]))
        .await
        .assert_status(200);
    env.api.put(&ada, &path(emoji[1])).await.assert_error(
        409,
        "conflict",
        "😀 still has Bob's, so 20 are in use",
    );
}

#[tokio::test]
async fn read_markers_only_move_forward() {
    let (env, [ada, bob]) = TestEnv::with_users(["Ada", "Bob"]).await;
    let id = env.api.group(&ada, &[&bob], true).await;
    let first = env.api.say(&ada, &id, "one").await;
    let second = env.api.say(&ada, &id, "two").await;
    let mut events = env.ctx.events.subscribe();
    let read = |message: &str| json!({"message_id": message});

    let marker = env
        .api
        .post(&bob, &format!("/channels/{id}/read"), read(&second))
        .await;
    assert_eq!(marker.status, 200, "{:?}", marker.body);
    assert_eq!(marker.body["last_read_message_id"], second.as_str());
    assert_eq!(
        (
            marker.body["user_id"].as_str(),
            marker.body["channel_id"].as_str()
        ),
        (Some(bob.id.as_str()), Some(id.as_str()))
    );
    assert!(matches!(
        events.try_recv(),
        Ok(DomainEvent::ReadReceipt { .. })
    ));

    let back = env
        .api
        .post(&bob, &format!("/channels/{id}/read"), read(&first))
        .await;
    assert_eq!(back.status, 200);
    assert_eq!(
        back.body["last_read_message_id"],
        second.as_str(),
        "never moves back"
    );
    assert!(
        events.try_recv().is_err(),
        "nothing pushed when it did not move"
    );

    let elsewhere = env.api.group(&ada, &[], true).await;
    let foreign = env.api.say(&ada, &elsewhere, "x").await;
    let wrong = env
        .api
        .post(&bob, &format!("/channels/{id}/read"), read(&foreign))
        .await;
    assert_eq!((wrong.status, wrong.code()), (404, "not_found"));

    env.api
        .post(&ada, &format!("/channels/{id}/read"), read(&first))
        .await;
    let receipts = env.api.read_receipts(&ada, &id).await;
    assert_eq!(receipts.status, 200);
    let mut items: Vec<(String, String)> = receipts.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["user_id"].as_str().unwrap().to_string(),
                r["last_read_message_id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    items.sort();
    // Ada sent both messages: her own send moved her marker to the second (what one
    // writes, one has read), so marking the first read leaves it there.
    let mut expected = vec![
        (ada.id.clone(), second.clone()),
        (bob.id.clone(), second.clone()),
    ];
    expected.sort();
    assert_eq!(items, expected);
}

#[tokio::test]
async fn assistant_channels_queue_one_reply_job_per_user_message() {
    let (env, [ada]) = TestEnv::with_users(["Ada"]).await;
    let id = env.api.assistant_channel(&ada).await;
    let first = env.api.say(&ada, &id, "hello").await;
    let again = send(&env, &ada, &id, json!({"body": "hello", "client_id": "k"})).await;
    // A retry stores nothing new, so nothing new is routed: the job comes from the stored
    // message itself (the stream), so it cannot have been lost.
    send(&env, &ada, &id, json!({"body": "hello", "client_id": "k"})).await;
    TestEnv::settle().await;
    let jobs = env.queued_assistant_jobs().await;
    let mut ids: Vec<&str> = jobs
        .iter()
        .map(|j| j["message_id"].as_str().unwrap())
        .collect();
    ids.sort();
    let original = again.body["id"].as_str().unwrap();
    let mut expected = vec![first.as_str(), original];
    expected.sort();
    assert_eq!(ids, expected);
    assert!(jobs.iter().all(|j| j["channel_id"] == id.as_str()));
}

#[tokio::test]
async fn an_outsider_gets_nothing_of_a_private_channels_messages() {
    let (env, [ada, eve]) = TestEnv::with_users(["Ada", "Eve"]).await;
    let id = env.api.group(&ada, &[], true).await;
    let m = env.api.say(&ada, &id, "secret").await;
    let calls: Vec<(&str, String, Option<Value>)> = vec![
        (
            "POST",
            format!("/channels/{id}/messages"),
            Some(json!({"body": "hi"})),
        ),
        ("GET", format!("/channels/{id}/messages"), None),
        ("GET", format!("/channels/{id}/messages?q=secret"), None),
        ("GET", format!("/channels/{id}/messages/{m}"), None),
        (
            "PATCH",
            format!("/channels/{id}/messages/{m}"),
            Some(json!({"body": "x"})),
        ),
        ("DELETE", format!("/channels/{id}/messages/{m}"), None),
        ("GET", format!("/channels/{id}/messages/{m}/replies"), None),
        (
            "PUT",
            format!("/channels/{id}/messages/{m}/reactions/%F0%9F%91%8D"),
            None,
        ),
        (
            "DELETE",
            format!("/channels/{id}/messages/{m}/reactions/%F0%9F%91%8D"),
            None,
        ),
        (
            "POST",
            format!("/channels/{id}/read"),
            Some(json!({"message_id": m})),
        ),
        ("GET", format!("/channels/{id}/read-receipts"), None),
    ];
    for (method, path, body) in calls {
        let answer = env.api.call(method, &path, Some(&eve.token), body).await;
        answer.assert_error(404, "not_found", &format!("{method} {path}"));
        assert!(
            !answer.body.to_string().contains("secret"),
            "{method} {path} leaks"
        );
    }
    let still = env
        .api
        .get(&ada, &format!("/channels/{id}/messages/{m}"))
        .await;
    assert_eq!(
        (still.body["body"].as_str(), still.body["reactions"].clone()),
        (Some("secret"), json!({}))
    );
}
