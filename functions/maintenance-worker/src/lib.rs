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

/// Jobs of one batch run one after the other: each is many writes already.
const CONCURRENCY: usize = 1;

pub struct MaintenanceWorker {
    pub ctx: AppContext,
    /// How long one job may run before it is queued again (well inside the function's timeout).
    pub budget: Duration,
}

impl MaintenanceWorker {
    /// The function's timeout is 60 s (template.yaml); a batch holds up to 5 jobs.
    pub const BUDGET: Duration = Duration::from_secs(10);

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
        }
        Ok(())
    })
    .await)
}
