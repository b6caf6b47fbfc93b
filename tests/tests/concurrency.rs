//! Races: the outcomes the contract promises when requests arrive at the same time. They
//! hold because every decision is a conditional write or a transaction, never read-then-write.

use futures::future::join_all;
use integration_tests::TestEnv;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn opposite_requests_at_once_yield_one_created_and_one_conflict() {
    let env = TestEnv::new().await;
    for round in 0..5 {
        let ada = env.register("Ada").await;
        let bob = env.register("Bob").await;
        let (a, b) = tokio::join!(
            env.call(
                "POST",
                "/partner-requests",
                Some(&ada.token),
                Some(json!({"recipient_id": bob.id}))
            ),
            env.call(
                "POST",
                "/partner-requests",
                Some(&bob.token),
                Some(json!({"recipient_id": ada.id}))
            ),
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
        let pending = env
            .call("GET", "/partner-requests/received", Some(&ada.token), None)
            .await
            .body["items"]
            .as_array()
            .unwrap()
            .len()
            + env
                .call("GET", "/partner-requests/received", Some(&bob.token), None)
                .await
                .body["items"]
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
    let env = TestEnv::new().await;
    let ada = env.register("Ada").await;
    let bob = env.register("Bob").await;
    let id = env.request_partner(&ada, &bob).await;
    TestEnv::settle().await;
    env.queued_messages().await; // the "created" event

    let path = format!("/partner-requests/{id}/accept");
    let answers = join_all((0..20).map(|_| env.call("POST", &path, Some(&bob.token), None))).await;
    let ok = answers.iter().filter(|a| a.status == 200).count();
    let conflicts = answers
        .iter()
        .filter(|a| a.status == 409 && a.code() == "conflict")
        .count();
    assert_eq!(
        (ok, conflicts),
        (1, 19),
        "{:?}",
        answers.iter().map(|a| a.status).collect::<Vec<_>>()
    );

    for user in [&ada, &bob] {
        let list = env
            .call("GET", "/partnerships", Some(&user.token), None)
            .await;
        assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
    }
    TestEnv::settle().await;
    let events = env.queued_messages().await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["kind"], "partner_request.accepted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn accept_and_reject_racing_have_one_winner() {
    let env = TestEnv::new().await;
    let ada = env.register("Ada").await;
    let bob = env.register("Bob").await;
    let id = env.request_partner(&ada, &bob).await;
    let calls = (0..10).map(|i| {
        let path = if i % 2 == 0 {
            format!("/partner-requests/{id}/accept")
        } else {
            format!("/partner-requests/{id}/reject")
        };
        let env = &env;
        let token = bob.token.clone();
        async move { env.call("POST", &path, Some(&token), None).await }
    });
    let answers = join_all(calls).await;
    let winners: Vec<_> = answers.iter().filter(|a| a.status == 200).collect();
    assert_eq!(winners.len(), 1);
    assert_eq!(answers.iter().filter(|a| a.status == 409).count(), 9);
    let status = winners[0].body["status"].as_str().unwrap();
    let sent = env
        .call(
            "GET",
            "/partner-requests/sent?status=all",
            Some(&ada.token),
            None,
        )
        .await;
    assert_eq!(
        sent.body["items"][0]["status"], status,
        "both copies agree with the winner"
    );
    let partners = env
        .call("GET", "/partnerships", Some(&ada.token), None)
        .await
        .body["items"]
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
        env.call(
            "POST",
            "/auth/register",
            None,
            Some(json!({"email": email, "name": format!("N{i}"), "password": "password123"})),
        )
    }))
    .await;
    let mut statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    statuses.sort();
    assert_eq!(statuses, [201, 409, 409, 409, 409, 409, 409, 409]);
}
