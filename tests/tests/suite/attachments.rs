//! Attachments on the emulators: presigned uploads to moto's S3, whose bucket notifications
//! reach the attachment worker through SQS as on AWS; the worker's verdicts, the files on
//! messages, and every hostile upload refused with nothing left behind. moto enforces no
//! POST policy (NOTES), so the tests read the signed policy itself for what S3 enforces, and
//! the worker's own checks catch what moto lets through.

use std::sync::Arc;

use base64::Engine;
use integration_tests::files::{jpeg_of_about, pdf, png, png_bomb, upload_with};
use integration_tests::mailroom::{run_until_empty, test_source};
use integration_tests::{Answer, TestEnv, TestUser};
use local_gateway::sqs::Worker;
use serde_json::{json, Value};
use shared::routes::ATTACHMENT_WORKER;

async fn ask_upload(
    env: &TestEnv,
    user: &TestUser,
    channel: &str,
    name: &str,
    content_type: &str,
    size: usize,
) -> Answer {
    env.api
        .post(
            user,
            &format!("/channels/{channel}/attachments"),
            json!({ "name": name, "content_type": content_type, "size": size }),
        )
        .await
}

/// Asks for an upload of `bytes` as `content_type` and uploads them; the attachment's id
/// and its upload form.
async fn upload(
    env: &TestEnv,
    user: &TestUser,
    channel: &str,
    name: &str,
    content_type: &str,
    bytes: Vec<u8>,
) -> (String, Value) {
    let asked = ask_upload(env, user, channel, name, content_type, bytes.len()).await;
    asked.assert_status(201);
    let form = asked.body["upload"].clone();
    assert_eq!(upload_with(&form, bytes, content_type).await, 204);
    (
        asked.body["attachment"]["id"].as_str().unwrap().to_string(),
        form,
    )
}

fn attachment_worker(env: &TestEnv) -> Worker {
    Worker::Attachment(Arc::new(
        attachment_worker::AttachmentWorker::new(
            env.ctx.clone(),
            &aws_config::SdkConfig::builder().build(),
        )
        .expect("attachment worker"),
    ))
}

/// Runs the attachment worker on the bucket's notifications until none is left, then routes
/// its verdicts; how many notifications it handled.
async fn check_uploads(env: &TestEnv) -> usize {
    let source = test_source(&env.attachment_queue_url, ATTACHMENT_WORKER);
    let handled = run_until_empty(env, &source, &attachment_worker(env)).await;
    env.route_changes().await;
    handled
}

async fn attachment(env: &TestEnv, user: &TestUser, channel: &str, id: &str) -> Answer {
    env.api
        .get(user, &format!("/channels/{channel}/attachments/{id}"))
        .await
}

/// The keys in the test's bucket under `channel`'s folders.
async fn objects_of(env: &TestEnv, channel: &str) -> Vec<String> {
    let listed = env
        .s3
        .list_objects_v2()
        .bucket(&env.bucket)
        .send()
        .await
        .expect("list the bucket");
    listed
        .contents()
        .iter()
        .filter_map(|object| object.key())
        .filter(|key| key.contains(channel))
        .map(str::to_string)
        .collect()
}

fn recipients(targets: &shared::queue::Targets) -> Vec<String> {
    match targets {
        shared::queue::Targets::Users { user_ids, .. } => {
            user_ids.iter().map(ToString::to_string).collect()
        }
        other => panic!("{other:?}"),
    }
}

async fn download(url: &str) -> (u16, Vec<u8>) {
    let answer = reqwest::get(url).await.expect("the storage answers");
    let status = answer.status().as_u16();
    (status, answer.bytes().await.unwrap_or_default().to_vec())
}

#[tokio::test]
async fn an_image_and_a_pdf_are_checked_and_sent_and_members_download_them() {
    let (env, [ada, bob]) = TestEnv::with_users(["Ada", "Bob"]).await;
    let channel = env.api.group(&ada, &[&bob], true).await;
    let photo = png(1200, 600);
    let (image_id, _) = upload(
        &env,
        &ada,
        &channel,
        "photo.png",
        "image/png",
        photo.clone(),
    )
    .await;
    let (pdf_id, _) = upload(&env, &ada, &channel, "notes.pdf", "application/pdf", pdf()).await;
    let pending = attachment(&env, &ada, &channel, &image_id).await;
    assert_eq!(pending.body["status"], "pending", "{}", pending.body);
    assert!(pending.body.get("url").is_none(), "no URL before the check");

    // One notification per upload (and S3's test event of the new notification setting).
    assert!(check_uploads(&env).await >= 2);
    let image = attachment(&env, &bob, &channel, &image_id).await;
    image.assert_status(200);
    assert_eq!(image.body["status"], "ready", "{}", image.body);
    assert_eq!(
        (image.body["width"].as_u64(), image.body["height"].as_u64()),
        (Some(1200), Some(600))
    );
    let (status, bytes) = download(image.body["url"].as_str().expect("a download URL")).await;
    assert_eq!(
        (status, bytes == photo),
        (200, true),
        "the original, byte for byte"
    );
    let (status, thumbnail) =
        download(image.body["thumbnail_url"].as_str().expect("a thumbnail")).await;
    assert_eq!(status, 200);
    let thumbnail = image::load_from_memory(&thumbnail).expect("a decodable thumbnail");
    assert_eq!((thumbnail.width(), thumbnail.height()), (320, 160));
    let document = attachment(&env, &bob, &channel, &pdf_id).await;
    assert_eq!(document.body["status"], "ready");
    assert!(
        document.body.get("thumbnail_url").is_none(),
        "thumbnails are for images"
    );

    // The uploader's devices hear each verdict (the files are on no message yet).
    let updates: Vec<_> = env
        .queued_pushes()
        .await
        .into_iter()
        .filter(|job| job.event.kind() == "attachment.updated")
        .collect();
    assert_eq!(updates.len(), 2);
    for update in &updates {
        assert_eq!(recipients(&update.targets), std::slice::from_ref(&ada.id));
    }

    // Sent with no text: the message carries both, with download URLs, for every member.
    let sent = env
        .api
        .send_message(
            &ada,
            &channel,
            json!({ "attachment_ids": [image_id, pdf_id] }),
        )
        .await;
    sent.assert_status(201);
    let files = sent.body["attachments"]
        .as_array()
        .expect("attachments")
        .clone();
    assert_eq!(files.len(), 2);
    assert_eq!(files[0]["id"], image_id.as_str(), "in the order given");
    assert!(files.iter().all(|f| f["url"].is_string()));
    let history = env.api.history(&bob, &channel, "").await;
    let shown = &history.body["items"][0]["attachments"];
    assert_eq!(shown[1]["name"], "notes.pdf");
    let (status, bytes) = download(shown[1]["url"].as_str().unwrap()).await;
    assert_eq!((status, bytes), (200, pdf()));
    // Someone outside the channel sees nothing of it.
    let eve = env.api.register("Eve").await;
    attachment(&env, &eve, &channel, &image_id)
        .await
        .assert_error(
            404,
            "not_found",
            "a private channel is invisible to outsiders",
        );
}

#[tokio::test]
async fn the_upload_form_binds_the_key_the_type_the_size_and_fifteen_minutes() {
    let (env, [ada]) = TestEnv::with_users(["Ada"]).await;
    let channel = env.api.group(&ada, &[], true).await;
    let asked = ask_upload(&env, &ada, &channel, "a.png", "image/png", 1234).await;
    asked.assert_status(201);
    let form = &asked.body["upload"];
    assert_eq!(form["method"], "POST");
    let policy = base64::engine::general_purpose::STANDARD
        .decode(form["fields"]["policy"].as_str().expect("a policy"))
        .expect("base64");
    let policy: Value = serde_json::from_slice(&policy).expect("a JSON policy");
    let conditions = policy["conditions"].as_array().expect("conditions").clone();
    let key = form["fields"]["key"].as_str().unwrap();
    assert!(key.ends_with(asked.body["attachment"]["id"].as_str().unwrap()));
    assert!(
        conditions.contains(&json!({ "key": key })),
        "exactly this key"
    );
    assert!(conditions.contains(&json!({ "Content-Type": "image/png" })));
    assert!(conditions.contains(&json!(["content-length-range", 1234, 1234])));
    assert!(conditions.contains(&json!({ "bucket": env.bucket })));
    let created = chrono::DateTime::parse_from_rfc3339(
        asked.body["attachment"]["created_at"].as_str().unwrap(),
    )
    .unwrap();
    let expires =
        chrono::DateTime::parse_from_rfc3339(policy["expiration"].as_str().unwrap()).unwrap();
    let valid = (expires - created).num_seconds();
    assert!((899..=901).contains(&valid), "valid {valid} s");
    assert_eq!(
        asked.body["expires_at"].as_str().map(|s| &s[..16]),
        policy["expiration"].as_str().map(|s| &s[..16])
    );
}

/// What a refused upload must leave: no object of it, and it never on a message.
async fn assert_rejected(env: &TestEnv, user: &TestUser, channel: &str, id: &str, why: &str) {
    let answer = attachment(env, user, channel, id).await;
    assert_eq!(answer.body["status"], "rejected", "{why}: {}", answer.body);
    assert!(answer.body["reason"].is_string(), "{why}");
    assert!(answer.body.get("url").is_none(), "{why}");
    assert!(
        objects_of(env, channel)
            .await
            .iter()
            .all(|key| !key.contains(id)),
        "{why}: its object is deleted"
    );
    env.api
        .send_message(user, channel, json!({ "attachment_ids": [id] }))
        .await
        .assert_error(400, "validation_failed", why);
}

#[tokio::test]
async fn hostile_uploads_are_refused_with_nothing_left_behind() {
    let (env, [ada, bob]) = TestEnv::with_users(["Ada", "Bob"]).await;
    let channel = env.api.group(&ada, &[&bob], true).await;

    // Refused before anything exists.
    ask_upload(
        &env,
        &ada,
        &channel,
        "huge.zip",
        "application/zip",
        25 * 1024 * 1024 + 1,
    )
    .await
    .assert_error(413, "payload_too_large", "over 25 MiB");
    ask_upload(
        &env,
        &ada,
        &channel,
        "run.exe",
        "application/x-msdownload",
        100,
    )
    .await
    .assert_error(400, "validation_failed", "a type outside the list");
    ask_upload(&env, &ada, &channel, "page.svg", "image/svg+xml", 100)
        .await
        .assert_error(400, "validation_failed", "SVG (scripts)");
    assert!(
        env.ctx
            .store
            .user_uploads(&shared::domain::UserId::parse(&ada.id).unwrap(), 10)
            .await
            .unwrap()
            .is_empty(),
        "no attachment recorded"
    );

    // Bytes that are not the declared type.
    let (mislabelled, _) = upload(&env, &ada, &channel, "cat.png", "image/png", pdf()).await;
    // An image bomb: a few bytes claiming ten gigapixels.
    let (bomb, _) = upload(&env, &ada, &channel, "bomb.png", "image/png", png_bomb()).await;
    // More bytes than declared (S3 refuses them by the policy; moto does not).
    let asked = ask_upload(&env, &ada, &channel, "short.png", "image/png", 10).await;
    let oversized = asked.body["attachment"]["id"].as_str().unwrap().to_string();
    assert_eq!(
        upload_with(&asked.body["upload"], png(50, 50), "image/png").await,
        204
    );
    // Another type than the form's (the policy binds Content-Type; moto does not).
    let png_bytes = png(8, 8);
    let asked = ask_upload(&env, &ada, &channel, "x.png", "image/png", png_bytes.len()).await;
    let retyped = asked.body["attachment"]["id"].as_str().unwrap().to_string();
    assert_eq!(
        upload_with(&asked.body["upload"], png_bytes, "text/plain").await,
        204
    );
    // Someone else's form: Bob's file through Ada's form is held to Ada's declaration.
    let asked = ask_upload(&env, &ada, &channel, "ada.pdf", "application/pdf", 5000).await;
    let borrowed = asked.body["attachment"]["id"].as_str().unwrap().to_string();
    assert_eq!(
        upload_with(&asked.body["upload"], png(30, 30), "application/pdf").await,
        204
    );

    check_uploads(&env).await;
    for (id, why) in [
        (&mislabelled, "bytes not of the declared type"),
        (&bomb, "an image bomb"),
        (&oversized, "more bytes than declared"),
        (&retyped, "another content type than declared"),
        (&borrowed, "someone else's form"),
    ] {
        assert_rejected(&env, &ada, &channel, id, why).await;
    }
    let bomb = attachment(&env, &ada, &channel, &bomb).await;
    assert_eq!(bomb.body["reason"], "the image has too many pixels");
    assert!(
        env.api.history(&ada, &channel, "").await.body["items"]
            .as_array()
            .unwrap()
            .is_empty(),
        "no message was stored"
    );
}

#[tokio::test]
async fn an_upload_after_its_form_expired_is_rejected() {
    let env = TestEnv::with_settings(Default::default(), &[("UPLOAD_URL_SECONDS", "1")]).await;
    let ada = env.api.register("Ada").await;
    let channel = env.api.group(&ada, &[], true).await;
    let bytes = png(20, 20);
    let asked = ask_upload(&env, &ada, &channel, "late.png", "image/png", bytes.len()).await;
    let id = asked.body["attachment"]["id"].as_str().unwrap().to_string();
    // One second of validity and as much grace for a transfer under way (S3 times uploads
    // to the second).
    tokio::time::sleep(std::time::Duration::from_millis(4_000)).await;
    assert_eq!(
        upload_with(&asked.body["upload"], bytes, "image/png").await,
        204
    );
    check_uploads(&env).await;
    assert_rejected(&env, &ada, &channel, &id, "an expired form").await;
    let late = attachment(&env, &ada, &channel, &id).await;
    assert_eq!(
        late.body["reason"],
        "the file arrived after its upload form expired"
    );
}

/// Ada's send with `ids` is refused, as `why` says.
async fn refused(env: &TestEnv, ada: &TestUser, channel: &str, ids: Vec<&str>, why: &str) {
    env.api
        .send_message(
            ada,
            channel,
            json!({ "body": "see", "attachment_ids": ids }),
        )
        .await
        .assert_error(400, "validation_failed", why);
}

#[tokio::test]
async fn a_send_takes_only_the_senders_own_unused_attachments_of_the_channel() {
    let (env, [ada, bob]) = TestEnv::with_users(["Ada", "Bob"]).await;
    let channel = env.api.group(&ada, &[&bob], true).await;
    let elsewhere = env.api.group(&ada, &[], true).await;
    let (mine, _) = upload(
        &env,
        &ada,
        &channel,
        "a.txt",
        "text/plain",
        b"hello".to_vec(),
    )
    .await;
    let (bobs, _) = upload(&env, &bob, &channel, "b.txt", "text/plain", b"bob".to_vec()).await;
    let (other_channel, _) =
        upload(&env, &ada, &elsewhere, "c.txt", "text/plain", b"c".to_vec()).await;
    check_uploads(&env).await;

    refused(
        &env,
        &ada,
        &channel,
        vec![&bobs],
        "another member's attachment",
    )
    .await;
    refused(
        &env,
        &ada,
        &channel,
        vec![&other_channel],
        "another channel's attachment",
    )
    .await;
    refused(
        &env,
        &ada,
        &channel,
        vec!["0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"],
        "an attachment that does not exist",
    )
    .await;
    let eleven: Vec<String> = futures::future::join_all((0..11).map(|n| {
        let (env, ada, channel) = (&env, &ada, &channel);
        async move {
            ask_upload(env, ada, channel, &format!("{n}.txt"), "text/plain", 1)
                .await
                .body["attachment"]["id"]
                .as_str()
                .unwrap()
                .to_string()
        }
    }))
    .await;
    refused(
        &env,
        &ada,
        &channel,
        eleven.iter().map(String::as_str).collect(),
        "an eleventh attachment",
    )
    .await;
    assert!(
        env.api.history(&ada, &channel, "").await.body["items"]
            .as_array()
            .unwrap()
            .is_empty(),
        "nothing was sent"
    );

    // Taken once (an id given twice counts once), never twice; the refused sends left it free.
    let sent = env
        .api
        .send_message(&ada, &channel, json!({ "attachment_ids": [mine, mine] }))
        .await;
    sent.assert_status(201);
    assert_eq!(sent.body["attachments"].as_array().map(Vec::len), Some(1));
    refused(
        &env,
        &ada,
        &channel,
        vec![&mine],
        "an attachment on another message",
    )
    .await;
    // A pending attachment may be sent; its check reaches the message when done.
    let asked = ask_upload(
        &env,
        &ada,
        &channel,
        "later.png",
        "image/png",
        png(40, 40).len(),
    )
    .await;
    let later = asked.body["attachment"]["id"].as_str().unwrap().to_string();
    let sent = env
        .api
        .send_message(&ada, &channel, json!({ "attachment_ids": [later] }))
        .await;
    sent.assert_status(201);
    assert_eq!(sent.body["attachments"][0]["status"], "pending");
    assert_eq!(
        upload_with(&asked.body["upload"], png(40, 40), "image/png").await,
        204
    );
    check_uploads(&env).await;
    let message = env
        .api
        .get(&bob, &format!("/channels/{channel}/messages/{}", sent.id()))
        .await;
    assert_eq!(
        message.body["attachments"][0]["status"], "ready",
        "{}",
        message.body
    );
    assert!(message.body["attachments"][0]["thumbnail_url"].is_string());
    // Now on a message, its update goes to every member.
    let update = env
        .queued_pushes()
        .await
        .into_iter()
        .find(|job| {
            let event = serde_json::to_value(&job.event).unwrap();
            event["type"] == "attachment.updated" && event["attachment"]["id"] == later.as_str()
        })
        .expect("an update");
    let mut heard = recipients(&update.targets);
    heard.sort();
    let mut members = vec![ada.id.clone(), bob.id.clone()];
    members.sort();
    assert_eq!(heard, members);
}

#[tokio::test]
async fn deleting_a_message_a_channel_or_an_account_deletes_the_files() {
    let (env, [ada, bob]) = TestEnv::with_users(["Ada", "Bob"]).await;
    let kept = env.api.group(&ada, &[&bob], true).await;
    let doomed = env.api.group(&bob, &[&ada], true).await;
    let (on_message, _) = upload(&env, &ada, &kept, "m.png", "image/png", png(64, 64)).await;
    let (in_channel, _) = upload(&env, &ada, &doomed, "c.png", "image/png", png(64, 64)).await;
    let (bobs, _) = upload(&env, &bob, &kept, "b.png", "image/png", png(64, 64)).await;
    check_uploads(&env).await;
    let message = env
        .api
        .send_message(&ada, &kept, json!({ "attachment_ids": [on_message] }))
        .await
        .id();
    env.api
        .send_message(&ada, &doomed, json!({ "attachment_ids": [in_channel] }))
        .await
        .assert_status(201);
    assert_eq!(
        objects_of(&env, &kept).await.len(),
        4,
        "two files and their thumbnails"
    );

    env.api
        .delete(&ada, &format!("/channels/{kept}/messages/{message}"))
        .await
        .assert_status(204);
    env.run_maintenance().await;
    assert!(
        objects_of(&env, &kept)
            .await
            .iter()
            .all(|key| !key.contains(&on_message)),
        "the message's file and thumbnail are gone"
    );
    attachment(&env, &bob, &kept, &on_message)
        .await
        .assert_error(404, "not_found", "deleted with its message");

    env.api
        .delete_channel(&bob, &doomed)
        .await
        .assert_status(204);
    env.run_maintenance().await;
    assert!(
        objects_of(&env, &doomed).await.is_empty(),
        "the channel's files are gone"
    );

    env.api.delete_account(&bob).await.assert_status(204);
    env.run_maintenance().await;
    assert!(
        objects_of(&env, &kept)
            .await
            .iter()
            .all(|key| !key.contains(&bobs)),
        "the account's files are gone"
    );
}

#[tokio::test]
async fn uploads_never_attached_are_swept_after_their_day() {
    // Zero seconds: every unattached upload is due at once.
    let env =
        TestEnv::with_settings(Default::default(), &[("UNATTACHED_UPLOAD_SECONDS", "0")]).await;
    let ada = env.api.register("Ada").await;
    let channel = env.api.group(&ada, &[], true).await;
    let (forgotten, _) = upload(&env, &ada, &channel, "f.png", "image/png", png(32, 32)).await;
    let (sent, _) = upload(&env, &ada, &channel, "s.png", "image/png", png(32, 32)).await;
    check_uploads(&env).await;
    env.api
        .send_message(&ada, &channel, json!({ "attachment_ids": [sent] }))
        .await
        .assert_status(201);
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    env.ctx
        .maintenance
        .send(&shared::queue::MaintenanceJob::SweepUploads)
        .await
        .unwrap();
    env.run_maintenance().await;
    attachment(&env, &ada, &channel, &forgotten)
        .await
        .assert_error(404, "not_found", "swept");
    let keys = objects_of(&env, &channel).await;
    assert!(keys.iter().all(|key| !key.contains(&forgotten)), "{keys:?}");
    assert_eq!(keys.len(), 2, "the sent file and its thumbnail stay");
    attachment(&env, &ada, &channel, &sent)
        .await
        .assert_status(200);
}

#[tokio::test]
async fn a_five_megabyte_photo_is_ready_end_to_end() {
    let (env, [ada]) = TestEnv::with_users(["Ada"]).await;
    let channel = env.api.group(&ada, &[], true).await;
    let photo = jpeg_of_about(5 * 1024 * 1024);
    assert!(photo.len() > 4 * 1024 * 1024, "{} bytes", photo.len());
    let (id, _) = upload(&env, &ada, &channel, "big.jpg", "image/jpeg", photo).await;
    check_uploads(&env).await;
    let ready = attachment(&env, &ada, &channel, &id).await;
    assert_eq!(ready.body["status"], "ready", "{}", ready.body);
    assert!(ready.body["thumbnail_url"].is_string());
}

/// End to end through the local gateway: the bucket's notification reaches the worker through
/// the SQS event source, the verdict reaches the uploader's socket, and a `sendMessage` frame
/// carries the file to the other member's socket with its download URLs.
#[tokio::test]
async fn over_websocket_the_uploader_hears_the_verdict_and_members_get_the_file() {
    use integration_tests::stack::Stack;

    let stack = Stack::start().await;
    let [ada, bob] = stack.env.api.register_all(["Ada", "Bob"]).await;
    let channel = stack.env.api.group(&ada, &[&bob], true).await;
    let mut ada_socket = stack.socket(&ada).await;
    let mut bob_socket = stack.socket(&bob).await;
    let (id, _) = upload(
        &stack.env,
        &ada,
        &channel,
        "p.png",
        "image/png",
        png(300, 200),
    )
    .await;
    let verdict = ada_socket
        .expect("attachment.updated", |event| {
            event["attachment"]["id"] == id.as_str()
        })
        .await;
    assert_eq!(verdict["attachment"]["status"], "ready", "{verdict}");
    assert!(verdict["attachment"]["thumbnail_url"].is_string());
    bob_socket
        .expect_none(
            "attachment.updated",
            std::time::Duration::from_millis(300),
            |_| true,
        )
        .await;

    ada_socket
        .send(json!({"action": "sendMessage", "channel_id": channel, "attachment_ids": [id], "client_id": "photo-1"}))
        .await;
    let ack = ada_socket.expect("ack", |_| true).await;
    assert_eq!(ack["message"]["attachments"][0]["id"], id.as_str(), "{ack}");
    let created = bob_socket
        .expect("message.created", |event| {
            event["message"]["id"] == ack["message"]["id"]
        })
        .await;
    let file = &created["message"]["attachments"][0];
    assert_eq!(
        (file["width"].as_u64(), file["height"].as_u64()),
        (Some(300), Some(200))
    );
    let (status, bytes) = download(file["url"].as_str().expect("a download URL")).await;
    assert_eq!((status, bytes), (200, png(300, 200)));
}

/// A send copies its attachments as it read them; a check that settles one between that
/// read and the send's transaction must not leave the message with a stale copy: the claim is
/// conditional on the status as read, so the send reads again.
#[tokio::test]
async fn a_send_never_keeps_a_copy_older_than_the_check() {
    use shared::domain::{
        Attachment, ChannelId, Counterpart, Message, MessageBody, MessageId, MessageRole,
        Timestamp, UserId, UserName,
    };
    use shared::storage::{CheckResult, Inserted, Posting, UploadRef};

    let (env, [ada]) = TestEnv::with_users(["Ada"]).await;
    let channel = env.api.group(&ada, &[], true).await;
    let asked = ask_upload(&env, &ada, &channel, "a.txt", "text/plain", 5).await;
    let read: Attachment = serde_json::from_value(asked.body["attachment"].clone()).unwrap();
    let store = &env.ctx.store;
    // The check settles after the send read the attachment as pending.
    let upload = UploadRef {
        channel_id: read.channel_id.clone(),
        attachment_id: read.id.clone(),
    };
    assert!(store
        .settle_attachment(
            &upload,
            &CheckResult::Ready {
                width: None,
                height: None
            }
        )
        .await
        .unwrap());
    let sender = UserId::parse(&ada.id).unwrap();
    let message = Message {
        id: MessageId::generate(),
        channel_id: ChannelId::parse(&channel).unwrap(),
        sender: Counterpart {
            id: sender,
            name: UserName::parse("Ada").unwrap(),
        },
        role: MessageRole::User,
        body: MessageBody::parse("see").unwrap(),
        parent_id: None,
        reply_count: 0,
        reactions: Default::default(),
        mentions: Vec::new(),
        attachments: vec![read],
        created_at: Timestamp::now(),
        edited_at: None,
        client_id: None,
        status: None,
        deleted_at: None,
    };
    let inserted = store
        .insert_message(&message, &Posting::default())
        .await
        .unwrap();
    assert!(
        matches!(inserted, Inserted::AttachmentTaken),
        "{inserted:?}"
    );
    // Read again, the send goes through with the verdict.
    let sent = env
        .api
        .send_message(
            &ada,
            &channel,
            json!({ "attachment_ids": [upload.attachment_id.as_str()] }),
        )
        .await;
    sent.assert_status(201);
    assert_eq!(sent.body["attachments"][0]["status"], "ready");
}
