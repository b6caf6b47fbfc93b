//! Builds the API Gateway HTTP API (payload 2.0) event for a request, in its wire format,
//! and turns it into a `lambda_http::Request` through the same deserializer Lambda uses.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::{json, Map, Value};

/// What the gateway knows of an incoming HTTP request.
pub struct HttpCall<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub raw_query: &'a str,
    /// Header names as received; values of repeated headers are joined with commas, as API
    /// Gateway does.
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
    pub source_ip: &'a str,
}

/// The event API Gateway would send for `call` once it matched `route_key`.
pub fn http_api_event(
    call: &HttpCall<'_>,
    route_key: &str,
    path_parameters: &[(String, String)],
    request_id: &str,
) -> Value {
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    let mut cookies = Vec::new();
    for (name, value) in call.headers {
        let name = name.to_ascii_lowercase();
        if name == "cookie" {
            cookies.extend(value.split(';').map(|c| c.trim().to_string()));
            continue;
        }
        headers
            .entry(name)
            .and_modify(|existing| {
                existing.push(',');
                existing.push_str(value);
            })
            .or_insert_with(|| value.clone());
    }
    let user_agent = headers.get("user-agent").cloned().unwrap_or_default();
    let mut query: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in form_urlencoded(call.raw_query) {
        query
            .entry(name)
            .and_modify(|existing| {
                existing.push(',');
                existing.push_str(&value);
            })
            .or_insert(value);
    }
    // Text bodies go as they are; anything that is not UTF-8 is base64, as API Gateway does.
    let (body, is_base64) = match std::str::from_utf8(call.body) {
        _ if call.body.is_empty() => (Value::Null, false),
        Ok(text) => (Value::String(text.to_string()), false),
        Err(_) => (
            Value::String(base64::engine::general_purpose::STANDARD.encode(call.body)),
            true,
        ),
    };
    let now = chrono::Utc::now();
    let mut event = Map::new();
    event.insert("version".into(), json!("2.0"));
    event.insert("routeKey".into(), json!(route_key));
    event.insert("rawPath".into(), json!(call.path));
    event.insert("rawQueryString".into(), json!(call.raw_query));
    if !cookies.is_empty() {
        event.insert("cookies".into(), json!(cookies));
    }
    event.insert("headers".into(), json!(headers));
    if !query.is_empty() {
        event.insert("queryStringParameters".into(), json!(query));
    }
    if !path_parameters.is_empty() {
        let params: BTreeMap<_, _> = path_parameters.iter().cloned().collect();
        event.insert("pathParameters".into(), json!(params));
    }
    event.insert(
        "requestContext".into(),
        json!({
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": headers.get("host").cloned().unwrap_or_else(|| "127.0.0.1".into()),
            "domainPrefix": "local",
            "http": {
                "method": call.method,
                "path": call.path,
                "protocol": "HTTP/1.1",
                "sourceIp": call.source_ip,
                "userAgent": user_agent,
            },
            "requestId": request_id,
            "routeKey": route_key,
            "stage": "$default",
            "time": now.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
            "timeEpoch": now.timestamp_millis(),
        }),
    );
    event.insert("body".into(), body);
    event.insert("isBase64Encoded".into(), json!(is_base64));
    Value::Object(event)
}

/// Decodes `a=1&b=x%20y` (with `+` as space).
fn form_urlencoded(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode_component(name), decode_component(value))
        })
        .collect()
}

fn decode_component(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let hex = |b: u8| (b as char).to_digit(16);
                match (
                    bytes.get(i + 1).and_then(|b| hex(*b)),
                    bytes.get(i + 2).and_then(|b| hex(*b)),
                ) {
                    (Some(high), Some(low)) => {
                        out.push((high * 16 + low) as u8);
                        i += 3;
                    }
                    _ => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            other => {
                out.push(other);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What a WebSocket event is about.
pub enum WebSocketCall<'a> {
    /// The upgrade request: its headers and raw query string.
    Connect {
        headers: &'a [(String, String)],
        raw_query: &'a str,
    },
    /// A client frame (text, or base64 of a binary one).
    Message {
        body: &'a str,
        is_base64: bool,
    },
    Disconnect {
        status_code: u16,
        reason: &'a str,
    },
}

/// The connection an event concerns.
pub struct WebSocketConnection<'a> {
    pub connection_id: &'a str,
    pub domain_name: &'a str,
    pub stage: &'a str,
    pub connected_at_millis: i64,
    pub source_ip: &'a str,
    pub user_agent: &'a str,
}

/// The event API Gateway's WebSocket API sends for `call` on `route_key`, in its wire format.
pub fn websocket_event(
    call: &WebSocketCall<'_>,
    connection: &WebSocketConnection<'_>,
    route_key: &str,
    request_id: &str,
) -> Value {
    let now = chrono::Utc::now();
    let event_type = match call {
        WebSocketCall::Connect { .. } => "CONNECT",
        WebSocketCall::Message { .. } => "MESSAGE",
        WebSocketCall::Disconnect { .. } => "DISCONNECT",
    };
    let mut context = json!({
        "routeKey": route_key,
        "eventType": event_type,
        "extendedRequestId": request_id,
        "requestTime": now.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
        "messageDirection": "IN",
        "stage": connection.stage,
        "connectedAt": connection.connected_at_millis,
        "requestTimeEpoch": now.timestamp_millis(),
        "identity": {"sourceIp": connection.source_ip, "userAgent": connection.user_agent},
        "requestId": request_id,
        "domainName": connection.domain_name,
        "connectionId": connection.connection_id,
        "apiId": "local",
    });
    let mut event = Map::new();
    match call {
        WebSocketCall::Connect { headers, raw_query } => {
            let mut single: BTreeMap<String, String> = BTreeMap::new();
            let mut multi: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for (name, value) in headers.iter() {
                single.insert(name.clone(), value.clone());
                multi.entry(name.clone()).or_default().push(value.clone());
            }
            event.insert("headers".into(), json!(single));
            event.insert("multiValueHeaders".into(), json!(multi));
            let mut query: BTreeMap<String, String> = BTreeMap::new();
            let mut multi_query: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for (name, value) in form_urlencoded(raw_query) {
                query.insert(name.clone(), value.clone());
                multi_query.entry(name).or_default().push(value);
            }
            if !query.is_empty() {
                event.insert("queryStringParameters".into(), json!(query));
                event.insert("multiValueQueryStringParameters".into(), json!(multi_query));
            }
            event.insert("isBase64Encoded".into(), json!(false));
        }
        WebSocketCall::Message { body, is_base64 } => {
            context["messageId"] = json!(uuid::Uuid::new_v4().simple().to_string());
            event.insert("body".into(), json!(body));
            event.insert("isBase64Encoded".into(), json!(is_base64));
        }
        WebSocketCall::Disconnect {
            status_code,
            reason,
        } => {
            context["disconnectStatusCode"] = json!(status_code);
            context["disconnectReason"] = json!(reason);
            event.insert("headers".into(), json!({"Host": connection.domain_name}));
            event.insert("isBase64Encoded".into(), json!(false));
        }
    }
    event.insert("requestContext".into(), context);
    Value::Object(event)
}

/// The request a Lambda function receives for `event`.
pub fn to_lambda_request(event: &Value) -> Result<lambda_http::Request, serde_json::Error> {
    lambda_http::request::from_str(&event.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::RequestExt;

    #[test]
    fn builds_an_event_lambda_http_understands() {
        let headers = vec![
            ("Content-Type".to_string(), "application/json".to_string()),
            ("Host".to_string(), "127.0.0.1:3000".to_string()),
            ("X-Multi".to_string(), "a".to_string()),
            ("X-Multi".to_string(), "b".to_string()),
        ];
        let call = HttpCall {
            method: "POST",
            path: "/partner-requests/abc/accept",
            raw_query: "status=all&q=a%20b+c",
            headers: &headers,
            body: br#"{"x":1}"#,
            source_ip: "127.0.0.1",
        };
        let params = vec![("id".to_string(), "abc".to_string())];
        let event = http_api_event(
            &call,
            "POST /partner-requests/{id}/accept",
            &params,
            "req-1",
        );
        assert_eq!(event["headers"]["x-multi"], "a,b");
        let request = to_lambda_request(&event).unwrap();
        assert_eq!(request.method(), "POST");
        assert_eq!(request.uri().path(), "/partner-requests/abc/accept");
        assert_eq!(
            request.path_parameters_ref().unwrap().first("id"),
            Some("abc")
        );
        assert_eq!(
            request.query_string_parameters_ref().unwrap().first("q"),
            Some("a b c")
        );
    }

    #[test]
    fn binary_bodies_are_base64() {
        let call = HttpCall {
            method: "POST",
            path: "/auth/login",
            raw_query: "",
            headers: &[],
            body: &[0xff, 0xfe, b'{'],
            source_ip: "127.0.0.1",
        };
        let event = http_api_event(&call, "POST /auth/login", &[], "r");
        assert_eq!(event["isBase64Encoded"], true);
        let request = to_lambda_request(&event).unwrap();
        assert_eq!(request.body().as_ref(), &[0xff, 0xfe, b'{']);
    }
}
