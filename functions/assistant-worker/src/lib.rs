//! Assistant worker: a batch of reply jobs from SQS → one streamed, stored assistant reply per
//! user message (see `shared::service::assistant`).

use std::convert::Infallible;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use shared::assistant::{Assistant, HttpEngineConfig, RuleBased};
use shared::queue::AssistantJob;
use shared::service::assistant::{reply, Replied};
use shared::worker::{body, process_batch};
use shared::AppContext;

/// Replies of one batch written at once (a language model is the slow part); the event
/// source's batch size is no bigger, so a batch takes as long as its longest reply.
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
        let rules = RuleBased::from_lookup(&lookup)?;
        let mut config = HttpEngineConfig::from_lookup(&lookup)?;
        if let Some(config) = config.as_mut() {
            if let Some(secret) = &config.api_key_secret {
                config.api_key = Some(read_key(&sdk, secret).await?);
            }
        }
        let engine = Assistant::from_config(config, rules)?;
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
            Replied::Recovered(message) => {
                tracing::warn!(message_id, reply_id = %message.id, "an abandoned reply finished as failed")
            }
            Replied::AlreadyReplied => tracing::info!(message_id, "already replied"),
            Replied::NotApplicable(why) => tracing::info!(message_id, why, "no reply"),
        }
        Ok(())
    })
    .await)
}
