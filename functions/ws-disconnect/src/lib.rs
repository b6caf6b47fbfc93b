//! `$disconnect`: forgets the connection (API Gateway sends this best effort, which is why
//! connections also expire and are deleted on a 410).

use std::convert::Infallible;

use aws_lambda_events::apigw::ApiGatewayProxyResponse;
use shared::service::realtime;
use shared::websocket::{error_response, response, WebSocketEvent, WsRequest};
use shared::AppContext;

pub async fn handle(
    ctx: &AppContext,
    event: WebSocketEvent,
) -> Result<ApiGatewayProxyResponse, Infallible> {
    let request = match WsRequest::new(event) {
        Ok(request) => request,
        Err(err) => return Ok(error_response(&err, "-")),
    };
    match realtime::disconnect(ctx, &request.connection_id, &request.endpoint).await {
        Ok(()) => {
            tracing::info!(connection = %request.connection_id, "disconnected");
            Ok(response(200, None))
        }
        Err(err) => Ok(error_response(&err, &request.request_id)),
    }
}
