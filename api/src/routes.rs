//! The route table, read off the routers: every HTTP route, the function that serves it and
//! whether it needs a token. The local gateway routes with it as API Gateway does; tests hold
//! template.yaml and the OpenAPI document to it.

use std::sync::OnceLock;

use crate::FUNCTIONS;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub function: &'static str,
    pub auth: bool,
}

impl Route {
    /// API Gateway's route key, `"METHOD /path/{param}"`.
    pub fn key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// Every route of every function.
pub fn table() -> &'static [Route] {
    static TABLE: OnceLock<Vec<Route>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut routes = Vec::new();
        for function in FUNCTIONS {
            let doc = serde_json::to_value(function.openapi()).unwrap_or_default();
            let Some(paths) = doc["paths"].as_object() else {
                continue;
            };
            for (path, item) in paths {
                for (method, operation) in item.as_object().into_iter().flatten() {
                    // `security(())` (one empty requirement) marks a public operation.
                    let public = operation["security"].as_array().is_some_and(|s| {
                        s.iter()
                            .all(|r| r.as_object().is_some_and(|r| r.is_empty()))
                    });
                    routes.push(Route {
                        method: leak(method.to_uppercase()),
                        path: leak(path.clone()),
                        function: function.name,
                        auth: !public,
                    });
                }
            }
        }
        routes.sort_by(|a, b| (a.path, a.method).cmp(&(b.path, b.method)));
        routes
    })
}

/// The table lives as long as the process.
fn leak(text: String) -> &'static str {
    Box::leak(text.into_boxed_str())
}

/// A matched route with its path parameters.
#[derive(Debug, PartialEq, Eq)]
pub struct RouteMatch {
    pub route: &'static Route,
    pub path_parameters: Vec<(String, String)>,
}

/// Finds the route for a request as API Gateway does: literal segments win over parameters,
/// a parameter matches one non-empty segment. `None` for an unknown path or method.
pub fn match_route(method: &str, path: &str) -> Option<RouteMatch> {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    table()
        .iter()
        .filter(|route| route.method.eq_ignore_ascii_case(method))
        .filter_map(|route| {
            let pattern: Vec<&str> = route.path.split('/').collect();
            if pattern.len() != segments.len() {
                return None;
            }
            let mut params = Vec::new();
            let mut literals = 0;
            for (want, got) in pattern.iter().zip(&segments) {
                if let Some(name) = want.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
                    if got.is_empty() {
                        return None;
                    }
                    params.push((name.to_string(), percent_decode(got)));
                } else if want == got {
                    literals += 1;
                } else {
                    return None;
                }
            }
            Some((
                literals,
                RouteMatch {
                    route,
                    path_parameters: params,
                },
            ))
        })
        .max_by_key(|(literals, _)| *literals)
        .map(|(_, found)| found)
}

/// API Gateway passes path parameters decoded.
fn percent_decode(raw: &str) -> String {
    fn hex(byte: u8) -> Option<u8> {
        (byte as char).to_digit(16).map(|d| d as u8)
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let decoded = (bytes[i] == b'%')
            .then(|| Some(hex(*bytes.get(i + 1)?)? << 4 | hex(*bytes.get(i + 2)?)?))
            .flatten();
        match decoded {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_literals_before_parameters() {
        let found = match_route("GET", "/users/abc/presence").unwrap();
        assert_eq!(found.route.path, "/users/{id}/presence");
        assert_eq!(found.path_parameters, vec![("id".into(), "abc".into())]);
        assert_eq!(
            match_route("GET", "/partner-requests/received")
                .unwrap()
                .route
                .path,
            "/partner-requests/received"
        );
        assert_eq!(
            match_route("DELETE", "/partner-requests/x")
                .unwrap()
                .route
                .path,
            "/partner-requests/{id}"
        );
    }

    #[test]
    fn unknown_paths_and_methods_do_not_match() {
        assert!(match_route("GET", "/nope").is_none());
        assert!(match_route("PUT", "/me").is_none());
        assert!(match_route("GET", "/users//presence").is_none());
    }

    #[test]
    fn decodes_path_parameters() {
        let found = match_route("GET", "/users/a%20b").unwrap();
        assert_eq!(found.path_parameters[0].1, "a b");
        let found = match_route("GET", "/users/%E2%9C%93%").unwrap();
        assert_eq!(found.path_parameters[0].1, "\u{2713}%");
    }

    #[test]
    fn route_keys_are_unique_and_public_routes_are_the_contract_s() {
        let mut keys: Vec<String> = table().iter().map(Route::key).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), table().len());
        let public: Vec<String> = table().iter().filter(|r| !r.auth).map(Route::key).collect();
        assert_eq!(
            public,
            [
                "POST /auth/login",
                "POST /auth/register",
                "GET /docs",
                "GET /docs/{file}",
                "GET /health",
                "GET /openapi.json"
            ]
        );
    }
}
