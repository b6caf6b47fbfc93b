//! The email verification code: one item per account (`USER#<id>` / `EMAIL_CODE`), written by
//! the registration's transaction and replaced by each resend. Its stream record is what
//! emails the code (see `changes`); a try counts on the item before it is compared, so
//! parallel guesses cannot share a try; the verifying transaction deletes it.

use aws_sdk_dynamodb::types::{AttributeValue, Delete, ReturnValue, TransactWriteItem, Update};
use serde::{Deserialize, Serialize};

use super::error::{db_error, StoreError};
use super::items::{from_item, to_item};
use super::keys;
use super::sessions::{condition_failure_item, SessionCondition};
use super::{s, Commit, Store, Transaction};
use crate::domain::{
    CodePolicy, Counterpart, IssuedCode, Session, Timestamp, User, UserId, UserName,
    VerificationCode,
};

pub(super) const ENTITY: &str = "email_code";

#[derive(Debug, Serialize, Deserialize)]
pub(super) struct EmailCodeItem {
    pk: String,
    sk: String,
    entity: String,
    user_id: UserId,
    /// The name to greet, as it was when the code was sent.
    name: UserName,
    code: VerificationCode,
    /// Epoch seconds.
    issued_at: i64,
    #[serde(default)]
    tries: u32,
    expires_at: i64,
}

impl EmailCodeItem {
    pub(super) fn new(
        user: &User,
        code: VerificationCode,
        now: Timestamp,
        policy: CodePolicy,
    ) -> Self {
        let issued_at = now.unix_seconds();
        Self {
            pk: keys::user_pk(&user.id),
            sk: keys::EMAIL_CODE.into(),
            entity: ENTITY.into(),
            user_id: user.id.clone(),
            name: user.name.clone(),
            code,
            issued_at,
            tries: 0,
            expires_at: policy.expires_at(issued_at),
        }
    }

    pub(super) fn issued_at(&self) -> i64 {
        self.issued_at
    }
}

/// A code to email: to whom, and which.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeNotice {
    pub user: Counterpart,
    pub code: VerificationCode,
    pub issued_at: Timestamp,
}

impl From<EmailCodeItem> for CodeNotice {
    fn from(item: EmailCodeItem) -> Self {
        Self {
            user: Counterpart {
                id: item.user_id,
                name: item.name,
            },
            code: item.code,
            issued_at: Timestamp::from_unix_millis(item.issued_at.saturating_mul(1000))
                .unwrap_or_else(Timestamp::now),
        }
    }
}

impl From<EmailCodeItem> for IssuedCode {
    fn from(item: EmailCodeItem) -> Self {
        Self {
            code: item.code,
            issued_at: item.issued_at,
            tries: item.tries,
        }
    }
}

/// How asking for a new code ended.
#[derive(Debug, PartialEq, Eq)]
pub enum CodeIssued {
    Sent,
    /// The last code went out too recently: seconds to wait.
    TooSoon(u64),
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum VerifyCheck {
    SessionOpen,
    /// The code tried is still the account's (no resend replaced it meanwhile).
    CodeCurrent,
}

/// How the verifying transaction ended.
#[derive(Debug)]
pub enum Verified {
    Done,
    /// A new code replaced the one tried.
    CodeReplaced,
    /// The caller's session condition failed: the profile as it is.
    Refused(Option<User>),
}

impl Store {
    /// The code item of a registration, for its transaction.
    pub(super) fn email_code_put(
        &self,
        item: &EmailCodeItem,
    ) -> Result<TransactWriteItem, StoreError> {
        self.put_if_absent(to_item(item)?, false)
    }

    /// Replaces the account's code with `code`, unless the last one went out less than the
    /// policy's resend interval ago: one conditional write, whose stream record emails it.
    pub async fn issue_email_code(
        &self,
        user: &User,
        code: VerificationCode,
        now: Timestamp,
        policy: CodePolicy,
    ) -> Result<CodeIssued, StoreError> {
        let item = EmailCodeItem::new(user, code, now, policy);
        let cutoff = now.unix_seconds() - i64::from(policy.resend_seconds);
        let number = |n: i64| AttributeValue::N(n.to_string());
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::key(&item.pk, &item.sk)))
            .update_expression(
                "SET entity = :entity, user_id = :user, #name = :name, code = :code, \
                 issued_at = :now, tries = :zero, expires_at = :ttl",
            )
            .condition_expression("attribute_not_exists(pk) OR issued_at <= :cutoff")
            .expression_attribute_names("#name", "name")
            .expression_attribute_values(":entity", s(ENTITY))
            .expression_attribute_values(":user", s(item.user_id.to_string()))
            .expression_attribute_values(":name", s(item.name.as_str()))
            .expression_attribute_values(":code", s(item.code.as_str()))
            .expression_attribute_values(":now", number(item.issued_at))
            .expression_attribute_values(":zero", number(0))
            .expression_attribute_values(":ttl", number(item.expires_at))
            .expression_attribute_values(":cutoff", number(cutoff))
            .return_values_on_condition_check_failure(
                aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure::AllOld,
            )
            .send()
            .await;
        match result {
            Ok(_) => Ok(CodeIssued::Sent),
            Err(err) => match condition_failure_item(&err) {
                Some(Some(found)) => {
                    let last: EmailCodeItem = from_item(found)?;
                    let wait = policy.resend_wait(last.issued_at, now.unix_seconds());
                    Ok(CodeIssued::TooSoon(wait.unwrap_or(1)))
                }
                _ => Err(db_error(err)),
            },
        }
    }

    /// The code the account was last sent, if one is outstanding (read only: for support
    /// tools and tests; verifying goes through `try_email_code`).
    pub async fn outstanding_email_code(
        &self,
        user: &UserId,
    ) -> Result<Option<IssuedCode>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(keys::email_code_key(user)))
            .consistent_read(true)
            .send()
            .await
            .map_err(db_error)?;
        output
            .item
            .map(|item| from_item::<EmailCodeItem>(item).map(IssuedCode::from))
            .transpose()
    }

    /// Counts one try of the account's code and answers the code as it now stands (`None`:
    /// no code is issued). The try is counted before anything is compared.
    pub async fn try_email_code(&self, user: &UserId) -> Result<Option<IssuedCode>, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::email_code_key(user)))
            .update_expression("ADD tries :one")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(output) => Ok(Some(
                from_item::<EmailCodeItem>(output.attributes.unwrap_or_default())?.into(),
            )),
            Err(err) if condition_failure_item(&err).is_some() => Ok(None),
            Err(err) => Err(db_error(err)),
        }
    }

    /// Marks the caller's email verified and uses up the code, in one transaction: on
    /// condition that the caller's session is open and that `code` is still the one issued.
    pub async fn confirm_email(
        &self,
        user: &UserId,
        session: &Session,
        code: &VerificationCode,
    ) -> Result<Verified, StoreError> {
        let profile = SessionCondition::of(session).apply_to_update(
            Update::builder()
                .table_name(&self.table)
                .set_key(Some(keys::user_key(user)))
                .update_expression("SET email_verified = :yes")
                .expression_attribute_values(":yes", AttributeValue::Bool(true)),
        );
        let used = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(keys::email_code_key(user)))
            .condition_expression("code = :code")
            .expression_attribute_values(":code", s(code.as_str()));
        let mut tx = Transaction::new();
        tx.check(
            VerifyCheck::SessionOpen,
            TransactWriteItem::builder()
                .update(profile.build().map_err(StoreError::fault)?)
                .build(),
        )
        .check(
            VerifyCheck::CodeCurrent,
            TransactWriteItem::builder()
                .delete(used.build().map_err(StoreError::fault)?)
                .build(),
        );
        Ok(match self.commit(tx).await? {
            Commit::Done => Verified::Done,
            Commit::Refused(refused) if refused.failed(VerifyCheck::SessionOpen) => {
                Verified::Refused(super::sessions::refused_profile(
                    refused.item(VerifyCheck::SessionOpen).cloned(),
                )?)
            }
            Commit::Refused(_) => Verified::CodeReplaced,
        })
    }
}
