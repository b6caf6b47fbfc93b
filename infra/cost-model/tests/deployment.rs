//! The profile's deployment figures are template.yaml's: the fixed costs follow the template.

use std::path::Path;

fn count(text: &str, line: &str) -> f64 {
    text.lines().filter(|l| l.trim() == line).count() as f64
}

#[test]
fn the_profile_counts_what_the_template_declares() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let template = std::fs::read_to_string(dir.join("../../template.yaml")).unwrap();
    let model = cost_model::Model::load(dir).unwrap();
    let deployment = &model.profile.deployment;
    assert_eq!(
        deployment.alarms,
        count(&template, "Type: AWS::CloudWatch::Alarm")
    );
    assert_eq!(
        deployment.secrets,
        count(&template, "Type: AWS::SecretsManager::Secret")
    );
    assert_eq!(deployment.polled_queues, count(&template, "Type: SQS"));
    assert!(template.contains(&format!("MemorySize: {}", deployment.memory_mb)));
    let retention = template
        .split("LogRetentionDays:")
        .nth(1)
        .and_then(|rest| rest.split("Default:").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap();
    assert_eq!(
        retention.parse::<f64>().unwrap(),
        deployment.log_retention_days
    );
    assert!(template.contains(&format!("MemorySize: {}", deployment.users_api_memory_mb)));
    assert!(template.contains(&format!(
        "MemorySize: {}",
        deployment.attachment_worker_memory_mb
    )));
}
