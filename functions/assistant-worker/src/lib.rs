//! Assistant worker: a batch of reply jobs from SQS → one stored, pushed assistant reply per
//! user message (see `shared::service::assistant`).

use std::convert::Infallible;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use shared::assistant::Assistant;
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
    /// The engine from the environment (`ASSISTANT_LLM_*`; the rules without them).
    pub fn new(ctx: AppContext, _sdk: &aws_config::SdkConfig) -> Result<Self, String> {
        let engine = Assistant::from_lookup(|name| std::env::var(name).ok())?;
        tracing::info!(engine = engine.name(), "assistant engine");
        Ok(Self { ctx, engine })
    }
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
