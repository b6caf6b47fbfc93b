#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::worker::run_worker(
        assistant_worker::AssistantWorker::new,
        assistant_worker::handle,
    )
    .await
}
