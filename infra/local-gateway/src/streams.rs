//! The DynamoDB Streams event source, the way Lambda runs one (template.yaml's
//! `EventRouterFunction` stream event): polls every shard of the table's stream on DynamoDB
//! Local, keeps the records the filter lets through, hands them in batches to the router as a
//! real `aws_lambda_events` DynamoDB event, and reads its partial batch response. A failed
//! record is delivered again, with everything after it in its shard, after a backoff; a shard
//! never moves past a record until it succeeds (or, after `max_record_age`, is handed to the
//! on-failure queue). An invocation that fails as a whole (a panic) is bisected, as
//! `BisectBatchOnFunctionError` does.

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use aws_sdk_dynamodbstreams::types::{AttributeValue, Record, ShardIteratorType};
use base64::Engine;
use serde_json::{json, Value};
use shared::routes::StreamBinding;

use crate::bootstrap::BoxError;

/// What the source invokes with each batch: the router's handler, or a test's stand-in.
pub type Invoke = Box<
    dyn Fn(Event) -> Pin<Box<dyn Future<Output = Result<DynamoDbEventResponse, String>> + Send>>
        + Send
        + Sync,
>;

/// Where a new source starts reading the shards it finds at start-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// Every record still in the stream (a table this process just created).
    TrimHorizon,
    /// Only what is written from now on (a table that existed before).
    Latest,
}

struct Shard {
    iterator: Option<String>,
    parent: Option<String>,
    /// The last sequence number handed over successfully (to renew an expired iterator).
    last: Option<String>,
    /// Records read but not yet handled (a failed batch, delivered again).
    pending: Vec<Value>,
    attempts: u32,
    retry_at: Option<Instant>,
    finished: bool,
    /// The last read found no record at all (filtered out or not): nothing newer is written.
    at_tip: bool,
}

/// One table's stream, polled.
pub struct StreamSource {
    client: aws_sdk_dynamodbstreams::Client,
    stream_arn: String,
    region: String,
    binding: StreamBinding,
    /// Where records that ran out of time go (`None`: only logged).
    on_failure: Option<(aws_sdk_sqs::Client, String)>,
    shards: BTreeMap<String, Shard>,
    described_at: Option<Instant>,
    start: Start,
}

/// A Streams client for the table's DynamoDB: DynamoDB Local serves the Streams API on its own
/// endpoint, so without `AWS_ENDPOINT_URL_DYNAMODB_STREAMS` it goes where
/// `AWS_ENDPOINT_URL_DYNAMODB` points.
pub fn client(sdk: &aws_config::SdkConfig) -> aws_sdk_dynamodbstreams::Client {
    let mut config = aws_sdk_dynamodbstreams::config::Builder::from(sdk);
    let own = std::env::var("AWS_ENDPOINT_URL_DYNAMODB_STREAMS").ok();
    if let Some(endpoint) = own.or_else(|| std::env::var("AWS_ENDPOINT_URL_DYNAMODB").ok()) {
        config = config.endpoint_url(endpoint);
    }
    aws_sdk_dynamodbstreams::Client::from_conf(config.build())
}

/// How often shards are listed again (new shards appear as DynamoDB splits or rolls them).
const DESCRIBE_EVERY: Duration = Duration::from_secs(5);

impl StreamSource {
    /// The stream of `table`, which must have one (`schema::create_table` makes it).
    pub async fn open(
        dynamodb: &aws_sdk_dynamodb::Client,
        client: aws_sdk_dynamodbstreams::Client,
        table: &str,
        binding: StreamBinding,
        start: Start,
    ) -> Result<Self, BoxError> {
        let described = dynamodb.describe_table().table_name(table).send().await?;
        let table = described.table.ok_or("the table is not described")?;
        let stream_arn = table
            .latest_stream_arn
            .ok_or("the table has no stream: it was created before streams were enabled")?;
        let region = stream_arn
            .split(':')
            .nth(3)
            .unwrap_or("us-east-1")
            .to_string();
        let mut source = Self {
            client,
            stream_arn,
            region,
            binding,
            on_failure: None,
            shards: BTreeMap::new(),
            described_at: None,
            start,
        };
        source.describe().await?;
        // Shards found later are new: they are read from their start whatever `start` says.
        source.start = Start::TrimHorizon;
        Ok(source)
    }

    /// Sends records that could not be handled within `max_record_age` to this queue.
    pub fn with_on_failure(mut self, sqs: aws_sdk_sqs::Client, queue_url: String) -> Self {
        self.on_failure = Some((sqs, queue_url));
        self
    }

    /// Lists the shards and opens iterators on new ones.
    async fn describe(&mut self) -> Result<(), BoxError> {
        let mut start_after = None;
        loop {
            let output = self
                .client
                .describe_stream()
                .stream_arn(&self.stream_arn)
                .set_exclusive_start_shard_id(start_after.clone())
                .send()
                .await
                .map_err(|err| {
                    aws_sdk_dynamodbstreams::error::DisplayErrorContext(err).to_string()
                })?;
            let description = output.stream_description.ok_or("no stream description")?;
            for shard in description.shards.unwrap_or_default() {
                let Some(id) = shard.shard_id else { continue };
                if self.shards.contains_key(&id) {
                    continue;
                }
                let kind = match self.start {
                    Start::TrimHorizon => ShardIteratorType::TrimHorizon,
                    Start::Latest => ShardIteratorType::Latest,
                };
                let iterator = self
                    .client
                    .get_shard_iterator()
                    .stream_arn(&self.stream_arn)
                    .shard_id(&id)
                    .shard_iterator_type(kind)
                    .send()
                    .await?
                    .shard_iterator;
                self.shards.insert(
                    id,
                    Shard {
                        iterator,
                        parent: shard.parent_shard_id,
                        last: None,
                        pending: Vec::new(),
                        attempts: 0,
                        retry_at: None,
                        finished: false,
                        at_tip: false,
                    },
                );
            }
            match description.last_evaluated_shard_id {
                Some(last) => start_after = Some(last),
                None => break,
            }
        }
        self.described_at = Some(Instant::now());
        Ok(())
    }

    /// Whether every record written so far has been handled: each open shard's last read
    /// came back empty and no failed batch waits for its retry. (A round that hands nothing
    /// over may still be behind: a page of records the filter drops, a batch backing off.)
    pub fn caught_up(&self) -> bool {
        self.shards.values().all(|shard| {
            shard.pending.is_empty() && shard.retry_at.is_none() && (shard.finished || shard.at_tip)
        })
    }

    /// Polls until the source has `caught_up` for three rounds in a row (DynamoDB Local shows a
    /// write in its stream a moment later), waiting out failed batches' retries; `false` if it
    /// has not within `within`.
    pub async fn poll_until_caught_up(
        &mut self,
        invoke: &Invoke,
        within: Duration,
    ) -> Result<bool, BoxError> {
        let deadline = Instant::now() + within;
        let mut quiet_rounds = 0;
        while quiet_rounds < 3 {
            if Instant::now() >= deadline {
                return Ok(false);
            }
            let handed = self.poll_once(invoke).await?;
            if handed == 0 && self.caught_up() {
                quiet_rounds += 1;
                tokio::time::sleep(Duration::from_millis(30)).await;
            } else if handed == 0 {
                // Behind a batch's retry pause, or a page the filter emptied.
                quiet_rounds = 0;
                tokio::time::sleep(Duration::from_millis(10)).await;
            } else {
                quiet_rounds = 0;
            }
        }
        Ok(true)
    }

    /// One round over the shards: reads each once and hands its records over. The number of
    /// records handed over (0: none, though the source may not have `caught_up`).
    pub async fn poll_once(&mut self, invoke: &Invoke) -> Result<usize, BoxError> {
        if self
            .described_at
            .is_none_or(|at| at.elapsed() >= DESCRIBE_EVERY)
        {
            self.describe().await?;
        }
        let finished: HashSet<String> = self
            .shards
            .iter()
            .filter(|(_, shard)| shard.finished)
            .map(|(id, _)| id.clone())
            .collect();
        let ids: Vec<String> = self.shards.keys().cloned().collect();
        let mut handed = 0;
        for id in ids {
            let ready = {
                let shard = &self.shards[&id];
                // A child shard waits for its parent, so each item's records stay in order.
                let parent_done = shard.parent.as_ref().is_none_or(|parent| {
                    finished.contains(parent) || !self.shards.contains_key(parent)
                });
                !shard.finished
                    && parent_done
                    && shard.retry_at.is_none_or(|at| Instant::now() >= at)
            };
            if ready {
                handed += self.poll_shard(&id, invoke).await?;
            }
        }
        Ok(handed)
    }

    async fn poll_shard(&mut self, id: &str, invoke: &Invoke) -> Result<usize, BoxError> {
        let mut records = std::mem::take(&mut self.shards.get_mut(id).ok_or("shard")?.pending);
        if records.is_empty() {
            records = self.read(id).await?;
        }
        if records.is_empty() {
            return Ok(0);
        }
        let count = records.len();
        let failed_from = self.deliver(&records, invoke).await;
        let shard = self.shards.get_mut(id).ok_or("shard")?;
        match failed_from {
            None => {
                shard.last = records
                    .last()
                    .and_then(|r| r["dynamodb"]["SequenceNumber"].as_str())
                    .map(str::to_string);
                shard.attempts = 0;
                shard.retry_at = None;
            }
            Some(from) => {
                let rest = records.split_off(from);
                shard.last = records
                    .last()
                    .and_then(|r| r["dynamodb"]["SequenceNumber"].as_str())
                    .map(str::to_string)
                    .or(shard.last.take());
                shard.attempts += 1;
                let oldest = rest
                    .first()
                    .and_then(|r| r["dynamodb"]["ApproximateCreationDateTime"].as_f64())
                    .unwrap_or(0.0);
                let age = chrono::Utc::now().timestamp() as f64 - oldest;
                if age > f64::from(self.binding.maximum_record_age_seconds) {
                    tracing::error!(
                        shard = id,
                        records = rest.len(),
                        "records too old to retry; sent to the on-failure queue"
                    );
                    let metadata = json!({
                        "reason": "maximum record age exceeded",
                        "shard": id,
                        "streamArn": self.stream_arn,
                        "sequenceNumbers": rest.iter().map(|r| r["dynamodb"]["SequenceNumber"].clone()).collect::<Vec<_>>(),
                    });
                    if let Some((sqs, url)) = &self.on_failure {
                        sqs.send_message()
                            .queue_url(url)
                            .message_body(metadata.to_string())
                            .send()
                            .await?;
                    }
                    shard.attempts = 0;
                    shard.retry_at = None;
                } else {
                    // Lambda retries a failing shard with a growing pause; so does this.
                    let backoff = Duration::from_millis(100 << shard.attempts.min(6));
                    shard.retry_at = Some(Instant::now() + backoff);
                    shard.pending = rest;
                }
            }
        }
        Ok(count)
    }

    /// One GetRecords of a shard, filtered; renews an expired iterator.
    async fn read(&mut self, id: &str) -> Result<Vec<Value>, BoxError> {
        let Some(iterator) = self.shards[id].iterator.clone() else {
            self.shards.get_mut(id).ok_or("shard")?.finished = true;
            return Ok(Vec::new());
        };
        let output = match self
            .client
            .get_records()
            .shard_iterator(&iterator)
            .limit(self.binding.batch_size)
            .send()
            .await
        {
            Ok(output) => output,
            // An iterator lives 15 minutes; DynamoDB Local also calls one "trimmed" now and
            // then under load. Either way a new one continues after the last record handed
            // over.
            Err(err)
                if err.as_service_error().is_some_and(|e| {
                    e.is_expired_iterator_exception() || e.is_trimmed_data_access_exception()
                }) =>
            {
                self.renew(id).await?;
                return Ok(Vec::new());
            }
            Err(err) => {
                return Err(aws_sdk_dynamodbstreams::error::DisplayErrorContext(err)
                    .to_string()
                    .into())
            }
        };
        let shard = self.shards.get_mut(id).ok_or("shard")?;
        shard.iterator = output.next_shard_iterator;
        shard.at_tip = output.records.as_ref().is_none_or(Vec::is_empty);
        let records: Vec<Value> = output
            .records
            .unwrap_or_default()
            .iter()
            .map(|record| lambda_record(record, &self.stream_arn, &self.region))
            .collect();
        if shard.iterator.is_none() && records.is_empty() {
            shard.finished = true;
        }
        Ok(records
            .into_iter()
            .filter(|record| passes_filter(record, self.binding.entities))
            .collect())
    }

    async fn renew(&mut self, id: &str) -> Result<(), BoxError> {
        let shard = &self.shards[id];
        let request = self
            .client
            .get_shard_iterator()
            .stream_arn(&self.stream_arn)
            .shard_id(id);
        let request = match &shard.last {
            Some(last) => request
                .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                .sequence_number(last),
            None => request.shard_iterator_type(ShardIteratorType::TrimHorizon),
        };
        let iterator = request
            .send()
            .await
            .map_err(|err| aws_sdk_dynamodbstreams::error::DisplayErrorContext(err).to_string())?
            .shard_iterator;
        self.shards.get_mut(id).ok_or("shard")?.iterator = iterator;
        Ok(())
    }

    /// Invokes with `records` (in batches of `batch_size`); the index of the first record to
    /// deliver again, if any failed.
    async fn deliver(&self, records: &[Value], invoke: &Invoke) -> Option<usize> {
        let mut offset = 0;
        for batch in records.chunks(self.binding.batch_size.max(1) as usize) {
            if let Some(failed) = self.invoke_bisecting(batch, invoke).await {
                return Some(offset + failed);
            }
            offset += batch.len();
        }
        None
    }

    /// One invocation; on a whole-invocation failure, each half separately (the failing
    /// record ends up alone). The index of the first record to deliver again.
    fn invoke_bisecting<'a>(
        &'a self,
        batch: &'a [Value],
        invoke: &'a Invoke,
    ) -> Pin<Box<dyn Future<Output = Option<usize>> + Send + 'a>> {
        Box::pin(async move {
            let event: Event = match serde_json::from_value(json!({ "Records": batch })) {
                Ok(event) => event,
                Err(err) => {
                    tracing::error!(error = %err, "the source built an event the router cannot read");
                    return Some(0);
                }
            };
            match invoke(event).await {
                Ok(response) => {
                    let failed: HashSet<String> = response
                        .batch_item_failures
                        .into_iter()
                        .filter_map(|failure| failure.item_identifier)
                        .collect();
                    if failed.is_empty() {
                        return None;
                    }
                    let first = batch.iter().position(|record| {
                        record["dynamodb"]["SequenceNumber"]
                            .as_str()
                            .is_some_and(|seq| failed.contains(seq))
                    });
                    // As Lambda does: a failure naming no record of the batch fails it all.
                    Some(first.unwrap_or(0))
                }
                Err(err) if batch.len() > 1 => {
                    tracing::warn!(
                        error = err,
                        records = batch.len(),
                        "invocation failed; bisecting the batch"
                    );
                    let (left, right) = batch.split_at(batch.len() / 2);
                    if let Some(failed) = self.invoke_bisecting(left, invoke).await {
                        return Some(failed);
                    }
                    self.invoke_bisecting(right, invoke)
                        .await
                        .map(|failed| left.len() + failed)
                }
                Err(err) => {
                    tracing::warn!(error = err, "invocation failed");
                    Some(0)
                }
            }
        })
    }

    /// Polls until dropped: at once again after records came, after `poll_interval` when
    /// nothing did (Lambda polls each shard about four times a second).
    pub async fn run(mut self, invoke: Invoke) {
        loop {
            match self.poll_once(&invoke).await {
                Ok(0) => tokio::time::sleep(self.binding.poll_interval()).await,
                Ok(_) => {}
                Err(err) => {
                    tracing::warn!(stream = self.stream_arn, error = %err, "stream polling failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }
}

/// The event source mapping's filter: records whose item (new image, or old image for a
/// removal) is one of the routed entities.
fn passes_filter(record: &Value, entities: &[&str]) -> bool {
    let image = if record["eventName"] == "REMOVE" {
        &record["dynamodb"]["OldImage"]
    } else {
        &record["dynamodb"]["NewImage"]
    };
    image["entity"]["S"]
        .as_str()
        .is_some_and(|entity| entities.contains(&entity))
}

/// A stream record as Lambda's event carries it.
fn lambda_record(record: &Record, stream_arn: &str, region: &str) -> Value {
    let change = record.dynamodb.as_ref();
    let image = |item: Option<&std::collections::HashMap<String, AttributeValue>>| {
        item.map(|item| {
            Value::Object(
                item.iter()
                    .map(|(name, value)| (name.clone(), attribute(value)))
                    .collect(),
            )
        })
    };
    let mut dynamodb = json!({
        "ApproximateCreationDateTime": change
            .and_then(|c| c.approximate_creation_date_time)
            .map(|t| t.secs() as f64)
            .unwrap_or_else(|| chrono::Utc::now().timestamp() as f64),
        "Keys": image(change.and_then(|c| c.keys.as_ref())),
        "SequenceNumber": change.and_then(|c| c.sequence_number.clone()),
        "SizeBytes": change.and_then(|c| c.size_bytes).unwrap_or(0),
        "StreamViewType": change.and_then(|c| c.stream_view_type.as_ref()).map(|v| v.as_str().to_string()),
    });
    if let Some(new) = image(change.and_then(|c| c.new_image.as_ref())) {
        dynamodb["NewImage"] = new;
    }
    if let Some(old) = image(change.and_then(|c| c.old_image.as_ref())) {
        dynamodb["OldImage"] = old;
    }
    json!({
        "eventID": record.event_id,
        "eventName": record.event_name.as_ref().map(|n| n.as_str().to_string()),
        "eventVersion": record.event_version.clone().unwrap_or_else(|| "1.1".into()),
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "dynamodb": dynamodb,
        "eventSourceARN": stream_arn,
    })
}

/// An attribute value in DynamoDB JSON (`{"S": "..."}`, `{"N": "1"}`, ...).
fn attribute(value: &AttributeValue) -> Value {
    let base64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    match value {
        AttributeValue::S(s) => json!({ "S": s }),
        AttributeValue::N(n) => json!({ "N": n }),
        AttributeValue::B(b) => json!({ "B": base64(b.as_ref()) }),
        AttributeValue::Bool(b) => json!({ "BOOL": b }),
        AttributeValue::Null(_) => json!({ "NULL": true }),
        AttributeValue::Ss(values) => json!({ "SS": values }),
        AttributeValue::Ns(values) => json!({ "NS": values }),
        AttributeValue::Bs(values) => {
            json!({ "BS": values.iter().map(|b| base64(b.as_ref())).collect::<Vec<_>>() })
        }
        AttributeValue::L(values) => {
            json!({ "L": values.iter().map(attribute).collect::<Vec<_>>() })
        }
        AttributeValue::M(map) => json!({
            "M": map.iter().map(|(k, v)| (k.clone(), attribute(v))).collect::<serde_json::Map<_, _>>()
        }),
        _ => json!({ "NULL": true }),
    }
}
