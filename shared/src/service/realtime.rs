//! WebSocket connections: opening (authenticated, with presence), closing, and typing.

use crate::domain::{Caller, ConnectionId, Timestamp, UserId};
use crate::error::AppError;
use crate::storage::{CallerWrite, ConnectionRecord};
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
    let caller = ctx.tokens.verify(token)?;
    let record = ConnectionRecord::new(connection.clone(), caller.clone(), Timestamp::now());
    match ctx.store.open_connection(&record, &caller.session).await? {
        CallerWrite::Done(_) => Ok(caller.id),
        CallerWrite::Refused(profile) => Err(super::refused(profile, &caller)),
    }
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

/// Who acts through a frame's connection: its user, in the session of the token it was
/// opened with (checked by each operation against the profile, like a REST call). A
/// connection unknown or expired here (its account deleted, or its item lost) may not act.
pub async fn connection_caller(
    ctx: &AppContext,
    connection: &ConnectionId,
) -> Result<Caller, AppError> {
    ctx.store
        .connection(connection)
        .await?
        .filter(|record| record.expires_at > Timestamp::now().unix_seconds())
        .and_then(|record| record.caller())
        .ok_or(AppError::Unauthorized(
            "this connection is not registered; reconnect",
        ))
}
