//! A hello-world Lambda function on `lambda_runtime`, built with the same release profile as
//! the real functions: the cold-start benchmark measures it in the same run, so the ratio of
//! a function's cold start to this one's is the machine-independent figure.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::{json, Value};

async fn hello(event: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(json!({ "statusCode": 200, "body": "hello", "echo": event.payload }))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(hello)).await
}
