//! Property tests (proptest) of everything that reads untrusted input: WebSocket frames, HTTP
//! bodies, query parameters, page cursors, tokens, path matching and the domain newtypes.
//! Each property says what must hold for every input, not just the examples in unit tests:
//! no panic, a 4xx error for what is refused, and what was accepted parses again the same.

use api::extract::parse_json_body;
use api::routes::{match_route, table};
use proptest::prelude::*;
use shared::auth::TokenService;
use shared::domain::{
    ChannelName, ClientId, Email, Emoji, Limit, MessageBody, MessageRole, Order, PageRequest,
    StatusFilter, UserId, UserName,
};
use shared::error::MAX_BODY_BYTES;
use shared::storage::CursorCodec;
use shared::websocket::ClientFrame;

const SECRET: &str = "a-secret-for-property-tests-0123456789";
const ACTIONS: [&str; 5] = ["sendMessage", "typing", "markRead", "ping", "unknown"];

/// JSON values of any shape, a few levels deep.
fn any_json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        ".{0,20}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            prop::collection::btree_map("[a-z_]{1,12}", inner, 0..6)
                .prop_map(|map| serde_json::Value::Object(map.into_iter().collect())),
        ]
    })
}

/// A frame with a plausible action and any fields, so parsing gets past the first checks.
fn frame_like() -> impl Strategy<Value = serde_json::Value> {
    let fields = prop::sample::select(vec![
        "channel_id",
        "body",
        "client_id",
        "parent_id",
        "is_typing",
        "message_id",
        "extra",
    ]);
    (
        prop::sample::select(ACTIONS.to_vec()),
        prop::collection::btree_map(fields, any_json(), 0..6),
    )
        .prop_map(|(action, fields)| {
            let mut object: serde_json::Map<String, serde_json::Value> = fields
                .into_iter()
                .map(|(name, value)| (name.to_string(), value))
                .collect();
            object.insert("action".into(), action.into());
            serde_json::Value::Object(object)
        })
}

/// The shape of a route's body, read by serde only.
#[derive(Debug, serde::Deserialize)]
#[allow(dead_code)]
struct SendBody {
    body: Option<String>,
    client_id: Option<String>,
}

/// The status a failure answers with, through the same conversion the services use.
fn status<T, E: Into<shared::AppError>>(result: Result<T, E>) -> Result<(), u16> {
    result.map(|_| ()).map_err(|err| err.into().status())
}

proptest! {
    // 512 cases per property in `make test`; `PROPTEST_CASES` raises it (`make fuzz`). No
    // regression files: a failure prints its minimal input, which becomes a unit test.
    #![proptest_config(ProptestConfig {
        cases: ProptestConfig::default().cases.max(512),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn any_text_as_a_frame_is_parsed_or_refused_with_400(text in ".{0,400}") {
        if let Err(bad) = ClientFrame::parse(&text) {
            prop_assert_eq!(bad.error.status(), 400);
        }
    }

    #[test]
    fn frame_shaped_json_parses_exactly_when_its_action_and_fields_fit(frame in frame_like()) {
        match ClientFrame::parse(&frame.to_string()) {
            Ok(parsed) => {
                let action = match parsed {
                    ClientFrame::SendMessage { .. } => "sendMessage",
                    ClientFrame::Typing { .. } => "typing",
                    ClientFrame::MarkRead { .. } => "markRead",
                    ClientFrame::Ping => "ping",
                };
                prop_assert_eq!(frame["action"].as_str(), Some(action));
            }
            Err(bad) => {
                prop_assert_eq!(bad.error.status(), 400);
                // The client_id comes back so the client can match the error to its send.
                prop_assert_eq!(
                    bad.client_id.as_deref(),
                    frame.get("client_id").and_then(|id| id.as_str())
                );
            }
        }
    }

    #[test]
    fn any_body_bytes_are_read_or_refused_with_400(
        body in prop::collection::vec(any::<u8>(), 0..2048),
        content_type in prop::option::of(prop::sample::select(vec![
            "application/json", "application/json; charset=utf-8", "text/plain",
            "application/problem+json", "", "multipart/form-data", "APPLICATION/JSON",
        ])),
    ) {
        if let Err(code) = status(parse_json_body::<SendBody>(content_type, &body)) {
            prop_assert_eq!(code, 400);
        }
    }

    #[test]
    fn any_json_body_is_read_or_refused_with_400(value in any_json()) {
        let read = parse_json_body::<SendBody>(Some("application/json"), value.to_string().as_bytes());
        match read {
            Ok(_) => prop_assert!(value.is_object()),
            Err(err) => prop_assert_eq!(err.status(), 400),
        }
    }

    #[test]
    fn a_body_over_the_limit_is_413_whatever_it_holds(extra in 1usize..4096, byte in any::<u8>()) {
        let body = vec![byte; MAX_BODY_BYTES + extra];
        prop_assert_eq!(status(parse_json_body::<SendBody>(Some("application/json"), &body)), Err(413));
    }

    #[test]
    fn limits_parse_exactly_from_1_to_100(
        raw in prop_oneof![".{0,6}", (-5i64..300).prop_map(|n| n.to_string())],
    ) {
        let expected = raw.parse::<u8>().ok().filter(|n| (1..=100).contains(n));
        prop_assert_eq!(Limit::parse(Some(&raw)).ok().map(Limit::get), expected.map(i32::from));
        if let Err(code) = status(PageRequest::parse(Some(&raw), None)) {
            prop_assert_eq!(code, 400);
        }
    }

    #[test]
    fn query_enums_parse_or_refuse_with_400(raw in ".{0,12}") {
        for refused in [
            status(Order::parse(Some(&raw))),
            status(StatusFilter::parse(Some(&raw))),
            status(MessageRole::parse(&raw)),
        ] {
            if let Err(code) = refused {
                prop_assert_eq!(code, 400);
            }
        }
    }

    #[test]
    fn forged_cursors_are_400(cursor in ".{0,300}", query in "[a-z:]{1,20}") {
        let codec = CursorCodec::new(Some(SECRET));
        prop_assert_eq!(status(codec.decode(&query, &cursor)), Err(400));
    }

    #[test]
    fn cursors_round_trip_and_stay_bound_to_their_query(
        key in prop::collection::btree_map("[a-z]{1,8}", ".{0,40}", 1..4),
        query in "[a-z:]{1,20}",
        other in "[A-Z]{1,5}",
    ) {
        let codec = CursorCodec::new(Some(SECRET));
        let item: std::collections::HashMap<_, _> = key
            .iter()
            .map(|(name, value)| {
                (name.clone(), aws_sdk_dynamodb::types::AttributeValue::S(value.clone()))
            })
            .collect();
        let cursor = codec
            .encode(&query, &item)
            .map_err(|err| TestCaseError::fail(err.to_string()))?;
        prop_assert_eq!(codec.decode(&query, &cursor).ok(), Some(item));
        prop_assert_eq!(status(codec.decode(&format!("{query}{other}"), &cursor)), Err(400));
    }

    #[test]
    fn any_bearer_token_but_a_real_one_is_401(token in ".{0,300}") {
        let tokens = TokenService::new(Some(SECRET), std::time::Duration::from_secs(60));
        prop_assert_eq!(status(tokens.verify(&token)), Err(401));
    }

    #[test]
    fn paths_match_only_table_routes_with_one_segment_per_parameter(
        segments in prop::collection::vec(prop_oneof![
            Just("channels".to_string()), Just("messages".to_string()),
            Just("users".to_string()), Just("reactions".to_string()),
            Just("me".to_string()), Just(String::new()), "[^/]{1,12}",
        ], 0..7),
        method in prop::sample::select(vec!["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]),
    ) {
        let path = format!("/{}", segments.join("/"));
        if let Some(found) = match_route(method, &path) {
            prop_assert!(table().iter().any(|route| route.key() == found.route.key()));
            prop_assert_eq!(found.route.method, method);
            for (_, value) in &found.path_parameters {
                prop_assert!(!value.is_empty() && !value.contains('/'));
            }
        }
    }

    #[test]
    fn newtypes_accept_again_what_they_accepted(raw in ".{0,80}") {
        if let Ok(email) = Email::parse(&raw) {
            let again = Email::parse(email.as_str()).map(|e| e.as_str().to_string());
            prop_assert_eq!(again.ok(), Some(email.as_str().to_string()));
        }
        if let Ok(name) = UserName::parse(&raw) {
            let again = UserName::parse(name.as_str()).map(|n| n.as_str().to_string());
            prop_assert_eq!(again.ok(), Some(name.as_str().to_string()));
        }
        if let Ok(name) = ChannelName::parse(&raw) {
            let again = ChannelName::parse(name.as_str()).map(|n| n.as_str().to_string());
            prop_assert_eq!(again.ok(), Some(name.as_str().to_string()));
        }
        for refused in [
            status(MessageBody::parse(&raw)),
            status(ClientId::parse(&raw)),
            status(Emoji::parse(&raw)),
        ] {
            if let Err(code) = refused {
                prop_assert_eq!(code, 400);
            }
        }
        if let Some(id) = UserId::parse(&raw) {
            prop_assert_eq!(id.to_string(), raw.clone());
        }
    }
}
