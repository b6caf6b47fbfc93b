use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
    Update,
};

use super::items::{from_item, to_item, PartnerItem, RequestItem, UserItem};
use super::keys::{self, GSI1, GSI1_PK, GSI1_SK, PK, SK};
use super::tx::{failed_conditions, TxError};
use super::{s, Store};
use crate::domain::{
    Page, PageRequest, PairKey, PartnerRequest, Partnership, RequestStatus, StatusFilter,
    Timestamp, User, UserId,
};
use crate::error::AppError;

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
    fn user_must_exist(&self, user: &UserId) -> Result<TransactWriteItem, AppError> {
        Ok(TransactWriteItem::builder()
            .condition_check(
                ConditionCheck::builder()
                    .table_name(&self.table)
                    .set_key(Some(keys::user_key(user)))
                    .condition_expression("attribute_exists(pk)")
                    .build()
                    .map_err(AppError::internal)?,
            )
            .build())
    }

    /// Stores a new pending request. One transaction claims the pair item (which holds at most
    /// one pending request and the partnership flag for the two users, in either direction),
    /// writes both parties' copies and checks both users still exist. Concurrent requests
    /// between the same two users therefore yield exactly one success.
    pub async fn insert_request(&self, request: &PartnerRequest) -> Result<(), AppError> {
        let pair = PairKey::of(&request.sender.id, &request.recipient.id);
        let claim_pair = Update::builder()
            .table_name(&self.table)
            .set_key(Some(keys::pair_key(&pair)))
            .update_expression("SET pending_request_id = :id")
            .condition_expression(
                "attribute_not_exists(pending_request_id) AND attribute_not_exists(partners_since)",
            )
            .expression_attribute_values(":id", s(request.id.as_str()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(AppError::internal)?;
        let actions = vec![
            TransactWriteItem::builder().update(claim_pair).build(),
            self.put_if_absent(to_item(&request_item(request, true))?, false)?,
            self.put_if_absent(to_item(&request_item(request, false))?, false)?,
            self.user_must_exist(&request.recipient.id)?,
            self.user_must_exist(&request.sender.id)?,
        ];
        match self.transact(actions).await {
            Ok(()) => Ok(()),
            Err(TxError::ConditionFailed(reasons)) => {
                let failed = failed_conditions(&reasons);
                if failed.contains(&4) {
                    Err(AppError::Unauthorized("the account no longer exists"))
                } else if failed.contains(&3) {
                    Err(AppError::not_found("user not found"))
                } else if failed.contains(&0) {
                    let already_partners = reasons[0]
                        .item()
                        .is_some_and(|old| old.contains_key("partners_since"));
                    Err(AppError::conflict(if already_partners {
                        "you are already partners"
                    } else {
                        "a pending partner request already exists between you"
                    }))
                } else {
                    Err(AppError::internal("partner request id collision"))
                }
            }
            Err(TxError::Other(err)) => Err(err),
        }
    }

    /// The caller's profile and the request with this id *as seen by the caller*, in one
    /// BatchGetItem. A request the caller is not a party to is not found, by construction:
    /// only the parties' partitions hold it.
    pub async fn find_request_for(
        &self,
        caller: &UserId,
        id: &crate::domain::RequestId,
    ) -> Result<(Option<User>, Option<PartnerRequest>), AppError> {
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
    /// one commits; the others get 409.
    pub async fn record_response(
        &self,
        updated: &PartnerRequest,
    ) -> Result<Option<Partnership>, AppError> {
        let now = updated.responded_at.unwrap_or_else(Timestamp::now);
        // Action order matters: failures are reported by index below.
        // 0, 1: both copies; 2: pair; on acceptance 3, 4: partnership sides; 5: sender exists;
        // 6: recipient exists.
        let mut actions = Vec::with_capacity(8);
        for incoming in [true, false] {
            let view = request_item(updated, incoming);
            let update = Update::builder()
                .table_name(&self.table)
                .set_key(Some(keys::key(view.pk, view.sk)))
                .update_expression("SET #status = :status, responded_at = :at, gsi1pk = :gsi1pk")
                .condition_expression("#status = :pending")
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":status", s(updated.status.as_str()))
                .expression_attribute_values(":pending", s(RequestStatus::Pending.as_str()))
                .expression_attribute_values(":at", s(now.to_string()))
                .expression_attribute_values(":gsi1pk", s(view.gsi1pk))
                .build()
                .map_err(AppError::internal)?;
            actions.push(TransactWriteItem::builder().update(update).build());
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
            release_pair.update_expression("REMOVE pending_request_id")
        };
        actions.push(
            TransactWriteItem::builder()
                .update(release_pair.build().map_err(AppError::internal)?)
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
                actions.push(self.put_if_absent(to_item(&item)?, false)?);
            }
            actions.push(self.user_must_exist(sender)?);
            actions.push(self.user_must_exist(recipient)?);
        }
        match self.transact(actions).await {
            Ok(()) => Ok(accepted.then(|| Partnership::between(sender, recipient, now))),
            Err(TxError::ConditionFailed(reasons)) => {
                let failed = failed_conditions(&reasons);
                if failed.contains(&6) {
                    Err(AppError::Unauthorized("the account no longer exists"))
                } else if failed.iter().any(|&i| i <= 2) {
                    Err(PartnerRequest::no_longer_pending())
                } else if failed.contains(&5) {
                    Err(AppError::not_found(
                        "the sender of this request no longer exists",
                    ))
                } else {
                    Err(AppError::conflict("you are already partners"))
                }
            }
            Err(TxError::Other(err)) => Err(err),
        }
    }

    /// One page of a user's received or sent requests, newest first: all of them from the
    /// user's partition, or one status from GSI1.
    pub async fn list_requests(
        &self,
        owner: &UserId,
        direction: RequestDirection,
        filter: StatusFilter,
        page: &PageRequest,
    ) -> Result<Page<PartnerRequest>, AppError> {
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
    ) -> Result<Page<(UserId, Timestamp)>, AppError> {
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
    pub async fn partner_ids(&self, user: &UserId) -> Result<Vec<UserId>, AppError> {
        self.query_all(keys::user_pk(user), keys::PARTNER_PREFIX)
            .await?
            .into_iter()
            .map(|item| from_item::<PartnerItem>(item).map(|p| p.user_id))
            .collect()
    }

    /// Ends a partnership: both sides and the pair flag go in one transaction. 404 when the
    /// two are not partners.
    pub async fn delete_partnership(&self, user: &UserId, other: &UserId) -> Result<(), AppError> {
        let delete = |owner: &UserId, partner: &UserId, must_exist: bool| {
            let mut delete = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(keys::key(
                    keys::user_pk(owner),
                    keys::partner_sk(partner),
                )));
            if must_exist {
                delete = delete.condition_expression("attribute_exists(pk)");
            }
            delete
                .build()
                .map(|d| TransactWriteItem::builder().delete(d).build())
                .map_err(AppError::internal)
        };
        let clear_pair = Update::builder()
            .table_name(&self.table)
            .set_key(Some(keys::pair_key(&PairKey::of(user, other))))
            .update_expression("REMOVE partners_since")
            .build()
            .map_err(AppError::internal)?;
        let actions = vec![
            delete(user, other, true)?,
            delete(other, user, false)?,
            TransactWriteItem::builder().update(clear_pair).build(),
        ];
        match self.transact(actions).await {
            Ok(()) => Ok(()),
            Err(TxError::ConditionFailed(_)) => Err(AppError::not_found("you are not partners")),
            Err(TxError::Other(err)) => Err(err),
        }
    }
}
