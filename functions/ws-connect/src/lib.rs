//! `$connect`: authenticates the `token` query parameter and registers the connection; any
//! non-2xx answer makes API Gateway refuse the handshake.

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
    let token = request.query("token");
    match realtime::connect(ctx, token, &request.connection_id, &request.endpoint).await {
        Ok(user) => {
            tracing::info!(connection = %request.connection_id, user = %user, "connected");
            Ok(response(200, None))
        }
        Err(err) => Ok(error_response(&err, &request.request_id)),
    }
}
