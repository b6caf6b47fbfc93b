//! Reports of messages. A report is an item in its channel's partition keyed by message and
//! reporter (`REPORT#<message id>#<reporter id>`), so a second report of the same message by
//! the same member fails its own condition, and the channel's reports are one Query. The
//! message counts its reports (`report_count`); the report that reaches `REPORTS_TO_HIDE`
//! hides it like a deletion, in the same transaction. The item keeps what the moderation
//! email shows (the router reads it off the stream).

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use serde::{Deserialize, Serialize};

use super::error::StoreError;
use super::items::{from_item, to_item};
use super::keys::{self, PK, SK};
use super::{s, string_of, Commit, Store, Transaction};
use crate::domain::{
    ChannelId, MessageBody, MessageId, Page, PageRequest, Pusher, Report, ReportId, ReportReason,
    Timestamp, UserId, UserName,
};

#[derive(Debug, Serialize, Deserialize)]
pub(super) struct ReportItem {
    pk: String,
    sk: String,
    entity: String,
    id: ReportId,
    channel_id: ChannelId,
    message_id: MessageId,
    reporter_id: UserId,
    reporter_name: UserName,
    reason: ReportReason,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    note: Option<String>,
    created_at: Timestamp,
    /// The reported message as it was: its sender and body.
    sender_id: UserId,
    sender_name: UserName,
    body: MessageBody,
    /// Whether this report hid the message.
    hid: bool,
}

/// A report with what the moderators' email shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportNotice {
    pub report: Report,
    pub reporter_name: UserName,
    pub sender_id: UserId,
    pub sender_name: UserName,
    pub body: MessageBody,
    pub hid: bool,
}

impl From<ReportItem> for ReportNotice {
    fn from(item: ReportItem) -> Self {
        Self {
            report: Report {
                id: item.id,
                channel_id: item.channel_id,
                message_id: item.message_id,
                reporter_id: item.reporter_id,
                reason: item.reason,
                note: item.note,
                created_at: item.created_at,
            },
            reporter_name: item.reporter_name,
            sender_id: item.sender_id,
            sender_name: item.sender_name,
            body: item.body,
            hid: item.hid,
        }
    }
}

/// How storing a report ended.
#[derive(Debug, PartialEq, Eq)]
pub enum ReportFiled {
    Filed,
    AlreadyReported,
    /// The message was deleted (or hidden), or another report of it committed, meanwhile:
    /// read it again.
    CountMoved,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum ReportCheck {
    New,
    MessageAsRead,
}

impl Store {
    /// Stores the report (its message had `reports_before` reports) and counts it on the
    /// message; a report that `hid` it hides the message like a deleted one (its deletion is
    /// pushed by the router). One transaction.
    pub async fn insert_report(
        &self,
        notice: &ReportNotice,
        reports_before: u32,
    ) -> Result<ReportFiled, StoreError> {
        let hide = notice.hid;
        let report = &notice.report;
        let key = keys::report_key(&report.channel_id, &report.message_id, &report.reporter_id);
        let item = ReportItem {
            pk: string_of(&key, PK),
            sk: string_of(&key, SK),
            entity: "report".into(),
            id: report.id.clone(),
            channel_id: report.channel_id.clone(),
            message_id: report.message_id.clone(),
            reporter_id: report.reporter_id.clone(),
            reporter_name: notice.reporter_name.clone(),
            reason: report.reason,
            note: report.note.clone(),
            created_at: report.created_at,
            sender_id: notice.sender_id.clone(),
            sender_name: notice.sender_name.clone(),
            body: notice.body.clone(),
            hid: hide,
        };
        let as_read = if reports_before == 0 {
            "attribute_not_exists(report_count)"
        } else {
            "report_count = :before"
        };
        let mut count = Update::builder()
            .table_name(&self.table)
            .set_key(Some(keys::message_key(
                &report.channel_id,
                &report.message_id,
            )))
            .condition_expression(format!(
                "attribute_exists(pk) AND attribute_not_exists(deleted_at) AND {as_read}"
            ))
            .expression_attribute_values(
                ":after",
                AttributeValue::N((reports_before + 1).to_string()),
            );
        if reports_before > 0 {
            count = count.expression_attribute_values(
                ":before",
                AttributeValue::N(reports_before.to_string()),
            );
        }
        count = if hide {
            // Hidden as a deletion is: every read skips it, and the router pushes
            // `message.deleted` to the members.
            count
                .update_expression("SET report_count = :after, deleted_at = :now, hidden_by_reports = :yes, pusher = :router")
                .expression_attribute_values(":now", s(report.created_at.to_string()))
                .expression_attribute_values(":yes", AttributeValue::Bool(true))
                .expression_attribute_values(
                    ":router",
                    serde_dynamo::to_attribute_value(Pusher::Router).map_err(StoreError::fault)?,
                )
        } else {
            count.update_expression("SET report_count = :after")
        };
        let mut tx = Transaction::new();
        tx.check(
            ReportCheck::New,
            self.put_if_absent(to_item(&item)?, false)?,
        )
        .check(
            ReportCheck::MessageAsRead,
            TransactWriteItem::builder()
                .update(count.build().map_err(StoreError::fault)?)
                .build(),
        );
        Ok(match self.commit(tx).await? {
            Commit::Done => ReportFiled::Filed,
            Commit::Refused(refused) if refused.failed(ReportCheck::New) => {
                ReportFiled::AlreadyReported
            }
            Commit::Refused(_) => ReportFiled::CountMoved,
        })
    }

    /// One page of a channel's reports, by message (then reporter).
    pub async fn list_reports(
        &self,
        channel: &ChannelId,
        page: &PageRequest,
    ) -> Result<Page<Report>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(keys::channel_pk(channel)))
            .expression_attribute_values(":prefix", s(keys::REPORT_PREFIX));
        let (items, next_cursor) = self
            .query_page(query, &format!("reports:{channel}"), page, &[PK, SK])
            .await?;
        let items = items
            .into_iter()
            .map(|item| from_item::<ReportItem>(item).map(|item| ReportNotice::from(item).report))
            .collect::<Result<_, _>>()?;
        Ok(Page { items, next_cursor })
    }
}
