use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Delete, ReturnValue, TransactWriteItem};

use super::error::StoreError;
use super::error::{db_error, is_condition_failure};
use super::items::{from_item, to_item, CredentialsItem, UserItem};
use super::keys::{self, ALL_USERS, CREDENTIALS, GSI1, PK, SK};
use super::{s, Commit, Read, Store, Transaction};
use crate::domain::{Email, Page, PageRequest, User, UserId, UserName};

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

#[derive(Clone, Copy, Debug, PartialEq)]
enum DeletionCheck {
    ProfileExists,
}

impl Store {
    /// Stores a new user and its credentials in one transaction; the credentials item keyed by
    /// the normalized email makes the email unique.
    pub async fn create_user(
        &self,
        user: &User,
        password_hash: &str,
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
        };
        let credentials = CredentialsItem {
            pk: keys::credentials_pk(&user.email.normalized()),
            sk: CREDENTIALS.into(),
            entity: "credentials".into(),
            user_id: user.id.clone(),
            password_hash: password_hash.to_string(),
        };
        let mut tx = Transaction::new();
        tx.invariant(self.put_if_absent(to_item(&profile)?, false)?)
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

    /// The user id and password hash stored for an email, if any.
    pub async fn find_credentials(
        &self,
        email: &Email,
    ) -> Result<Option<(UserId, String)>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(keys::key(
                keys::credentials_pk(&email.normalized()),
                CREDENTIALS,
            )))
            .consistent_read(true)
            .send()
            .await
            .map_err(db_error)?;
        let Some(item) = output.item else {
            return Ok(None);
        };
        let credentials: CredentialsItem = from_item(item)?;
        Ok(Some((credentials.user_id, credentials.password_hash)))
    }

    /// Renames a user; `None` if the user does not exist (the update never creates one).
    pub async fn rename_user(
        &self,
        id: &UserId,
        name: &UserName,
    ) -> Result<Option<User>, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::user_key(id)))
            .update_expression("SET #name = :name")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#name", "name")
            .expression_attribute_values(":name", s(name.as_str()))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(output) => output
                .attributes
                .map(|item| from_item::<UserItem>(item).map(User::from))
                .transpose(),
            Err(err) if is_condition_failure(&err) => Ok(None),
            Err(err) => Err(db_error(err)),
        }
    }

    /// Deletes the profile and the credentials together. From then on the user's tokens are
    /// refused (every authenticated route reads the profile) and the email can register again.
    /// Returns `false` if the user was already gone.
    pub async fn delete_user(&self, user: &User) -> Result<bool, StoreError> {
        let delete = |key, condition: bool| -> Result<TransactWriteItem, StoreError> {
            let mut delete = Delete::builder().table_name(&self.table).set_key(Some(key));
            if condition {
                delete = delete.condition_expression("attribute_exists(pk)");
            }
            Ok(TransactWriteItem::builder()
                .delete(delete.build().map_err(StoreError::fault)?)
                .build())
        };
        let mut tx = Transaction::new();
        tx.check(
            DeletionCheck::ProfileExists,
            delete(keys::user_key(&user.id), true)?,
        )
        .unconditional(delete(
            keys::key(keys::credentials_pk(&user.email.normalized()), CREDENTIALS),
            false,
        )?);
        Ok(matches!(self.commit(tx).await?, Commit::Done))
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
