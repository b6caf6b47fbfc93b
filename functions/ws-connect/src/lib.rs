//! `$connect`: authenticates the `token` query parameter and registers the connection; any
//! non-2xx answer makes API Gateway refuse the handshake.

use std::convert::Infallible;

use aws_lambda_events::apigw::ApiGatewayProxyResponse;
use shared::service::realtime;
use shared::websocket::{lifecycle, WebSocketEvent};
use shared::AppContext;

pub async fn handle(
    ctx: &AppContext,
    event: WebSocketEvent,
) -> Result<ApiGatewayProxyResponse, Infallible> {
    Ok(lifecycle(event, "connected", |request| async move {
        let token = request.query("token");
        realtime::connect(ctx, token, &request.connection_id)
            .await
            .map(|_| ())
    })
    .await)
}
