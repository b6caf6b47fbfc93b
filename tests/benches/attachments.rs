//! Attachment benchmark (`make bench`): what asking for an upload costs (the API's DynamoDB
//! calls, items and write units; the form is signed without a call), the attachment worker's
//! throughput on S3 notifications through the local gateway's SQS event source, and the time
//! from a 5 MB photo's upload to its attachment being `ready` (checked, measured,
//! thumbnailed), with the worker and the event router running as `make dev` runs them.
//! S3 is moto on the same two cores.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{stream, StreamExt};
use integration_tests::files::{jpeg_of_about, pdf, upload_with};
use integration_tests::metering::{DynamoMeter, Metered};
use integration_tests::{spawn_gateway, Api, TestEnv, TestUser};
use local_gateway::sqs::{poll_once, queue_arn, Worker};
use serde_json::{json, Value};

/// Upload requests measured for the cost of asking.
const ASKS: usize = 50;
/// Files the worker checks in the throughput run: half images, half PDFs.
const CHECKED: usize = 60;
/// 5 MB photos timed from upload to ready.
const PHOTOS: usize = 10;

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() as f64 * p).ceil() as usize).saturating_sub(1)]
}

async fn ask(
    api: &Api,
    user: &TestUser,
    channel: &str,
    name: &str,
    kind: &str,
    size: usize,
) -> Value {
    let asked = api
        .post(
            user,
            &format!("/channels/{channel}/attachments"),
            json!({ "name": name, "content_type": kind, "size": size }),
        )
        .await;
    assert_eq!(asked.status, 201, "{}", asked.body);
    asked.body
}

async fn status(api: &Api, user: &TestUser, channel: &str, id: &str) -> String {
    let answer = api
        .get(user, &format!("/channels/{channel}/attachments/{id}"))
        .await;
    answer.body["status"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn worker(ctx: shared::AppContext) -> Worker {
    Worker::Attachment(Arc::new(
        attachment_worker::AttachmentWorker::new(ctx, &aws_config::SdkConfig::builder().build())
            .expect("attachment worker"),
    ))
}

#[tokio::main]
async fn main() {
    let env = TestEnv::new().await;
    let sdk = shared::context::load_sdk_config().await;
    let metered = |meter: &DynamoMeter| {
        let mut ctx = env.ctx.clone();
        ctx.store = meter.store(&sdk, &env.table);
        ctx
    };
    let api_meter = DynamoMeter::default();
    let api = Api::over_http(spawn_gateway(metered(&api_meter)).await).unchecked();
    let ada = api.register("Ada").await;
    let channel = api.group(&ada, &[], true).await;

    // 1. Asking for an upload.
    let mut asking = Vec::new();
    api_meter.take();
    for n in 0..ASKS {
        let started = Instant::now();
        ask(&api, &ada, &channel, &format!("{n}.png"), "image/png", 1000).await;
        asking.push(started.elapsed());
    }
    let ask_cost = api_meter.take();

    // 2. The worker's throughput: every file uploaded first, then the queue drained.
    let image = jpeg_of_about(500 * 1024);
    let document = {
        let mut bytes = pdf();
        bytes.resize(100 * 1024, b' ');
        bytes
    };
    let uploads: Vec<(Vec<u8>, &str, &str)> = (0..CHECKED)
        .map(|n| {
            if n % 2 == 0 {
                (image.clone(), "image/jpeg", "photo.jpg")
            } else {
                (document.clone(), "application/pdf", "notes.pdf")
            }
        })
        .collect();
    stream::iter(uploads)
        .map(|(bytes, kind, name)| {
            let (api, ada, channel) = (&api, &ada, &channel);
            async move {
                let asked = ask(api, ada, channel, name, kind, bytes.len()).await;
                assert_eq!(upload_with(&asked["upload"], bytes, kind).await, 204);
            }
        })
        .buffer_unordered(8)
        .count()
        .await;
    let worker_meter = DynamoMeter::default();
    let checker = worker(metered(&worker_meter));
    let source = {
        let mut source = integration_tests::mailroom::test_source(
            &env.attachment_queue_url,
            shared::routes::ATTACHMENT_WORKER,
        );
        source.wait_seconds = 0;
        source.visibility_timeout_seconds = 360;
        source
    };
    let arn = queue_arn(&env.sqs, &source.queue_url).await.expect("arn");
    let started = Instant::now();
    let mut handled = 0;
    // S3's test event of the notification setting is one record more.
    while handled < CHECKED {
        handled += poll_once(&env.sqs, &source, &arn, &checker)
            .await
            .expect("poll");
    }
    let checking = started.elapsed();
    let check_cost: Metered = worker_meter.take();

    // 3. Upload → ready, with the event sources running as in `make dev`.
    env.spawn_event_sources().await;
    let photo = jpeg_of_about(5 * 1024 * 1024);
    let (mut uploading, mut to_ready) = (Vec::new(), Vec::new());
    for n in 0..PHOTOS {
        let asked = ask(
            &api,
            &ada,
            &channel,
            &format!("photo-{n}.jpg"),
            "image/jpeg",
            photo.len(),
        )
        .await;
        let id = asked["attachment"]["id"].as_str().unwrap().to_string();
        let started = Instant::now();
        assert_eq!(
            upload_with(&asked["upload"], photo.clone(), "image/jpeg").await,
            204
        );
        let uploaded = Instant::now();
        uploading.push(uploaded - started);
        loop {
            match status(&api, &ada, &channel, &id).await.as_str() {
                "ready" => break,
                "pending" => tokio::time::sleep(Duration::from_millis(10)).await,
                other => panic!("the photo was {other}"),
            }
            assert!(uploaded.elapsed() < Duration::from_secs(60), "never ready");
        }
        to_ready.push(uploaded.elapsed());
    }

    let per_ask = |n: u64| n as f64 / ASKS as f64;
    let per_check = |n: u64| n as f64 / CHECKED as f64;
    println!(
        "### Attachments\n\nThe API over real HTTP through the local gateway (dev profile, DynamoDB Local, moto's S3 on the same two cores). Asking for an upload is two DynamoDB round trips (the access check, then one transaction of two items) and no S3 call: the form is signed in the function. The worker's figures are for {CHECKED} files ({} KB JPEG photos and 100 KB PDFs, alternating) drained from the queue in batches of 2; per file it reads the object from S3, checks it, writes a thumbnail for images, and settles the attachment. Upload → ready: {PHOTOS} JPEGs of {:.1} MB, from the end of the upload (S3's 204) to `GET` answering `ready`, with the worker long-polling its queue and the router running, as in `make dev`.\n",
        image.len() / 1024,
        photo.len() as f64 / 1e6,
    );
    println!("| measure | value |");
    println!("|---|---|");
    println!(
        "| `POST /channels/{{id}}/attachments` p50 / p99 ({ASKS} requests) | {:.1} / {:.1} ms |",
        percentile(&mut asking, 0.5).as_secs_f64() * 1e3,
        percentile(&mut asking, 0.99).as_secs_f64() * 1e3
    );
    println!(
        "| … DynamoDB per request: calls / items read / write units | {:.1} / {:.1} / {:.1} |",
        per_ask(ask_cost.calls),
        per_ask(ask_cost.items_read),
        ask_cost.write_units() / ASKS as f64
    );
    println!(
        "| attachment worker throughput | {:.1} files/s ({:.0} ms per file) |",
        CHECKED as f64 / checking.as_secs_f64(),
        checking.as_secs_f64() * 1e3 / CHECKED as f64
    );
    println!(
        "| … DynamoDB per file: calls / items read / write units | {:.1} / {:.1} / {:.1} |",
        per_check(check_cost.calls),
        per_check(check_cost.items_read),
        check_cost.write_units() / CHECKED as f64
    );
    println!(
        "| 5 MB upload to S3 (moto) p50 / p99 | {:.0} / {:.0} ms |",
        percentile(&mut uploading, 0.5).as_secs_f64() * 1e3,
        percentile(&mut uploading, 0.99).as_secs_f64() * 1e3
    );
    println!(
        "| 5 MB photo, upload → ready p50 / p99 | {:.0} / {:.0} ms |",
        percentile(&mut to_ready, 0.5).as_secs_f64() * 1e3,
        percentile(&mut to_ready, 0.99).as_secs_f64() * 1e3
    );
}
