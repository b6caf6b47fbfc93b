use serde::Serialize;

use super::existing_caller;
use super::require_caller;
use super::users::parse_user_id;
use crate::domain::{
    Counterpart, Decision, Page, PageRequest, PartnerRequest, Partnership, RequestId,
    RequestMessage, StatusFilter, Timestamp, User, UserId,
};
use crate::error::AppError;
use crate::events::DomainEvent;
use crate::queue::{NotificationEvent, NotificationKind};
use crate::realtime::{self, Origin};
use crate::storage::RequestDirection;
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

/// Sends a partner request: read both users (one BatchGetItem), then one transaction.
/// Queues the "new partner request" email once it is stored.
pub async fn send_request(
    ctx: &AppContext,
    caller: &UserId,
    recipient_id: &str,
    message: Option<&str>,
) -> Result<PartnerRequest, AppError> {
    let recipient_id = parse_user_id(recipient_id)?;
    PartnerRequest::ensure_not_self(caller, &recipient_id)?;
    let message = RequestMessage::parse(message)?;
    let users = ctx
        .store
        .get_users(&[caller.clone(), recipient_id.clone()])
        .await?;
    let sender = existing_caller(users.get(caller).cloned())?;
    let recipient = users.get(&recipient_id).ok_or_else(User::not_found)?;
    let request = PartnerRequest::new(
        counterpart(&sender),
        counterpart(recipient),
        message,
        Timestamp::now(),
    )?;
    ctx.store.insert_request(&request).await?;
    let event = NotificationEvent::for_request(NotificationKind::PartnerRequestCreated, &request);
    ctx.notifications
        .send_after_commit(&event, "new partner request email")
        .await;
    realtime::publish(
        ctx,
        &Origin::api(),
        DomainEvent::PartnerRequestReceived {
            request: request.clone(),
        },
    )
    .await;
    Ok(request)
}

/// Finds a request the caller is a party to (with the caller's profile, in one read).
async fn load_request(
    ctx: &AppContext,
    caller: &UserId,
    id: &RequestId,
) -> Result<PartnerRequest, AppError> {
    let (user, request) = ctx.store.find_request_for(caller, id).await?;
    existing_caller(user)?;
    request.ok_or_else(PartnerRequest::not_found)
}

/// Accepts or rejects: one read, the domain's verdict, one conditional transaction. Of
/// concurrent accepts exactly one succeeds and queues the "accepted" email.
pub async fn respond(
    ctx: &AppContext,
    caller: &UserId,
    id: &RequestId,
    decision: Decision,
) -> Result<Response, AppError> {
    let request = load_request(ctx, caller, id).await?;
    let updated = request.respond(caller, decision, Timestamp::now())?;
    let partnership = ctx.store.record_response(&updated).await?;
    let pushed = match &partnership {
        Some(partnership) => {
            let event =
                NotificationEvent::for_request(NotificationKind::PartnerRequestAccepted, &updated);
            ctx.notifications
                .send_after_commit(&event, "request accepted email")
                .await;
            DomainEvent::PartnerRequestAccepted {
                request: updated.clone(),
                partnership: partnership.clone(),
            }
        }
        None => DomainEvent::PartnerRequestRejected {
            request: updated.clone(),
        },
    };
    realtime::publish(ctx, &Origin::api(), pushed).await;
    Ok(Response {
        request: updated,
        partnership,
    })
}

/// The sender withdraws a pending request.
pub async fn cancel(ctx: &AppContext, caller: &UserId, id: &RequestId) -> Result<(), AppError> {
    let request = load_request(ctx, caller, id).await?;
    let updated = request.cancel(caller, Timestamp::now())?;
    ctx.store.record_response(&updated).await?;
    Ok(())
}

pub async fn list_requests(
    ctx: &AppContext,
    caller: &UserId,
    direction: RequestDirection,
    filter: StatusFilter,
    page: &PageRequest,
) -> Result<Page<PartnerRequest>, AppError> {
    let (_, page) = tokio::try_join!(
        require_caller(ctx, caller),
        ctx.store.list_requests(caller, direction, filter, page)
    )?;
    Ok(page)
}

/// The caller's partners with their current names. Partners whose account was deleted are
/// left out.
pub async fn list_partnerships(
    ctx: &AppContext,
    caller: &UserId,
    page: &PageRequest,
) -> Result<Page<PartnershipEntry>, AppError> {
    let (_, partners) = tokio::try_join!(
        require_caller(ctx, caller),
        ctx.store.list_partners(caller, page)
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
    caller: &UserId,
    other: &UserId,
) -> Result<(), AppError> {
    if other == caller {
        return Err(not_partners());
    }
    require_caller(ctx, caller).await?;
    ctx.store.delete_partnership(caller, other).await
}

pub fn not_partners() -> AppError {
    AppError::not_found("you are not partners")
}
