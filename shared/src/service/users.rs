use futures::TryFutureExt;
use serde::Serialize;

use super::refusals::account_gone;
use super::{existing_caller, require_caller};
use crate::domain::{
    Email, NewUser, NotFound, Page, PageRequest, Password, PublicUser, Timestamp, User, UserId,
    UserName,
};
use crate::error::AppError;
use crate::storage::{Presence, Registration};
use crate::AppContext;

/// A signed-in user: `{user, token}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Session {
    pub user: User,
    /// JWT for `Authorization: Bearer`
    pub token: String,
}

/// `{user_id, name, last_seen}` of an online contact.
#[derive(Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct OnlineContact {
    pub user_id: UserId,
    pub name: UserName,
    pub last_seen: Option<Timestamp>,
}

const BAD_CREDENTIALS: AppError = AppError::Unauthorized("wrong email or password");

/// Registers a user: hash, then one transaction (profile + unique email). 409 on a taken email.
pub async fn register(ctx: &AppContext, new: NewUser) -> Result<Session, AppError> {
    let hash = ctx.passwords.hash(&new.password).await?;
    let user = User {
        id: UserId::generate(),
        email: new.email,
        name: new.name,
        created_at: Timestamp::now(),
        last_seen: None,
        online: false,
    };
    if ctx.store.create_user(&user, &hash).await? == Registration::EmailTaken {
        return Err(AppError::conflict(
            "an account with this email already exists",
        ));
    }
    let token = ctx.tokens.issue(&user.id)?;
    Ok(Session { user, token })
}

/// Logs in. Every failure is the same 401 and costs the same hashing time, so neither the
/// message nor the timing tells whether an email is registered.
pub async fn login(ctx: &AppContext, email: &str, password: &str) -> Result<Session, AppError> {
    let (Ok(email), Ok(password)) = (Email::parse(email), Password::parse(password)) else {
        return Err(BAD_CREDENTIALS);
    };
    let Some((user_id, hash)) = ctx.store.find_credentials(&email).await? else {
        ctx.passwords.verify_decoy(&password).await?;
        return Err(BAD_CREDENTIALS);
    };
    if !ctx.passwords.verify(&password, &hash).await? {
        return Err(BAD_CREDENTIALS);
    }
    // The credentials outlive nothing: a deleted account has neither.
    let user = ctx.store.get_user(&user_id).await?.ok_or(BAD_CREDENTIALS)?;
    let token = ctx.tokens.issue(&user.id)?;
    Ok(Session { user, token })
}

pub async fn me(ctx: &AppContext, caller: &UserId) -> Result<User, AppError> {
    require_caller(ctx, caller).await
}

/// Renames the caller: one conditional update that also proves the account exists.
pub async fn rename(ctx: &AppContext, caller: &UserId, name: UserName) -> Result<User, AppError> {
    existing_caller(ctx.store.rename_user(caller, &name).await?)
}

/// Deletes the caller's account. Its tokens stop working at once. Partnerships and requests
/// that name it stay until the maintenance worker purges them (queued by the event router off
/// the profile's removal, whose old image names the connections to close); readers skip
/// missing users.
pub async fn delete_account(ctx: &AppContext, caller: &UserId) -> Result<(), AppError> {
    let user = require_caller(ctx, caller).await?;
    if !ctx.store.delete_user(&user).await? {
        return Err(account_gone());
    }
    tracing::info!(user_id = %user.id, "account deleted");
    Ok(())
}

pub async fn list_users(
    ctx: &AppContext,
    caller: &UserId,
    page: &PageRequest,
) -> Result<Page<PublicUser>, AppError> {
    let (_, users) = tokio::try_join!(
        require_caller(ctx, caller),
        ctx.store.list_users(page).err_into::<AppError>()
    )?;
    Ok(users.map(PublicUser::from))
}

pub async fn get_user(
    ctx: &AppContext,
    caller: &UserId,
    target: &UserId,
) -> Result<PublicUser, AppError> {
    let users = ctx
        .store
        .get_users(&[caller.clone(), target.clone()])
        .await?;
    existing_caller(users.get(caller).cloned())?;
    users
        .get(target)
        .cloned()
        .map(PublicUser::from)
        .ok_or(NotFound::User.into())
}

/// `{user_id, online, last_seen}`: both profiles in one read (connections live on the profile).
pub async fn presence(
    ctx: &AppContext,
    caller: &UserId,
    target: &UserId,
) -> Result<Presence, AppError> {
    let users = ctx
        .store
        .get_users(&[caller.clone(), target.clone()])
        .await?;
    existing_caller(users.get(caller).cloned())?;
    let user = users.get(target).ok_or(NotFound::User)?;
    Ok(Presence {
        user_id: target.clone(),
        online: user.online,
        last_seen: user.last_seen,
    })
}

/// The caller's partners and channel co-members that are online: the audience its presence
/// events go to (co-members of channels up to `PRESENCE_MAX_CHANNEL_MEMBERS`).
pub async fn online_contacts(
    ctx: &AppContext,
    caller: &UserId,
) -> Result<Vec<OnlineContact>, AppError> {
    let (_, contacts) = tokio::try_join!(
        require_caller(ctx, caller),
        ctx.store
            .contacts(caller, ctx.config.limits.presence_max_channel_members)
            .err_into::<AppError>()
    )?;
    let users = ctx.store.get_users_for_display(&contacts).await?;
    let mut online: Vec<OnlineContact> = users
        .into_values()
        .filter(|user| user.online)
        .map(|user| OnlineContact {
            user_id: user.id,
            name: user.name,
            last_seen: user.last_seen,
        })
        .collect();
    online.sort_by(|a, b| a.user_id.cmp(&b.user_id));
    Ok(online)
}

pub(crate) fn parse_user_id(raw: &str) -> Result<UserId, AppError> {
    Ok(UserId::parse(raw).ok_or(NotFound::User)?)
}
