//! The search index: one small item per (message, indexed word) in the channel's partition
//! (`keys::word_key`), written by the event router off the stream, read by searches.

use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};

use super::error::{db_error, StoreError};
use super::keys::{self, SK};
use super::{s, string_of, Item, Read, Store};
use crate::domain::{ChannelId, IndexChange, Message, MessageId};

/// Index items a prefix lookup reads in one channel at most (a prefix's matches come by
/// word, not by time, so all of them are read and sorted; a prefix this common is cut).
pub const PREFIX_READ_MAX: usize = 1_000;

/// Candidates of one channel, newest first.
#[derive(Debug, Default)]
pub struct WordMatches {
    pub messages: Vec<MessageId>,
    /// More may follow below the last one (a lookup's next read goes on from there).
    pub more: bool,
}

impl Store {
    /// Applies an index change of one message: puts and deletes, unconditional, so a
    /// redelivered change writes the same items again.
    pub async fn update_search_index(
        &self,
        channel: &ChannelId,
        message: &MessageId,
        change: &IndexChange,
    ) -> Result<(), StoreError> {
        let puts = change.add.iter().map(|word| {
            let mut item = keys::word_key(channel, word, message);
            item.insert("entity".into(), s("search_word"));
            PutRequest::builder()
                .set_item(Some(item))
                .build()
                .map(|put| WriteRequest::builder().put_request(put).build())
                .map_err(StoreError::fault)
        });
        let deletes = change
            .remove
            .iter()
            .map(|word| super::delete_request(keys::word_key(channel, word, message)));
        let requests = puts.chain(deletes).collect::<Result<Vec<_>, _>>()?;
        self.batch_write(requests).await
    }

    /// Up to `limit` messages of `channel` holding the whole `word`, newest first, older than
    /// `before` when given; `more` when more may follow.
    pub async fn word_matches(
        &self,
        channel: &ChannelId,
        word: &str,
        before: Option<&MessageId>,
        limit: usize,
    ) -> Result<WordMatches, StoreError> {
        let start = keys::word_sk_start(word, true);
        // BETWEEN is inclusive: the message the range ends at is dropped below.
        let end = match before {
            Some(before) => format!("{start}{before}"),
            None => format!("{start}~"),
        };
        let output = self
            .index_range(channel, &start, &end)
            .limit(limit as i32 + 1)
            .send()
            .await
            .map_err(db_error)?;
        let more = output.last_evaluated_key.is_some();
        let messages = messages_of(output.items.unwrap_or_default())
            .filter(|id| Some(id) != before)
            .take(limit)
            .collect();
        Ok(WordMatches { messages, more })
    }

    /// The messages of `channel` holding a longer word that begins with `prefix` (`fri` →
    /// `friday`, `friend`), newest first, older than `before`. The index orders them by word,
    /// not by time, so they are read whole (each word newest first) and sorted, up to
    /// `PREFIX_READ_MAX` index items: a prefix that common is read in part.
    pub async fn extension_matches(
        &self,
        channel: &ChannelId,
        prefix: &str,
        before: Option<&MessageId>,
    ) -> Result<Vec<MessageId>, StoreError> {
        // Longer words continue with a letter or digit, all of which sort after the `#` that
        // ends the whole word's keys.
        let start = format!("{}0", keys::word_sk_start(prefix, false));
        let end = format!("{}\u{10FFFF}", keys::word_sk_start(prefix, false));
        let mut found = Vec::new();
        let mut from = None;
        loop {
            let output = self
                .index_range(channel, &start, &end)
                .limit((PREFIX_READ_MAX - found.len()) as i32)
                .set_exclusive_start_key(from)
                .send()
                .await
                .map_err(db_error)?;
            found.extend(messages_of(output.items.unwrap_or_default()));
            from = output.last_evaluated_key;
            if from.is_none() || found.len() >= PREFIX_READ_MAX {
                if from.is_some() {
                    tracing::info!(%channel, prefix, "a prefix search was cut at PREFIX_READ_MAX");
                }
                found.retain(|id| before.is_none_or(|before| id < before));
                found.sort_unstable_by(|a, b| b.cmp(a));
                found.dedup();
                return Ok(found);
            }
        }
    }

    /// A Query of the index entries of `channel` between two sort keys, newest (highest)
    /// first, keys only.
    fn index_range(
        &self,
        channel: &ChannelId,
        start: &str,
        end: &str,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        self.client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND sk BETWEEN :start AND :end")
            .expression_attribute_values(":pk", s(keys::channel_pk(channel)))
            .expression_attribute_values(":start", s(start))
            .expression_attribute_values(":end", s(end))
            .projection_expression("sk")
            .scan_index_forward(false)
    }

    /// Messages by (channel, id), one BatchGetItem per 100, in no particular order; missing
    /// ones left out.
    pub async fn get_messages(
        &self,
        ids: &[(ChannelId, MessageId)],
    ) -> Result<Vec<Message>, StoreError> {
        let batches = ids.chunks(100).map(|chunk| {
            let keys = chunk
                .iter()
                .map(|(channel, id)| keys::message_key(channel, id))
                .collect();
            self.batch_get(keys, Read::Eventual)
        });
        futures::future::try_join_all(batches)
            .await?
            .into_iter()
            .flatten()
            .map(super::messages::message_from)
            .collect()
    }

    /// The cursor of a search page that ended at `last` (bound to `scope`: the caller and
    /// the query).
    pub fn search_cursor(&self, scope: &str, last: &MessageId) -> Result<String, StoreError> {
        let key = Item::from([("m".to_string(), s(last.as_str()))]);
        self.cursors.encode(scope, &key)
    }

    /// The message a search cursor continues below.
    pub fn search_continues_below(
        &self,
        scope: &str,
        cursor: &str,
    ) -> Result<MessageId, StoreError> {
        let key = self.cursors.decode(scope, cursor)?;
        MessageId::parse(&string_of(&key, "m"))
            .ok_or(StoreError::Cursor(super::error::CursorRejected::Invalid))
    }
}

fn messages_of(items: Vec<Item>) -> impl Iterator<Item = MessageId> {
    items.into_iter().filter_map(|item| {
        keys::message_of_word_sk(&string_of(&item, SK)).and_then(MessageId::parse)
    })
}
