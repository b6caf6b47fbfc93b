//! Use cases: each public function is one operation of the API, composed from the domain
//! rules and the store. Handlers call these and only translate HTTP in and out.

pub mod assistant;
pub mod channels;
pub mod maintenance;
pub mod messages;
pub mod notifications;
pub mod partners;
pub mod realtime;
pub mod refusals;
pub mod router;
pub mod users;
pub mod webhooks;

use crate::domain::{User, UserId};
use crate::error::AppError;
use crate::AppContext;

/// The account a token speaks for must still exist: a deleted account's tokens are refused.
fn existing_caller(user: Option<User>) -> Result<User, AppError> {
    user.ok_or_else(refusals::account_gone)
}

/// Reads the caller's profile (one GetItem) and refuses tokens of deleted accounts.
pub async fn require_caller(ctx: &AppContext, caller: &UserId) -> Result<User, AppError> {
    existing_caller(ctx.store.get_user(caller).await?)
}
