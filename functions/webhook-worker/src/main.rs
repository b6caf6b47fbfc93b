#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::worker::run_worker(webhook_worker::WebhookWorker::new, webhook_worker::handle).await
}
