//! The committed `api/openapi.json` (what Lambda serves) is exactly the document generated
//! from the handlers. `make openapi` (or `UPDATE_OPENAPI=1`) rewrites it after a change.

#[test]
fn the_committed_document_is_the_generated_one() {
    let generated = api::docs::generate();
    let pretty = serde_json::to_string_pretty(&generated).expect("the document serializes") + "\n";
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(path, &pretty).expect("write api/openapi.json");
        return;
    }
    let committed: serde_json::Value =
        serde_json::from_str(api::docs::OPENAPI_JSON).expect("api/openapi.json is JSON");
    assert!(
        committed == generated,
        "api/openapi.json is stale: run `make openapi` and commit the result"
    );
}
