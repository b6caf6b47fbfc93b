//! The OpenAPI 3.1 document of the API, served at `GET /openapi.json`. Tests hold it to the
//! route table and to the real responses.

pub const OPENAPI_JSON: &str = include_str!("../openapi.json");
