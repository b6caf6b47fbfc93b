//! Identity and users: every route and error row of the contract's Identity section,
//! through the users-api handler with real API Gateway events on DynamoDB Local.

use integration_tests::{unique, TestEnv, TestUser};
use serde_json::json;
use shared::domain::{Timestamp, UserId};

#[tokio::test]
async fn register_returns_the_user_and_a_working_token() {
    let env = TestEnv::new().await;
    let email = format!("{}@Example.com", unique("ada"));
    let answer = env
        .api
        .try_register(json!({"email": email, "name": "  Ada  ", "password": "correct horse"}))
        .await;
    assert_eq!(answer.status, 201, "{:?}", answer.body);
    let user = &answer.body["user"];
    assert_eq!(user["name"], "Ada");
    assert_eq!(user["email"], email);
    assert!(UserId::parse(user["id"].as_str().unwrap()).is_some());
    assert!(Timestamp::parse(user["created_at"].as_str().unwrap()).is_some());
    assert!(user.get("password").is_none() && user.get("password_hash").is_none());
    assert!(answer.headers.contains_key("x-request-id"));

    let me = env
        .api
        .call("GET", "/me", answer.body["token"].as_str(), None)
        .await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body, *user);
}

#[tokio::test]
async fn emails_are_unique_case_insensitively() {
    let (env, [ada]) = TestEnv::with_users(["Ada"]).await;
    let answer = env
        .api.try_register(json!({"email": ada.email.to_uppercase(), "name": "Other", "password": "another password"}))
        .await;
    assert_eq!(answer.status, 409);
    assert_eq!(answer.code(), "conflict");
}

#[tokio::test]
async fn registration_validates_every_field() {
    let env = TestEnv::new().await;
    let answer = env
        .api
        .try_register(json!({"email": "not-an-email", "name": "   ", "password": "short"}))
        .await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.code(), "validation_failed");
    let details = answer.body["error"]["details"].as_object().unwrap();
    assert_eq!(
        details.keys().collect::<Vec<_>>(),
        ["email", "name", "password"]
    );

    let long_name = env
        .api.try_register(json!({"email": format!("{}@x.io", unique("n")), "name": "x".repeat(51), "password": "long enough"}))
        .await;
    assert_eq!(long_name.code(), "validation_failed");
    assert!(long_name.body["error"]["details"]["name"].is_string());

    let missing = env.api.try_register(json!({})).await;
    assert_eq!(missing.code(), "validation_failed");
}

#[tokio::test]
async fn malformed_bodies_are_bad_requests() {
    let env = TestEnv::new().await;
    let json_header = [("content-type", "application/json")];
    for body in [&b"{not json"[..], b"", b"[1,", &[0xff, 0xfe, 0x00]] {
        let answer = env
            .api
            .call_raw("POST", "/auth/register", &json_header, body)
            .await;
        assert_eq!(answer.status, 400, "{body:?}");
        assert_eq!(answer.code(), "bad_request");
    }
    let wrong_types = env
        .api
        .try_register(json!({"email": 1, "name": [], "password": true}))
        .await;
    assert_eq!(wrong_types.code(), "bad_request");

    let form = [("content-type", "application/x-www-form-urlencoded")];
    let body = b"email=a&password=b";
    let answer = env.api.call_raw("POST", "/auth/login", &form, body).await;
    assert_eq!(answer.code(), "bad_request");

    let huge = json!({"email": "a@b.io", "name": "x".repeat(70 * 1024), "password": "12345678"});
    let answer = env.api.try_register(huge).await;
    assert_eq!(answer.status, 413);
    assert_eq!(answer.code(), "payload_too_large");
}

#[tokio::test]
async fn login_accepts_the_right_password_only_and_never_says_which_part_was_wrong() {
    let (env, [ada]) = TestEnv::with_users(["Ada"]).await;
    let ok = env
        .api
        .login(&ada.email.to_uppercase(), &ada.password)
        .await;
    assert_eq!(ok.status, 200, "{:?}", ok.body);
    assert_eq!(ok.body["user"]["id"], ada.id.as_str());
    env.api
        .call("GET", "/me", ok.body["token"].as_str(), None)
        .await
        .assert_status(200);

    let wrong_password = env.api.login(&ada.email, "wrong password").await;
    let unknown_email = env.api.login("nobody@example.com", "wrong password").await;
    let malformed = env.api.login("nobody", "").await;
    for answer in [&wrong_password, &unknown_email, &malformed] {
        assert_eq!(answer.status, 401);
        assert_eq!(answer.code(), "unauthorized");
        assert_eq!(
            answer.body["error"]["message"],
            wrong_password.body["error"]["message"]
        );
    }
}

#[tokio::test]
async fn bad_tokens_are_refused() {
    let (env, [ada]) = TestEnv::with_users(["Ada"]).await;
    let no_token = env.api.call("GET", "/me", None, None).await;
    assert_eq!((no_token.status, no_token.code()), (401, "unauthorized"));

    let basic = [("authorization", "Basic YWRhOnB3")];
    env.api
        .call_raw("GET", "/me", &basic, b"")
        .await
        .assert_status(401);

    let mut tampered = ada.token.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    env.api
        .call("GET", "/me", Some(&tampered), None)
        .await
        .assert_status(401);

    let id = UserId::parse(&ada.id).unwrap();
    let hour_ago =
        Timestamp::from_unix_millis(Timestamp::now().unix_millis() - 48 * 3_600_000).unwrap();
    let expired = env.ctx.tokens.issue_at(&id, 0, hour_ago).unwrap().token;
    let answer = env.api.call("GET", "/me", Some(&expired), None).await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.body["error"]["message"], "the token has expired");

    let forged = shared::auth::TokenService::new(
        Some("some-other-secret-some-other-secret"),
        std::time::Duration::from_secs(600),
    )
    .issue(&id, 0)
    .unwrap()
    .token;
    env.api
        .call("GET", "/me", Some(&forged), None)
        .await
        .assert_status(401);
}

#[tokio::test]
async fn patch_me_renames_with_validation() {
    let (env, [ada]) = TestEnv::with_users(["Ada"]).await;
    let answer = env
        .api
        .patch(&ada, "/me", json!({"name": " Ada L. "}))
        .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body["name"], "Ada L.");
    assert_eq!(answer.body["email"], ada.email.as_str());
    let public = env.api.get(&ada, &format!("/users/{}", ada.id)).await;
    assert_eq!(public.body["name"], "Ada L.");

    let empty = env.api.patch(&ada, "/me", json!({"name": ""})).await;
    assert_eq!(empty.code(), "validation_failed");
    assert!(empty.body["error"]["details"]["name"].is_string());
    let typed = env.api.patch(&ada, "/me", json!({"name": 5})).await;
    assert_eq!(typed.code(), "bad_request");
    env.api
        .call("PATCH", "/me", None, Some(json!({"name": "x"})))
        .await
        .assert_status(401);
}

#[tokio::test]
async fn deleting_an_account_revokes_its_tokens_and_frees_its_email() {
    let (env, [ada, bob]) = TestEnv::with_users(["Ada", "Bob"]).await;
    env.api.delete_account(&ada).await.assert_status(204);

    let password = json!({"password": ada.password});
    for (method, path, body) in [
        ("GET", "/me", None),
        ("GET", "/users", None),
        ("DELETE", "/me", Some(password)),
        ("GET", "/partnerships", None),
    ] {
        let answer = env.api.call(method, path, Some(&ada.token), body).await;
        assert_eq!(answer.status, 401, "{method} {path}");
    }
    let rename = env.api.patch(&ada, "/me", json!({"name": "Ghost"})).await;
    assert_eq!(rename.status, 401);
    let request = env
        .api
        .send_request(&ada, json!({"recipient_id": bob.id}))
        .await;
    assert_eq!(request.status, 401);

    let login = env.api.login(&ada.email, &ada.password).await;
    assert_eq!(login.status, 401);
    env.api
        .get(&bob, &format!("/users/{}", ada.id))
        .await
        .assert_status(404);

    let again = env
        .api
        .try_register(json!({"email": ada.email, "name": "Ada", "password": "a new password"}))
        .await;
    assert_eq!(again.status, 201);
    assert_ne!(again.body["user"]["id"], ada.id.as_str());
    assert_eq!(
        env.api.get(&ada, "/me").await.status,
        401,
        "old token of the old account"
    );
}

#[tokio::test]
async fn users_are_listed_in_pages_with_signed_cursors() {
    let env = TestEnv::new().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(env.api.register(&format!("User{i}")).await.id);
    }
    let token = env.api.register("Reader").await.token;
    ids.push(String::new()); // the reader, id unknown until read below

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/users?limit=2&cursor={c}"),
            None => "/users?limit=2".to_string(),
        };
        let answer = env.api.call("GET", &path, Some(&token), None).await;
        assert_eq!(answer.status, 200, "{:?}", answer.body);
        let items = answer.body["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        for item in items {
            assert_eq!(
                item.as_object().unwrap().keys().collect::<Vec<_>>(),
                ["created_at", "id", "name"]
            );
            seen.push(item["id"].as_str().unwrap().to_string());
        }
        pages += 1;
        match answer.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(pages, 3, "6 users in pages of 2, no empty last page");
    assert_eq!(seen.len(), 6);
    assert_eq!(&seen[..5], &ids[..5], "oldest first");

    let first = env
        .api
        .call("GET", "/users?limit=2", Some(&token), None)
        .await;
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let mut tampered = cursor.to_string();
    tampered.insert(10, 'x');
    let answer = env
        .api
        .call(
            "GET",
            &format!("/users?cursor={tampered}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!((answer.status, answer.code()), (400, "bad_request"));
    let answer = env
        .api
        .call(
            "GET",
            &format!("/partnerships?cursor={cursor}"),
            Some(&token),
            None,
        )
        .await;
    answer.assert_error(400, "bad_request", "a cursor is bound to its query");
    for bad in ["0", "101", "x"] {
        let answer = env
            .api
            .call("GET", &format!("/users?limit={bad}"), Some(&token), None)
            .await;
        assert_eq!(answer.code(), "bad_request", "limit={bad}");
    }
}

#[tokio::test]
async fn a_public_user_is_found_by_id() {
    let (env, [ada, bob]) = TestEnv::with_users(["Ada", "Bob"]).await;
    let answer = env.api.get(&ada, &format!("/users/{}", bob.id)).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body["name"], "Bob");
    assert!(
        answer.body.get("email").is_none(),
        "public users have no email"
    );
    for unknown in [UserId::generate().to_string(), "not-an-id".to_string()] {
        let answer = env.api.get(&ada, &format!("/users/{unknown}")).await;
        assert_eq!((answer.status, answer.code()), (404, "not_found"));
    }
}

#[tokio::test]
async fn presence_follows_live_connections_only() {
    let (env, [ada, bob]) = TestEnv::with_users(["Ada", "Bob"]).await;
    env.api.make_partners(&ada, &bob).await;
    let path = format!("/users/{}/presence", bob.id);

    let answer = env.api.get(&ada, &path).await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.body,
        json!({"user_id": bob.id, "online": false, "last_seen": null})
    );

    env.connect(&bob, false).await;
    let answer = env.api.get(&ada, &path).await;
    assert_eq!(
        answer.body["online"], false,
        "an expired connection is not presence"
    );

    env.connect(&bob, true).await;
    let answer = env.api.get(&ada, &path).await;
    assert_eq!(answer.body["online"], true);

    let unknown = env
        .api
        .get(&ada, &format!("/users/{}/presence", UserId::generate()))
        .await;
    assert_eq!(unknown.status, 404);
}

#[tokio::test]
async fn presence_is_only_for_partners_co_members_and_oneself() {
    let (env, [ada, bob, cy, stranger]) =
        TestEnv::with_users(["Ada", "Bob", "Cy", "Stranger"]).await;
    env.api.make_partners(&ada, &bob).await;
    let presence = |of: &TestUser| format!("/users/{}/presence", of.id);
    // A public group Cy joins: Ada and Cy are co-members, not partners.
    let group = env
        .api
        .create_channel(&ada, json!({"name": "open", "private": false}))
        .await;
    let group = group.body["id"].as_str().unwrap().to_string();
    env.api
        .post(&cy, &format!("/channels/{group}/join"), None)
        .await
        .assert_status(200);

    for (viewer, target) in [
        (&ada, &ada),
        (&ada, &bob),
        (&bob, &ada),
        (&ada, &cy),
        (&cy, &ada),
    ] {
        let answer = env.api.get(viewer, &presence(target)).await;
        assert_eq!(answer.status, 200, "{} sees {}", viewer.name, target.name);
    }
    for (viewer, target) in [(&stranger, &ada), (&bob, &cy), (&ada, &stranger)] {
        let answer = env.api.get(viewer, &presence(target)).await;
        assert_eq!(
            (answer.status, answer.code()),
            (403, "forbidden"),
            "{} may not see {}",
            viewer.name,
            target.name
        );
    }
}

#[tokio::test]
async fn online_lists_only_online_partners() {
    let (env, [ada, bob, cy, stranger]) =
        TestEnv::with_users(["Ada", "Bob", "Cy", "Stranger"]).await;
    env.api.make_partners(&ada, &bob).await;
    env.api.make_partners(&cy, &ada).await;
    // Dan is no partner: he joins Ada's public channel himself.
    let dan = env.api.register("Dan").await;
    let channel = env.api.group(&ada, &[], false).await;
    env.api.join(&dan, &channel).await.assert_status(200);
    env.connect(&bob, true).await;
    env.connect(&stranger, true).await;
    env.connect(&cy, false).await;
    env.connect(&dan, true).await;

    let answer = env.api.get(&ada, "/presence/online").await;
    assert_eq!(answer.status, 200);
    let mut expected = vec![(bob.id.clone(), "Bob"), (dan.id.clone(), "Dan")];
    expected.sort();
    let items = answer.body["items"].as_array().unwrap();
    let found: Vec<(String, &str)> = items
        .iter()
        .map(|item| {
            assert!(item["last_seen"].is_string(), "{item}");
            (
                item["user_id"].as_str().unwrap().to_string(),
                item["name"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        found, expected,
        "online partners and channel co-members, no strangers, no expired connections"
    );
}

#[tokio::test]
async fn health_and_openapi_need_no_token() {
    let env = TestEnv::new().await;
    let health = env.api.call("GET", "/health", None, None).await;
    assert_eq!(
        (health.status, &health.body),
        (200, &json!({"status": "ok"}))
    );
    let openapi = env.api.call("GET", "/openapi.json", None, None).await;
    assert_eq!(openapi.status, 200);
    assert_eq!(openapi.body["openapi"], "3.1.0");
}

#[tokio::test]
async fn the_api_reference_is_served_with_its_own_assets() {
    let env = TestEnv::new().await;
    let docs = env.api.call("GET", "/docs", None, None).await;
    assert_eq!(docs.status, 302);
    assert_eq!(docs.headers["location"], "/docs/index.html");
    let page = env.api.call("GET", "/docs/index.html", None, None).await;
    assert_eq!(page.status, 200);
    assert!(page.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = page.body.as_str().expect("an HTML page");
    assert!(html.contains("swagger-ui"), "{html}");
    assert!(!html.contains("https://"), "no asset from a CDN: {html}");
    // The page points Swagger UI at this API's own document.
    let init = env
        .api
        .call("GET", "/docs/swagger-initializer.js", None, None)
        .await;
    assert_eq!(init.status, 200);
    assert!(init.body.as_str().unwrap().contains("/openapi.json"));
    for asset in ["swagger-ui.css", "swagger-ui-bundle.js"] {
        let answer = env
            .api
            .call("GET", &format!("/docs/{asset}"), None, None)
            .await;
        assert_eq!(answer.status, 200, "{asset}");
        assert!(answer.headers.get("content-encoding").is_none());
    }
    // Stored gzipped: a browser gets the compressed file as it is.
    let headers = [("accept-encoding", "gzip, deflate, br")];
    let bundle = "/docs/swagger-ui-bundle.js";
    let gzipped = env.api.call_raw("GET", bundle, &headers, b"").await;
    assert_eq!(gzipped.status, 200);
    assert_eq!(gzipped.headers["content-encoding"], "gzip");
    let missing = env.api.call("GET", "/docs/nope.js", None, None).await;
    assert_eq!((missing.status, missing.code()), (404, "not_found"));
}

#[tokio::test]
async fn health_reports_an_unreachable_table() {
    let mut env = TestEnv::new().await;
    let sdk = shared::context::load_sdk_config().await;
    let config = shared::config::Config {
        table_name: unique("missing"),
        ..(*env.ctx.config).clone()
    };
    env.set_ctx(shared::AppContext::new(config, &sdk));
    let health = env.api.call("GET", "/health", None, None).await;
    assert_eq!(health.status, 503);
    assert_eq!(health.code(), "unavailable");
    assert_eq!(health.body["error"]["details"]["dependency"], "dynamodb");
}
