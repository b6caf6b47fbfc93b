//! Maintenance worker: purges deleted channels and cleans up after deleted accounts, in
//! bounded steps (see `shared::service::maintenance`). A job that runs out of its time budget
//! is queued again and continues where it stopped.

use std::convert::Infallible;
use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use shared::queue::MaintenanceJob;
use shared::service::maintenance::{run, Progress};
use shared::worker::{body, process_batch};
use shared::AppContext;

/// Batches hold one job (template.yaml): it may use the whole budget.
const CONCURRENCY: usize = 1;

pub struct MaintenanceWorker {
    pub ctx: AppContext,
    /// How long one job may run before it is queued again (well inside the function's timeout).
    pub budget: Duration,
}

impl MaintenanceWorker {
    /// Well inside the function's 60 s timeout (template.yaml), with one job per batch.
    pub const BUDGET: Duration = Duration::from_secs(30);

    pub fn new(ctx: AppContext, _sdk: &aws_config::SdkConfig) -> Result<Self, String> {
        Ok(Self {
            ctx,
            budget: Self::BUDGET,
        })
    }
}

pub async fn handle(
    worker: &MaintenanceWorker,
    event: SqsEvent,
) -> Result<SqsBatchResponse, Infallible> {
    Ok(process_batch(event, CONCURRENCY, |record| async move {
        let job: MaintenanceJob = body(&record)?;
        match run(&worker.ctx, &job, Instant::now() + worker.budget).await? {
            Progress::Done => {}
            Progress::Unfinished => {
                tracing::info!(?job, "out of time; queued again to continue");
                worker.ctx.maintenance.send(&job).await?;
            }
            Progress::Later(seconds) => {
                tracing::debug!(?job, seconds, "not due yet; queued again");
                worker.ctx.maintenance.send_later(&job, seconds).await?;
            }
        }
        Ok(())
    })
    .await)
}
