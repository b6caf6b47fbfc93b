#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::websocket::run_websocket(ws_connect::handle, shared::websocket::Tokens::Verified).await
}
