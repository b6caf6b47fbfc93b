//! Purges for the maintenance worker: a deleted channel's items, and what a deleted account
//! leaves in its own partition. Each call deletes one bounded page, so a job runs in steps and
//! a redelivered job simply continues with what is left.

use super::error::db_error;
use super::error::StoreError;
use super::keys::{self, PK, SK};
use super::{s, string_of, Item, Store};
use crate::domain::{ChannelId, UserId};

/// Items read and deleted per step (four BatchWriteItem calls of 25).
const PAGE: i32 = 100;

/// What one purge step did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Purged {
    pub deleted: usize,
    /// Nothing is left.
    pub done: bool,
}

impl Store {
    /// Deletes up to one page of a deleted channel's items (messages, members, claims,
    /// markers); the channel item itself goes last, so the channel stays "deleted" (not
    /// unknown) until everything else is gone.
    pub async fn purge_channel_step(&self, channel: &ChannelId) -> Result<Purged, StoreError> {
        let items = self.first_items(keys::channel_pk(channel)).await?;
        let (meta, rest): (Vec<Item>, Vec<Item>) = items
            .into_iter()
            .partition(|item| string_of(item, SK) == keys::CHANNEL_META);
        if rest.is_empty() {
            self.delete_keys(meta.iter().map(key_of).collect()).await?;
            return Ok(Purged {
                deleted: meta.len(),
                done: true,
            });
        }
        let deleted = rest.len();
        self.delete_keys(rest.iter().map(key_of).collect()).await?;
        Ok(Purged {
            deleted,
            done: false,
        })
    }

    /// Deletes up to one page of what is left in a deleted account's partition (request
    /// copies, partnership halves; the profile went with the account).
    pub async fn purge_user_partition_step(&self, user: &UserId) -> Result<Purged, StoreError> {
        let items = self.first_items(keys::user_pk(user)).await?;
        let deleted = items.len();
        self.delete_keys(items.iter().map(key_of).collect()).await?;
        // Done only when a step finds nothing: a short page may be a Query cut at 1 MB.
        Ok(Purged {
            deleted,
            done: deleted == 0,
        })
    }

    async fn first_items(&self, pk: String) -> Result<Vec<Item>, StoreError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(pk))
            .projection_expression("pk, sk")
            .consistent_read(true)
            .limit(PAGE)
            .send()
            .await
            .map_err(db_error)?;
        Ok(output.items.unwrap_or_default())
    }

    /// BatchWriteItem deletes, 25 per call, retrying unprocessed ones.
    async fn delete_keys(&self, keys: Vec<Item>) -> Result<(), StoreError> {
        let deletes = keys
            .into_iter()
            .map(super::delete_request)
            .collect::<Result<_, _>>()?;
        self.batch_write(deletes).await
    }
}

fn key_of(item: &Item) -> Item {
    item.iter()
        .filter(|(name, _)| name.as_str() == PK || name.as_str() == SK)
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect()
}
