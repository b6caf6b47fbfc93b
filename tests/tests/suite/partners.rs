//! Partner requests and partnerships: every route and error row of the contract's section,
//! through the partners-api handler on DynamoDB Local, with the email events read from moto.

use integration_tests::{TestEnv, TestUser};
use serde_json::{json, Value};
use shared::domain::{Timestamp, UserId};

async fn send(
    env: &TestEnv,
    from: &TestUser,
    to: &str,
    message: Option<&str>,
) -> integration_tests::Answer {
    let mut body = json!({ "recipient_id": to });
    if let Some(message) = message {
        body["message"] = json!(message);
    }
    env.api.send_request(from, body).await
}

#[tokio::test]
async fn sending_a_request_stores_it_and_queues_one_email_event() {
    let (env, [ada, bob]) = TestEnv::with_users(["Ada", "Bob"]).await;
    let answer = send(&env, &ada, &bob.id, Some("  Let's work together  ")).await;
    assert_eq!(answer.status, 201, "{:?}", answer.body);
    let request = &answer.body;
    assert_eq!(request["status"], "pending");
    assert_eq!(request["sender"], json!({"id": ada.id, "name": "Ada"}));
    assert_eq!(request["recipient"], json!({"id": bob.id, "name": "Bob"}));
    assert_eq!(request["message"], "Let's work together");
    assert_eq!(request["responded_at"], Value::Null);
    assert!(Timestamp::parse(request["created_at"].as_str().unwrap()).is_some());

    TestEnv::settle().await;
    let events = env.queued_messages().await;
    assert_eq!(events.len(), 1, "{events:?}");
    let event = &events[0];
    assert_eq!(event["kind"], "partner_request.created");
    assert_eq!(event["request_id"], request["id"]);
    assert_eq!(
        event["event_id"],
        format!(
            "partner_request:{}:created",
            request["id"].as_str().unwrap()
        )
    );
    assert_eq!(event["sender"], json!({"id": ada.id, "name": "Ada"}));
    assert_eq!(event["recipient"], json!({"id": bob.id, "name": "Bob"}));

    let received = env.api.get(&bob, "/partner-requests/received").await;
    assert_eq!(received.status, 200);
    assert_eq!(received.body["items"][0], *request);
    assert_eq!(received.body["next_cursor"], Value::Null);
    let sent = env.api.get(&ada, "/partner-requests/sent").await;
    assert_eq!(sent.body["items"][0], *request);
    let none = env.api.get(&ada, "/partner-requests/received").await;
    assert_eq!(none.body["items"], json!([]));
}

#[tokio::test]
async fn request_errors() {
    let (env, [ada, bob]) = TestEnv::with_users(["Ada", "Bob"]).await;

    let to_self = send(&env, &ada, &ada.id, None).await;
    assert_eq!((to_self.status, to_self.code()), (400, "validation_failed"));
    assert!(to_self.body["error"]["details"]["recipient_id"].is_string());

    let missing = env.api.send_request(&ada, json!({})).await;
    assert_eq!(missing.code(), "validation_failed");
    let typed = env.api.send_request(&ada, json!({"recipient_id": 7})).await;
    assert_eq!(typed.code(), "bad_request");
    let long = send(&env, &ada, &bob.id, Some(&"x".repeat(501))).await;
    assert_eq!(long.code(), "validation_failed");

    for unknown in [UserId::generate().to_string(), "nobody".to_string()] {
        let answer = send(&env, &ada, &unknown, None).await;
        assert_eq!((answer.status, answer.code()), (404, "not_found"));
    }

    assert_eq!(send(&env, &ada, &bob.id, None).await.status, 201);
    let again = send(&env, &ada, &bob.id, None).await;
    assert_eq!((again.status, again.code()), (409, "conflict"));
    let reverse = send(&env, &bob, &ada.id, None).await;
    reverse.assert_error(409, "conflict", "pending in the other direction");

    let unauthenticated = env
        .api
        .call(
            "POST",
            "/partner-requests",
            None,
            Some(json!({"recipient_id": bob.id})),
        )
        .await;
    assert_eq!(unauthenticated.status, 401);

    TestEnv::settle().await;
    assert_eq!(
        env.queued_messages().await.len(),
        1,
        "only the stored request queued an email"
    );
}

#[tokio::test]
async fn accepting_makes_a_partnership_and_emails_the_sender() {
    let (env, [ada, bob]) = TestEnv::with_users(["Ada", "Bob"]).await;
    let id = env.api.request_partner(&ada, &bob).await;
    env.queued_messages().await; // the "created" event

    let answer = env.api.answer_request(&bob, &id, "accept").await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.body["status"], "accepted");
    assert!(Timestamp::parse(answer.body["responded_at"].as_str().unwrap()).is_some());
    let mut pair = vec![ada.id.clone(), bob.id.clone()];
    pair.sort();
    assert_eq!(answer.body["partnership"]["user_ids"], json!(pair));
    assert_eq!(
        answer.body["partnership"]["since"],
        answer.body["responded_at"]
    );

    TestEnv::settle().await;
    let events = env.queued_messages().await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["kind"], "partner_request.accepted");
    assert_eq!(
        events[0]["event_id"],
        format!("partner_request:{id}:accepted")
    );

    for (user, other) in [(&ada, &bob), (&bob, &ada)] {
        let list = env.api.partnerships(user).await;
        assert_eq!(list.status, 200);
        assert_eq!(
            list.body,
            json!({"items": [{"user": {"id": other.id, "name": other.name}, "since": answer.body["responded_at"]}], "next_cursor": null})
        );
    }

    let again = send(&env, &ada, &bob.id, None).await;
    again.assert_error(409, "conflict", "already partners");
    assert_eq!(again.body["error"]["message"], "you are already partners");

    let received = env.api.get(&bob, "/partner-requests/received").await;
    assert_eq!(
        received.body["items"],
        json!([]),
        "default filter is pending"
    );
    let accepted = env
        .api
        .get(&bob, "/partner-requests/received?status=accepted")
        .await;
    assert_eq!(accepted.item_strings("id"), [id.as_str()]);
    let all = env.api.get(&ada, "/partner-requests/sent?status=all").await;
    assert_eq!(all.body["items"][0]["status"], "accepted");
}

#[tokio::test]
async fn accept_and_reject_errors() {
    let (env, [ada, bob, eve]) = TestEnv::with_users(["Ada", "Bob", "Eve"]).await;
    let id = env.api.request_partner(&ada, &bob).await;

    for action in ["accept", "reject"] {
        let path = format!("/partner-requests/{id}/{action}");
        let by_sender = env.api.post(&ada, &path, None).await;
        by_sender.assert_error(403, "forbidden", action);
        let by_stranger = env.api.post(&eve, &path, None).await;
        by_stranger.assert_error(404, "not_found", action);
        let unknown = env
            .api
            .post(
                &bob,
                &format!("/partner-requests/{}/{action}", UserId::generate()),
                None,
            )
            .await;
        assert_eq!(unknown.status, 404);
        let garbage = env
            .api
            .post(&bob, &format!("/partner-requests/x/{action}"), None)
            .await;
        assert_eq!(garbage.status, 404);
    }

    let rejected = env.api.answer_request(&bob, &id, "reject").await;
    assert_eq!(rejected.status, 200);
    assert_eq!(rejected.body["status"], "rejected");
    assert!(rejected.body.get("partnership").is_none());
    for action in ["accept", "reject"] {
        let late = env
            .api
            .post(&bob, &format!("/partner-requests/{id}/{action}"), None)
            .await;
        late.assert_error(409, "conflict", &format!("{action} after reject"));
    }
    let partnerships = env.api.partnerships(&bob).await;
    assert_eq!(partnerships.body["items"], json!([]));

    // A rejected request frees the pair: either side may ask again.
    assert_eq!(send(&env, &bob, &ada.id, None).await.status, 201);
}

#[tokio::test]
async fn only_the_sender_cancels_a_pending_request() {
    let (env, [ada, bob, eve]) = TestEnv::with_users(["Ada", "Bob", "Eve"]).await;
    let id = env.api.request_partner(&ada, &bob).await;
    let path = format!("/partner-requests/{id}");

    let by_recipient = env.api.delete(&bob, &path).await;
    assert_eq!(
        (by_recipient.status, by_recipient.code()),
        (403, "forbidden")
    );
    env.api.delete(&eve, &path).await.assert_status(404);
    let cancelled = env.api.delete(&ada, &path).await;
    assert_eq!(cancelled.status, 204);
    assert_eq!(cancelled.body, Value::Null);
    let again = env.api.delete(&ada, &path).await;
    assert_eq!((again.status, again.code()), (409, "conflict"));
    let accept = env.api.post(&bob, &format!("{path}/accept"), None).await;
    assert_eq!(accept.status, 409);

    let sent = env
        .api
        .get(&ada, "/partner-requests/sent?status=cancelled")
        .await;
    assert_eq!(sent.item_strings("id"), [id]);
    assert!(sent.body["items"][0]["responded_at"].is_string());
    // The pair is free again, but the sender waits a day before asking Bob again (anyone
    // else may ask at once, Bob included).
    let too_soon = send(&env, &ada, &bob.id, None).await;
    too_soon.assert_error(429, "rate_limited", "asking again right after a cancel");
    let wait = too_soon.body["error"]["details"]["retry_after_seconds"]
        .as_u64()
        .unwrap();
    assert!((86_000..=86_400).contains(&wait), "{wait}");
    assert_eq!(too_soon.headers["retry-after"], wait.to_string().as_str());
    assert_eq!(
        send(&env, &bob, &ada.id, None).await.status,
        201,
        "Bob may ask Ada"
    );
}

#[tokio::test]
async fn request_lists_filter_and_page_newest_first() {
    let (env, [bob]) = TestEnv::with_users(["Bob"]).await;
    let mut senders = Vec::new();
    for i in 0..5 {
        let sender = env.api.register(&format!("Sender{i}")).await;
        let id = env.api.request_partner(&sender, &bob).await;
        senders.push((sender, id));
    }
    let (first_sender, first_id) = &senders[0];
    env.api.answer_request(&bob, first_id, "reject").await;
    let _ = first_sender;

    let mut seen = Vec::new();
    let mut path = "/partner-requests/received?limit=2".to_string();
    loop {
        let page = env.api.get(&bob, &path).await;
        assert_eq!(page.status, 200, "{:?}", page.body);
        seen.extend(page.item_strings("id"));
        match page.body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/partner-requests/received?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    let mut expected: Vec<String> = senders[1..].iter().map(|(_, id)| id.clone()).collect();
    expected.reverse();
    assert_eq!(seen, expected, "pending only, newest first");

    let all = env
        .api
        .get(&bob, "/partner-requests/received?status=all&limit=100")
        .await;
    assert_eq!(all.item_strings("id").len(), 5);
    let rejected = env
        .api
        .get(&bob, "/partner-requests/received?status=rejected")
        .await;
    assert_eq!(rejected.item_strings("id"), [first_id.as_str()]);
    let bad = env
        .api
        .get(&bob, "/partner-requests/received?status=maybe")
        .await;
    assert_eq!((bad.status, bad.code()), (400, "bad_request"));

    let first = env
        .api
        .get(&bob, "/partner-requests/received?limit=1")
        .await;
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let reused = env
        .api
        .get(
            &bob,
            &format!("/partner-requests/received?status=all&cursor={cursor}"),
        )
        .await;
    assert_eq!(
        reused.code(),
        "bad_request",
        "a cursor is bound to its filter"
    );
    let other_user = env
        .api
        .call(
            "GET",
            &format!("/partner-requests/received?cursor={cursor}"),
            Some(&senders[1].0.token),
            None,
        )
        .await;
    assert_eq!(other_user.code(), "bad_request", "and to its user");
}

#[tokio::test]
async fn partnerships_show_current_names_and_can_be_ended() {
    let (env, [ada, bob, cy]) = TestEnv::with_users(["Ada", "Bob", "Cy"]).await;
    env.api.make_partners(&ada, &bob).await;
    env.api.make_partners(&cy, &ada).await;

    env.api.patch(&bob, "/me", json!({"name": "Robert"})).await;
    let list = env.api.get(&ada, "/partnerships?limit=1").await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
    let cursor = list.body["next_cursor"].as_str().unwrap().to_string();
    let rest = env
        .api
        .get(&ada, &format!("/partnerships?limit=1&cursor={cursor}"))
        .await;
    assert_eq!(rest.body["next_cursor"], Value::Null);
    let mut names: Vec<String> = [&list.body, &rest.body]
        .iter()
        .map(|page| {
            page["items"][0]["user"]["name"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    names.sort();
    assert_eq!(names, ["Cy", "Robert"]);

    env.api
        .delete(&ada, &format!("/partnerships/{}", bob.id))
        .await
        .assert_status(204);
    let after = env.api.partnerships(&bob).await;
    assert_eq!(after.body["items"], json!([]), "ended for both sides");
    let again = env
        .api
        .delete(&ada, &format!("/partnerships/{}", bob.id))
        .await;
    assert_eq!((again.status, again.code()), (404, "not_found"));
    let stranger = env
        .api
        .delete(&ada, &format!("/partnerships/{}", UserId::generate()))
        .await;
    assert_eq!(stranger.status, 404);
    assert_eq!(
        send(&env, &bob, &ada.id, None).await.status,
        201,
        "they may ask again"
    );
}

#[tokio::test]
async fn deleted_accounts_vanish_from_partnerships_and_cannot_be_accepted() {
    let (env, [ada, bob, cy]) = TestEnv::with_users(["Ada", "Bob", "Cy"]).await;
    env.api.make_partners(&ada, &bob).await;
    let pending = env.api.request_partner(&cy, &ada).await;
    env.api.delete_account(&bob).await;
    env.api.delete_account(&cy).await;

    let list = env.api.partnerships(&ada).await;
    assert_eq!(list.body["items"], json!([]));
    let accept = env.api.answer_request(&ada, &pending, "accept").await;
    assert_eq!(accept.status, 404, "{:?}", accept.body);
}
