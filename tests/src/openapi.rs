//! Checks real answers against the project's OpenAPI document: the status must be declared
//! for the operation and the body must match its schema. Supports the JSON Schema subset the
//! document uses: `$ref`, `type` (one or several), `const`, `enum`, `required`, `properties`,
//! `additionalProperties`, `items`, `oneOf`, `allOf`, string and array bounds.

use serde_json::Value;

pub struct Document {
    doc: Value,
}

impl Default for Document {
    fn default() -> Self {
        Self::load()
    }
}

impl Document {
    pub fn load() -> Self {
        Self {
            doc: serde_json::from_str(shared::openapi::OPENAPI_JSON).expect("openapi.json is JSON"),
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
        let mut response = &op["responses"][status.to_string()];
        assert!(
            response.is_object(),
            "{method} {path}: status {status} is not documented"
        );
        response = self.resolve(response);
        match response["content"]["application/json"]["schema"].as_object() {
            Some(_) => {
                let schema = &response["content"]["application/json"]["schema"];
                if let Err(err) = self.validate(schema, body, "$", true) {
                    panic!("{method} {path} {status}: {err}\nbody: {body}");
                }
            }
            None => assert!(
                body.is_null(),
                "{method} {path} {status}: no body is documented, got {body}"
            ),
        }
    }

    fn resolve<'a>(&'a self, value: &'a Value) -> &'a Value {
        match value["$ref"].as_str() {
            Some(reference) => {
                let pointer = reference.trim_start_matches('#');
                self.resolve(
                    self.doc
                        .pointer(pointer)
                        .unwrap_or_else(|| panic!("dangling $ref {reference}")),
                )
            }
            None => value,
        }
    }

    /// `strict`: an object property no schema declares is an error (keeps the document
    /// complete); parts of an `allOf` are checked loosely and their union strictly.
    fn validate(
        &self,
        schema: &Value,
        value: &Value,
        at: &str,
        strict: bool,
    ) -> Result<(), String> {
        let schema = self.resolve(schema);
        if let Some(all) = schema["allOf"].as_array() {
            for part in all {
                self.validate(part, value, at, false)?;
            }
            if let (true, Some(object)) = (strict, value.as_object()) {
                for name in object.keys() {
                    let declared = all
                        .iter()
                        .any(|part| self.resolve(part)["properties"].get(name).is_some());
                    if !declared {
                        return Err(format!("{at}: undocumented property {name}"));
                    }
                }
            }
        }
        if let Some(any) = schema["oneOf"].as_array() {
            let matching = any
                .iter()
                .filter(|s| self.validate(s, value, at, strict).is_ok())
                .count();
            if matching != 1 {
                return Err(format!("{at}: matches {matching} of the oneOf schemas"));
            }
        }
        if let Some(constant) = schema.get("const") {
            if constant != value {
                return Err(format!("{at}: expected {constant}, got {value}"));
            }
        }
        if let Some(options) = schema["enum"].as_array() {
            if !options.contains(value) {
                return Err(format!("{at}: {value} is not one of {options:?}"));
            }
        }
        if let Some(types) = type_list(&schema["type"]) {
            if !types.iter().any(|t| has_type(value, t)) {
                return Err(format!("{at}: expected type {types:?}, got {value}"));
            }
        }
        if let (Some(text), Some(max)) = (value.as_str(), schema["maxLength"].as_u64()) {
            if text.chars().count() as u64 > max {
                return Err(format!("{at}: longer than {max}"));
            }
        }
        if let (Some(text), Some(min)) = (value.as_str(), schema["minLength"].as_u64()) {
            if (text.chars().count() as u64) < min {
                return Err(format!("{at}: shorter than {min}"));
            }
        }
        if let Some(object) = value.as_object() {
            for required in schema["required"].as_array().into_iter().flatten() {
                let name = required.as_str().unwrap_or_default();
                if !object.contains_key(name) {
                    return Err(format!("{at}: missing required property {name}"));
                }
            }
            let properties = schema["properties"].as_object();
            for (name, child) in object {
                match properties.and_then(|p| p.get(name)) {
                    Some(child_schema) => {
                        self.validate(child_schema, child, &format!("{at}.{name}"), true)?
                    }
                    None => {
                        if let Some(extra) = schema.get("additionalProperties") {
                            if extra.is_object() {
                                self.validate(extra, child, &format!("{at}.{name}"), true)?;
                            }
                        } else if strict && properties.is_some() {
                            return Err(format!("{at}: undocumented property {name}"));
                        }
                    }
                }
            }
        }
        if let Some(items) = value.as_array() {
            if let Some(max) = schema["maxItems"].as_u64() {
                if items.len() as u64 > max {
                    return Err(format!("{at}: more than {max} items"));
                }
            }
            if let Some(min) = schema["minItems"].as_u64() {
                if (items.len() as u64) < min {
                    return Err(format!("{at}: fewer than {min} items"));
                }
            }
            if schema.get("items").is_some() {
                for (i, item) in items.iter().enumerate() {
                    self.validate(&schema["items"], item, &format!("{at}[{i}]"), true)?;
                }
            }
        }
        Ok(())
    }
}

fn type_list(value: &Value) -> Option<Vec<&str>> {
    match value {
        Value::String(t) => Some(vec![t.as_str()]),
        Value::Array(ts) => Some(ts.iter().filter_map(Value::as_str).collect()),
        _ => None,
    }
}

fn has_type(value: &Value, name: &str) -> bool {
    match name {
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        "null" => value.is_null(),
        _ => false,
    }
}
