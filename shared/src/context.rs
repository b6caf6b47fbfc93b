//! Everything a handler needs, built once per Lambda instance (or per test, per gateway).

use std::sync::Arc;

use crate::auth::{PasswordHasher, TokenService};
use crate::config::Config;
use crate::connections_api::ConnectionsApi;
use crate::events::EventBus;
use crate::objects::Objects;
use crate::queue::Queue;
use crate::storage::{CursorCodec, Store};

#[derive(Clone)]
pub struct AppContext {
    pub config: Arc<Config>,
    pub store: Store,
    pub tokens: TokenService,
    pub passwords: PasswordHasher,
    /// Email events for the email worker.
    pub notifications: Queue,
    /// Jobs for the maintenance worker (purges).
    pub maintenance: Queue,
    /// Reply jobs for the assistant worker.
    pub assistant: Queue,
    /// Push chunks for the fan-out worker.
    pub fanout: Queue,
    /// Deliveries for the webhook worker.
    pub webhooks: Queue,
    /// Domain events of pushed changes, in process (logs, tests).
    pub events: EventBus,
    /// API Gateway's `@connections` API, for pushes.
    pub connections: ConnectionsApi,
    /// The attachment bucket (`ATTACHMENTS_BUCKET`), when there is one.
    pub objects: Option<Objects>,
}

impl AppContext {
    /// Builds the clients from an SDK configuration; endpoints come from it too, so
    /// `AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL_SQS` point a local run at the emulators.
    pub fn new(config: Config, sdk: &aws_config::SdkConfig) -> Self {
        Self::with_dynamodb(config, sdk, aws_sdk_dynamodb::Client::new(sdk))
    }

    /// As `new`, with a DynamoDB client of the caller's (the benchmark counts its calls).
    pub fn with_dynamodb(
        config: Config,
        sdk: &aws_config::SdkConfig,
        dynamodb: aws_sdk_dynamodb::Client,
    ) -> Self {
        let sqs = aws_sdk_sqs::Client::new(sdk);
        let objects = config.attachments_bucket.as_deref().and_then(|bucket| {
            Objects::new(sdk, bucket)
                .inspect_err(
                    |err| tracing::error!(error = %err.log_detail(), "no attachment bucket"),
                )
                .ok()
        });
        Self {
            objects,
            store: Store::new(
                dynamodb,
                &config.table_name,
                CursorCodec::new(config.jwt_secret.as_deref()),
            ),
            tokens: TokenService::new(config.jwt_secret.as_deref(), config.token_ttl),
            passwords: PasswordHasher::new(),
            notifications: Queue::new(sqs.clone(), &config.notification_queue_url),
            maintenance: Queue::new(sqs.clone(), &config.maintenance_queue_url),
            assistant: Queue::new(sqs.clone(), &config.assistant_queue_url),
            fanout: Queue::new(sqs.clone(), &config.fanout_queue_url),
            webhooks: Queue::new(sqs, &config.webhook_queue_url),
            events: EventBus::new(),
            connections: ConnectionsApi::new(sdk),
            config: Arc::new(config),
        }
    }

    /// Reads the configuration and the AWS environment; fails naming any missing variable.
    pub async fn from_env() -> Result<Self, crate::config::ConfigError> {
        Self::from_env_timed(&mut crate::telemetry::InitClock::start()).await
    }

    /// As `from_env`, timing its phases on a cold start's clock.
    pub async fn from_env_timed(
        clock: &mut crate::telemetry::InitClock,
    ) -> Result<Self, crate::config::ConfigError> {
        let config = Config::from_env()?;
        clock.phase("config");
        let sdk = load_sdk_config().await;
        clock.phase("aws_config");
        let ctx = Self::new(config, &sdk);
        clock.phase("clients");
        Ok(ctx)
    }
}

/// The AWS SDK configuration from the environment, with timeouts that fit an API function
/// (10 s Lambda timeout): an unreachable dependency fails fast with a 503 instead of hanging
/// until Lambda kills the invocation.
pub async fn load_sdk_config() -> aws_config::SdkConfig {
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(std::time::Duration::from_secs(1))
        .operation_attempt_timeout(std::time::Duration::from_secs(2))
        .operation_timeout(std::time::Duration::from_secs(6))
        .build();
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(timeouts)
        .http_client(aws_https_client())
        .load()
        .await
}

/// The roots every AWS service endpoint's certificate chains to (Amazon Trust Services:
/// Amazon Root CA 1–4 and the Starfield roots that cross-sign them), compiled in. The SDK's
/// default client reads and parses the system's whole trust store (~140 certificates) on a
/// cold start instead: half of a function's init time.
const AWS_TRUST_ROOTS: &[u8] = include_bytes!("../certs/amazon-trust-services.pem");

/// The SDK's own HTTPS client, built as the SDK builds its default one (rustls on aws-lc, the
/// connector settings and sleep of each client, proxies from the environment) but trusting
/// `AWS_TRUST_ROOTS`.
fn aws_https_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::{proxy::ProxyConfig, tls, Builder, ConnectorBuilder};
    let trust = tls::TrustStore::empty().with_pem_certificate(AWS_TRUST_ROOTS);
    // Building a context only moves its parts; should that ever fail, the system's roots.
    let context = tls::TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .unwrap_or_default();
    Builder::new().build_with_connector_fn(move |settings, components| {
        let mut connector = ConnectorBuilder::default()
            .tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::AwsLc,
            ))
            .tls_context(context.clone());
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    })
}

#[cfg(test)]
mod tests {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::CertificateDer;

    #[test]
    fn the_compiled_in_aws_roots_are_six_certificates() {
        let roots = CertificateDer::pem_slice_iter(super::AWS_TRUST_ROOTS)
            .collect::<Result<Vec<_>, _>>()
            .expect("PEM certificates");
        assert_eq!(roots.len(), 6);
        assert!(roots.iter().all(|der| der.len() > 300));
    }
}
