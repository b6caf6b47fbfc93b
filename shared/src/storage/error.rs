//! What can go wrong in the store, as values. The store never words an answer: the services
//! decide what a caller is told (`service::refusals`).

use aws_sdk_dynamodb::error::SdkError;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A failure of a store call that is not one of the operation's own outcomes.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The table could not be reached, is throttling, or stayed contended through every
    /// retry; the same call later may succeed.
    #[error("the table is unavailable")]
    Unavailable,
    /// A page cursor the caller sent was not one this store issued for this query.
    #[error("page cursor rejected: {0:?}")]
    Cursor(CursorRejected),
    /// Our fault: a corrupt item, an SDK failure, a broken invariant. Logged, never shown.
    #[error("{0}")]
    Fault(BoxError),
}

/// Why a page cursor was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CursorRejected {
    /// Forged, damaged or not a cursor at all.
    Invalid,
    /// Issued for another query (another user, filter or list).
    OtherQuery,
}

impl StoreError {
    pub fn fault(err: impl Into<BoxError>) -> Self {
        Self::Fault(err.into())
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Classifies an SDK failure: an unreachable table is `Unavailable` (retry later), any other
/// failure a `Fault` carrying the SDK's whole context for the log.
pub fn db_error<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match &err {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => {
            tracing::warn!(error = %aws_sdk_dynamodb::error::DisplayErrorContext(&err), "database unreachable");
            StoreError::Unavailable
        }
        _ => StoreError::fault(aws_sdk_dynamodb::error::DisplayErrorContext(err).to_string()),
    }
}

/// Whether an SDK failure is a failed condition of a single-item write.
pub fn is_condition_failure<E, R>(err: &SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    err.as_service_error().and_then(|e| e.code()) == Some("ConditionalCheckFailedException")
}

/// DynamoDB refuses an update it cannot apply to the item as it is (`SET map.key` when `map`
/// does not exist).
pub fn is_validation_error<E, R>(err: &SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    err.as_service_error().and_then(|e| e.code()) == Some("ValidationException")
}

/// The outcome of a conditional write whose failed condition only means "nothing to do"
/// (already done, or done by someone else).
pub fn done_unless_failed<T, E, R>(result: Result<T, SdkError<E, R>>) -> StoreResult<()>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match result {
        Ok(_) => Ok(()),
        Err(err) if is_condition_failure(&err) => Ok(()),
        Err(err) => Err(db_error(err)),
    }
}

/// Whether a conditional write applied: `false` when its condition failed.
pub fn applied<T, E, R>(result: Result<T, SdkError<E, R>>) -> StoreResult<bool>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match result {
        Ok(_) => Ok(true),
        Err(err) if is_condition_failure(&err) => Ok(false),
        Err(err) => Err(db_error(err)),
    }
}
