use futures::TryFutureExt;
use serde::Serialize;

use super::refusals::account_gone;
use super::{existing_caller, refused, require_caller};
use crate::domain::{
    Caller, CodeRefused, Email, Limit, NewUser, NotFound, Page, PageRequest, Password,
    ProfileChanges, PublicUser, Timestamp, User, UserId, UserName, VerificationCode,
};
use crate::error::AppError;
use crate::storage::{CallerWrite, CodeIssued, Presence, Registration, Verified};
use crate::AppContext;

/// A signed-in user: `{user, token}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Session)]
pub struct SignedIn {
    pub user: User,
    /// JWT for `Authorization: Bearer`
    pub token: String,
}

/// `{token}`: the caller's new token after a password change.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NewToken {
    /// JWT for `Authorization: Bearer`; every other token of the account has stopped working
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

fn login_locked(retry_after_seconds: u64) -> AppError {
    AppError::RateLimited {
        message: "too many failed sign-ins for this email; try again later",
        retry_after_seconds,
    }
}

/// Registers a user: hash, then one transaction (profile, unique email, verification code,
/// whose stream record emails the code). 409 on a taken email.
pub async fn register(ctx: &AppContext, new: NewUser) -> Result<SignedIn, AppError> {
    let hash = ctx.passwords.hash(&new.password).await?;
    let user = User::new_account(new.email, new.name, Timestamp::now());
    let code = VerificationCode::generate();
    let policy = ctx.config.limits.email_codes;
    if ctx.store.create_user(&user, &hash, code, policy).await? == Registration::EmailTaken {
        return Err(AppError::conflict(
            "an account with this email already exists",
        ));
    }
    let token = ctx.tokens.issue(&user.id, user.sessions.epoch)?.token;
    Ok(SignedIn { user, token })
}

/// Logs in. Every failure is the same 401 and costs the same hashing time, so neither the
/// message nor the timing tells whether an email is registered.
pub async fn login(ctx: &AppContext, email: &str, password: &str) -> Result<SignedIn, AppError> {
    let (Ok(email), Ok(password)) = (Email::parse(email), Password::parse(password)) else {
        return Err(BAD_CREDENTIALS);
    };
    let (credentials, attempts) = ctx.store.find_credentials(&email).await?;
    if let Some(wait) = attempts.locked_for(Timestamp::now().unix_seconds()) {
        return Err(login_locked(wait));
    }
    // An unknown email costs the same hash time and counts its failures the same way.
    let verified = match &credentials {
        Some((_, hash)) => ctx.passwords.verify(&password, hash).await?,
        None => {
            ctx.passwords.verify_decoy(&password).await?;
            false
        }
    };
    let Some((user_id, _)) = credentials.filter(|_| verified) else {
        // The failure that locks the email is still a wrong password; the next try is 429.
        ctx.store
            .record_login_failure(&email, Timestamp::now())
            .await?;
        return Err(BAD_CREDENTIALS);
    };
    // The failures are forgotten beside the profile's read (one round trip): neither needs
    // the other. The credentials outlive nothing: a deleted account has neither.
    let forget = async {
        if attempts.failures > 0 {
            ctx.store.forget_login_failures(&email).await?;
        }
        Ok::<_, AppError>(())
    };
    let (user, ()) = tokio::try_join!(ctx.store.get_user(&user_id).err_into::<AppError>(), forget)?;
    let user = user.ok_or(BAD_CREDENTIALS)?;
    let token = ctx.tokens.issue(&user.id, user.sessions.epoch)?.token;
    Ok(SignedIn { user, token })
}

pub async fn me(ctx: &AppContext, caller: &Caller) -> Result<User, AppError> {
    require_caller(ctx, caller).await
}

/// Renames the caller or switches its notification emails: one update, conditional on the
/// caller's session. An empty change answers the caller as it is.
pub async fn update_me(
    ctx: &AppContext,
    caller: &Caller,
    changes: &ProfileChanges,
) -> Result<User, AppError> {
    if changes.is_empty() {
        return require_caller(ctx, caller).await;
    }
    match ctx
        .store
        .update_profile(&caller.id, &caller.session, changes)
        .await?
    {
        CallerWrite::Done(user) => Ok(user),
        CallerWrite::Refused(profile) => Err(refused(profile, caller)),
    }
}

/// Verifies the caller's email with the emailed code: the try is counted (with the profile's
/// read) before anything is compared, so at most `CODE_TRIES` guesses are ever compared; then
/// one transaction marks the address verified and uses the code up. An address already
/// verified answers the user as it is.
pub async fn verify_email(ctx: &AppContext, caller: &Caller, code: &str) -> Result<User, AppError> {
    let guess =
        VerificationCode::parse(code).map_err(|reason| AppError::invalid_field("code", reason))?;
    // Both at once (one round trip): a verified account has no code left to try.
    let (user, issued) = tokio::try_join!(
        require_caller(ctx, caller),
        ctx.store.try_email_code(&caller.id).err_into::<AppError>()
    )?;
    if user.email_verified {
        return Ok(user);
    }
    let code_refused = |why: CodeRefused| AppError::invalid_field("code", why.reason());
    let issued = issued.ok_or(code_refused(CodeRefused::Expired))?;
    issued
        .check(
            &guess,
            Timestamp::now().unix_seconds(),
            ctx.config.limits.email_codes,
        )
        .map_err(code_refused)?;
    match ctx
        .store
        .confirm_email(&caller.id, &caller.session, &guess)
        .await?
    {
        Verified::Done => Ok(User {
            email_verified: true,
            ..user
        }),
        // A resend replaced the code between the try and the write: the one typed is old.
        Verified::CodeReplaced => Err(code_refused(CodeRefused::Expired)),
        Verified::Refused(profile) => Err(refused(profile, caller)),
    }
}

/// Sends the caller a new code (the old one stops working): at most one per
/// `EMAIL_CODE_RESEND_SECONDS` (429), 409 when the address is verified already.
pub async fn resend_verification(ctx: &AppContext, caller: &Caller) -> Result<(), AppError> {
    let user = require_caller(ctx, caller).await?;
    if user.email_verified {
        return Err(AppError::conflict("this email address is verified already"));
    }
    match ctx
        .store
        .issue_email_code(
            &user,
            VerificationCode::generate(),
            Timestamp::now(),
            ctx.config.limits.email_codes,
        )
        .await?
    {
        CodeIssued::Sent => Ok(()),
        CodeIssued::TooSoon(retry_after_seconds) => Err(AppError::RateLimited {
            message: "a code was sent a moment ago; wait before asking for another",
            retry_after_seconds,
        }),
    }
}

/// The caller's password must be `password` (403 otherwise): destructive and
/// account-changing operations ask for it again, so a stolen token alone cannot do them.
async fn confirm_password(ctx: &AppContext, user: &User, password: &str) -> Result<(), AppError> {
    const WRONG: &str = "the password is wrong";
    let Ok(password) = Password::parse(password) else {
        return Err(AppError::Forbidden(WRONG.into()));
    };
    let (credentials, attempts) = ctx.store.find_credentials(&user.email).await?;
    // The login lockout guards this too: a stolen token cannot guess the password here.
    if let Some(wait) = attempts.locked_for(Timestamp::now().unix_seconds()) {
        return Err(login_locked(wait));
    }
    let (_, hash) = credentials.ok_or_else(account_gone)?;
    if !ctx.passwords.verify(&password, &hash).await? {
        ctx.store
            .record_login_failure(&user.email, Timestamp::now())
            .await?;
        return Err(AppError::Forbidden(WRONG.into()));
    }
    Ok(())
}

/// Deletes the caller's account after confirming its password. Its tokens stop working at
/// once. Partnerships and requests that name it stay until the maintenance worker purges them
/// (queued by the event router off the profile's removal, whose old image names the
/// connections to close); readers skip missing users.
pub async fn delete_account(
    ctx: &AppContext,
    caller: &Caller,
    password: &str,
) -> Result<(), AppError> {
    let user = require_caller(ctx, caller).await?;
    confirm_password(ctx, &user, password).await?;
    match ctx.store.delete_user(&user, &caller.session).await? {
        CallerWrite::Done(()) => {
            tracing::info!(user_id = %user.id, "account deleted");
            Ok(())
        }
        CallerWrite::Refused(profile) => Err(refused(profile, caller)),
    }
}

/// Signs the caller's token out: one update of the profile (its WebSocket connections opened
/// with this token are closed by the event router, off the profile's change).
pub async fn logout(ctx: &AppContext, caller: &Caller) -> Result<(), AppError> {
    let user = require_caller(ctx, caller).await?;
    let expired = user.sessions.expired_revocations(Timestamp::now());
    match ctx
        .store
        .revoke_token(&caller.id, &caller.session, &expired)
        .await?
    {
        CallerWrite::Done(()) => Ok(()),
        CallerWrite::Refused(profile) => Err(refused(profile, caller)),
    }
}

/// Signs out every token of the account issued until now (the caller's too).
pub async fn logout_everywhere(ctx: &AppContext, caller: &Caller) -> Result<(), AppError> {
    match ctx.store.end_sessions(&caller.id, &caller.session).await? {
        CallerWrite::Done(_) => Ok(()),
        CallerWrite::Refused(profile) => Err(refused(profile, caller)),
    }
}

/// Changes the password (the current one confirms it) and ends every other session; the
/// caller goes on with the new token answered.
pub async fn change_password(
    ctx: &AppContext,
    caller: &Caller,
    current: &str,
    new: &str,
) -> Result<NewToken, AppError> {
    let new =
        Password::parse(new).map_err(|reason| AppError::invalid_field("new_password", reason))?;
    let user = require_caller(ctx, caller).await?;
    confirm_password(ctx, &user, current).await?;
    let hash = ctx.passwords.hash(&new).await?;
    match ctx
        .store
        .change_password(&user, &caller.session, &hash)
        .await?
    {
        CallerWrite::Done(epoch) => Ok(NewToken {
            token: ctx.tokens.issue(&user.id, epoch)?.token,
        }),
        CallerWrite::Refused(profile) => Err(refused(profile, caller)),
    }
}

pub async fn list_users(
    ctx: &AppContext,
    caller: &Caller,
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
    caller: &Caller,
    target: &UserId,
) -> Result<PublicUser, AppError> {
    let users = ctx
        .store
        .get_users(&[caller.id.clone(), target.clone()])
        .await?;
    existing_caller(users.get(&caller.id).cloned(), caller)?;
    users
        .get(target)
        .cloned()
        .map(PublicUser::from)
        .ok_or(NotFound::User.into())
}

/// `{user_id, online, last_seen}` of the caller, a partner or a co-member of one of the
/// caller's channels (403 for anyone else): both profiles and the partnership in one step
/// (connections live on the profile); for a non-partner, the caller's channels then.
pub async fn presence(
    ctx: &AppContext,
    caller: &Caller,
    target: &UserId,
) -> Result<Presence, AppError> {
    let both = [caller.id.clone(), target.clone()];
    // The caller's first channels are read beside the partnership (one round trip for a
    // co-member in the caller's first 100 channels), at one Query for nothing for a partner.
    let first_channels = PageRequest {
        limit: Some(Limit::MAX_PAGE),
        cursor: None,
    };
    let (users, partners, channels) = tokio::try_join!(
        ctx.store.get_users(&both),
        ctx.store
            .partners_among(&caller.id, std::slice::from_ref(target)),
        ctx.store
            .list_member_channel_ids(&caller.id, &first_channels)
    )?;
    existing_caller(users.get(&caller.id).cloned(), caller)?;
    let user = users.get(target).ok_or(NotFound::User)?;
    let known = *target == caller.id
        || partners.contains(target)
        || ctx
            .store
            .shares_a_channel(&caller.id, target, channels)
            .await?;
    if !known {
        return Err(AppError::Forbidden(
            "presence is shown only for your partners and the members of your channels".into(),
        ));
    }
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
    caller: &Caller,
) -> Result<Vec<OnlineContact>, AppError> {
    let (_, contacts) = tokio::try_join!(
        require_caller(ctx, caller),
        ctx.store
            .contacts(&caller.id, ctx.config.limits.presence_max_channel_members)
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
