#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::websocket::run_websocket(ws_disconnect::handle, shared::websocket::Tokens::Unused).await
}
