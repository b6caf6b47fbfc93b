//! End to end over real WebSocket and HTTP clients against the local gateway: pushes to every
//! device, acks, typing, read receipts, member and partner events, presence, the 410 clean-up,
//! refused handshakes and bad frames, and the `@connections` management API.

use std::time::Duration;

use integration_tests::stack::{Socket, Stack};
use integration_tests::TestUser;
use local_gateway::websocket::WebSocketOptions;
use serde_json::{json, Value};
use shared::domain::UserId;
use shared::storage::ConnectionRecord;

/// Long enough for a push that should not come to have arrived if it were sent.
const QUIET: Duration = Duration::from_millis(400);

async fn group(stack: &Stack, owner: &TestUser, members: &[&TestUser]) -> String {
    for member in members {
        stack.api.befriend(owner, member).await;
    }
    let ids: Vec<&str> = members.iter().map(|m| m.id.as_str()).collect();
    let (status, channel) = stack
        .api
        .create_channel(owner, json!({"name": "crew", "member_ids": ids}))
        .await
        .parts();
    assert_eq!(status, 201, "{channel}");
    channel["id"].as_str().unwrap().to_string()
}

fn id_is(id: &Value) -> impl Fn(&Value) -> bool + '_ {
    move |frame: &Value| frame["message"]["id"] == *id
}

#[tokio::test]
async fn every_device_of_every_member_gets_every_event() {
    let stack = Stack::start().await;
    let ada = stack.env.api.register("Ada").await;
    let bob = stack.env.api.register("Bob").await;
    let channel = group(&stack, &ada, &[&bob]).await;
    let mut ada1 = stack.socket(&ada).await;
    let mut ada2 = stack.socket(&ada).await;
    let mut bob1 = stack.socket(&bob).await;
    let mut bob2 = stack.socket(&bob).await;
    let outsider = stack.env.api.register("Outsider").await;
    let mut outsider_socket = stack.socket(&outsider).await;

    // A REST send reaches all four sockets.
    let (status, sent) = stack
        .api
        .send_message(&ada, &channel, json!({"body": "hello over REST"}))
        .await
        .parts();
    assert_eq!(status, 201);
    for socket in [&mut ada1, &mut ada2, &mut bob1, &mut bob2] {
        let event = socket.expect("message.created", id_is(&sent["id"])).await;
        assert_eq!(event["channel_id"], channel.as_str());
        assert_eq!(event["message"]["body"], "hello over REST");
    }

    // A WebSocket send acks the sender's connection and reaches the three others.
    bob1.send(json!({"action": "sendMessage", "channel_id": channel, "body": "hi from a socket", "client_id": "bob-1"}))
        .await;
    let frames = bob1.drain(QUIET).await;
    let acks: Vec<&Value> = frames.iter().filter(|f| f["type"] == "ack").collect();
    assert_eq!(acks.len(), 1, "{frames:#?}");
    let ack = acks[0];
    assert_eq!(ack["client_id"], "bob-1");
    assert_eq!(ack["message"]["body"], "hi from a socket");
    assert_eq!(ack["message"]["sender"]["id"], bob.id.as_str());
    let message_id = ack["message"]["id"].clone();
    assert!(
        !frames
            .iter()
            .any(|f| f["type"] == "message.created" && id_is(&message_id)(f)),
        "the sending connection gets the ack, not the push: {frames:#?}"
    );
    for socket in [&mut ada1, &mut ada2, &mut bob2] {
        socket.expect("message.created", id_is(&message_id)).await;
    }

    // Typing goes to the other members' connections, never back to the typist.
    ada1.send(json!({"action": "typing", "channel_id": channel, "is_typing": true}))
        .await;
    for socket in [&mut bob1, &mut bob2] {
        let typing = socket.expect("typing", |_| true).await;
        assert_eq!(
            typing,
            json!({"type": "typing", "channel_id": channel, "user_id": ada.id, "is_typing": true})
        );
    }
    for socket in [&mut ada1, &mut ada2] {
        socket.expect_none("typing", QUIET, |_| true).await;
    }

    // A read marker set over WebSocket reaches the other member's devices and the reader's
    // own other devices (each clears its badge), not the connection that sent it.
    let read_me = stack.api.say(&ada, &channel, "read me").await;
    for socket in [&mut ada1, &mut ada2, &mut bob1, &mut bob2] {
        socket
            .expect("message.created", |f| {
                f["message"]["id"] == read_me.as_str()
            })
            .await;
    }
    bob2.send(json!({"action": "markRead", "channel_id": channel, "message_id": read_me}))
        .await;
    for socket in [&mut ada1, &mut ada2, &mut bob1] {
        let receipt = socket.expect("read_receipt", |_| true).await;
        assert_eq!(receipt["user_id"], bob.id.as_str());
        assert_eq!(receipt["last_read_message_id"], read_me.as_str());
        assert_eq!(receipt["channel_id"], channel.as_str());
    }
    bob2.expect_none("read_receipt", QUIET, |_| true).await;
    let (_, receipts) = stack.api.read_receipts(&ada, &channel).await.parts();
    let bobs = receipts["items"]
        .as_array()
        .and_then(|items| items.iter().find(|r| r["user_id"] == bob.id.as_str()))
        .cloned();
    assert_eq!(
        bobs.map(|r| r["last_read_message_id"].clone()),
        Some(json!(read_me))
    );

    // A member added over REST: everyone hears `member.joined`.
    let cy = stack.env.api.register("Cy").await;
    stack.env.api.befriend(&ada, &cy).await;
    let (status, _) = stack.api.add_member(&ada, &channel, &cy.id).await.parts();
    assert_eq!(status, 200);
    for socket in [&mut ada1, &mut ada2, &mut bob1, &mut bob2] {
        let joined = socket.expect("member.joined", |_| true).await;
        assert_eq!(joined["member"]["user_id"], cy.id.as_str());
    }

    // Edits, reactions and deletes are pushed too.
    let path = format!(
        "/channels/{channel}/messages/{}",
        sent["id"].as_str().unwrap()
    );
    stack
        .api
        .patch(&ada, &path, json!({"body": "edited"}))
        .await
        .parts();
    let updated = bob1.expect("message.updated", id_is(&sent["id"])).await;
    assert_eq!(updated["message"]["body"], "edited");
    stack
        .api
        .put(&bob, &format!("{path}/reactions/👍"))
        .await
        .parts();
    let reaction = ada2.expect("reaction.updated", |_| true).await;
    assert_eq!(reaction["reactions"]["👍"], json!([bob.id]));
    stack.api.delete(&ada, &path).await.parts();
    let deleted = bob2.expect("message.deleted", |_| true).await;
    assert_eq!(deleted["message_id"], sent["id"]);

    // Nothing of a private channel reaches a connected outsider.
    let frames = outsider_socket.drain(QUIET).await;
    assert!(
        frames.iter().all(|f| f.get("channel_id").is_none()),
        "an outsider got channel events: {frames:#?}"
    );

    // Leaving: the others and the leaver's own devices hear `member.left`.
    let (status, _) = stack.api.leave(&bob, &channel).await.parts();
    assert_eq!(status, 204);
    for socket in [&mut ada1, &mut bob2] {
        let left = socket.expect("member.left", |_| true).await;
        assert_eq!(left["user_id"], bob.id.as_str());
    }
}

#[tokio::test]
async fn partner_requests_and_answers_arrive_as_events() {
    let stack = Stack::start().await;
    let ada = stack.env.api.register("Ada").await;
    let bob = stack.env.api.register("Bob").await;
    let cy = stack.env.api.register("Cy").await;
    let mut ada_socket = stack.socket(&ada).await;
    let mut bob_socket = stack.socket(&bob).await;
    let mut cy_socket = stack.socket(&cy).await;

    let (status, request) = stack
        .api
        .send_request(&bob, json!({"recipient_id": ada.id, "message": "hi Ada"}))
        .await
        .parts();
    assert_eq!(status, 201);
    let received = ada_socket
        .expect("partner_request.received", |_| true)
        .await;
    assert_eq!(received["request"]["id"], request["id"]);
    assert_eq!(received["request"]["sender"]["name"], "Bob");

    let request_id = request["id"].as_str().unwrap_or_default();
    let accept = stack.api.answer_request(&ada, request_id, "accept").await;
    accept.assert_status(200);
    let accepted = bob_socket
        .expect("partner_request.accepted", |_| true)
        .await;
    assert_eq!(accepted["request"]["status"], "accepted");
    let mut pair = accepted["partnership"]["user_ids"]
        .as_array()
        .unwrap()
        .clone();
    pair.sort_by_key(|id| id.as_str().unwrap().to_string());
    let mut expected = vec![json!(ada.id), json!(bob.id)];
    expected.sort_by_key(|id| id.as_str().unwrap().to_string());
    assert_eq!(pair, expected);

    let (_, request) = stack
        .api
        .send_request(&cy, json!({"recipient_id": ada.id}))
        .await
        .parts();
    ada_socket
        .expect("partner_request.received", |_| true)
        .await;
    let request_id = request["id"].as_str().unwrap_or_default();
    let reject = stack.api.answer_request(&ada, request_id, "reject").await;
    reject.assert_status(200);
    let rejected = cy_socket.expect("partner_request.rejected", |_| true).await;
    assert_eq!(rejected["request"]["status"], "rejected");
}

#[tokio::test]
async fn presence_flips_with_the_first_connection_and_the_last() {
    let stack = Stack::start().await;
    let ada = stack.env.api.register("Ada").await;
    let bob = stack.env.api.register("Bob").await;
    stack.env.api.make_partners(&ada, &bob).await;
    let presence_path = format!("/users/{}/presence", bob.id);
    let (_, before) = stack.api.get(&ada, &presence_path).await.parts();
    assert_eq!(
        before,
        json!({"user_id": bob.id, "online": false, "last_seen": null})
    );
    let mut watcher = stack.socket(&ada).await;
    let is_bob = |frame: &Value| frame["user_id"] == bob.id.as_str();

    let bob1 = stack.socket(&bob).await;
    let online = watcher.expect("presence", is_bob).await;
    assert_eq!(online["online"], true);
    assert!(online["last_seen"].is_string());
    let bob2 = stack.socket(&bob).await;
    watcher.expect_none("presence", QUIET, is_bob).await;
    let (_, now) = stack.api.get(&ada, &presence_path).await.parts();
    assert_eq!(now["online"], true);
    let (_, contacts) = stack.api.get(&ada, "/presence/online").await.parts();
    assert_eq!(contacts["items"][0]["user_id"], bob.id.as_str());

    bob1.close().await;
    watcher.expect_none("presence", QUIET, is_bob).await;
    bob2.close().await;
    let offline = watcher.expect("presence", is_bob).await;
    assert_eq!(offline["online"], false);
    let (_, after) = stack.api.get(&ada, &presence_path).await.parts();
    assert_eq!(after["online"], false);
    assert!(after["last_seen"].is_string());
    let (_, contacts) = stack.api.get(&ada, "/presence/online").await.parts();
    assert_eq!(contacts["items"], json!([]));
}

#[tokio::test]
async fn a_connection_killed_without_a_close_frame_is_cleaned_up_on_the_next_push() {
    let stack = Stack::start_with(WebSocketOptions {
        lose_abrupt_disconnects: true,
        ..Default::default()
    })
    .await;
    let ada = stack.env.api.register("Ada").await;
    let bob = stack.env.api.register("Bob").await;
    let channel = group(&stack, &ada, &[&bob]).await;
    let mut ada_socket = stack.socket(&ada).await;
    let bob_socket = stack.socket(&bob).await;
    ada_socket
        .expect("presence", |f| f["user_id"] == bob.id.as_str())
        .await;
    bob_socket.kill();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let bob_id = UserId::parse(&bob.id).unwrap();
    let stored = stack.env.connections_of(&bob_id).await;
    assert_eq!(
        stored.len(),
        1,
        "no $disconnect came, so the connection is still stored"
    );

    // Within the connect grace period a 410 may mean "still in $connect": the connection stays.
    let send = |body: &'static str| {
        let (stack, ada, channel) = (&stack, &ada, &channel);
        async move {
            let path = format!("/channels/{channel}/messages");
            let (status, _) = stack
                .api
                .post(ada, &path, json!({"body": body}))
                .await
                .parts();
            assert_eq!(status, 201);
        }
    };
    send("anyone there?").await;
    let stored = stack.env.connections_of(&bob_id).await;
    assert_eq!(
        stored.len(),
        1,
        "a young connection is not forgotten on a 410"
    );
    ada_socket
        .expect_none("presence", QUIET, |f| f["user_id"] == bob.id.as_str())
        .await;

    // Past it, the next push's 410 deletes the connection.
    let grace = ConnectionRecord::CONNECT_GRACE_SECONDS as u64;
    tokio::time::sleep(Duration::from_secs(grace)).await;
    send("still nobody?").await;
    let offline = ada_socket
        .expect("presence", |f| f["user_id"] == bob.id.as_str())
        .await;
    assert_eq!(
        offline["online"], false,
        "the 410 made Bob's last connection go"
    );
    let stored = stack.env.connections_of(&bob_id).await;
    assert!(stored.is_empty(), "the gone connection was deleted");
    let (_, presence) = stack
        .api
        .get(&ada, &format!("/users/{}/presence", bob.id))
        .await
        .parts();
    assert_eq!(presence["online"], false);
}

#[tokio::test]
async fn bad_tokens_are_refused_at_the_handshake() {
    let stack = Stack::start().await;
    let ada = stack.env.api.register("Ada").await;
    assert_eq!(Socket::connect(&stack.ws, None).await.err(), Some(401));
    assert_eq!(
        Socket::connect(&stack.ws, Some("not-a-jwt")).await.err(),
        Some(401)
    );
    let tampered = format!("{}x", ada.token);
    assert_eq!(
        Socket::connect(&stack.ws, Some(&tampered)).await.err(),
        Some(401)
    );
    // A deleted account's token no longer connects.
    let (status, _) = stack.api.delete_account(&ada).await.parts();
    assert_eq!(status, 204);
    assert_eq!(
        Socket::connect(&stack.ws, Some(&ada.token)).await.err(),
        Some(401)
    );
    // Nothing was stored for the refused attempts.
    let id = UserId::parse(&ada.id).unwrap();
    assert!(stack.env.connections_of(&id).await.is_empty());
}

#[tokio::test]
async fn bad_frames_get_an_error_and_the_socket_stays_open() {
    let stack = Stack::start().await;
    let ada = stack.env.api.register("Ada").await;
    let outsider = stack.env.api.register("Eve").await;
    let channel = group(&stack, &ada, &[]).await;
    let mut socket = stack.socket(&ada).await;

    socket.send_text("this is not JSON").await;
    let error = socket.expect("error", |_| true).await;
    assert_eq!(error["code"], "bad_request");

    socket
        .send(json!({"action": "dance", "client_id": "c1"}))
        .await;
    let error = socket.expect("error", |_| true).await;
    assert_eq!(
        (&error["code"], &error["client_id"]),
        (&json!("bad_request"), &json!("c1"))
    );
    assert!(error["message"].as_str().unwrap().contains("dance"));

    socket
        .send(json!({"action": "sendMessage", "channel_id": channel, "body": "   ", "client_id": "c2"}))
        .await;
    let error = socket.expect("error", |_| true).await;
    assert_eq!(
        (&error["code"], &error["client_id"]),
        (&json!("validation_failed"), &json!("c2"))
    );

    socket
        .send(json!({"action": "sendMessage", "channel_id": "no-such-channel", "body": "hi"}))
        .await;
    let error = socket.expect("error", |_| true).await;
    assert_eq!(error["code"], "not_found");

    let mut eve = stack.socket(&outsider).await;
    eve.send(json!({"action": "typing", "channel_id": channel, "is_typing": true}))
        .await;
    assert_eq!(eve.expect("error", |_| true).await["code"], "not_found");

    socket.send(json!({"action": "ping"})).await;
    assert_eq!(
        socket.expect("pong", |_| true).await,
        json!({"type": "pong"})
    );
    // The same client_id twice: one message, acked twice with it.
    for _ in 0..2 {
        socket
            .send(json!({"action": "sendMessage", "channel_id": channel, "body": "once", "client_id": "dup"}))
            .await;
    }
    let first = socket.expect("ack", |_| true).await;
    let second = socket.expect("ack", |_| true).await;
    assert_eq!(first["message"]["id"], second["message"]["id"]);
    let (_, history) = stack.api.history(&ada, &channel, "").await.parts();
    assert_eq!(history["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_management_api_describes_posts_to_and_closes_connections() {
    let stack = Stack::start().await;
    let ada = stack.env.api.register("Ada").await;
    let mut socket = stack.socket(&ada).await;
    let id = UserId::parse(&ada.id).unwrap();
    let connections = stack.env.connections_of(&id).await;
    let connection_id = connections[0].1.to_string();
    let management = stack.management_client().await;

    let described = management
        .get_connection()
        .connection_id(&connection_id)
        .send()
        .await
        .expect("a live connection is described");
    assert!(described.connected_at().is_some());
    assert!(described.last_active_at().is_some());
    assert_eq!(
        described.identity().and_then(|i| i.source_ip()),
        Some("127.0.0.1")
    );

    management
        .post_to_connection()
        .connection_id(&connection_id)
        .data(aws_sdk_apigatewaymanagement::primitives::Blob::new(
            br#"{"type":"hello"}"#.to_vec(),
        ))
        .send()
        .await
        .expect("posted");
    socket.expect("hello", |_| true).await;

    let gone = management
        .post_to_connection()
        .connection_id("bm8tc3VjaC1jb25u")
        .data(aws_sdk_apigatewaymanagement::primitives::Blob::new(
            b"{}".to_vec(),
        ))
        .send()
        .await
        .expect_err("an unknown connection is gone");
    assert!(
        gone.as_service_error()
            .is_some_and(|e| e.is_gone_exception()),
        "410 GoneException: {gone:?}"
    );

    management
        .delete_connection()
        .connection_id(&connection_id)
        .send()
        .await
        .expect("closed");
    assert!(socket.closed_within(Duration::from_secs(5)).await);
    // The close ran `$disconnect`, which forgot the connection.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !stack.env.connections_of(&id).await.is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "$disconnect never ran"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_profile_written_before_connections_were_kept_on_it_still_connects() {
    let stack = Stack::start().await;
    let ada = stack.env.api.register("Ada").await;
    // Such a profile has no `connections` map (the one place a test names a key format).
    stack
        .env
        .dynamodb
        .update_item()
        .table_name(&stack.env.table)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("USER#{}", ada.id)),
        )
        .key(
            "sk",
            aws_sdk_dynamodb::types::AttributeValue::S("PROFILE".into()),
        )
        .update_expression("REMOVE connections")
        .send()
        .await
        .unwrap();
    let mut socket = stack.socket(&ada).await;
    socket.send(json!({"action": "ping"})).await;
    socket.expect("pong", |_| true).await;
    let id = UserId::parse(&ada.id).unwrap();
    assert_eq!(stack.env.connections_of(&id).await.len(), 1);
}

/// 150 members of one public group open the app at the same moment: every handshake gets in
/// (`$connect` only stores the connection), and nobody in the group hears the others come
/// online — a 150-member channel is past `PRESENCE_MAX_CHANNEL_MEMBERS` (100), which would
/// otherwise cost 150 × 150 pushes — while a partner of one of them still does.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_crowd_opening_the_app_at_once_all_get_in_and_its_big_channel_hears_no_presence() {
    // 150 handshakes at once saturate the shared DynamoDB Local; a neighbour test would
    // time out with them (and slow them past the 20 s), so this one runs alone.
    let stack = Stack::start_alone().await;
    let env = &stack.env;
    let [ada, bob] = env.api.register_all(["Ada", "Bob"]).await;
    let channel = env.api.group(&ada, &[], false).await;
    let crowd = env.quick_users("Crowd", 150).await;
    env.add_to_group(&channel, &ada, &crowd).await;
    env.api.make_partners(&bob, &crowd[0]).await;
    let mut ada_socket = stack.socket(&ada).await;
    let mut bob_socket = stack.socket(&bob).await;
    // The setup's 150 member.joined pushes (each to up to 150 members) and Ada's own presence
    // (she is in the big channel: nobody hears it) pass first: the crowd meets an idle stack.
    env.until_pushes_done().await;
    ada_socket.drain(Duration::from_millis(500)).await;

    // Each client retries a handshake the busy emulator answered 503, as the web client does;
    // all must be in within the 20 s the issue measured (26 of 150 got in before the fix).
    let sockets = futures::future::join_all(crowd.iter().map(|user| {
        Socket::connect_like_a_client(&stack.ws, &user.token, Duration::from_secs(20))
    }))
    .await;
    let refused: Vec<u16> = sockets
        .iter()
        .filter_map(|s| s.as_ref().err().copied())
        .collect();
    assert!(refused.is_empty(), "every client gets in: {refused:?}");
    let retries: u32 = sockets.iter().flatten().map(|(_, retries)| retries).sum();
    println!("150 simultaneous handshakes: {retries} retried after a 503");

    let online = bob_socket
        .expect("presence", |f| f["user_id"] == crowd[0].id.as_str())
        .await;
    assert_eq!(online["online"], true, "a partner hears it");
    let crowd_ids: Vec<&str> = crowd.iter().map(|u| u.id.as_str()).collect();
    ada_socket
        .expect_none("presence", Duration::from_secs(1), |f| {
            crowd_ids.contains(&f["user_id"].as_str().unwrap_or_default())
        })
        .await;
    let online = stack.api.get(&ada, "/presence/online").await;
    assert_eq!(
        online.body["items"],
        serde_json::json!([]),
        "GET /presence/online answers for the same audience"
    );
}
