//! Streamed assistant replies: the asker's daily count, the body catching up while the reply
//! streams, and its end (complete, failed, stopped). Every write is conditional on the reply
//! still streaming, so a stop and the writer never both win.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, TransactWriteItem, Update};

use super::error::{db_error, is_condition_failure, StoreError};
use super::keys::{self, TTL};
use super::messages::{pusher_value, ReplyQuota};
use super::{s, Store};
use crate::domain::{ChannelId, Message, MessageBody, MessageId, Pusher, ReplyStatus};

/// A day's count outlives its day by one, then TTL takes it.
const QUOTA_TTL_SECONDS: i64 = 2 * 24 * 60 * 60;

/// A reply is written to only while it is live and in the status `:from` the writer expects,
/// so a stop, a delete or another run that finished it first wins.
const REPLY_IN_STATUS: &str =
    "attribute_exists(pk) AND attribute_not_exists(deleted_at) AND #status = :from";

/// How a streaming reply ends.
pub struct ReplyEnd<'a> {
    /// The status it must be in: `streaming`; or `stopped`, for its writer to keep the text
    /// it had streamed when it noticed the stop.
    pub from: ReplyStatus,
    pub status: ReplyStatus,
    /// The final text (`None`: keep what is stored, as a stop does).
    pub body: Option<&'a MessageBody>,
    pub pusher: Pusher,
}

impl Store {
    /// The transaction action counting one more reply for the asker today, on condition that
    /// the count is under the limit.
    pub(super) fn count_reply(&self, quota: &ReplyQuota) -> Result<TransactWriteItem, StoreError> {
        let expires = crate::domain::Timestamp::now().unix_seconds() + QUOTA_TTL_SECONDS;
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(keys::reply_quota_key(&quota.user, &quota.day)))
            .update_expression("ADD replies :one SET #ttl = :expires, entity = :entity")
            .condition_expression("attribute_not_exists(replies) OR replies < :limit")
            .expression_attribute_names("#ttl", TTL)
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":limit", AttributeValue::N(quota.limit.to_string()))
            .expression_attribute_values(":expires", AttributeValue::N(expires.to_string()))
            .expression_attribute_values(":entity", s("reply_quota"))
            .build()
            .map_err(StoreError::fault)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// Stores the text written so far of a reply still streaming; `false` once it is not
    /// (stopped, or finished by another run): the writer stops.
    pub async fn store_reply_text(
        &self,
        channel: &ChannelId,
        reply: &MessageId,
        body: &MessageBody,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::message_key(channel, reply)))
            .update_expression("SET body = :body, body_search = :search")
            .condition_expression(REPLY_IN_STATUS)
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":body", s(body.as_str()))
            .expression_attribute_values(":search", s(body.as_str().to_lowercase()))
            .expression_attribute_values(":from", s(ReplyStatus::Streaming.as_str()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) if is_condition_failure(&err) => Ok(false),
            Err(err) => Err(db_error(err)),
        }
    }

    /// Ends a reply in `end.from` (still streaming); `None` if it no longer is (or is gone).
    pub async fn end_reply(
        &self,
        channel: &ChannelId,
        reply: &MessageId,
        end: ReplyEnd<'_>,
    ) -> Result<Option<Message>, StoreError> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::message_key(channel, reply)))
            .condition_expression(REPLY_IN_STATUS)
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":from", s(end.from.as_str()))
            .expression_attribute_values(":status", s(end.status.as_str()))
            .expression_attribute_values(":pusher", pusher_value(end.pusher)?)
            .return_values(ReturnValue::AllNew);
        update = match end.body {
            Some(body) => update
                .update_expression(
                    "SET #status = :status, pusher = :pusher, body = :body, body_search = :search",
                )
                .expression_attribute_values(":body", s(body.as_str()))
                .expression_attribute_values(":search", s(body.as_str().to_lowercase())),
            None => update.update_expression("SET #status = :status, pusher = :pusher"),
        };
        self.updated_message(update.send().await)
    }
}
