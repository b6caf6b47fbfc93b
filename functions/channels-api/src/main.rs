use lambda_http::{run, service_fn, Error};
use shared::AppContext;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let ctx = AppContext::from_env().await?;
    let ctx = &ctx;
    run(service_fn(move |request| {
        channels_api::handle(ctx, request)
    }))
    .await
}
