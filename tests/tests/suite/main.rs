//! The integration and end-to-end tests, one module per area, built as one test binary: every
//! test file of its own would be a crate of its own, compiling and linking the SDK, axum and
//! tokio again (measured: see the README, "Tests").

mod abuse;
mod attachments;
mod attacks;
mod bootstrap;
mod channels;
mod contract;
mod digest;
mod events;
mod faults;
mod gateway_e2e;
mod identity;
mod inbox;
mod limits;
mod messages;
mod outbox;
mod partners;
mod races;
mod roles;
mod safety;
mod search;
mod sessions;
mod streaming;
mod template;
mod verification;
mod websocket_e2e;
mod workers;
