//! The queue workers end to end on the emulators: the gateway's SQS event source hands real
//! `SqsEvent` batches from moto to the workers' handlers, emails are read back from moto's
//! SES, replies arrive on real WebSockets, purges leave nothing behind.

use std::time::Duration;

use assistant_worker::AssistantWorker;
use aws_sdk_sqs::types::QueueAttributeName;
use integration_tests::mailroom::{
    all_emails_to, binding, email_worker, notifications_to as emails_to, run_until_empty,
    test_source as source, Mailroom, SENDER,
};
use integration_tests::model::{engine, stub_model, stub_model_with_key, StubModel};
use integration_tests::stack::Stack;
use integration_tests::{unique, TestEnv, TestUser, CODE_SUBJECT};
use local_gateway::sqs::{poll_once, queue_arn, EventSource, Worker};
use maintenance_worker::MaintenanceWorker;
use serde_json::json;
use shared::assistant::{Assistant, Turn};
use shared::domain::{MessageRole, UserId};
use shared::routes::EMAIL_WORKER;
use std::sync::Arc;

/// Registration emails a code (to an unverified address: that is what it is for) which
/// verifies the address; partner request emails go only to verified addresses whose owner
/// keeps notification emails on.
#[tokio::test]
async fn the_code_is_emailed_and_notifications_wait_for_a_verified_address() {
    let env = TestEnv::new().await;
    let mail = Mailroom::open(&env).await;
    let [ada, bob, cy, dan] = env.api.register_all(["Ada", "Bob", "Cy", "Dan"]).await;
    mail.deliver(&env).await;
    let codes = all_emails_to(&ada.email).await;
    assert_eq!(codes.len(), 1, "{codes:#?}");
    let subject = codes[0]["subject"].as_str().unwrap();
    let code = subject
        .strip_suffix(CODE_SUBJECT)
        .expect("the code leads the subject");
    assert!(codes[0]["body"].as_str().unwrap().contains(code));
    let verified = env
        .api
        .call(
            "POST",
            "/auth/verify-email",
            Some(&ada.token),
            Some(json!({"code": code})),
        )
        .await;
    assert_eq!(verified.body["email_verified"], true, "{}", verified.body);

    // Cy is verified but turns notification emails off; Bob stays unverified. Dan asks
    // each of them to be partners.
    env.verify_email(&cy).await;
    env.api
        .call(
            "PATCH",
            "/me",
            Some(&cy.token),
            Some(json!({"email_notifications": false})),
        )
        .await
        .assert_status(200);
    for recipient in [&ada, &bob, &cy] {
        env.api
            .send_request(&dan, json!({"recipient_id": recipient.id}))
            .await
            .assert_status(201);
    }
    mail.deliver(&env).await;
    assert_eq!(
        emails_to(&ada.email).await.len(),
        1,
        "verified, notifications on"
    );
    assert!(emails_to(&bob.email).await.is_empty(), "unverified");
    assert!(emails_to(&cy.email).await.is_empty(), "notifications off");
    assert_eq!(all_emails_to(&bob.email).await.len(), 1, "only Bob's code");
}

#[tokio::test]
async fn partner_request_emails_go_out_once_each_even_when_redelivered() {
    let env = TestEnv::new().await;
    let mail = Mailroom::open(&env).await;
    let ada = env.api.register("Ada").await;
    let bob = env.api.register("Bob").await;
    mail.verify(&env, &[&ada, &bob]).await;

    let request = env
        .api
        .send_request(&bob, json!({"recipient_id": ada.id}))
        .await;
    assert_eq!(request.status, 201);
    // Capture the event as queued, to deliver it again later.
    let queued = env.queued_messages().await;
    assert_eq!(queued.len(), 1);
    env.enqueue(&env.queue_url, &queued[0].to_string()).await;
    assert_eq!(mail.deliver(&env).await, 1);
    let mails = emails_to(&ada.email).await;
    assert_eq!(mails.len(), 1, "{mails:#?}");
    assert_eq!(mails[0]["subject"], "New partner request from Bob");
    assert_eq!(mails[0]["source"], SENDER);
    assert!(mails[0]["body"].as_str().unwrap().contains("Bob"));

    // The same message delivered again (SQS is at least once): still one email.
    env.enqueue(&env.queue_url, &queued[0].to_string()).await;
    assert_eq!(mail.deliver(&env).await, 1);
    assert_eq!(emails_to(&ada.email).await.len(), 1);

    // Acceptance mails the sender, naming the recipient.
    let id = request.body["id"].as_str().unwrap();
    let accepted = env.api.answer_request(&ada, id, "accept").await;
    assert_eq!(accepted.status, 200);
    mail.deliver(&env).await;
    let mails = emails_to(&bob.email).await;
    assert_eq!(mails.len(), 1, "{mails:#?}");
    assert_eq!(mails[0]["subject"], "Partner request accepted by Ada");
}

/// Three members report a message: each report is emailed to `MODERATION_EMAIL` once (with
/// the message as it was, escaped), the third hides the message from everyone, and the
/// channel's owner lists the reports; a fourth report finds no message.
#[tokio::test]
async fn reports_hide_a_message_at_three_and_each_is_emailed_to_the_moderators() {
    let moderators = format!("{}@example.com", integration_tests::unique("mods"));
    let settings = [
        ("MODERATION_EMAIL", moderators.as_str()),
        ("REPORTS_TO_HIDE", "3"),
    ];
    let env = TestEnv::with_settings(Default::default(), &settings).await;
    let mail = Mailroom::open(&env).await;
    let [ada, bob, cy, dan, eve] = env
        .api
        .register_all(["Ada", "Bob", "Cy", "Dan", "Eve"])
        .await;
    let channel = env.api.group(&ada, &[&bob, &cy, &dan], true).await;
    let message = env
        .api
        .say(&ada, &channel, "<b>buy</b> cheap watches")
        .await;
    mail.deliver(&env).await;
    let path = format!("/channels/{channel}/messages/{message}/reports");

    let report = env
        .api
        .post(&bob, &path, json!({"reason": "spam", "note": "  again  "}))
        .await;
    assert_eq!(report.status, 201, "{:?}", report.body);
    assert_eq!(
        (
            &report.body["reason"],
            &report.body["note"],
            &report.body["reporter_id"]
        ),
        (&json!("spam"), &json!("again"), &json!(bob.id)),
    );
    assert_eq!(
        (&report.body["channel_id"], &report.body["message_id"]),
        (&json!(channel), &json!(message))
    );
    env.api
        .post(&bob, &path, json!({"reason": "spam"}))
        .await
        .assert_error(409, "conflict", "a second report by the same member");
    env.api
        .post(&cy, &path, json!({"reason": "rude"}))
        .await
        .assert_error(400, "validation_failed", "an unknown reason");
    env.api
        .post(
            &cy,
            &path,
            json!({"reason": "other", "note": "x".repeat(501)}),
        )
        .await
        .assert_error(400, "validation_failed", "a long note");
    env.api
        .post(&eve, &path, json!({"reason": "spam"}))
        .await
        .assert_error(404, "not_found", "an outsider of a private channel");

    let reports = format!("/channels/{channel}/reports");
    env.api
        .get(&bob, &reports)
        .await
        .assert_error(403, "forbidden", "a member");
    let listed = env.api.get(&ada, &reports).await;
    assert_eq!(listed.item_strings("id"), [report.id()]);

    env.api
        .post(&cy, &path, json!({"reason": "harassment"}))
        .await
        .assert_status(201);
    let history = env.api.history(&bob, &channel, "").await;
    assert_eq!(
        history.item_strings("id"),
        [message.as_str()],
        "two reports hide nothing"
    );
    env.api
        .post(&dan, &path, json!({"reason": "inappropriate"}))
        .await
        .assert_status(201);
    for member in [&ada, &bob] {
        let history = env.api.history(member, &channel, "").await;
        assert!(
            history.item_strings("id").is_empty(),
            "hidden by the third report"
        );
    }
    let get = format!("/channels/{channel}/messages/{message}");
    env.api.get(&ada, &get).await.assert_status(404);
    env.api
        .post(&ada, &path, json!({"reason": "spam"}))
        .await
        .assert_error(404, "not_found", "a hidden message is gone");

    assert_eq!(mail.deliver(&env).await, 3);
    let mails = emails_to(&moderators).await;
    assert_eq!(mails.len(), 3, "{mails:#?}");
    let subjects: Vec<&str> = mails
        .iter()
        .map(|m| m["subject"].as_str().unwrap())
        .collect();
    assert!(
        subjects.contains(&"Report (spam) of a message by Ada"),
        "{subjects:?}"
    );
    let body = mails
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect::<String>();
    // moto keeps the HTML part when there is one: the message shows escaped, and only the
    // third report says it hid the message.
    assert!(
        body.contains("&lt;b&gt;buy&lt;/b&gt; cheap watches"),
        "{body}"
    );
    assert_eq!(
        body.matches("Hidden by this report</th><td>yes").count(),
        1,
        "{body}"
    );
    assert_eq!(
        env.api.get(&ada, &reports).await.item_strings("id").len(),
        3
    );
}

/// A long poll outlasts the functions' 2 s attempt timeout: an empty poll of the gateway's
/// production length must end empty, not in a timeout (every idle poll used to).
#[tokio::test]
async fn an_empty_long_poll_ends_empty_not_in_a_timeout() {
    let env = TestEnv::new().await;
    let mut source = EventSource::new(env.queue_url.clone(), binding(EMAIL_WORKER));
    source.wait_seconds = 3;
    let worker = email_worker(&env).await;
    let started = std::time::Instant::now();
    let polled = poll_once(
        &env.sqs,
        &source,
        &queue_arn(&env.sqs, &env.queue_url).await.unwrap(),
        &worker,
    )
    .await;
    assert_eq!(polled.map_err(|err| err.to_string()), Ok(0));
    assert!(started.elapsed() >= std::time::Duration::from_secs(3));
}

#[tokio::test]
async fn a_poison_record_goes_to_the_dead_letter_queue_while_its_batch_succeeds() {
    let env = TestEnv::new().await;
    let worker = email_worker(&env).await;
    let dlq = env
        .sqs
        .create_queue()
        .queue_name(unique("poison-dlq"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let dlq_arn = queue_arn(&env.sqs, &dlq).await.unwrap();
    let redrive = json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"});
    let queue = env
        .sqs
        .create_queue()
        .queue_name(unique("poison"))
        .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let ada = env.api.register("Ada").await;
    let bob = env.api.register("Bob").await;
    env.verify_email(&ada).await;
    env.api
        .send_request(&bob, json!({"recipient_id": ada.id}))
        .await;
    let good = env.queued_messages().await.remove(0);
    for body in ["this is not an email event".to_string(), good.to_string()] {
        env.enqueue(&queue, &body).await;
    }
    let source = source(&queue, "email-worker");
    let arn = queue_arn(&env.sqs, &queue).await.unwrap();
    // The first poll gets both: the good one is mailed and deleted, the poison one fails.
    let mut handled = 0;
    for _ in 0..20 {
        handled += poll_once(&env.sqs, &source, &arn, &worker).await.unwrap();
        if handled >= 2 {
            break;
        }
    }
    assert_eq!(
        emails_to(&ada.email).await.len(),
        1,
        "the good record succeeded"
    );
    // The poison record comes back after each visibility timeout until it moves.
    let mut moved = Vec::new();
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(1100)).await;
        poll_once(&env.sqs, &source, &arn, &worker).await.unwrap();
        moved = env.receive_batch(&dlq).await;
        if !moved.is_empty() {
            break;
        }
    }
    assert_eq!(
        moved.len(),
        1,
        "the poison record, and only it, is in the dead-letter queue"
    );
    assert_eq!(moved[0].body(), Some("this is not an email event"));
    // The good record was deleted after the first batch: nothing is left to deliver.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let left = env.receive_batch(&queue).await;
    assert!(left.is_empty(), "{left:?}");
    assert_eq!(
        emails_to(&ada.email).await.len(),
        1,
        "and nothing was mailed twice"
    );
}

/// A stack whose assistant queue is polled continuously by the assistant worker.
async fn assistant_stack() -> Stack {
    let stack = Stack::start().await;
    let worker = Worker::Assistant(Arc::new(AssistantWorker {
        ctx: stack.env.ctx.clone(),
        engine: Assistant::Rules(Default::default()),
    }));
    let source = source(&stack.env.assistant_queue_url, "assistant-worker");
    tokio::spawn(local_gateway::sqs::poll(
        stack.env.sqs.clone(),
        source,
        worker,
    ));
    stack
}

async fn assistant_channel(stack: &Stack, user: &TestUser) -> String {
    let (status, channel) = stack
        .api
        .create_channel(user, json!({"name": "helper", "kind": "assistant"}))
        .await
        .parts();
    assert_eq!(status, 201, "{channel}");
    channel["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn every_user_message_gets_one_assistant_reply_pushed_within_seconds() {
    let stack = assistant_stack().await;
    let ada = stack.env.api.register("Ada").await;
    let channel = assistant_channel(&stack, &ada).await;
    let mut socket = stack.socket(&ada).await;

    for (text, answer_starts) in [
        ("Hello!", "Hello! I'm the assistant"),
        ("help", "I answer every message"),
        ("When is the launch?", "Good question"),
        ("thanks", "You're welcome"),
        ("The launch is on Friday", "Noted"),
    ] {
        let (status, sent) = stack
            .api
            .send_message(&ada, &channel, json!({"body": text}))
            .await
            .parts();
        assert_eq!(status, 201);
        socket
            .expect("message.created", |f| f["message"]["id"] == sent["id"])
            .await;
        let reply = socket.expect_streamed_reply().await;
        assert_eq!(reply.created["message"]["status"], "streaming");
        assert_eq!(reply.created["message"]["sender"]["id"], "assistant");
        assert_eq!(reply.status(), "complete");
        assert!(
            reply.body().starts_with(answer_starts),
            "{text} → {}",
            reply.body()
        );
        assert_eq!(
            reply.streamed_text(),
            reply.body(),
            "the deltas add up to the reply"
        );
    }
    // Over WebSocket too.
    socket
        .send(json!({"action": "sendMessage", "channel_id": channel, "body": "hi there", "client_id": "w1"}))
        .await;
    socket.expect("ack", |_| true).await;
    let reply = socket.expect_streamed_reply().await;
    assert!(reply.body().starts_with("Hello!"));

    // One reply per user message in the stored history.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, history) = stack
        .api
        .history(&ada, &channel, "?limit=100")
        .await
        .parts();
    let items = history["items"].as_array().unwrap();
    let count = |role: &str| items.iter().filter(|m| m["role"] == role).count();
    assert_eq!((count("user"), count("assistant")), (6, 6));
}

#[tokio::test]
async fn a_reply_job_run_twice_at_once_replies_once() {
    let (env, [ada]) = TestEnv::with_users(["Ada"]).await;
    let channel = env.api.assistant_channel(&ada).await;
    env.api
        .send_message(&ada, &channel, json!({"body": "hello"}))
        .await;
    let job: shared::queue::AssistantJob =
        serde_json::from_value(env.queued_assistant_jobs().await.remove(0)).unwrap();
    let engine = Assistant::Rules(Default::default());
    let runs = futures::future::join_all(
        (0..5).map(|_| shared::service::assistant::reply(&env.ctx, &engine, &job)),
    )
    .await;
    let replied = runs
        .iter()
        .filter(|r| matches!(r, Ok(shared::service::assistant::Replied::Replied(_))))
        .count();
    assert_eq!(replied, 1, "{runs:?}");
    assert!(runs.iter().all(|r| r.is_ok()), "{runs:?}");
    let history = env.api.history(&ada, &channel, "").await;
    let assistant = history.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "assistant")
        .count();
    assert_eq!(assistant, 1);
}

#[tokio::test]
async fn the_http_engine_answers_through_the_endpoint_and_falls_back_to_the_rules() {
    let question = vec![Turn {
        role: MessageRole::User,
        text: "What is Rust?".into(),
    }];
    let fast = engine(stub_model("From the model", Duration::ZERO).await, 2_000);
    assert_eq!(
        fast.reply(&question).await,
        "From the model (What is Rust?)"
    );
    let slow = engine(stub_model("Too late", Duration::from_secs(3)).await, 300);
    assert!(slow.reply(&question).await.starts_with("Good question"));
    let down = engine("http://127.0.0.1:9/v1".into(), 300);
    assert!(down.reply(&question).await.starts_with("Good question"));
    let cut = StubModel {
        cut_after: Some(2),
        ..StubModel::answering("Half an answer")
    };
    let cut = engine(cut.serve().await, 2_000);
    assert!(cut.reply(&question).await.starts_with("Good question"));
}

/// The language-model key comes from Secrets Manager (moto here), read once when the worker
/// starts: the right key gets the model's answer, a wrong one the rules' fallback, and a
/// secret that does not exist stops the worker naming it.
#[tokio::test]
async fn the_assistant_worker_reads_its_model_key_from_secrets_manager() {
    let env = TestEnv::new().await;
    let sdk = shared::context::load_sdk_config().await;
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    let model = stub_model_with_key("From the model", Duration::ZERO, Some("sk-right")).await;
    let question = vec![Turn {
        role: MessageRole::User,
        text: "What is Rust?".into(),
    }];
    for (key, answer) in [
        ("sk-right", "From the model"),
        ("sk-wrong", "Good question"),
    ] {
        let name = integration_tests::unique("llm-key");
        secrets
            .create_secret()
            .name(&name)
            .secret_string(key)
            .send()
            .await
            .expect("create the secret on moto");
        let lookup = |setting: &str| match setting {
            "ASSISTANT_LLM_URL" => Some(model.clone()),
            "ASSISTANT_LLM_API_KEY_SECRET" => Some(name.clone()),
            _ => None,
        };
        let worker =
            assistant_worker::AssistantWorker::from_lookup(env.ctx.clone(), sdk.clone(), lookup)
                .await
                .expect("the worker starts");
        assert!(
            worker.engine.reply(&question).await.starts_with(answer),
            "{key}"
        );
    }
    let missing = |setting: &str| match setting {
        "ASSISTANT_LLM_URL" => Some(model.clone()),
        "ASSISTANT_LLM_API_KEY_SECRET" => Some("chat/no-such-key".into()),
        _ => None,
    };
    let refused =
        assistant_worker::AssistantWorker::from_lookup(env.ctx.clone(), sdk.clone(), missing)
            .await
            .err()
            .expect("no secret, no worker");
    assert!(refused.contains("chat/no-such-key"), "{refused}");
}

#[tokio::test]
async fn deleting_a_channel_purges_its_items() {
    // 150 sends in a row: past the default send burst.
    let env = TestEnv::with_settings(Default::default(), &[("SEND_BURST", "1000")]).await;
    let worker = Worker::Maintenance(Arc::new(MaintenanceWorker {
        ctx: env.ctx.clone(),
        budget: Duration::from_millis(1),
    }));
    let ada = env.api.register("Ada").await;
    let bob = env.api.register("Bob").await;
    env.api.befriend(&ada, &bob).await;
    let channel = env
        .api
        .create_channel(&ada, json!({"name": "doomed", "member_ids": [bob.id]}))
        .await;
    let channel = channel.body["id"].as_str().unwrap().to_string();
    for i in 0..150 {
        env.api
            .send_message(
                &ada,
                &channel,
                json!({"body": format!("message {i}"), "client_id": format!("c{i}")}),
            )
            .await;
    }
    assert!(items_under(&env, &format!("CHAN#{channel}")).await > 300);
    let deleted = env.api.delete_channel(&ada, &channel).await;
    assert_eq!(deleted.status, 204);
    // A budget of 1 ms: each run does one step and queues the job again, so the purge
    // completes only by resuming, as a timed-out job would.
    let source = source(&env.maintenance_queue_url, "maintenance-worker");
    let runs = run_until_empty(&env, &source, &worker).await;
    assert!(runs > 1, "the job resumed {runs} times");
    assert_eq!(items_under(&env, &format!("CHAN#{channel}")).await, 0);
    let listed = env.api.get(&bob, "/channels").await;
    assert_eq!(listed.body["items"], json!([]));
}

#[tokio::test]
async fn deleting_an_account_cleans_up_after_it() {
    let stack = Stack::start().await;
    let env = &stack.env;
    let worker = Worker::Maintenance(Arc::new(MaintenanceWorker {
        ctx: env.ctx.clone(),
        budget: MaintenanceWorker::BUDGET,
    }));
    let ada = env.api.register("Ada").await;
    let bob = env.api.register("Bob").await;
    env.api.make_partners(&ada, &bob).await;
    let (_, channel) = stack
        .api
        .create_channel(&ada, json!({"name": "crew", "member_ids": [bob.id]}))
        .await
        .parts();
    let channel = channel["id"].as_str().unwrap().to_string();
    let mut bob_socket = stack.socket(&bob).await;
    let mut ada_socket = stack.socket(&ada).await;
    let bob_id = UserId::parse(&bob.id).unwrap();
    let bob_connections = env.connections_of(&bob_id).await;
    assert_eq!(bob_connections.len(), 1);

    let (status, _) = stack.api.delete_account(&bob).await.parts();
    assert_eq!(status, 204);
    let source = source(&env.maintenance_queue_url, "maintenance-worker");
    assert_eq!(run_until_empty(env, &source, &worker).await, 1);

    let left = ada_socket.expect("member.left", |_| true).await;
    assert_eq!(left["user_id"], bob.id.as_str());
    assert!(
        bob_socket.closed_within(Duration::from_secs(5)).await,
        "the deleted account's socket was closed"
    );
    let (_, view) = stack.api.channel(&ada, &channel).await.parts();
    let members: Vec<&str> = view["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["user_id"].as_str().unwrap())
        .collect();
    assert_eq!(members, [ada.id.as_str()]);
    assert_eq!(view["member_count"], 1);
    let (_, partners) = stack.api.partnerships(&ada).await.parts();
    assert_eq!(partners["items"], json!([]));
    assert_eq!(items_under(env, &format!("USER#{}", bob.id)).await, 0);
    for (_, id) in bob_connections {
        assert_eq!(env.ctx.store.connection(&id).await.unwrap(), None);
    }
}

/// How many items a partition holds (tests of purges name key formats, as the purge does).
async fn items_under(env: &TestEnv, pk: &str) -> i32 {
    env.dynamodb
        .query()
        .table_name(&env.table)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", aws_sdk_dynamodb::types::AttributeValue::S(pk.into()))
        .select(aws_sdk_dynamodb::types::Select::Count)
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .count
}
