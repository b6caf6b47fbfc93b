use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Delete, ReturnValue, TransactWriteItem, Update};

use super::error::db_error;
use super::error::StoreError;
use super::items::{from_item, to_item, CredentialsItem, UserItem};
use super::keys::{self, ALL_USERS, CREDENTIALS, GSI1, PK, SK};
use super::sessions::{guarded, refused_profile, CallerWrite, SessionCondition};
use super::verification::EmailCodeItem;
use super::{s, Commit, Read, Store, Transaction};
use crate::domain::{
    CodePolicy, Email, Page, PageRequest, ProfileChanges, Session, User, UserId, VerificationCode,
};

/// How storing a new account ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Registration {
    Created,
    /// Another account has this email (compared normalized).
    EmailTaken,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum RegistrationCheck {
    EmailFree,
}

/// The check of a transaction made for a caller: its session is open.
#[derive(Clone, Copy, Debug, PartialEq)]
enum CallerCheck {
    SessionOpen,
}

impl Store {
    /// Stores a new user, its credentials and its email verification code in one
    /// transaction; the credentials item keyed by the normalized email makes the email unique.
    pub async fn create_user(
        &self,
        user: &User,
        password_hash: &str,
        code: VerificationCode,
        policy: CodePolicy,
    ) -> Result<Registration, StoreError> {
        let profile = UserItem {
            pk: keys::user_pk(&user.id),
            sk: keys::PROFILE.into(),
            gsi1pk: ALL_USERS.into(),
            gsi1sk: user.id.to_string(),
            entity: "user".into(),
            id: user.id.clone(),
            email: user.email.clone(),
            name: user.name.clone(),
            created_at: user.created_at,
            last_seen: None,
            connections: HashMap::new(),
            connection_tokens: HashMap::new(),
            session_epoch: 0,
            revoked_tokens: HashMap::new(),
            blocked_ids: Default::default(),
            requests_since: 0,
            requests: 0,
            email_verified: Some(false),
            email_notifications: None,
        };
        let credentials = CredentialsItem {
            pk: keys::credentials_pk(&user.email.normalized()),
            sk: CREDENTIALS.into(),
            entity: "credentials".into(),
            user_id: user.id.clone(),
            password_hash: password_hash.to_string(),
        };
        let code = EmailCodeItem::new(user, code, user.created_at, policy);
        let mut tx = Transaction::new();
        tx.invariant(self.put_if_absent(to_item(&profile)?, false)?)
            .invariant(self.email_code_put(&code)?)
            .check(
                RegistrationCheck::EmailFree,
                self.put_if_absent(to_item(&credentials)?, false)?,
            );
        Ok(match self.commit(tx).await? {
            Commit::Done => Registration::Created,
            Commit::Refused(_) => Registration::EmailTaken,
        })
    }

    pub async fn get_user(&self, id: &UserId) -> Result<Option<User>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(keys::user_key(id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(db_error)?;
        output
            .item
            .map(|item| from_item::<UserItem>(item).map(User::from))
            .transpose()
    }

    /// Many users by id, strongly consistent (an account deleted a moment ago is absent): one
    /// BatchGetItem per 100 ids, all sent at once (one round trip); unknown ids are absent.
    pub async fn get_users(&self, ids: &[UserId]) -> Result<HashMap<UserId, User>, StoreError> {
        self.users_by_id(ids, Read::Consistent).await
    }

    /// As `get_users`, eventually consistent, at half the read cost: for the names and
    /// presence shown in lists, where a change of the last second may show a moment late.
    pub async fn get_users_for_display(
        &self,
        ids: &[UserId],
    ) -> Result<HashMap<UserId, User>, StoreError> {
        self.users_by_id(ids, Read::Eventual).await
    }

    async fn users_by_id(
        &self,
        ids: &[UserId],
        read: Read,
    ) -> Result<HashMap<UserId, User>, StoreError> {
        Ok(self
            .get_profiles(ids, read)
            .await?
            .into_iter()
            .map(|item| {
                let user = User::from(item);
                (user.id.clone(), user)
            })
            .collect())
    }

    /// The profile items of `ids` (each read once), by one BatchGetItem per 100, sent at once.
    pub(super) async fn get_profiles(
        &self,
        ids: &[UserId],
        read: Read,
    ) -> Result<Vec<UserItem>, StoreError> {
        self.profile_items(ids, read, &[])
            .await?
            .into_iter()
            .map(from_item::<UserItem>)
            .collect()
    }

    /// The profile items of `ids` (each read once, only `attributes` when given), by one
    /// BatchGetItem per 100, sent at once.
    pub(super) async fn profile_items(
        &self,
        ids: &[UserId],
        read: Read,
        attributes: &[&str],
    ) -> Result<Vec<super::Item>, StoreError> {
        let mut unique: Vec<&UserId> = ids.iter().collect();
        unique.sort();
        unique.dedup();
        let batches = unique.chunks(100).map(|chunk| {
            let keys = chunk.iter().map(|id| keys::user_key(id)).collect();
            self.batch_get_only(keys, read, attributes)
        });
        Ok(futures::future::try_join_all(batches)
            .await?
            .into_iter()
            .flatten()
            .collect())
    }

    /// Applies `changes` to the caller's profile, if its session is open (the update never
    /// creates a profile).
    pub async fn update_profile(
        &self,
        id: &UserId,
        session: &Session,
        changes: &ProfileChanges,
    ) -> Result<CallerWrite<User>, StoreError> {
        let mut sets = Vec::new();
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::user_key(id)))
            .return_values(ReturnValue::AllNew);
        if let Some(name) = &changes.name {
            sets.push("#name = :name");
            update = update
                .expression_attribute_names("#name", "name")
                .expression_attribute_values(":name", s(name.as_str()));
        }
        if let Some(wanted) = changes.email_notifications {
            sets.push("email_notifications = :notify");
            update = update.expression_attribute_values(":notify", AttributeValue::Bool(wanted));
        }
        let update = update.update_expression(format!("SET {}", sets.join(", ")));
        let updated = guarded(SessionCondition::of(session).apply(update).send().await)?;
        Ok(match updated {
            CallerWrite::Done(output) => CallerWrite::Done(User::from(from_item::<UserItem>(
                output.attributes.unwrap_or_default(),
            )?)),
            CallerWrite::Refused(found) => CallerWrite::Refused(found),
        })
    }

    /// Deletes the profile and the credentials together, if the caller's session is open.
    /// From then on the user's tokens are refused (every authenticated route reads the
    /// profile) and the email can register again.
    pub async fn delete_user(
        &self,
        user: &User,
        session: &Session,
    ) -> Result<CallerWrite<()>, StoreError> {
        let profile = SessionCondition::of(session).apply_to_delete(
            Delete::builder()
                .table_name(&self.table)
                .set_key(Some(keys::user_key(&user.id))),
        );
        let credentials = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(self.credentials_key(&user.email)));
        let action = |delete: aws_sdk_dynamodb::types::builders::DeleteBuilder| {
            Ok::<_, StoreError>(
                TransactWriteItem::builder()
                    .delete(delete.build().map_err(StoreError::fault)?)
                    .build(),
            )
        };
        let mut tx = Transaction::new();
        tx.check(CallerCheck::SessionOpen, action(profile)?)
            .unconditional(action(credentials)?);
        self.commit_for_caller(tx, ()).await
    }

    /// Replaces the password hash and ends every other session (the epoch moves on), if the
    /// caller's session is open; the new epoch back, for the caller's new token.
    pub async fn change_password(
        &self,
        user: &User,
        session: &Session,
        password_hash: &str,
    ) -> Result<CallerWrite<u32>, StoreError> {
        let next = session.epoch + 1;
        let profile = SessionCondition::of(session).apply_to_update(
            Update::builder()
                .table_name(&self.table)
                .set_key(Some(keys::user_key(&user.id)))
                // `#sep` and `#revoked` are named by the session condition.
                .update_expression("SET #sep = :next, #revoked = :none")
                .expression_attribute_values(":next", AttributeValue::N(next.to_string()))
                .expression_attribute_values(":none", AttributeValue::M(HashMap::new())),
        );
        // The credentials are the account's: only a broken invariant fails this condition.
        let credentials = Update::builder()
            .table_name(&self.table)
            .set_key(Some(self.credentials_key(&user.email)))
            .update_expression("SET password_hash = :hash")
            .condition_expression("user_id = :user")
            .expression_attribute_values(":hash", s(password_hash))
            .expression_attribute_values(":user", s(user.id.as_str()));
        let action = |update: aws_sdk_dynamodb::types::builders::UpdateBuilder| {
            Ok::<_, StoreError>(
                TransactWriteItem::builder()
                    .update(update.build().map_err(StoreError::fault)?)
                    .build(),
            )
        };
        let mut tx = Transaction::new();
        tx.check(CallerCheck::SessionOpen, action(profile)?)
            .invariant(action(credentials)?);
        self.commit_for_caller(tx, next).await
    }

    /// Commits a transaction whose only check is the caller's session.
    async fn commit_for_caller<T>(
        &self,
        tx: Transaction<CallerCheck>,
        done: T,
    ) -> Result<CallerWrite<T>, StoreError> {
        Ok(match self.commit(tx).await? {
            Commit::Done => CallerWrite::Done(done),
            Commit::Refused(refused) => CallerWrite::Refused(refused_profile(
                refused.item(CallerCheck::SessionOpen).cloned(),
            )?),
        })
    }

    pub(super) fn credentials_key(&self, email: &Email) -> super::Item {
        keys::key(keys::credentials_pk(&email.normalized()), CREDENTIALS)
    }

    /// Every user, oldest first (ids are time-ordered), one page per call.
    pub async fn list_users(&self, page: &PageRequest) -> Result<Page<User>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI1)
            .key_condition_expression("gsi1pk = :all")
            .expression_attribute_values(":all", AttributeValue::S(ALL_USERS.into()));
        let (items, next_cursor) = self
            .query_page(
                query,
                "users",
                page,
                &[PK, SK, keys::GSI1_PK, keys::GSI1_SK],
            )
            .await?;
        let items = items
            .into_iter()
            .map(|item| from_item::<UserItem>(item).map(User::from))
            .collect::<Result<_, _>>()?;
        Ok(Page { items, next_cursor })
    }
}
