#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::worker::run_worker(event_router::EventRouter::new, event_router::handle).await
}
