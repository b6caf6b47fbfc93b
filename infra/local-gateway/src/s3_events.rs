//! S3 notifications as AWS sends them. moto's records leave out fields every AWS record
//! carries (`userIdentity`, `requestParameters`, `responseElements`, the bucket's owner, the
//! object's sequencer), and `aws_lambda_events` rightly requires the first two; the local
//! SQS event source completes moto's records before the worker sees them.

use serde_json::{json, Value};

/// `body` (an SQS message body) with each S3 record completed; anything else unchanged.
pub fn as_aws_sends(body: &str) -> String {
    let Ok(mut event) = serde_json::from_str::<Value>(body) else {
        return body.to_string();
    };
    let Some(records) = event.get_mut("Records").and_then(Value::as_array_mut) else {
        return body.to_string();
    };
    for record in records.iter_mut() {
        if let Some(bucket) = record
            .pointer_mut("/s3/bucket")
            .and_then(Value::as_object_mut)
        {
            bucket
                .entry("ownerIdentity")
                .or_insert(json!({ "principalId": "LOCAL" }));
        }
        if let Some(object) = record
            .pointer_mut("/s3/object")
            .and_then(Value::as_object_mut)
        {
            object.entry("sequencer").or_insert(json!("0"));
        }
        let Some(record) = record.as_object_mut() else {
            continue;
        };
        let defaults = [
            ("userIdentity", json!({ "principalId": "AWS:LOCAL" })),
            (
                "requestParameters",
                json!({ "sourceIPAddress": "127.0.0.1" }),
            ),
            (
                "responseElements",
                json!({ "x-amz-request-id": "LOCAL", "x-amz-id-2": "LOCAL" }),
            ),
        ];
        for (field, value) in defaults {
            record.entry(field).or_insert(value);
        }
    }
    event.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn motos_records_become_what_lambda_events_read() {
        let moto = json!({"Records": [{
            "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
            "eventTime": "2026-12-07T10:00:00.000Z", "eventName": "ObjectCreated:Post",
            "s3": {"s3SchemaVersion": "1.0", "configurationId": "c",
                   "bucket": {"name": "b", "arn": "arn:aws:s3:::b"},
                   "object": {"key": "attachments/c/a", "size": 3, "eTag": "e"}}
        }]});
        assert!(
            serde_json::from_value::<aws_lambda_events::event::s3::S3Event>(moto.clone()).is_err()
        );
        let completed = as_aws_sends(&moto.to_string());
        let event: aws_lambda_events::event::s3::S3Event =
            serde_json::from_str(&completed).expect("an S3 event");
        assert_eq!(
            event.records[0].s3.object.key.as_deref(),
            Some("attachments/c/a")
        );
        let test_event = r#"{"Service":"Amazon S3","Event":"s3:TestEvent"}"#;
        assert_eq!(as_aws_sends(test_event), test_event);
    }
}
