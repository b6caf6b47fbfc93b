use futures::TryFutureExt;
use serde::Serialize;

use super::existing_caller;
use super::refusals::{
    account_gone, already_partners, blocked_conversation, no_longer_pending, not_partners,
};
use super::require_caller;
use super::users::parse_user_id;
use crate::domain::{
    Caller, Counterpart, Decision, NotFound, Page, PageRequest, PartnerRequest, Partnership,
    RateLimit, RequestId, RequestMessage, StatusFilter, Timestamp, User, UserId,
};
use crate::error::AppError;
use crate::storage::{RequestDirection, RequestInserted, ResponseRecorded};
use crate::AppContext;

/// An answered request; `partnership` is set when it was accepted.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = AnsweredPartnerRequest)]
pub struct Response {
    #[serde(flatten)]
    pub request: PartnerRequest,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partnership: Option<Partnership>,
}

/// `{user: {id, name}, since}`.
#[derive(Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PartnershipEntry {
    pub user: Counterpart,
    pub since: Timestamp,
}

fn counterpart(user: &User) -> Counterpart {
    Counterpart {
        id: user.id.clone(),
        name: user.name.clone(),
    }
}

/// Sends a partner request: read both users (one BatchGetItem), then one transaction. The
/// event router emails the recipient and pushes `partner_request.received` off the stream.
pub async fn send_request(
    ctx: &AppContext,
    caller: &Caller,
    recipient_id: &str,
    message: Option<&str>,
) -> Result<PartnerRequest, AppError> {
    let recipient_id = parse_user_id(recipient_id)?;
    PartnerRequest::ensure_not_self(&caller.id, &recipient_id)?;
    let message = RequestMessage::parse(message)?;
    let limit = RateLimit {
        max: ctx.config.limits.partner_requests_per_day,
        window_seconds: 24 * 60 * 60,
    };
    // Another request of the sender committing in between moves its window: check again.
    for _ in 0..REQUEST_ATTEMPTS {
        let users = ctx
            .store
            .get_users(&[caller.id.clone(), recipient_id.clone()])
            .await?;
        let sender = existing_caller(users.get(&caller.id).cloned(), caller)?;
        let recipient = users.get(&recipient_id).ok_or(NotFound::User)?;
        let now = Timestamp::now();
        let window = sender
            .request_window
            .admit(now.unix_seconds(), limit)
            .map_err(|wait| {
                too_many_requests(
                    "you have sent as many partner requests as a day allows",
                    wait,
                )
            })?;
        let request = PartnerRequest::new(
            counterpart(&sender),
            counterpart(recipient),
            message.clone(),
            now,
        )?;
        match ctx
            .store
            .insert_request(&request, (sender.request_window, window))
            .await?
        {
            RequestInserted::Sent => return Ok(request),
            RequestInserted::QuotaMoved => continue,
            RequestInserted::SenderGone => return Err(account_gone()),
            RequestInserted::RecipientGone => return Err(NotFound::User.into()),
            RequestInserted::AlreadyPartners => return Err(already_partners()),
            RequestInserted::Blocked => return Err(blocked_conversation()),
            RequestInserted::Refused { until } => {
                let wait = u64::try_from(until - now.unix_seconds())
                    .unwrap_or(1)
                    .max(1);
                return Err(too_many_requests(
                    "your last request to this person was declined or withdrawn; ask again later",
                    wait,
                ));
            }
            RequestInserted::AlreadyPending => {
                return Err(AppError::conflict(
                    "a pending partner request already exists between you",
                ))
            }
        }
    }
    Err(too_many_requests("too many partner requests at once", 1))
}

/// How often a request is checked again when the sender's other requests keep moving its
/// window.
const REQUEST_ATTEMPTS: usize = 3;

fn too_many_requests(message: &'static str, retry_after_seconds: u64) -> AppError {
    AppError::RateLimited {
        message,
        retry_after_seconds,
    }
}

/// Finds a request the caller is a party to (with the caller's profile, in one read).
async fn load_request(
    ctx: &AppContext,
    caller: &Caller,
    id: &RequestId,
) -> Result<PartnerRequest, AppError> {
    let (user, request) = ctx.store.find_request_for(&caller.id, id).await?;
    existing_caller(user, caller)?;
    Ok(request.ok_or(NotFound::PartnerRequest)?)
}

/// Accepts or rejects: one read, the domain's verdict, one conditional transaction. Of
/// concurrent accepts exactly one commits, so exactly one "accepted" email and push follow
/// (from the event router).
pub async fn respond(
    ctx: &AppContext,
    caller: &Caller,
    id: &RequestId,
    decision: Decision,
) -> Result<Response, AppError> {
    let request = load_request(ctx, caller, id).await?;
    let updated = request.respond(&caller.id, decision, Timestamp::now())?;
    let partnership = recorded(ctx.store.record_response(&updated).await?)?;
    Ok(Response {
        request: updated,
        partnership,
    })
}

/// The sender withdraws a pending request.
pub async fn cancel(ctx: &AppContext, caller: &Caller, id: &RequestId) -> Result<(), AppError> {
    let request = load_request(ctx, caller, id).await?;
    let updated = request.cancel(&caller.id, Timestamp::now())?;
    recorded(ctx.store.record_response(&updated).await?)?;
    Ok(())
}

/// The partnership a recorded response started, or why it was not recorded.
fn recorded(outcome: ResponseRecorded) -> Result<Option<Partnership>, AppError> {
    match outcome {
        ResponseRecorded::Recorded(partnership) => Ok(partnership),
        ResponseRecorded::NoLongerPending => Err(no_longer_pending()),
        ResponseRecorded::RecipientGone => Err(account_gone()),
        ResponseRecorded::SenderGone => Err(AppError::not_found(
            "the sender of this request no longer exists",
        )),
        ResponseRecorded::AlreadyPartners => Err(already_partners()),
    }
}

pub async fn list_requests(
    ctx: &AppContext,
    caller: &Caller,
    direction: RequestDirection,
    filter: StatusFilter,
    page: &PageRequest,
) -> Result<Page<PartnerRequest>, AppError> {
    let (_, page) = tokio::try_join!(
        require_caller(ctx, caller),
        ctx.store
            .list_requests(&caller.id, direction, filter, page)
            .err_into::<AppError>()
    )?;
    Ok(page)
}

/// The caller's partners with their current names. Partners whose account was deleted are
/// left out.
pub async fn list_partnerships(
    ctx: &AppContext,
    caller: &Caller,
    page: &PageRequest,
) -> Result<Page<PartnershipEntry>, AppError> {
    let (_, partners) = tokio::try_join!(
        require_caller(ctx, caller),
        ctx.store
            .list_partners(&caller.id, page)
            .err_into::<AppError>()
    )?;
    let ids: Vec<UserId> = partners.items.iter().map(|(id, _)| id.clone()).collect();
    let users = ctx.store.get_users_for_display(&ids).await?;
    Ok(Page {
        items: partners
            .items
            .into_iter()
            .filter_map(|(id, since)| {
                users.get(&id).map(|user| PartnershipEntry {
                    user: counterpart(user),
                    since,
                })
            })
            .collect(),
        next_cursor: partners.next_cursor,
    })
}

pub async fn end_partnership(
    ctx: &AppContext,
    caller: &Caller,
    other: &UserId,
) -> Result<(), AppError> {
    if *other == caller.id {
        return Err(not_partners());
    }
    require_caller(ctx, caller).await?;
    if ctx.store.delete_partnership(&caller.id, other).await? {
        Ok(())
    } else {
        Err(not_partners())
    }
}
