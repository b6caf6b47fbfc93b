//! The `channels-api` Lambda function: the router `api::CHANNELS_API` serves (see `api/src/channels.rs`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::CHANNELS_API.run().await
}
