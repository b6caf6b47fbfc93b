//! One typed client of the HTTP API for every kind of test. In process, it feeds the functions'
//! routers the API Gateway v2 event the local gateway builds (handler tests); over HTTP, it
//! talks to a gateway on a port (end-to-end, fault and benchmark runs). Either way every
//! answer of a documented route is checked against the OpenAPI document, and the helpers
//! (`register`, `group`, `say`, ...) are the same.

use std::time::Duration;

use api::routes::match_route;
use local_gateway::event::{http_api_event, to_lambda_request, HttpCall};
use local_gateway::Functions;
use serde_json::{json, Value};
use shared::AppContext;

use crate::{openapi_document, unique};

/// An answer of the API.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    /// The JSON body; `null` when empty, a string when not JSON.
    pub body: Value,
    pub headers: http::HeaderMap,
}

impl Answer {
    /// The contract's error code of a non-2xx answer.
    pub fn code(&self) -> &str {
        self.body["error"]["code"]
            .as_str()
            .unwrap_or("<no error code>")
    }

    /// Asserts a refusal: the status and the contract's error code (`context` explains).
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str, context: &str) {
        assert_eq!(
            (self.status, self.code()),
            (status, code),
            "{context}: {}",
            self.body
        );
    }

    /// Asserts the status (the body shows when it is another).
    #[track_caller]
    pub fn assert_status(&self, status: u16) -> &Self {
        assert_eq!(self.status, status, "{}", self.body);
        self
    }

    /// `field` of every item of a page, as strings.
    pub fn item_strings(&self, field: &str) -> Vec<String> {
        item_strings(&self.body, field)
    }

    pub fn parts(self) -> (u16, Value) {
        (self.status, self.body)
    }

    /// `body.id` of a created thing.
    pub fn id(&self) -> String {
        self.body["id"].as_str().unwrap_or_default().to_string()
    }

    fn read(status: u16, headers: http::HeaderMap, bytes: &[u8]) -> Self {
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into()))
        };
        Self {
            status,
            body,
            headers,
        }
    }
}

/// A registered user of a test.
#[derive(Clone, Debug)]
pub struct TestUser {
    pub id: String,
    pub name: String,
    pub email: String,
    pub password: String,
    pub token: String,
}

#[derive(Clone)]
enum Transport {
    /// The functions' routers, built once over the test's context.
    InProcess(Functions),
    /// A gateway at `base` (`http://127.0.0.1:port`).
    Http {
        client: reqwest::Client,
        base: String,
    },
}

/// A client of the API (cheap to clone).
#[derive(Clone)]
pub struct Api {
    transport: Transport,
    /// Off for benchmarks only, whose timings must not include the check.
    check_contract: bool,
    /// Asserts of every answer that a 5xx is a clean 503 (for the fault tests).
    outage_rule: bool,
}

/// How long an HTTP call may take before the test fails (a gateway that hangs is a bug).
const HTTP_TIMEOUT: Duration = Duration::from_secs(15);

impl Api {
    pub fn in_process(ctx: AppContext) -> Self {
        Self {
            transport: Transport::InProcess(Functions::new(ctx)),
            check_contract: true,
            outage_rule: false,
        }
    }

    pub fn over_http(base: impl Into<String>) -> Self {
        Self {
            transport: Transport::Http {
                client: reqwest::Client::new(),
                base: base.into(),
            },
            check_contract: true,
            outage_rule: false,
        }
    }

    /// The same client, failing the test on any 5xx that is not a 503 in the contract's shape
    /// saying when to retry: what a client must see while a dependency is down.
    pub fn during_outages(mut self) -> Self {
        self.outage_rule = true;
        self
    }

    /// The same client without the OpenAPI check of each answer (for timings).
    pub fn unchecked(mut self) -> Self {
        self.check_contract = false;
        self
    }

    /// `http://127.0.0.1:port` of an HTTP client.
    pub fn base_url(&self) -> Option<&str> {
        match &self.transport {
            Transport::Http { base, .. } => Some(base),
            Transport::InProcess(_) => None,
        }
    }

    /// A JSON call, with the bearer token when given.
    pub async fn call(
        &self,
        method: &str,
        path_and_query: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let body = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let bearer = token.map(|token| format!("Bearer {token}"));
        let mut headers = vec![("content-type", "application/json")];
        headers.extend(bearer.as_deref().map(|value| ("authorization", value)));
        self.call_raw(method, path_and_query, &headers, &body).await
    }

    /// A call as `user`.
    pub async fn call_as(
        &self,
        user: &TestUser,
        method: &str,
        path_and_query: &str,
        body: Option<Value>,
    ) -> Answer {
        self.call(method, path_and_query, Some(&user.token), body)
            .await
    }

    pub async fn get(&self, user: &TestUser, path: &str) -> Answer {
        self.call_as(user, "GET", path, None).await
    }

    /// `body`: a JSON value, or `None` for a POST without one.
    pub async fn post(
        &self,
        user: &TestUser,
        path: &str,
        body: impl Into<Option<Value>>,
    ) -> Answer {
        self.call_as(user, "POST", path, body.into()).await
    }

    pub async fn patch(&self, user: &TestUser, path: &str, body: Value) -> Answer {
        self.call_as(user, "PATCH", path, Some(body)).await
    }

    pub async fn put(&self, user: &TestUser, path: &str) -> Answer {
        self.call_as(user, "PUT", path, None).await
    }

    pub async fn delete(&self, user: &TestUser, path: &str) -> Answer {
        self.call_as(user, "DELETE", path, None).await
    }

    // The routes most tests take, by name: one line each where a call would take eight.

    /// `DELETE /me`, confirmed with the user's password.
    pub async fn delete_account(&self, user: &TestUser) -> Answer {
        let body = serde_json::json!({ "password": user.password });
        self.call_as(user, "DELETE", "/me", Some(body)).await
    }

    pub async fn create_channel(&self, user: &TestUser, body: Value) -> Answer {
        self.post(user, "/channels", body).await
    }

    /// A new assistant channel of `user`; its id.
    pub async fn assistant_channel(&self, user: &TestUser) -> String {
        let answer = self
            .create_channel(user, json!({"name": "Ask", "kind": "assistant"}))
            .await;
        assert_eq!(answer.status, 201, "{:?}", answer.body);
        answer.id()
    }

    /// `user` opens (or finds) the direct channel with `other`, whom it makes its partner first
    /// (consent).
    pub async fn direct(&self, user: &TestUser, other: &TestUser) -> Answer {
        self.befriend(user, other).await;
        let body = json!({"name": "dm", "kind": "direct", "member_ids": [other.id]});
        self.create_channel(user, body).await
    }

    /// The owner (or an admin) renames a channel.
    pub async fn rename_channel(&self, user: &TestUser, channel: &str, name: &str) {
        self.patch(
            user,
            &format!("/channels/{channel}"),
            json!({ "name": name }),
        )
        .await
        .assert_status(200);
    }

    pub async fn channel(&self, user: &TestUser, channel: &str) -> Answer {
        self.get(user, &format!("/channels/{channel}")).await
    }

    pub async fn delete_channel(&self, user: &TestUser, channel: &str) -> Answer {
        self.delete(user, &format!("/channels/{channel}")).await
    }

    pub async fn join(&self, user: &TestUser, channel: &str) -> Answer {
        self.post(user, &format!("/channels/{channel}/join"), None)
            .await
    }

    pub async fn leave(&self, user: &TestUser, channel: &str) -> Answer {
        self.post(user, &format!("/channels/{channel}/leave"), None)
            .await
    }

    /// `user` adds `member_id` to `channel`.
    pub async fn add_member(&self, user: &TestUser, channel: &str, member_id: &str) -> Answer {
        let path = format!("/channels/{channel}/members");
        self.post(user, &path, json!({ "user_id": member_id }))
            .await
    }

    /// `GET /channels/{channel}/messages` with `query` (`""`, `"?limit=1"`, ...).
    pub async fn history(&self, user: &TestUser, channel: &str, query: &str) -> Answer {
        self.get(user, &format!("/channels/{channel}/messages{query}"))
            .await
    }

    pub async fn mark_read(&self, user: &TestUser, channel: &str, message_id: &str) -> Answer {
        let path = format!("/channels/{channel}/read");
        self.post(user, &path, json!({ "message_id": message_id }))
            .await
    }

    pub async fn read_receipts(&self, user: &TestUser, channel: &str) -> Answer {
        self.get(user, &format!("/channels/{channel}/read-receipts"))
            .await
    }

    /// `POST /partner-requests` with any body.
    pub async fn send_request(&self, user: &TestUser, body: Value) -> Answer {
        self.post(user, "/partner-requests", body).await
    }

    /// `accept`, `reject` or `cancel` of request `id`.
    pub async fn answer_request(&self, user: &TestUser, id: &str, verb: &str) -> Answer {
        self.post(user, &format!("/partner-requests/{id}/{verb}"), None)
            .await
    }

    pub async fn partnerships(&self, user: &TestUser) -> Answer {
        self.get(user, "/partnerships").await
    }

    /// Any headers and bytes (hostile bodies, other content types).
    pub async fn call_raw(
        &self,
        method: &str,
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Answer {
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();
        let path = path_and_query
            .split_once('?')
            .map_or(path_and_query, |(path, _)| path);
        let found = match_route(method, path);
        let answer = match &self.transport {
            Transport::InProcess(functions) => {
                let found = found
                    .as_ref()
                    .unwrap_or_else(|| panic!("no route for {method} {path}"));
                let call = HttpCall {
                    method,
                    path,
                    raw_query: path_and_query.split_once('?').map_or("", |(_, q)| q),
                    headers: &headers,
                    body,
                    source_ip: "127.0.0.1",
                };
                let event = http_api_event(
                    &call,
                    &found.route.key(),
                    &found.path_parameters,
                    &uuid::Uuid::new_v4().to_string(),
                );
                call_function(functions, found.route.function, &event).await
            }
            Transport::Http { client, base } => {
                let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
                let mut request = client
                    .request(method, format!("{base}{path_and_query}"))
                    .timeout(HTTP_TIMEOUT)
                    .body(body.to_vec());
                for (name, value) in &headers {
                    request = request.header(name, value);
                }
                let response = request.send().await.expect("the gateway answers");
                let status = response.status().as_u16();
                let headers = response.headers().clone();
                let bytes = response.bytes().await.unwrap_or_default();
                Answer::read(status, headers, &bytes)
            }
        };
        if self.outage_rule && answer.status >= 500 {
            let body = &answer.body;
            assert_eq!(
                answer.status, 503,
                "an outage is a 503, never another 5xx: {body}"
            );
            assert_eq!(body["error"]["code"], "unavailable", "{body}");
            assert!(body["error"]["message"].is_string(), "{body}");
            assert!(
                answer.headers.contains_key("retry-after"),
                "a 503 says when to retry"
            );
        }
        // Every answer a documented route gives must be one the OpenAPI document promises.
        if let Some(found) = found.filter(|_| self.check_contract) {
            openapi_document().check(
                found.route.method,
                found.route.path,
                answer.status,
                &answer.body,
            );
        }
        answer
    }

    /// Feeds a raw API Gateway event (a file of `events/`, say) to a function's handler.
    /// In process only: over HTTP the gateway builds the event.
    pub async fn call_event(&self, function: &str, event: &Value) -> Answer {
        match &self.transport {
            Transport::InProcess(functions) => call_function(functions, function, event).await,
            Transport::Http { .. } => panic!("raw events go to an in-process client"),
        }
    }

    pub async fn login(&self, email: &str, password: &str) -> Answer {
        let body = json!({"email": email, "password": password});
        self.call("POST", "/auth/login", None, Some(body)).await
    }

    /// `POST /auth/register` with any body.
    pub async fn try_register(&self, body: Value) -> Answer {
        self.call("POST", "/auth/register", None, Some(body)).await
    }

    /// A new user named `name`, with a unique email; the registration must succeed.
    pub async fn register(&self, name: &str) -> TestUser {
        let local: String = name.chars().filter(char::is_ascii_alphanumeric).collect();
        let email = format!("{}@example.com", unique(&local.to_lowercase()));
        let password = "correct horse battery".to_string();
        let answer = self
            .try_register(json!({ "email": email, "name": name, "password": password }))
            .await;
        assert_eq!(answer.status, 201, "register {name}: {:?}", answer.body);
        TestUser {
            id: answer.body["user"]["id"]
                .as_str()
                .expect("user id")
                .to_string(),
            name: name.to_string(),
            email,
            password,
            token: answer.body["token"].as_str().expect("token").to_string(),
        }
    }

    /// The users `names`, registered one after another.
    pub async fn register_all<const N: usize>(&self, names: [&str; N]) -> [TestUser; N] {
        let mut users = Vec::with_capacity(N);
        for name in names {
            users.push(self.register(name).await);
        }
        users
            .try_into()
            .unwrap_or_else(|_| unreachable!("one user per name"))
    }

    /// `count` registered users named `{prefix} {i}`.
    pub async fn register_many(&self, prefix: &str, count: usize) -> Vec<TestUser> {
        let names: Vec<String> = (0..count).map(|i| format!("{prefix} {i}")).collect();
        futures::future::join_all(names.iter().map(|name| self.register(name))).await
    }

    /// Sends a partner request from `from` to `to`; returns the request id.
    pub async fn request_partner(&self, from: &TestUser, to: &TestUser) -> String {
        let answer = self
            .call_as(
                from,
                "POST",
                "/partner-requests",
                Some(json!({ "recipient_id": to.id })),
            )
            .await;
        assert_eq!(answer.status, 201, "{:?}", answer.body);
        answer.id()
    }

    /// Makes two users partners.
    pub async fn make_partners(&self, a: &TestUser, b: &TestUser) {
        let id = self.request_partner(a, b).await;
        let answer = self
            .call_as(b, "POST", &format!("/partner-requests/{id}/accept"), None)
            .await;
        assert_eq!(answer.status, 200, "{:?}", answer.body);
    }

    /// Makes two users partners unless they are already.
    pub async fn befriend(&self, a: &TestUser, b: &TestUser) {
        let answer = self
            .call_as(
                a,
                "POST",
                "/partner-requests",
                Some(json!({ "recipient_id": b.id })),
            )
            .await;
        if answer.status == 409 {
            return;
        }
        assert_eq!(answer.status, 201, "{:?}", answer.body);
        let path = format!("/partner-requests/{}/accept", answer.id());
        let accepted = self.call_as(b, "POST", &path, None).await;
        assert_eq!(accepted.status, 200, "{:?}", accepted.body);
    }

    /// Creates a group owned by `owner` with `members` (made the owner's partners first, as
    /// consent requires); returns its id.
    pub async fn group(&self, owner: &TestUser, members: &[&TestUser], private: bool) -> String {
        for member in members {
            self.befriend(owner, member).await;
        }
        let ids: Vec<&str> = members.iter().map(|m| m.id.as_str()).collect();
        let answer = self
            .call_as(
                owner,
                "POST",
                "/channels",
                Some(json!({"name": "Team", "member_ids": ids, "private": private})),
            )
            .await;
        assert_eq!(answer.status, 201, "{:?}", answer.body);
        answer.id()
    }

    /// Sends a message with `text` as `user`; returns its id.
    /// How many assistant replies the newest page of `channel`'s history holds.
    pub async fn assistant_replies(&self, user: &TestUser, channel: &str) -> usize {
        let history = self.history(user, channel, "").await;
        history.body["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|m| m["role"] == "assistant")
            .count()
    }

    pub async fn say(&self, user: &TestUser, channel: &str, text: &str) -> String {
        let answer = self
            .send_message(user, channel, json!({ "body": text }))
            .await;
        assert_eq!(answer.status, 201, "{:?}", answer.body);
        answer.id()
    }

    /// Sends a message (`{"body", "client_id"?, "parent_id"?}`) as `user`.
    pub async fn send_message(&self, user: &TestUser, channel: &str, body: Value) -> Answer {
        self.call_as(
            user,
            "POST",
            &format!("/channels/{channel}/messages"),
            Some(body),
        )
        .await
    }
}

/// `field` of every item of a page (`{"items": [...]}`), as strings.
pub fn item_strings(page: &Value, field: &str) -> Vec<String> {
    page["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|item| item[field].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Of concurrent answers: how many got `status`, and how many a 409 `conflict`.
pub fn tally(answers: &[Answer], status: u16) -> (usize, usize) {
    let count = |wanted: &dyn Fn(&Answer) -> bool| answers.iter().filter(|a| wanted(a)).count();
    (
        count(&|a| a.status == status),
        count(&|a| a.status == 409 && a.code() == "conflict"),
    )
}

async fn call_function(functions: &Functions, function: &str, event: &Value) -> Answer {
    let request = to_lambda_request(event).expect("a valid API Gateway event");
    let response = functions
        .call(function, request)
        .await
        .unwrap_or_else(|| panic!("unknown function {function}"));
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .expect("a response body");
    Answer::read(parts.status.as_u16(), parts.headers, &bytes)
}

/// The local gateway's HTTP API over `ctx` on a free loopback port, for as long as the test
/// runs; its `http://127.0.0.1:port`.
pub async fn spawn_gateway(ctx: AppContext) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a free port");
    let base = format!("http://{}", listener.local_addr().expect("an address"));
    tokio::spawn(async move { local_gateway::serve_http(listener, ctx).await });
    base
}
