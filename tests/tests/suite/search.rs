//! `GET /search/messages`: words (not substrings), folded, across the caller's channels or in
//! one, newest first and paged; the index follows posts, edits, deletes and purges off the
//! stream (the event router runs in process: `route_changes`), and a search never shows what
//! the caller may not read or chose not to see.

use integration_tests::{TestEnv, TestUser};
use serde_json::json;

/// Every page of a search, following `next_cursor`; the found messages' bodies and their
/// channels' ids, in order.
async fn search_all(
    env: &TestEnv,
    user: &TestUser,
    query: &str,
    limit: usize,
) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut cursor = String::new();
    for _ in 0..50 {
        let page = env
            .api
            .get(
                user,
                &format!("/search/messages?{query}&limit={limit}&cursor={cursor}"),
            )
            .await;
        page.assert_status(200);
        let items = page.body["items"].as_array().cloned().unwrap_or_default();
        assert!(items.len() <= limit);
        found.extend(items.iter().map(|hit| {
            (
                hit["message"]["body"].as_str().unwrap().to_string(),
                hit["channel"]["id"].as_str().unwrap().to_string(),
            )
        }));
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = next.to_string(),
            None => return found,
        }
    }
    panic!("a search that never ends");
}

async fn bodies(env: &TestEnv, user: &TestUser, query: &str) -> Vec<String> {
    search_all(env, user, query, 50)
        .await
        .into_iter()
        .map(|(body, _)| body)
        .collect()
}

/// How many index items the channel's partition holds.
async fn index_items(env: &TestEnv, channel: &str) -> usize {
    let output = env
        .dynamodb
        .query()
        .table_name(&env.table)
        .key_condition_expression("pk = :pk AND begins_with(sk, :word)")
        .expression_attribute_values(
            ":pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("CHAN#{channel}")),
        )
        .expression_attribute_values(
            ":word",
            aws_sdk_dynamodb::types::AttributeValue::S("WORD#".into()),
        )
        .consistent_read(true)
        .send()
        .await
        .expect("query the index");
    output.items.unwrap_or_default().len()
}

#[tokio::test]
async fn words_are_found_across_channels_newest_first_and_paged() {
    let (env, [ada, bob, cy]) = TestEnv::with_users(["Ada", "Bob", "Cy"]).await;
    let with_bob = env.api.group(&ada, &[&bob], true).await;
    let with_cy = env.api.group(&ada, &[&cy], true).await;
    let direct = env.api.direct(&ada, &bob).await.id();
    env.api
        .say(&ada, &with_bob, "The launch is on Friday")
        .await;
    env.api.say(&bob, &with_bob, "Café meeting moved").await;
    env.api
        .say(&cy, &with_cy, "launch party, friday night!")
        .await;
    env.api.say(&ada, &direct, "Launching soon").await;
    env.api.say(&bob, &with_bob, "nothing to see").await;
    env.route_changes().await;

    // Every word, the last as a prefix; newest first across channels.
    let found = search_all(&env, &ada, "q=launch%20fri", 50).await;
    assert_eq!(
        found,
        [
            ("launch party, friday night!".to_string(), with_cy.clone()),
            ("The launch is on Friday".to_string(), with_bob.clone()),
        ]
    );
    let page = env.api.get(&ada, "/search/messages?q=launch%20fri").await;
    let hit = &page.body["items"][0];
    assert_eq!(hit["channel"]["kind"], "group");
    assert_eq!(hit["channel"]["name"], "Team");
    assert_eq!(hit["message"]["sender"]["id"], cy.id.as_str());

    // Case and accents folded; words, not substrings.
    assert_eq!(bodies(&env, &ada, "q=CAFE").await, ["Café meeting moved"]);
    assert_eq!(
        bodies(&env, &ada, "q=caf%C3%A9%20meet").await,
        ["Café meeting moved"]
    );
    assert!(bodies(&env, &ada, "q=aunch").await.is_empty());
    assert!(bodies(&env, &ada, "q=%21%21").await.is_empty());

    // A lone word is a prefix: three messages; a page of one at a time gives the same.
    let all = search_all(&env, &ada, "q=launch", 50).await;
    assert_eq!(
        all.iter()
            .map(|(body, _)| body.as_str())
            .collect::<Vec<_>>(),
        [
            "Launching soon",
            "launch party, friday night!",
            "The launch is on Friday"
        ]
    );
    assert_eq!(search_all(&env, &ada, "q=launch", 1).await, all);
    // Whole words page the same way.
    assert_eq!(
        search_all(&env, &ada, "q=launch%20f", 1).await,
        search_all(&env, &ada, "q=launch%20f", 50).await
    );

    // Channels merged page by page: more matches per channel than a page holds.
    for n in 0..3 {
        env.api
            .say(&ada, &with_bob, &format!("launch plan {n}"))
            .await;
        env.api
            .say(&ada, &with_cy, &format!("launch note {n}"))
            .await;
    }
    env.route_changes().await;
    let merged = search_all(&env, &ada, "q=launch", 50).await;
    assert_eq!(merged.len(), 9);
    assert_eq!(
        merged[..6]
            .iter()
            .map(|(body, _)| body.as_str())
            .collect::<Vec<_>>(),
        [
            "launch note 2",
            "launch plan 2",
            "launch note 1",
            "launch plan 1",
            "launch note 0",
            "launch plan 0"
        ]
    );
    for limit in [1, 2, 4] {
        assert_eq!(search_all(&env, &ada, "q=launch", limit).await, merged);
    }

    // Only the caller's channels; or one of them.
    assert_eq!(
        bodies(&env, &bob, "q=launch").await,
        [
            "launch plan 2",
            "launch plan 1",
            "launch plan 0",
            "Launching soon",
            "The launch is on Friday"
        ]
    );
    assert_eq!(
        bodies(&env, &ada, &format!("q=launch&channel_id={with_bob}")).await,
        [
            "launch plan 2",
            "launch plan 1",
            "launch plan 0",
            "The launch is on Friday"
        ]
    );
    env.api
        .get(
            &cy,
            &format!("/search/messages?q=launch&channel_id={with_bob}"),
        )
        .await
        .assert_status(404);
    env.api
        .get(&cy, "/search/messages?q=launch&channel_id=not-an-id")
        .await
        .assert_status(404);

    // Bad input.
    for query in ["q=a", &format!("q={}", "x".repeat(101)), "limit=5"] {
        let answer = env
            .api
            .get(&ada, &format!("/search/messages?{query}"))
            .await;
        assert_eq!(answer.status, 400, "{query}: {:?}", answer.body);
    }
    let first = env.api.get(&ada, "/search/messages?q=launch&limit=1").await;
    let cursor = first.body["next_cursor"].as_str().unwrap().to_string();
    for other in [
        format!("q=party&cursor={cursor}"),
        format!("q=launch&channel_id={with_bob}&cursor={cursor}"),
    ] {
        let answer = env
            .api
            .get(&ada, &format!("/search/messages?{other}"))
            .await;
        assert_eq!(answer.status, 400, "{other}");
    }
    let as_bob = env
        .api
        .get(&bob, &format!("/search/messages?q=launch&cursor={cursor}"))
        .await;
    assert_eq!(as_bob.status, 400, "a cursor is the caller's own");
}

#[tokio::test]
async fn edits_deletes_blocks_and_membership_changes_follow() {
    let (env, [ada, bob, cy]) = TestEnv::with_users(["Ada", "Bob", "Cy"]).await;
    let channel = env.api.group(&ada, &[&bob, &cy], true).await;
    let id = env
        .api
        .say(&bob, &channel, "quarterly numbers attached")
        .await;
    env.route_changes().await;
    assert_eq!(
        bodies(&env, &ada, "q=quarterly").await,
        ["quarterly numbers attached"]
    );
    assert_eq!(index_items(&env, &channel).await, 3);

    // An edit re-indexes: the old word no longer finds it, the new one does.
    env.api
        .patch(
            &bob,
            &format!("/channels/{channel}/messages/{id}"),
            json!({"body": "yearly numbers attached"}),
        )
        .await
        .assert_status(200);
    env.route_changes().await;
    assert!(bodies(&env, &ada, "q=quarterly").await.is_empty());
    assert_eq!(
        bodies(&env, &ada, "q=yearly%20num").await,
        ["yearly numbers attached"]
    );
    assert_eq!(index_items(&env, &channel).await, 3);

    // A blocked user's messages never match; unblocked, they do again.
    env.api
        .put(&ada, &format!("/me/blocks/{}", bob.id))
        .await
        .assert_status(204);
    assert!(bodies(&env, &ada, "q=yearly").await.is_empty());
    assert_eq!(bodies(&env, &cy, "q=yearly").await.len(), 1);
    env.api
        .delete(&ada, &format!("/me/blocks/{}", bob.id))
        .await
        .assert_status(204);
    assert_eq!(bodies(&env, &ada, "q=yearly").await.len(), 1);

    // A former member no longer finds the channel's messages.
    env.api.leave(&cy, &channel).await.assert_status(204);
    assert!(bodies(&env, &cy, "q=yearly").await.is_empty());
    env.api
        .get(
            &cy,
            &format!("/search/messages?q=yearly&channel_id={channel}"),
        )
        .await
        .assert_status(404);

    // A delete un-indexes (and is never found meanwhile).
    env.api
        .delete(&bob, &format!("/channels/{channel}/messages/{id}"))
        .await
        .assert_status(204);
    assert!(bodies(&env, &ada, "q=yearly").await.is_empty());
    env.route_changes().await;
    assert_eq!(index_items(&env, &channel).await, 0);

    // Every change redelivered (post, edit, delete, post), in order as a stream does: the
    // same index results, nothing grows. A channel's purge takes its index with it.
    env.api.say(&ada, &channel, "final words here").await;
    env.route_changes().await;
    assert_eq!(index_items(&env, &channel).await, 3);
    env.route_every_change_again().await;
    assert_eq!(index_items(&env, &channel).await, 3);
    assert!(bodies(&env, &ada, "q=yearly").await.is_empty());
    assert_eq!(
        bodies(&env, &ada, "q=final%20word").await,
        ["final words here"]
    );
    env.api
        .delete_channel(&ada, &channel)
        .await
        .assert_status(204);
    env.run_maintenance().await;
    assert_eq!(index_items(&env, &channel).await, 0);
}
