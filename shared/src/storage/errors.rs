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

/// The outcome of a conditional write whose failed condition only means "nothing to do"
/// (already done, or done by someone else).
pub fn done_unless_failed<T, E, R>(result: Result<T, SdkError<E, R>>) -> Result<(), AppError>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match result {
        Ok(_) => Ok(()),
        Err(err)
            if err.as_service_error().and_then(|e| e.code())
                == Some("ConditionalCheckFailedException") =>
        {
            Ok(())
        }
        Err(err) => Err(db_error(err)),
    }
}
