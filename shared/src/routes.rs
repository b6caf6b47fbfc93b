//! The route table: every HTTP route, the function that owns it, and whether it needs a
//! token. The local gateway routes with it; tests hold `template.yaml`, the OpenAPI document
//! and each function's router to it.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub function: &'static str,
    pub auth: bool,
}

impl Route {
    /// API Gateway's route key, `"METHOD /path/{param}"`.
    pub fn key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

pub const USERS_API: &str = "users-api";
pub const PARTNERS_API: &str = "partners-api";
pub const CHANNELS_API: &str = "channels-api";

const fn route(
    method: &'static str,
    path: &'static str,
    function: &'static str,
    auth: bool,
) -> Route {
    Route {
        method,
        path,
        function,
        auth,
    }
}

pub const ROUTES: &[Route] = &[
    route("GET", "/health", USERS_API, false),
    route("GET", "/openapi.json", USERS_API, false),
    route("POST", "/auth/register", USERS_API, false),
    route("POST", "/auth/login", USERS_API, false),
    route("GET", "/me", USERS_API, true),
    route("PATCH", "/me", USERS_API, true),
    route("DELETE", "/me", USERS_API, true),
    route("GET", "/users", USERS_API, true),
    route("GET", "/users/{id}", USERS_API, true),
    route("GET", "/users/{id}/presence", USERS_API, true),
    route("GET", "/presence/online", USERS_API, true),
    route("POST", "/partner-requests", PARTNERS_API, true),
    route("GET", "/partner-requests/received", PARTNERS_API, true),
    route("GET", "/partner-requests/sent", PARTNERS_API, true),
    route("POST", "/partner-requests/{id}/accept", PARTNERS_API, true),
    route("POST", "/partner-requests/{id}/reject", PARTNERS_API, true),
    route("DELETE", "/partner-requests/{id}", PARTNERS_API, true),
    route("GET", "/partnerships", PARTNERS_API, true),
    route("DELETE", "/partnerships/{user_id}", PARTNERS_API, true),
    route("POST", "/channels", CHANNELS_API, true),
    route("GET", "/channels", CHANNELS_API, true),
    route("GET", "/channels/public", CHANNELS_API, true),
    route("GET", "/channels/{id}", CHANNELS_API, true),
    route("POST", "/channels/{id}/members", CHANNELS_API, true),
    route("POST", "/channels/{id}/join", CHANNELS_API, true),
    route("POST", "/channels/{id}/leave", CHANNELS_API, true),
    route("DELETE", "/channels/{id}", CHANNELS_API, true),
    route("POST", "/channels/{id}/messages", CHANNELS_API, true),
    route("GET", "/channels/{id}/messages", CHANNELS_API, true),
    route("GET", "/channels/{id}/messages/{mid}", CHANNELS_API, true),
    route("PATCH", "/channels/{id}/messages/{mid}", CHANNELS_API, true),
    route(
        "DELETE",
        "/channels/{id}/messages/{mid}",
        CHANNELS_API,
        true,
    ),
    route(
        "GET",
        "/channels/{id}/messages/{mid}/replies",
        CHANNELS_API,
        true,
    ),
    route(
        "PUT",
        "/channels/{id}/messages/{mid}/reactions/{emoji}",
        CHANNELS_API,
        true,
    ),
    route(
        "DELETE",
        "/channels/{id}/messages/{mid}/reactions/{emoji}",
        CHANNELS_API,
        true,
    ),
    route("POST", "/channels/{id}/read", CHANNELS_API, true),
    route("GET", "/channels/{id}/read-receipts", CHANNELS_API, true),
];

/// A matched route with its path parameters.
#[derive(Debug, PartialEq, Eq)]
pub struct RouteMatch {
    pub route: &'static Route,
    pub path_parameters: Vec<(String, String)>,
}

/// Finds the route for a request as API Gateway does: literal segments win over parameters,
/// a parameter matches one non-empty segment. `None` for an unknown path or method.
pub fn match_route(method: &str, path: &str) -> Option<RouteMatch> {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    ROUTES
        .iter()
        .filter(|route| route.method.eq_ignore_ascii_case(method))
        .filter_map(|route| {
            let pattern: Vec<&str> = route.path.split('/').collect();
            if pattern.len() != segments.len() {
                return None;
            }
            let mut params = Vec::new();
            let mut literals = 0;
            for (want, got) in pattern.iter().zip(&segments) {
                if let Some(name) = want.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
                    if got.is_empty() {
                        return None;
                    }
                    params.push((name.to_string(), percent_decode(got)));
                } else if want == got {
                    literals += 1;
                } else {
                    return None;
                }
            }
            Some((
                literals,
                RouteMatch {
                    route,
                    path_parameters: params,
                },
            ))
        })
        .max_by_key(|(literals, _)| *literals)
        .map(|(_, found)| found)
}

/// API Gateway passes path parameters decoded.
fn percent_decode(raw: &str) -> String {
    fn hex(byte: u8) -> Option<u8> {
        (byte as char).to_digit(16).map(|d| d as u8)
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let decoded = (bytes[i] == b'%')
            .then(|| Some(hex(*bytes.get(i + 1)?)? << 4 | hex(*bytes.get(i + 2)?)?))
            .flatten();
        match decoded {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub const WS_CONNECT: &str = "ws-connect";
pub const WS_DISCONNECT: &str = "ws-disconnect";
pub const WS_DEFAULT: &str = "ws-default";

/// The WebSocket API's route selection expression (template.yaml holds the same).
pub const WS_ROUTE_SELECTION: &str = "$request.body.action";

/// The WebSocket API's routes and the functions behind them. Every frame goes to `$default`,
/// which routes on `action` itself (one cold start for every action, and one place that
/// answers unknown actions with an `error` frame).
pub const WS_ROUTES: &[(&str, &str)] = &[
    ("$connect", WS_CONNECT),
    ("$disconnect", WS_DISCONNECT),
    ("$default", WS_DEFAULT),
];

/// The route a frame goes to, as API Gateway selects it: the route whose key equals the
/// body's `action`, else `$default`.
pub fn select_ws_route(body: &str) -> &'static str {
    let action = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|value| value.get("action")?.as_str().map(str::to_string));
    WS_ROUTES
        .iter()
        .map(|(key, _)| *key)
        .find(|key| !key.starts_with('$') && Some(*key) == action.as_deref())
        .unwrap_or("$default")
}

pub const EMAIL_WORKER: &str = "email-worker";
pub const ASSISTANT_WORKER: &str = "assistant-worker";
pub const MAINTENANCE_WORKER: &str = "maintenance-worker";

/// A queue and the worker its event source mapping invokes, with that mapping's settings.
/// template.yaml holds the same (a test checks), and the local gateway polls with them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueBinding {
    /// The queue's logical id in template.yaml.
    pub queue: &'static str,
    /// The queue's name on the local stack.
    pub local_name: &'static str,
    pub function: &'static str,
    pub batch_size: i32,
    /// Six times the function's timeout, as AWS advises for SQS event sources.
    pub visibility_timeout_seconds: i32,
}

pub const QUEUE_BINDINGS: &[QueueBinding] = &[
    QueueBinding {
        queue: "NotificationQueue",
        local_name: "chat-notifications",
        function: EMAIL_WORKER,
        batch_size: 10,
        visibility_timeout_seconds: 180,
    },
    QueueBinding {
        queue: "AssistantQueue",
        local_name: "chat-assistant",
        function: ASSISTANT_WORKER,
        batch_size: 5,
        visibility_timeout_seconds: 180,
    },
    QueueBinding {
        queue: "MaintenanceQueue",
        local_name: "chat-maintenance",
        function: MAINTENANCE_WORKER,
        // One job per invocation: each may use its whole time budget.
        batch_size: 1,
        visibility_timeout_seconds: 360,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_literals_before_parameters() {
        let found = match_route("GET", "/users/abc/presence").unwrap();
        assert_eq!(found.route.path, "/users/{id}/presence");
        assert_eq!(found.path_parameters, vec![("id".into(), "abc".into())]);
        assert_eq!(
            match_route("GET", "/partner-requests/received")
                .unwrap()
                .route
                .path,
            "/partner-requests/received"
        );
        assert_eq!(
            match_route("DELETE", "/partner-requests/x")
                .unwrap()
                .route
                .path,
            "/partner-requests/{id}"
        );
    }

    #[test]
    fn unknown_paths_and_methods_do_not_match() {
        assert!(match_route("GET", "/nope").is_none());
        assert!(match_route("PUT", "/me").is_none());
        assert!(match_route("GET", "/users//presence").is_none());
    }

    #[test]
    fn decodes_path_parameters() {
        let found = match_route("GET", "/users/a%20b").unwrap();
        assert_eq!(found.path_parameters[0].1, "a b");
        let found = match_route("GET", "/users/%E2%9C%93%").unwrap();
        assert_eq!(found.path_parameters[0].1, "\u{2713}%");
    }

    #[test]
    fn route_keys_are_unique() {
        let mut keys: Vec<String> = ROUTES.iter().map(Route::key).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), ROUTES.len());
    }

    #[test]
    fn frames_route_to_default_unless_an_action_route_exists() {
        assert_eq!(select_ws_route(r#"{"action":"sendMessage"}"#), "$default");
        assert_eq!(select_ws_route(r#"{"action":"$connect"}"#), "$default");
        assert_eq!(select_ws_route("not json"), "$default");
    }
}
