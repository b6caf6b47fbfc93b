//! The `partners-api` Lambda function: the router `api::PARTNERS_API` serves (see `api/src/partners.rs`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::PARTNERS_API.run().await
}
