#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::http::run_api(users_api::handle).await
}
