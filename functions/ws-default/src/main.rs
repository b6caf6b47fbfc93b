#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::websocket::run_websocket(ws_default::handle, shared::websocket::Tokens::Unused).await
}
