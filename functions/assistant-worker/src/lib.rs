//! Assistant worker: a batch of reply jobs from SQS → one stored, pushed assistant reply per
//! user message (see `shared::service::assistant`).

use std::convert::Infallible;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use shared::assistant::{Assistant, HttpEngineConfig};
use shared::queue::AssistantJob;
use shared::service::assistant::{reply, Replied};
use shared::worker::{body, process_batch};
use shared::AppContext;

/// Replies of one batch generated at once (a language model is the slow part).
const CONCURRENCY: usize = 5;

pub struct AssistantWorker {
    pub ctx: AppContext,
    pub engine: Assistant,
}

impl AssistantWorker {
    /// The engine from the environment (`ASSISTANT_LLM_*`; the rules without them), its key
    /// read from Secrets Manager once, here, at the start of the instance.
    pub async fn new(ctx: AppContext, sdk: aws_config::SdkConfig) -> Result<Self, String> {
        Self::from_lookup(ctx, sdk, |name| std::env::var(name).ok()).await
    }

    /// As `new`, reading the settings through `lookup` (tests give their own).
    pub async fn from_lookup(
        ctx: AppContext,
        sdk: aws_config::SdkConfig,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, String> {
        let mut config = HttpEngineConfig::from_lookup(lookup)?;
        if let Some(config) = config.as_mut() {
            if let Some(secret) = &config.api_key_secret {
                config.api_key = Some(read_key(&sdk, secret).await?);
            }
        }
        let engine = Assistant::from_config(config)?;
        tracing::info!(engine = engine.name(), "assistant engine");
        Ok(Self { ctx, engine })
    }
}

/// The language-model key held by the secret `secret` (a name or an ARN).
async fn read_key(sdk: &aws_config::SdkConfig, secret: &str) -> Result<String, String> {
    let read = aws_sdk_secretsmanager::Client::new(sdk)
        .get_secret_value()
        .secret_id(secret)
        .send()
        .await
        .map_err(|err| {
            format!(
                "reading the language-model key from {secret}: {}",
                aws_sdk_secretsmanager::error::DisplayErrorContext(err)
            )
        })?;
    read.secret_string()
        .map(str::to_string)
        .ok_or_else(|| format!("the secret {secret} holds no text"))
}

pub async fn handle(
    worker: &AssistantWorker,
    event: SqsEvent,
) -> Result<SqsBatchResponse, Infallible> {
    Ok(process_batch(event, CONCURRENCY, |record| async move {
        let job: AssistantJob = body(&record)?;
        let message_id = job.message_id.to_string();
        match reply(&worker.ctx, &worker.engine, &job).await? {
            Replied::Replied(message) => {
                tracing::info!(message_id, reply_id = %message.id, "replied")
            }
            Replied::AlreadyReplied => tracing::info!(message_id, "already replied"),
            Replied::NotApplicable(why) => tracing::info!(message_id, why, "no reply"),
        }
        Ok(())
    })
    .await)
}
