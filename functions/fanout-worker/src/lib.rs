//! Fan-out worker: one job is one chunk of an event's pushes (a few hundred users, or the
//! connections a push retry names). Chunks of one event run in parallel on as many instances
//! as the queue's backlog asks for, so a big channel's delivery time does not grow with its
//! size the way one sequential fan-out would. A chunk whose pushes partly failed is retried
//! with backoff, for the failed connections only (`shared::realtime::run_fanout`).

use std::convert::Infallible;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use shared::queue::FanoutJob;
use shared::realtime::run_fanout;
use shared::worker::{body, process_batch, retry_later};
use shared::AppContext;

/// Jobs of one batch pushed at once (each keeps up to 64 pushes in flight).
const CONCURRENCY: usize = 10;

pub struct FanoutWorker {
    pub ctx: AppContext,
}

impl FanoutWorker {
    pub fn new(ctx: AppContext, _sdk: &aws_config::SdkConfig) -> Result<Self, String> {
        Ok(Self { ctx })
    }
}

pub async fn handle(
    worker: &FanoutWorker,
    event: SqsEvent,
) -> Result<SqsBatchResponse, Infallible> {
    let ctx = &worker.ctx;
    Ok(process_batch(event, CONCURRENCY, |record| async move {
        let job: FanoutJob = body(&record)?;
        match run_fanout(ctx, &job).await {
            Ok(report) => {
                tracing::debug!(job = job.job_id, ?report, "pushed");
                Ok(())
            }
            Err(err) => {
                retry_later(
                    &ctx.fanout,
                    &record,
                    ctx.config.limits.fanout_retry_base_seconds,
                )
                .await;
                Err(err)
            }
        }
    })
    .await)
}
