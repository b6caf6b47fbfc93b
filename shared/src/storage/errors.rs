use aws_sdk_dynamodb::error::SdkError;

use crate::error::AppError;

/// Classifies an SDK failure: an unreachable or overloaded table is 503 (retry later), any
/// other failure 500. The cause is kept for the log, never shown to the caller.
pub fn db_error<E, R>(err: SdkError<E, R>) -> AppError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match &err {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => {
            tracing::warn!(error = %aws_sdk_dynamodb::error::DisplayErrorContext(&err), "database unreachable");
            AppError::Unavailable("the database")
        }
        _ => AppError::internal(aws_sdk_dynamodb::error::DisplayErrorContext(err).to_string()),
    }
}
