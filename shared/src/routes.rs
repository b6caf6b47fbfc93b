//! The WebSocket API's routes and the queues' event sources: which function each reaches,
//! with the settings template.yaml holds (tests check). The HTTP routes are read off the
//! routers (`api::routes`).

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
pub const EVENT_ROUTER: &str = "event-router";
pub const FANOUT_WORKER: &str = "fanout-worker";
pub const WEBHOOK_WORKER: &str = "webhook-worker";
pub const ATTACHMENT_WORKER: &str = "attachment-worker";

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
        visibility_timeout_seconds: 540,
    },
    QueueBinding {
        queue: "FanoutQueue",
        local_name: "chat-fanout",
        function: FANOUT_WORKER,
        batch_size: 10,
        visibility_timeout_seconds: 180,
    },
    QueueBinding {
        queue: "WebhookQueue",
        local_name: "chat-webhooks",
        function: WEBHOOK_WORKER,
        batch_size: 10,
        visibility_timeout_seconds: 180,
    },
    QueueBinding {
        // The bucket's `ObjectCreated` notifications for `attachments/` (S3 events in SQS
        // messages).
        queue: "AttachmentQueue",
        local_name: "chat-attachments",
        function: ATTACHMENT_WORKER,
        // Each check may read a 25 MiB file and decode an image: few at a time.
        batch_size: 2,
        visibility_timeout_seconds: 360,
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

/// The table stream's event source mapping (template.yaml's `EventRouterFunction`, a test
/// holds the two together); the local gateway polls DynamoDB Local with the same settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamBinding {
    pub function: &'static str,
    pub batch_size: i32,
    /// -1: until the record is too old.
    pub maximum_retry_attempts: i32,
    /// The stream keeps records 24 h; a record still failing then goes to the on-failure
    /// queue.
    pub maximum_record_age_seconds: i32,
    pub bisect_on_error: bool,
    /// The filter: only records of these entities invoke the router.
    pub entities: &'static [&'static str],
    /// How often an idle shard is read again locally (Lambda: about 250 ms).
    pub poll_interval_ms: u64,
}

impl StreamBinding {
    pub fn poll_interval(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.poll_interval_ms)
    }
}

pub const STREAM_BINDING: StreamBinding = StreamBinding {
    function: EVENT_ROUTER,
    batch_size: 100,
    maximum_retry_attempts: -1,
    maximum_record_age_seconds: 86_400,
    bisect_on_error: true,
    entities: crate::storage::changes::ROUTED_ENTITIES,
    poll_interval_ms: 100,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_route_to_default_unless_an_action_route_exists() {
        assert_eq!(select_ws_route(r#"{"action":"sendMessage"}"#), "$default");
        assert_eq!(select_ws_route(r#"{"action":"$connect"}"#), "$default");
        assert_eq!(select_ws_route("not json"), "$default");
    }
}
