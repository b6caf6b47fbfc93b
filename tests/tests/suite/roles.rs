//! Channel settings and roles over real HTTP and WebSocket clients: the owner and admins
//! change settings and members within their rank, every member hears it, slow mode holds
//! members only, ownership passes by transfer, on leaving and on account deletion, and every
//! refusal changes nothing.

use std::time::Duration;

use integration_tests::stack::Stack;
use integration_tests::{Answer, TestEnv, TestUser};
use serde_json::{json, Value};

fn member_path(channel: &str, user: &TestUser) -> String {
    format!("/channels/{channel}/members/{}", user.id)
}

async fn set_role(
    env: &TestEnv,
    by: &TestUser,
    channel: &str,
    user: &TestUser,
    role: &str,
) -> Answer {
    env.api
        .patch(by, &member_path(channel, user), json!({ "role": role }))
        .await
}

/// Each member's role, by user id, as `GET /channels/{id}` shows it.
async fn roles(env: &TestEnv, viewer: &TestUser, channel: &str) -> Vec<(String, String)> {
    let answer = env.api.channel(viewer, channel).await;
    answer.assert_status(200);
    let mut roles: Vec<(String, String)> = answer.body["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| {
            (
                m["user_id"].as_str().unwrap().to_string(),
                m["role"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    roles.sort();
    roles
}

fn role_of<'a>(roles: &'a [(String, String)], user: &TestUser) -> Option<&'a str> {
    roles
        .iter()
        .find(|(id, _)| id == &user.id)
        .map(|(_, role)| role.as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owners_and_admins_manage_within_their_rank_and_every_member_hears_it() {
    let stack = Stack::start().await;
    let env = &stack.env;
    let [ada, bob, cy, dan] = stack.api.register_all(["Ada", "Bob", "Cy", "Dan"]).await;
    let channel = stack.api.group(&ada, &[&bob, &cy, &dan], true).await;
    let mut cys_socket = stack.socket(&cy).await;
    let mut dans_socket = stack.socket(&dan).await;

    // A member manages nothing.
    let rename =
        json!({"name": "Renamed", "description": "  The team's room  ", "slow_mode_seconds": 60});
    stack
        .api
        .patch(&bob, &format!("/channels/{channel}"), rename.clone())
        .await
        .assert_error(403, "forbidden", "a member changes settings");
    set_role(env, &bob, &channel, &cy, "admin")
        .await
        .assert_error(403, "forbidden", "a member gives roles");

    // The owner makes Bob an admin: everyone hears member.updated.
    let promoted = set_role(env, &ada, &channel, &bob, "admin").await;
    promoted.assert_status(200);
    assert_eq!(
        (&promoted.body["user_id"], &promoted.body["role"]),
        (&json!(bob.id), &json!("admin"))
    );
    cys_socket
        .expect("member.updated", |e| {
            e["member"]["user_id"] == bob.id && e["member"]["role"] == "admin"
        })
        .await;

    // The admin changes the settings: everyone hears channel.updated with the new channel.
    let changed = stack
        .api
        .patch(&bob, &format!("/channels/{channel}"), rename)
        .await;
    changed.assert_status(200);
    assert_eq!(
        (
            &changed.body["name"],
            &changed.body["description"],
            &changed.body["slow_mode_seconds"]
        ),
        (&json!("Renamed"), &json!("The team's room"), &json!(60))
    );
    let updated = dans_socket
        .expect("channel.updated", |e| e["channel"]["name"] == "Renamed")
        .await;
    assert_eq!(
        updated["channel"]["members"].as_array().map(Vec::len),
        Some(4)
    );

    // Slow mode holds Cy (a member) to one message a minute, not Bob (an admin).
    stack.api.say(&cy, &channel, "first").await;
    let second = stack
        .api
        .send_message(&cy, &channel, json!({"body": "second"}))
        .await;
    second.assert_error(429, "rate_limited", "a second message within the slow mode");
    let said = second.body["error"]["message"].as_str().unwrap_or_default();
    assert!(said.contains("slow mode"), "{said}");
    let wait: u64 = second.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    // The same over the socket: an error frame that says so.
    let mut cys_sender = stack.socket(&cy).await;
    cys_sender
        .send(json!({"action": "sendMessage", "channel_id": channel, "body": "third", "client_id": "cy-3"}))
        .await;
    let refused = cys_sender
        .expect("error", |e| e["client_id"] == "cy-3")
        .await;
    assert_eq!(refused["code"], "rate_limited");
    assert!(
        refused["details"]["retry_after_seconds"].as_u64().is_some(),
        "{refused}"
    );
    assert!(
        refused["message"]
            .as_str()
            .unwrap_or_default()
            .contains("slow mode"),
        "{refused}"
    );
    for text in ["one", "two"] {
        stack.api.say(&bob, &channel, text).await;
    }

    // Bad input: each a clear 4xx, nothing changed.
    let before = roles(env, &ada, &channel).await;
    for (body, what) in [
        (json!({"slow_mode_seconds": 3601}), "slow mode over an hour"),
        (json!({"slow_mode_seconds": -1}), "negative slow mode"),
        (json!({"name": "  "}), "a blank name"),
        (
            json!({"description": "x".repeat(501)}),
            "a long description",
        ),
    ] {
        stack
            .api
            .patch(&ada, &format!("/channels/{channel}"), body)
            .await
            .assert_error(400, "validation_failed", what);
    }
    for role in ["owner", "boss", ""] {
        set_role(env, &ada, &channel, &cy, role).await.assert_error(
            400,
            "validation_failed",
            "an unknown role",
        );
    }
    set_role(env, &ada, &channel, &ada, "member")
        .await
        .assert_error(400, "bad_request", "the owner's own role");
    let eve = stack.api.register("Eve").await;
    set_role(env, &ada, &channel, &eve, "admin")
        .await
        .assert_error(404, "not_found", "a non-member");
    stack
        .api
        .post(
            &ada,
            &format!("/channels/{channel}/owner"),
            json!({"user_id": eve.id}),
        )
        .await
        .assert_error(404, "not_found", "a transfer to a non-member");
    stack
        .api
        .delete(&bob, &member_path(&channel, &ada))
        .await
        .assert_error(403, "forbidden", "an admin removing the owner");
    set_role(env, &ada, &channel, &dan, "admin")
        .await
        .assert_status(200);
    stack
        .api
        .delete(&bob, &member_path(&channel, &dan))
        .await
        .assert_error(403, "forbidden", "an admin removing an admin");
    stack
        .api
        .delete(&bob, &member_path(&channel, &bob))
        .await
        .assert_error(400, "bad_request", "removing oneself");
    let mut expected = before.clone();
    for (id, role) in expected.iter_mut() {
        if id == &dan.id {
            *role = "admin".into();
        }
    }
    assert_eq!(
        roles(env, &ada, &channel).await,
        expected,
        "only Dan's promotion stands"
    );

    // The admin removes Cy (a member): Cy's devices and the others hear member.removed,
    // not member.left; Cy can no longer read the channel.
    stack
        .api
        .delete(&bob, &member_path(&channel, &cy))
        .await
        .assert_status(204);
    cys_socket
        .expect("member.removed", |e| {
            e["user_id"] == cy.id && e["channel_id"] == channel
        })
        .await;
    dans_socket
        .expect("member.removed", |e| e["user_id"] == cy.id)
        .await;
    dans_socket
        .expect_none("member.left", Duration::from_millis(500), |e| {
            e["user_id"] == cy.id
        })
        .await;
    stack.api.history(&cy, &channel, "").await.assert_error(
        404,
        "not_found",
        "a removed member of a private channel",
    );

    // Admins see the reports too.
    stack
        .api
        .get(&dan, &format!("/channels/{channel}/reports"))
        .await
        .assert_status(200);

    // Ada hands the channel to Dan and becomes an admin.
    let handed = stack
        .api
        .post(
            &ada,
            &format!("/channels/{channel}/owner"),
            json!({"user_id": dan.id}),
        )
        .await;
    handed.assert_status(200);
    let now = roles(env, &dan, &channel).await;
    assert_eq!(role_of(&now, &dan), Some("owner"));
    assert_eq!(role_of(&now, &ada), Some("admin"));
    // The answer is the channel as the transfer left it, as a later read shows it.
    let answered_role = |user: &TestUser| {
        handed.body["members"]
            .as_array()
            .expect("members")
            .iter()
            .find(|m| m["user_id"] == user.id.as_str())
            .map(|m| m["role"].clone())
    };
    assert_eq!(answered_role(&dan), Some(json!("owner")));
    assert_eq!(answered_role(&ada), Some(json!("admin")));
    dans_socket
        .expect("member.updated", |e| {
            e["member"]["user_id"] == dan.id && e["member"]["role"] == "owner"
        })
        .await;
    set_role(env, &ada, &channel, &bob, "member")
        .await
        .assert_error(403, "forbidden", "the former owner gives no roles");
}

/// The member, if any, who holds `role` in `channel`.
fn holder(roles: &[(String, String)], role: &str) -> Option<String> {
    roles
        .iter()
        .find(|(_, r)| r == role)
        .map(|(id, _)| id.clone())
}

#[tokio::test]
async fn a_leaving_owner_hands_over_to_the_longest_standing_admin_else_member() {
    let (env, [ada, bob, cy, dan]) = TestEnv::with_users(["Ada", "Bob", "Cy", "Dan"]).await;
    // Bob joined first; Cy joined later but is an admin: Cy takes over.
    let channel = env.api.group(&ada, &[&bob], false).await;
    env.api.join(&cy, &channel).await.assert_status(200);
    env.api.join(&dan, &channel).await.assert_status(200);
    set_role(&env, &ada, &channel, &cy, "admin")
        .await
        .assert_status(200);
    env.api.leave(&ada, &channel).await.assert_status(204);
    let after = roles(&env, &bob, &channel).await;
    assert_eq!(holder(&after, "owner"), Some(cy.id.clone()));
    assert_eq!(role_of(&after, &ada), None);
    assert!(
        !after.iter().any(|(_, role)| role == "admin"),
        "the admin became the owner"
    );

    // No admin: the longest-standing member (Bob) takes over from Cy.
    env.api.leave(&cy, &channel).await.assert_status(204);
    assert_eq!(
        holder(&roles(&env, &bob, &channel).await, "owner"),
        Some(bob.id.clone())
    );

    // The last two leave: the group is deleted once nobody is in it.
    env.api.leave(&bob, &channel).await.assert_status(204);
    assert_eq!(
        holder(&roles(&env, &dan, &channel).await, "owner"),
        Some(dan.id.clone())
    );
    env.api.leave(&dan, &channel).await.assert_status(204);
    env.api.channel(&dan, &channel).await.assert_error(
        404,
        "not_found",
        "a group nobody is left in",
    );
}

#[tokio::test]
async fn a_deleted_owner_hands_its_groups_over() {
    let (env, [ada, bob, cy]) = TestEnv::with_users(["Ada", "Bob", "Cy"]).await;
    let shared = env.api.group(&ada, &[&bob, &cy], true).await;
    set_role(&env, &ada, &shared, &cy, "admin")
        .await
        .assert_status(200);
    let alone = env.api.group(&ada, &[], true).await;
    env.api.delete_account(&ada).await.assert_status(204);
    assert!(env.run_maintenance().await >= 1);
    let after = roles(&env, &bob, &shared).await;
    assert_eq!(holder(&after, "owner"), Some(cy.id.clone()), "{after:?}");
    assert_eq!(after.len(), 2);
    // The group Ada was alone in is deleted (and its purge queued).
    let left: Vec<Value> = env.api.get(&bob, "/channels").await.body["items"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(left.iter().all(|c| c["id"] != alone.as_str()));
}

#[tokio::test]
async fn channels_tell_their_members_when_made_and_deleted() {
    let (env, [ada, bob]) = TestEnv::with_users(["Ada", "Bob"]).await;
    let channel = env.api.group(&ada, &[&bob], true).await;
    let created: Vec<_> = env
        .queued_pushes()
        .await
        .into_iter()
        .filter(|job| job.event.kind() == "channel.created")
        .collect();
    assert_eq!(created.len(), 1, "one event for the group");
    let event = serde_json::to_value(&created[0].event).unwrap();
    assert_eq!(event["channel"]["id"], channel.as_str());
    assert_eq!(
        event["channel"]["members"].as_array().map(Vec::len),
        Some(2)
    );
    env.api
        .delete_channel(&ada, &channel)
        .await
        .assert_status(204);
    let deleted: Vec<_> = env
        .queued_pushes()
        .await
        .into_iter()
        .filter(|job| job.event.kind() == "channel.deleted")
        .collect();
    assert_eq!(deleted.len(), 1);
    let recipients = match &deleted[0].targets {
        shared::queue::Targets::Users { user_ids, .. } => user_ids.len(),
        other => panic!("{other:?}"),
    };
    assert_eq!(recipients, 2, "every member hears it");
}
