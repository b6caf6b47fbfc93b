//! Channels and membership: every row of the contract's Channels section, through the
//! channels-api handler on DynamoDB Local.

use integration_tests::{Answer, TestEnv, TestUser};
use serde_json::{json, Value};
use shared::domain::UserId;
use shared::events::DomainEvent;
use shared::queue::{FanoutJob, Targets};

/// Creating a channel with `body` is refused, naming `field` in `details`.
async fn assert_refused_field(env: &TestEnv, owner: &TestUser, body: Value, field: &str) {
    let answer = env.api.create_channel(owner, body).await;
    assert!(
        answer.body["error"]["details"][field].is_string(),
        "{field}: {}",
        answer.body
    );
}

fn member_ids(channel: &Value) -> Vec<String> {
    let mut ids: Vec<String> = channel["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["user_id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

fn sorted(ids: &[&str]) -> Vec<String> {
    let mut ids: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn creating_a_group_makes_the_creator_owner() {
    let (env, [ada, bob]) = TestEnv::with_users(["Ada", "Bob"]).await;
    env.api.befriend(&ada, &bob).await;
    let answer = env
        .api
        .create_channel(&ada, json!({"name": "  Launch  ", "member_ids": [bob.id]}))
        .await;
    assert_eq!(answer.status, 201, "{:?}", answer.body);
    let channel = &answer.body;
    assert_eq!(channel["name"], "Launch");
    assert_eq!(channel["kind"], "group");
    assert_eq!(channel["private"], true);
    assert_eq!(channel["created_by"], ada.id.as_str());
    assert_eq!(channel["member_count"], 2);
    let members = channel["members"].as_array().unwrap();
    let ada_member = members
        .iter()
        .find(|m| m["user_id"] == ada.id.as_str())
        .unwrap();
    assert_eq!(
        (ada_member["role"].as_str(), ada_member["name"].as_str()),
        (Some("owner"), Some("Ada"))
    );
    let bob_member = members
        .iter()
        .find(|m| m["user_id"] == bob.id.as_str())
        .unwrap();
    assert_eq!(bob_member["role"], "member");

    let id = channel["id"].as_str().unwrap();
    let got = env.api.channel(&bob, id).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body, *channel);
}

#[tokio::test]
async fn creation_rules() {
    let (env, [ada, bob]) = TestEnv::with_users(["Ada", "Bob"]).await;
    let ghost = UserId::generate().to_string();

    let bad = env
        .api
        .create_channel(
            &ada,
            json!({"name": "x", "member_ids": [ghost, "nope", bob.id, bob.id, ada.id]}),
        )
        .await;
    assert_eq!((bad.status, bad.code()), (400, "validation_failed"));
    let details = &bad.body["error"]["details"];
    assert_eq!(details["unknown_member_ids"], "nope");
    assert_eq!(
        details["duplicate_member_ids"],
        format!("{},{}", bob.id, ada.id)
    );
    let missing_user = env
        .api
        .create_channel(&ada, json!({"name": "x", "member_ids": [ghost]}))
        .await;
    assert_eq!(
        missing_user.body["error"]["details"]["unknown_member_ids"],
        ghost.as_str()
    );

    let no_name = json!({"member_ids": []});
    assert_refused_field(&env, &ada, no_name, "name").await;
    let bad_kind = env
        .api
        .create_channel(&ada, json!({"name": "x", "kind": "broadcast"}))
        .await;
    assert_eq!(bad_kind.code(), "bad_request");

    let too_many: Vec<String> = (0..98).map(|_| UserId::generate().to_string()).collect();
    let big = json!({"name": "x", "member_ids": too_many});
    assert_refused_field(&env, &ada, big, "member_ids").await;

    let direct_two = json!({"name": "dm", "kind": "direct", "member_ids": []});
    assert_refused_field(&env, &ada, direct_two, "member_ids").await;
    let assistant_with = json!({"name": "ai", "kind": "assistant", "member_ids": [bob.id]});
    assert_refused_field(&env, &ada, assistant_with, "member_ids").await;
    let public_direct =
        json!({"name": "dm", "kind": "direct", "member_ids": [bob.id], "private": false});
    assert_refused_field(&env, &ada, public_direct, "private").await;
}

#[tokio::test]
async fn a_pair_has_one_direct_channel() {
    let (env, [ada, bob]) = TestEnv::with_users(["Ada", "Bob"]).await;
    let first = env.api.direct(&ada, &bob).await;
    assert_eq!(first.status, 201);
    assert_eq!(member_ids(&first.body), sorted(&[&ada.id, &bob.id]));
    let again = env
        .api
        .create_channel(
            &bob,
            json!({"name": "other name", "kind": "direct", "member_ids": [ada.id]}),
        )
        .await;
    assert_eq!(again.status, 200, "the existing channel, from either side");
    assert_eq!(again.body["id"], first.body["id"]);
    assert_eq!(again.body["name"], "dm");

    // Concurrent creations by both sides still make one channel.
    let cy = env.api.register("Cy").await;
    let dee = env.api.register("Dee").await;
    env.api.befriend(&cy, &dee).await;
    let (a, b) = tokio::join!(env.api.direct(&cy, &dee), env.api.direct(&dee, &cy),);
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [200, 201]);
    assert_eq!(a.body["id"], b.body["id"]);

    // Deleting it (either of the two may) frees the pair.
    let id = first.body["id"].as_str().unwrap();
    env.api.delete_channel(&bob, id).await.assert_status(204);
    let fresh = env.api.direct(&bob, &ada).await;
    assert_eq!(fresh.status, 201);
    assert_ne!(fresh.body["id"], first.body["id"]);
}

fn listed(page: &Answer) -> Vec<&str> {
    page.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect()
}

/// Consent: a direct channel only with a partner, a group only with partners (403 naming the
/// others). Leaving a direct channel hides it from the leaver's list until its next message.
#[tokio::test]
async fn direct_channels_need_consent_and_can_be_left_until_the_next_message() {
    let (env, [ada, bob, cy]) = TestEnv::with_users(["Ada", "Bob", "Cy"]).await;
    let dm = json!({"name": "dm", "kind": "direct", "member_ids": [bob.id]});
    env.api.create_channel(&ada, dm.clone()).await.assert_error(
        403,
        "forbidden",
        "a direct channel needs a partner",
    );
    let group = json!({"name": "Team", "member_ids": [bob.id, cy.id]});
    let strangers = env.api.create_channel(&ada, group.clone()).await;
    strangers.assert_error(403, "forbidden", "a group needs partners");
    let named = strangers.body["error"]["details"]["not_partners"]
        .as_str()
        .unwrap();
    assert_eq!(
        sorted(&named.split(',').collect::<Vec<_>>()),
        sorted(&[&bob.id, &cy.id])
    );
    env.api.befriend(&ada, &bob).await;
    let only_cy = env.api.create_channel(&ada, group).await;
    assert_eq!(
        only_cy.body["error"]["details"]["not_partners"],
        cy.id.as_str()
    );
    assert_eq!(
        env.api.get(&ada, "/channels").await.body["items"],
        json!([]),
        "nothing written"
    );

    let created = env.api.create_channel(&ada, dm.clone()).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = created.id();
    env.api.say(&ada, &id, "hello").await;
    env.api.leave(&bob, &id).await.assert_status(204);
    assert!(
        listed(&env.api.get(&bob, "/channels").await).is_empty(),
        "hidden from Bob"
    );
    assert_eq!(
        listed(&env.api.get(&ada, "/channels").await),
        [id.as_str()],
        "not from Ada"
    );
    assert_eq!(
        env.api.channel(&bob, &id).await.body["member_count"],
        2,
        "both stay members"
    );
    env.api.say(&ada, &id, "still there?").await;
    // The event router moves Bob's list to the new message, off the request path.
    env.route_changes().await;
    assert_eq!(
        listed(&env.api.get(&bob, "/channels").await),
        [id.as_str()],
        "back with the next message"
    );

    // Opening it again also brings it back.
    env.api.leave(&ada, &id).await.assert_status(204);
    assert!(listed(&env.api.get(&ada, "/channels").await).is_empty());
    let again = env.api.direct(&ada, &bob).await;
    assert_eq!((again.status, again.id()), (200, id.clone()));
    assert_eq!(listed(&env.api.get(&ada, "/channels").await), [id.as_str()]);

    // A partnership that ended takes the consent with it.
    let end = env
        .api
        .delete(&ada, &format!("/partnerships/{}", bob.id))
        .await;
    end.assert_status(204);
    env.api
        .create_channel(&ada, dm)
        .await
        .assert_error(403, "forbidden", "no longer partners");
}

#[tokio::test]
async fn the_assistant_joins_assistant_channels() {
    let (env, [ada]) = TestEnv::with_users(["Ada"]).await;
    let answer = env
        .api
        .create_channel(&ada, json!({"name": "Ask", "kind": "assistant"}))
        .await;
    assert_eq!(answer.status, 201, "{:?}", answer.body);
    assert_eq!(answer.body["private"], true);
    let assistant = answer.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["user_id"] == "assistant")
        .cloned();
    assert_eq!(
        assistant.map(|m| (m["name"].clone(), m["role"].clone())),
        Some((json!("Assistant"), json!("member")))
    );
    let id = answer.body["id"].as_str().unwrap();
    let bob = env.api.register("Bob").await;
    let add = env.api.add_member(&ada, id, &bob.id).await;
    assert_eq!((add.status, add.code()), (400, "bad_request"));
}

#[tokio::test]
async fn lists_of_my_channels_and_public_channels_page() {
    let (env, [ada, bob]) = TestEnv::with_users(["Ada", "Bob"]).await;
    let mut mine = Vec::new();
    for i in 0..3 {
        mine.push(env.api.group(&ada, &[], i == 0).await);
    }
    let bobs_public = env.api.group(&bob, &[], false).await;
    let _bobs_private = env.api.group(&bob, &[], true).await;

    let mut seen = Vec::new();
    let mut path = "/channels?limit=2".to_string();
    loop {
        let page = env.api.get(&ada, &path).await;
        assert_eq!(page.status, 200, "{:?}", page.body);
        for item in page.body["items"].as_array().unwrap() {
            assert!(item.get("members").is_none(), "lists carry no member lists");
            seen.push(item["id"].as_str().unwrap().to_string());
        }
        match page.body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/channels?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    seen.sort();
    mine.sort();
    assert_eq!(seen, mine);

    let public = env.api.get(&ada, "/channels/public?limit=100").await;
    let ids: Vec<&str> = public.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 3, "two of Ada's, one of Bob's; no private one");
    assert!(ids.contains(&bobs_public.as_str()));
}

#[tokio::test]
async fn adding_members() {
    let (env, [ada, bob, cy, outsider]) = TestEnv::with_users(["Ada", "Bob", "Cy", "Eve"]).await;
    let private = env.api.group(&ada, &[&bob], true).await;
    let public = env.api.group(&ada, &[], false).await;
    let joined: Vec<_> = env
        .queued_pushes()
        .await
        .into_iter()
        .filter(|job| matches!(job.event, DomainEvent::MemberJoined { .. }))
        .collect();
    assert_eq!(joined, [], "founding members hear no member.joined");

    let path = format!("/channels/{private}/members");
    let stranger = env.api.post(&bob, &path, json!({"user_id": cy.id})).await;
    stranger.assert_error(403, "forbidden", "only a partner may be added");
    assert_eq!(
        stranger.body["error"]["details"]["not_partners"],
        cy.id.as_str()
    );
    env.api.befriend(&bob, &cy).await;
    env.queued_pushes().await;
    let added = env.api.post(&bob, &path, json!({"user_id": cy.id})).await;
    assert_eq!(added.status, 200, "any member may add a partner");
    assert_eq!(member_ids(&added.body), sorted(&[&ada.id, &bob.id, &cy.id]));
    assert_eq!(added.body["member_count"], 3);
    match env.queued_pushes().await.as_slice() {
        [FanoutJob {
            event: DomainEvent::MemberJoined { channel_id, member },
            targets: Targets::Users { user_ids, .. },
            ..
        }] => {
            assert_eq!(channel_id.as_str(), private);
            assert_eq!(
                (member.user_id.as_str(), member.name.as_str()),
                (cy.id.as_str(), "Cy")
            );
            let mut to: Vec<String> = user_ids.iter().map(ToString::to_string).collect();
            to.sort();
            assert_eq!(
                to,
                sorted(&[&ada.id, &bob.id, &cy.id]),
                "every member, the newcomer too"
            );
        }
        other => panic!("expected one member.joined push, got {other:?}"),
    }

    let again = env.api.post(&ada, &path, json!({"user_id": cy.id})).await;
    assert_eq!((again.status, again.code()), (409, "conflict"));
    let unknown = env
        .api
        .post(&ada, &path, json!({"user_id": UserId::generate()}))
        .await;
    assert_eq!((unknown.status, unknown.code()), (404, "not_found"));
    let hidden = env
        .api
        .post(&outsider, &path, json!({"user_id": outsider.id}))
        .await;
    assert_eq!(
        hidden.status, 404,
        "a private channel does not exist for outsiders"
    );
    env.api.befriend(&outsider, &cy).await;
    let not_member = env.api.add_member(&outsider, &public, &cy.id).await;
    assert_eq!((not_member.status, not_member.code()), (403, "forbidden"));
    let missing = env.api.post(&ada, &path, json!({})).await;
    assert_eq!(missing.code(), "validation_failed");
}

#[tokio::test]
async fn joining_and_leaving() {
    let (env, [ada, bob]) = TestEnv::with_users(["Ada", "Bob"]).await;
    let public = env.api.group(&ada, &[], false).await;
    let private = env.api.group(&ada, &[], true).await;

    let created: Vec<_> = env
        .queued_pushes()
        .await
        .into_iter()
        .map(|job| job.event.kind())
        .collect();
    assert_eq!(created, ["channel.created", "channel.created"]);
    let joined = env.api.join(&bob, &public).await;
    assert_eq!(joined.status, 200);
    assert_eq!(member_ids(&joined.body), sorted(&[&ada.id, &bob.id]));
    assert!(matches!(
        env.queued_pushes().await.as_slice(),
        [FanoutJob {
            event: DomainEvent::MemberJoined { .. },
            ..
        }]
    ));
    let twice = env.api.join(&bob, &public).await;
    assert_eq!((twice.status, twice.code()), (409, "conflict"));
    let closed = env.api.join(&bob, &private).await;
    assert_eq!((closed.status, closed.code()), (403, "forbidden"));

    let left = env.api.leave(&bob, &public).await;
    assert_eq!(left.status, 204);
    match env.queued_pushes().await.as_slice() {
        [FanoutJob {
            event: DomainEvent::MemberLeft { user_id, .. },
            targets: Targets::Users { user_ids, .. },
            ..
        }] => {
            assert_eq!(user_id.as_str(), bob.id);
            assert!(
                user_ids.iter().any(|u| u.as_str() == bob.id),
                "the leaver hears it too"
            );
        }
        other => panic!("expected one member.left push, got {other:?}"),
    }
    let not_member = env.api.leave(&bob, &public).await;
    assert_eq!((not_member.status, not_member.code()), (409, "conflict"));
    let channel = env.api.channel(&ada, &public).await;
    assert_eq!(channel.body["member_count"], 1);
    let mine = env.api.get(&bob, "/channels").await;
    assert_eq!(mine.body["items"], json!([]));

    // The owner leaves last: nobody is left to hand it to, so it is deleted.
    env.api.leave(&ada, &public).await.assert_status(204);
    env.api.channel(&ada, &public).await.assert_error(
        404,
        "not_found",
        "a group nobody is left in",
    );
}

#[tokio::test]
async fn deleting_hides_the_channel_at_once_and_queues_its_purge() {
    let (env, [ada, bob]) = TestEnv::with_users(["Ada", "Bob"]).await;
    let id = env.api.group(&ada, &[&bob], false).await;

    let by_member = env.api.delete_channel(&bob, &id).await;
    assert_eq!((by_member.status, by_member.code()), (403, "forbidden"));
    env.api.delete_channel(&ada, &id).await.assert_status(204);

    for user in [&ada, &bob] {
        env.api.channel(user, &id).await.assert_status(404);
        assert_eq!(
            env.api.get(user, "/channels").await.body["items"],
            json!([])
        );
    }
    assert_eq!(
        env.api.get(&bob, "/channels/public").await.body["items"],
        json!([])
    );
    env.api.delete_channel(&ada, &id).await.assert_status(404);
    env.api.join(&bob, &id).await.assert_status(404);

    TestEnv::settle().await;
    let jobs = env.queued_jobs().await;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0]["kind"], "purge_channel");
    assert_eq!(jobs[0]["channel_id"], id.as_str());
}

#[tokio::test]
async fn an_outsider_gets_nothing_of_a_private_channel() {
    let (env, [ada, eve]) = TestEnv::with_users(["Ada", "Eve"]).await;
    let id = env.api.group(&ada, &[], true).await;
    let add = json!({"user_id": eve.id});
    for (method, path, body, expected) in [
        ("GET", format!("/channels/{id}"), None, 404),
        ("POST", format!("/channels/{id}/members"), Some(add), 404),
        ("POST", format!("/channels/{id}/leave"), None, 404),
        ("DELETE", format!("/channels/{id}"), None, 404),
        ("POST", format!("/channels/{id}/join"), None, 403),
    ] {
        let answer = env.api.call(method, &path, Some(&eve.token), body).await;
        assert_eq!(answer.status, expected, "{method} {path}");
        assert!(
            answer.body.get("members").is_none() && answer.body.get("name").is_none(),
            "{method} {path} leaks"
        );
    }
    assert_eq!(
        env.api.get(&eve, "/channels").await.body["items"],
        json!([])
    );
    for unknown in [UserId::generate().to_string(), "x".to_string()] {
        env.api.channel(&ada, &unknown).await.assert_status(404);
    }
}

/// A group holds `MAX_GROUP_MEMBERS` members (150 here; 10,000 by default); a channel shows the
/// first 100 by join time, and `GET /channels/{id}/members` pages them all, in that order.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_group_holds_its_configured_members_shows_the_first_100_and_pages_them_all() {
    let env = TestEnv::with_settings(Default::default(), &[("MAX_GROUP_MEMBERS", "150")]).await;
    let [ada, late, outsider] = env.api.register_all(["Ada", "Late", "Eve"]).await;
    let id = env.api.group(&ada, &[], true).await;
    env.fill_group(&id, &ada, 149).await;

    let full = env.api.channel(&ada, &id).await;
    assert_eq!(full.body["member_count"], 150);
    let shown = full.body["members"].as_array().unwrap();
    assert_eq!(shown.len(), 100, "the first 100 members only");
    assert_eq!(
        shown[0]["user_id"],
        ada.id.as_str(),
        "the owner joined first"
    );

    let mut paged: Vec<Value> = Vec::new();
    let mut path = format!("/channels/{id}/members?limit=100");
    loop {
        let page = env.api.get(&ada, &path).await;
        assert_eq!(page.status, 200, "{:?}", page.body);
        paged.extend(page.body["items"].as_array().unwrap().iter().cloned());
        match page.body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/channels/{id}/members?limit=100&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(paged.len(), 150, "every member once");
    assert_eq!(
        &paged[..100],
        shown.as_slice(),
        "the channel shows the first page"
    );
    let joined: Vec<(&str, &str)> = paged
        .iter()
        .map(|m| {
            (
                m["joined_at"].as_str().unwrap(),
                m["user_id"].as_str().unwrap(),
            )
        })
        .collect();
    let mut sorted_by_join = joined.clone();
    sorted_by_join.sort();
    assert_eq!(joined, sorted_by_join, "first joined first");
    env.api
        .get(&outsider, &format!("/channels/{id}/members"))
        .await
        .assert_error(
            404,
            "not_found",
            "a private channel's members are as hidden as it",
        );

    env.api.befriend(&ada, &late).await;
    let refused = env.api.add_member(&ada, &id, &late.id).await;
    refused.assert_error(409, "conflict", "the group is full");
}
