//! Configuration from environment variables, read once at start-up.

use std::time::Duration;

use crate::domain::{CodePolicy, DigestPolicy};

/// Everything a function needs from its environment. Every missing variable is named in one
/// error so a broken deployment is fixed in one go.
#[derive(Clone, Debug)]
pub struct Config {
    /// `TABLE_NAME`: the single DynamoDB table.
    pub table_name: String,
    /// `NOTIFICATION_QUEUE_URL`: SQS queue read by the email worker.
    pub notification_queue_url: String,
    /// `MAINTENANCE_QUEUE_URL`: SQS queue read by the maintenance worker (purges).
    pub maintenance_queue_url: String,
    /// `ASSISTANT_QUEUE_URL`: SQS queue read by the assistant worker.
    pub assistant_queue_url: String,
    /// `FANOUT_QUEUE_URL`: SQS queue of push chunks, read by the fan-out worker.
    pub fanout_queue_url: String,
    /// `WEBHOOK_QUEUE_URL`: SQS queue of webhook deliveries, read by the webhook worker.
    pub webhook_queue_url: String,
    /// `WEBHOOK_URL` and `WEBHOOK_SECRET` (optional, both or neither): where every pushed
    /// event is also POSTed, signed with the secret.
    pub webhook: Option<WebhookTarget>,
    pub limits: Limits,
    /// `JWT_SECRET`: HS256 key for access tokens (and for signing page cursors). Only the
    /// functions that sign or verify tokens get it (`require_jwt_secret` at their start).
    pub jwt_secret: Option<String>,
    /// `TOKEN_TTL_SECONDS` (default 86400): lifetime of an access token.
    pub token_ttl: Duration,
    /// `SENDER_EMAIL`: the verified SES identity emails come from.
    pub sender_email: String,
    /// `MODERATION_EMAIL` (optional): where every report of a message is emailed; without it
    /// reports are only listed to the channels' owners.
    pub moderation_email: Option<String>,
    /// `ATTACHMENTS_BUCKET` (optional): the S3 bucket of attachments; without it the
    /// attachment routes answer 503.
    pub attachments_bucket: Option<String>,
    /// `WEBSOCKET_API_ENDPOINT` (optional): the WebSocket API's management endpoint
    /// (`https://{api-id}.execute-api.{region}.amazonaws.com/{stage}`) for pushes made outside
    /// a WebSocket invocation. WebSocket functions use their event's domain and stage instead.
    pub websocket_endpoint: Option<String>,
}

/// The receiver of the webhook and the key its deliveries are signed with.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookTarget {
    pub url: String,
    pub secret: String,
}

impl std::fmt::Debug for WebhookTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookTarget")
            .field("url", &self.url)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// Sizes the contract makes configurable, with its defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// `MAX_GROUP_MEMBERS` (10,000): the most members a group may have, its owner included.
    pub max_group_members: u32,
    /// `PRESENCE_MAX_CHANNEL_MEMBERS` (100): presence goes to co-members of channels this
    /// size or smaller (and to partners).
    pub presence_max_channel_members: u32,
    /// `INLINE_PUSH_MAX_MEMBERS` (50): channels this size or smaller are pushed by the
    /// request itself; bigger ones by the event router (`domain::Pusher`).
    pub inline_push_max_members: u32,
    /// `FANOUT_CHUNK_USERS` (200): recipients per fan-out job.
    pub fanout_chunk_users: usize,
    /// `MAX_ATTACHMENT_BYTES` (25 MiB): the largest attachment.
    pub max_attachment_bytes: u64,
    /// `UPLOAD_URL_SECONDS` (900): how long an attachment's upload form works.
    pub upload_url_seconds: u32,
    /// `UNATTACHED_UPLOAD_SECONDS` (86400): an upload on no message is deleted this long
    /// after it was asked for (by the hourly sweep).
    pub unattached_upload_seconds: u32,
    /// `LIST_MOVE_SECONDS` (5): in a channel bigger than `INLINE_PUSH_MAX_MEMBERS`, the
    /// members' lists move to its newest message this long after a message, once for all
    /// the messages of that while.
    pub list_move_seconds: u32,
    /// `FANOUT_RETRY_BASE_SECONDS` (1): the first wait before failed pushes are retried
    /// (doubling each time).
    pub fanout_retry_base_seconds: u32,
    /// `WEBHOOK_RETRY_BASE_SECONDS` (30): the first wait before a failed webhook delivery is
    /// retried (doubling each time; dead-lettered after 5 tries).
    pub webhook_retry_base_seconds: u32,
    /// `MAX_CONNECTIONS_PER_USER` (10): live WebSocket connections one user may hold; one
    /// more closes the oldest.
    pub max_connections_per_user: u32,
    /// `MAX_DISTINCT_REACTIONS` (20): different emoji one message may hold.
    pub max_distinct_reactions: u32,
    /// `REPORTS_TO_HIDE` (3): reports by distinct members that hide a message.
    pub reports_to_hide: u32,
    /// `SEND_BURST` (20) sends by one member in one channel per `SEND_WINDOW_SECONDS` (10).
    pub send_burst: u32,
    pub send_window_seconds: u32,
    /// `PARTNER_REQUESTS_PER_DAY` (20): partner requests one user may send per 24 h.
    pub partner_requests_per_day: u32,
    /// `ASSISTANT_CONTEXT_CHARS` (8,000): the most characters of history a prompt carries.
    pub assistant_context_chars: u32,
    /// `ASSISTANT_REPLIES_PER_DAY` (200): assistant replies one user gets per UTC day.
    pub assistant_replies_per_day: u32,
    /// `EMAIL_CODE_VALID_SECONDS` (86400) an email verification code works and
    /// `EMAIL_CODE_RESEND_SECONDS` (60) between two codes.
    pub email_codes: CodePolicy,
    /// `DIGEST_INTERVAL_SECONDS` (900): at most one offline digest per user this often;
    /// `DIGEST_DELAY_SECONDS` (60): how long the first message of one waits.
    pub digest: DigestPolicy,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_group_members: 10_000,
            presence_max_channel_members: 100,
            inline_push_max_members: 50,
            list_move_seconds: 5,
            max_attachment_bytes: 25 * 1024 * 1024,
            upload_url_seconds: 15 * 60,
            unattached_upload_seconds: 24 * 60 * 60,
            fanout_chunk_users: 200,
            fanout_retry_base_seconds: 1,
            webhook_retry_base_seconds: 30,
            max_connections_per_user: 10,
            max_distinct_reactions: 20,
            reports_to_hide: 3,
            send_burst: 20,
            send_window_seconds: 10,
            partner_requests_per_day: 20,
            assistant_context_chars: 8_000,
            assistant_replies_per_day: 200,
            email_codes: CodePolicy::default(),
            digest: DigestPolicy::default(),
        }
    }
}

#[derive(thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("missing environment variables: {}", .0.join(", "))]
    Missing(Vec<&'static str>),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// A function's `main` returns this error, and Rust prints an error returned from `main` with
/// `Debug`: make that the readable message, so the log says what to fix.
impl std::fmt::Debug for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// The shortest JWT secret accepted: HS256 keys below 256 bits are guessable offline.
const MIN_SECRET_LEN: usize = 32;

impl Config {
    /// For the functions that sign or verify tokens (the HTTP APIs and `$connect`): fails
    /// naming `JWT_SECRET` when it is not set, so a misconfigured function stops at its start.
    pub fn require_jwt_secret(&self) -> Result<(), ConfigError> {
        match self.jwt_secret {
            Some(_) => Ok(()),
            None => Err(ConfigError::Missing(vec!["JWT_SECRET"])),
        }
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut missing = Vec::new();
        let mut required = |name: &'static str| match lookup(name).filter(|v| !v.trim().is_empty())
        {
            Some(value) => value,
            None => {
                missing.push(name);
                String::new()
            }
        };
        let table_name = required("TABLE_NAME");
        let notification_queue_url = required("NOTIFICATION_QUEUE_URL");
        let maintenance_queue_url = required("MAINTENANCE_QUEUE_URL");
        let assistant_queue_url = required("ASSISTANT_QUEUE_URL");
        let fanout_queue_url = required("FANOUT_QUEUE_URL");
        let webhook_queue_url = required("WEBHOOK_QUEUE_URL");
        let sender_email = required("SENDER_EMAIL");
        if !missing.is_empty() {
            return Err(ConfigError::Missing(missing));
        }
        let jwt_secret = lookup("JWT_SECRET").filter(|v| !v.trim().is_empty());
        if jwt_secret
            .as_ref()
            .is_some_and(|secret| secret.len() < MIN_SECRET_LEN)
        {
            return Err(ConfigError::Invalid {
                name: "JWT_SECRET",
                reason: format!("must be at least {MIN_SECRET_LEN} bytes"),
            });
        }
        let token_ttl = match lookup("TOKEN_TTL_SECONDS") {
            None => Duration::from_secs(24 * 3600),
            Some(raw) => match raw.trim().parse::<u64>() {
                Ok(secs) if secs > 0 => Duration::from_secs(secs),
                _ => {
                    return Err(ConfigError::Invalid {
                        name: "TOKEN_TTL_SECONDS",
                        reason: "must be a positive number of seconds".into(),
                    })
                }
            },
        };
        let websocket_endpoint = lookup("WEBSOCKET_API_ENDPOINT")
            .map(|raw| raw.trim().trim_end_matches('/').to_string())
            .filter(|raw| !raw.is_empty());
        if let Some(endpoint) = &websocket_endpoint {
            if !endpoint.starts_with("https://") && !endpoint.starts_with("http://") {
                return Err(ConfigError::Invalid {
                    name: "WEBSOCKET_API_ENDPOINT",
                    reason: "must be an http(s) URL".into(),
                });
            }
        }
        let moderation_email = lookup("MODERATION_EMAIL")
            .map(|raw| raw.trim().to_string())
            .filter(|raw| !raw.is_empty());
        if moderation_email
            .as_deref()
            .is_some_and(|raw| crate::domain::Email::parse(raw).is_err())
        {
            return Err(ConfigError::Invalid {
                name: "MODERATION_EMAIL",
                reason: "must be an email address".into(),
            });
        }
        let attachments_bucket = lookup("ATTACHMENTS_BUCKET")
            .map(|raw| raw.trim().to_string())
            .filter(|raw| !raw.is_empty());
        let webhook = webhook_target(&lookup)?;
        let limits = limits(&lookup)?;
        Ok(Self {
            table_name,
            notification_queue_url,
            maintenance_queue_url,
            assistant_queue_url,
            fanout_queue_url,
            webhook_queue_url,
            webhook,
            limits,
            jwt_secret,
            token_ttl,
            sender_email,
            moderation_email,
            attachments_bucket,
            websocket_endpoint,
        })
    }
}

fn webhook_target(
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<Option<WebhookTarget>, ConfigError> {
    let set = |name| lookup(name).filter(|v| !v.trim().is_empty());
    match (set("WEBHOOK_URL"), set("WEBHOOK_SECRET")) {
        (None, None) => Ok(None),
        (Some(url), Some(secret)) => {
            if !url.starts_with("https://") && !url.starts_with("http://") {
                return Err(ConfigError::Invalid {
                    name: "WEBHOOK_URL",
                    reason: "must be an http(s) URL".into(),
                });
            }
            Ok(Some(WebhookTarget { url, secret }))
        }
        (Some(_), None) => Err(ConfigError::Missing(vec!["WEBHOOK_SECRET"])),
        (None, Some(_)) => Err(ConfigError::Missing(vec!["WEBHOOK_URL"])),
    }
}

fn limits(lookup: &impl Fn(&str) -> Option<String>) -> Result<Limits, ConfigError> {
    let defaults = Limits::default();
    let number = |name: &'static str, default: u32, min: u32| match lookup(name) {
        None => Ok(default),
        Some(raw) => match raw.trim().parse::<u32>() {
            Ok(value) if value >= min => Ok(value),
            _ => Err(ConfigError::Invalid {
                name,
                reason: format!("must be a whole number of at least {min}"),
            }),
        },
    };
    Ok(Limits {
        max_group_members: number("MAX_GROUP_MEMBERS", defaults.max_group_members, 2)?,
        presence_max_channel_members: number(
            "PRESENCE_MAX_CHANNEL_MEMBERS",
            defaults.presence_max_channel_members,
            0,
        )?,
        inline_push_max_members: number(
            "INLINE_PUSH_MAX_MEMBERS",
            defaults.inline_push_max_members,
            0,
        )?,
        list_move_seconds: number("LIST_MOVE_SECONDS", defaults.list_move_seconds, 0)?,
        max_attachment_bytes: u64::from(number(
            "MAX_ATTACHMENT_BYTES",
            u32::try_from(defaults.max_attachment_bytes).unwrap_or(u32::MAX),
            1,
        )?),
        upload_url_seconds: number("UPLOAD_URL_SECONDS", defaults.upload_url_seconds, 1)?,
        unattached_upload_seconds: number(
            "UNATTACHED_UPLOAD_SECONDS",
            defaults.unattached_upload_seconds,
            0,
        )?,
        fanout_chunk_users: number("FANOUT_CHUNK_USERS", defaults.fanout_chunk_users as u32, 1)?
            as usize,
        fanout_retry_base_seconds: number(
            "FANOUT_RETRY_BASE_SECONDS",
            defaults.fanout_retry_base_seconds,
            1,
        )?,
        webhook_retry_base_seconds: number(
            "WEBHOOK_RETRY_BASE_SECONDS",
            defaults.webhook_retry_base_seconds,
            1,
        )?,
        max_connections_per_user: number(
            "MAX_CONNECTIONS_PER_USER",
            defaults.max_connections_per_user,
            1,
        )?,
        max_distinct_reactions: number(
            "MAX_DISTINCT_REACTIONS",
            defaults.max_distinct_reactions,
            1,
        )?,
        reports_to_hide: number("REPORTS_TO_HIDE", defaults.reports_to_hide, 1)?,
        send_burst: number("SEND_BURST", defaults.send_burst, 1)?,
        send_window_seconds: number("SEND_WINDOW_SECONDS", defaults.send_window_seconds, 1)?,
        partner_requests_per_day: number(
            "PARTNER_REQUESTS_PER_DAY",
            defaults.partner_requests_per_day,
            1,
        )?,
        assistant_context_chars: number(
            "ASSISTANT_CONTEXT_CHARS",
            defaults.assistant_context_chars,
            1,
        )?,
        assistant_replies_per_day: number(
            "ASSISTANT_REPLIES_PER_DAY",
            defaults.assistant_replies_per_day,
            1,
        )?,
        email_codes: CodePolicy {
            valid_seconds: number(
                "EMAIL_CODE_VALID_SECONDS",
                defaults.email_codes.valid_seconds,
                1,
            )?,
            resend_seconds: number(
                "EMAIL_CODE_RESEND_SECONDS",
                defaults.email_codes.resend_seconds,
                1,
            )?,
        },
        digest: DigestPolicy {
            interval_seconds: number(
                "DIGEST_INTERVAL_SECONDS",
                defaults.digest.interval_seconds,
                1,
            )?,
            delay_seconds: number("DIGEST_DELAY_SECONDS", defaults.digest.delay_seconds, 0)?,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn names_every_missing_variable() {
        let err = Config::from_lookup(lookup(&[("TABLE_NAME", "t")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "missing environment variables: NOTIFICATION_QUEUE_URL, MAINTENANCE_QUEUE_URL, ASSISTANT_QUEUE_URL, FANOUT_QUEUE_URL, WEBHOOK_QUEUE_URL, SENDER_EMAIL"
        );
    }

    #[test]
    fn reads_a_complete_environment() {
        let config = Config::from_lookup(lookup(&[
            ("TABLE_NAME", "chat"),
            ("NOTIFICATION_QUEUE_URL", "http://q"),
            ("MAINTENANCE_QUEUE_URL", "http://m"),
            ("ASSISTANT_QUEUE_URL", "http://a"),
            ("FANOUT_QUEUE_URL", "http://f"),
            ("WEBHOOK_QUEUE_URL", "http://w"),
            ("JWT_SECRET", "0123456789abcdef0123456789abcdef"),
            ("SENDER_EMAIL", "noreply@example.com"),
            ("TOKEN_TTL_SECONDS", "60"),
            ("MAX_GROUP_MEMBERS", "20000"),
        ]))
        .unwrap();
        assert_eq!(config.limits.max_group_members, 20_000);
        assert_eq!(config.limits.presence_max_channel_members, 100);
        assert_eq!(config.webhook, None);
        assert_eq!(config.table_name, "chat");
        assert_eq!(config.token_ttl, Duration::from_secs(60));
    }

    #[test]
    fn rejects_a_short_secret_and_a_bad_ttl() {
        let base = [
            ("TABLE_NAME", "chat"),
            ("NOTIFICATION_QUEUE_URL", "http://q"),
            ("MAINTENANCE_QUEUE_URL", "http://m"),
            ("ASSISTANT_QUEUE_URL", "http://a"),
            ("FANOUT_QUEUE_URL", "http://f"),
            ("WEBHOOK_QUEUE_URL", "http://w"),
            ("SENDER_EMAIL", "noreply@example.com"),
        ];
        // Without the secret a worker's configuration is complete; a token function refuses it.
        let worker = Config::from_lookup(lookup(&base)).unwrap();
        assert_eq!(worker.jwt_secret, None);
        assert_eq!(
            worker.require_jwt_secret(),
            Err(ConfigError::Missing(vec!["JWT_SECRET"]))
        );
        let mut vars = base.to_vec();
        vars.push(("JWT_SECRET", "short"));
        assert!(matches!(
            Config::from_lookup(lookup(&vars)),
            Err(ConfigError::Invalid {
                name: "JWT_SECRET",
                ..
            })
        ));
        let mut vars = base.to_vec();
        vars.push(("JWT_SECRET", "0123456789abcdef0123456789abcdef"));
        vars.push(("TOKEN_TTL_SECONDS", "soon"));
        assert!(matches!(
            Config::from_lookup(lookup(&vars)),
            Err(ConfigError::Invalid {
                name: "TOKEN_TTL_SECONDS",
                ..
            })
        ));
        let mut vars = base.to_vec();
        vars.push(("JWT_SECRET", "0123456789abcdef0123456789abcdef"));
        vars.push(("WEBHOOK_URL", "https://hooks.example.com/chat"));
        assert_eq!(
            Config::from_lookup(lookup(&vars)).unwrap_err(),
            ConfigError::Missing(vec!["WEBHOOK_SECRET"])
        );
    }
}
