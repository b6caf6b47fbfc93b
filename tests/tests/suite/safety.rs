//! Safety: blocks with all their effects (requests, partnership, the direct channel, adds,
//! pushes, history), over real HTTP and WebSocket clients against the local gateway.

use std::time::Duration;

use integration_tests::stack::Stack;
use integration_tests::TestUser;
use serde_json::{json, Value};
use shared::domain::UserId;

const QUIET: Duration = Duration::from_millis(500);

fn ids(page: &Value, pick: impl Fn(&Value) -> &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| pick(item).as_str().unwrap().to_string())
        .collect()
}

async fn bodies(stack: &Stack, user: &TestUser, channel: &str) -> Vec<String> {
    let history = stack.api.history(user, channel, "?limit=100").await;
    ids(&history.body, |m| &m["body"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_ends_the_partnership_and_keeps_the_blocked_user_out() {
    let stack = Stack::start().await;
    let api = &stack.api;
    let [ada, bob, cy, dan] = api.register_all(["Ada", "Bob", "Cy", "Dan"]).await;
    let direct = api.direct(&ada, &bob).await.id();
    let group = api.group(&ada, &[&bob, &dan], true).await;
    let pending = api.request_partner(&cy, &ada).await;
    api.say(&bob, &direct, "before the block").await;
    let mut ada_socket = stack.socket(&ada).await;
    let mut dan_socket = stack.socket(&dan).await;

    for _ in 0..2 {
        let path = format!("/me/blocks/{}", bob.id);
        api.call_as(&ada, "PUT", &path, None)
            .await
            .assert_status(204);
    }
    let blocks = api.get(&ada, "/me/blocks").await;
    assert_eq!(ids(&blocks.body, |b| &b["user"]["id"]), [bob.id.as_str()]);
    assert_eq!(blocks.body["items"][0]["user"]["name"], "Bob");
    for (one, other) in [(&ada, &bob), (&bob, &ada)] {
        let partners = api.get(one, "/partnerships").await;
        assert!(
            !ids(&partners.body, |p| &p["user"]["id"]).contains(&other.id),
            "partnership ended"
        );
    }

    // Bob can no longer ask, open a direct channel, add Ada, or write into their channel.
    let ask = api
        .send_request(&bob, json!({"recipient_id": ada.id}))
        .await;
    ask.assert_error(403, "forbidden", "a request across a block");
    let ask_back = api
        .send_request(&ada, json!({"recipient_id": bob.id}))
        .await;
    ask_back.assert_error(403, "forbidden", "the blocker cannot ask either");
    let dm = json!({"name": "dm", "kind": "direct", "member_ids": [ada.id]});
    api.create_channel(&bob, dm).await.assert_error(
        403,
        "forbidden",
        "a direct channel across a block",
    );
    let bobs_group = api.group(&bob, &[], true).await;
    api.add_member(&bob, &bobs_group, &ada.id)
        .await
        .assert_error(403, "forbidden", "an add across a block");
    let into_direct = api
        .send_message(&bob, &direct, json!({"body": "hello?"}))
        .await;
    into_direct.assert_error(403, "forbidden", "a send into their direct channel");

    // In a shared group, Ada no longer gets Bob's messages or typing; Dan does.
    let mut bob_socket = stack.socket(&bob).await;
    api.say(&bob, &group, "from Bob").await;
    bob_socket
        .send(json!({"action": "typing", "channel_id": group, "is_typing": true}))
        .await;
    dan_socket
        .expect("message.created", |f| f["message"]["body"] == "from Bob")
        .await;
    dan_socket
        .expect("typing", |f| f["user_id"] == bob.id.as_str())
        .await;
    ada_socket
        .expect_none("message.created", QUIET, |f| {
            f["message"]["sender"]["id"] == bob.id.as_str()
        })
        .await;
    ada_socket
        .expect_none("typing", Duration::ZERO, |f| {
            f["user_id"] == bob.id.as_str()
        })
        .await;
    api.say(&dan, &group, "from Dan").await;
    ada_socket
        .expect("message.created", |f| f["message"]["body"] == "from Dan")
        .await;
    assert_eq!(
        bodies(&stack, &ada, &group).await,
        ["from Dan"],
        "Ada's history leaves Bob out"
    );
    assert_eq!(bodies(&stack, &dan, &group).await, ["from Dan", "from Bob"]);
    assert!(bodies(&stack, &ada, &direct).await.is_empty());

    // A pending request is cancelled by the block.
    api.call_as(&ada, "PUT", &format!("/me/blocks/{}", cy.id), None)
        .await
        .assert_status(204);
    let sent = api.get(&cy, "/partner-requests/sent?status=all").await;
    assert_eq!(sent.body["items"][0]["id"], pending.as_str());
    assert_eq!(sent.body["items"][0]["status"], "cancelled");

    // Unblocking takes the block back, not what it ended.
    for _ in 0..2 {
        let path = format!("/me/blocks/{}", bob.id);
        api.call_as(&ada, "DELETE", &path, None)
            .await
            .assert_status(204);
    }
    assert_eq!(bodies(&stack, &ada, &group).await, ["from Dan", "from Bob"]);
    api.send_message(&ada, &direct, json!({"body": "sorry"}))
        .await
        .assert_status(201);
    api.request_partner(&bob, &ada).await;

    let unknown = format!("/me/blocks/{}", UserId::generate());
    api.call_as(&ada, "PUT", &unknown, None)
        .await
        .assert_status(404);
    let myself = format!("/me/blocks/{}", ada.id);
    api.call_as(&ada, "PUT", &myself, None)
        .await
        .assert_error(400, "validation_failed", "oneself");
    api.call_as(&ada, "DELETE", &myself, None)
        .await
        .assert_status(204);
    let assistant = format!("/me/blocks/{}", UserId::ASSISTANT);
    api.call_as(&ada, "PUT", &assistant, None)
        .await
        .assert_error(400, "validation_failed", "the assistant");
}
