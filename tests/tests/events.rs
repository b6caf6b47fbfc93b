//! Every file of events/ is a real API Gateway event for a route of the function whose folder
//! it sits in, and that function's handler answers it as the contract says.

use std::path::PathBuf;

use integration_tests::TestEnv;
use serde_json::Value;
use shared::routes::ROUTES;

fn events() -> Vec<(String, String, Value)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../events");
    let mut found = Vec::new();
    for dir in std::fs::read_dir(&root).expect("events/ exists") {
        let dir = dir.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        let function = dir.file_name().unwrap().to_string_lossy().to_string();
        for file in std::fs::read_dir(&dir).unwrap() {
            let path = file.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            let event: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
                .unwrap_or_else(|err| panic!("{name}: {err}"));
            found.push((function.clone(), name, event));
        }
    }
    // register.json first: login.json logs in the account it creates.
    found.sort_by_key(|(function, name, _)| {
        (function.clone(), name != "register.json", name.clone())
    });
    found
}

#[tokio::test]
async fn sample_events_are_answered_by_their_functions() {
    let env = TestEnv::new().await;
    let events = events();
    assert!(events.len() >= 10, "events/ has a sample per route family");
    for (function, name, event) in events {
        let route_key = event["routeKey"].as_str().unwrap();
        let route = ROUTES
            .iter()
            .find(|r| r.key() == route_key)
            .unwrap_or_else(|| panic!("{function}/{name}: {route_key} is not a route"));
        assert_eq!(
            route.function, function,
            "{name} sits in the folder of its function"
        );
        let answer = env.call_event(&function, &event).await;
        let expected = match (name.as_str(), route.auth) {
            ("register.json", _) => 201,
            ("login.json", _) => 200,
            (_, true) => 401, // placeholder token
            _ => 200,
        };
        assert_eq!(
            answer.status, expected,
            "{function}/{name}: {:?}",
            answer.body
        );
        assert!(answer.headers.contains_key("x-request-id"));
    }
}
