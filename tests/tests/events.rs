//! Every file of events/ is a real API Gateway event for a route of the function whose folder
//! it sits in, and that function's handler answers it as the contract says.

use integration_tests::{samples, TestEnv};

#[tokio::test]
async fn sample_events_are_answered_by_their_functions() {
    let env = TestEnv::new().await;
    let samples = samples::load();
    assert!(samples.len() >= 10, "events/ has a sample per route family");
    for sample in samples {
        assert_eq!(
            sample.route.function, sample.function,
            "{} sits in the folder of its function",
            sample.name
        );
        let answer = env.call_event(&sample.function, &sample.event).await;
        assert_eq!(
            answer.status,
            sample.expected_status(),
            "{}/{}: {:?}",
            sample.function,
            sample.name,
            answer.body
        );
        assert!(answer.headers.contains_key("x-request-id"));
    }
}
