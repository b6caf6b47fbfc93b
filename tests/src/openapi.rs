//! Checks real answers against the generated OpenAPI document with a JSON Schema validator
//! (the `jsonschema` crate, draft 2020-12, formats asserted): the status must be declared for
//! the operation and the body must match its schema. The document is checked strictly: an
//! object property no schema declares is an error, so the document stays complete.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use jsonschema::{Draft, Registry, Validator};
use serde_json::{json, Value};

/// Where the document is registered for `$ref`s into it.
const BASE: &str = "urn:chat:openapi";

pub struct Document {
    doc: Value,
    validators: Mutex<HashMap<String, Arc<Validator>>>,
}

impl Default for Document {
    fn default() -> Self {
        Self::load()
    }
}

fn registry() -> &'static Registry<'static> {
    static REGISTRY: OnceLock<Registry<'static>> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut doc = raw_document();
        make_strict(&mut doc);
        Registry::new()
            .draft(Draft::Draft202012)
            .add(BASE, doc)
            .and_then(|builder| builder.prepare())
            .expect("the OpenAPI document is a valid schema resource")
    })
}

fn raw_document() -> Value {
    serde_json::from_str(api::docs::OPENAPI_JSON).expect("openapi.json is JSON")
}

impl Document {
    pub fn load() -> Self {
        Self {
            doc: raw_document(),
            validators: Mutex::new(HashMap::new()),
        }
    }

    pub fn raw(&self) -> &Value {
        &self.doc
    }

    /// `(METHOD, path)` of every operation.
    pub fn operations(&self) -> Vec<(String, String)> {
        let mut ops = Vec::new();
        for (path, item) in self.doc["paths"].as_object().expect("paths") {
            for method in item.as_object().expect("path item").keys() {
                ops.push((method.to_uppercase(), path.clone()));
            }
        }
        ops.sort();
        ops
    }

    pub fn operation(&self, method: &str, path: &str) -> &Value {
        &self.doc["paths"][path][method.to_lowercase()]
    }

    /// Panics with a description unless `status` and `body` are what the document promises.
    pub fn check(&self, method: &str, path: &str, status: u16, body: &Value) {
        let op = self.operation(method, path);
        assert!(
            op.is_object(),
            "{method} {path} is not in the OpenAPI document"
        );
        let status_key = status.to_string();
        let declared = &op["responses"][&status_key];
        assert!(
            declared.is_object(),
            "{method} {path}: status {status} is not documented"
        );
        // A response is either inline or a reference to components/responses.
        let pointer = match declared["$ref"].as_str() {
            Some(reference) => reference.trim_start_matches('#').to_string(),
            None => format!(
                "/paths/{}/{}/responses/{status_key}",
                escape(path),
                method.to_lowercase()
            ),
        };
        let response = self.doc.pointer(&pointer).expect("the response resolves");
        if response["content"]["application/json"]["schema"].is_object() {
            let schema_pointer = format!("{pointer}/content/application~1json/schema");
            let validator = self.validator(&schema_pointer);
            let errors: Vec<String> = validator
                .iter_errors(body)
                .map(|err| format!("{} at {}", err, err.instance_path()))
                .collect();
            assert!(
                errors.is_empty(),
                "{method} {path} {status}: {}\nbody: {body}",
                errors.join("; ")
            );
        } else {
            // Only files (the API reference's) are answered in another type than JSON.
            let file = response["content"]
                .as_object()
                .is_some_and(|c| !c.is_empty());
            assert!(
                body.is_null() || file,
                "{method} {path} {status}: no body is documented, got {body}"
            );
        }
    }

    fn validator(&self, pointer: &str) -> Arc<Validator> {
        // A panic while building one validator must not poison the others' checks.
        let mut cache = self
            .validators
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cache
            .entry(pointer.to_string())
            .or_insert_with(|| {
                // Braces of path templates are not allowed in a URI fragment as they are.
                let fragment = pointer.replace('{', "%7B").replace('}', "%7D");
                let schema = json!({ "$ref": format!("{BASE}#{fragment}") });
                let validator = jsonschema::options()
                    .with_draft(Draft::Draft202012)
                    .with_registry(registry())
                    .should_validate_formats(true)
                    .build(&schema)
                    .unwrap_or_else(|err| panic!("schema at {pointer}: {err}"));
                Arc::new(validator)
            })
            .clone()
    }
}

/// A JSON Pointer token (RFC 6901).
fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// Every object schema with `properties` refuses properties it does not declare
/// (`unevaluatedProperties: false`). A schema that is a part of an `allOf` stays open (the
/// other parts declare the rest) and the `allOf` itself is closed; a component used both as
/// a part and on its own gets an open copy for its part uses.
fn make_strict(doc: &mut Value) {
    let mut parts = BTreeSet::new();
    collect_all_of_refs(doc, &mut parts);
    if let Some(schemas) = doc["components"]["schemas"].as_object_mut() {
        for name in &parts {
            if let Some(schema) = schemas.get(name).cloned() {
                schemas.insert(format!("{name}__part"), schema);
            }
        }
        for (name, schema) in schemas.iter_mut() {
            close(schema, name.ends_with("__part"));
        }
    }
    if let Some(paths) = doc["paths"].as_object_mut() {
        for item in paths.values_mut() {
            close(item, false);
        }
    }
    if let Some(responses) = doc["components"]["responses"].as_object_mut() {
        for response in responses.values_mut() {
            close(response, false);
        }
    }
}

fn component_name(reference: &str) -> Option<&str> {
    reference.strip_prefix("#/components/schemas/")
}

fn collect_all_of_refs(value: &Value, parts: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            if let Some(all) = map.get("allOf").and_then(Value::as_array) {
                for part in all {
                    if let Some(name) = part["$ref"].as_str().and_then(component_name) {
                        parts.insert(name.to_string());
                    }
                }
            }
            map.values()
                .for_each(|child| collect_all_of_refs(child, parts));
        }
        Value::Array(items) => items
            .iter()
            .for_each(|child| collect_all_of_refs(child, parts)),
        _ => {}
    }
}

/// Closes `value` and the schemas under it; `open` leaves `value` itself open.
fn close(value: &mut Value, open: bool) {
    match value {
        Value::Object(map) => {
            let is_part_holder = map.contains_key("allOf");
            let declares =
                map.contains_key("properties") && !map.contains_key("additionalProperties");
            if !open && (declares || is_part_holder) {
                map.insert("unevaluatedProperties".into(), Value::Bool(false));
            }
            for (key, child) in map.iter_mut() {
                if key == "allOf" {
                    for part in child.as_array_mut().into_iter().flatten() {
                        let reference = part["$ref"]
                            .as_str()
                            .and_then(component_name)
                            .map(str::to_string);
                        match reference {
                            Some(name) => {
                                part["$ref"] = json!(format!("#/components/schemas/{name}__part"))
                            }
                            None => close(part, true),
                        }
                    }
                } else if key != "unevaluatedProperties" {
                    close(child, false);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|child| close(child, false)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undocumented_properties_and_wrong_types_are_caught() {
        let doc = Document::load();
        let user = json!({"id": "0190", "email": "a@example.com", "name": "Ada", "created_at": "2026-11-21T10:00:00.123Z", "email_verified": false, "email_notifications": true});
        doc.check("GET", "/me", 200, &user);
        let mut extra = user.clone();
        extra["password_hash"] = json!("x");
        let caught = std::panic::catch_unwind(|| doc.check("GET", "/me", 200, &extra));
        assert!(caught.is_err(), "an undocumented property must fail");
        let mut wrong = user.clone();
        wrong["created_at"] = json!("yesterday");
        let caught = std::panic::catch_unwind(|| doc.check("GET", "/me", 200, &wrong));
        assert!(caught.is_err(), "a bad date-time must fail");
    }

    #[test]
    fn a_closed_all_of_still_accepts_every_part_s_properties() {
        let doc = Document::load();
        let record = json!({"id": "c", "name": "Team", "kind": "group", "private": true, "created_by": "u", "created_at": "2026-11-21T10:00:00.123Z", "member_count": 1, "description": "", "slow_mode_seconds": 0});
        let mut summary = record.clone();
        for (field, value) in [
            ("role", json!("owner")),
            ("muted", json!(false)),
            ("last_message", json!(null)),
            ("last_activity_at", json!("2026-11-21T10:00:00.123Z")),
            ("unread_count", json!(0)),
            ("mention_count", json!(0)),
        ] {
            summary[field] = value;
        }
        let mut channel = record.clone();
        channel["members"] = json!([]);
        doc.check("GET", "/channels/{id}", 200, &channel);
        doc.check(
            "GET",
            "/channels",
            200,
            &json!({"items": [summary], "next_cursor": null}),
        );
        let caught = std::panic::catch_unwind(|| {
            doc.check(
                "GET",
                "/channels",
                200,
                &json!({"items": [channel], "next_cursor": null}),
            )
        });
        assert!(caught.is_err(), "members are not part of a summary");
    }
}
