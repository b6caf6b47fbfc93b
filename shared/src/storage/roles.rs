//! Channel settings and roles: what the owner and admins change. Each change is one
//! transaction conditional on the roles it was decided on (as read), so two managers racing
//! cannot both win where only one may; a change whose premises moved comes back `Stale`, and
//! the service decides again on a fresh read.
//!
//! The channel item carries one attribute per admin (`admin#<user id>` = when the admin
//! joined), kept in step by the same transactions, so whoever takes over from a leaving owner
//! is known from the channel read alone.

use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, Put, TransactWriteItem, Update,
};

use super::error::StoreError;
use super::keys;
use super::{s, string_of, Commit, Item, Store, Transaction};
use crate::domain::{ChannelId, ChannelSettings, MemberRole, Membership, Timestamp, UserId};

/// How a managing change ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Managed {
    Done,
    /// A role it was decided on changed (or a member left) since the read: decide again.
    Stale,
    /// The channel was deleted meanwhile.
    ChannelGone,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum ManageCheck {
    /// The channel exists and is not deleted.
    ChannelLive,
    /// A membership still has the role it was read with.
    RoleAsRead,
}

/// How long a removal's mark outlives it (the stream delivers within a day).
const REMOVAL_MARK_DAYS: i64 = 7;

/// The admins of a channel item (`admin#<user>` attributes), as memberships.
pub(super) fn channel_admins(item: &Item) -> Vec<Membership> {
    let channel = string_of(item, "id");
    let Some(channel_id) = ChannelId::parse(&channel) else {
        return Vec::new();
    };
    item.iter()
        .filter_map(|(name, value)| {
            let user_id = UserId::parse(name.strip_prefix(keys::ADMIN_PREFIX)?)?;
            let joined_at = match value {
                AttributeValue::S(at) => Timestamp::parse(at)?,
                _ => return None,
            };
            Some(Membership {
                channel_id: channel_id.clone(),
                user_id,
                role: MemberRole::Admin,
                joined_at,
            })
        })
        .collect()
}

impl Store {
    fn role_condition(&self, membership: &Membership) -> Result<TransactWriteItem, StoreError> {
        Ok(TransactWriteItem::builder()
            .condition_check(
                ConditionCheck::builder()
                    .table_name(&self.table)
                    .set_key(Some(keys::member_key(
                        &membership.channel_id,
                        &membership.user_id,
                    )))
                    .condition_expression("#role = :role")
                    .expression_attribute_names("#role", "role")
                    .expression_attribute_values(":role", s(membership.role.as_str()))
                    .build()
                    .map_err(StoreError::fault)?,
            )
            .build())
    }

    /// A membership's role moves from the one it was read with to `to`.
    fn role_change(
        &self,
        membership: &Membership,
        to: MemberRole,
    ) -> Result<TransactWriteItem, StoreError> {
        Ok(TransactWriteItem::builder()
            .update(
                Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(keys::member_key(
                        &membership.channel_id,
                        &membership.user_id,
                    )))
                    .update_expression("SET #role = :to")
                    .condition_expression("#role = :from")
                    .expression_attribute_names("#role", "role")
                    .expression_attribute_values(":from", s(membership.role.as_str()))
                    .expression_attribute_values(":to", s(to.as_str()))
                    .build()
                    .map_err(StoreError::fault)?,
            )
            .build())
    }

    /// The channel item's update that keeps its admin attributes in step: `admins` become
    /// admins, `not_admins` stop being admins; `count` moves the member count.
    fn channel_roles_update(
        &self,
        channel: &ChannelId,
        admins: &[&Membership],
        not_admins: &[&UserId],
        count: i32,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut sets = Vec::new();
        let mut removes = Vec::new();
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(keys::channel_key(channel)))
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(deleted_at)");
        for (n, admin) in admins.iter().enumerate() {
            sets.push(format!("#admin{n} = :joined{n}"));
            update = update
                .expression_attribute_names(
                    format!("#admin{n}"),
                    keys::admin_attribute(&admin.user_id),
                )
                .expression_attribute_values(format!(":joined{n}"), s(admin.joined_at.to_string()));
        }
        for (n, user) in not_admins.iter().enumerate() {
            removes.push(format!("#former{n}"));
            update = update
                .expression_attribute_names(format!("#former{n}"), keys::admin_attribute(user));
        }
        if count != 0 {
            sets.push("member_count = member_count + :count".into());
            update =
                update.expression_attribute_values(":count", AttributeValue::N(count.to_string()));
        }
        let mut expression = String::new();
        if !sets.is_empty() {
            expression.push_str(&format!("SET {}", sets.join(", ")));
        }
        if !removes.is_empty() {
            expression.push_str(&format!(" REMOVE {}", removes.join(", ")));
        }
        Ok(TransactWriteItem::builder()
            .update(
                update
                    .update_expression(expression.trim())
                    .build()
                    .map_err(StoreError::fault)?,
            )
            .build())
    }

    /// A membership is deleted (its read marker with it), on condition that it still has
    /// the role it was read with.
    fn membership_delete(
        &self,
        tx: &mut Transaction<ManageCheck>,
        membership: &Membership,
    ) -> Result<(), StoreError> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(keys::member_key(
                &membership.channel_id,
                &membership.user_id,
            )))
            .condition_expression("#role = :role")
            .expression_attribute_names("#role", "role")
            .expression_attribute_values(":role", s(membership.role.as_str()))
            .build()
            .map_err(StoreError::fault)?;
        tx.check(
            ManageCheck::RoleAsRead,
            TransactWriteItem::builder().delete(delete).build(),
        );
        Ok(())
    }

    async fn commit_managed(&self, tx: Transaction<ManageCheck>) -> Result<Managed, StoreError> {
        Ok(match self.commit(tx).await? {
            Commit::Done => Managed::Done,
            Commit::Refused(refused) if refused.failed(ManageCheck::ChannelLive) => {
                Managed::ChannelGone
            }
            Commit::Refused(_) => Managed::Stale,
        })
    }

    /// `PATCH /channels/{id}`: the settings given change, while `by` still manages the
    /// channel; a channel made public joins the public index, one made private leaves it.
    pub async fn update_channel_settings(
        &self,
        by: &Membership,
        settings: &ChannelSettings,
    ) -> Result<Managed, StoreError> {
        let mut sets = Vec::new();
        let mut removes = Vec::new();
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(keys::channel_key(&by.channel_id)))
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(deleted_at)");
        if let Some(name) = &settings.name {
            sets.push("#name = :name");
            update = update
                .expression_attribute_names("#name", "name")
                .expression_attribute_values(":name", s(name.as_str()));
        }
        if let Some(description) = &settings.description {
            sets.push("description = :description");
            update = update.expression_attribute_values(":description", s(description.as_str()));
        }
        if let Some(seconds) = settings.slow_mode_seconds {
            sets.push("slow_mode_seconds = :slow");
            update =
                update.expression_attribute_values(":slow", AttributeValue::N(seconds.to_string()));
        }
        if let Some(private) = settings.private {
            sets.push("#private = :private");
            update = update
                .expression_attribute_names("#private", "private")
                .expression_attribute_values(":private", AttributeValue::Bool(private));
            if private {
                removes.push("gsi1pk, gsi1sk");
            } else {
                sets.push("gsi1pk = :public, gsi1sk = :id");
                update = update
                    .expression_attribute_values(":public", s(keys::PUBLIC_CHANNELS))
                    .expression_attribute_values(":id", s(by.channel_id.to_string()));
            }
        }
        let mut expression = format!("SET {}", sets.join(", "));
        if !removes.is_empty() {
            expression.push_str(&format!(" REMOVE {}", removes.join(", ")));
        }
        let mut tx = Transaction::new();
        tx.check(
            ManageCheck::ChannelLive,
            TransactWriteItem::builder()
                .update(
                    update
                        .update_expression(expression)
                        .build()
                        .map_err(StoreError::fault)?,
                )
                .build(),
        )
        .check(ManageCheck::RoleAsRead, self.role_condition(by)?);
        self.commit_managed(tx).await
    }

    /// The owner gives `target` the role `role` (`admin` or `member`).
    pub async fn set_member_role(
        &self,
        owner: &Membership,
        target: &Membership,
        role: MemberRole,
    ) -> Result<Managed, StoreError> {
        let becoming = Membership {
            role,
            ..target.clone()
        };
        let (admins, former): (Vec<&Membership>, Vec<&UserId>) = match role {
            MemberRole::Admin => (vec![&becoming], vec![]),
            _ => (vec![], vec![&target.user_id]),
        };
        let mut tx = Transaction::new();
        tx.check(ManageCheck::RoleAsRead, self.role_condition(owner)?)
            .check(ManageCheck::RoleAsRead, self.role_change(target, role)?)
            .check(
                ManageCheck::ChannelLive,
                self.channel_roles_update(&owner.channel_id, &admins, &former, 0)?,
            );
        self.commit_managed(tx).await
    }

    /// The owner hands the channel to `target`; the old owner becomes an admin.
    pub async fn transfer_ownership(
        &self,
        owner: &Membership,
        target: &Membership,
    ) -> Result<Managed, StoreError> {
        let former_owner = Membership {
            role: MemberRole::Admin,
            ..owner.clone()
        };
        let mut tx = Transaction::new();
        tx.check(
            ManageCheck::RoleAsRead,
            self.role_change(owner, MemberRole::Admin)?,
        )
        .check(
            ManageCheck::RoleAsRead,
            self.role_change(target, MemberRole::Owner)?,
        )
        .check(
            ManageCheck::ChannelLive,
            self.channel_roles_update(&owner.channel_id, &[&former_owner], &[&target.user_id], 0)?,
        );
        self.commit_managed(tx).await
    }

    /// `by` (the owner or an admin) removes `target`: the membership goes, the count drops,
    /// and a removal mark is left, by which the stream tells this from a leave.
    pub async fn remove_member_by(
        &self,
        by: &Membership,
        target: &Membership,
        now: Timestamp,
    ) -> Result<Managed, StoreError> {
        let key = keys::removal_key(&target.channel_id, &target.user_id, &target.joined_at);
        let mut mark = key.clone();
        mark.insert("entity".into(), s("removal"));
        mark.insert("removed_by".into(), s(by.user_id.to_string()));
        mark.insert("removed_at".into(), s(now.to_string()));
        mark.insert(
            keys::TTL.into(),
            AttributeValue::N((now.unix_seconds() + REMOVAL_MARK_DAYS * 86_400).to_string()),
        );
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(mark))
            .build()
            .map_err(StoreError::fault)?;
        let mut tx = Transaction::new();
        self.membership_delete(&mut tx, target)?;
        tx.check(ManageCheck::RoleAsRead, self.role_condition(by)?)
            .check(
                ManageCheck::ChannelLive,
                self.channel_roles_update(&by.channel_id, &[], &[&target.user_id], -1)?,
            )
            .unconditional(TransactWriteItem::builder().put(put).build());
        self.commit_managed(tx).await
    }

    /// The owner leaves, and `successor` becomes the owner in the same write: the channel is
    /// never without one.
    pub async fn hand_over(
        &self,
        owner: &Membership,
        successor: &Membership,
    ) -> Result<Managed, StoreError> {
        let mut tx = Transaction::new();
        self.membership_delete(&mut tx, owner)?;
        tx.check(
            ManageCheck::RoleAsRead,
            self.role_change(successor, MemberRole::Owner)?,
        )
        .check(
            ManageCheck::ChannelLive,
            self.channel_roles_update(&owner.channel_id, &[], &[&successor.user_id], -1)?,
        );
        self.commit_managed(tx).await
    }

    /// Whether the membership `membership` was ended by a removal (its mark exists), not a
    /// leave.
    pub async fn was_removed(&self, membership: &Membership) -> Result<bool, StoreError> {
        let key = keys::removal_key(
            &membership.channel_id,
            &membership.user_id,
            &membership.joined_at,
        );
        let found = self.batch_get(vec![key], super::Read::Consistent).await?;
        Ok(!found.is_empty())
    }
}
