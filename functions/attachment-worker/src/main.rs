#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::worker::run_worker(
        attachment_worker::AttachmentWorker::new,
        attachment_worker::handle,
    )
    .await
}
