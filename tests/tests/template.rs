//! template.yaml deploys what the code expects: the same routes to the same functions as the
//! route table (which the local gateway and the OpenAPI document follow), and the same table.

use integration_tests::openapi::Document;
use serde_yaml::Value;
use shared::routes::ROUTES;
use shared::storage::schema::{GSI_NAMES, KEY_ATTRIBUTES, TTL_ATTRIBUTE};

fn template() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml");
    serde_yaml::from_str(&std::fs::read_to_string(path).expect("template.yaml"))
        .expect("template.yaml is YAML")
}

fn resources_of_type<'a>(template: &'a Value, kind: &str) -> Vec<(&'a str, &'a Value)> {
    template["Resources"]
        .as_mapping()
        .expect("Resources")
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some(kind))
        .map(|(name, r)| (name.as_str().unwrap_or_default(), r))
        .collect()
}

fn strings(value: &Value, field: &str) -> Vec<String> {
    let mut found: Vec<String> = value
        .as_sequence()
        .expect("a list")
        .iter()
        .map(|item| item[field].as_str().expect("a string").to_string())
        .collect();
    found.sort();
    found
}

#[test]
fn the_template_routes_exactly_the_route_table_to_the_same_functions() {
    let template = template();
    let mut deployed = Vec::new();
    let mut default_route = Vec::new();
    for (_, function) in resources_of_type(&template, "AWS::Serverless::Function") {
        let code = function["Properties"]["CodeUri"].as_str().expect("CodeUri");
        let name = code.trim_start_matches("functions/").to_string();
        assert_eq!(
            function["Metadata"]["BuildMethod"], "rust-cargolambda",
            "{name}"
        );
        for (_, event) in function["Properties"]["Events"]
            .as_mapping()
            .into_iter()
            .flatten()
        {
            if event["Type"] == "HttpApi" && event["Properties"].get("Path").is_none() {
                default_route.push(name.clone());
            } else if event["Type"] == "HttpApi" {
                let props = &event["Properties"];
                deployed.push((
                    props["Method"].as_str().expect("Method").to_string(),
                    props["Path"].as_str().expect("Path").to_string(),
                    name.clone(),
                ));
            }
        }
    }
    assert_eq!(
        default_route,
        ["users-api"],
        "one $default route, answering 404 in the contract's shape"
    );
    deployed.sort();
    let mut table: Vec<(String, String, String)> = ROUTES
        .iter()
        .map(|r| {
            (
                r.method.to_string(),
                r.path.to_string(),
                r.function.to_string(),
            )
        })
        .collect();
    table.sort();
    assert_eq!(deployed, table);

    let documented = Document::load().operations();
    let deployed_ops: Vec<(String, String)> =
        deployed.into_iter().map(|(m, p, _)| (m, p)).collect();
    assert_eq!(deployed_ops, documented, "template and OpenAPI document");
}

#[test]
fn the_template_table_is_the_table_of_the_code() {
    let template = template();
    let tables = resources_of_type(&template, "AWS::DynamoDB::Table");
    assert_eq!(tables.len(), 1, "one table");
    let props = &tables[0].1["Properties"];
    assert_eq!(props["BillingMode"], "PAY_PER_REQUEST");
    let mut attributes = KEY_ATTRIBUTES.map(str::to_string).to_vec();
    attributes.sort();
    assert_eq!(
        strings(&props["AttributeDefinitions"], "AttributeName"),
        attributes
    );
    assert_eq!(strings(&props["KeySchema"], "AttributeName"), ["pk", "sk"]);
    assert_eq!(
        strings(&props["GlobalSecondaryIndexes"], "IndexName"),
        GSI_NAMES.map(str::to_string).to_vec()
    );
    assert_eq!(
        props["TimeToLiveSpecification"]["AttributeName"].as_str(),
        Some(TTL_ATTRIBUTE)
    );
    assert_eq!(
        props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
        true
    );
}

#[test]
fn every_function_runs_on_arm64_al2023_with_no_scan_permission() {
    let template = template();
    let globals = &template["Globals"]["Function"];
    assert_eq!(globals["Runtime"], "provided.al2023");
    assert_eq!(globals["Architectures"][0], "arm64");
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap();
    assert!(
        !text.contains("dynamodb:Scan") && !text.contains("dynamodb:*"),
        "least privilege: no Scan"
    );
    assert!(
        !text.contains("DynamoDBCrudPolicy"),
        "the CRUD policy template grants Scan"
    );
    for queue in resources_of_type(&template, "AWS::SQS::Queue") {
        let props = &queue.1["Properties"];
        if props.get("RedrivePolicy").is_some() {
            assert!(props["RedrivePolicy"]["maxReceiveCount"]
                .as_u64()
                .is_some_and(|n| n <= 10));
            assert!(
                props["VisibilityTimeout"]
                    .as_u64()
                    .is_some_and(|t| t >= 6 * 30),
                "6x the worker timeout"
            );
        }
    }
}
