//! WebSocket connections: opening (authenticated, with presence), closing, and typing.

use crate::domain::{ConnectionId, Timestamp, UserId};
use crate::error::AppError;
use crate::storage::ConnectionRecord;
use crate::AppContext;

/// `$connect`: the `token` query parameter must be a valid token of an existing account.
/// Stores the connection, and answers: on the user's first live connection its contacts get
/// `presence` online from the event router (the profile's change), so the handshake costs the
/// same whatever the user's channels.
pub async fn connect(
    ctx: &AppContext,
    token: Option<&str>,
    connection: &ConnectionId,
) -> Result<UserId, AppError> {
    let token = token
        .filter(|token| !token.is_empty())
        .ok_or(AppError::Unauthorized(
            "the `token` query parameter is required",
        ))?;
    let user = ctx.tokens.verify(token)?;
    let now = Timestamp::now();
    let record = ConnectionRecord::new(connection.clone(), user.clone(), now);
    ctx.store
        .open_connection(&record)
        .await?
        .ok_or_else(super::refusals::account_gone)?;
    Ok(user)
}

/// `$disconnect` (best effort on AWS): forgets the connection; on the user's last, its
/// contacts get `presence` offline (from the router). An unknown connection is not an error.
pub async fn disconnect(ctx: &AppContext, connection: &ConnectionId) -> Result<(), AppError> {
    let Some(record) = ctx.store.connection(connection).await? else {
        return Ok(());
    };
    ctx.store
        .close_connection(&record.user_id, connection, Timestamp::now())
        .await?;
    Ok(())
}

/// The user a frame's connection belongs to; a connection unknown or expired here (its
/// account deleted, or its item lost) may not act.
pub async fn connection_user(
    ctx: &AppContext,
    connection: &ConnectionId,
) -> Result<UserId, AppError> {
    ctx.store
        .connection(connection)
        .await?
        .filter(|record| record.expires_at > Timestamp::now().unix_seconds())
        .map(|record| record.user_id)
        .ok_or(AppError::Unauthorized(
            "this connection is not registered; reconnect",
        ))
}
