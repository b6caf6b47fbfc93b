//! template.yaml deploys what the code expects: the same routes to the same functions as the
//! route table (which the local gateway and the OpenAPI document follow), and the same table.

use integration_tests::openapi::Document;
use serde_yaml::Value;

use shared::storage::schema::{GSI_NAMES, KEY_ATTRIBUTES, STREAM_VIEW, TTL_ATTRIBUTE};

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

/// The properties of the template's one resource of type `kind`.
fn the_one<'a>(template: &'a Value, kind: &str) -> &'a Value {
    let found = resources_of_type(template, kind);
    assert_eq!(found.len(), 1, "one {kind}");
    &found[0].1["Properties"]
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
        assert_eq!(function["Metadata"]["BuildMethod"], "makefile", "{name}");
        let makefile = std::fs::read_to_string(format!("../{code}/Makefile")).expect("Makefile");
        assert!(
            makefile.contains("infra/lambda.mk"),
            "{name}: sam build copies the bootstrap built once for all functions"
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
    let mut table: Vec<(String, String, String)> = api::routes::table()
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
    let props = the_one(&template, "AWS::DynamoDB::Table");
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
    assert_eq!(
        props["StreamSpecification"]["StreamViewType"].as_str(),
        Some(STREAM_VIEW.as_str())
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

/// The token key reaches only the functions that sign or verify tokens (each refuses to start
/// without it: `Config::require_jwt_secret`); no worker and no other WebSocket function has it.
#[test]
fn only_the_token_functions_get_the_jwt_secret() {
    let template = template();
    assert!(
        template["Globals"]["Function"]["Environment"]["Variables"]
            .get("JWT_SECRET")
            .is_none(),
        "not in the globals"
    );
    let mut with_secret: Vec<&str> = resources_of_type(&template, "AWS::Serverless::Function")
        .into_iter()
        .filter(|(_, f)| {
            f["Properties"]["Environment"]["Variables"]
                .get("JWT_SECRET")
                .is_some()
        })
        .map(|(name, _)| name)
        .collect();
    with_secret.sort();
    assert_eq!(
        with_secret,
        [
            "ChannelsApiFunction",
            "PartnersApiFunction",
            "UsersApiFunction",
            "WsConnectFunction"
        ]
    );
}

/// A prod stack cannot allow every origin: the template's rule refuses `CorsAllowOrigin = "*"`
/// when `Stage` is prod, and the prod configuration names an origin.
#[test]
fn a_prod_stack_names_its_web_origin() {
    let template = template();
    let rule = &template["Rules"]["ProdNamesItsWebOrigin"];
    let yaml = serde_yaml::to_string(rule).unwrap();
    assert!(
        yaml.contains("prod") && yaml.contains("CorsAllowOrigin") && yaml.contains("'*'"),
        "{yaml}"
    );
    let samconfig =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../samconfig.toml")).unwrap();
    let prod = samconfig
        .lines()
        .find(|line| line.starts_with("parameter_overrides") && line.contains("Stage=prod"))
        .expect("the prod parameters");
    assert!(prod.contains("CorsAllowOrigin=https://"), "{prod}");
}

/// The text of a plain string or of a `!Sub` / `!Ref` tag.
fn text(value: &Value) -> &str {
    match value {
        Value::Tagged(tagged) => tagged.value.as_str(),
        other => other.as_str(),
    }
    .unwrap_or_default()
}

/// The first resource a `!Sub` refers to (`${Name}` or `${Name.Attr}`; pseudo parameters
/// like `${AWS::Region}` skipped).
fn first_reference(sub: &str) -> &str {
    sub.split("${")
        .skip(1)
        .map(|rest| &rest[..rest.find(['}', '.']).unwrap_or(rest.len())])
        .find(|name| !name.starts_with("AWS::"))
        .unwrap_or_default()
}

#[test]
fn the_websocket_api_routes_as_the_route_table_says() {
    use shared::routes::{WS_ROUTES, WS_ROUTE_SELECTION};
    let template = template();
    let api = the_one(&template, "AWS::ApiGatewayV2::Api");
    assert_eq!(api["ProtocolType"], "WEBSOCKET");
    assert_eq!(text(&api["RouteSelectionExpression"]), WS_ROUTE_SELECTION);

    let resources = &template["Resources"];
    let crate_of = |function: &str| {
        text(&resources[function]["Properties"]["CodeUri"])
            .trim_start_matches("functions/")
            .to_string()
    };
    let mut deployed = Vec::new();
    let mut route_ids = Vec::new();
    for (id, route) in resources_of_type(&template, "AWS::ApiGatewayV2::Route") {
        let props = &route["Properties"];
        let integration = first_reference(text(&props["Target"]));
        let integration = &resources[integration]["Properties"];
        assert_eq!(integration["IntegrationType"], "AWS_PROXY");
        let function = first_reference(text(&integration["IntegrationUri"]));
        deployed.push((text(&props["RouteKey"]).to_string(), crate_of(function)));
        route_ids.push(id.to_string());
    }
    deployed.sort();
    let mut expected: Vec<(String, String)> = WS_ROUTES
        .iter()
        .map(|(key, function)| (key.to_string(), function.to_string()))
        .collect();
    expected.sort();
    assert_eq!(deployed, expected, "template and shared::routes::WS_ROUTES");

    // API Gateway may invoke each of them, each for its own route only.
    let mut invokable: Vec<(String, String)> =
        resources_of_type(&template, "AWS::Lambda::Permission")
            .iter()
            .filter(|(_, p)| p["Properties"]["Principal"] == "apigateway.amazonaws.com")
            .map(|(_, p)| {
                let source = text(&p["Properties"]["SourceArn"]);
                let route = source.rsplit('/').next().unwrap_or_default().to_string();
                (route, crate_of(text(&p["Properties"]["FunctionName"])))
            })
            .collect();
    invokable.sort();
    assert_eq!(invokable, expected);

    // The stage redeploys on every change and is created after the routes.
    let (_, stage) = resources_of_type(&template, "AWS::ApiGatewayV2::Stage")[0];
    assert_eq!(stage["Properties"]["AutoDeploy"], true);
    let mut depends: Vec<String> = stage["DependsOn"]
        .as_sequence()
        .expect("DependsOn")
        .iter()
        .map(|v| text(v).to_string())
        .collect();
    depends.sort();
    route_ids.sort();
    assert_eq!(depends, route_ids);
}

#[test]
fn every_function_that_pushes_may_manage_connections() {
    let template = template();
    // Requests push small channels' events themselves; the fan-out worker pushes the rest;
    // the maintenance worker closes a deleted account's sockets.
    let pushing = [
        "channels-api",
        "ws-default",
        "assistant-worker",
        "fanout-worker",
        "maintenance-worker",
    ];
    for (_, function) in resources_of_type(&template, "AWS::Serverless::Function") {
        let code = text(&function["Properties"]["CodeUri"]).trim_start_matches("functions/");
        let statements = function["Properties"]["Policies"][0]["Statement"]
            .as_sequence()
            .expect("one policy of statements");
        let manage: Vec<&str> = statements
            .iter()
            .filter(|s| s["Action"] == "execute-api:ManageConnections")
            .map(|s| text(&s["Resource"]))
            .collect();
        if pushing.contains(&code) {
            assert_eq!(
                manage,
                ["arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${WebSocketApi}/${Stage}/*/@connections/*"],
                "{code}: may manage the connections of this API's stage, nothing else"
            );
        } else {
            assert!(manage.is_empty(), "{code} does not push");
        }
    }
    let globals = &template["Globals"]["Function"]["Environment"]["Variables"];
    assert!(text(&globals["WEBSOCKET_API_ENDPOINT"]).contains("${WebSocketApi}"));
}

#[test]
fn every_queue_triggers_its_worker_as_the_bindings_say() {
    use shared::routes::QUEUE_BINDINGS;
    let template = template();
    let resources = &template["Resources"];
    let mut found = Vec::new();
    for (_, function) in resources_of_type(&template, "AWS::Serverless::Function") {
        let code = text(&function["Properties"]["CodeUri"]).trim_start_matches("functions/");
        for (_, event) in function["Properties"]["Events"]
            .as_mapping()
            .into_iter()
            .flatten()
        {
            if event["Type"] != "SQS" {
                continue;
            }
            let props = &event["Properties"];
            let queue_ref = format!("${{{}}}", text(&props["Queue"]));
            let queue = first_reference(&queue_ref);
            assert_eq!(
                props["FunctionResponseTypes"][0], "ReportBatchItemFailures",
                "{code}: partial batch responses are honoured only with this"
            );
            let visibility = resources[queue]["Properties"]["VisibilityTimeout"].as_i64();
            let timeout = function["Properties"]["Timeout"].as_i64().unwrap_or(10);
            assert!(
                visibility.is_some_and(|v| v >= 6 * timeout),
                "{queue}: visibility at least 6x the timeout of {code}"
            );
            let max_receive =
                resources[queue]["Properties"]["RedrivePolicy"]["maxReceiveCount"].as_i64();
            assert!(max_receive.is_some(), "{queue} has a dead-letter queue");
            found.push((
                queue.to_string(),
                code.to_string(),
                props["BatchSize"].as_i64().unwrap_or(10) as i32,
                visibility.unwrap_or_default() as i32,
            ));
        }
    }
    found.sort();
    let mut expected: Vec<(String, String, i32, i32)> = QUEUE_BINDINGS
        .iter()
        .map(|b| {
            (
                b.queue.to_string(),
                b.function.to_string(),
                b.batch_size,
                b.visibility_timeout_seconds,
            )
        })
        .collect();
    expected.sort();
    assert_eq!(found, expected);
}

#[test]
fn each_worker_may_do_what_it_does() {
    let template = template();
    let policies_of = |code: &str| {
        let (_, function) = resources_of_type(&template, "AWS::Serverless::Function")
            .into_iter()
            .find(|(_, f)| text(&f["Properties"]["CodeUri"]) == format!("functions/{code}"))
            .expect("the function");
        serde_yaml::to_string(&function["Properties"]["Policies"]).unwrap()
    };
    let email = policies_of("email-worker");
    for action in [
        "ses:SendEmail",
        "dynamodb:PutItem",
        "dynamodb:GetItem",
        "dynamodb:DeleteItem",
    ] {
        assert!(email.contains(action), "email-worker needs {action}");
    }
    let maintenance = policies_of("maintenance-worker");
    for action in [
        "dynamodb:BatchWriteItem",
        "dynamodb:Query",
        "sqs:SendMessage",
    ] {
        assert!(
            maintenance.contains(action),
            "maintenance-worker needs {action}"
        );
    }
    assert!(
        !policies_of("users-api").contains("sqs:"),
        "DELETE /me queues nothing: the router derives the clean-up from the stream"
    );
    let router = policies_of("event-router");
    for queue in [
        "FanoutQueue",
        "NotificationQueue",
        "AssistantQueue",
        "MaintenanceQueue",
        "WebhookQueue",
    ] {
        assert!(router.contains(queue), "the router queues to {queue}");
    }
    assert!(
        !router.contains("dynamodb:PutItem") && !router.contains("dynamodb:DeleteItem"),
        "the router creates and deletes no single item: it updates derived fields"
    );
    assert!(
        router.contains("dynamodb:BatchWriteItem"),
        "the router writes the search index (Store::update_search_index)"
    );
    let attachments = policies_of("attachment-worker");
    for action in [
        "s3:GetObject",
        "s3:DeleteObject",
        "s3:PutObject",
        "dynamodb:UpdateItem",
    ] {
        assert!(
            attachments.contains(action),
            "attachment-worker needs {action}"
        );
    }
    assert!(
        !attachments.contains("sqs:SendMessage") && !attachments.contains("dynamodb:Query"),
        "the attachment worker settles one item per object, nothing else"
    );
    for signer in ["channels-api", "ws-default", "event-router"] {
        assert!(
            policies_of(signer).contains("s3:GetObject"),
            "{signer} presigns downloads, which work only if it may read them"
        );
    }
    assert!(policies_of("maintenance-worker").contains("s3:DeleteObject"));
    let assistant = policies_of("assistant-worker");
    assert!(!assistant.contains("ses:"));
    assert!(
        assistant.contains("secretsmanager:GetSecretValue")
            && assistant.contains("AssistantLlmApiKeySecretArn"),
        "the assistant reads its model key, that secret only"
    );
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap();
    assert_eq!(
        text.matches("secretsmanager:GetSecretValue").count(),
        1,
        "no other function reads a secret"
    );
    assert!(
        !text.contains("ASSISTANT_LLM_API_KEY:"),
        "the key never in the environment"
    );
}

/// The table the code creates (locally, and in every test) streams what the template's does.
#[tokio::test]
async fn the_created_table_streams_new_and_old_images() {
    let env = integration_tests::TestEnv::new().await;
    let described = env
        .dynamodb
        .describe_table()
        .table_name(&env.table)
        .send()
        .await
        .expect("describe the test table");
    let table = described.table.expect("a table");
    let stream = table.stream_specification.expect("a stream");
    assert!(stream.stream_enabled);
    assert_eq!(stream.stream_view_type, Some(STREAM_VIEW));
    assert!(
        table.latest_stream_arn.is_some(),
        "DynamoDB Local streams it"
    );
}

/// The stream event source mapping is the one the local gateway emulates: batch size, retries,
/// record age, bisection, partial batch responses, an on-failure queue, and a filter letting
/// through exactly the entities the router decodes.
#[test]
fn the_table_stream_triggers_the_router_as_the_binding_says() {
    use shared::routes::STREAM_BINDING;
    let template = template();
    let (_, router) = resources_of_type(&template, "AWS::Serverless::Function")
        .into_iter()
        .find(|(_, f)| {
            text(&f["Properties"]["CodeUri"]) == format!("functions/{}", STREAM_BINDING.function)
        })
        .expect("the router function");
    let events: Vec<&serde_yaml::Value> = router["Properties"]["Events"]
        .as_mapping()
        .expect("events")
        .values()
        .filter(|e| e["Type"] == "DynamoDB")
        .collect();
    assert_eq!(events.len(), 1, "one stream source");
    let props = &events[0]["Properties"];
    assert_eq!(text(&props["Stream"]), "Table.StreamArn");
    assert_eq!(
        props["BatchSize"].as_i64(),
        Some(i64::from(STREAM_BINDING.batch_size))
    );
    assert_eq!(
        props["MaximumRetryAttempts"].as_i64(),
        Some(i64::from(STREAM_BINDING.maximum_retry_attempts))
    );
    assert_eq!(
        props["MaximumRecordAgeInSeconds"].as_i64(),
        Some(i64::from(STREAM_BINDING.maximum_record_age_seconds))
    );
    assert_eq!(
        props["BisectBatchOnFunctionError"].as_bool(),
        Some(STREAM_BINDING.bisect_on_error)
    );
    assert_eq!(props["FunctionResponseTypes"][0], "ReportBatchItemFailures");
    assert_eq!(
        text(&props["DestinationConfig"]["OnFailure"]["Destination"]),
        "RouterDeadLetterQueue.Arn"
    );
    let filters = props["FilterCriteria"]["Filters"]
        .as_sequence()
        .expect("filters");
    assert_eq!(filters.len(), 2, "new images, and old images of removals");
    for filter in filters {
        let pattern: serde_json::Value =
            serde_json::from_str(text(&filter["Pattern"])).expect("a JSON pattern");
        let image = if pattern["eventName"] == serde_json::json!(["REMOVE"]) {
            "OldImage"
        } else {
            "NewImage"
        };
        let entities: Vec<&str> = pattern["dynamodb"][image]["entity"]["S"]
            .as_array()
            .expect("entity names")
            .iter()
            .map(|e| e.as_str().unwrap_or_default())
            .collect();
        assert_eq!(entities, STREAM_BINDING.entities, "{image}");
    }
}

/// The attachment bucket is private, encrypted, TLS-only, takes browser uploads from the web
/// origin only, and tells the attachment worker's queue about new uploads.
#[test]
fn the_attachment_bucket_is_private_and_notifies_the_worker() {
    let template = template();
    let resources = &template["Resources"];
    let bucket = &resources["AttachmentBucket"]["Properties"];
    let block = &bucket["PublicAccessBlockConfiguration"];
    for setting in [
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ] {
        assert_eq!(block[setting].as_bool(), Some(true), "{setting}");
    }
    assert!(
        bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
            ["ServerSideEncryptionByDefault"]["SSEAlgorithm"]
            .as_str()
            .is_some()
    );
    let cors = &bucket["CorsConfiguration"]["CorsRules"][0];
    assert_eq!(text(&cors["AllowedOrigins"][0]), "CorsAllowOrigin");
    let notification = &bucket["NotificationConfiguration"]["QueueConfigurations"][0];
    assert_eq!(text(&notification["Queue"]), "AttachmentQueue.Arn");
    assert_eq!(
        notification["Filter"]["S3Key"]["Rules"][0]["Value"].as_str(),
        Some(shared::objects::OBJECT_PREFIX)
    );
    assert!(bucket["LifecycleConfiguration"]["Rules"]
        .as_sequence()
        .is_some_and(|rules| !rules.is_empty()));
    let tls_only = serde_yaml::to_string(&resources["AttachmentBucketPolicy"]).unwrap();
    assert!(tls_only.contains("aws:SecureTransport"));
    let queue_policy = serde_yaml::to_string(&resources["AttachmentQueuePolicy"]).unwrap();
    assert!(
        queue_policy.contains("s3.amazonaws.com") && queue_policy.contains("aws:SourceAccount")
    );
    let schedule = &resources["SweepUploadsSchedule"]["Properties"]["Target"];
    let job: shared::queue::MaintenanceJob =
        serde_json::from_str(schedule["Input"].as_str().expect("an input")).expect("a job");
    assert_eq!(job, shared::queue::MaintenanceJob::SweepUploads);
}
