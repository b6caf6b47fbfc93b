//! The HTTP API: one axum router per Lambda function, typed extractors in front of the
//! services, and the OpenAPI document generated from the same handlers. Lambda
//! (`lambda_http::run`), the local gateway and the tests all serve these routers.
//!
//! Finding a route: `users.rs` (identity, users, presence, service routes), `partners.rs`
//! (partner requests, partnerships), `channels.rs` (channels, members, messages).

/// A function's routes from one list of handlers, grouped by path: `routes()`, the OpenAPI
/// router the document is generated from, and `serve()`, the plain axum router a cold start
/// builds. The second reads each handler's path and methods from its `#[utoipa::path]` and
/// skips its operation and schemas, whose construction was most of building the router
/// (1.4 ms of `channels-api`'s init). A test holds the two routing alike.
macro_rules! api_routes {
    ($( [$first:ident $(, $rest:ident)* $(,)?] ),+ $(,)?) => {
        pub fn routes() -> utoipa_axum::router::OpenApiRouter<crate::AppState> {
            utoipa_axum::router::OpenApiRouter::new()
                $( .routes(utoipa_axum::routes!($first $(, $rest)*)) )+
        }

        pub fn serve() -> axum::Router<crate::AppState> {
            use utoipa::Path as _;
            use utoipa_axum::PathItemExt as _;
            let router = axum::Router::new();
            $(
                let router = utoipa_axum::paste! {{
                    let mut methods = axum::routing::MethodRouter::new();
                    for method in [<__path_ $first>]::methods() {
                        methods = methods.on(method.to_method_filter(), $first);
                    }
                    $(
                        for method in [<__path_ $rest>]::methods() {
                            methods = methods.on(method.to_method_filter(), $rest);
                        }
                    )*
                    router.route(&[<__path_ $first>]::path(), methods)
                }};
            )+
            router
        }
    };
}

mod channels;
pub mod docs;
mod edge;
pub mod error;
pub mod extract;
mod partners;
pub mod routes;
mod users;

use std::sync::Arc;

use shared::AppContext;
use utoipa_axum::router::OpenApiRouter;

pub use error::ApiError;

/// What every handler gets: the clients and configuration built once per instance.
pub type AppState = Arc<AppContext>;

/// An HTTP API Lambda function: its name in template.yaml and the routes it serves.
#[derive(Clone, Copy)]
pub struct Function {
    pub name: &'static str,
    routes: fn() -> OpenApiRouter<AppState>,
    serve: fn() -> axum::Router<AppState>,
}

pub const USERS_API: Function = Function {
    name: "users-api",
    routes: users::routes,
    serve: users::serve,
};
pub const PARTNERS_API: Function = Function {
    name: "partners-api",
    routes: partners::routes,
    serve: partners::serve,
};
pub const CHANNELS_API: Function = Function {
    name: "channels-api",
    routes: channels::routes,
    serve: channels::serve,
};

/// Every HTTP API function; each route belongs to exactly one.
pub const FUNCTIONS: [Function; 3] = [USERS_API, PARTNERS_API, CHANNELS_API];

impl Function {
    /// The function's router, ready to serve: the contract's 404 for anything it does not
    /// route, the body limit, `x-request-id` and failure logs on every answer.
    pub fn router(&self, ctx: AppState) -> axum::Router {
        edge::finish((self.serve)()).with_state(ctx)
    }

    /// The part of the OpenAPI document this function serves.
    pub fn openapi(&self) -> utoipa::openapi::OpenApi {
        (self.routes)().into_openapi()
    }

    /// The whole `main` of the function: JSON logs, configuration and clients built once (a
    /// missing variable stops the function naming it), then the Lambda runtime loop.
    pub async fn run(&self) -> Result<(), lambda_http::Error> {
        let mut clock = shared::telemetry::InitClock::start();
        shared::telemetry::init();
        clock.phase("logs");
        let ctx = AppContext::from_env_timed(&mut clock).await?;
        // Every HTTP API verifies tokens (and signs page cursors).
        ctx.config.require_jwt_secret()?;
        let router = self.router(Arc::new(ctx));
        clock.phase("router");
        clock.finish();
        lambda_http::run(router).await
    }

    /// Serves one request as Lambda would (the local gateway and the tests call this with the
    /// request `lambda_http` builds from a real API Gateway event).
    pub async fn call(
        &self,
        router: &axum::Router,
        request: lambda_http::Request,
    ) -> http::Response<axum::body::Body> {
        use tower::ServiceExt as _;
        // The router's error type is Infallible: every outcome is a response.
        match router
            .clone()
            .oneshot(request.map(axum::body::Body::new))
            .await
        {
            Ok(response) => response,
            Err(never) => match never {},
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::extract::Request;
    use axum::middleware::Next;
    use http::StatusCode;
    use tower::ServiceExt as _;

    use super::*;

    /// A context whose clients are never called: routing alone is under test.
    fn unused_state() -> AppState {
        let config = shared::config::Config::from_lookup(|name| {
            Some(match name {
                "SENDER_EMAIL" => "noreply@example.com".to_string(),
                "JWT_SECRET" => "a-secret-long-enough-for-the-routing-test".to_string(),
                _ if name.ends_with("_QUEUE_URL") || name == "TABLE_NAME" => {
                    format!("unused-{name}")
                }
                _ => return None,
            })
        })
        .expect("configuration");
        let sdk = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .build();
        Arc::new(AppContext::new(config, &sdk))
    }

    /// Marks an answer of a route the router matched, unless no handler of the path takes the
    /// method (a route layer also wraps that 405). Unauthenticated, the handlers answer before
    /// any I/O; the public ones fail fast on the context's missing credentials.
    async fn matched(request: Request, next: Next) -> StatusCode {
        match next.run(request).await.status() {
            StatusCode::METHOD_NOT_ALLOWED => StatusCode::METHOD_NOT_ALLOWED,
            _ => StatusCode::IM_A_TEAPOT,
        }
    }

    #[tokio::test]
    async fn each_function_serves_exactly_the_routes_its_document_gives_it() {
        let state = unused_state();
        for function in FUNCTIONS {
            let router = (function.serve)()
                .route_layer(axum::middleware::from_fn(matched))
                .with_state(state.clone());
            for route in routes::table() {
                let uri: String = route
                    .path
                    .split('/')
                    .map(|segment| {
                        if segment.starts_with('{') {
                            "x"
                        } else {
                            segment
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("/");
                let request = http::Request::builder()
                    .method(route.method)
                    .uri(&uri)
                    .body(axum::body::Body::empty())
                    .expect("request");
                let status = match router.clone().oneshot(request).await {
                    Ok(response) => response.status(),
                    Err(never) => match never {},
                };
                assert_eq!(
                    status == StatusCode::IM_A_TEAPOT,
                    route.function == function.name,
                    "{} routing {}",
                    function.name,
                    route.key()
                );
            }
        }
    }
}
