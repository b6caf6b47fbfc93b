//! Reports: a member reports a message (`POST …/messages/{mid}/reports`), the channel's owner
//! lists them (`GET /channels/{id}/reports`). The report reaching `REPORTS_TO_HIDE` hides the
//! message like a deletion; every report is emailed to `MODERATION_EMAIL` (by the event router
//! and the email worker, off the report's insertion).

use futures::TryFutureExt;

use super::existing_caller;
use super::messages::{live, member_of};
use super::refusals::account_gone;
use crate::domain::{
    Caller, ChannelId, MessageId, NewReport, NotFound, Page, PageRequest, Report, ReportId,
    Timestamp,
};
use crate::error::AppError;
use crate::storage::{ReportFiled, ReportNotice};
use crate::AppContext;

/// How often a report is counted again when other reports (or a deletion) of the same
/// message move it meanwhile.
const ATTEMPTS: usize = 4;

/// Files the caller's report of a live message of a channel it is a member of: one read, one
/// transaction. A second report of the same message by the same member is 409.
pub async fn report(
    ctx: &AppContext,
    caller: &Caller,
    channel_id: &ChannelId,
    message_id: &MessageId,
    new: NewReport,
) -> Result<Report, AppError> {
    for _ in 0..ATTEMPTS {
        let context = ctx
            .store
            .message_context(channel_id, &caller.id, Some(message_id), None)
            .await?;
        member_of(&context, caller)?;
        let reporter = context.caller.as_ref().ok_or_else(account_gone)?;
        let message = live(context.message.clone())?;
        let notice = ReportNotice {
            report: Report {
                id: ReportId::generate(),
                channel_id: channel_id.clone(),
                message_id: message_id.clone(),
                reporter_id: caller.id.clone(),
                reason: new.reason,
                note: new.note.clone(),
                created_at: Timestamp::now(),
            },
            reporter_name: reporter.name.clone(),
            sender_id: message.sender.id.clone(),
            sender_name: message.sender.name.clone(),
            body: message.body.clone(),
            hid: NewReport::hides(
                context.message_reports + 1,
                ctx.config.limits.reports_to_hide,
            ),
        };
        let filed = ctx
            .store
            .insert_report(&notice, context.message_reports)
            .await?;
        match filed {
            ReportFiled::Filed => return Ok(notice.report),
            ReportFiled::AlreadyReported => {
                return Err(AppError::conflict("you have already reported this message"))
            }
            ReportFiled::CountMoved => continue,
        }
    }
    Err(AppError::conflict(
        "this message is being reported by others right now; try again",
    ))
}

/// The channel's reports, for its owner and admins: 403 for other members, 404 for outsiders
/// of a private channel.
pub async fn list(
    ctx: &AppContext,
    caller: &Caller,
    channel_id: &ChannelId,
    page: &PageRequest,
) -> Result<Page<Report>, AppError> {
    let caller_only = [caller.id.clone()];
    let (access, reports) = tokio::try_join!(
        ctx.store
            .channel_access(channel_id, &caller.id, &caller_only)
            .err_into::<AppError>(),
        ctx.store
            .list_reports(channel_id, page)
            .err_into::<AppError>()
    )?;
    existing_caller(access.users.into_iter().next(), caller)?;
    let channel = access.channel.ok_or(NotFound::Channel)?;
    let membership = channel.ensure_member(access.membership.as_ref())?;
    channel.ensure_can_moderate(membership)?;
    Ok(reports)
}
