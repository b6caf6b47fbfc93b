//! The `users-api` Lambda function: the router `api::USERS_API` serves (see `api/src/users.rs`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::USERS_API.run().await
}
