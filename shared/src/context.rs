//! Everything a handler needs, built once per Lambda instance (or per test, per gateway).

use std::sync::Arc;

use crate::auth::{PasswordHasher, TokenService};
use crate::config::Config;
use crate::notify::Notifier;
use crate::storage::{CursorCodec, Store};

#[derive(Clone)]
pub struct AppContext {
    pub config: Arc<Config>,
    pub store: Store,
    pub tokens: TokenService,
    pub passwords: PasswordHasher,
    pub notifier: Notifier,
}

impl AppContext {
    /// Builds the clients from an SDK configuration; endpoints come from it too, so
    /// `AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL_SQS` point a local run at the emulators.
    pub fn new(config: Config, sdk: &aws_config::SdkConfig) -> Self {
        let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
        let sqs = aws_sdk_sqs::Client::new(sdk);
        Self {
            store: Store::new(
                dynamodb,
                &config.table_name,
                CursorCodec::new(&config.jwt_secret),
            ),
            tokens: TokenService::new(&config.jwt_secret, config.token_ttl),
            passwords: PasswordHasher::new(),
            notifier: Notifier::new(sqs, &config.notification_queue_url),
            config: Arc::new(config),
        }
    }

    /// Reads the configuration and the AWS environment; fails naming any missing variable.
    pub async fn from_env() -> Result<Self, crate::config::ConfigError> {
        let config = Config::from_env()?;
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Ok(Self::new(config, &sdk))
    }
}
