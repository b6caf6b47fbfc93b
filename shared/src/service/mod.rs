//! Use cases: each public function is one operation of the API, composed from the domain
//! rules and the store. Handlers call these and only translate HTTP in and out.

pub mod assistant;
pub mod attachments;
pub mod blocks;
pub mod channels;
pub mod digest;
pub mod maintenance;
pub mod messages;
pub mod notifications;
pub mod partners;
pub mod realtime;
pub mod refusals;
pub mod reports;
pub mod router;
pub mod search;
pub mod users;
pub mod webhooks;

use crate::domain::{Caller, User};
use crate::error::AppError;
use crate::AppContext;

/// The account a token speaks for must still exist, and the token's session must still be
/// open: tokens of a deleted account, a signed-out token and tokens older than a sign-out
/// everywhere or a password change are refused. `user` is the caller's profile as the
/// operation read it anyway, so the check costs no read.
fn existing_caller(user: Option<User>, caller: &Caller) -> Result<User, AppError> {
    let user = user.ok_or_else(refusals::account_gone)?;
    if !user.sessions.admits(&caller.session) {
        return Err(refusals::session_ended());
    }
    Ok(user)
}

/// Why a write guarded by the caller's session was refused, from the profile it found.
fn refused(profile: Option<User>, caller: &Caller) -> AppError {
    match existing_caller(profile, caller) {
        Err(refusal) => refusal,
        // Unreachable in practice: the write's condition is this same check on the same
        // profile, so a refusal always finds the session ended or the account gone.
        Ok(_) => refusals::session_ended(),
    }
}

/// Reads the caller's profile (one GetItem) and refuses ended sessions.
pub async fn require_caller(ctx: &AppContext, caller: &Caller) -> Result<User, AppError> {
    existing_caller(ctx.store.get_user(&caller.id).await?, caller)
}
