#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::http::run_api(channels_api::handle).await
}
