//! `$disconnect`: forgets the connection (API Gateway sends this best effort, which is why
//! connections also expire and are deleted on a 410).

use std::convert::Infallible;

use aws_lambda_events::apigw::ApiGatewayProxyResponse;
use shared::service::realtime;
use shared::websocket::{lifecycle, WebSocketEvent};
use shared::AppContext;

pub async fn handle(
    ctx: &AppContext,
    event: WebSocketEvent,
) -> Result<ApiGatewayProxyResponse, Infallible> {
    Ok(lifecycle(event, "disconnected", |request| async move {
        realtime::disconnect(ctx, &request.connection_id).await
    })
    .await)
}
