#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::worker::run_worker_built(
        assistant_worker::AssistantWorker::new,
        assistant_worker::handle,
    )
    .await
}
