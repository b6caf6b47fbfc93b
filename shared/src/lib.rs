//! Everything the Lambda functions share: the domain rules (pure, no I/O), the DynamoDB
//! single-table storage (the only code that knows key formats), authentication, the
//! notification queue, the contract's error type, and the WebSocket and queue edges. The HTTP
//! edge (routers, extractors, OpenAPI) is the `api` crate.

pub mod assistant;
pub mod auth;
pub mod config;
pub mod connections_api;
pub mod context;
pub mod domain;
pub mod email;
pub mod error;
pub mod events;
pub mod objects;
pub mod queue;
pub mod realtime;
pub mod routes;
pub mod service;
pub mod storage;
pub mod telemetry;
pub mod websocket;
pub mod worker;

pub use context::AppContext;
pub use error::AppError;
