//! DynamoDB single-table storage. This module is the only code that knows key formats,
//! item shapes and index names; everything above it speaks domain types.
//! The design and the cost of every access pattern are in `docs/data-model.md`.

mod attachments;
mod blocks;
pub mod changes;
mod channels;
mod cursor;
mod deliveries;
mod digest;
mod email;
mod error;
mod inbox;
mod items;
mod keys;
mod limits;
mod messages;
mod partners;
mod presence;
mod purge;
mod replies;
mod reports;
mod retries;
mod roles;
pub mod schema;
mod search;
mod sessions;
mod users;
mod verification;

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use aws_sdk_dynamodb::Client;

pub use attachments::{CheckResult, UploadRef};
pub use blocks::{BlockContext, BlockEntry, BlockWritten};
pub use channels::{Admission, ChannelAccess, ChannelCreated, ChannelDeletion, MemberAdded};
pub use reports::{ReportFiled, ReportNotice};

/// How fresh a batch read must be. `Consistent` sees every write that completed before it and
/// costs 1 read unit per item (up to 4 KB); `Eventual` may miss a write of the last second at
/// half the cost, which is all that names and summaries in a list need (`make bench` shows the
/// difference per route).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Read {
    Consistent,
    Eventual,
}
pub use cursor::CursorCodec;
pub use deliveries::Ledger;
pub use digest::{DigestNotice, DigestOutcome, DigestRecipient, MAX_DIGEST_MESSAGES};
pub use email::EmailClaim;
pub use inbox::ChannelActivity;
pub use messages::{
    HistoryFilter, Inserted, MessageContext, Posting, Reacted, Reaction, ReplyQuota, SEARCH_WINDOW,
};
pub use partners::{RequestDirection, RequestInserted, ResponseRecorded};
pub use presence::{Closed, ConnectionRecord, Presence};
pub use purge::Purged;
pub use replies::ReplyEnd;
pub use roles::Managed;
pub use sessions::CallerWrite;
pub use users::Registration;
pub use verification::{CodeIssued, CodeNotice, Verified};

use error::db_error;
pub use error::{CursorRejected, StoreError, StoreResult};

pub type Item = HashMap<String, AttributeValue>;

/// Handle on the table. Cheap to clone; build it once per Lambda instance.
#[derive(Clone)]
pub struct Store {
    client: Client,
    table: String,
    cursors: CursorCodec,
}

impl Store {
    pub fn new(client: Client, table: impl Into<String>, cursors: CursorCodec) -> Self {
        Self {
            client,
            table: table.into(),
            cursors,
        }
    }

    /// One cheap call that proves the table is reachable (for `GET /health`).
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
            .map_err(db_error)?;
        Ok(())
    }

    /// BatchGetItem of up to 100 keys in one round trip (plus retries of unprocessed keys,
    /// which only happen under throttling).
    async fn batch_get(&self, keys: Vec<Item>, read: Read) -> Result<Vec<Item>, StoreError> {
        self.batch_get_only(keys, read, &[]).await
    }

    /// As `batch_get`, reading only the `attributes` named (all when empty): less to send and
    /// decode when a fan-out reads thousands of profiles for their connections.
    async fn batch_get_only(
        &self,
        keys: Vec<Item>,
        read: Read,
        attributes: &[&str],
    ) -> Result<Vec<Item>, StoreError> {
        let mut found = Vec::with_capacity(keys.len());
        if keys.is_empty() {
            return Ok(found);
        }
        let mut request = KeysAndAttributes::builder()
            .set_keys(Some(keys))
            .consistent_read(read == Read::Consistent);
        if !attributes.is_empty() {
            let names: Vec<String> = (0..attributes.len()).map(|n| format!("#a{n}")).collect();
            request = request.projection_expression(names.join(", "));
            for (name, attribute) in names.iter().zip(attributes) {
                request = request.expression_attribute_names(name, *attribute);
            }
        }
        let mut pending = Some(request.build().map_err(StoreError::fault)?);
        let mut attempt = 0u32;
        while let Some(request) = pending.take() {
            let output = self
                .client
                .batch_get_item()
                .request_items(&self.table, request)
                .send()
                .await
                .map_err(db_error)?;
            if let Some(mut responses) = output.responses {
                found.extend(responses.remove(&self.table).unwrap_or_default());
            }
            pending = output
                .unprocessed_keys
                .and_then(|mut rest| rest.remove(&self.table))
                .filter(|rest| !rest.keys().is_empty());
            if pending.is_some() {
                attempt += 1;
                if attempt > 8 {
                    return Err(StoreError::Unavailable);
                }
                tokio::time::sleep(std::time::Duration::from_millis(20 << attempt.min(5))).await;
            }
        }
        Ok(found)
    }
}

impl Store {
    /// Unconditional puts and deletes, 25 per BatchWriteItem, retrying unprocessed ones with
    /// backoff.
    async fn batch_write(
        &self,
        requests: Vec<aws_sdk_dynamodb::types::WriteRequest>,
    ) -> Result<(), StoreError> {
        for chunk in requests.chunks(25) {
            let mut pending = chunk.to_vec();
            let mut attempt = 0u32;
            while !pending.is_empty() {
                let output = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, pending)
                    .send()
                    .await
                    .map_err(db_error)?;
                pending = output
                    .unprocessed_items
                    .and_then(|mut rest| rest.remove(&self.table))
                    .unwrap_or_default();
                if !pending.is_empty() {
                    attempt += 1;
                    if attempt > 8 {
                        return Err(StoreError::Unavailable);
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(20 << attempt.min(5)))
                        .await;
                }
            }
        }
        Ok(())
    }
}

/// A BatchWriteItem request deleting the item at `key`.
fn delete_request(key: Item) -> Result<aws_sdk_dynamodb::types::WriteRequest, StoreError> {
    aws_sdk_dynamodb::types::DeleteRequest::builder()
        .set_key(Some(key))
        .build()
        .map(|delete| {
            aws_sdk_dynamodb::types::WriteRequest::builder()
                .delete_request(delete)
                .build()
        })
        .map_err(StoreError::fault)
}

/// `{"S": value}`.
fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// A string attribute of an item (empty if absent or not a string).
fn string_of(item: &Item, name: &str) -> String {
    match item.get(name) {
        Some(AttributeValue::S(value)) => value.clone(),
        _ => String::new(),
    }
}

impl Store {
    /// A transaction action that puts `item` only if no item has its key. With
    /// `return_existing`, a failed condition hands back the item in the way (cancellation
    /// reasons carry it), which callers use to answer with what already exists.
    fn put_if_absent(
        &self,
        item: Item,
        return_existing: bool,
    ) -> Result<aws_sdk_dynamodb::types::TransactWriteItem, StoreError> {
        let mut put = aws_sdk_dynamodb::types::Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)");
        if return_existing {
            put = put.return_values_on_condition_check_failure(
                aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure::AllOld,
            );
        }
        Ok(aws_sdk_dynamodb::types::TransactWriteItem::builder()
            .put(put.build().map_err(StoreError::fault)?)
            .build())
    }

    /// A transaction action that only checks that the item at `key` exists.
    fn exists_check(
        &self,
        key: Item,
    ) -> Result<aws_sdk_dynamodb::types::TransactWriteItem, StoreError> {
        Ok(aws_sdk_dynamodb::types::TransactWriteItem::builder()
            .condition_check(
                aws_sdk_dynamodb::types::ConditionCheck::builder()
                    .table_name(&self.table)
                    .set_key(Some(key))
                    .condition_expression("attribute_exists(pk)")
                    .build()
                    .map_err(StoreError::fault)?,
            )
            .build())
    }

    /// Every item of `pk` whose sort key starts with `prefix`, following pages (for bounded
    /// collections: a channel's members or read markers, a user's partners).
    async fn query_all(&self, pk: String, prefix: &str) -> Result<Vec<Item>, StoreError> {
        self.query_all_of(pk, prefix, None).await
    }

    /// As `query_all`, reading back only `projection` when given (a fan-out's member ids).
    async fn query_all_of(
        &self,
        pk: String,
        prefix: &str,
        projection: Option<&str>,
    ) -> Result<Vec<Item>, StoreError> {
        // Consistent: a member who just joined is in the very next read.
        let query = self
            .prefix_query(pk, prefix)
            .set_projection_expression(projection.map(str::to_string));
        self.every_page(query).await
    }

    /// A consistent Query of the items of `pk` whose sort key starts with `prefix`.
    fn prefix_query(
        &self,
        pk: String,
        prefix: &str,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        self.client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":prefix", s(prefix))
            .consistent_read(true)
    }

    /// The first `limit` items of a partition's sort-key prefix, read consistently: a batch of
    /// work (a purge's next objects) where the rest waits for the next round.
    async fn query_first_page(
        &self,
        pk: String,
        prefix: &str,
        limit: i32,
    ) -> Result<Vec<Item>, StoreError> {
        let output = self
            .prefix_query(pk, prefix)
            .limit(limit)
            .send()
            .await
            .map_err(db_error)?;
        Ok(output.items.unwrap_or_default())
    }
}

mod tx;
use tx::{Commit, Transaction};

impl Store {
    /// One unconditional PutItem.
    async fn put(&self, item: Item) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(db_error)?;
        Ok(())
    }
}

/// A global secondary index of the table: its name and key attributes.
#[derive(Clone, Copy)]
pub(super) struct Gsi {
    name: &'static str,
    pk: &'static str,
    sk: &'static str,
}

/// The overloaded index: users, public channels, a user's channels by activity, threads,
/// requests by status.
pub(super) const BY_GSI1: Gsi = Gsi {
    name: keys::GSI1,
    pk: keys::GSI1_PK,
    sk: keys::GSI1_SK,
};
/// A channel's members by join time.
pub(super) const BY_GSI2: Gsi = Gsi {
    name: keys::GSI2,
    pk: keys::GSI2_PK,
    sk: keys::GSI2_SK,
};

impl Store {
    /// One page of an index partition, in key order (newest first when `descending`), each
    /// item read as `T`; the cursor is bound to `scope`.
    async fn index_page<T: serde::de::DeserializeOwned>(
        &self,
        index: Gsi,
        partition: String,
        scope: &str,
        page: &crate::domain::PageRequest,
        descending: bool,
    ) -> Result<crate::domain::Page<T>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index.name)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", index.pk)
            .expression_attribute_values(":pk", s(partition))
            .scan_index_forward(!descending);
        let (items, next_cursor) = self
            .query_page(
                query,
                scope,
                page,
                &[keys::PK, keys::SK, index.pk, index.sk],
            )
            .await?;
        let items = items
            .into_iter()
            .map(items::from_item)
            .collect::<Result<_, _>>()?;
        Ok(crate::domain::Page { items, next_cursor })
    }

    /// Every item a Query finds, following its pages (for bounded collections).
    async fn every_page(
        &self,
        query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let output = query
                .clone()
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(db_error)?;
            items.extend(output.items.unwrap_or_default());
            start = output.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }

    /// Runs one Query page of at most `page.limit()` items. It asks for one item more than it
    /// returns, so `next_cursor` is `None` exactly when nothing follows (no empty last page);
    /// the cursor is the key of the last item returned, signed and bound to `scope`.
    async fn query_page(
        &self,
        query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
        scope: &str,
        page: &crate::domain::PageRequest,
        key_attributes: &[&str],
    ) -> Result<(Vec<Item>, Option<String>), StoreError> {
        self.query_page_window(query, scope, page, key_attributes, 0)
            .await
    }

    /// As `query_page`, but evaluating up to `window` items (for filtered queries, whose
    /// matches are sparser than the items read). Still exactly one Query call.
    async fn query_page_window(
        &self,
        query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
        scope: &str,
        page: &crate::domain::PageRequest,
        key_attributes: &[&str],
        window: i32,
    ) -> Result<(Vec<Item>, Option<String>), StoreError> {
        let limit = page.limit().get();
        let start = match &page.cursor {
            Some(cursor) => Some(self.cursors.decode(scope, cursor)?),
            None => None,
        };
        let output = query
            .limit((limit + 1).max(window))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(db_error)?;
        let mut items = output.items.unwrap_or_default();
        let next = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(|last| {
                key_attributes
                    .iter()
                    .filter_map(|name| last.get(*name).map(|v| (name.to_string(), v.clone())))
                    .collect::<Item>()
            })
        } else {
            // Fewer items than asked: only the 1 MB page limit can leave more behind.
            output.last_evaluated_key
        };
        let cursor = match next {
            Some(key) => Some(self.cursors.encode(scope, &key)?),
            None => None,
        };
        Ok((items, cursor))
    }
}
