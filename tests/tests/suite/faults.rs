//! Fault tests: the network to DynamoDB Local cut while requests are in flight, and moto
//! stopped, under the same gateway and handlers (nothing restarted but the emulator). Clients must get a
//! clear 503 in the contract's shape, no request may leave half its items written, and
//! service must come back by itself when the emulator does.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::join_all;
use integration_tests::outage::{OwnedDynamo, OwnedMoto};
use integration_tests::{notifications_to, spawn_gateway, unique, Api, Endpoints, TestEnv};
use serde_json::{json, Value};
use tokio::sync::Mutex;

/// A test environment on `endpoints` with the gateway's HTTP API over it on a free port, and
/// a client of that API holding every answer to the outage rule. The environment must outlive
/// the test's requests.
async fn gateway_over(endpoints: Endpoints) -> (TestEnv, Api) {
    let env = TestEnv::with_endpoints(endpoints).await;
    let base = spawn_gateway(env.ctx.clone()).await;
    (env, Api::over_http(base).during_outages())
}

/// A registration that may meet the outage: its status and body, whatever they are.
async fn try_register(api: &Api, email: &str) -> (u16, Value) {
    let body = json!({"email": email, "name": "Load", "password": "correct horse battery"});
    api.try_register(body).await.parts()
}

/// What the load did, to be checked once the database is back.
#[derive(Default)]
struct Attempts {
    registrations: Vec<(String, u16)>,
    sends: Vec<(String, u16)>,
    accepts: Vec<(String, u16)>,
    statuses: Vec<u16>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_outage_is_a_clean_503_leaves_nothing_half_written_and_heals_by_itself() {
    let mut dynamo = OwnedDynamo::start().await;
    let (_env, client) = gateway_over(dynamo.endpoints()).await;

    // While up: people, a channel, and pending partner requests to accept during the outage.
    let [ada, bob] = client.register_all(["Ada", "Bob"]).await;
    client.befriend(&bob, &ada).await;
    let (status, channel) = client
        .create_channel(&ada, json!({"name": "Ops", "member_ids": [bob.id]}))
        .await
        .parts();
    assert_eq!(status, 201);
    let channel = channel["id"].as_str().unwrap_or_default().to_string();
    let mut requests = Vec::new();
    for _ in 0..12 {
        let sender = client.register("Sender").await;
        let (status, request) = client
            .send_request(&sender, json!({"recipient_id": ada.id}))
            .await
            .parts();
        assert_eq!(status, 201);
        requests.push(request["id"].as_str().unwrap_or_default().to_string());
    }

    // Load from four clients; the database dies 300 ms in and stays dead for 2 s.
    let attempts = Arc::new(Mutex::new(Attempts::default()));
    let requests = Arc::new(Mutex::new(requests));
    let load_until = Instant::now() + Duration::from_millis(2_500);
    let workers = (0..4).map(|worker| {
        let (client, attempts, requests) = (client.clone(), attempts.clone(), requests.clone());
        let (ada, channel) = (ada.clone(), channel.clone());
        async move {
            let mut n = 0;
            while Instant::now() < load_until {
                n += 1;
                let email = format!("{}@example.com", unique(&format!("w{worker}n{n}")));
                let (status, _) = try_register(&client, &email).await;
                attempts.lock().await.registrations.push((email, status));

                let client_id = format!("w{worker}-m{n}");
                let (status, _) = client
                    .send_message(
                        &ada,
                        &channel,
                        json!({"body": format!("message {client_id}"), "client_id": client_id}),
                    )
                    .await
                    .parts();
                attempts.lock().await.sends.push((client_id, status));

                let next = requests.lock().await.pop();
                if let Some(id) = next {
                    let (status, _) = client.answer_request(&ada, &id, "accept").await.parts();
                    attempts.lock().await.accepts.push((id, status));
                }
                let (status, _) = client.get(&ada, "/channels").await.parts();
                attempts.lock().await.statuses.push(status);
            }
        }
    });
    let outage = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        dynamo.stop().await;
        tokio::time::sleep(Duration::from_secs(2)).await;
    };
    let ((), _) = tokio::join!(outage, join_all(workers));

    // Clients got 503s while it was down (checked in `call`), and no other 5xx.
    let attempts = attempts.lock().await;
    let all: Vec<u16> = attempts
        .registrations
        .iter()
        .chain(&attempts.sends)
        .chain(&attempts.accepts)
        .map(|(_, status)| *status)
        .chain(attempts.statuses.iter().copied())
        .collect();
    assert!(all.contains(&503), "the outage was seen: {all:?}");

    // Back on the same port, with every write it acknowledged; the same gateway heals by itself.
    dynamo.resume().await;
    let healed = Instant::now();
    loop {
        let (status, _) = client.call("GET", "/health", None, None).await.parts();
        if status == 200 {
            break;
        }
        assert!(
            healed.elapsed() < Duration::from_secs(20),
            "service did not come back"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (status, _) = client.get(&ada, "/me").await.parts();
    assert_eq!(status, 200);

    // Registrations: each email is either a whole account or free again; never reserved
    // without an account (which would be a 409 for an account that cannot log in).
    for (email, status) in &attempts.registrations {
        let (login, _) = client.login(email, "correct horse battery").await.parts();
        if *status == 201 {
            assert_eq!(login, 200, "{email}: registered but cannot log in");
        } else if login != 200 {
            let (again, body) = try_register(&client, email).await;
            assert_eq!(again, 201, "{email} is half written: {body}");
        }
    }

    // Messages: a send is stored whole or not at all; the retry tells which, and the history
    // holds each client_id at most once.
    let mut stored = Vec::new();
    for (client_id, status) in &attempts.sends {
        let (retry, body) = client
            .send_message(
                &ada,
                &channel,
                json!({"body": format!("message {client_id}"), "client_id": client_id}),
            )
            .await
            .parts();
        if *status == 201 {
            assert_eq!(retry, 200, "{client_id} answered 201 but is not stored");
        }
        assert!(matches!(retry, 200 | 201), "{client_id}: {retry} {body}");
        stored.push(client_id.clone());
    }
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let (status, page) = client
            .get(
                &bob,
                &format!("/channels/{channel}/messages?limit=100&cursor={cursor}"),
            )
            .await
            .parts();
        assert_eq!(status, 200);
        for message in page["items"].as_array().into_iter().flatten() {
            seen.push(
                message["client_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            );
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_string(),
            None => break,
        }
    }
    seen.sort();
    stored.sort();
    assert_eq!(seen, stored, "every client_id exactly once in the history");

    // Accepts: accepted exactly when the partnership exists.
    let (_, partnerships) = client.get(&ada, "/partnerships?limit=100").await.parts();
    let partners = partnerships["items"].as_array().map(Vec::len).unwrap_or(0);
    let (_, sent) = client
        .get(&ada, "/partner-requests/received?status=all&limit=100")
        .await
        .parts();
    let accepted = sent["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["status"] == "accepted")
        .count();
    assert_eq!(partners, accepted, "{partnerships} / {sent}");
    for (id, status) in &attempts.accepts {
        let request = sent["items"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| r["id"] == json!(id))
            .cloned()
            .unwrap_or_default();
        if *status == 200 {
            assert_eq!(request["status"], "accepted", "{id}");
        }
    }
}

/// Every consequence of a committed change comes from the table's stream, so an outage of
/// SQS and SES (moto stopped) delays it and loses none: the requests answer 2xx, and once moto
/// is back (empty, as a restarted moto is: the queues and the sender are created again) the
/// request and acceptance emails arrive exactly once each, the assistant message gets its one
/// reply, and the deleted account is cleaned up, with nothing restarted but moto.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moto_outage_delays_every_consequence_and_loses_none() {
    let mut moto = OwnedMoto::start().await;
    let (env, client) = gateway_over(moto.endpoints()).await;
    let ses = moto.ses_client().await;
    moto.verify_sender(&env.ctx.config.sender_email).await;
    env.spawn_event_sources().await;
    env.spawn_job_workers(ses).await;
    let [ada, bob, cy] = client.register_all(["Ada", "Bob", "Cy"]).await;
    for user in [&ada, &bob] {
        env.verify_email(user).await;
    }
    let (_, assistant) = client
        .create_channel(&ada, json!({"name": "Help", "kind": "assistant"}))
        .await
        .parts();
    let assistant = assistant["id"].as_str().unwrap_or_default().to_string();
    // Cy joins a public group (no partnership, so no email of its own).
    let (status, group) = client
        .create_channel(&ada, json!({"name": "Ops", "private": false}))
        .await
        .parts();
    assert_eq!(status, 201, "{group}");
    let joined = client
        .post(
            &cy,
            &format!(
                "/channels/{}/join",
                group["id"].as_str().unwrap_or_default()
            ),
            None,
        )
        .await;
    assert_eq!(joined.status, 200, "{:?}", joined.body);

    moto.kill().await;
    let (status, request) = client
        .send_request(&bob, json!({"recipient_id": ada.id}))
        .await
        .parts();
    assert_eq!(status, 201, "the request stands: {request}");
    let id = request["id"].as_str().unwrap_or_default();
    let (status, accepted) = client.answer_request(&ada, id, "accept").await.parts();
    assert_eq!(status, 200, "{accepted}");
    let (status, message) = client
        .send_message(&ada, &assistant, json!({"body": "hello?"}))
        .await
        .parts();
    assert_eq!(status, 201, "{message}");
    let (status, _) = client.delete_account(&cy).await.parts();
    assert_eq!(status, 204);
    // The router keeps failing (and retrying) these records while moto is down.
    tokio::time::sleep(Duration::from_secs(2)).await;

    moto.resume().await;
    for url in [
        &env.queue_url,
        &env.assistant_queue_url,
        &env.maintenance_queue_url,
        &env.fanout_queue_url,
        &env.webhook_queue_url,
    ] {
        let name = url.rsplit('/').next().unwrap_or_default();
        env.sqs
            .create_queue()
            .queue_name(name)
            .send()
            .await
            .expect("recreate a queue");
    }
    moto.verify_sender(&env.ctx.config.sender_email).await;

    let deadline = Instant::now() + Duration::from_secs(30);
    let group = group["id"].as_str().unwrap_or_default().to_string();
    loop {
        let emails = moto.emails().await;
        let (to_ada, to_bob) = (
            notifications_to(&emails, &ada.email).len(),
            notifications_to(&emails, &bob.email).len(),
        );
        let replies = client.assistant_replies(&ada, &assistant).await;
        let (_, channel) = client
            .get(&ada, &format!("/channels/{group}"))
            .await
            .parts();
        let cleaned_up = channel["member_count"] == 1;
        if (to_ada, to_bob, replies, cleaned_up) == (1, 1, 1, true) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "after the outage: {to_ada} emails to Ada, {to_bob} to Bob, {replies} replies, clean-up done: {cleaned_up}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // And nothing more arrives later: each consequence exactly once.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let emails = moto.emails().await;
    for (user, subject) in [
        (&ada, "New partner request from Bob"),
        (&bob, "Partner request accepted by Ada"),
    ] {
        let mails = notifications_to(&emails, &user.email);
        assert_eq!(mails.len(), 1, "{mails:#?}");
        assert_eq!(mails[0]["subject"], subject);
    }
    assert_eq!(
        client.assistant_replies(&ada, &assistant).await,
        1,
        "one reply, however often its job was queued"
    );
}
