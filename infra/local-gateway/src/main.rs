//! `local-gateway`: the whole HTTP API on loopback against DynamoDB Local and moto.
//! Started by `make dev` (infra/scripts/dev.sh), which starts the emulators first and sets
//! `AWS_ENDPOINT_URL_*`. Ports: `HTTP_PORT` (default 3000), `WS_PORT` (default 3001).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use assistant_worker::AssistantWorker;
use attachment_worker::AttachmentWorker;
use email_worker::EmailWorker;
use event_router::EventRouter;
use fanout_worker::FanoutWorker;
use local_gateway::bootstrap::{self, BoxError};
use local_gateway::sqs::{EventSource, Worker};
use local_gateway::streams::{Start, StreamSource};
use local_gateway::websocket::{serve_websocket, WebSocketOptions};
use maintenance_worker::MaintenanceWorker;
use shared::config::Config;
use shared::routes::{
    ASSISTANT_WORKER, ATTACHMENT_WORKER, EMAIL_WORKER, FANOUT_WORKER, MAINTENANCE_WORKER,
    QUEUE_BINDINGS, STREAM_BINDING, WEBHOOK_WORKER,
};
use shared::AppContext;
use webhook_worker::WebhookWorker;

const DEV_JWT_SECRET: &str = "local-development-secret-change-me-0123456789";

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_string())
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    shared::telemetry::init();
    let sdk = shared::context::load_sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let ses = aws_sdk_ses::Client::new(&sdk);
    let s3 = shared::objects::s3_client(&sdk);

    let table = env_or("TABLE_NAME", "chat");
    let sender = env_or("SENDER_EMAIL", "noreply@chat.local");
    let created = bootstrap::ensure_table(&dynamodb, &table).await?;
    let mut queues = HashMap::new();
    for binding in QUEUE_BINDINGS {
        let url =
            bootstrap::ensure_queue(&sqs, binding.local_name, binding.visibility_timeout_seconds)
                .await?;
        queues.insert(binding.function, url);
    }
    let queue = |function: &str| queues.get(function).cloned().unwrap_or_default();
    let notification_queue = queue(EMAIL_WORKER);
    let maintenance_queue = queue(MAINTENANCE_WORKER);
    let assistant_queue = queue(ASSISTANT_WORKER);
    let fanout_queue = queue(FANOUT_WORKER);
    let webhook_queue = queue(WEBHOOK_WORKER);
    let attachment_queue = queue(ATTACHMENT_WORKER);
    let bucket = env_or("ATTACHMENTS_BUCKET", "chat-attachments");
    let router_dead_letters = bootstrap::ensure_queue(&sqs, "chat-router-failures", 30).await?;
    bootstrap::verify_sender(&ses, &sender).await?;

    let http_port: u16 = env_or("HTTP_PORT", "3000").parse()?;
    let ws_port: u16 = env_or("WS_PORT", "3001").parse()?;
    let listener =
        tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], http_port))).await?;
    let ws_listener =
        tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], ws_port))).await?;
    // The web client is served by this gateway: its origin is the one that uploads.
    let web_origins = vec![
        format!("http://127.0.0.1:{http_port}"),
        format!("http://localhost:{http_port}"),
    ];
    bootstrap::ensure_bucket(
        &s3,
        &bucket,
        &local_gateway::sqs::queue_arn(&sqs, &attachment_queue).await?,
        &web_origins,
    )
    .await?;
    let ws_options = WebSocketOptions::default();
    let ws_address = ws_listener.local_addr()?;
    let management_endpoint = format!("http://{ws_address}/{}", ws_options.stage);

    let config = Config::from_lookup(|name| match name {
        "TABLE_NAME" => Some(table.clone()),
        "NOTIFICATION_QUEUE_URL" => Some(notification_queue.clone()),
        "MAINTENANCE_QUEUE_URL" => Some(maintenance_queue.clone()),
        "ASSISTANT_QUEUE_URL" => Some(assistant_queue.clone()),
        "FANOUT_QUEUE_URL" => Some(fanout_queue.clone()),
        "WEBHOOK_QUEUE_URL" => Some(webhook_queue.clone()),
        "ATTACHMENTS_BUCKET" => Some(bucket.clone()),
        "SENDER_EMAIL" => Some(sender.clone()),
        "JWT_SECRET" => Some(env_or("JWT_SECRET", DEV_JWT_SECRET)),
        "WEBSOCKET_API_ENDPOINT" => Some(management_endpoint.clone()),
        other => std::env::var(other).ok(),
    })?;
    let ctx = AppContext::new(config, &sdk);

    // The SQS event sources: each queue polled and its batches handed to its worker.
    let workers = [
        (
            EMAIL_WORKER,
            Worker::Email(Arc::new(EmailWorker::new(ctx.clone(), &sdk)?)),
        ),
        (
            ASSISTANT_WORKER,
            Worker::Assistant(Arc::new(
                AssistantWorker::new(ctx.clone(), sdk.clone()).await?,
            )),
        ),
        (
            MAINTENANCE_WORKER,
            Worker::Maintenance(Arc::new(MaintenanceWorker::new(ctx.clone(), &sdk)?)),
        ),
        (
            FANOUT_WORKER,
            Worker::Fanout(Arc::new(FanoutWorker::new(ctx.clone(), &sdk)?)),
        ),
        (
            WEBHOOK_WORKER,
            Worker::Webhook(Arc::new(WebhookWorker::new(ctx.clone(), &sdk)?)),
        ),
        (
            ATTACHMENT_WORKER,
            Worker::Attachment(Arc::new(AttachmentWorker::new(ctx.clone(), &sdk)?)),
        ),
    ];
    for (function, worker) in workers {
        let binding = QUEUE_BINDINGS
            .iter()
            .find(|b| b.function == function)
            .ok_or("a worker without a queue")?;
        let source = EventSource::new(queue(function), binding);
        for _ in 0..local_gateway::sqs::local_pollers(function) {
            tokio::spawn(local_gateway::sqs::poll(
                sqs.clone(),
                source.clone(),
                worker.clone(),
            ));
        }
    }
    // The table's stream → the event router. A table this run created is read from its
    // start; one that existed (a restarted gateway) from now on, so old pushes are not
    // repeated.
    let router = EventRouter {
        ctx: ctx.clone(),
        dead_letters: Some(shared::queue::Queue::new(
            sqs.clone(),
            router_dead_letters.clone(),
        )),
    };
    let start = if created {
        Start::TrimHorizon
    } else {
        Start::Latest
    };
    let streams = local_gateway::streams::client(&sdk);
    let stream = StreamSource::open(&dynamodb, streams, &table, STREAM_BINDING, start)
        .await?
        .with_on_failure(sqs.clone(), router_dead_letters.clone());
    tokio::spawn(stream.run(local_gateway::router_invoke(Arc::new(router))));
    // The schedule template.yaml gives EventBridge: the hourly sweep of uploads on no message.
    tokio::spawn(sweep_uploads_hourly(ctx.maintenance.clone()));
    // Emails never leave moto: print each one (and its verification code) as it is sent.
    let mailbox = std::env::var("AWS_ENDPOINT_URL_SES").ok();
    if let Some(moto) = mailbox.clone() {
        tokio::spawn(local_gateway::mailbox::watch(
            moto,
            std::time::Duration::from_secs(1),
        ));
    }

    println!();
    println!("  web client       http://{}/", listener.local_addr()?);
    println!("  HTTP API         http://{}", listener.local_addr()?);
    println!(
        "  OpenAPI          http://{}/openapi.json",
        listener.local_addr()?
    );
    println!("  API reference    http://{}/docs", listener.local_addr()?);
    println!("  WebSocket API    ws://{ws_address}/?token=<JWT>");
    println!("  @connections     {management_endpoint}/@connections/{{id}}");
    println!(
        "  DynamoDB Local   {}",
        env_or("AWS_ENDPOINT_URL_DYNAMODB", "(AWS)")
    );
    println!(
        "  moto             {} (SQS, SES, S3)",
        env_or("AWS_ENDPOINT_URL_SQS", "(AWS)")
    );
    println!("  table            {table}");
    println!("  email queue      {notification_queue}");
    println!("  maintenance      {maintenance_queue}");
    println!("  assistant queue  {assistant_queue}");
    println!("  fan-out queue    {fanout_queue}");
    println!("  webhook queue    {webhook_queue}");
    println!(
        "  attachments      s3://{bucket} on {} (uploads → {attachment_queue})",
        env_or("AWS_ENDPOINT_URL_S3", "(AWS)")
    );
    println!(
        "  webhook          {}",
        env_or("WEBHOOK_URL", "(off: set WEBHOOK_URL and WEBHOOK_SECRET)")
    );
    println!("  event router     polling the table's stream on DynamoDB Local");
    if mailbox.is_some() {
        println!("  emails           printed below as moto's SES takes them (with any verification code)");
    }
    println!("  workers          email, assistant, maintenance, fan-out, webhook, attachment (polling the queues above)");
    println!();
    println!("  Ctrl-C stops everything.");
    tokio::select! {
        served = local_gateway::serve_http(listener, ctx.clone()) => served?,
        served = serve_websocket(ws_listener, ctx, ws_options) => served?,
        _ = tokio::signal::ctrl_c() => tracing::info!("stopping"),
    }
    Ok(())
}

/// Queues the sweep of expired uploads now and every hour.
async fn sweep_uploads_hourly(maintenance: shared::queue::Queue) {
    let mut hourly = tokio::time::interval(std::time::Duration::from_secs(60 * 60));
    loop {
        hourly.tick().await;
        if let Err(err) = maintenance
            .send(&shared::queue::MaintenanceJob::SweepUploads)
            .await
        {
            tracing::warn!(error = %err.log_detail(), "cannot queue the upload sweep");
        }
    }
}
