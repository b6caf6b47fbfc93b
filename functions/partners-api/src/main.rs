#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::http::run_api(partners_api::handle).await
}
