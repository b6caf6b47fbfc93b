use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};

use super::error::StoreError;
use super::items::{from_item, to_item, PartnerItem, RequestItem, UserItem};
use super::keys::{self, GSI1, GSI1_PK, GSI1_SK, PK, SK};
use super::{s, Commit, Store, Transaction};
use crate::domain::{
    Page, PageRequest, PairKey, PartnerRequest, Partnership, RateWindow, RequestStatus,
    StatusFilter, Timestamp, User, UserId,
};

/// Which side of a user's requests to list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestDirection {
    Received,
    Sent,
}

impl RequestDirection {
    fn incoming(self) -> bool {
        self == Self::Received
    }
}

/// How storing a new partner request ended.
#[derive(Debug, PartialEq, Eq)]
pub enum RequestInserted {
    Sent,
    /// The sender's account was deleted meanwhile.
    SenderGone,
    RecipientGone,
    AlreadyPartners,
    /// A request between the two is pending, in either direction.
    AlreadyPending,
    /// One of the two blocked the other.
    Blocked,
    /// The recipient refused (or the sender cancelled) a request of this sender less than
    /// `PARTNER_REQUEST_COOLDOWN` ago: not again before `until` (epoch seconds).
    Refused {
        until: i64,
    },
    /// Another request of the sender committed meanwhile (its window moved): check again.
    QuotaMoved,
}

/// How recording a response ended.
#[derive(Debug, PartialEq, Eq)]
pub enum ResponseRecorded {
    /// Stored; with the partnership it started when the request was accepted.
    Recorded(Option<Partnership>),
    /// Another response (or a cancel) got there first.
    NoLongerPending,
    /// The recipient accepting it no longer exists.
    RecipientGone,
    SenderGone,
    AlreadyPartners,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum InsertCheck {
    PairFree,
    SenderExists,
    RecipientExists,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum ResponseCheck {
    StillPending,
    NotYetPartners,
    SenderExists,
    RecipientExists,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum EndCheck {
    Partners,
}

/// After a request is rejected or cancelled, its sender cannot ask the same person again for
/// this long.
pub const PARTNER_REQUEST_COOLDOWN_SECONDS: i64 = 24 * 60 * 60;

/// The pair item's attribute holding until when `sender` may not ask the other again.
fn cooldown_attribute(sender: &UserId) -> String {
    format!("asks_again_after_{sender}")
}

fn request_item(request: &PartnerRequest, incoming: bool) -> RequestItem {
    let owner = if incoming {
        &request.recipient.id
    } else {
        &request.sender.id
    };
    RequestItem {
        pk: keys::user_pk(owner),
        sk: keys::request_sk(incoming, &request.id),
        gsi1pk: keys::request_status_pk(owner, incoming, request.status),
        gsi1sk: request.id.to_string(),
        entity: "partner_request".into(),
        id: request.id.clone(),
        sender_id: request.sender.id.clone(),
        sender_name: request.sender.name.clone(),
        recipient_id: request.recipient.id.clone(),
        recipient_name: request.recipient.name.clone(),
        status: request.status,
        message: request.message.clone(),
        created_at: request.created_at,
        responded_at: request.responded_at,
    }
}

impl Store {
    /// Stores a new pending request. One transaction claims the pair item (which holds at most
    /// one pending request and the partnership flag for the two users, in either direction),
    /// writes both parties' copies and checks both users still exist. Concurrent requests
    /// between the same two users therefore yield exactly one success.
    /// The sender's request window must still be `quota.0` (it moves to `quota.1`), and the
    /// sender must not be waiting out a refusal of the same recipient.
    pub async fn insert_request(
        &self,
        request: &PartnerRequest,
        quota: (RateWindow, RateWindow),
    ) -> Result<RequestInserted, StoreError> {
        let pair = PairKey::of(&request.sender.id, &request.recipient.id);
        let claim_pair = Update::builder()
            .table_name(&self.table)
            .set_key(Some(keys::pair_key(&pair)))
            .update_expression("SET pending_request_id = :id")
            .condition_expression(
                "attribute_not_exists(pending_request_id) AND attribute_not_exists(partners_since) AND attribute_not_exists(blocked_by) AND (attribute_not_exists(#cooldown) OR #cooldown <= :now)",
            )
            .expression_attribute_names("#cooldown", cooldown_attribute(&request.sender.id))
            .expression_attribute_values(
                ":now",
                AttributeValue::N(request.created_at.unix_seconds().to_string()),
            )
            .expression_attribute_values(":id", s(request.id.as_str()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(StoreError::fault)?;
        let mut tx = Transaction::new();
        tx.check(
            InsertCheck::PairFree,
            TransactWriteItem::builder().update(claim_pair).build(),
        )
        .invariant(self.put_if_absent(to_item(&request_item(request, true))?, false)?)
        .invariant(self.put_if_absent(to_item(&request_item(request, false))?, false)?)
        .check(
            InsertCheck::RecipientExists,
            self.exists_check(keys::user_key(&request.recipient.id))?,
        )
        .check(
            InsertCheck::SenderExists,
            self.count_request(&request.sender.id, quota)?,
        );
        let refused = match self.commit(tx).await? {
            Commit::Done => return Ok(RequestInserted::Sent),
            Commit::Refused(refused) => refused,
        };
        let cooldown = refused
            .item(InsertCheck::PairFree)
            .and_then(|pair| pair.get(&cooldown_attribute(&request.sender.id)))
            .and_then(|until| until.as_n().ok())
            .and_then(|until| until.parse::<i64>().ok())
            .filter(|until| *until > request.created_at.unix_seconds());
        Ok(if refused.item(InsertCheck::SenderExists).is_some() {
            RequestInserted::QuotaMoved
        } else if refused.failed(InsertCheck::SenderExists) {
            RequestInserted::SenderGone
        } else if refused.failed(InsertCheck::RecipientExists) {
            RequestInserted::RecipientGone
        } else if refused
            .item(InsertCheck::PairFree)
            .is_some_and(super::blocks::carries_block)
        {
            RequestInserted::Blocked
        } else if let Some(until) = cooldown {
            RequestInserted::Refused { until }
        } else if refused
            .item(InsertCheck::PairFree)
            .is_some_and(|pair| pair.contains_key("partners_since"))
        {
            RequestInserted::AlreadyPartners
        } else {
            RequestInserted::AlreadyPending
        })
    }

    /// The caller's profile and the request with this id *as seen by the caller*, in one
    /// BatchGetItem. A request the caller is not a party to is not found, by construction:
    /// only the parties' partitions hold it.
    pub async fn find_request_for(
        &self,
        caller: &UserId,
        id: &crate::domain::RequestId,
    ) -> Result<(Option<User>, Option<PartnerRequest>), StoreError> {
        let pk = keys::user_pk(caller);
        let items = self
            .batch_get(
                vec![
                    keys::user_key(caller),
                    keys::key(pk.clone(), keys::request_sk(true, id)),
                    keys::key(pk, keys::request_sk(false, id)),
                ],
                super::Read::Consistent,
            )
            .await?;
        let (mut user, mut request) = (None, None);
        for item in items {
            let is_profile =
                matches!(item.get(SK), Some(AttributeValue::S(sk)) if sk == keys::PROFILE);
            if is_profile {
                user = Some(User::from(from_item::<UserItem>(item)?));
            } else {
                request = Some(PartnerRequest::from(from_item::<RequestItem>(item)?));
            }
        }
        Ok((user, request))
    }

    /// Records a response (accept, reject or cancel) decided by the domain. Both copies must
    /// still be pending and the pair must still point at this request; on acceptance the
    /// partnership items are written in the same transaction. Of concurrent responses exactly
    /// one commits.
    pub async fn record_response(
        &self,
        updated: &PartnerRequest,
    ) -> Result<ResponseRecorded, StoreError> {
        let now = updated.responded_at.unwrap_or_else(Timestamp::now);
        let mut tx = Transaction::new();
        for action in self.request_status_updates(updated)? {
            tx.check(ResponseCheck::StillPending, action);
        }
        let (sender, recipient) = (&updated.sender.id, &updated.recipient.id);
        let accepted = updated.status == RequestStatus::Accepted;
        let release_pair = Update::builder()
            .table_name(&self.table)
            .set_key(Some(keys::pair_key(&PairKey::of(sender, recipient))))
            .condition_expression("pending_request_id = :id")
            .expression_attribute_values(":id", s(updated.id.as_str()));
        let release_pair = if accepted {
            release_pair
                .update_expression("REMOVE pending_request_id SET partners_since = :at")
                .expression_attribute_values(":at", s(now.to_string()))
        } else {
            // A refused or withdrawn request: its sender waits before asking the same person.
            let until = now.unix_seconds() + PARTNER_REQUEST_COOLDOWN_SECONDS;
            release_pair
                .update_expression("REMOVE pending_request_id SET #cooldown = :until")
                .expression_attribute_names("#cooldown", cooldown_attribute(sender))
                .expression_attribute_values(":until", AttributeValue::N(until.to_string()))
        };
        tx.check(
            ResponseCheck::StillPending,
            TransactWriteItem::builder()
                .update(release_pair.build().map_err(StoreError::fault)?)
                .build(),
        );
        if accepted {
            for (owner, other) in [(sender, recipient), (recipient, sender)] {
                let item = PartnerItem {
                    pk: keys::user_pk(owner),
                    sk: keys::partner_sk(other),
                    entity: "partnership".into(),
                    user_id: other.clone(),
                    since: now,
                };
                tx.check(
                    ResponseCheck::NotYetPartners,
                    self.put_if_absent(to_item(&item)?, false)?,
                );
            }
            tx.check(
                ResponseCheck::SenderExists,
                self.exists_check(keys::user_key(sender))?,
            )
            .check(
                ResponseCheck::RecipientExists,
                self.exists_check(keys::user_key(recipient))?,
            );
        }
        let refused = match self.commit(tx).await? {
            Commit::Done => {
                let partnership = accepted.then(|| Partnership::between(sender, recipient, now));
                return Ok(ResponseRecorded::Recorded(partnership));
            }
            Commit::Refused(refused) => refused,
        };
        Ok(if refused.failed(ResponseCheck::RecipientExists) {
            ResponseRecorded::RecipientGone
        } else if refused.failed(ResponseCheck::StillPending) {
            ResponseRecorded::NoLongerPending
        } else if refused.failed(ResponseCheck::SenderExists) {
            ResponseRecorded::SenderGone
        } else {
            ResponseRecorded::AlreadyPartners
        })
    }

    /// The request's update of its sender's profile: it exists and its request window is
    /// still as read (`quota.0`); it moves to `quota.1`. The item comes back when it fails.
    fn count_request(
        &self,
        sender: &UserId,
        quota: (RateWindow, RateWindow),
    ) -> Result<TransactWriteItem, StoreError> {
        self.window_update(
            keys::user_key(sender),
            super::limits::WindowAttributes::REQUESTS,
            quota,
            Vec::new(),
            "attribute_exists(pk)",
        )
    }

    /// The updates moving both copies of a pending request to `updated`'s status (each on
    /// condition that it is still pending).
    pub(super) fn request_status_updates(
        &self,
        updated: &PartnerRequest,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let now = updated.responded_at.unwrap_or_else(Timestamp::now);
        [true, false]
            .into_iter()
            .map(|incoming| {
                let view = request_item(updated, incoming);
                Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(keys::key(view.pk, view.sk)))
                    .update_expression(
                        "SET #status = :status, responded_at = :at, gsi1pk = :gsi1pk",
                    )
                    .condition_expression("#status = :pending")
                    .expression_attribute_names("#status", "status")
                    .expression_attribute_values(":status", s(updated.status.as_str()))
                    .expression_attribute_values(":pending", s(RequestStatus::Pending.as_str()))
                    .expression_attribute_values(":at", s(now.to_string()))
                    .expression_attribute_values(":gsi1pk", s(view.gsi1pk))
                    .build()
                    .map(|update| TransactWriteItem::builder().update(update).build())
                    .map_err(StoreError::fault)
            })
            .collect()
    }

    /// One page of a user's received or sent requests, newest first: all of them from the
    /// user's partition, or one status from GSI1.
    pub async fn list_requests(
        &self,
        owner: &UserId,
        direction: RequestDirection,
        filter: StatusFilter,
        page: &PageRequest,
    ) -> Result<Page<PartnerRequest>, StoreError> {
        let incoming = direction.incoming();
        let base = self
            .client
            .query()
            .table_name(&self.table)
            .scan_index_forward(false);
        let (query, scope, key_attributes): (_, _, &[&str]) = match filter {
            StatusFilter::All => (
                base.key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                    .expression_attribute_values(":pk", s(keys::user_pk(owner)))
                    .expression_attribute_values(":prefix", s(keys::request_prefix(incoming))),
                format!("requests:{incoming}:{owner}:all"),
                &[PK, SK],
            ),
            StatusFilter::Only(status) => (
                base.index_name(GSI1)
                    .key_condition_expression("gsi1pk = :pk")
                    .expression_attribute_values(
                        ":pk",
                        s(keys::request_status_pk(owner, incoming, status)),
                    ),
                format!("requests:{incoming}:{owner}:{status}"),
                &[PK, SK, GSI1_PK, GSI1_SK],
            ),
        };
        let (items, next_cursor) = self.query_page(query, &scope, page, key_attributes).await?;
        let items = items
            .into_iter()
            .map(|item| from_item::<RequestItem>(item).map(PartnerRequest::from))
            .collect::<Result<_, _>>()?;
        Ok(Page { items, next_cursor })
    }

    /// One page of a user's partners: `(partner id, since)`, in partner id order.
    pub async fn list_partners(
        &self,
        user: &UserId,
        page: &PageRequest,
    ) -> Result<Page<(UserId, Timestamp)>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(keys::user_pk(user)))
            .expression_attribute_values(":prefix", s(keys::PARTNER_PREFIX));
        let (items, next_cursor) = self
            .query_page(query, &format!("partners:{user}"), page, &[PK, SK])
            .await?;
        let items = items
            .into_iter()
            .map(|item| from_item::<PartnerItem>(item).map(|p| (p.user_id, p.since)))
            .collect::<Result<_, _>>()?;
        Ok(Page { items, next_cursor })
    }

    /// Every partner id of a user (one Query page holds about 10,000 of them).
    pub async fn partner_ids(&self, user: &UserId) -> Result<Vec<UserId>, StoreError> {
        self.query_all(keys::user_pk(user), keys::PARTNER_PREFIX)
            .await?
            .into_iter()
            .map(|item| from_item::<PartnerItem>(item).map(|p| p.user_id))
            .collect()
    }

    /// Which of `others` are partners of `user`: their partnership items in `user`'s
    /// partition, by one BatchGetItem per 100, sent at once (consistent: a partnership accepted
    /// a moment ago counts).
    pub async fn partners_among(
        &self,
        user: &UserId,
        others: &[UserId],
    ) -> Result<std::collections::HashSet<UserId>, StoreError> {
        let batches = others.chunks(100).map(|chunk| {
            let keys = chunk
                .iter()
                .map(|other| keys::partner_key(user, other))
                .collect();
            self.batch_get(keys, super::Read::Consistent)
        });
        futures::future::try_join_all(batches)
            .await?
            .into_iter()
            .flatten()
            .map(|item| from_item::<PartnerItem>(item).map(|p| p.user_id))
            .collect()
    }

    /// Ends a partnership: both sides and the pair flag go in one transaction. `false` when
    /// the two were not partners.
    pub async fn delete_partnership(
        &self,
        user: &UserId,
        other: &UserId,
    ) -> Result<bool, StoreError> {
        let delete = |owner: &UserId, partner: &UserId, must_exist: bool| {
            let mut delete = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(keys::partner_key(owner, partner)));
            if must_exist {
                delete = delete.condition_expression("attribute_exists(pk)");
            }
            delete
                .build()
                .map(|d| TransactWriteItem::builder().delete(d).build())
                .map_err(StoreError::fault)
        };
        let clear_pair = Update::builder()
            .table_name(&self.table)
            .set_key(Some(keys::pair_key(&PairKey::of(user, other))))
            .update_expression("REMOVE partners_since")
            .build()
            .map_err(StoreError::fault)?;
        let mut tx = Transaction::new();
        tx.check(EndCheck::Partners, delete(user, other, true)?)
            .unconditional(delete(other, user, false)?)
            .unconditional(TransactWriteItem::builder().update(clear_pair).build());
        Ok(matches!(self.commit(tx).await?, Commit::Done))
    }
}
