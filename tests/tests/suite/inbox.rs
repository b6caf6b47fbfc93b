//! The inbox: `GET /channels` summaries (last message, unread and mention counts, role, mute)
//! in activity order across pages, `GET /me/unread`, mentions, and sends that never fail on
//! contention. The event router runs in process (`route_changes`), as it would from the
//! table's stream, so each test says when the asynchronous part has caught up.

use std::time::Duration;

use futures::future::join_all;
use integration_tests::client::item_strings;
use integration_tests::stack::Stack;
use integration_tests::{TestEnv, TestUser};
use serde_json::{json, Value};

/// The caller's whole channel list, following every page of `limit`.
async fn channel_list(env: &TestEnv, user: &TestUser, limit: usize) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(cursor) => format!("/channels?limit={limit}&cursor={cursor}"),
            None => format!("/channels?limit={limit}"),
        };
        let page = env.api.get(user, &path).await;
        page.assert_status(200);
        items.extend(page.body["items"].as_array().cloned().unwrap_or_default());
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return items,
        }
    }
}

fn summary<'a>(list: &'a [Value], channel: &str) -> &'a Value {
    list.iter()
        .find(|c| c["id"] == channel)
        .unwrap_or_else(|| panic!("{channel} is not in {list:#?}"))
}

fn order(list: &[Value]) -> Vec<String> {
    item_strings(&json!({ "items": list }), "id")
}

async fn unread_totals(env: &TestEnv, user: &TestUser) -> (u64, u64, u64) {
    let totals = env.api.get(user, "/me/unread").await;
    totals.assert_status(200);
    let n = |field: &str| totals.body[field].as_u64().expect(field);
    (
        n("total_unread_count"),
        n("unread_channels"),
        n("total_mention_count"),
    )
}

#[tokio::test]
async fn the_list_shows_previews_counts_and_activity_order_across_pages() {
    let (env, [ada, bob, cy]) = TestEnv::with_users(["Ada", "Bob", "Cy"]).await;
    let older = env.api.group(&ada, &[&bob, &cy], true).await;
    let newer = env.api.group(&ada, &[&bob], false).await;
    let direct = env.api.direct(&ada, &bob).await.id();

    // Newest first: with no messages yet, by creation.
    let list = channel_list(&env, &bob, 2).await;
    assert_eq!(order(&list), [direct.clone(), newer.clone(), older.clone()]);
    let fresh = summary(&list, &older);
    assert_eq!(
        (
            &fresh["role"],
            &fresh["muted"],
            &fresh["last_message"],
            &fresh["unread_count"]
        ),
        (&json!("member"), &json!(false), &json!(null), &json!(0))
    );
    assert_eq!(fresh["last_activity_at"], fresh["created_at"]);

    // Ada writes in the oldest channel, mentioning Bob: it moves to the top of Bob's list.
    let long = "x".repeat(300);
    let hello = env
        .api
        .send_message(&ada, &older, json!({"body": long, "mention_ids": [bob.id]}))
        .await;
    hello.assert_status(201);
    assert_eq!(hello.body["mentions"], json!([bob.id]));
    env.api.say(&ada, &older, "and a second one").await;
    env.route_changes().await;
    let list = channel_list(&env, &bob, 2).await;
    assert_eq!(order(&list), [older.clone(), direct.clone(), newer.clone()]);
    let active = summary(&list, &older);
    assert_eq!(
        (&active["unread_count"], &active["mention_count"]),
        (&json!(2), &json!(1))
    );
    assert_eq!(active["last_message"]["preview"], "and a second one");
    assert_eq!(active["last_message"]["sender"]["name"], "Ada");
    assert_eq!(
        active["last_activity_at"],
        active["last_message"]["created_at"]
    );
    assert_eq!(unread_totals(&env, &bob).await, (2, 1, 1));
    // Ada wrote them: nothing is unread for her, in any of her channels.
    let adas = channel_list(&env, &ada, 10).await;
    assert_eq!(summary(&adas, &older)["unread_count"], 0);
    assert_eq!(summary(&adas, &older)["role"], "owner");

    // A preview is the first 140 characters.
    let first = env
        .api
        .get(&bob, &format!("/channels/{older}/messages?order=asc"))
        .await;
    assert_eq!(
        first.body["items"][0]["body"].as_str().map(str::len),
        Some(300)
    );
    env.api
        .delete(
            &ada,
            &format!(
                "/channels/{older}/messages/{}",
                item_strings(&list_messages(&env, &ada, &older).await, "id")[0]
            ),
        )
        .await
        .assert_status(204);
    env.route_changes().await;
    let list = channel_list(&env, &bob, 10).await;
    let active = summary(&list, &older);
    assert_eq!(
        active["last_message"]["preview"]
            .as_str()
            .map(|p| p.chars().count()),
        Some(140)
    );
    assert_eq!(
        (&active["unread_count"], &active["mention_count"]),
        (&json!(1), &json!(1)),
        "the deleted one no longer counts"
    );

    // Bob reads it: the badge clears. His own send tops the list at once (no router).
    let newest = item_strings(&list_messages(&env, &bob, &older).await, "id")[0].clone();
    env.api
        .mark_read(&bob, &older, &newest)
        .await
        .assert_status(200);
    assert_eq!(unread_totals(&env, &bob).await, (0, 0, 0));
    env.api.say(&bob, &newer, "me first").await;
    let list = channel_list(&env, &bob, 2).await;
    assert_eq!(order(&list)[0], newer);
    assert_eq!(
        summary(&list, &newer)["unread_count"],
        0,
        "what one writes, one has read"
    );

    // Editing the newest message edits the preview; deleting the only one empties it.
    let mine = item_strings(&list_messages(&env, &bob, &newer).await, "id")[0].clone();
    env.api
        .patch(
            &bob,
            &format!("/channels/{newer}/messages/{mine}"),
            json!({"body": "me first!"}),
        )
        .await
        .assert_status(200);
    env.route_changes().await;
    assert_eq!(
        summary(&channel_list(&env, &ada, 10).await, &newer)["last_message"]["preview"],
        "me first!"
    );
    env.api
        .delete(&bob, &format!("/channels/{newer}/messages/{mine}"))
        .await
        .assert_status(204);
    env.route_changes().await;
    let list = channel_list(&env, &ada, 10).await;
    assert_eq!(summary(&list, &newer)["last_message"], json!(null));
    assert_eq!(
        order(&list)[0],
        newer,
        "a deletion does not reorder the list"
    );
}

async fn list_messages(env: &TestEnv, user: &TestUser, channel: &str) -> Value {
    let history = env.api.history(user, channel, "").await;
    history.assert_status(200);
    history.body
}

#[tokio::test]
async fn unread_counts_stop_at_a_hundred_and_skip_blocked_users() {
    let env = TestEnv::with_settings(Default::default(), &[("SEND_BURST", "200")]).await;
    let [ada, bob, cy] = env.api.register_all(["Ada", "Bob", "Cy"]).await;
    let channel = env.api.group(&ada, &[&bob, &cy], true).await;
    for n in 0..120 {
        env.api.say(&ada, &channel, &format!("{n}")).await;
    }
    env.route_changes().await;
    assert_eq!(
        summary(&channel_list(&env, &bob, 50).await, &channel)["unread_count"],
        100
    );

    // Bob blocks Cy: Cy's messages neither count nor show as the preview for him.
    let last_of_ada = item_strings(&list_messages(&env, &bob, &channel).await, "id")[0].clone();
    env.api
        .mark_read(&bob, &channel, &last_of_ada)
        .await
        .assert_status(200);
    env.api
        .put(&bob, &format!("/me/blocks/{}", cy.id))
        .await
        .assert_status(204);
    env.api.say(&cy, &channel, "psst, Bob").await;
    env.route_changes().await;
    let bobs = summary(&channel_list(&env, &bob, 50).await, &channel).clone();
    assert_eq!(bobs["unread_count"], 0);
    assert_eq!(bobs["last_message"]["sender"]["name"], "Ada");
    let adas = summary(&channel_list(&env, &ada, 50).await, &channel).clone();
    assert_eq!(
        adas["last_message"]["preview"], "psst, Bob",
        "Ada blocked nobody"
    );
}

#[tokio::test]
async fn mentions_must_be_members_and_mute_is_the_members_own() {
    let (env, [ada, bob, eve]) = TestEnv::with_users(["Ada", "Bob", "Eve"]).await;
    let channel = env.api.group(&ada, &[&bob], true).await;
    let public = env.api.group(&ada, &[], false).await;

    let refused = env
        .api
        .send_message(
            &ada,
            &channel,
            json!({"body": "hi", "mention_ids": [bob.id, eve.id]}),
        )
        .await;
    refused.assert_error(400, "validation_failed", "a mention of a non-member");
    assert!(refused.body["error"]["details"]["mention_ids"]
        .as_str()
        .unwrap()
        .contains(&eve.id));
    let too_many: Vec<String> = (0..51).map(|_| bob.id.clone()).collect();
    env.api
        .send_message(
            &ada,
            &channel,
            json!({"body": "hi", "mention_ids": too_many}),
        )
        .await
        .assert_error(400, "validation_failed", "51 mentions");
    assert!(
        item_strings(&list_messages(&env, &ada, &channel).await, "id").is_empty(),
        "nothing stored"
    );

    let mute = format!("/channels/{channel}/mute");
    env.api.put(&bob, &mute).await.assert_status(204);
    env.api.put(&bob, &mute).await.assert_status(204);
    assert_eq!(
        summary(&channel_list(&env, &bob, 50).await, &channel)["muted"],
        true
    );
    assert_eq!(
        summary(&channel_list(&env, &ada, 50).await, &channel)["muted"],
        false
    );
    env.api.delete(&bob, &mute).await.assert_status(204);
    assert_eq!(
        summary(&channel_list(&env, &bob, 50).await, &channel)["muted"],
        false
    );
    env.api
        .put(&eve, &mute)
        .await
        .assert_error(404, "not_found", "a private channel of others");
    env.api
        .put(&eve, &format!("/channels/{public}/mute"))
        .await
        .assert_error(403, "forbidden", "a public channel not joined");
}

/// Fifty members sending into one channel at the same moment: every send succeeds (none
/// shares an item with another), and everyone's list counts the others' messages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_senders_never_fail_on_contention() {
    // The request pushes to channels this big itself, so the router moves the lists here
    // (no fan-out worker runs in this test).
    let env =
        TestEnv::with_settings(Default::default(), &[("INLINE_PUSH_MAX_MEMBERS", "60")]).await;
    let [ada] = env.api.register_all(["Ada"]).await;
    let channel = env.api.group(&ada, &[], false).await;
    let senders = env.quick_users("Sender", 50).await;
    env.add_to_group(&channel, &ada, &senders).await;
    let sends = join_all(senders.iter().map(|sender| {
        env.api.send_message(
            sender,
            &channel,
            json!({"body": format!("from {}", sender.name)}),
        )
    }))
    .await;
    let statuses: Vec<u16> = sends.iter().map(|answer| answer.status).collect();
    assert!(statuses.iter().all(|&s| s == 201), "{statuses:?}");
    env.route_changes().await;
    let history = env.api.history(&ada, &channel, "?limit=100").await;
    assert_eq!(history.item_strings("id").len(), 50);
    assert_eq!(
        summary(&channel_list(&env, &ada, 50).await, &channel)["unread_count"],
        50
    );
}

/// A channel bigger than the request pushes to itself: a burst of messages marks it once, and
/// one move a moment later (`LIST_MOVE_SECONDS`) takes every member's list to its newest
/// message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_big_channels_lists_move_once_a_moment_later() {
    let stack = Stack::start_with_settings(
        Default::default(),
        &[("INLINE_PUSH_MAX_MEMBERS", "2"), ("LIST_MOVE_SECONDS", "1")],
    )
    .await;
    let env = &stack.env;
    let sdk = shared::context::load_sdk_config().await;
    env.spawn_job_workers(aws_sdk_ses::Client::new(&sdk)).await;
    let [ada, bob, cy, dan] = stack.api.register_all(["Ada", "Bob", "Cy", "Dan"]).await;
    let channel = stack.api.group(&ada, &[&bob, &cy, &dan], true).await;
    let other = stack.api.group(&ada, &[&bob, &cy, &dan], true).await;
    for text in ["to all four", "and again", "last one"] {
        stack.api.say(&ada, &channel, text).await;
    }
    for member in [&bob, &cy, &dan] {
        let mut list = Vec::new();
        for _ in 0..100 {
            list = channel_list(env, member, 10).await;
            if summary(&list, &channel)["unread_count"] == 3 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(
            order(&list),
            [channel.clone(), other.clone()],
            "{}",
            member.name
        );
        assert_eq!(summary(&list, &channel)["unread_count"], 3);
        assert_eq!(
            summary(&list, &channel)["last_message"]["preview"],
            "last one"
        );
    }
}
