#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::worker::run_worker(email_worker::EmailWorker::new, email_worker::handle).await
}
