#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::worker::run_worker(fanout_worker::FanoutWorker::new, fanout_worker::handle).await
}
