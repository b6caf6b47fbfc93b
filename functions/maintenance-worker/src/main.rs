#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::worker::run_worker(
        maintenance_worker::MaintenanceWorker::new,
        maintenance_worker::handle,
    )
    .await
}
