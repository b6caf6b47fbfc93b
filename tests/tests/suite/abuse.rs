//! Abuse and access, over real HTTP through the local gateway: an outsider's token on every
//! route that takes an id gets the contract's 403 or 404 and never the data, and changes
//! nothing; oversized, deep, malformed, non-UTF-8 and wrongly typed bodies get a 4xx in the
//! contract's error shape on every route that reads a body. Nothing here may be a 5xx.

use std::collections::BTreeSet;

use integration_tests::stack::Stack;
use integration_tests::{Answer, TestUser};
use serde_json::{json, Value};

/// What an outsider may probe, created by the people of the test.
struct Scenario {
    ada: TestUser,
    bob: TestUser,
    eve: TestUser,
    private_channel: String,
    public_channel: String,
    message: String,
    pending_request: String,
    /// Ada's upload in the private channel.
    attachment: String,
}

/// Words that must never reach the outsider.
const SECRETS: [&str; 3] = ["Secret plans", "launch code", "pssst"];

async fn scenario(stack: &Stack) -> Scenario {
    let env = &stack.env;
    let ada = env.api.register("Ada").await;
    let bob = env.api.register("Bob").await;
    let carol = env.api.register("Carol").await;
    let eve = env.api.register("Eve").await;
    env.api.make_partners(&ada, &bob).await;
    let pending_request = env.api.request_partner(&ada, &carol).await;
    let created = env
        .api
        .create_channel(
            &ada,
            json!({"name": "Secret plans", "member_ids": [bob.id], "private": true}),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let private_channel = created.body["id"].as_str().unwrap_or_default().to_string();
    let message = env
        .api
        .say(&ada, &private_channel, "the launch code is 0000")
        .await;
    let reply = env
        .api
        .send_message(
            &bob,
            &private_channel,
            json!({"body": "pssst", "parent_id": message}),
        )
        .await;
    assert_eq!(reply.status, 201);
    let public_channel = env.api.group(&ada, &[&bob], false).await;
    env.api
        .say(&ada, &public_channel, "pssst, members only")
        .await;
    let attachment = env
        .api
        .post(
            &ada,
            &format!("/channels/{private_channel}/attachments"),
            json!({"name": "plans.pdf", "content_type": "application/pdf", "size": 100}),
        )
        .await;
    assert_eq!(attachment.status, 201, "{:?}", attachment.body);
    let attachment = attachment.body["attachment"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    Scenario {
        ada,
        bob,
        eve,
        attachment,
        private_channel,
        public_channel,
        message,
        pending_request,
    }
}

/// A plausible body for each route that reads one, so a refusal is about access.
fn body_for(route: &str, s: &Scenario) -> Option<Value> {
    Some(match route {
        "POST /channels/{id}/members" => json!({"user_id": s.eve.id}),
        "POST /channels/{id}/messages" => json!({"body": "let me in"}),
        "PATCH /channels/{id}/messages/{mid}" => json!({"body": "defaced"}),
        "POST /channels/{id}/read" => json!({"message_id": s.message}),
        "POST /channels/{id}/messages/{mid}/reports" => json!({"reason": "spam"}),
        "PATCH /channels/{id}" => json!({"name": "pwned", "private": false}),
        "PATCH /channels/{id}/members/{user_id}" => json!({"role": "admin"}),
        "POST /channels/{id}/owner" => json!({"user_id": s.eve.id}),
        "POST /channels/{id}/attachments" => {
            json!({"name": "x.png", "content_type": "image/png", "size": 10})
        }
        _ => return None,
    })
}

/// The statuses the contract allows an outsider on each route, and the path to call.
fn probes(s: &Scenario) -> Vec<(&'static str, String, &'static [u16])> {
    let (p, q, m, r) = (
        &s.private_channel,
        &s.public_channel,
        &s.message,
        &s.pending_request,
    );
    let hidden: &'static [u16] = &[404];
    let not_member: &'static [u16] = &[403, 404];
    vec![
        // Public profiles by design: the answer may be 200, but never with the email.
        ("GET /users/{id}", format!("/users/{}", s.ada.id), &[200]),
        // Presence: the caller's own, its partners' and co-members' only.
        (
            "GET /users/{id}/presence",
            format!("/users/{}/presence", s.ada.id),
            &[403],
        ),
        (
            "POST /partner-requests/{id}/accept",
            format!("/partner-requests/{r}/accept"),
            hidden,
        ),
        (
            "POST /partner-requests/{id}/reject",
            format!("/partner-requests/{r}/reject"),
            hidden,
        ),
        (
            "DELETE /partner-requests/{id}",
            format!("/partner-requests/{r}"),
            hidden,
        ),
        (
            "DELETE /partnerships/{user_id}",
            format!("/partnerships/{}", s.bob.id),
            hidden,
        ),
        // Blocks are the caller's own list: anyone may block anyone; an id of nobody is 404.
        (
            "PUT /me/blocks/{user_id}",
            format!("/me/blocks/{}", shared::domain::UserId::generate()),
            hidden,
        ),
        (
            "DELETE /me/blocks/{user_id}",
            format!("/me/blocks/{}", shared::domain::UserId::generate()),
            hidden,
        ),
        ("GET /channels/{id}", format!("/channels/{p}"), hidden),
        (
            "POST /channels/{id}/members",
            format!("/channels/{p}/members"),
            hidden,
        ),
        // The contract: joining a private channel is 403 (or 404 when it is not shown).
        (
            "POST /channels/{id}/join",
            format!("/channels/{p}/join"),
            not_member,
        ),
        (
            "POST /channels/{id}/leave",
            format!("/channels/{p}/leave"),
            &[404, 409],
        ),
        ("DELETE /channels/{id}", format!("/channels/{p}"), hidden),
        ("PATCH /channels/{id}", format!("/channels/{p}"), hidden),
        (
            "PUT /channels/{id}/mute",
            format!("/channels/{p}/mute"),
            hidden,
        ),
        (
            "POST /channels/{id}/attachments",
            format!("/channels/{p}/attachments"),
            hidden,
        ),
        (
            "GET /channels/{id}/attachments/{aid}",
            format!("/channels/{p}/attachments/{}", s.attachment),
            hidden,
        ),
        (
            "DELETE /channels/{id}/mute",
            format!("/channels/{p}/mute"),
            hidden,
        ),
        (
            "PATCH /channels/{id}/members/{user_id}",
            format!("/channels/{p}/members/{}", s.bob.id),
            hidden,
        ),
        (
            "DELETE /channels/{id}/members/{user_id}",
            format!("/channels/{p}/members/{}", s.bob.id),
            hidden,
        ),
        (
            "POST /channels/{id}/owner",
            format!("/channels/{p}/owner"),
            hidden,
        ),
        (
            "POST /channels/{id}/messages",
            format!("/channels/{q}/messages"),
            not_member,
        ),
        (
            "GET /channels/{id}/messages",
            format!("/channels/{q}/messages"),
            not_member,
        ),
        (
            "GET /channels/{id}/messages/{mid}",
            format!("/channels/{p}/messages/{m}"),
            hidden,
        ),
        (
            "PATCH /channels/{id}/messages/{mid}",
            format!("/channels/{p}/messages/{m}"),
            hidden,
        ),
        (
            "DELETE /channels/{id}/messages/{mid}",
            format!("/channels/{p}/messages/{m}"),
            hidden,
        ),
        (
            "GET /channels/{id}/messages/{mid}/replies",
            format!("/channels/{p}/messages/{m}/replies"),
            hidden,
        ),
        (
            "PUT /channels/{id}/messages/{mid}/reactions/{emoji}",
            format!("/channels/{p}/messages/{m}/reactions/%F0%9F%91%8D"),
            hidden,
        ),
        (
            "DELETE /channels/{id}/messages/{mid}/reactions/{emoji}",
            format!("/channels/{p}/messages/{m}/reactions/%F0%9F%91%8D"),
            hidden,
        ),
        (
            "POST /channels/{id}/read",
            format!("/channels/{p}/read"),
            hidden,
        ),
        (
            "GET /channels/{id}/read-receipts",
            format!("/channels/{p}/read-receipts"),
            hidden,
        ),
        (
            "GET /channels/{id}/members",
            format!("/channels/{p}/members"),
            hidden,
        ),
        (
            "POST /channels/{id}/messages/{mid}/reports",
            format!("/channels/{p}/messages/{m}/reports"),
            hidden,
        ),
        (
            "GET /channels/{id}/reports",
            format!("/channels/{p}/reports"),
            hidden,
        ),
        (
            "POST /channels/{id}/messages/{mid}/stop",
            format!("/channels/{p}/messages/{m}/stop"),
            hidden,
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outsider_gets_403_or_404_on_every_route_with_an_id_and_changes_nothing() {
    let stack = Stack::start().await;
    let s = scenario(&stack).await;
    let before_messages = stack
        .api
        .get(&s.ada, &format!("/channels/{}/messages", s.private_channel))
        .await
        .parts();
    let before_channel = stack.api.channel(&s.ada, &s.private_channel).await.parts();

    let probes = probes(&s);
    let with_ids: BTreeSet<String> = api::routes::table()
        .iter()
        .filter(|r| r.auth && r.path.contains('{'))
        .map(|r| r.key())
        .collect();
    let probed: BTreeSet<String> = probes.iter().map(|(route, ..)| route.to_string()).collect();
    assert_eq!(
        probed, with_ids,
        "every route that takes an id is probed by an outsider"
    );

    for (route, path, allowed) in &probes {
        let method = route.split(' ').next().unwrap_or_default();
        let (status, body) = stack
            .api
            .call_as(&s.eve, method, path, body_for(route, &s))
            .await
            .parts();
        assert!(
            allowed.contains(&status),
            "{route}: outsider got {status} {body}, the contract allows {allowed:?}"
        );
        if status >= 400 {
            assert!(
                body["error"]["code"].is_string() && body["error"]["message"].is_string(),
                "{route}: {body}"
            );
        }
        let text = body.to_string();
        for secret in SECRETS.iter().chain([&s.ada.email.as_str()]) {
            assert!(!text.contains(secret), "{route} leaked {secret:?}: {text}");
        }
    }

    // Nothing the outsider did changed anything.
    let after_messages = stack
        .api
        .get(&s.ada, &format!("/channels/{}/messages", s.private_channel))
        .await
        .parts();
    assert_eq!(after_messages, before_messages);
    let after_channel = stack.api.channel(&s.ada, &s.private_channel).await.parts();
    assert_eq!(after_channel, before_channel);
    let (_, partners) = stack.api.partnerships(&s.ada).await.parts();
    assert_eq!(partners["items"][0]["user"]["id"], json!(s.bob.id));
    let (_, sent) = stack
        .api
        .get(&s.ada, "/partner-requests/sent")
        .await
        .parts();
    assert_eq!(sent["items"][0]["id"], json!(s.pending_request));
    assert_eq!(sent["items"][0]["status"], "pending");
    let (_, public) = stack.api.channel(&s.bob, &s.public_channel).await.parts();
    assert_eq!(public["member_count"], 2);
}

/// Every route that reads a JSON body, with an id of the scenario where it needs one.
fn body_routes(s: &Scenario) -> Vec<(&'static str, String)> {
    let (p, m) = (&s.private_channel, &s.message);
    vec![
        ("POST", "/auth/register".into()),
        ("POST", "/auth/login".into()),
        ("PATCH", "/me".into()),
        ("POST", "/partner-requests".into()),
        ("POST", "/channels".into()),
        ("POST", format!("/channels/{p}/members")),
        ("POST", format!("/channels/{p}/messages")),
        ("PATCH", format!("/channels/{p}/messages/{m}")),
        ("POST", format!("/channels/{p}/read")),
        ("PATCH", format!("/channels/{p}")),
        ("PATCH", format!("/channels/{p}/members/{}", s.bob.id)),
        ("POST", format!("/channels/{p}/owner")),
    ]
}

/// A call with any bytes and content type, as `user`.
async fn raw(
    stack: &Stack,
    method: &str,
    path: &str,
    user: &TestUser,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> Answer {
    let bearer = format!("Bearer {}", user.token);
    let mut headers = vec![("authorization", bearer.as_str())];
    headers.extend(content_type.map(|value| ("content-type", value)));
    stack.api.call_raw(method, path, &headers, &body).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_bodies_get_a_4xx_in_the_contract_shape_on_every_route() {
    let stack = Stack::start().await;
    let s = scenario(&stack).await;
    let json_type = Some("application/json");
    let deep = format!("{}{}", "[".repeat(20_000), "]".repeat(20_000));
    // The fields of every body, each of a wrong type, among thousands of others: a body
    // whose fields are all optional must not read this as "nothing to change".
    let wrong_fields = [
        "name",
        "body",
        "description",
        "private",
        "role",
        "user_id",
        "email_notifications",
        "message_id",
    ]
    .map(|field| format!("\"{field}\":[0]"));
    let wide = format!(
        "{{{},{}}}",
        wrong_fields.join(","),
        (0..4_000)
            .map(|i| format!("\"k{i}\":{i}"))
            .collect::<Vec<_>>()
            .join(",")
    );
    let cases: Vec<(&str, Option<&str>, Vec<u8>, u16)> = vec![
        ("over 64 KiB", json_type, vec![b' '; 64 * 1024 + 1], 413),
        (
            "over 64 KiB of valid JSON",
            json_type,
            json!({"body": "x".repeat(70_000), "name": "x".repeat(70_000)})
                .to_string()
                .into_bytes(),
            413,
        ),
        ("deeply nested", json_type, deep.into_bytes(), 400),
        (
            "thousands of keys of the wrong types",
            json_type,
            wide.into_bytes(),
            400,
        ),
        (
            "a huge number",
            json_type,
            b"{\"body\": 1e999999, \"name\": 1e999999}".to_vec(),
            400,
        ),
        (
            "invalid UTF-8",
            json_type,
            vec![b'{', b'"', 0xff, 0xfe, b'"', b'}'],
            400,
        ),
        ("truncated", json_type, b"{\"body\": \"hel".to_vec(), 400),
        ("not an object", json_type, b"[1, 2, 3]".to_vec(), 400),
        // serde would read these as the fields of the body struct, in order (a bug found by
        // the property tests): `["hi"]` was stored as a message "hi".
        (
            "an array of valid fields",
            json_type,
            br#"["Valid Name", "ada@example.com", "correct horse battery"]"#.to_vec(),
            400,
        ),
        ("null", json_type, b"null".to_vec(), 400),
        ("empty", json_type, Vec::new(), 400),
        (
            "text/plain",
            Some("text/plain"),
            b"{\"body\": \"hi\"}".to_vec(),
            400,
        ),
        (
            "a form",
            Some("application/x-www-form-urlencoded"),
            b"body=hi&name=x".to_vec(),
            400,
        ),
        (
            "multipart",
            Some("multipart/form-data; boundary=x"),
            b"--x\r\nContent-Disposition: form-data; name=\"body\"\r\n\r\nhi\r\n--x--".to_vec(),
            400,
        ),
        (
            "XML",
            Some("application/xml"),
            b"<body>hi</body>".to_vec(),
            400,
        ),
    ];
    for (method, path) in body_routes(&s) {
        for (case, content_type, body, expected) in &cases {
            let answer = raw(&stack, method, &path, &s.ada, *content_type, body.clone()).await;
            assert_eq!(
                answer.status, *expected,
                "{method} {path} with {case}: {}",
                answer.body
            );
            assert!(
                answer.body["error"]["code"].is_string()
                    && answer.headers.contains_key("x-request-id"),
                "{method} {path} with {case}: {}",
                answer.body
            );
        }
    }
    // A route that reads no body still refuses one over the limit, before doing anything.
    let join = format!("/channels/{}/join", s.public_channel);
    let eve_join = raw(&stack, "POST", &join, &s.eve, json_type, vec![b' '; 70_000]).await;
    assert_eq!(eve_join.status, 413, "{}", eve_join.body);
    let (_, channel) = stack.api.channel(&s.ada, &s.public_channel).await.parts();
    assert_eq!(
        channel["member_count"], 2,
        "the refused join did not happen"
    );
}

#[tokio::test]
async fn hostile_paths_and_queries_get_a_4xx() {
    let stack = Stack::start().await;
    let s = scenario(&stack).await;
    let p = &s.private_channel;
    let long = "x".repeat(5_000);
    let paths = [
        format!("/channels/{long}"),
        format!("/channels/{p}/messages/{long}"),
        "/channels/%00/messages".to_string(),
        "/users/%FF%FE".to_string(),
        format!("/channels/{p}/messages/..%2F..%2Fme"),
        format!(
            "/channels/{p}/messages/{}/reactions/{}",
            s.message,
            "%F0%9F%91%8D".repeat(40)
        ),
        format!("/channels/{p}/messages?limit=0"),
        format!("/channels/{p}/messages?limit=-1"),
        format!("/channels/{p}/messages?limit=99999999999999999999"),
        format!("/channels/{p}/messages?order=sideways"),
        format!("/channels/{p}/messages?cursor=%FF%FE"),
        format!("/channels/{p}/messages?cursor={long}"),
        format!("/channels/{p}/messages?role=admin"),
        format!("/channels/{p}/messages?parent_id={long}"),
        "/users?cursor=eyJ0YW1wZXJlZCI6dHJ1ZX0".to_string(),
        "/partner-requests/received?status=everything".to_string(),
    ];
    for path in paths {
        let method = if path.contains("/reactions/") {
            "PUT"
        } else {
            "GET"
        };
        let answer = raw(&stack, method, &path, &s.ada, None, Vec::new()).await;
        assert!(
            (400..500).contains(&answer.status) && answer.body["error"]["code"].is_string(),
            "{method} {path}: {} {}",
            answer.status,
            answer.body
        );
    }
}
