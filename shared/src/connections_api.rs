//! API Gateway's management API (`POST /{stage}/@connections/{id}`): one client per endpoint,
//! built from the SDK configuration (credentials, region, timeouts) and cached, because a
//! WebSocket function learns its endpoint from each event.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use aws_sdk_apigatewaymanagement as management;
use aws_sdk_apigatewaymanagement::error::DisplayErrorContext;
use aws_sdk_apigatewaymanagement::primitives::Blob;

use crate::domain::ConnectionId;
use crate::error::AppError;

/// What became of one push.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    Delivered,
    /// 410: the socket is gone; its connection must be deleted.
    Gone,
}

#[derive(Clone)]
pub struct ConnectionsApi {
    sdk: aws_config::SdkConfig,
    clients: Arc<Mutex<HashMap<String, management::Client>>>,
}

impl ConnectionsApi {
    pub fn new(sdk: &aws_config::SdkConfig) -> Self {
        Self {
            sdk: sdk.clone(),
            clients: Arc::default(),
        }
    }

    fn client(&self, endpoint: &str) -> management::Client {
        let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        clients
            .entry(endpoint.to_string())
            .or_insert_with(|| {
                let config = management::config::Builder::from(&self.sdk)
                    .endpoint_url(endpoint)
                    .build();
                management::Client::from_conf(config)
            })
            .clone()
    }

    /// Sends one frame to one connection.
    pub async fn post(
        &self,
        endpoint: &str,
        connection: &ConnectionId,
        frame: Vec<u8>,
    ) -> Result<Delivery, AppError> {
        let result = self
            .client(endpoint)
            .post_to_connection()
            .connection_id(connection.as_str())
            .data(Blob::new(frame))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Delivery::Delivered),
            Err(err) if is_gone(&err) => Ok(Delivery::Gone),
            Err(err) => Err(AppError::internal(format!(
                "PostToConnection failed: {}",
                DisplayErrorContext(err)
            ))),
        }
    }

    /// Closes a connection from the server side (API Gateway then sends `$disconnect`).
    pub async fn close(&self, endpoint: &str, connection: &ConnectionId) -> Result<(), AppError> {
        let result = self
            .client(endpoint)
            .delete_connection()
            .connection_id(connection.as_str())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if is_gone(&err) => Ok(()),
            Err(err) => Err(AppError::internal(format!(
                "DeleteConnection failed: {}",
                DisplayErrorContext(err)
            ))),
        }
    }
}

/// 410 Gone: the connection no longer exists (whatever the error type says).
fn is_gone<E>(
    err: &management::error::SdkError<E, management::config::http::HttpResponse>,
) -> bool {
    err.raw_response()
        .is_some_and(|response| response.status().as_u16() == 410)
}
