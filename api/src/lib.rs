//! The HTTP API: one axum router per Lambda function, typed extractors in front of the
//! services, and the OpenAPI document generated from the same handlers. Lambda
//! (`lambda_http::run`), the local gateway and the tests all serve these routers.
//!
//! Finding a route: `users.rs` (identity, users, presence, service routes), `partners.rs`
//! (partner requests, partnerships), `channels.rs` (channels, members, messages).

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
}

pub const USERS_API: Function = Function {
    name: "users-api",
    routes: users::routes,
};
pub const PARTNERS_API: Function = Function {
    name: "partners-api",
    routes: partners::routes,
};
pub const CHANNELS_API: Function = Function {
    name: "channels-api",
    routes: channels::routes,
};

/// Every HTTP API function; each route belongs to exactly one.
pub const FUNCTIONS: [Function; 3] = [USERS_API, PARTNERS_API, CHANNELS_API];

impl Function {
    /// The function's router, ready to serve: the contract's 404 for anything it does not
    /// route, the body limit, `x-request-id` and failure logs on every answer.
    pub fn router(&self, ctx: AppState) -> axum::Router {
        let (router, _) = (self.routes)().split_for_parts();
        edge::finish(router).with_state(ctx)
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
