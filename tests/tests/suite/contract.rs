//! The OpenAPI document, the route table and the functions' routers describe the same API.
//! (Every answer in every other test is also checked against the document by the harness.)

use integration_tests::openapi::Document;
use integration_tests::TestEnv;

#[test]
fn the_document_has_exactly_the_routes_of_the_route_table() {
    let doc = Document::load();
    let mut routes: Vec<(String, String)> = api::routes::table()
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_string()))
        .collect();
    routes.sort();
    assert_eq!(doc.operations(), routes);
    assert_eq!(doc.raw()["openapi"], "3.1.0");
}

#[test]
fn the_document_marks_exactly_the_public_routes_as_needing_no_token() {
    let doc = Document::load();
    for route in api::routes::table() {
        let op = doc.operation(route.method, route.path);
        let public = op["security"].as_array().is_some_and(|s| s.is_empty());
        assert_eq!(public, !route.auth, "{} {}", route.method, route.path);
        if route.auth {
            assert!(
                op["responses"]["401"].is_object(),
                "{} {} documents 401",
                route.method,
                route.path
            );
        }
        assert!(op["operationId"].is_string());
    }
}

#[tokio::test]
async fn every_route_is_served_by_the_function_the_table_names() {
    let env = TestEnv::new().await;
    for route in api::routes::table() {
        let path = route
            .path
            .split('/')
            .map(|segment| {
                if segment.starts_with('{') {
                    uuid::Uuid::now_v7().to_string()
                } else {
                    segment.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        let answer = env.api.call(route.method, &path, None, None).await;
        assert_ne!(
            answer.body["error"]["message"],
            "no such route",
            "{} is not handled by {}",
            route.key(),
            route.function
        );
        if route.auth {
            assert_eq!(answer.status, 401, "{} needs a token", route.key());
        }
    }
}
